"""The one family of exceptions that ``fsm/`` raises.

Every error says which machine, which state and which trigger (or which input)
was involved, so that a log line alone is enough to understand what happened.
A rejected trigger never changes the model: the state, the history and the
outcome are exactly as they were before the call.
"""

from __future__ import annotations

from enum import Enum


class CallFsmError(Exception):
    """Base class of every error raised by callfsm's machines."""


class DefinitionError(CallFsmError):
    """A machine's transition table breaks a rule checked when it is built."""


class InvalidInput(CallFsmError, ValueError):
    """A trigger was given a value that the protocol does not allow.

    Raised before anything is decided, so nothing would be sent.
    """

    def __init__(self, machine: str, field: str, why: str) -> None:
        self.machine = machine
        self.field = field
        self.why = why
        super().__init__(f"{machine}: invalid {field}: {why}")


class InvalidTrigger(CallFsmError):
    """The trigger is not allowed in the model's current state.

    ``machine``, ``state`` and ``trigger`` are the enum members involved;
    ``why`` explains the rule that refused it.
    """

    def __init__(self, machine: str, state: Enum, trigger: Enum, why: str = "") -> None:
        self.machine = machine
        self.state = state
        self.trigger = trigger
        self.why = why or "the transition table has no such transition"
        super().__init__(f"{machine}: trigger '{trigger.value}' is not allowed in state '{state.value}': {self.why}")


class LinkMissing(InvalidTrigger):
    """The state allows the action, but the latest representation lacks its link.

    UCWA and the Trusted Application API gate every action by the links the
    server puts in the resource; a missing link means the server would refuse.
    """

    def __init__(self, machine: str, state: Enum, trigger: Enum, rels: tuple[str, ...]) -> None:
        self.rels = rels
        wanted = " or ".join(repr(r) for r in rels)
        super().__init__(machine, state, trigger, f"the latest representation carries no {wanted} link")


class NotDue(InvalidTrigger):
    """A deadline trigger was fired before the deadline passed."""


class SnapshotError(CallFsmError):
    """A snapshot cannot be restored: wrong version, wrong machine or bad data."""
