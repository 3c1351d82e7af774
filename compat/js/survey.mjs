// survey.mjs calls every method of the official Azure Batch JavaScript SDK against a Corral
// server, in the order of a user's workflow, and checks that each answer is what Azure
// documents: the shape and values of a success, or the status and error code Azure gives an
// account that has none of a thing. It prints one JSON object on stdout: the SDK's method count
// and, for every method, whether it behaved as documented and what it saw.
//
// usage: node survey.mjs URL   (CORRAL_ACCOUNT_NAME and CORRAL_ACCOUNT_KEY in the environment;
// CORRAL_SURVEY_CONTAINER_URL, a blob container URL with a SAS, for Upload Batch Service Logs;
// CORRAL_SURVEY_NODE_USERS=1 to add, change and delete a node user)
import { setTimeout as sleep } from "node:timers/promises";
import batch from "@azure/batch";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node survey.mjs URL");
  process.exit(2);
}
const name = process.env.CORRAL_ACCOUNT_NAME || "corral";
const key = process.env.CORRAL_ACCOUNT_KEY;
if (!key) {
  console.error("survey.mjs: CORRAL_ACCOUNT_KEY is not set");
  process.exit(2);
}
const client = new batch.BatchServiceClient(new batch.BatchSharedKeyCredentials(name, key), url);
const groups = ["application", "pool", "account", "job", "certificate", "file", "jobSchedule", "task", "computeNode", "computeNodeExtension"];
const methods = groups.flatMap((g) => Object.getOwnPropertyNames(Object.getPrototypeOf(client[g])).filter((m) => m !== "constructor").map((m) => `${g}.${m}`));
const results = {};

// check runs one method's check and records the outcome; a thrown error is a deviation.
async function check(method, fn) {
  if (!methods.includes(method)) throw new Error(`survey: ${method} is not an SDK method`);
  try {
    const detail = await fn();
    results[method] = { ok: true, detail: detail ?? "" };
  } catch (e) {
    const code = e.code ?? e.body?.code;
    const msg = e.body?.message?.value ?? (typeof e.message === "string" ? e.message : JSON.stringify(e.message));
    results[method] = { ok: false, detail: `${e.statusCode ?? ""} ${code ?? ""} ${String(msg).split("\n")[0].slice(0, 200)}`.trim() };
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// refused expects the call to fail with status and Azure error code.
async function refused(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    const got = e.code ?? e.body?.code;
    assert(e.statusCode === status && got === code, `want ${status} ${code}, got ${e.statusCode} ${got}: ${e.body?.message?.value ?? ""}`);
    return `${status} ${code}`;
  }
  throw new Error(`want ${status} ${code}, got success`);
}

// failsWith expects the call to fail with status: for answers whose error body the SDK does not
// read (HEAD, streamed files), and errors whose code Azure does not document.
async function failsWith(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert(e.statusCode === status, `want ${status}, got ${e.statusCode}: ${e.message}`);
    return `${status}`;
  }
  throw new Error(`want ${status}, got success`);
}

// until polls fn until it returns a truthy value, or throws after ms.
async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

// link is a list's own URL, for the Next methods of lists that have no second page here.
const link = (path, extra = "") => `${url}${path}?api-version=2022-10-01.16.0${extra}`;
const ids = (xs) => xs.map((x) => x.id).sort().join(",");

// Things a Corral account never has.
await check("application.list", async () => assert((await client.application.list()).length === 0, "want no applications"));
await check("application.listNext", async () => assert((await client.application.listNext(link("/applications"))).length === 0, "want no applications"));
await check("application.get", () => refused(client.application.get("none"), 404, "ApplicationNotFound"));
await check("certificate.list", async () => assert((await client.certificate.list()).length === 0, "want no certificates"));
await check("certificate.listNext", async () => assert((await client.certificate.listNext(link("/certificates"))).length === 0, "want no certificates"));
const thumb = "0123456789abcdef0123456789abcdef01234567";
await check("certificate.get", () => refused(client.certificate.get("sha1", thumb), 404, "CertificateNotFound"));
await check("certificate.deleteMethod", () => refused(client.certificate.deleteMethod("sha1", thumb), 404, "CertificateNotFound"));
await check("certificate.cancelDeletion", () => refused(client.certificate.cancelDeletion("sha1", thumb), 404, "CertificateNotFound"));
await check("certificate.add", async () => {
  await client.certificate.add({ thumbprint: thumb, thumbprintAlgorithm: "sha1", data: "MIIB", certificateFormat: "cer" });
  assert((await client.certificate.get("sha1", thumb)).thumbprint === thumb, "the added certificate is not there");
});
await check("account.listSupportedImages", async () => assert((await client.account.listSupportedImages()).length > 0, "want at least one image"));
await check("account.listSupportedImagesNext", async () => assert((await client.account.listSupportedImagesNext(link("/supportedimages"))).length > 0, "want at least one image"));

