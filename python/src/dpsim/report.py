"""What `serve` saw, as plain dataclasses: the ownership log's lines, the summary, the
expectation and invariant verdicts (`GET /_dpsim/report`, `GET /_dpsim/log`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional


def _since_start(ms: int) -> str:
    return f"+{ms // 3_600_000:02}:{ms // 60_000 % 60:02}:{ms // 1000 % 60:02}.{ms % 1000:03}"


@dataclass(frozen=True)
class LogLine:
    """One line of the ownership log.

    `time` is the simulated time since the server's start; `task` and `attempt` come from the
    log's ``Copy@1`` (none for lines about no task); `lease` is the taskId's short name
    (``t3``), `runner` the runner's hostname, both none where the log shows ``-``.
    """

    time: timedelta
    task: Optional[str]
    attempt: Optional[int]
    what: str
    runner: Optional[str]
    lease: Optional[str]
    detail: str
    anomaly: bool

    @classmethod
    def from_json(cls, line: dict[str, Any]) -> LogLine:
        obj = str(line.get("object", "-"))
        task: Optional[str] = None
        attempt: Optional[int] = None
        if obj and obj != "-":
            name, _, number = obj.rpartition("@")
            if name and number.isdigit():
                task, attempt = name, int(number)
            else:
                task = obj
        runner = str(line.get("runner", "-"))
        lease = str(line.get("task", ""))
        return cls(
            time=timedelta(milliseconds=int(line["at"])),
            task=task,
            attempt=attempt,
            what=str(line["what"]),
            runner=None if runner in ("", "-") else runner,
            lease=None if lease in ("", "-") else lease,
            detail=str(line.get("detail", "")),
            anomaly=bool(line.get("anomaly", False)),
        )

    @property
    def stamp(self) -> str:
        """The time as the log prints it: ``+00:02:00.600``."""
        return _since_start(int(self.time / timedelta(milliseconds=1)))


@dataclass(frozen=True)
class Summary:
    """Counts and figures of what `serve` saw."""

    runners: int
    tasks: int
    statuses: dict[str, int]
    handouts: int
    reassignments: int
    expiries: int
    stale_calls: int
    zombies: int
    longest_zombie: timedelta
    total_zombie: timedelta

    @classmethod
    def from_json(cls, s: dict[str, Any]) -> Summary:
        return cls(
            runners=int(s["runners"]),
            tasks=int(s["tasks"]),
            statuses={str(name): int(n) for name, n in s.get("statuses", [])},
            handouts=int(s["handouts"]),
            reassignments=int(s["reassignments"]),
            expiries=int(s["expiries"]),
            stale_calls=int(s["stale_calls"]),
            zombies=int(s["zombies"]),
            longest_zombie=timedelta(milliseconds=int(s["longest_zombie_ms"])),
            total_zombie=timedelta(milliseconds=int(s["total_zombie_ms"])),
        )


@dataclass(frozen=True)
class Expectation:
    """A scenario expectation's verdict (only with a served scenario)."""

    expectation: str
    ok: bool
    found: str


@dataclass(frozen=True)
class Violation:
    """One breach of an invariant: when, about which task and runner, and the log lines that
    led to it."""

    invariant: str
    time: timedelta
    task: Optional[str]
    runner: Optional[str]
    message: str
    trail: tuple[LogLine, ...]

    @classmethod
    def from_json(cls, v: dict[str, Any]) -> Violation:
        return cls(
            invariant=str(v["invariant"]),
            time=timedelta(milliseconds=int(v["at"])),
            task=v.get("task"),
            runner=v.get("runner"),
            message=str(v["message"]),
            trail=tuple(LogLine.from_json(line) for line in v.get("trail", [])),
        )

    def __str__(self) -> str:
        at = _since_start(int(self.time / timedelta(milliseconds=1)))
        about = " ".join(x for x in (self.task, self.runner) if x)
        return f"{at} {self.invariant}{' ' + about if about else ''}: {self.message}"


@dataclass(frozen=True)
class Invariant:
    """An invariant's verdict from what `serve` saw."""

    name: str
    held: bool
    violations: tuple[Violation, ...]


@dataclass(frozen=True)
class Report:
    """`GET /_dpsim/report` as dataclasses; `log_text` is `GET /_dpsim/log`'s text when the
    report was fetched by :meth:`dpsim.Client.report`."""

    summary: Summary
    expectations: tuple[Expectation, ...]
    invariants: tuple[Invariant, ...]
    passed: bool
    log: tuple[LogLine, ...]
    forgotten: int
    log_text: str = ""

    @classmethod
    def from_json(cls, r: dict[str, Any], log_text: str = "") -> Report:
        return cls(
            summary=Summary.from_json(r["summary"]),
            expectations=tuple(
                Expectation(str(e["expectation"]), bool(e["ok"]), str(e["found"])) for e in r["expectations"]
            ),
            invariants=tuple(
                Invariant(
                    str(i["name"]), bool(i["held"]), tuple(Violation.from_json(v) for v in i["violations"])
                )
                for i in r["invariants"]
            ),
            passed=bool(r["passed"]),
            log=tuple(LogLine.from_json(line) for line in r["log"]),
            forgotten=int(r.get("forgotten", 0)),
            log_text=log_text,
        )

    def invariant(self, name: str) -> Invariant:
        """The verdict of the invariant `name`; KeyError names the invariants there are."""
        for i in self.invariants:
            if i.name == name:
                return i
        raise KeyError(f"no invariant {name!r}; invariants: {', '.join(i.name for i in self.invariants)}")

    @property
    def broken(self) -> tuple[Invariant, ...]:
        """The invariants that did not hold."""
        return tuple(i for i in self.invariants if not i.held)

    @property
    def failed_expectations(self) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if not e.ok)

    def failures(self) -> str:
        """The failing verdicts in words, one per line (empty when the report passed)."""
        lines: list[str] = []
        for i in self.broken:
            lines.append(f"VIOLATED {i.name}: {len(i.violations)} violation(s)")
            lines.extend(f"  {v}" for v in i.violations[:20])
            if len(i.violations) > 20:
                lines.append(f"  ... and {len(i.violations) - 20} more")
        lines.extend(f"FAILED expectation {e.expectation}: found {e.found}" for e in self.failed_expectations)
        return "\n".join(lines)

    def assert_passed(self) -> None:
        """Raises :class:`ReportFailed` (an AssertionError) with the failing verdicts and the
        ownership log unless every invariant held and every expectation passed."""
        if not self.passed:
            raise ReportFailed(self)


class ReportFailed(AssertionError):
    """A report that did not pass; its message carries the failing verdicts and the log."""

    def __init__(self, report: Report) -> None:
        self.report = report
        log = report.log_text or "\n".join(
            f"{line.stamp} {line.task or '-'} {line.what} {line.runner or '-'} {line.detail}"
            for line in report.log
        )
        super().__init__(f"dpsim report did not pass:\n{report.failures()}\n\nownership log:\n{log}")
