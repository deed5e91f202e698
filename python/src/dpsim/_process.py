"""A `dpsim` server process (`serve` or `proxy`) for a test: started on a free port, its first
line read for the address, its output drained, stopped with SIGTERM so it writes its files."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Optional, TypeVar, Union

from .client import Client

if TYPE_CHECKING:  # boto3 is an optional extra; its types come from boto3-stubs[datapipeline].
    from mypy_boto3_datapipeline.client import DataPipelineClient

_Self = TypeVar("_Self", bound="ManagedProcess")


class ServerError(RuntimeError):
    """A `dpsim serve` or `dpsim proxy` process failed to start or stopped on its own; carries
    its stderr."""

    def __init__(self, message: str, stderr: str = "", returncode: Optional[int] = None) -> None:
        super().__init__(f"{message}\n--- dpsim stderr ---\n{stderr}" if stderr else message)
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


class ManagedProcess(Client):
    """What :class:`dpsim.Server` and :class:`dpsim.Proxy` share: the process's life. A
    subclass sets `args` (the command line), `what` (`dpsim serve`) and the settings its
    environment must not leak (`hidden_env`)."""

    what = "dpsim"
    hidden_env: tuple[str, ...] = ()

    def __init__(
        self,
        args: list[str],
        *,
        auth: Optional[tuple[str, str]],
        admin_token: Optional[str],
        out_dir: Optional[Union[str, os.PathLike[str]]],
        startup_timeout: float,
        stop_timeout: float,
        files: tuple[str, ...] = (),
    ) -> None:
        """`args` is the command line up to the options every server shares: `auth` (clients
        must sign; the admin calls then need `admin_token`, made up when not given) and
        `out_dir` (its files at shutdown) are added here."""
        if auth is not None:
            admin_token = admin_token if admin_token is not None else secrets.token_hex(16)
            args = [*args, "--auth", f"{auth[0]}:{auth[1]}", "--admin-token", admin_token]
        self.out_dir = None if out_dir is None else Path(out_dir)
        if self.out_dir is not None:
            args = [*args, "--out", os.fspath(self.out_dir)]
        super().__init__("http://unstarted.invalid", admin_token=admin_token)
        self.args = args
        self.auth = auth
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._files = files
        self._process: Optional[subprocess.Popen[str]] = None
        self._stdout: Optional[_Drain] = None
        self._stderr: Optional[_Drain] = None

    def start(self: _Self) -> _Self:
        """Starts the process and waits until it listens; raises :class:`ServerError` with its
        stderr if it exits first or says nothing within `startup_timeout`."""
        if self._process is not None:
            return self
        env = dict(os.environ)
        # The process's own settings come from its flags only.
        for name in self.hidden_env:
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
        listening = f"{self.what} listening on "
        if not line.startswith(listening):
            if not line:
                # Its stdout closed or stayed silent: give an ending process the moment it
                # needs to report its exit status.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
            code = process.poll()
            self._kill()
            if line:
                why = f"printed {line!r} instead of its listening line"
            elif code is not None:
                why = "exited before listening"
            else:
                why = f"did not say it was listening within {self.startup_timeout} s"
            raise ServerError(
                f"{self.what} ({' '.join(self.args)}) {why} (exit status {code})", self._stderr.text(), code
            )
        self._stdout = _Drain(process.stdout)
        self._stdout.start()
        self.endpoint_url = line[len(listening) :].split()[0]
        return self

    def stop(self) -> None:
        """Stops the process with SIGTERM: held calls are answered, `out_dir`'s files written.
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
                    f"{self.what} did not stop within {self.stop_timeout} s of SIGTERM", self.stderr()
                ) from None
        else:
            code = crashed
        self._finish()
        if crashed is not None or code != 0:
            raise ServerError(f"{self.what} exited with status {code}", self.stderr(), code)

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._finish()

    def _finish(self) -> None:
        for drain in (self._stdout, self._stderr):
            if drain is not None:
                drain.join(5)
        for name in self._files:
            with contextlib.suppress(OSError):
                os.unlink(name)
        self._files = ()
        self._process = None

    def stderr(self) -> str:
        """What the process wrote to stderr so far (its log)."""
        return self._stderr.text() if self._stderr is not None else ""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def check_alive(self) -> None:
        """Raises :class:`ServerError` with its stderr if the process has exited."""
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            raise ServerError(f"{self.what} exited on its own with status {code}", self.stderr(), code)

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        if self._process is None:
            raise ServerError(f"{self.what} is not running: use it in a `with` block or call start()")
        try:
            return super()._call(method, path, body)
        except OSError:
            self.check_alive()
            raise

    def _default_read_timeout(self) -> float:
        """The boto3 client's read timeout when none is given: 5 s above the longest hold of
        an empty PollForTask (a real endpoint's 90 s here)."""
        return 95.0

    def boto3_client(
        self,
        *,
        read_timeout: Optional[float] = None,
        connect_timeout: float = 5.0,
        region_name: str = "us-east-1",
        **config: Any,
    ) -> DataPipelineClient:
        """A boto3 `datapipeline` client for this endpoint, set up for tests: one attempt per
        call (no hidden retries), a read timeout just above the longest hold of an empty poll
        (for `dpsim.Server`, 5 s above its poll hold on a wall clock and 5 s on a manual one,
        where a hold ends only when the test moves the clock), so a dropped call fails
        promptly, and its credentials (`auth` when set, signed; dummy ones otherwise). Needs
        the `boto3` extra."""
        import boto3
        from botocore.config import Config

        if read_timeout is None:
            read_timeout = self._default_read_timeout()
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

    def __enter__(self: _Self) -> _Self:
        return self.start()

    def __exit__(
        self, kind: Optional[type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        if kind is None:
            self.stop()
        else:
            # The test's own error matters more than how the process ended.
            with contextlib.suppress(ServerError):
                self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint_url if self.running else 'not running'})"
