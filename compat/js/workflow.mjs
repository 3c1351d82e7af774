// workflow.mjs is a realistic program on the official Azure Batch JavaScript SDK: a pool of two
// nodes with a start task, a job with a preparation task (which needs the start task's file),
// a release task and task dependencies, whose 500 tasks (each needs the preparation task's file)
// are added as collections of 100 in parallel (as Azure advises for large jobs), polled with
// $filter, $select and paging until all complete, then terminated (each node that prepared runs
// the release task, checked with listPreparationAndReleaseTaskStatus) and deleted.
// With CORRAL_WORKFLOW_INPUT_URL (a blob's URL with a SAS) and CORRAL_WORKFLOW_OUTPUT_URL (a
// container's, with a SAS that may create and write), tasks 0–9 download the blob as a resource
// file and upload what they read as output files wf/<i>.txt, which the caller checks. Tasks 0–398 form chains (task i waits for
// task i-100); task 499 waits for the range 400–498.
//
// Beside it, on the same pool, a job schedule creates two jobs: it is added first, to run every
// minute (Azure's shortest recurrenceInterval) from now. Its first job gets a task, then
// onAllTasksComplete terminatejob (as Azure advises for a job without a job manager task), and
// completes by itself while the 500 tasks run. Once they are done, the program waits for the
// rest of the minute for the second job (listFromJobSchedule: job-1 completed, job-2 active,
// created a minute after the schedule's start), then terminates the schedule (which ends job-2)
// and deletes it, and sees it and its jobs gone before it deletes the pool: a job may name a
// pool that does not exist, as on Azure, so a schedule left behind would go on creating jobs
// for the pool's id whose tasks wait for ever.
//
// It checks every answer and each dependency against the tasks' start and end times, and prints
// what it measured as JSON on stdout; any deviation is an error on stderr and exit status 1.
//
// usage: node workflow.mjs URL   (CORRAL_ACCOUNT_NAME and CORRAL_ACCOUNT_KEY in the environment)
import { setTimeout as sleep } from "node:timers/promises";
import batch from "@azure/batch";

const [url] = process.argv.slice(2);
const key = process.env.CORRAL_ACCOUNT_KEY;
if (!url || !key) {
  console.error("usage: node workflow.mjs URL (with CORRAL_ACCOUNT_KEY set)");
  process.exit(2);
}
const client = new batch.BatchServiceClient(new batch.BatchSharedKeyCredentials(process.env.CORRAL_ACCOUNT_NAME || "corral", key), url);
const n = 500, poolId = "wf-pool", jobId = "wf-job", scheduleId = "wf-schedule";
const firstJob = `${scheduleId}:job-1`, secondJob = `${scheduleId}:job-2`;
const inputUrl = process.env.CORRAL_WORKFLOW_INPUT_URL, outputUrl = process.env.CORRAL_WORKFLOW_OUTPUT_URL;

function fail(msg) {
  console.error(`workflow.mjs: ${msg}`);
  process.exit(1);
}

