#!/usr/bin/env python3
"""Drive a running `dpsim serve` with the real AWS SDK for Python (boto3).

Usage:
    flow.py ENDPOINT_URL              # main flow (same as mode "main")
    flow.py ENDPOINT_URL main
    flow.py ENDPOINT_URL auth AK:SECRET

The main flow reads credentials from the usual AWS environment variables
(the server runs without --auth, so any value will do; boto3 still needs some
to sign). It expects the server to have been started with a short
--poll-hold-ms; DPSIM_POLL_HOLD_MS tells the script which one (default 3000).

Every step is printed to stdout; the first failed assertion prints a message
to stderr and exits with status 1. The last stdout line on success is
"flow <mode>: OK".
"""

import datetime
import json
import os
import re
import sys
import threading
import time
import traceback
import urllib.request

import boto3
import botocore.auth
import botocore.config
from botocore.exceptions import ClientError

REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
POLL_HOLD_S = int(os.environ.get("DPSIM_POLL_HOLD_MS", "3000")) / 1000.0
PIPELINE_ID_RE = re.compile(r"^df-[A-Z0-9]{19}$")
# Shaped like a real pipeline id so the server must look it up, not just reject the pattern.
UNKNOWN_PIPELINE_ID = "df-" + "A" * 19
WORKER_GROUP = "wg-1"

_step_no = 0


class FlowFailure(Exception):
    pass


def step(text):
    global _step_no
    _step_no += 1
    print(f"[{_step_no:02d}] {text}", flush=True)


def check(condition, message):
    if not condition:
        raise FlowFailure(message)


