"""The per-test cost of the pytest plugin's `dpsim` fixture: a reset of the session's server
against a fresh `dpsim serve` process per test (start, first answer, stop with its --out files
written). Both sides are measured in the same run, on the same binary.

    python python/bench/fixture_cost.py [--fresh N] [--resets N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import dpsim

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


def a_test(server: dpsim.Server) -> None:
    """What a small test leaves behind: a pipeline, a lease, a fault, a moved clock."""
    dp = server.boto3_client()
    pipeline = dp.create_pipeline(name="copy", uniqueId="copy")["pipelineId"]
    dp.put_pipeline_definition(pipelineId=pipeline, pipelineObjects=DEFINITION)
    dp.activate_pipeline(pipelineId=pipeline)
    dp.poll_for_task(workerGroup="wg-1", hostname="runner-a")
    server.add_fault(dpsim.faults.drop_response("ReportTaskProgress"))
    server.advance(121)


def summary(name: str, seconds: list[float]) -> float:
    ms = sorted(s * 1000 for s in seconds)
    median = statistics.median(ms)
    p90 = ms[int(len(ms) * 0.9) - 1]
    print(f"{name:<44} median {median:8.3f} ms   p90 {p90:8.3f} ms   ({len(ms)} runs)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh", type=int, default=30)
    parser.add_argument("--resets", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh: list[float] = []
        for n in range(args.fresh):
            start = time.perf_counter()
            server = dpsim.Server(poll_hold=0, out_dir=Path(tmp) / f"out-{n}").start()
            server.now()
            server.stop()
            fresh.append(time.perf_counter() - start)
            assert (Path(tmp) / f"out-{n}" / "report.json").exists()
        resets: list[float] = []
        with dpsim.Server(poll_hold=0) as server:
            for _ in range(args.resets):
                a_test(server)
                start = time.perf_counter()
                server.reset()
                resets.append(time.perf_counter() - start)
    f = summary("fresh process (start, first answer, stop)", fresh)
    r = summary("reset (POST /_dpsim/reset, round trip)", resets)
    print(f"a reset costs {r / f:.4f} of a fresh process ({f / r:.0f}x cheaper)")


if __name__ == "__main__":
    main()
