"""The runner in runner.py behind `dpsim proxy`, in front of a `dpsim serve` that stands in for
the real service (on the wall clock, with a 2-second acknowledgement deadline; the proxy is
told the same). The acknowledgement is dropped by the proxy, the lease expires upstream, a
second runner gets the task, and the first runner's late report is answered `canceled: true`:
the proxy's ownership log tells that story from the outside, and its report passes.
"""

import time

import pytest

import dpsim
from dpsim import faults
from runner import TaskRunner
from threads import DEFINITION, saw, wait_for

SETTINGS = {"duration": "1h", "service": {"ack_timeout": "2s", "progress_timeout": "30s"},
            "pipelines": [], "runners": []}


@pytest.fixture
def proxied():
    """A wall-clock `serve` (the stand-in for the real service) and `dpsim proxy` in front of
    it, told the same deadlines."""
    with dpsim.Server(clock="wall", scenario=SETTINGS, poll_hold=0) as upstream:
        with dpsim.Proxy(upstream.endpoint_url, settings=SETTINGS, tolerance=0.3) as proxy:
            yield upstream, proxy


def test_a_lost_ack_behind_the_proxy_is_told_from_the_outside(proxied):
    upstream, proxy = proxied
    dp = proxy.boto3_client(read_timeout=1)
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
    lost = proxy.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a", count=100_000))
    dp.activate_pipeline(pipelineId=pipeline)
    runners = []
    try:
        a = TaskRunner(proxy.boto3_client(read_timeout=1), "wg-1", "runner-a", slices=1000, slice_seconds=0.2).start()
        runners.append(a)
        wait_for(lambda: saw(a, "starts work"), "runner-a to get the task")
        time.sleep(2.5)  # past the 2-second acknowledgement deadline, on the wall clock
        b = TaskRunner(proxy.boto3_client(read_timeout=1), "wg-1", "runner-b", slices=1000, slice_seconds=0.2).start()
        runners.append(b)
        wait_for(lambda: saw(b, "starts work"), "runner-b to get the task")
        lost.remove()
        wait_for(lambda: saw(a, "stops work: canceled"), "runner-a to hear canceled")
    finally:
        for r in runners:
            r.stop()
    lines = proxy.log_text().splitlines()
    assert any(" expired " in line and "runner-a" in line for line in lines), lines
    assert any(" reassigned " in line and "runner-b" in line for line in lines), lines
    assert any("stale call" in line and "runner-a" in line and "canceled=true" in line for line in lines), lines
    proxy.report().assert_passed()
    assert "expired" in upstream.log_text(), "the upstream's own log agrees"


def test_what_the_proxy_does_not_serve_is_refused_by_name(proxied):
    _, proxy = proxied
    with pytest.raises(dpsim.AdminError, match="not a proxy admin route") as refused:
        proxy.advance(60)
    assert refused.value.status == 404


def test_a_proxy_that_cannot_start_says_why():
    with pytest.raises(dpsim.ServerError, match="upstream") as failed:
        dpsim.Proxy("ftp://nowhere.invalid").start()
    assert failed.value.returncode == 2
