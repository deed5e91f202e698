"""A typed client for `dpsim serve`'s admin routes (everything under ``/_dpsim``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Optional, Union

from . import faults as _faults
from .report import LogLine, Report


class AdminError(Exception):
    """An admin call the server refused: its HTTP status and the server's own message."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {message}")
        self.method = method
        self.path = path
        self.status = status
        self.message = message


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant as the server writes it (``2026-01-01T00:02:00.000Z``), aware, UTC."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def instant_text(at: Union[datetime, str]) -> str:
    if isinstance(at, str):
        return at
    if at.tzinfo is None:
        raise ValueError("a naive datetime names no instant: give it a tzinfo (timezone.utc)")
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Clock:
    """`GET /_dpsim/clock`: the service's instant, the time since its start, which clock it
    runs on, and the machine's time (what signatures are judged against)."""

    now: datetime
    since_start: str
    mode: str
    signing_time: datetime

    @classmethod
    def from_json(cls, c: dict[str, Any]) -> Clock:
        return cls(
            parse_instant(c["now"]), str(c["since_start"]), str(c["clock"]), parse_instant(c["signing_time"])
        )


@dataclass(frozen=True)
class FaultStatus:
    """A message fault as `GET /_dpsim/faults` lists it."""

    id: int
    active: bool
    matched: int
    applied: int
    fault: dict[str, Any]


@dataclass(frozen=True)
class Reset:
    """What `POST /_dpsim/reset` did: the clock after it, and whether it went back to its start
    (a wall clock cannot)."""

    clock: Clock
    clock_reset: bool
    refused_calls: int


class FaultHandle:
    """An installed message fault. `remove()` takes it out; as a context manager it is removed
    when the block ends::

        with server.add_fault(faults.drop_response("ReportTaskProgress")):
            ...
    """

    def __init__(self, client: Client, fault_id: int) -> None:
        self.client = client
        self.id = fault_id
        self.removed = False

    def remove(self) -> None:
        """Takes the fault out (once; removing it again does nothing)."""
        if not self.removed:
            self.client.remove_fault(self.id)
            self.removed = True

    def status(self) -> FaultStatus:
        """How often it matched and was applied so far."""
        for f in self.client.faults():
            if f.id == self.id:
                return f
        raise AdminError("GET", "/_dpsim/faults", 404, f"fault {self.id} is no longer installed")

    def __enter__(self) -> FaultHandle:
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"FaultHandle(id={self.id}{', removed' if self.removed else ''})"


def _seconds(by: Union[timedelta, float, int]) -> float:
    return by.total_seconds() if isinstance(by, timedelta) else float(by)


