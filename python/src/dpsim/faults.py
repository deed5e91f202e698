"""Message faults and control-plane events, built from typed constructors that mirror the
scenario schema's `do` objects (`dpsim schema`, `scenario.schema.json`).

Nothing here checks names against a list of its own: the server judges every operation,
effect and error code, and an unknown one comes back as a :class:`dpsim.AdminError` with the
server's message. A fault is only data until a client posts it::

    from dpsim import faults
    lost_ack = faults.drop_request("ReportTaskProgress", runner="runner-a")
    late = faults.delay("ReportTaskProgress", until=faults.deadline("progress_deadline", after=1))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Optional, Union

#: A length of time: a :class:`datetime.timedelta`, a number of seconds, or a dpsim duration
#: string (``"90s"``, ``"15 minutes"``, ``"1h30m"``).
Duration = Union[timedelta, float, int, str]

#: The task-runner and control-plane operations a fault can match (the server knows the list).
Operation = str


def duration_text(value: Duration) -> str:
    """A duration as the scenario format writes it: whole milliseconds (``"1500ms"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("a duration is a timedelta, a number of seconds or a string, not a bool")
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"a duration is never negative, got {seconds} s")
    return f"{round(seconds * 1000)}ms"


@dataclass(frozen=True)
class TaskMoment:
    """A moment of the task a call names: its acknowledgement or progress deadline, shifted."""

    deadline: Literal["ack_deadline", "progress_deadline"]
    after: Duration = 0
    before: Duration = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline,
            "after": duration_text(self.after),
            "before": duration_text(self.before),
        }


def deadline(
    which: Literal["ack_deadline", "progress_deadline"], *, after: Duration = 0, before: Duration = 0
) -> TaskMoment:
    """The task's deadline, `after` past it or `before` it (for `delay(until=...)`)."""
    return TaskMoment(which, after, before)


@dataclass(frozen=True)
class Effect:
    """What a message fault does to the calls it matches (a scenario's `effect` object)."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.fields}


@dataclass(frozen=True)
class MessageFault:
    """A message fault (`{"kind": "message", ...}`): which calls it matches, and its effect.

    `operation`, `runner` and `task` narrow the calls (none: every call); it starts at the
    `occurrence`-th matching call and hits `count` of them, each with `probability` if given,
    and stops matching `lasting` after it was installed.
    """

    effect: Effect
    operation: Optional[Operation] = None
    runner: Optional[str] = None
    task: Optional[str] = None
    occurrence: int = 1
    count: int = 1
    probability: Optional[float] = None
    lasting: Optional[Duration] = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "message", "effect": self.effect.to_json()}
        for key in ("operation", "runner", "task", "probability"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        body["occurrence"] = self.occurrence
        body["count"] = self.count
        if self.lasting is not None:
            body["for"] = duration_text(self.lasting)
        return body


def _fault(effect: Effect, operation: Optional[Operation], **match: Any) -> MessageFault:
    return MessageFault(effect, operation, **match)


def drop_request(operation: Optional[Operation] = None, **match: Any) -> MessageFault:
    """The request is lost before the service sees it; the caller hears nothing."""
    return _fault(Effect("drop_request"), operation, **match)


def drop_response(operation: Optional[Operation] = None, **match: Any) -> MessageFault:
    """The service handles the request and the answer is lost; the caller hears nothing."""
    return _fault(Effect("drop_response"), operation, **match)


def delay(
    operation: Optional[Operation] = None,
    *,
    by: Optional[Duration] = None,
    until: Optional[TaskMoment] = None,
    **match: Any,
) -> MessageFault:
    """The request reaches the service later: `by` a fixed time, or `until` a moment of its task."""
    fields: dict[str, Any] = {}
    if by is not None:
        fields["by"] = duration_text(by)
    if until is not None:
        fields["until"] = until.to_json()
    return _fault(Effect("delay", fields), operation, **match)


def hold(operation: Optional[Operation] = None, *, until: Duration, **match: Any) -> MessageFault:
    """The service answers at once, and the answer is held back `until` later."""
    return _fault(Effect("hold", {"until": duration_text(until)}), operation, **match)


def duplicate(operation: Optional[Operation] = None, *, after: Duration = 0, **match: Any) -> MessageFault:
    """The request is delivered twice, the copy `after` later, as a retransmission would be."""
    return _fault(Effect("duplicate", {"after": duration_text(after)}), operation, **match)


def error(operation: Optional[Operation] = None, *, code: str, **match: Any) -> MessageFault:
    """The call is answered with the AWS error `code` (``"InternalServiceError"``, ...)."""
    return _fault(Effect("error", {"code": code}), operation, **match)


@dataclass(frozen=True)
class Event:
    """A control-plane event (a scenario's `do` object other than a message fault)."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **{k: v for k, v in self.fields.items() if v is not None}}


def cancel(task: str, pipeline: Optional[str] = None) -> Event:
    """SetStatus TRY_CANCEL on every instance of activity `task`: its lease ends."""
    return Event("cancel", {"task": task, "pipeline": pipeline})


def rerun(task: str, pipeline: Optional[str] = None) -> Event:
    """SetStatus RERUN on every finished, failed or canceled instance of `task`."""
    return Event("rerun", {"task": task, "pipeline": pipeline})


def pause_activity(task: str, pipeline: Optional[str] = None) -> Event:
    """SetStatus PAUSE on activity `task`: its instances are not handed out."""
    return Event("pause_activity", {"task": task, "pipeline": pipeline})


def resume_activity(task: str, pipeline: Optional[str] = None) -> Event:
    """SetStatus RESUME on activity `task`."""
    return Event("resume_activity", {"task": task, "pipeline": pipeline})


def deactivate(pipeline: str, *, cancel_active: bool = True) -> Event:
    """DeactivatePipeline; with `cancel_active` running leases end."""
    return Event("deactivate", {"pipeline": pipeline, "cancel_active": cancel_active})


def activate(pipeline: str) -> Event:
    """ActivatePipeline."""
    return Event("activate", {"pipeline": pipeline})


def delete(pipeline: str) -> Event:
    """DeletePipeline: every call about its tasks answers PipelineDeletedException."""
    return Event("delete", {"pipeline": pipeline})


def terminate(runner: str) -> Event:
    """The runner's next heartbeat answers `terminate: true`."""
    return Event("terminate", {"runner": runner})
