"""POST /_dpsim/reset gives a test the world a fresh process would: the same ids, the same
log, nothing left of the test before."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

import dpsim
from dpsim import faults

DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {
        "id": "Copy",
        "name": "Copy",
        "fields": [
            {"key": "type", "stringValue": "ShellCommandActivity"},
            {"key": "command", "stringValue": "echo hi"},
            {"key": "workerGroup", "stringValue": "wg-1"},
        ],
    },
]


def story(server: dpsim.Server) -> dict[str, Any]:
    """The same calls, in the same order: a lost acknowledgement, the lease handed on."""
    dp = server.boto3_client(read_timeout=1)
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
    dp.activate_pipeline(pipelineId=pipeline)
    first = dp.poll_for_task(workerGroup="wg-1", hostname="runner-a")["taskObject"]["taskId"]
    with (
        server.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a")),
        pytest.raises(ReadTimeoutError),
    ):
        dp.report_task_progress(taskId=first)
    server.advance(121)
    second = dp.poll_for_task(workerGroup="wg-1", hostname="runner-b")["taskObject"]["taskId"]
    stale = dp.report_task_progress(taskId=first)["canceled"]
    dp.set_task_status(taskId=second, taskStatus="FINISHED")
    return {
        "pipeline": pipeline,
        "tasks": (first, second),
        "stale": stale,
        "log": server.log_text(),
        "lines": server.log(),
        "now": server.now(),
    }


def test_a_reset_gives_the_same_ids_and_log_as_a_fresh_process() -> None:
    with dpsim.Server(seed=11, poll_hold=0) as fresh:
        expected = story(fresh)
    with dpsim.Server(seed=11, poll_hold=0) as reused:
        # Another test ran first: other pipelines, a fault left installed, the clock moved.
        dp = reused.boto3_client()
        dp.create_pipeline(name="earlier", uniqueId="earlier")
        reused.add_fault(faults.error("PollForTask", code="InternalServiceError", count=5))
        reused.advance(3600)
        reset = reused.reset()
        assert reset.clock_reset
        assert reused.faults() == []
        assert reused.log() == []
        got = story(reused)
    assert got["stale"] is True
    assert got == expected


def test_a_call_on_a_connection_from_before_the_reset_is_refused_not_logged() -> None:
    with dpsim.Server(seed=3, poll_hold=0) as server:
        left_running = server.boto3_client()
        left_running.report_task_runner_heartbeat(taskrunnerId="old", workerGroup="wg-1", hostname="old")
        server.reset()
        with pytest.raises(ClientError, match="reset"):
            left_running.report_task_runner_heartbeat(taskrunnerId="old", workerGroup="wg-1", hostname="old")
        fresh = server.boto3_client()
        fresh.report_task_runner_heartbeat(taskrunnerId="new", workerGroup="wg-1", hostname="new")
        report = server.report()
        assert report.summary.runners == 1, report.log_text
        assert server.reset().refused_calls == 1


def test_a_held_poll_is_answered_by_the_reset() -> None:
    with dpsim.Server(seed=5) as server:  # AWS's 90 s hold, on the still clock
        dp = server.boto3_client(read_timeout=30)
        answers: list[dict[str, Any]] = []
        poller = threading.Thread(
            target=lambda: answers.append(dp.poll_for_task(workerGroup="wg-1", hostname="held")), daemon=True
        )
        poller.start()
        time.sleep(0.5)  # the poll is held: nothing is ready and the clock stands still
        assert poller.is_alive()
        server.reset()
        poller.join(10)
        assert not poller.is_alive()
        assert answers and "taskObject" not in answers[0]
