"""The typed client: every admin route through its method, refusals as AdminError with the
server's message, fault handles, parsed log lines and report dataclasses, and the errors of a
server that cannot start."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import dpsim
from dpsim import faults

DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {
        "id": "Copy",
        "name": "Copy",
        "fields": [
            {"key": "type", "stringValue": "ShellCommandActivity"},
            {"key": "workerGroup", "stringValue": "wg-1"},
        ],
    },
]


def test_the_clock_moves_only_when_told() -> None:
    with dpsim.Server(start="2026-03-01T00:00:00Z") as server:
        start = datetime(2026, 3, 1, tzinfo=timezone.utc)
        assert server.now() == start
        assert server.clock().mode == "manual"
        assert server.advance(timedelta(minutes=2)) == start + timedelta(minutes=2)
        assert server.advance(0.5) == start + timedelta(minutes=2, milliseconds=500)
        assert server.advance_to(start + timedelta(hours=1)) == start + timedelta(hours=1)
        assert server.clock().since_start == "+01:00:00.000"
        with pytest.raises(dpsim.AdminError, match="never goes back") as back:
            server.advance_to(start)
        assert back.value.status == 400
        with pytest.raises(ValueError, match="naive"):
            server.advance_to(datetime(2027, 1, 1))


def test_unknown_names_are_refused_with_the_servers_message() -> None:
    with dpsim.Server() as server:
        with pytest.raises(dpsim.AdminError, match="unknown operation") as bad_op:
            server.add_fault(faults.drop_request("ReportProgress"))
        assert bad_op.value.status == 400 and bad_op.value.path == "/_dpsim/faults"
        with pytest.raises(dpsim.AdminError, match="Nope"):
            server.add_fault(faults.error("PollForTask", code="Nope"))
        with pytest.raises(dpsim.AdminError, match="Nope"):
            server.inject_error("PollForTask", "Nope")
        with pytest.raises(dpsim.AdminError):
            server.add_fault({"kind": "explode"})
        with pytest.raises(dpsim.AdminError, match="no pipeline is named"):
            server.deactivate("nope")
        with pytest.raises(dpsim.AdminError, match="no fault has id") as missing:
            server.remove_fault(99)
        assert missing.value.status == 404


def test_fault_handles_count_hits_and_remove_themselves() -> None:
    with dpsim.Server(poll_hold=0) as server:
        dp = server.boto3_client()
        with server.add_fault(faults.error("PollForTask", code="InternalServiceError", count=2)) as fault:
            for _ in range(3):
                try:
                    dp.poll_for_task(workerGroup="wg-1", hostname="r")
                except Exception as e:
                    assert "InternalServiceError" in str(e)
            status = fault.status()
            assert (status.matched, status.applied, status.active) == (2, 2, False)
            assert status.fault["effect"] == {"type": "error", "code": "InternalServiceError"}
        assert server.faults() == []
        fault.remove()  # removing again does nothing
        injected = server.inject_error("ReportTaskProgress", "InternalServiceError", count=3)
        assert [f.id for f in server.faults()] == [injected.id]
        delayed = server.add_fault(faults.delay("ReportTaskProgress", until=faults.deadline("ack_deadline")))
        assert server.faults()[-1].fault["effect"]["until"]["deadline"] == "ack_deadline"
        delayed.remove()


def test_events_log_lines_and_the_report() -> None:
    with dpsim.Server(poll_hold=0) as server:
        dp = server.boto3_client()
        pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
        dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
        dp.activate_pipeline(pipelineId=pipeline)
        task = dp.poll_for_task(workerGroup="wg-1", hostname="runner-a")["taskObject"]["taskId"]
        server.advance(30)
        dp.report_task_progress(taskId=task)
        assert "TRY_CANCEL Copy" in server.cancel("Copy")
        assert server.pause_activity("Copy").startswith("PAUSE")
        assert server.resume_activity("Copy").startswith("RESUME")
        assert "terminate runner-a" in server.terminate("runner-a")
        lines = server.log()
        assigned = next(line for line in lines if line.what == "assigned")
        assert (assigned.task, assigned.attempt, assigned.runner, assigned.lease) == (
            "Copy",
            1,
            "runner-a",
            "t1",
        )
        acknowledged = next(line for line in lines if line.what == "acknowledged")
        assert acknowledged.time == timedelta(seconds=30) and acknowledged.stamp == "+00:00:30.000"
        report = server.report()
        assert report.passed and report.broken == () and report.failures() == ""
        assert report.summary.handouts == 1 and report.summary.statuses == {"CANCELED": 1}
        assert report.invariant("single_owner").held
        assert "assigned" in report.log_text
        report.assert_passed()
        with pytest.raises(KeyError, match="single_owner"):
            report.invariant("nope")
        assert "deactivate copy" in server.deactivate("copy")
        assert server.activate("copy") == "activate copy"
        assert server.delete("copy") == "delete copy"


def test_a_server_that_cannot_start_raises_with_its_stderr(tmp_path: object) -> None:
    with pytest.raises(dpsim.ServerError, match="invalid scenario") as failed:
        dpsim.Server(scenario={"duration": "1h", "pipelines": [], "runners": [], "typo": 1}).start()
    assert "typo" in failed.value.stderr
    with pytest.raises(dpsim.BinaryNotFound, match="not a runnable file"):
        dpsim.Server(binary="/nonexistent/dpsim")


def test_a_crashed_server_says_so() -> None:
    server = dpsim.Server().start()
    assert server._process is not None
    server._process.kill()
    server._process.wait()
    with pytest.raises(dpsim.ServerError, match="exited"):
        server.now()
    with pytest.raises(dpsim.ServerError, match="exited"):
        server.stop()


def test_stop_writes_the_out_files(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "out"
    with dpsim.Server(out_dir=out) as server:
        server.advance(1)
    assert (out / "log.txt").exists() and (out / "report.json").exists() and (out / "report.html").exists()
