"""A scenario step's arguments, one frozen attrs class per step, as the schema describes them.

Each class mirrors one :class:`~adapters.simulator.scenario_script.Script`
call: the same argument names, the same defaults, and validators that run the
same checks (:mod:`adapters.simulator.scenario_checks`) for what
``scenario.schema.json`` can say (types, ranges, enums, lengths). What only
the call knows (a failure pair outside the catalogue, a ``message`` on an
audio/video call) is left to the call, which a scenario dry-runs when it is
read. Separate from the document (:mod:`adapters.simulator.scenario_document`)
because these are the vocabulary and that is the grammar; tests hold them in
step with the schema and the Script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from attrs import Attribute, field, frozen

from adapters.simulator.faults import FaultKind
from adapters.simulator.scenario_checks import (
    check_code,
    check_incoming_kind,
    check_nonempty,
    check_seconds,
    check_subcode,
    check_text,
    parse_kind,
    shown,
)


def _seconds(_: object, attribute: Attribute[Any], value: object) -> None:
    check_seconds(attribute.name, value)


def _seconds_or_none(_: object, attribute: Attribute[Any], value: object) -> None:
    check_seconds(attribute.name, value, allow_none=True)


def _code(_: object, __: Attribute[Any], value: object) -> None:
    check_code(value)


def _subcode(_: object, __: Attribute[Any], value: object) -> None:
    check_subcode(value)


def _nonempty(_: object, attribute: Attribute[Any], value: object) -> None:
    check_nonempty(attribute.name, value)


def _kind(_: object, __: Attribute[Any], value: object) -> None:
    if value is not None:
        parse_kind(value)


def _incoming_kind(_: object, __: Attribute[Any], value: object) -> None:
    check_incoming_kind(value)


def _text(_: object, __: Attribute[Any], value: str | None) -> None:
    check_text(value)


def _message_text(_: object, attribute: Attribute[Any], value: str) -> None:
    check_nonempty(attribute.name, value)
    check_text(value)


def _at_least_once(_: object, attribute: Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {shown(value)}")


def _sub_meetings(_: object, attribute: Attribute[Any], value: tuple[str, ...]) -> None:
    for index, uuid in enumerate(value):
        check_nonempty(f"{attribute.name}[{index}]", uuid)


def _after() -> Any:
    return field(default=0.0, validator=_seconds)


def _kind_field() -> Any:
    return field(default=None, validator=_kind)


# -- plans --------------------------------------------------------------------------------------------


@frozen
class AnswerAfterStep:
    delay: float = field(default=0.0, validator=_seconds)
    kind: str | None = _kind_field()


@frozen
class DeclineStep:
    code: str = field(default="RemoteFailure", validator=_code)
    subcode: str | None = field(default="Declined", validator=_subcode)
    message: str | None = None
    after: float = _after()
    kind: str | None = _kind_field()


@frozen
class NoAnswerStep:
    timeout: float | None = field(default=None, validator=_seconds_or_none)
    code: str = field(default="RemoteFailure", validator=_code)
    subcode: str | None = field(default="Timeout", validator=_subcode)
    kind: str | None = _kind_field()


@frozen
class BusyStep:
    after: float = _after()
    kind: str | None = _kind_field()


@frozen
class ForwardStep:
    to: str = field(validator=_nonempty)
    after: float = _after()
    answer_after: float | None = field(default=0.1, validator=_seconds_or_none)
    kind: str | None = _kind_field()


@frozen
class FailStep:
    code: str = field(validator=_code)
    subcode: str | None = field(validator=_subcode)
    message: str | None = None
    after: float = _after()
    kind: str | None = _kind_field()


@frozen
class FailUndocumentedStep:
    code: str = field(validator=_nonempty)
    subcode: str | None = field(validator=_subcode)
    message: str | None = None
    after: float = _after()
    kind: str | None = _kind_field()


@frozen
class AnswerOnCancelStep:
    kind: str | None = _kind_field()


@frozen
class AdmitAfterStep:
    delay: float = field(default=0.0, validator=_seconds)


@frozen
class RejectAfterStep:
    delay: float = field(default=0.0, validator=_seconds)
    code: str = field(default="Forbidden", validator=_code)
    subcode: str | None = field(default="Denied", validator=_subcode)
    message: str | None = None


# -- renegotiations -----------------------------------------------------------------------------------


@frozen
class RenegotiationAnswerStep:
    after: float = _after()


@frozen
class RenegotiationRejectStep:
    code: str = field(default="RemoteFailure", validator=_code)
    subcode: str | None = field(default="NotAcceptable", validator=_subcode)
    after: float = _after()


@frozen
class IncomingRenegotiationStep:
    after: float = _after()
    sdp: str | None = None


# -- happenings ---------------------------------------------------------------------------------------


@frozen
class IncomingCallStep:
    name: str = field(default="Remote Caller", validator=_nonempty)
    uri: str = field(default="sip:caller@contoso.com", validator=_nonempty)
    kind: str = field(default="audioVideo", validator=_incoming_kind)
    subject: str | None = None
    after: float = _after()
    ring_for: float | None = field(default=None, validator=_seconds_or_none)
    message: str | None = field(default=None, validator=_text)


@frozen
class IncomingMessageStep:
    text: str = field(validator=_message_text)
    after: float = _after()


@frozen
class LobbyArrivalStep:
    name: str = field(default="Lobby Guest", validator=_nonempty)
    uri: str = field(default="sip:guest@contoso.com", validator=_nonempty)
    after: float = _after()
    leave_after: float | None = field(default=None, validator=_seconds_or_none)


# -- Huawei and the server itself ---------------------------------------------------------------------


@frozen
class SeriesStep:
    conference_id: str = field(validator=_nonempty)
    held: bool = False
    sub_meetings: tuple[str, ...] = field(default=(), validator=_sub_meetings)
    subject: str | None = None


@frozen
class HoldSeriesStep:
    conference_id: str = field(validator=_nonempty)
    sub_meeting: str | None = None


@frozen
class ExpireApplicationStep:
    pass


@frozen
class FaultNextStep:
    fault: FaultKind
    times: int = field(default=1, validator=_at_least_once)


@frozen
class FailNextStep:
    times: int = field(default=1, validator=_at_least_once)


#: Scenario step name -> the class of its arguments, in the order the schema lists them.
STEP_ARGUMENTS: Final[Mapping[str, type[Any]]] = {
    "answer_after": AnswerAfterStep,
    "decline": DeclineStep,
    "no_answer": NoAnswerStep,
    "busy": BusyStep,
    "forward": ForwardStep,
    "fail": FailStep,
    "fail_undocumented": FailUndocumentedStep,
    "answer_on_cancel": AnswerOnCancelStep,
    "admit_after": AdmitAfterStep,
    "reject_after": RejectAfterStep,
    "renegotiation_answer": RenegotiationAnswerStep,
    "renegotiation_reject": RenegotiationRejectStep,
    "incoming_renegotiation": IncomingRenegotiationStep,
    "incoming_call": IncomingCallStep,
    "incoming_message": IncomingMessageStep,
    "lobby_arrival": LobbyArrivalStep,
    "series": SeriesStep,
    "hold_series": HoldSeriesStep,
    "expire_application": ExpireApplicationStep,
    "fault_next": FaultNextStep,
    "fail_next": FailNextStep,
}

#: The other way round: the class of a step's arguments -> the step's name (errors name the step).
STEP_NAMES: Final[Mapping[type[Any], str]] = {cls: name for name, cls in STEP_ARGUMENTS.items()}


@frozen
class Step:
    """One step of a scenario: the Script call's name and its arguments as JSON values, defaults filled in."""

    name: str
    arguments: Mapping[str, Any]
