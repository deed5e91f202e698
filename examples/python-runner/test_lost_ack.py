"""A lost acknowledgement, told two ways, against `dpsim serve --auth --clock manual`.

`drop_request`: the acknowledgement never reaches the service, so the lease expires at its
2-minute deadline and the next poll is handed the same task. `drop_response`: the service
acknowledged the lease and only the answer was lost, so nothing expires and the runner's next
report simply renews it. Every call is signed, across a jump of the simulated clock (clients
sign with the machine's clock; see the README). The client gives up on a silent call after 2 s
and does not retry: `total_max_attempts` 1. Run beside a built dpsim (DPSIM_BIN points at it):
`python3 -m unittest -v test_lost_ack`.
"""

import json
import os
import subprocess
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

DPSIM = os.environ.get("DPSIM_BIN", "dpsim")
KEY, SECRET, TOKEN = "AKIDLOSTACK", "lost-ack-secret", "lost-ack-token"


def definition(group):
    return [
        {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
        {"id": "Copy", "name": "Copy", "fields": [
            {"key": "type", "stringValue": "ShellCommandActivity"},
            {"key": "command", "stringValue": "echo hi"},
            {"key": "workerGroup", "stringValue": group}]},
    ]


class Serve:
    """`dpsim serve --auth --clock manual` on a free port; admin calls carry the token."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [DPSIM, "serve", "--addr", "127.0.0.1:0", "--clock", "manual", "--poll-hold-ms", "0", "--seed", "7",
             "--auth", f"{KEY}:{SECRET}", "--admin-token", TOKEN],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("dpsim serve listening on "), line
        self.url = line.split(" on ")[1]

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {TOKEN}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
            return json.loads(text) if answer.headers.get_content_type() == "application/json" else text

    def client(self):
        # Give up on a silent call quickly, and never retry behind the test's back.
        config = Config(read_timeout=2, connect_timeout=5, retries={"total_max_attempts": 1})
        return boto3.client("datapipeline", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=KEY, aws_secret_access_key=SECRET, config=config)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class LostAcknowledgement(unittest.TestCase):
    def setUp(self):
        self.serve = Serve()
        self.dp = self.serve.client()

    def tearDown(self):
        self.serve.close()

    def handed_out(self, group, runner):
        """A pipeline of one Copy for `group`, activated; `runner` is handed its task."""
        pipeline = self.dp.create_pipeline(name=group, uniqueId=group)["pipelineId"]
        self.dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=definition(group))
        self.dp.activate_pipeline(pipelineId=pipeline)
        task = self.dp.poll_for_task(workerGroup=group, hostname=runner)["taskObject"]
        return task["taskId"]

    def lose(self, runner, effect):
        fault = {"kind": "message", "operation": "ReportTaskProgress", "runner": runner, "effect": {"type": effect}}
        self.serve.admin("POST", "/_dpsim/faults", fault)

    def test_a_lost_request_expires_the_lease_and_the_task_is_handed_on(self):
        task = self.handed_out("wg-request", "runner-a")
        self.lose("runner-a", "drop_request")
        with self.assertRaises(ReadTimeoutError):
            self.dp.report_task_progress(taskId=task)
        self.serve.admin("POST", "/_dpsim/clock/advance", {"seconds": 121})
        again = self.dp.poll_for_task(workerGroup="wg-request", hostname="runner-b").get("taskObject")
        self.assertIsNotNone(again, "the task is handed on after the ack deadline")
        self.assertEqual(self.dp.report_task_progress(taskId=task)["canceled"], True)
        log = self.serve.admin("GET", "/_dpsim/log")
        self.assertIn("expired", log)
        self.assertIn("reassigned", log)

    def test_a_lost_answer_leaves_the_lease_acknowledged(self):
        task = self.handed_out("wg-response", "runner-c")
        self.lose("runner-c", "drop_response")
        with self.assertRaises(ReadTimeoutError):
            self.dp.report_task_progress(taskId=task)
        self.serve.admin("POST", "/_dpsim/clock/advance", {"seconds": 121})
        other = self.dp.poll_for_task(workerGroup="wg-response", hostname="runner-d").get("taskObject")
        self.assertIsNone(other, "the acknowledged lease is not handed on")
        self.assertEqual(self.dp.report_task_progress(taskId=task)["canceled"], False)
        log = self.serve.admin("GET", "/_dpsim/log")
        self.assertIn("acknowledged", log)
        self.assertNotIn("expired", log)


if __name__ == "__main__":
    unittest.main()
