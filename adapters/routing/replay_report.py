"""What a replay says: the report's records, and the report for people.

The records are small frozen values, one per resource and one per violation or
event no machine took, so that a replay of a long recording holds these and
not the models (:mod:`adapters.routing.replay`, "Memory"). Their JSON shape is
``callfsm replay --json``'s; :func:`render_text` is its text output.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from fsm.model import FsmModel


@frozen
class ReplayViolation:
    """A refused event, or (``event`` is ``None``) a response the parser rejected."""

    response: int
    event: int | None
    href: str | None
    state: str | None
    type: str | None
    message: str
    machine: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "event": self.event,
            "href": self.href,
            "state": self.state,
            "type": self.type,
            "message": self.message,
        }


@frozen
class NotApplied:
    """An event no machine took (reported, not a violation)."""

    response: int
    event: int
    href: str
    rel: str
    type: str
    why: str


@frozen
class FailedOutcome:
    status: str | None
    code: str | None
    subcode: str | None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "subcode": self.subcode}


@frozen
class ResourceReport:
    href: str
    rel: str
    machine: str
    #: The wire name of the final state where it has one, else the state's value.
    state: str
    outcome: FailedOutcome | None

    def to_json(self) -> dict[str, Any]:
        return {
            "href": self.href,
            "rel": self.rel,
            "machine": self.machine,
            "state": self.state,
            "outcome": None if self.outcome is None else self.outcome.to_json(),
        }


@frozen
class ReplayReport:
    resources: tuple[ResourceReport, ...]
    violations: tuple[ReplayViolation, ...]
    events: int
    responses: int
    not_applied: tuple[NotApplied, ...] = ()
    duplicates: int = 0

    def to_json(self) -> dict[str, Any]:
        """``{"resources": [...], "violations": [...], "events": N}``, nothing more."""
        return {
            "resources": [r.to_json() for r in self.resources],
            "violations": [v.to_json() for v in self.violations],
            "events": self.events,
        }


def state_name(model: FsmModel) -> str:
    """The model's state by its wire name where the machine has one, else its value."""
    state = model.state  # type: ignore[attr-defined]
    return model.DEFINITION.wire_name(state) or str(state.value)


def failed_outcome(model: FsmModel) -> FailedOutcome | None:
    outcome = getattr(model, "outcome", None)
    if outcome is None or outcome.success:
        return None
    reason = outcome.reason
    if reason is None:
        return FailedOutcome(outcome.status, None, None)
    return FailedOutcome(outcome.status, reason.code, reason.subcode)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render_text(report: ReplayReport) -> str:
    """The report for people: resources, then violations, then a summary line."""
    out = [_plural(len(report.resources), "resource")]
    rows = [(r.machine, r.rel, r.href, r.state, _outcome_text(r.outcome)) for r in report.resources]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    for row in rows:
        line = "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
        out.append((line + "  " + row[4]).rstrip())
    out.append(_plural(len(report.violations), "violation"))
    for v in report.violations:
        where = f"response {v.response}" + (f" ({v.source})" if v.source else "")
        if v.event is None:
            out.append(f"  {where}: {v.message}")
        else:
            out.append(f"  {where}, event {v.event}: {v.href} in state {v.state}, event {v.type}: {v.message}")
    out.append(
        f"{_plural(report.events, 'event')} in {_plural(report.responses, 'response')}: "
        f"{_plural(len(report.violations), 'violation')}, "
        f"{len(report.not_applied)} not applied (no machine takes them), "
        f"{_plural(report.duplicates, 'exact duplicate')} dropped"
    )
    return "\n".join(out) + "\n"


def _outcome_text(outcome: FailedOutcome | None) -> str:
    if outcome is None:
        return ""
    return f"status={outcome.status} code={outcome.code} subcode={outcome.subcode}"


__all__ = [
    "FailedOutcome",
    "NotApplied",
    "ReplayReport",
    "ReplayViolation",
    "ResourceReport",
    "failed_outcome",
    "render_text",
    "state_name",
]
