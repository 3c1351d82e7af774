// poll.mjs polls a job's task counts through the official Azure Batch SDK until a stop file
// appears, the way a user's program watches a job, and prints what it saw as JSON on stdout:
// how many polls succeeded and every error the SDK surfaced (after its own retries).
//
// usage: node poll.mjs URL JOB STOPFILE   (CORRAL_ACCOUNT_NAME and CORRAL_ACCOUNT_KEY in the
// environment)
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import batch from "@azure/batch";

const [url, jobId, stopFile] = process.argv.slice(2);
if (!url || !jobId || !stopFile) {
  console.error("usage: node poll.mjs URL JOB STOPFILE");
  process.exit(2);
}
const name = process.env.CORRAL_ACCOUNT_NAME || "corral";
const key = process.env.CORRAL_ACCOUNT_KEY;
if (!key) {
  console.error("poll.mjs: CORRAL_ACCOUNT_KEY is not set");
  process.exit(2);
}
const client = new batch.BatchServiceClient(new batch.BatchSharedKeyCredentials(name, key), url);
const seen = { ok: 0, errors: [], lastSucceeded: 0 };
while (!existsSync(stopFile)) {
  try {
    const r = await client.job.getTaskCounts(jobId);
    seen.ok++;
    seen.lastSucceeded = r.taskCounts.succeeded;
  } catch (e) {
    seen.errors.push({ status: e.statusCode ?? null, code: e.code ?? null, message: String(e.message).slice(0, 200) });
  }
  await sleep(100);
}
console.log(JSON.stringify(seen));
