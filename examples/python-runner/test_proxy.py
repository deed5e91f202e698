"""The runner in runner.py behind `dpsim proxy`, in front of a `dpsim serve` that stands in for
the real service (on the wall clock, with a 2-second acknowledgement deadline; the proxy is
told the same). The acknowledgement is dropped by the proxy, the lease expires upstream, a
second runner gets the task, and the first runner's late report is answered `canceled: true`:
the proxy's ownership log tells that story from the outside, and its report passes.
"""

import json
import subprocess
import time
import urllib.request

import pytest

import dpsim
from dpsim import faults
from runner import TaskRunner

SETTINGS = {"duration": "1h", "service": {"ack_timeout": "2s", "progress_timeout": "30s"},
            "pipelines": [], "runners": []}
DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {"id": "Copy", "name": "Copy", "fields": [
        {"key": "type", "stringValue": "ShellCommandActivity"},
        {"key": "command", "stringValue": "echo hi"},
        {"key": "workerGroup", "stringValue": "wg-1"}]},
]


@pytest.fixture
def proxied(tmp_path):
    """A wall-clock `serve` and `dpsim proxy` in front of it; yields the proxy's URL."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(SETTINGS))
    with dpsim.Server(clock="wall", scenario=SETTINGS, poll_hold=0) as upstream:
        proxy = subprocess.Popen(
            [dpsim.find_dpsim_bin(), "proxy", "--upstream", upstream.endpoint_url, "--addr", "127.0.0.1:0",
             "--settings", str(settings), "--tolerance", "300ms"],
            stdout=subprocess.PIPE, text=True)
        try:
            line = proxy.stdout.readline()
            assert line.startswith("dpsim proxy listening on "), line
            yield upstream, line.split()[4]
        finally:
            proxy.terminate()
            proxy.wait(10)
            proxy.stdout.close()


def admin(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=10) as answer:
        text = answer.read().decode()
        return json.loads(text) if answer.headers.get_content_type() == "application/json" else text


def wait_for(condition, what, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def saw(runner, what):
    return any(event == what for event, _ in runner.events)


def client(url):
    """A boto3 client for the proxy: one attempt, a short read timeout (a dropped call fails fast)."""
    import boto3
    from botocore.config import Config

    return boto3.client("datapipeline", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDPROXY", aws_secret_access_key="proxy-secret",
                        config=Config(read_timeout=1, retries={"total_max_attempts": 1}))


def test_a_lost_ack_behind_the_proxy_is_told_from_the_outside(proxied):
    upstream, url = proxied
    dp = client(url)
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
    lost = admin(url, "/_dpsim/faults", faults.drop_request(
        "ReportTaskProgress", runner="runner-a", count=100_000).to_json())
    dp.activate_pipeline(pipelineId=pipeline)
    runners = []
    try:
        a = TaskRunner(client(url), "wg-1", "runner-a", slices=1000, slice_seconds=0.2).start()
        runners.append(a)
        wait_for(lambda: saw(a, "starts work"), "runner-a to get the task")
        time.sleep(2.5)  # past the 2-second acknowledgement deadline, on the wall clock
        b = TaskRunner(client(url), "wg-1", "runner-b", slices=1000, slice_seconds=0.2).start()
        runners.append(b)
        wait_for(lambda: saw(b, "starts work"), "runner-b to get the task")
        urllib.request.urlopen(urllib.request.Request(f"{url}/_dpsim/faults/{lost['id']}", method="DELETE"))
        wait_for(lambda: saw(a, "stops work: canceled"), "runner-a to hear canceled")
    finally:
        for r in runners:
            r.stop()
    log = admin(url, "/_dpsim/log")
    lines = log.splitlines()
    assert any(" expired " in line and "runner-a" in line for line in lines), log
    assert any(" reassigned " in line and "runner-b" in line for line in lines), log
    assert any("stale call" in line and "runner-a" in line and "canceled=true" in line for line in lines), log
    report = admin(url, "/_dpsim/report")
    assert report["passed"], report
    assert "expired" in upstream.log_text(), "the upstream's own log agrees"
