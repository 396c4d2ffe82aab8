"""The checks of a scripted step's arguments, shared by the Python calls and the scenario files.

Each check takes the value as given (a scenario file gives anything JSON or
YAML can hold) and returns it typed, or raises ``ValueError`` naming the
argument. They are separate from :mod:`adapters.simulator.scenario_script` so
that the scenario document's validators run the very same checks.
"""

from __future__ import annotations

import math
import reprlib
from typing import Final

from fsm.invitation import InvitationKind
from fsm.reasons import ErrorCode, Reason, parse_error_code

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 80


def shown(value: object) -> str:
    """``repr(value)``, cut in the middle past 80 characters: a message quotes its input, bounded."""
    return _SHOWN.repr(value)


def abridged(text: object) -> str:
    """``str(text)``, cut in the middle past 80 characters (for values a message shows unquoted)."""
    plain = str(text)
    return plain if len(plain) <= 80 else f"{plain[:38]}...{plain[-38:]}"


def check_seconds(name: str, value: object, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not is_finite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {shown(value)}")
    return float(value)


def is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int no float can hold (10**400)
        return False


def check_after(value: object) -> float:
    seconds = check_seconds("after", value)
    assert seconds is not None
    return seconds


def check_code(code: object) -> str:
    if not isinstance(code, str) or parse_error_code(code) is None:
        known = ", ".join(c.value for c in ErrorCode)
        raise ValueError(f"unknown reason code {shown(code)}; the ErrorCode enum has: {known}")
    return code


def check_subcode(subcode: object) -> str | None:
    if subcode is None:
        return None
    if not isinstance(subcode, str) or not subcode:
        raise ValueError(f"subcode must be a non-empty string or null, got {shown(subcode)}")
    return subcode


def check_nonempty(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {shown(value)}")
    return value


_KIND_NAMES: Final = {
    **{k.value.lower(): k for k in InvitationKind},
    "audiovideo": InvitationKind.AUDIO_VIDEO,
    "av": InvitationKind.AUDIO_VIDEO,
    "messaging": InvitationKind.MESSAGING,
    "onlinemeeting": InvitationKind.ONLINE_MEETING,
    "participant": InvitationKind.PARTICIPANT,
    "phoneaudio": InvitationKind.PHONE_AUDIO,
}


#: A message's text is bounded like every other input the simulator reads.
MAX_MESSAGE: Final = 64 * 1024


def check_text(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_MESSAGE:
        raise ValueError(f"a message has at most {MAX_MESSAGE} characters")
    return value


def parse_kind(kind: object) -> InvitationKind:
    """``audioVideo``, ``audioVideoInvitation`` or an :class:`InvitationKind` (case ignored)."""
    if isinstance(kind, InvitationKind):
        return kind
    if isinstance(kind, str) and kind.lower() in _KIND_NAMES:
        return _KIND_NAMES[kind.lower()]
    raise ValueError(f"unknown invitation kind {shown(kind)}; use audioVideo, messaging, onlineMeeting or participant")


def check_incoming_kind(kind: object) -> InvitationKind:
    parsed = parse_kind(kind)
    if parsed not in (InvitationKind.AUDIO_VIDEO, InvitationKind.MESSAGING):
        raise ValueError("an incoming call is an audioVideo or messaging invitation")
    return parsed


def reason_of(code: str, subcode: str | None, message: str | None = None) -> Reason:
    """The wire reason: a ``None`` subcode (the tables' "None") is no subcode."""
    if subcode is not None and subcode.lower() == "none":
        subcode = None
    return Reason(code, subcode, message)