def body(response):
    """The modelled part of a response, without botocore's ResponseMetadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def expect_error(code, call, *args, **kwargs):
    """Run `call`, which must fail with the modelled error `code` and HTTP 400."""
    try:
        response = call(*args, **kwargs)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        check(
            got == code,
            f"expected error {code}, got {got} (HTTP {status}): {e.response.get('Error')}",
        )
        check(status == 400, f"expected HTTP 400 for {code}, got HTTP {status}")
        print(f"      -> {code} (HTTP 400): {e.response['Error'].get('Message', '')}", flush=True)
        return e
    raise FlowFailure(f"expected error {code}, but the call succeeded: {body(response)}")


def field(key, value):
    return {"key": key, "stringValue": value}


def string_field(fields, key):
    for f in fields:
        if f.get("key") == key:
            return f.get("stringValue")
    return None


def parse_rfc3339(text):
    # fromisoformat before 3.11 accepts neither "Z" nor more than 6 fractional digits.
    m = re.match(r"^(.*?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    check(m is not None, f"clock value {text!r} is not RFC 3339")
    base, frac, zone = m.groups()
    frac = (frac or "")[:7]
    zone = "+00:00" if zone == "Z" else zone
    return datetime.datetime.fromisoformat(base + frac + zone)


class Admin:
    """The /_dpsim admin interface, spoken with plain urllib (it is not an AWS API)."""

    def __init__(self, endpoint, token=None):
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        # A developer's HTTP_PROXY must not capture loopback admin calls.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token is not None:
            req.add_header("Authorization", f"Bearer {self.token}")
        with self.opener.open(req, timeout=30) as resp:
            check(resp.status == 200, f"{method} {path} answered HTTP {resp.status}")
            return json.loads(resp.read().decode())

    def now(self):
        answer = self._call("GET", "/_dpsim/clock")
        check("now" in answer, f"GET /_dpsim/clock answered {answer}, no 'now'")
        return parse_rfc3339(answer["now"])

    def advance(self, seconds):
        answer = self._call("POST", "/_dpsim/clock/advance", {"seconds": seconds})
        check("now" in answer, f"clock advance answered {answer}, no 'now'")
        return parse_rfc3339(answer["now"])

    def advance_to(self, instant):
        answer = self._call("POST", "/_dpsim/clock/advance", {"to": instant})
        check("now" in answer, f"clock advance answered {answer}, no 'now'")
        return parse_rfc3339(answer["now"])


def make_client(endpoint, *, read_timeout=30, credentials=None):
    session_kwargs = {"region_name": REGION}
    if credentials is not None:
        session_kwargs["aws_access_key_id"], session_kwargs["aws_secret_access_key"] = credentials
    session = boto3.session.Session(**session_kwargs)
    # One attempt only: a retried call (botocore retries 500s and throttling by
    # default) would hide server errors and, for polls, hand out extra tasks.
    config = botocore.config.Config(
        connect_timeout=10,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return session.client("datapipeline", endpoint_url=endpoint, config=config)


def main_flow(endpoint):
    check(
        boto3.session.Session().get_credentials() is not None,
        "no AWS credentials in the environment; set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY to any fake values (the server is not using --auth)",
    )
    admin = Admin(endpoint)
    dp = make_client(endpoint)
    # Polls may be held for POLL_HOLD_S before the server answers, so their
    # read timeout must outlast it.
    poll_timeout = POLL_HOLD_S + 30
    runner_a = make_client(endpoint, read_timeout=poll_timeout)
    runner_b = make_client(endpoint, read_timeout=poll_timeout)

    step("CreatePipeline name=real-client-main uniqueId=rc-main-1")
    first = dp.create_pipeline(name="real-client-main", uniqueId="rc-main-1")
    pid = first["pipelineId"]
    print(f"      -> {pid}", flush=True)
    check(PIPELINE_ID_RE.match(pid), f"pipeline id {pid!r} does not match ^df-[A-Z0-9]{{19}}$")
    check(
        first["ResponseMetadata"].get("RequestId"),
        "response carries no x-amzn-RequestId header",
    )

    step("CreatePipeline again with the same (name, uniqueId) is idempotent")
    again = dp.create_pipeline(name="real-client-main", uniqueId="rc-main-1")
    check(again["pipelineId"] == pid, f"second CreatePipeline gave {again['pipelineId']}, want {pid}")

    step("CreatePipeline with another uniqueId makes another pipeline")
    other = dp.create_pipeline(name="real-client-main", uniqueId="rc-main-2")["pipelineId"]
    check(other != pid, f"a different uniqueId returned the same pipeline {pid}")

    step("PutPipelineDefinition without any workerGroup is rejected, naming Copy")
    bad = dp.put_pipeline_definition(
        pipelineId=pid,
        pipelineObjects=[
            {"id": "Default", "name": "Default", "fields": [field("scheduleType", "ondemand")]},
            {
                "id": "Copy",
                "name": "Copy",
                "fields": [field("type", "ShellCommandActivity"), field("command", "echo hi")],
            },
        ],
    )
    print(f"      -> {body(bad)}", flush=True)
    check(bad.get("errored") is True, f"bad definition not rejected: {body(bad)}")
    named = [e for e in bad.get("validationErrors", []) if e.get("id") == "Copy"]
    check(named, f"no validation error names object Copy: {bad.get('validationErrors')}")
    check(named[0].get("errors"), f"validation error for Copy has no message: {named[0]}")

    # The activity has no workerGroup of its own: it must inherit Default's.
    step("PutPipelineDefinition: Default(ondemand, wg-1) + Copy ShellCommandActivity")
    good = dp.put_pipeline_definition(
        pipelineId=pid,
        pipelineObjects=[
            {
                "id": "Default",
                "name": "Default",
                "fields": [field("scheduleType", "ondemand"), field("workerGroup", WORKER_GROUP)],
            },
            {
                "id": "Copy",
                "name": "Copy",
                "fields": [field("type", "ShellCommandActivity"), field("command", "echo hello")],
            },
        ],
    )
    check(good.get("errored") is False, f"good definition rejected: {body(good)}")
    check(not good.get("validationErrors"), f"good definition has errors: {good.get('validationErrors')}")

    step("runner-a starts a long PollForTask before activation")
    sent = threading.Event()
    outcome = {}

    def on_send(**_kwargs):
        outcome["sent_at"] = time.monotonic()
        sent.set()

    service = runner_a.meta.service_model.service_id.hyphenize()
    runner_a.meta.events.register(f"before-send.{service}.PollForTask", on_send)

    def long_poll():
        try:
            outcome["response"] = runner_a.poll_for_task(workerGroup=WORKER_GROUP, hostname="runner-a")
        except Exception as e:  # reported by the main thread
            outcome["error"] = e
        outcome["answered_at"] = time.monotonic()

    poller = threading.Thread(target=long_poll, daemon=True)
    poller.start()
    check(sent.wait(30), "runner-a's PollForTask was never sent")
    runner_a.meta.events.unregister(f"before-send.{service}.PollForTask", on_send)
    # The request is on the wire; give the server a moment to park it so the
    # task can only reach it through the long-poll handover. Well under the hold.
    time.sleep(min(0.75, POLL_HOLD_S / 4))
    check(
        "answered_at" not in outcome,
        f"runner-a's poll answered before ActivatePipeline: {outcome.get('response') or outcome.get('error')}",
    )

    step("ActivatePipeline wakes the waiting poll")
    activated_at = time.monotonic()
    activation = dp.activate_pipeline(pipelineId=pid)
    check(body(activation) == {}, f"ActivatePipeline answered {body(activation)}, want {{}}")
    poller.join(poll_timeout + 10)
    check(not poller.is_alive(), "runner-a's poll did not answer")
    if "error" in outcome:
        raise FlowFailure(f"runner-a's poll failed: {outcome['error']!r}")
    check(
        outcome["answered_at"] >= activated_at,
        "runner-a's poll answered before ActivatePipeline was sent",
    )
    held = outcome["answered_at"] - outcome["sent_at"]
    task_a = outcome["response"].get("taskObject")
    check(
        task_a,
        "runner-a's held poll answered without a task: ActivatePipeline did not hand the "
        f"new task to the waiting poll (held {held:.2f}s)",
    )
    # A server that only rechecks when the hold runs out would also pass the
    # checks above; the handover must happen when the task becomes ready.
    check(
        held < POLL_HOLD_S * 0.8,
        f"runner-a's poll was held {held:.2f}s of its {POLL_HOLD_S:g}s hold: the task reached it "
        "when the hold ran out, not when ActivatePipeline made it ready",
    )
    t1, attempt = task_a.get("taskId"), task_a.get("attemptId")
    print(
        f"      -> attempt {attempt}, taskId {t1[:40] if t1 else t1}..., "
        f"objects {sorted((task_a.get('objects') or {}).keys())}",
        flush=True,
    )
    check(t1 and attempt, f"taskObject lacks taskId or attemptId: {task_a}")
    check(task_a.get("pipelineId") == pid, f"task is for pipeline {task_a.get('pipelineId')}, want {pid}")

    step("runner-a does not acknowledge; advance the service clock 121 s")
    before = admin.now()
    after = admin.advance(121)
    print(f"      -> clock {before.isoformat()} -> {after.isoformat()}", flush=True)
    check(
        (after - before).total_seconds() >= 121,
        f"clock moved only {(after - before).total_seconds()} s",
    )

    step("runner-b polls and gets the same attempt under a new taskId")
    task_b = runner_b.poll_for_task(workerGroup=WORKER_GROUP, hostname="runner-b").get("taskObject")
    check(task_b, "runner-b got no task: the unacknowledged task was not handed out again")
    t2 = task_b.get("taskId")
    check(task_b.get("attemptId") == attempt, f"runner-b got attempt {task_b.get('attemptId')}, want {attempt}")
    check(t2 and t2 != t1, "runner-b got the same taskId as runner-a: taskIds must never be reused")
    check(task_b.get("pipelineId") == pid, f"task is for pipeline {task_b.get('pipelineId')}, want {pid}")

    step("runner-a's ReportTaskProgress on the stale t1 answers canceled=true")
    stale = runner_a.report_task_progress(taskId=t1)
    check(stale.get("canceled") is True, f"stale taskId: {body(stale)}, want canceled=true")

    # A tampered id was never issued; unlike a stale one it must be an error,
    # which shows the server tells the two apart.
    forged_t1 = t1[:-1] + ("A" if t1[-1] != "A" else "B")
    check(forged_t1 not in (t1, t2), "forged taskId collides with a real one")
    step("ReportTaskProgress on a tampered t1 (never issued) raises TaskNotFoundException")
    expect_error("TaskNotFoundException", runner_a.report_task_progress, taskId=forged_t1)

    step("runner-b acknowledges t2 with percentComplete=50")
    ack = runner_b.report_task_progress(taskId=t2, fields=[field("percentComplete", "50")])
    check(ack.get("canceled") is False, f"live taskId: {body(ack)}, want canceled=false")

    # Sent while t2 is still live, so an enum error is the only thing wrong
    # with it and the error cannot be mistaken for a lookup failure.
    step("SetTaskStatus(t2, taskStatus=BOGUS) raises InvalidRequestException")
    expect_error("InvalidRequestException", runner_b.set_task_status, taskId=t2, taskStatus="BOGUS")

    step("SetTaskStatus(t2, FINISHED) answers {}")
    done = runner_b.set_task_status(taskId=t2, taskStatus="FINISHED")
    check(body(done) == {}, f"SetTaskStatus answered {body(done)}, want {{}}")

    step("SetTaskStatus(t2) again raises TaskNotFoundException")
    expect_error("TaskNotFoundException", runner_b.set_task_status, taskId=t2, taskStatus="FINISHED")

    step("SetTaskStatus(t1) from runner-a raises TaskNotFoundException")
    expect_error("TaskNotFoundException", runner_a.set_task_status, taskId=t1, taskStatus="FINISHED")

    step("SetTaskStatus with a forged taskId raises TaskNotFoundException")
    expect_error(
        "TaskNotFoundException", dp.set_task_status, taskId="forged-task-id-0000", taskStatus="FINISHED"
    )

    step(f"DescribeObjects({attempt}) shows @status FINISHED")
    described = dp.describe_objects(pipelineId=pid, objectIds=[attempt])
    objects = {o["id"]: o for o in described.get("pipelineObjects", [])}
    check(attempt in objects, f"DescribeObjects did not return {attempt}: {sorted(objects)}")
    status = string_field(objects[attempt]["fields"], "@status")
    check(status == "FINISHED", f"attempt @status is {status!r}, want FINISHED; fields {objects[attempt]['fields']}")

    step(f"DescribePipelines([{pid}]) describes it")
    descriptions = dp.describe_pipelines(pipelineIds=[pid]).get("pipelineDescriptionList", [])
    check(
        [d.get("pipelineId") for d in descriptions] == [pid],
        f"DescribePipelines answered {descriptions}",
    )
    check(descriptions[0].get("name") == "real-client-main", f"wrong name in {descriptions[0]}")

    step(f"DescribePipelines([{UNKNOWN_PIPELINE_ID}]) raises PipelineNotFoundException")
    expect_error("PipelineNotFoundException", dp.describe_pipelines, pipelineIds=[UNKNOWN_PIPELINE_ID])

    step("ReportTaskRunnerHeartbeat(runner-a, wg-1) answers terminate=false")
    beat = runner_a.report_task_runner_heartbeat(taskrunnerId="runner-a", workerGroup=WORKER_GROUP)
    check(beat.get("terminate") is False, f"heartbeat answered {body(beat)}, want terminate=false")

    step(f"PollForTask with no work is held ~{POLL_HOLD_S:g}s and answers with no task")
    started = time.monotonic()
    empty = runner_a.poll_for_task(workerGroup=WORKER_GROUP, hostname="runner-a")
    held = time.monotonic() - started
    print(f"      -> answered after {held:.2f}s: {body(empty)}", flush=True)
    check("taskObject" not in empty, f"empty poll handed out a task: {empty.get('taskObject')}")
    # Loose bounds: only the order of magnitude of the hold is the server's contract.
    check(held >= POLL_HOLD_S * 0.8, f"empty poll answered after {held:.2f}s, not held for ~{POLL_HOLD_S}s")

    scheduled_flow(dp, admin)


def scheduled_flow(dp, admin):
    """An hourly cron pipeline starting two hours back: boto3 sees one instance per period,
    each with its @scheduledStartTime and @scheduledEndTime, and selects them by time."""
    now = admin.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    start = hour - datetime.timedelta(hours=2)
    fmt = "%Y-%m-%dT%H:%M:%S"
    step(f"An hourly cron schedule from {start.strftime(fmt)} validates and activates (backfill)")
    pid = dp.create_pipeline(name="real-client-hourly", uniqueId="rc-hourly-1")["pipelineId"]
    objects = [
        {"id": "Default", "name": "Default", "fields": [
            field("workerGroup", "wg-scheduled"), field("scheduleType", "cron"),
            {"key": "schedule", "refValue": "Hourly"}]},
        {"id": "Hourly", "name": "Hourly", "fields": [
            field("type", "Schedule"), field("period", "1 hours"), field("startDateTime", start.strftime(fmt))]},
        {"id": "Copy", "name": "Copy", "fields": [field("type", "ShellCommandActivity"), field("command", "copy.sh")]},
    ]
    put = dp.put_pipeline_definition(pipelineId=pid, pipelineObjects=objects)
    check(put.get("errored") is False, f"the scheduled definition was refused: {body(put)}")
    dp.activate_pipeline(pipelineId=pid)

    step("QueryObjects INSTANCE lists one instance per period so far")
    ids = dp.query_objects(pipelineId=pid, sphere="INSTANCE").get("ids", [])
    want = [f"@Copy_{(start + datetime.timedelta(hours=h)).strftime(fmt)}" for h in range(3)]
    check(sorted(ids) == want, f"instances {ids}, want {want}")

    step("DescribeObjects shows @scheduledStartTime and @scheduledEndTime on each")
    described = dp.describe_objects(pipelineId=pid, objectIds=ids).get("pipelineObjects", [])
    for o in described:
        begins = string_field(o["fields"], "@scheduledStartTime")
        ends = string_field(o["fields"], "@scheduledEndTime")
        check(o["id"] == f"@Copy_{begins}", f"{o['id']} has @scheduledStartTime {begins!r}")
        period = datetime.datetime.strptime(ends, fmt) - datetime.datetime.strptime(begins, fmt)
        check(period == datetime.timedelta(hours=1), f"{o['id']}: period {begins} .. {ends}")

    step("QueryObjects with @scheduledStartTime GE the last period's start selects it alone")
    selected = dp.query_objects(
        pipelineId=pid,
        sphere="INSTANCE",
        query={"selectors": [{"fieldName": "@scheduledStartTime",
                              "operator": {"type": "GE", "values": [want[-1].split("_", 1)[1]]}}]},
    ).get("ids", [])
    check(selected == [want[-1]], f"GE selected {selected}, want {[want[-1]]}")


def auth_flow(endpoint, access_key, secret):
    step(f"ReportTaskRunnerHeartbeat signed with the right credentials ({access_key})")
    good = make_client(endpoint, credentials=(access_key, secret))
    beat = good.report_task_runner_heartbeat(taskrunnerId="runner-auth", workerGroup=WORKER_GROUP)
    check(beat.get("terminate") is False, f"heartbeat answered {body(beat)}, want terminate=false")

    step("the same call signed with a wrong secret raises InvalidSignatureException")
    wrong_secret = make_client(endpoint, credentials=(access_key, secret + "-wrong"))
    expect_error(
        "InvalidSignatureException",
        wrong_secret.report_task_runner_heartbeat,
        taskrunnerId="runner-auth",
        workerGroup=WORKER_GROUP,
    )

    unknown_key = "AKIDDPSIMUNKNOWN" if access_key != "AKIDDPSIMUNKNOWN" else "AKIDDPSIMOTHER"
    step(f"the same call signed with an unknown access key ({unknown_key}) raises UnrecognizedClientException")
    stranger = make_client(endpoint, credentials=(unknown_key, secret))
    expect_error(
        "UnrecognizedClientException",
        stranger.report_task_runner_heartbeat,
        taskrunnerId="runner-auth",
        workerGroup=WORKER_GROUP,
    )


def signed_clock_flow(endpoint, access_key, secret, token):
    """Signed calls at any instant of a manual clock: botocore signs with the machine's clock and
    corrects no skew, so serve must judge signatures by the machine's time, not its own."""
    admin = Admin(endpoint, token)
    client = make_client(endpoint, credentials=(access_key, secret))

    def heartbeat(when):
        answer = client.report_task_runner_heartbeat(taskrunnerId="runner-clock", workerGroup=WORKER_GROUP)
        check(answer.get("terminate") is False, f"heartbeat {when} answered {body(answer)}")
        simulated = answer["ResponseMetadata"]["HTTPHeaders"].get("x-dpsim-time")
        check(simulated is not None, f"heartbeat {when}: no x-dpsim-time header")
        return parse_rfc3339(simulated)

    start = admin.now()
    step(f"a signed heartbeat at the manual clock's start ({start.isoformat()}) succeeds")
    check(heartbeat("at the start") == start, "x-dpsim-time shows the simulated clock")

    step("after an advance of 3600 s, a signed heartbeat succeeds at once")
    later = admin.advance(3600)
    check(later - start == datetime.timedelta(hours=1), f"the clock reads {later}, want start + 1h")
    check(heartbeat("after an hour") == later, "x-dpsim-time follows the advance")

    week = start + datetime.timedelta(days=7)
    step(f"after an advance to a week later ({week.isoformat()}), a signed heartbeat succeeds at once")
    moved = admin.advance_to(week.strftime("%Y-%m-%dT%H:%M:%SZ"))
    check(moved == week, f"the clock reads {moved}, want {week}")
    check(heartbeat("a week later") == week, "x-dpsim-time follows the advance")

    step("a request signed an hour off the machine's clock is refused: freshness is still checked")
    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: real(*a, **k) - datetime.timedelta(hours=1)
    try:
        expect_error(
            "InvalidSignatureException",
            client.report_task_runner_heartbeat,
            taskrunnerId="runner-clock",
            workerGroup=WORKER_GROUP,
        )
    finally:
        botocore.auth.get_current_datetime = real


