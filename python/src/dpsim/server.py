"""`dpsim.Server`: a `dpsim serve` process for a test, started and stopped cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, Optional, Union

from ._binary import find_dpsim_bin
from .client import Client, instant_text
from .faults import Duration, duration_text

if TYPE_CHECKING:  # boto3 is an optional extra; its types come from boto3-stubs[datapipeline].
    from mypy_boto3_datapipeline.client import DataPipelineClient

_LISTENING = "dpsim serve listening on "


class ServerError(RuntimeError):
    """The `dpsim serve` process failed to start or stopped on its own; carries its stderr."""

    def __init__(self, message: str, stderr: str = "", returncode: Optional[int] = None) -> None:
        super().__init__(f"{message}\n--- dpsim serve stderr ---\n{stderr}" if stderr else message)
        self.stderr = stderr
        self.returncode = returncode


class _Drain(threading.Thread):
    """Reads a pipe to its end so the child never blocks on it, keeping what it said."""

    def __init__(self, pipe: IO[str]) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.lines: list[str] = []

    def run(self) -> None:
        for line in self.pipe:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


class Server(Client):
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
        if auth is not None and admin_token is None:
            admin_token = secrets.token_hex(16)
        super().__init__("http://unstarted.invalid", admin_token=admin_token)
        self.binary = find_dpsim_bin(binary)
        self.clock_mode = clock
        self.auth = auth
        self.poll_hold = poll_hold
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._scenario_file: Optional[str] = None
        self._process: Optional[subprocess.Popen[str]] = None
        self._stdout: Optional[_Drain] = None
        self._stderr: Optional[_Drain] = None
        args = [self.binary, "serve", "--addr", addr, "--clock", clock]
        if start is not None:
            args += ["--start", instant_text(start)]
        if seed is not None:
            args += ["--seed", str(seed)]
        if scenario is not None:
            if isinstance(scenario, dict):
                handle, name = tempfile.mkstemp(prefix="dpsim-scenario-", suffix=".json")
                with os.fdopen(handle, "w") as f:
                    json.dump(scenario, f)
                self._scenario_file = name
                args += ["--scenario", name]
            else:
                args += ["--scenario", os.fspath(scenario)]
        if auth is not None:
            args += ["--auth", f"{auth[0]}:{auth[1]}", "--admin-token", str(admin_token)]
        if poll_hold is not None:
            args += ["--poll-hold-ms", str(_millis(poll_hold))]
        if zombie_bound is not None:
            args += ["--zombie-bound", duration_text(zombie_bound)]
        if rate_limits:
            args.append("--rate-limits")
        if self.out_dir is not None:
            args += ["--out", os.fspath(self.out_dir)]
        self.args = args

    def start(self) -> Server:
        """Starts the process and waits until it listens; raises :class:`ServerError` with its
        stderr if it exits first or says nothing within `startup_timeout`."""
        if self._process is not None:
            return self
        env = dict(os.environ)
        # The server's own settings come from its flags only.
        for name in ("DPSIM_AUTH", "DPSIM_ADMIN_TOKEN"):
            env.pop(name, None)
        process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None and process.stderr is not None
        self._process = process
        self._stderr = _Drain(process.stderr)
        self._stderr.start()
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self.startup_timeout)
        line = first[0].strip() if first else ""
        if not line.startswith(_LISTENING):
            self._kill()
            why = (
                f"printed {line!r} instead of its listening line"
                if line
                else f"did not say it was listening within {self.startup_timeout} s"
            )
            raise ServerError(
                f"dpsim serve ({' '.join(self.args)}) {why} (exit status {process.poll()})",
                self._stderr.text(),
                process.poll(),
            )
        self._stdout = _Drain(process.stdout)
        self._stdout.start()
        self.endpoint_url = line[len(_LISTENING) :]
        return self

    def stop(self) -> None:
        """Stops the server with SIGTERM: held polls are answered, `out_dir`'s files written.
        Raises :class:`ServerError` if it had crashed or does not stop cleanly."""
        process = self._process
        if process is None:
            return
        crashed = process.poll()
        if crashed is None:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise ServerError(
                    f"dpsim serve did not stop within {self.stop_timeout} s of SIGTERM", self.stderr()
                ) from None
        else:
            code = crashed
        self._finish()
        if crashed is not None or code != 0:
            raise ServerError(f"dpsim serve exited with status {code}", self.stderr(), code)

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._finish()

    def _finish(self) -> None:
        for drain in (self._stdout, self._stderr):
            if drain is not None:
                drain.join(5)
        if self._scenario_file is not None:
            Path(self._scenario_file).unlink(missing_ok=True)
            self._scenario_file = None
        self._process = None

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        return self._stderr.text() if self._stderr is not None else ""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def check_alive(self) -> None:
        """Raises :class:`ServerError` with its stderr if the process has exited."""
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            raise ServerError(f"dpsim serve exited on its own with status {code}", self.stderr(), code)

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        if self._process is None:
            raise ServerError("the server is not running: use it in a `with` block or call start()")
        try:
            return super()._call(method, path, body)
        except OSError:
            self.check_alive()
            raise

    def boto3_client(
        self,
        *,
        read_timeout: Optional[float] = None,
        connect_timeout: float = 5.0,
        region_name: str = "us-east-1",
        **config: Any,
    ) -> DataPipelineClient:
        """A boto3 `datapipeline` client for this server, set up for tests: one attempt per
        call (no hidden retries), a read timeout 5 s above the poll hold on a wall clock and of
        5 s on a manual one (where a hold ends only when the test moves the clock), so a
        dropped call fails promptly, the server's credentials (signed when
        `auth` is set; dummy ones otherwise). Needs the `boto3` extra."""
        import boto3
        from botocore.config import Config

        if read_timeout is None:
            # A held poll ends with the hold on a wall clock; on a manual one only when the test
            # moves the clock, so a waiting client gives up after 5 s instead.
            hold_s = 90.0 if self.poll_hold is None else _millis(self.poll_hold) / 1000
            read_timeout = 5.0 if self.clock_mode == "manual" else hold_s + 5.0
        key, secret = self.auth if self.auth is not None else ("AKIDDPSIMTEST", "dpsim-test-secret")
        settings = Config(
            read_timeout=read_timeout,
            connect_timeout=connect_timeout,
            retries={"total_max_attempts": 1},
            **config,
        )
        client: DataPipelineClient = boto3.client(
            "datapipeline",
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=settings,
        )
        return client

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self, kind: Optional[type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        if kind is None:
            self.stop()
        else:
            # The test's own error matters more than how the server ended.
            with contextlib.suppress(ServerError):
                self.stop()

    def __repr__(self) -> str:
        return f"Server({self.endpoint_url if self.running else 'not running'})"


def _millis(value: Duration) -> int:
    text = duration_text(value)
    if text.endswith("ms") and text[:-2].isdigit():
        return int(text[:-2])
    raise ValueError(f"poll_hold must be a timedelta or seconds, got {value!r}")
