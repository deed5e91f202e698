"""The failing example fails the way it should: pytest's output carries the ownership log and
the `zombie_bound` verdict, and the plugin writes them to a file named after the test."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def plugin_args():
    """`-p dpsim.pytest_plugin` when the package is not installed (run from a checkout)."""
    installed = any(ep.name == "dpsim" for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "dpsim.pytest_plugin"]


def test_a_runner_that_ignores_cancel_fails_with_the_log_and_the_verdict(tmp_path):
    out = tmp_path / "failures"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "--rootdir", str(HERE),
         "--dpsim-out", str(out), str(HERE / "failing" / "runner_ignores_cancel.py")],
        cwd=HERE, capture_output=True, text=True, timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "1 failed" in output, output
    assert "dpsim verdicts" in output and "dpsim ownership log" in output, output
    assert "VIOLATED zombie_bound" in output, output
    assert "stale call" in output and "runner-a" in output, output
    written = list(out.glob("*.txt"))
    assert len(written) == 1 and "zombie_bound" in written[0].read_text(), written