def zombie_flow(endpoint):
    """Two boto3 runners hold one task each when both are canceled: runner-good stops at the
    canceled=true answer, runner-bad ignores it, keeps reporting for three minutes and sets
    FINISHED. serve sees them only through their calls, yet its report must name runner-bad
    under zombie_bound and hold nothing against runner-good."""
    admin = Admin(endpoint)
    dp = make_client(endpoint)
    tasks = {}
    for name in ["runner-good", "runner-bad"]:
        group = f"wg-{name}"
        pid = dp.create_pipeline(name=f"zombie-{name}", uniqueId=f"zombie-{name}")["pipelineId"]
        put = dp.put_pipeline_definition(
            pipelineId=pid,
            pipelineObjects=[
                {"id": "Default", "name": "Default",
                 "fields": [field("scheduleType", "ondemand"), field("workerGroup", group)]},
                {"id": "Copy", "name": "Copy",
                 "fields": [field("type", "ShellCommandActivity"), field("command", "echo hi")]},
            ],
        )
        check(put.get("errored") is False, f"definition rejected: {body(put)}")
        dp.activate_pipeline(pipelineId=pid)
        step(f"{name} polls, is handed a task and acknowledges it")
        task = dp.poll_for_task(workerGroup=group, hostname=name).get("taskObject")
        check(task is not None, f"{name} got no task")
        tasks[name] = task["taskId"]
        check(dp.report_task_progress(taskId=task["taskId"])["canceled"] is False, "the ack was refused")

    step("both tasks are canceled (TRY_CANCEL of Copy)")
    admin._call("POST", "/_dpsim/faults", {"kind": "cancel", "task": "Copy"})
    admin.advance(30)

    step("runner-good hears canceled=true and stops")
    check(dp.report_task_progress(taskId=tasks["runner-good"])["canceled"] is True, "runner-good was not told")

    step("runner-bad hears canceled=true, ignores it, reports for three more minutes, sets FINISHED")
    for _ in range(3):
        check(dp.report_task_progress(taskId=tasks["runner-bad"])["canceled"] is True, "runner-bad was not told")
        admin.advance(60)
    expect_error("TaskNotFoundException", dp.set_task_status, taskId=tasks["runner-bad"], taskStatus="FINISHED")

    step("GET /_dpsim/report fails zombie_bound, naming runner-bad and only runner-bad")
    report = admin._call("GET", "/_dpsim/report")
    check(report["passed"] is False, f"the report passed: {json.dumps(report['invariants'])}")
    zombie = next(i for i in report["invariants"] if i["name"] == "zombie_bound")
    check(zombie["held"] is False, "zombie_bound held")
    named = {v["runner"] for i in report["invariants"] for v in i["violations"]}
    check(named == {"runner-bad"}, f"violations name {named}, want only runner-bad: {[(i['name'], v['message']) for i in report['invariants'] for v in i['violations']]}")
    print(f"      -> {zombie['violations'][0]['message']}", flush=True)
    check(report["summary"]["runners"] == 2, f"the summary counts {report['summary']['runners']} runners, want 2")