// Pools.
const p1 = "svy-p1", p2 = "svy-p2";
await check("pool.add", async () => {
  const r = await client.pool.add({ id: p1, vmSize: "standard_d2s_v3", targetDedicatedNodes: 2, taskSlotsPerNode: 2 });
  assert(r._response.status === 201, `status ${r._response.status}`);
  await client.pool.add({ id: p2, vmSize: "standard_d2s_v3", targetDedicatedNodes: 0 });
});
await check("pool.exists", async () => {
  assert((await client.pool.exists(p1)).body === true, "an existing pool does not exist");
  assert((await client.pool.exists("svy-none")).body === false, "a missing pool exists");
});
await check("pool.get", async () => {
  const p = await client.pool.get(p1);
  assert(p.id === p1 && p.taskSlotsPerNode === 2 && p.eTag, "wrong pool");
});
await check("pool.list", async () => assert(ids(await client.pool.list()) === `${p1},${p2}`, "want both pools"));
await check("pool.listNext", async () => {
  const first = await client.pool.list({ poolListOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  const next = await client.pool.listNext(first.odatanextLink);
  assert(next.length === 1 && next[0].id !== first[0].id, "want the other pool");
});
await check("pool.patch", async () => {
  await client.pool.patch(p1, { metadata: [{ name: "a", value: "1" }] });
  assert((await client.pool.get(p1)).metadata?.[0]?.value === "1", "metadata not set");
});
await check("pool.updateProperties", async () => {
  await client.pool.updateProperties(p2, { certificateReferences: [], applicationPackageReferences: [], metadata: [{ name: "b", value: "2" }] });
  assert((await client.pool.get(p2)).metadata?.[0]?.name === "b", "metadata not replaced");
});
await check("pool.enableAutoScale", async () => {
  await client.pool.enableAutoScale(p2, { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT5M" });
  assert((await client.pool.get(p2)).enableAutoScale === true, "autoscale not enabled");
});
await check("pool.evaluateAutoScale", async () => {
  const r = await client.pool.evaluateAutoScale(p2, "$TargetDedicatedNodes = 1;");
  assert(/\$TargetDedicatedNodes=1/.test(r.results ?? ""), `results ${r.results}`);
});
await check("pool.disableAutoScale", async () => {
  await client.pool.disableAutoScale(p2);
  assert((await client.pool.get(p2)).enableAutoScale === false, "autoscale not disabled");
});
await check("pool.resize", async () => {
  await client.pool.resize(p2, { targetDedicatedNodes: 1 });
  assert((await client.pool.get(p2)).targetDedicatedNodes === 1, "target not set");
});
await check("pool.stopResize", async () => {
  await client.pool.stopResize(p2);
  await until("p2 steady", async () => (await client.pool.get(p2)).allocationState === "steady");
});
await check("account.listPoolNodeCounts", async () => assert(ids((await client.account.listPoolNodeCounts()).map((c) => ({ id: c.poolId }))) === `${p1},${p2}`, "want both pools"));
await check("account.listPoolNodeCountsNext", async () => {
  const first = await client.account.listPoolNodeCounts({ accountListPoolNodeCountsOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  assert((await client.account.listPoolNodeCountsNext(first.odatanextLink)).length === 1, "want the other pool");
});

// Nodes.
const nodes = await until("two idle nodes", async () => {
  const ns = await client.computeNode.list(p1);
  return ns.length === 2 && ns.every((n) => n.state === "idle") ? ns : null;
}, 90000).catch(() => []);
const [n1, n2] = nodes.map((n) => n.id);
await check("computeNode.list", async () => assert(nodes.length === 2, "want two idle nodes"));
await check("computeNode.listNext", async () => {
  const first = await client.computeNode.list(p1, { computeNodeListOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  assert((await client.computeNode.listNext(first.odatanextLink)).length === 1, "want the other node");
});
await check("computeNode.get", async () => assert((await client.computeNode.get(p1, n1)).id === n1, "wrong node"));
await check("computeNodeExtension.list", async () => assert((await client.computeNodeExtension.list(p1, n1)).length === 0, "want no extensions"));
await check("computeNodeExtension.listNext", async () => assert((await client.computeNodeExtension.listNext(link(`/pools/${p1}/nodes/${n1}/extensions`))).length === 0, "want no extensions"));
await check("computeNodeExtension.get", () => failsWith(client.computeNodeExtension.get(p1, n1, "none"), 404));

// Jobs and tasks.
const j1 = "svy-j1", j2 = "svy-j2";
await check("job.add", async () => {
  await client.job.add({ id: j1, poolInfo: { poolId: p1 }, usesTaskDependencies: true });
  await client.job.add({ id: j2, poolInfo: { poolId: p1 } });
});
await check("job.get", async () => assert((await client.job.get(j1)).usesTaskDependencies === true, "wrong job"));
await check("job.list", async () => assert(ids(await client.job.list()) === `${j1},${j2}`, "want both jobs"));
await check("job.listNext", async () => {
  const first = await client.job.list({ jobListOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  assert((await client.job.listNext(first.odatanextLink)).length === 1, "want the other job");
});
await check("job.patch", async () => {
  await client.job.patch(j1, { metadata: [{ name: "m", value: "1" }] });
  assert((await client.job.get(j1)).metadata?.[0]?.value === "1", "metadata not set");
});
await check("job.update", async () => {
  await client.job.update(j2, { poolInfo: { poolId: p1 }, metadata: [{ name: "u", value: "2" }] });
  assert((await client.job.get(j2)).metadata?.[0]?.name === "u", "metadata not replaced");
});
await check("task.add", async () => {
  const r = await client.task.add(j1, { id: "t1", commandLine: "/bin/sh -c 'echo hello; echo data > out.txt'" });
  assert(r._response.status === 201, `status ${r._response.status}`);
});
await check("task.addCollection", async () => {
  const r = await client.task.addCollection(j1, [
    { id: "t2", commandLine: "/bin/sh -c 'echo two'", dependsOn: { taskIds: ["t1"] } },
    { id: "t3", commandLine: "/bin/sh -c 'exit 3'", constraints: { maxTaskRetryCount: 0 } },
    { id: "t4", commandLine: "/bin/sh -c 'sleep 120'" },
  ]);
  assert(r.value.every((v) => v.status === "success"), JSON.stringify(r.value));
});
await until("t1, t2 and t3 complete", async () => {
  const ts = await client.task.list(j1, { taskListOptions: { filter: "state eq 'completed'" } });
  return ts.length >= 3;
}).catch(() => {});
await check("task.list", async () => assert(ids(await client.task.list(j1)) === "t1,t2,t3,t4", "want four tasks"));
await check("task.listNext", async () => {
  const first = await client.task.list(j1, { taskListOptions: { maxResults: 2 } });
  assert(first.length === 2 && first.odatanextLink, "want a page of two with a next link");
  assert((await client.task.listNext(first.odatanextLink)).length === 2, "want the other two");
});
await check("task.get", async () => {
  const t = await client.task.get(j1, "t1");
  assert(t.state === "completed" && t.executionInfo?.exitCode === 0, `t1 is ${t.state}`);
});
await check("job.getTaskCounts", async () => {
  const r = await client.job.getTaskCounts(j1);
  assert(r.taskCounts.succeeded === 2 && r.taskCounts.failed === 1, JSON.stringify(r.taskCounts));
});
await check("task.update", async () => {
  await client.task.update(j1, "t4", { constraints: { maxTaskRetryCount: 2 } });
  assert((await client.task.get(j1, "t4")).constraints?.maxTaskRetryCount === 2, "constraint not set");
});
await check("task.listSubtasks", async () => assert(((await client.task.listSubtasks(j1, "t1")).value ?? []).length === 0, "want no subtasks"));
await check("task.terminate", async () => {
  await client.task.terminate(j1, "t4");
  await until("t4 completed", async () => (await client.task.get(j1, "t4")).state === "completed", 30000);
});
await check("task.reactivate", async () => {
  await client.task.reactivate(j1, "t3");
  const t = await client.task.get(j1, "t3");
  assert(t.state === "active" || t.state === "running" || t.executionInfo?.retryCount === 0, `t3 is ${t.state}`);
});

// Files of a task and of its node.
await check("file.listFromTask", async () => {
  const names = (await client.file.listFromTask(j1, "t1", { recursive: true })).map((f) => f.name);
  assert(names.includes("stdout.txt") && names.includes("wd/out.txt"), `files ${names}`);
});
await check("file.listFromTaskNext", async () => {
  const first = await client.file.listFromTask(j1, "t1", { fileListFromTaskOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  assert((await client.file.listFromTaskNext(first.odatanextLink)).length >= 1, "want more files");
});
await check("file.getFromTask", async () => {
  const r = await client.file.getFromTask(j1, "t1", "stdout.txt");
  let body = "";
  for await (const chunk of r.readableStreamBody) body += chunk;
  assert(body === "hello\n", `stdout ${JSON.stringify(body)}`);
});
await check("file.getPropertiesFromTask", async () => {
  const r = await client.file.getPropertiesFromTask(j1, "t1", "stdout.txt");
  assert(Number(r.contentLength) === 6 && r.ocpBatchFileIsdirectory === false, `length ${r.contentLength}`);
});
await check("file.deleteFromTask", async () => {
  await client.file.deleteFromTask(j1, "t1", "wd/out.txt");
  await failsWith(client.file.getPropertiesFromTask(j1, "t1", "wd/out.txt"), 404);
});
const t1node = (await client.task.get(j1, "t1").catch(() => ({}))).nodeInfo?.nodeId ?? n1;
let nodeFile = "";
await check("file.listFromComputeNode", async () => {
  const fs = await client.file.listFromComputeNode(p1, t1node, { recursive: true });
  nodeFile = fs.find((f) => !f.isDirectory && f.name.endsWith("stdout.txt"))?.name ?? "";
  assert(nodeFile, `no stdout.txt among ${fs.map((f) => f.name)}`);
});
await check("file.listFromComputeNodeNext", async () => {
  const first = await client.file.listFromComputeNode(p1, t1node, { recursive: true, fileListFromComputeNodeOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  assert((await client.file.listFromComputeNodeNext(first.odatanextLink)).length >= 1, "want more files");
});
await check("file.getFromComputeNode", async () => {
  const r = await client.file.getFromComputeNode(p1, t1node, nodeFile);
  let body = "";
  for await (const chunk of r.readableStreamBody) body += chunk;
  assert(body.length > 0, "empty file");
});
await check("file.getPropertiesFromComputeNode", async () => {
  const r = await client.file.getPropertiesFromComputeNode(p1, t1node, nodeFile);
  assert(Number(r.contentLength) > 0, `length ${r.contentLength}`);
});
await check("file.deleteFromComputeNode", async () => {
  await client.file.deleteFromComputeNode(p1, t1node, nodeFile);
  await failsWith(client.file.getPropertiesFromComputeNode(p1, t1node, nodeFile), 404);
});
await check("task.deleteMethod", async () => {
  await client.task.deleteMethod(j1, "t2");
  await refused(client.task.get(j1, "t2"), 404, "TaskNotFound");
});

// Job states and statistics.
await check("job.listPreparationAndReleaseTaskStatus", () => refused(client.job.listPreparationAndReleaseTaskStatus(j1), 409, "JobPreparationTaskNotSpecified"));
await check("job.listPreparationAndReleaseTaskStatusNext", () => refused(client.job.listPreparationAndReleaseTaskStatusNext(link(`/jobs/${j1}/jobpreparationandreleasetaskstatus`)), 409, "JobPreparationTaskNotSpecified"));
await check("job.disable", async () => {
  await client.job.disable(j2, "requeue");
  const s = (await client.job.get(j2)).state;
  assert(s === "disabling" || s === "disabled", `j2 is ${s}`);
});
await check("job.enable", async () => {
  await until("j2 disabled", async () => (await client.job.get(j2)).state === "disabled", 30000);
  await client.job.enable(j2);
  const s = (await client.job.get(j2)).state;
  assert(s === "enabling" || s === "active", `j2 is ${s}`);
});
await check("job.terminate", async () => {
  await client.job.terminate(j2);
  await until("j2 completed", async () => (await client.job.get(j2)).state === "completed", 30000);
});
await check("job.deleteMethod", async () => {
  await client.job.deleteMethod(j2);
  await until("j2 gone", () => client.job.get(j2).then(() => false, (e) => e.statusCode === 404), 30000);
});
await check("job.getAllLifetimeStatistics", async () => {
  const s = await client.job.getAllLifetimeStatistics();
  assert(s.numSucceededTasks >= 2 && s.numFailedTasks >= 1 && s.wallClockTime, JSON.stringify(s));
});
await check("pool.getAllLifetimeStatistics", async () => {
  const s = await client.pool.getAllLifetimeStatistics();
  assert(s.usageStats && s.resourceStats && s.startTime, JSON.stringify(s));
});
await check("pool.listUsageMetrics", async () => {
  const ms = await client.pool.listUsageMetrics();
  assert(ms.every((m) => m.poolId && m.startTime && m.endTime && m.totalCoreHours >= 0), JSON.stringify(ms));
});
await check("pool.listUsageMetricsNext", async () => {
  const ms = await client.pool.listUsageMetricsNext(link("/poolusagemetrics"));
  assert(ms.every((m) => m.poolId && m.startTime && m.endTime), JSON.stringify(ms));
});

// Job schedules.
const s1 = "svy-s1", s2 = "svy-s2";
await check("jobSchedule.add", async () => {
  await client.jobSchedule.add({ id: s1, schedule: { recurrenceInterval: "PT1H" }, jobSpecification: { poolInfo: { poolId: p1 } } });
  await client.jobSchedule.add({ id: s2, schedule: { doNotRunUntil: new Date(Date.now() + 3600e3) }, jobSpecification: { poolInfo: { poolId: p1 } } });
});
await check("jobSchedule.exists", async () => {
  assert((await client.jobSchedule.exists(s1)).body === true, "an existing schedule does not exist");
  assert((await client.jobSchedule.exists("svy-none")).body === false, "a missing schedule exists");
});
await check("jobSchedule.get", async () => assert((await client.jobSchedule.get(s1)).schedule?.recurrenceInterval === "PT1H", "wrong schedule"));
await check("jobSchedule.list", async () => assert(ids(await client.jobSchedule.list()) === `${s1},${s2}`, "want both schedules"));
await check("jobSchedule.listNext", async () => {
  const first = await client.jobSchedule.list({ jobScheduleListOptions: { maxResults: 1 } });
  assert(first.length === 1 && first.odatanextLink, "want a page of one with a next link");
  assert((await client.jobSchedule.listNext(first.odatanextLink)).length === 1, "want the other schedule");
});
await check("job.listFromJobSchedule", async () => {
  const js = await until("a job of s1", async () => {
    const js = await client.job.listFromJobSchedule(s1);
    return js.length ? js : null;
  }, 30000);
  assert(js.length === 1, `want one job, got ${ids(js)}`);
});
await check("job.listFromJobScheduleNext", async () => assert((await client.job.listFromJobScheduleNext(link(`/jobschedules/${s1}/jobs`))).length === 1, "want one job"));
await check("jobSchedule.patch", async () => {
  await client.jobSchedule.patch(s2, { metadata: [{ name: "k", value: "v" }] });
  assert((await client.jobSchedule.get(s2)).metadata?.[0]?.value === "v", "metadata not set");
});
await check("jobSchedule.update", async () => {
  await client.jobSchedule.update(s2, { schedule: { doNotRunUntil: new Date(Date.now() + 7200e3) }, jobSpecification: { poolInfo: { poolId: p1 } } });
  assert(!(await client.jobSchedule.get(s2)).metadata?.length, "metadata not cleared");
});
await check("jobSchedule.disable", async () => {
  await client.jobSchedule.disable(s2);
  assert((await client.jobSchedule.get(s2)).state === "disabled", "not disabled");
});
await check("jobSchedule.enable", async () => {
  await client.jobSchedule.enable(s2);
  assert((await client.jobSchedule.get(s2)).state === "active", "not active");
});
await check("jobSchedule.terminate", async () => {
  await client.jobSchedule.terminate(s1);
  await until("s1 completed", async () => (await client.jobSchedule.get(s1)).state === "completed", 30000);
});
await check("jobSchedule.deleteMethod", async () => {
  await client.jobSchedule.deleteMethod(s2);
  await until("s2 gone", async () => !(await client.jobSchedule.exists(s2)).body, 30000);
});

// Node operations, last: they disturb the nodes.
await check("computeNode.disableScheduling", async () => {
  await client.computeNode.disableScheduling(p1, n2, { nodeDisableSchedulingOption: "requeue" });
  assert((await client.computeNode.get(p1, n2)).schedulingState === "disabled", "scheduling not disabled");
});
await check("computeNode.enableScheduling", async () => {
  await client.computeNode.enableScheduling(p1, n2);
  assert((await client.computeNode.get(p1, n2)).schedulingState === "enabled", "scheduling not enabled");
});
// Node users are accounts of the node's machine (the test's own for local nodes): the survey
// adds one only when asked to (CORRAL_SURVEY_NODE_USERS=1).
const userCheck = process.env.CORRAL_SURVEY_NODE_USERS === "1" ? check : async (method) => {
  results[method] = { ok: false, detail: "not exercised: it adds a user to this machine (CORRAL_SURVEY_NODE_USERS=1)" };
};
await userCheck("computeNode.addUser", async () => {
  const r = await client.computeNode.addUser(p1, n2, { name: "svyuser", password: "Passw0rd-survey", isAdmin: false });
  assert(r._response.status === 201, `status ${r._response.status}`);
});
await userCheck("computeNode.updateUser", async () => {
  await client.computeNode.updateUser(p1, n2, "svyuser", { password: "Passw0rd-other" });
});
await userCheck("computeNode.deleteUser", async () => {
  await client.computeNode.deleteUser(p1, n2, "svyuser");
  await refused(client.computeNode.deleteUser(p1, n2, "svyuser"), 404, "NodeUserNotFound");
});
await check("computeNode.getRemoteLoginSettings", async () => {
  const r = await client.computeNode.getRemoteLoginSettings(p1, n2);
  assert(r.remoteLoginIPAddress && r.remoteLoginPort > 0, JSON.stringify(r));
});
// Azure serves Remote Desktop files only for pools of the cloud service configuration, which a
// Corral pool never is.
await check("computeNode.getRemoteDesktop", () => failsWith(client.computeNode.getRemoteDesktop(p1, n2), 409));
await check("computeNode.uploadBatchServiceLogs", async () => {
  const container = process.env.CORRAL_SURVEY_CONTAINER_URL;
  assert(container, "no container to upload to (CORRAL_SURVEY_CONTAINER_URL)");
  const r = await client.computeNode.uploadBatchServiceLogs(p1, n2, { containerUrl: container, startTime: new Date(Date.now() - 3600e3) });
  assert(r.numberOfFilesUploaded > 0, JSON.stringify(r));
});
await check("computeNode.reboot", async () => {
  await client.computeNode.reboot(p1, n1);
  await until("n1 idle after reboot", async () => (await client.computeNode.get(p1, n1)).state === "idle", 60000);
});
await check("computeNode.reimage", async () => {
  await client.computeNode.reimage(p1, n1);
  await until("n1 idle after reimage", async () => (await client.computeNode.get(p1, n1)).state === "idle", 60000);
});
await check("pool.removeNodes", async () => {
  await client.pool.removeNodes(p1, { nodeList: [n2] });
  await until("one node left", async () => (await client.computeNode.list(p1)).length === 1, 60000);
});
await check("pool.deleteMethod", async () => {
  await client.pool.deleteMethod(p2);
  await until("p2 gone", async () => !(await client.pool.exists(p2)).body, 60000);
});

const missing = methods.filter((m) => !(m in results));
for (const m of missing) results[m] = { ok: false, detail: "not exercised by the survey" };
const ok = methods.filter((m) => results[m].ok).length;
console.log(JSON.stringify({ total: methods.length, ok, results }, null, 1));