async function waitFor(what, cond, ms = 120000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

// jobsOf lists the jobs a job schedule created, page by page, in order of id.
async function jobsOf(id) {
  const jobs = [];
  for (let page = await client.job.listFromJobSchedule(id); ; page = await client.job.listFromJobScheduleNext(page.odatanextLink)) {
    jobs.push(...page);
    if (!page.odatanextLink) break;
  }
  return jobs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

await client.pool.add({
  id: poolId, vmSize: "standard_d2s_v3", targetDedicatedNodes: 2, taskSlotsPerNode: 4,
  startTask: { commandLine: `/bin/sh -c 'echo started > "$AZ_BATCH_NODE_SHARED_DIR/started"'`, waitForSuccess: true },
});

// A report every minute on the same pool, from now. The schedule has one active job at a time:
// the first gets its task, and ends by itself once the task completes.
const scheduleStart = new Date();
await client.jobSchedule.add({
  id: scheduleId,
  schedule: { doNotRunUntil: scheduleStart, recurrenceInterval: "PT1M" },
  jobSpecification: { poolInfo: { poolId }, displayName: "report", commonEnvironmentSettings: [{ name: "REPORT", value: "minutely" }] },
});
await waitFor("the schedule's first job", async () => (await jobsOf(scheduleId)).map((j) => j.id).join() === firstJob);
await client.task.add(firstJob, {
  id: "report", commandLine: `/bin/sh -c 'test -f "$AZ_BATCH_NODE_SHARED_DIR/started" && test "$REPORT" = minutely && echo "$AZ_BATCH_JOB_ID"'`,
});
await client.job.patch(firstJob, { onAllTasksComplete: "terminatejob" });

const t0 = Date.now();
await client.job.add({
  id: jobId, poolInfo: { poolId }, usesTaskDependencies: true,
  jobPreparationTask: { commandLine: `/bin/sh -c 'test -f "$AZ_BATCH_NODE_SHARED_DIR/started" && echo ready > ready.txt'` },
  jobReleaseTask: { commandLine: `/bin/sh -c 'rm "$AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt"'` },
});

const tasks = [];
for (let i = 0; i < n; i++) {
  const t = { id: String(i), commandLine: `/bin/sh -c 'test -f "$AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt" && echo ${i}'` };
  if (i < 10 && inputUrl && outputUrl) {
    t.commandLine = `/bin/sh -c 'test -f "$AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt" && cat input.txt > out.txt'`;
    t.resourceFiles = [{ httpUrl: inputUrl, filePath: "input.txt" }];
    t.outputFiles = [{ filePattern: "out.txt", destination: { container: { containerUrl: outputUrl, path: `wf/${i}.txt` } }, uploadOptions: { uploadCondition: "tasksuccess" } }];
  }
  if (i === n - 1) t.dependsOn = { taskIdRanges: [{ start: 400, end: n - 2 }] };
  else if (i >= 100) t.dependsOn = { taskIds: [String(i - 100)] };
  tasks.push(t);
}
const chunks = [];
for (let i = 0; i < n; i += 100) chunks.push(tasks.slice(i, i + 100));
const added = await Promise.all(chunks.map((c) => client.task.addCollection(jobId, c)));
for (const r of added) for (const v of r.value) if (v.status !== "success") fail(`add ${v.taskId}: ${JSON.stringify(v)}`);
const addedAt = Date.now();

// Poll as a program does: only completed tasks, only the properties it reads, 100 a page.
const done = new Map();
let pages = 0, polls = 0;
await waitFor("every task to complete", async () => {
  polls++;
  pages = 0;
  let page = await client.task.list(jobId, { taskListOptions: { filter: "state eq 'completed'", select: "id,executionInfo", maxResults: 100 } });
  for (;;) {
    pages++;
    for (const t of page) {
      if (t.commandLine !== undefined || t.state !== undefined) fail(`$select id,executionInfo: task ${t.id} has ${JSON.stringify(t)}`);
      const x = t.executionInfo;
      if (x?.exitCode !== 0 || !x.startTime || !x.endTime) fail(`task ${t.id} completed with ${JSON.stringify(x)}`);
      done.set(t.id, { start: x.startTime.getTime(), end: x.endTime.getTime() });
    }
    if (!page.odatanextLink) break;
    page = await client.task.listNext(page.odatanextLink);
  }
  return done.size === n;
});
if (pages < n / 100) fail(`the last poll read ${pages} pages, want at least ${n / 100}`);
for (let i = 100; i < n; i++) {
  const deps = i === n - 1 ? Array.from({ length: n - 1 - 400 }, (_, k) => 400 + k) : [i - 100];
  for (const d of deps) {
    if (done.get(String(i)).start < done.get(String(d)).end) fail(`task ${i} started before its dependency ${d} ended`);
  }
}
const counts = (await client.job.getTaskCounts(jobId)).taskCounts;
if (counts.succeeded !== n || counts.failed !== 0) fail(`task counts ${JSON.stringify(counts)}`);
const completedAt = Date.now();

await client.job.terminate(jobId);
await waitFor("the job to complete", async () => (await client.job.get(jobId)).state === "completed");
// Each node that ran tasks ran the preparation task once, before them, and the release task
// after the job ended.
let prepared = 0;
await waitFor("the release tasks", async () => {
  const list = await client.job.listPreparationAndReleaseTaskStatus(jobId);
  prepared = list.length;
  return list.length > 0 && list.every((s) => s.jobReleaseTaskExecutionInfo?.state === "completed");
});
for (const s of await client.job.listPreparationAndReleaseTaskStatus(jobId)) {
  const p = s.jobPreparationTaskExecutionInfo, r = s.jobReleaseTaskExecutionInfo;
  if (p.state !== "completed" || p.result !== "success" || p.exitCode !== 0 || p.retryCount !== 0) fail(`node ${s.nodeId}: preparation ${JSON.stringify(p)}`);
  if (r.result !== "success" || r.exitCode !== 0) fail(`node ${s.nodeId}: release ${JSON.stringify(r)}`);
}
await client.job.deleteMethod(jobId);
const gone = (p) => p.then(() => false, (e) => e.statusCode === 404);

// The schedule's second job is due a minute after its start: wait for it (what is left of the
// minute), reading when from the schedule while its recent job is the first.
const waitedFrom = Date.now();
const sched = await client.jobSchedule.get(scheduleId);
if (sched.executionInfo?.recentJob?.id === firstJob) {
  const next = sched.executionInfo.nextRunTime;
  if (next?.getTime() !== scheduleStart.getTime() + 60000) fail(`the schedule's nextRunTime is ${next?.toISOString()}, want a minute after ${scheduleStart.toISOString()}`);
  await sleep(next.getTime() - Date.now());
}
await waitFor("the schedule's second job", async () => (await jobsOf(scheduleId)).length >= 2, 30000);
const secondSeenAt = Date.now();
const jobs = await jobsOf(scheduleId);
const states = jobs.map((j) => `${j.id} ${j.state}`).join(", "), wantStates = `${firstJob} completed, ${secondJob} active`;
if (states !== wantStates) fail(`the schedule's jobs: ${states}; want ${wantStates}`);
if (jobs[0].executionInfo?.terminateReason !== "AllTasksComplete") fail(`${firstJob} ended with ${JSON.stringify(jobs[0].executionInfo)}, want AllTasksComplete`);
const report = (await client.task.get(firstJob, "report")).executionInfo;
if (report?.exitCode !== 0) fail(`the task of ${firstJob} completed with ${JSON.stringify(report)}`);
const secondAfter = jobs[1].creationTime.getTime() - scheduleStart.getTime();
if (secondAfter < 60000) fail(`${secondJob} was created ${secondAfter} ms after the schedule's start, before its recurrenceInterval`);

// Terminating the schedule terminates its active job; deleting it deletes its jobs. Both go
// before the pool does.
await client.jobSchedule.terminate(scheduleId);
await waitFor("the schedule to complete", async () => (await client.jobSchedule.get(scheduleId)).state === "completed");
const ended = await client.job.get(secondJob);
if (ended.state !== "completed" || ended.executionInfo?.terminateReason !== "TerminateJobSchedule") fail(`${secondJob} after the schedule's terminate: ${ended.state}, ${JSON.stringify(ended.executionInfo)}`);
await client.jobSchedule.deleteMethod(scheduleId);
await waitFor("the schedule and its jobs to be deleted", async () =>
  (await gone(client.jobSchedule.get(scheduleId))) && (await gone(client.job.get(firstJob))) && (await gone(client.job.get(secondJob))));

await client.pool.deleteMethod(poolId);
await waitFor("the job and pool to be deleted", async () => (await gone(client.job.get(jobId))) && (await gone(client.pool.get(poolId))));
console.log(JSON.stringify({
  tasks: n, polls, prepared, addSeconds: (addedAt - t0) / 1000, runSeconds: (completedAt - addedAt) / 1000,
  scheduleJobs: jobs.length, secondJobSeconds: secondAfter / 1000, scheduleWaitSeconds: (secondSeenAt - waitedFrom) / 1000,
}));