def main(argv):
    usage = "usage: flow.py ENDPOINT_URL [main | zombie | auth ACCESS_KEY:SECRET | signed-clock ACCESS_KEY:SECRET TOKEN]"
    if len(argv) < 2:
        print(usage, file=sys.stderr)
        return 2
    endpoint = argv[1]
    mode = argv[2] if len(argv) > 2 else "main"
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, endpoint {endpoint}, mode {mode}", flush=True)
    try:
        if mode == "main" and len(argv) <= 3:
            main_flow(endpoint)
        elif mode == "auth" and len(argv) == 4 and ":" in argv[3]:
            access_key, secret = argv[3].split(":", 1)
            auth_flow(endpoint, access_key, secret)
        elif mode == "zombie" and len(argv) == 3:
            zombie_flow(endpoint)
        elif mode == "signed-clock" and len(argv) == 5 and ":" in argv[3]:
            access_key, secret = argv[3].split(":", 1)
            signed_clock_flow(endpoint, access_key, secret, argv[4])
        else:
            print(usage, file=sys.stderr)
            return 2
    except FlowFailure as e:
        print(f"FAILED at step {_step_no}: {e}", file=sys.stderr, flush=True)
        return 1
    except ClientError as e:
        print(
            f"FAILED at step {_step_no}: unexpected error {e.response.get('Error')} "
            f"(HTTP {e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}): {e}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except Exception as e:
        traceback.print_exc()
        print(f"FAILED at step {_step_no}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    print(f"flow {mode}: OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