class Client:
    """The admin routes of a running `dpsim serve` at `endpoint_url`.

    Under `--auth`, give the server's `--admin-token`. Every refusal raises
    :class:`AdminError` with the server's message.
    """

    def __init__(
        self, endpoint_url: str, *, admin_token: Optional[str] = None, timeout: float = 30.0
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.admin_token = admin_token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.admin_token is not None:
            request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read().decode()
                if answer.headers.get_content_type() == "application/json":
                    return json.loads(text)
                return text
        except urllib.error.HTTPError as e:
            raw = e.read().decode(errors="replace")
            try:
                message = str(json.loads(raw)["error"])
            except (ValueError, KeyError, TypeError):
                message = raw
            raise AdminError(method, path, e.code, message) from None

    # The clock.

    def clock(self) -> Clock:
        """The service's clock."""
        return Clock.from_json(self._call("GET", "/_dpsim/clock"))

    def now(self) -> datetime:
        """The service's current instant (UTC)."""
        return self.clock().now

    def advance(self, by: Union[timedelta, float, int]) -> datetime:
        """Moves the clock forward `by` (a timedelta or seconds); every deadline that fell due
        is applied in order first. Returns the new instant."""
        return Clock.from_json(self._call("POST", "/_dpsim/clock/advance", {"seconds": _seconds(by)})).now

    def advance_to(self, at: Union[datetime, str]) -> datetime:
        """Moves the clock forward to `at` (an aware datetime or RFC 3339 text)."""
        return Clock.from_json(self._call("POST", "/_dpsim/clock/advance", {"to": instant_text(at)})).now

    # Faults.

    def add_fault(self, fault: Union[_faults.MessageFault, dict[str, Any]]) -> FaultHandle:
        """Installs a message fault (from :mod:`dpsim.faults`, or a raw `do` object)."""
        body = fault if isinstance(fault, dict) else fault.to_json()
        answer = self._call("POST", "/_dpsim/faults", body)
        return FaultHandle(self, int(answer["id"]))

    def inject_error(self, operation: str, error: str, count: int = 1) -> FaultHandle:
        """The next `count` calls of `operation` answer the AWS error `error`."""
        answer = self._call(
            "POST", "/_dpsim/faults/errors", {"operation": operation, "error": error, "count": count}
        )
        return FaultHandle(self, int(answer["id"]))

    def faults(self) -> list[FaultStatus]:
        """Every installed message fault, with how often it matched and was applied."""
        return [
            FaultStatus(
                int(f["id"]), bool(f["active"]), int(f["matched"]), int(f["applied"]), dict(f["fault"])
            )
            for f in self._call("GET", "/_dpsim/faults")["faults"]
        ]

    def remove_fault(self, fault_id: int) -> None:
        """Takes out the fault with this id."""
        self._call("DELETE", f"/_dpsim/faults/{fault_id}")

    # Control-plane events.

    def apply(self, event: Union[_faults.Event, dict[str, Any]]) -> str:
        """Applies a control-plane event now; returns what was done, in words."""
        body = event if isinstance(event, dict) else event.to_json()
        return str(self._call("POST", "/_dpsim/faults", body)["applied"])

    def cancel(self, task: str, pipeline: Optional[str] = None) -> str:
        """TRY_CANCEL on every instance of activity `task` (in `pipeline`, or any)."""
        return self.apply(_faults.cancel(task, pipeline))

    def rerun(self, task: str, pipeline: Optional[str] = None) -> str:
        """RERUN every finished, failed or canceled instance of activity `task`."""
        return self.apply(_faults.rerun(task, pipeline))

    def pause_activity(self, task: str, pipeline: Optional[str] = None) -> str:
        """PAUSE activity `task`: its instances are not handed out."""
        return self.apply(_faults.pause_activity(task, pipeline))

    def resume_activity(self, task: str, pipeline: Optional[str] = None) -> str:
        """RESUME activity `task`."""
        return self.apply(_faults.resume_activity(task, pipeline))

    def deactivate(self, pipeline: str, *, cancel_active: bool = True) -> str:
        """DeactivatePipeline by name."""
        return self.apply(_faults.deactivate(pipeline, cancel_active=cancel_active))

    def activate(self, pipeline: str) -> str:
        """ActivatePipeline by name."""
        return self.apply(_faults.activate(pipeline))

    def delete(self, pipeline: str) -> str:
        """DeletePipeline by name."""
        return self.apply(_faults.delete(pipeline))

    def terminate(self, runner: str) -> str:
        """The runner's next heartbeat answers `terminate: true`."""
        return self.apply(_faults.terminate(runner))

    # What the server saw.

    def log_text(self) -> str:
        """The ownership log as text, as `dpsim run` prints it."""
        return str(self._call("GET", "/_dpsim/log"))

    def log(self) -> list[LogLine]:
        """The ownership log's lines, parsed."""
        return [LogLine.from_json(line) for line in self._call("GET", "/_dpsim/report")["log"]]

    def report(self) -> Report:
        """The report: summary, expectations, every invariant's verdict, the log."""
        answer = self._call("GET", "/_dpsim/report")
        return Report.from_json(answer, log_text=self.log_text())

    def reset(self) -> Reset:
        """Starts the server's world again: pipelines, leases, faults, the log go; ids start from
        the seed again; a manual clock goes back to its start. Calls on connections opened before
        the reset are refused."""
        answer = self._call("POST", "/_dpsim/reset")
        return Reset(
            Clock.from_json(answer["clock"]), bool(answer["clock_reset"]), int(answer["refused_calls"])
        )

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 description of the admin routes."""
        return dict(self._call("GET", "/_dpsim/openapi.json"))
