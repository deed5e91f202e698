"""A deliberately failing test: a runner that ignores `canceled: true`.

The task is canceled under runner-a, and the runner goes on reporting progress for three
minutes as if nothing had happened: zombie work. The report's `zombie_bound` invariant (a
runner may call about a task for at most a minute after it was told the task is gone) breaks,
`assert_passed()` fails, and the plugin adds the ownership log and the verdicts to pytest's
output. `test_failing_example.py` runs this file in a subprocess and checks exactly that. Its
name does not start with `test_`, so the example suite leaves it alone.
"""

import time

from runner import TaskRunner

DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {"id": "Copy", "name": "Copy", "fields": [
        {"key": "type", "stringValue": "ShellCommandActivity"},
        {"key": "command", "stringValue": "echo hi"},
        {"key": "workerGroup", "stringValue": "wg-1"}]},
]


class StubbornRunner(TaskRunner):
    """Hears `canceled: true` and works on anyway."""

    def _report(self, task_id):
        super()._report(task_id)
        return True


def test_a_runner_that_ignores_cancel_breaks_the_zombie_bound(dpsim):
    dp = dpsim.boto3_client()
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
    dp.activate_pipeline(pipelineId=pipeline)
    runner = StubbornRunner(dpsim.boto3_client(read_timeout=1), "wg-1", "runner-a", slices=100_000,
                            slice_seconds=0.05).start()
    try:
        while not any(what == "starts work" for what, _ in runner.events):
            time.sleep(0.01)
        dpsim.cancel("Copy")
        for _ in range(9):  # three minutes of simulated time, with reports all along
            time.sleep(0.1)
            dpsim.advance(20)
    finally:
        runner.stop()
    dpsim.report().assert_passed()
