"""A small but real AWS Data Pipeline task runner on boto3.

It does what a production runner does: a heartbeat thread, a poll thread that long-polls its
worker group, acknowledges each task with a first progress report, works in slices with a
progress report after each, stops as soon as a report answers ``canceled: true`` (or the task is
gone), and sets FINISHED when the work is done. Point it at AWS, or at ``dpsim serve`` to test
what happens to it when acknowledgements are lost and leases expire.

    python3 runner.py http://127.0.0.1:8123 wg-1 runner-a
"""

import sys
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


def client(endpoint, read_timeout=70.0, attempts=3):
    """A boto3 Data Pipeline client for `endpoint` (a dpsim serve URL, or None for AWS)."""
    return boto3.client(
        "datapipeline",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDDPSIM",
        aws_secret_access_key="dpsim-secret",
        config=Config(read_timeout=read_timeout, retries={"max_attempts": attempts, "mode": "standard"}),
    )


class TaskRunner:
    """Polls a worker group and works its tasks, one at a time."""

    def __init__(self, dp, worker_group, hostname, slices=10, slice_seconds=1.0, heartbeat_seconds=900.0):
        self.dp = dp
        self.worker_group = worker_group
        self.hostname = hostname
        self.slices = slices
        self.slice_seconds = slice_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.stopping = threading.Event()
        self.events = []  # (what, taskId) the runner believes happened, for tests and logs
        self.threads = [
            threading.Thread(target=self._heartbeats, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=10)

    def _note(self, what, task_id=None):
        self.events.append((what, task_id))
        print(f"[{self.hostname}] {what} {task_id or ''}", flush=True)

    def _heartbeats(self):
        while not self.stopping.is_set():
            try:
                answer = self.dp.report_task_runner_heartbeat(
                    taskrunnerId=self.hostname, workerGroup=self.worker_group, hostname=self.hostname
                )
                if answer.get("terminate"):
                    self._note("told to terminate")
                    self.stopping.set()
                    return
            except (BotoCoreError, ClientError) as e:
                self._note(f"heartbeat failed: {e}")
            self.stopping.wait(self.heartbeat_seconds)

    def _poll(self):
        while not self.stopping.is_set():
            try:
                task = self.dp.poll_for_task(workerGroup=self.worker_group, hostname=self.hostname).get("taskObject")
            except (BotoCoreError, ClientError) as e:
                self._note(f"poll failed: {e}")
                self.stopping.wait(0.5)
                continue
            if task:
                self._work_on(task["taskId"])
            else:
                self.stopping.wait(0.1)

    def _report(self, task_id):
        """True while the task is still ours; an unanswered report is not news."""
        try:
            return not self.dp.report_task_progress(taskId=task_id)["canceled"]
        except ClientError as e:
            if e.response["Error"]["Code"] in ("TaskNotFoundException", "PipelineDeletedException"):
                return False
            self._note(f"report failed: {e.response['Error']['Code']}", task_id)
            return True
        except BotoCoreError as e:
            self._note(f"report not answered: {type(e).__name__}", task_id)
            return True

    def _work_on(self, task_id):
        self._note("starts work", task_id)
        for _ in range(self.slices):
            if not self._report(task_id):
                self._note("stops work: canceled", task_id)
                return
            if self.stopping.wait(self.slice_seconds):
                return
        try:
            self.dp.set_task_status(taskId=task_id, taskStatus="FINISHED")
            self._note("finished", task_id)
        except ClientError as e:
            self._note(f"finish refused: {e.response['Error']['Code']}", task_id)


if __name__ == "__main__":
    endpoint, group, host = sys.argv[1], sys.argv[2], sys.argv[3]
    runner = TaskRunner(client(endpoint), group, host).start()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        runner.stop()
