"""Tests the boto3 runner in runner.py against `dpsim serve --clock manual`.

Its acknowledgement is lost on the way (a live message fault), the test moves the still clock
past the 2-minute acknowledgement deadline, a second runner gets the task, and when the first
runner's reports get through again they are answered `canceled: true`. The ownership log that
`serve` kept says all of it. Run with `python3 -m unittest test_runner` beside a built dpsim
(DPSIM_BIN points at the binary).
"""

import json
import os
import subprocess
import time
import unittest
import urllib.request

import runner as taskrunner

DPSIM = os.environ.get("DPSIM_BIN", "dpsim")
DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {"id": "Copy", "name": "Copy", "fields": [
        {"key": "type", "stringValue": "ShellCommandActivity"},
        {"key": "command", "stringValue": "echo hi"},
        {"key": "workerGroup", "stringValue": "wg-1"}]},
]


class Serve:
    """A `dpsim serve --clock manual` process on a free port."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [DPSIM, "serve", "--addr", "127.0.0.1:0", "--clock", "manual", "--poll-hold-ms", "0", "--seed", "7"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("dpsim serve listening on "), line
        self.url = line.split(" on ")[1]

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
            return json.loads(text) if answer.headers.get_content_type() == "application/json" else text

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def wait_for(condition, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class LostAcknowledgement(unittest.TestCase):
    def setUp(self):
        self.serve = Serve()
        self.runners = []

    def tearDown(self):
        for r in self.runners:
            r.stop()
        self.serve.close()

    def start_runner(self, name):
        dp = taskrunner.client(self.serve.url, read_timeout=2, attempts=1)
        r = taskrunner.TaskRunner(dp, "wg-1", name, slices=1000, slice_seconds=0.2)
        self.runners.append(r.start())
        return r

    def test_a_lost_ack_expires_the_lease_and_the_late_report_hears_canceled(self):
        dp = taskrunner.client(self.serve.url)
        pipeline = dp.create_pipeline(name="copy", uniqueId="copy-1")["pipelineId"]
        put = dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
        self.assertFalse(put["errored"], put)
        # Every report runner-a sends is lost before the service sees it.
        fault = self.serve.admin("POST", "/_dpsim/faults", {
            "kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a", "count": 100000,
            "effect": {"type": "drop_request"}})
        dp.activate_pipeline(pipelineId=pipeline)
        a = self.start_runner("runner-a")
        wait_for(lambda: ("starts work" in [e for e, _ in a.events]), "runner-a to get the task")
        applied = lambda: self.serve.admin("GET", "/_dpsim/faults")["faults"][0]["applied"] >= 1
        wait_for(applied, "the acknowledgement to be dropped")
        # Past the 2-minute acknowledgement deadline: the lease expires at it.
        self.serve.admin("POST", "/_dpsim/clock/advance", {"seconds": 121})
        b = self.start_runner("runner-b")
        wait_for(lambda: ("starts work" in [e for e, _ in b.events]), "runner-b to get the task")
        # runner-a's reports get through again, and are answered canceled=true.
        self.serve.admin("DELETE", f"/_dpsim/faults/{fault['id']}")
        wait_for(lambda: ("stops work: canceled" in [e for e, _ in a.events]), "runner-a to hear canceled")
        log = self.serve.admin("GET", "/_dpsim/log")
        print(log)
        lines = log.splitlines()
        self.assertTrue(any("expired" in l and "runner-a" in l and "not acknowledged" in l for l in lines), log)
        self.assertTrue(any("reassigned" in l and "runner-b" in l for l in lines), log)
        self.assertTrue(any("stale call" in l and "runner-a" in l and "canceled=true" in l for l in lines), log)
        report = self.serve.admin("GET", "/_dpsim/report")
        held = {i["name"]: i["held"] for i in report["invariants"]}
        self.assertTrue(held["single_owner"] and held["no_early_handout"], report["invariants"])


if __name__ == "__main__":
    unittest.main()
