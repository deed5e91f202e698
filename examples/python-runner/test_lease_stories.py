"""Four stories of one lease, told against `dpsim serve` with the pytest plugin's `dpsim`
fixture: a lost acknowledgement, a lost answer, a cancel, and a clock jump past the progress
deadline. Each test gets a fresh world (the session's server, reset) and ends by asking the
report whether every lease rule held. The README shows this file."""

from datetime import timedelta

import pytest
from botocore.exceptions import ReadTimeoutError

from dpsim import faults

DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {"id": "Copy", "name": "Copy", "fields": [
        {"key": "type", "stringValue": "ShellCommandActivity"},
        {"key": "command", "stringValue": "echo hi"},
        {"key": "workerGroup", "stringValue": "wg-1"}]},
]


def start_pipeline(dp):
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
    dp.activate_pipeline(pipelineId=pipeline)


def take_task(dp, runner):
    return dp.poll_for_task(workerGroup="wg-1", hostname=runner)["taskObject"]["taskId"]


def told(dpsim, runner):
    """What the ownership log says happened to `runner`'s leases."""
    return [line.what for line in dpsim.log() if line.runner == runner]


def test_a_lost_acknowledgement_hands_the_task_on(dpsim):
    dp = dpsim.boto3_client(read_timeout=1)
    start_pipeline(dp)
    task = take_task(dp, "runner-a")
    with dpsim.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a")):
        with pytest.raises(ReadTimeoutError):
            dp.report_task_progress(taskId=task)  # the acknowledgement never arrives
    dpsim.advance(timedelta(minutes=2, seconds=1))  # past the 2-minute acknowledgement deadline
    again = take_task(dp, "runner-b")
    assert again != task
    assert dp.report_task_progress(taskId=task)["canceled"]  # runner-a learns it lost the task
    assert "expired" in told(dpsim, "runner-a")
    assert "reassigned" in told(dpsim, "runner-b")
    dp.set_task_status(taskId=again, taskStatus="FINISHED")
    dpsim.report().assert_passed()


def test_a_lost_answer_leaves_the_lease_acknowledged(dpsim):
    dp = dpsim.boto3_client(read_timeout=1)
    start_pipeline(dp)
    task = take_task(dp, "runner-a")
    with dpsim.add_fault(faults.drop_response("ReportTaskProgress", runner="runner-a")):
        with pytest.raises(ReadTimeoutError):
            dp.report_task_progress(taskId=task)  # acknowledged; only the answer is lost
    dpsim.advance(121)
    assert "taskObject" not in dp.poll_for_task(workerGroup="wg-1", hostname="runner-b")
    assert dp.report_task_progress(taskId=task)["canceled"] is False
    dp.set_task_status(taskId=task, taskStatus="FINISHED")
    dpsim.report().assert_passed()


def test_a_cancel_ends_the_lease_under_its_runner(dpsim):
    dp = dpsim.boto3_client()
    start_pipeline(dp)
    task = take_task(dp, "runner-a")
    dp.report_task_progress(taskId=task)
    dpsim.cancel("Copy")  # SetStatus TRY_CANCEL, as an operator would
    assert dp.report_task_progress(taskId=task)["canceled"]
    assert "canceled" in told(dpsim, "runner-a")
    dpsim.report().assert_passed()


def test_a_runner_silent_past_its_progress_deadline_loses_the_attempt(dpsim):
    dp = dpsim.boto3_client()
    start_pipeline(dp)
    task = take_task(dp, "runner-a")
    dp.report_task_progress(taskId=task)
    dpsim.advance(timedelta(minutes=15))  # no report for 15 minutes: the progress deadline
    assert dp.report_task_progress(taskId=task)["canceled"]
    dpsim.advance(timedelta(minutes=10))  # the retry comes after retryDelay
    retry = take_task(dp, "runner-b")
    dp.set_task_status(taskId=retry, taskStatus="FINISHED")
    report = dpsim.report()
    assert report.summary.expiries == 1
    report.assert_passed()
