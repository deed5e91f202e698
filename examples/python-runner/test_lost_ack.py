"""A lost acknowledgement, told two ways, against a server that checks signatures.

`drop_request`: the acknowledgement never reaches the service, so the lease expires at its
2-minute deadline and the next poll is handed the same task. `drop_response`: the service
acknowledged the lease and only the answer was lost, so nothing expires and the runner's next
report simply renews it. Every call is SigV4-signed, across a jump of the simulated clock
(clients sign with the machine's clock; see the README). The `dpsim` marker gives these tests
a server of their own, with `--auth`; its boto3 client signs with the served credentials,
gives up on a silent call after 1 s and never retries.
"""

import pytest
from botocore.exceptions import ReadTimeoutError

from dpsim import faults

signed = pytest.mark.dpsim(auth=("AKIDLOSTACK", "lost-ack-secret"), poll_hold=0, seed=7)


def definition(group):
    return [
        {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
        {"id": "Copy", "name": "Copy", "fields": [
            {"key": "type", "stringValue": "ShellCommandActivity"},
            {"key": "command", "stringValue": "echo hi"},
            {"key": "workerGroup", "stringValue": group}]},
    ]


def handed_out(dp, group, runner):
    """A pipeline of one Copy for `group`, activated; `runner` is handed its task."""
    pipeline = dp.create_pipeline(name=group, uniqueId=group)["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=definition(group))
    dp.activate_pipeline(pipelineId=pipeline)
    return dp.poll_for_task(workerGroup=group, hostname=runner)["taskObject"]["taskId"]


@signed
def test_a_lost_request_expires_the_lease_and_the_task_is_handed_on(dpsim):
    dp = dpsim.boto3_client(read_timeout=1)
    task = handed_out(dp, "wg-request", "runner-a")
    dpsim.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a"))
    with pytest.raises(ReadTimeoutError):
        dp.report_task_progress(taskId=task)
    dpsim.advance(121)
    again = dp.poll_for_task(workerGroup="wg-request", hostname="runner-b").get("taskObject")
    assert again is not None, "the task is handed on after the ack deadline"
    assert dp.report_task_progress(taskId=task)["canceled"] is True
    log = dpsim.log_text()
    assert "expired" in log and "reassigned" in log, log


@signed
def test_a_lost_answer_leaves_the_lease_acknowledged(dpsim):
    dp = dpsim.boto3_client(read_timeout=1)
    task = handed_out(dp, "wg-response", "runner-c")
    dpsim.add_fault(faults.drop_response("ReportTaskProgress", runner="runner-c"))
    with pytest.raises(ReadTimeoutError):
        dp.report_task_progress(taskId=task)
    dpsim.advance(121)
    assert dp.poll_for_task(workerGroup="wg-response", hostname="runner-d").get("taskObject") is None
    assert dp.report_task_progress(taskId=task)["canceled"] is False
    log = dpsim.log_text()
    assert "acknowledged" in log and "expired" not in log, log


@signed
def test_unsigned_calls_are_refused(dpsim):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    anonymous = boto3.client("datapipeline", endpoint_url=dpsim.endpoint_url, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError, match="MissingAuthenticationToken"):
        anonymous.poll_for_task(workerGroup="wg-1")
