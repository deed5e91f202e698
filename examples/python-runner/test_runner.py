"""The boto3 runner in runner.py, running in its own threads against `dpsim serve`.

Its acknowledgement is lost on the way (a live message fault), the test moves the still clock
past the 2-minute acknowledgement deadline, a second runner gets the task, and when the first
runner's reports get through again they are answered `canceled: true`: it stops. The
ownership log says all of it, and the report's invariants hold.
"""

from dpsim import faults
from runner import TaskRunner
from threads import DEFINITION, saw, wait_for


def test_a_lost_ack_expires_the_lease_and_the_late_report_hears_canceled(dpsim):
    dp = dpsim.boto3_client()
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy-1")["pipelineId"]
    assert not dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)["errored"]
    runners = []
    # Every report runner-a sends is lost before the service sees it.
    lost = dpsim.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a", count=100_000))
    try:
        dp.activate_pipeline(pipelineId=pipeline)
        a = TaskRunner(dpsim.boto3_client(read_timeout=1), "wg-1", "runner-a", slices=1000, slice_seconds=0.2)
        runners.append(a.start())
        wait_for(lambda: saw(a, "starts work"), "runner-a to get the task")
        wait_for(lambda: lost.status().applied >= 1, "the acknowledgement to be dropped")
        dpsim.advance(121)  # past the 2-minute acknowledgement deadline: the lease expires
        b = TaskRunner(dpsim.boto3_client(read_timeout=1), "wg-1", "runner-b", slices=1000, slice_seconds=0.2)
        runners.append(b.start())
        wait_for(lambda: saw(b, "starts work"), "runner-b to get the task")
        lost.remove()  # runner-a's reports get through again, and are answered canceled=true
        wait_for(lambda: saw(a, "stops work: canceled"), "runner-a to hear canceled")
    finally:
        for r in runners:
            r.stop()
    lines = dpsim.log()
    assert any(line.what == "expired" and line.runner == "runner-a" for line in lines), dpsim.log_text()
    assert any(line.what == "reassigned" and line.runner == "runner-b" for line in lines), dpsim.log_text()
    assert any(line.what == "stale call" and line.runner == "runner-a" for line in lines), dpsim.log_text()
    report = dpsim.report()
    assert report.invariant("single_owner").held and report.invariant("no_early_handout").held
