"""`dpsim.Server`: a `dpsim serve` process for a test, started and stopped cleanly."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from typing import Any, Literal, Optional, Union

from ._binary import find_dpsim_bin
from ._process import ManagedProcess, ServerError
from .client import instant_text
from .faults import Duration, duration_text

__all__ = ["Server", "ServerError", "scenario_file"]


class Server(ManagedProcess):
    """A `dpsim serve` process on a free loopback port, as a context manager::

        with dpsim.Server(seed=7) as server:
            dp = server.boto3_client()
            ...
            server.report().assert_passed()

    Options mirror `dpsim serve`'s flags. The defaults suit tests: a manual clock (time moves
    only through :meth:`advance`), seed 0 (the same ids every run; `None` draws one from OS
    entropy), AWS's 90 s poll hold. `scenario` is a scenario file's path or the scenario as a
    dict. With `auth` (access key, secret) every AWS call must be SigV4-signed; the admin calls
    use `admin_token` (one is made up when not given). `out_dir` receives `log.txt`,
    `report.json` and `report.html` when the server stops. All admin routes are methods (see
    :class:`dpsim.Client`).
    """

    what = "dpsim serve"
    hidden_env = ("DPSIM_AUTH", "DPSIM_ADMIN_TOKEN")

    def __init__(
        self,
        *,
        clock: Literal["manual", "wall"] = "manual",
        start: Optional[Union[datetime, str]] = None,
        seed: Optional[int] = 0,
        scenario: Optional[Union[str, os.PathLike[str], dict[str, Any]]] = None,
        auth: Optional[tuple[str, str]] = None,
        admin_token: Optional[str] = None,
        poll_hold: Optional[Duration] = None,
        zombie_bound: Optional[Duration] = None,
        rate_limits: bool = False,
        out_dir: Optional[Union[str, os.PathLike[str]]] = None,
        binary: Optional[Union[str, os.PathLike[str]]] = None,
        addr: str = "127.0.0.1:0",
        startup_timeout: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.binary = find_dpsim_bin(binary)
        self.clock_mode = clock
        self.poll_hold = poll_hold
        files: tuple[str, ...] = ()
        args = [self.binary, "serve", "--addr", addr, "--clock", clock]
        if start is not None:
            args += ["--start", instant_text(start)]
        if seed is not None:
            args += ["--seed", str(seed)]
        if scenario is not None:
            path = scenario_file(scenario)
            files = (path,) if isinstance(scenario, dict) else ()
            args += ["--scenario", path]
        if poll_hold is not None:
            args += ["--poll-hold-ms", str(_millis(poll_hold))]
        if zombie_bound is not None:
            args += ["--zombie-bound", duration_text(zombie_bound)]
        if rate_limits:
            args.append("--rate-limits")
        super().__init__(
            args,
            auth=auth,
            admin_token=admin_token,
            out_dir=out_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            files=files,
        )

    def _default_read_timeout(self) -> float:
        """5 s above the poll hold on a wall clock; 5 s on a manual one, where a held poll
        ends only when the test moves the clock."""
        hold_s = 90.0 if self.poll_hold is None else _millis(self.poll_hold) / 1000
        return 5.0 if self.clock_mode == "manual" else hold_s + 5.0


def _millis(value: Duration) -> int:
    text = duration_text(value)
    if text.endswith("ms") and text[:-2].isdigit():
        return int(text[:-2])
    raise ValueError(f"poll_hold must be a timedelta or seconds, got {value!r}")


def scenario_file(scenario: Union[str, os.PathLike[str], dict[str, Any]]) -> str:
    """A scenario file's path: the one given, or a scratch file holding the dict (the caller
    removes it)."""
    if not isinstance(scenario, dict):
        return os.fspath(scenario)
    handle, name = tempfile.mkstemp(prefix="dpsim-scenario-", suffix=".json")
    with os.fdopen(handle, "w") as f:
        json.dump(scenario, f)
    return name
