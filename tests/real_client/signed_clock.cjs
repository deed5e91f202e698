// Signed calls with the AWS SDK for JavaScript v3 against `dpsim serve --auth --clock manual`
// (issue 20). This SDK corrects clock skew from the `Date` header; with one attempt per call, any
// call the service refused for its signature's time would fail here. Every call must pass at the
// manual clock's start, after an hour's advance and after a jump to a week later; a client whose
// clock is an hour off the machine's is refused.
//
//   node signed_clock.cjs ENDPOINT ACCESS_KEY:SECRET ADMIN_TOKEN
const { DataPipelineClient, ReportTaskRunnerHeartbeatCommand } = require("@aws-sdk/client-data-pipeline");

const [endpoint, credentials, token] = process.argv.slice(2);
const [accessKeyId, secretAccessKey] = credentials.split(":");

function client(systemClockOffset = 0) {
  return new DataPipelineClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: { requestTimeout: 10000 },
    systemClockOffset,
  });
}

async function admin(method, path, body) {
  const response = await fetch(endpoint + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`${method} ${path} answered HTTP ${response.status}`);
  return response.json();
}

async function heartbeat(dp, when) {
  const answer = await dp.send(new ReportTaskRunnerHeartbeatCommand({ taskrunnerId: "js-runner", workerGroup: "wg-js" }));
  if (answer.terminate !== false) throw new Error(`heartbeat ${when} answered ${JSON.stringify(answer)}`);
  console.log(`ok: signed heartbeat ${when}`);
}

async function main() {
  const dp = client();
  const start = new Date((await admin("GET", "/_dpsim/clock")).now);
  await heartbeat(dp, `at the manual clock's start (${start.toISOString()})`);
  await admin("POST", "/_dpsim/clock/advance", { seconds: 3600 });
  await heartbeat(dp, "after an advance of 3600 s");
  const week = new Date(start.getTime() + 7 * 24 * 3600 * 1000);
  const moved = await admin("POST", "/_dpsim/clock/advance", { to: week.toISOString().replace(".000Z", "Z") });
  if (new Date(moved.now).getTime() !== week.getTime()) throw new Error(`the clock reads ${moved.now}, want ${week.toISOString()}`);
  await heartbeat(dp, "after an advance to a week later");
  await heartbeat(dp, "a second time a week later");
  try {
    await heartbeat(client(-3600 * 1000), "with a clock an hour behind the machine's");
    throw new Error("a request signed an hour off the machine's clock was accepted");
  } catch (e) {
    if (e.name !== "InvalidSignatureException") throw e;
    console.log(`ok: a request signed an hour off the machine's clock is refused (${e.name})`);
  }
  console.log("signed clock: OK");
}

main().catch((e) => {
  console.error(`FAILED: ${e.name}: ${e.message}`);
  process.exit(1);
});
