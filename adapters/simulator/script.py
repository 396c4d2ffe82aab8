"""The scripted remote party, and scenario files.

Theory of operation
-------------------
The simulator plays the server *and* everybody the user talks to. What those
remote people do is scripted, either with Python calls on :class:`Script`
(``sim.script.answer_after(0.2)``) or with a scenario file (JSON or YAML,
schema in ``scenario.schema.json``) whose steps are the same calls by name.

Two kinds of script entries:

*Plans* say how the remote side answers the user's next outgoing invitation
(``startAudioVideo``, ``startMessaging``, ``addParticipant``) or join
(``joinOnlineMeeting``). They queue in order; each create POST takes the first
queued plan that applies to its kind (``kind=`` narrows a plan to one kind;
``admit_after``/``reject_after`` apply to joins only, ``forward`` to calls
only). With no plan queued, the default applies: answered after
``default_answer_delay`` (a join: through the lobby, admitted after that delay).

*Happenings* are things the remote side starts: an incoming call, an incoming
renegotiation on a connected audio/video call, a participant arriving in the
lobby of a meeting the user is in, a Huawei series being booked or held. Each
waits for what it needs (an application that called ``makeMeAvailable``; a
connected call; a connected meeting) and then fires ``after`` seconds later.

Reasons. Failures carry a reason ``{code, subcode}``. :meth:`Script.fail`
accepts exactly the pairs of the documented catalogue
(:data:`fsm.reasons.CATALOGUE`, docs/protocol.md §5.1), compared without case; the
other failing plans accept any subcode (the subcode is an open string) but a
code of the ``ErrorCode`` enum. A subcode ``None`` (the tables' way of saying
"no subcode") is sent as no subcode at all.

Choices where the docs are silent ([U]):

- no answer: ``RemoteFailure/Timeout`` ("remote side ... timed out", catalogued
  for every invitation) after ``ring_timeout`` (30 s, the "about 30 s" of
  docs/protocol.md §1.7); a join left in the lobby gets the same reason;
- lobby rejection: ``Forbidden/Denied`` (``Denied``: "lobby participant was
  denied", ErrorSubcode; no OMI table lists a rejection reason);
- a forwarded outgoing call shows ``Forwarded`` (``updated``) and is then
  answered by the new target after ``answer_after`` seconds;
- an incoming call nobody answers within ``ring_for`` seconds completes with
  ``Informational/Missed``.

Times are seconds of the simulator's clock (injectable: tests use sub-second
delays, or a manual clock).
"""

from __future__ import annotations

import inspect
import json
import math
import reprlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import yaml
from attrs import frozen

from adapters.simulator.faults import FaultConfig, FaultKind
from adapters.simulator.profiles import Completion, EventShape, ProfileName
from fsm.invitation import InvitationKind
from fsm.reasons import ErrorCode, Reason, parse_error_code

# -- plans: how the remote side answers the user's next invitation -------------------------


@frozen
class Answer:
    """Answered after ``after`` seconds (a join: admitted with no lobby)."""

    after: float = 0.0


@frozen
class Decline:
    """Declined by the remote party with the given reason."""

    code: str = "RemoteFailure"
    subcode: str | None = "Declined"
    message: str | None = None
    after: float = 0.0


@frozen
class NoAnswer:
    """Rings (or waits in the lobby) until ``timeout``, then fails with the reason."""

    timeout: float | None = None
    code: str = "RemoteFailure"
    subcode: str | None = "Timeout"
    message: str | None = None


@frozen
class Forward:
    """The callee forwards the call to ``to``, who answers after ``answer_after`` (``None``: never)."""

    to: str
    after: float = 0.0
    answer_after: float | None = 0.1


@frozen
class Fail:
    """The service fails the invitation with a catalogued (code, subcode)."""

    code: str
    subcode: str | None
    message: str | None = None
    after: float = 0.0


@frozen
class AnswerOnCancel:
    """Rings; the callee answers at the very moment the user's cancel arrives (the cancel race)."""


@frozen
class Admit:
    """A join waits in the lobby and is admitted after ``after`` seconds."""

    after: float = 0.0


@frozen
class Reject:
    """A join waits in the lobby and is rejected after ``after`` seconds."""

    after: float = 0.0
    code: str = "Forbidden"
    subcode: str | None = "Denied"
    message: str | None = None


Plan = Answer | Decline | NoAnswer | Forward | Fail | AnswerOnCancel | Admit | Reject

_CALL_KINDS: Final = frozenset({InvitationKind.AUDIO_VIDEO, InvitationKind.MESSAGING, InvitationKind.PHONE_AUDIO})


@frozen
class ScriptedPlan:
    plan: Plan
    #: The kinds the plan may be used for; ``None``: every kind it applies to.
    kinds: frozenset[InvitationKind] | None = None

    def applies_to(self, kind: InvitationKind) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if isinstance(self.plan, Admit | Reject):
            return kind is InvitationKind.ONLINE_MEETING
        if isinstance(self.plan, Forward):
            return kind in _CALL_KINDS
        return True


# -- happenings: what the remote side starts ---------------------------------------------------


@frozen
class IncomingCall:
    name: str
    uri: str
    kind: InvitationKind
    subject: str | None
    after: float
    ring_for: float | None
    #: A messaging invitation's first text (its ``message`` data: link, then a ``message`` event).
    message: str | None = None


@frozen
class IncomingMessage:
    """The remote party types ``text`` in the user's connected conversation."""

    text: str
    after: float


@frozen
class IncomingRenegotiation:
    after: float
    sdp: str


@frozen
class RenegotiationReply:
    """How the remote answers the user's next renegotiation offer."""

    answer: bool
    after: float
    code: str = "RemoteFailure"
    subcode: str | None = "NotAcceptable"


@frozen
class LobbyArrival:
    name: str
    uri: str
    after: float
    leave_after: float | None


Happening = IncomingCall | IncomingMessage | IncomingRenegotiation | LobbyArrival


class ScriptTarget(Protocol):
    """What the script drives: the simulator's world (``adapters.simulator.state.World``)."""

    def add_plan(self, plan: ScriptedPlan) -> None: ...

    def add_renegotiation_reply(self, reply: RenegotiationReply) -> None: ...

    def add_happening(self, happening: Happening) -> None: ...

    def add_series(
        self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None
    ) -> None: ...

    def hold_series(self, conference_id: str, sub_meeting: str | None) -> None: ...

    def expire_applications(self) -> None: ...

    def force_fault(self, kind: FaultKind, times: int) -> None: ...


# -- checks -------------------------------------------------------------------------------------


def _seconds(name: str, value: object, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not _finite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {reprlib.repr(value)}")
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int no float can hold (10**400)
        return False


def _after(value: object) -> float:
    seconds = _seconds("after", value)
    assert seconds is not None
    return seconds


def _code(code: object) -> str:
    if not isinstance(code, str) or parse_error_code(code) is None:
        known = ", ".join(c.value for c in ErrorCode)
        raise ValueError(f"unknown reason code {code!r}; the ErrorCode enum has: {known}")
    return code


def _subcode(subcode: object) -> str | None:
    if subcode is None:
        return None
    if not isinstance(subcode, str) or not subcode:
        raise ValueError(f"subcode must be a non-empty string or null, got {subcode!r}")
    return subcode


def _uri(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
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


def _text(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_MESSAGE:
        raise ValueError(f"a message has at most {MAX_MESSAGE} characters")
    return value


def parse_kind(kind: object) -> InvitationKind:
    """``audioVideo``, ``audioVideoInvitation`` or an :class:`InvitationKind` (case ignored)."""
    if isinstance(kind, InvitationKind):
        return kind
    if isinstance(kind, str) and kind.lower() in _KIND_NAMES:
        return _KIND_NAMES[kind.lower()]
    raise ValueError(f"unknown invitation kind {kind!r}; use audioVideo, messaging, onlineMeeting or participant")


def reason_of(code: str, subcode: str | None, message: str | None = None) -> Reason:
    """The wire reason: a ``None`` subcode (the tables' "None") is no subcode."""
    if subcode is not None and subcode.lower() == "none":
        subcode = None
    return Reason(code, subcode, message)


DEFAULT_SDP: Final = "v=0\r\no=- 0 1 IN IP4 127.0.0.1\r\ns=callfsm simulator\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"


class Script:
    """Python calls that script the remote party (every call is also a scenario step).

    Thread-safe: the world takes its lock for each call, so a test thread may
    script while the server thread runs.
    """

    def __init__(self, target: ScriptTarget) -> None:
        self._target = target

    # -- plans for the user's next outgoing invitation or join --------------------------------

    def _plan(self, plan: Plan, kind: object) -> None:
        kinds = None if kind is None else frozenset({parse_kind(kind)})
        self._target.add_plan(ScriptedPlan(plan, kinds))

    def answer_after(self, delay: float = 0.0, *, kind: str | None = None) -> None:
        """The next invitation is answered after ``delay`` seconds (a join: admitted, no lobby)."""
        self._plan(Answer(_after(delay)), kind)

    def decline(
        self,
        code: str = "RemoteFailure",
        subcode: str | None = "Declined",
        *,
        message: str | None = None,
        after: float = 0.0,
        kind: str | None = None,
    ) -> None:
        """The next invitation is declined with this reason (default ``RemoteFailure/Declined``)."""
        self._plan(Decline(_code(code), _subcode(subcode), message, _after(after)), kind)

    def no_answer(
        self,
        timeout: float | None = None,
        *,
        code: str = "RemoteFailure",
        subcode: str | None = "Timeout",
        kind: str | None = None,
    ) -> None:
        """Nobody answers: a Failure with the timeout reason after ``timeout`` (default: ``ring_timeout``)."""
        self._plan(NoAnswer(_seconds("timeout", timeout, allow_none=True), _code(code), _subcode(subcode)), kind)

    def busy(self, *, after: float = 0.0, kind: str | None = None) -> None:
        """The callee is busy: ``RemoteFailure/Busy``."""
        self._plan(Decline("RemoteFailure", "Busy", None, _after(after)), kind)

    def forward(
        self, to: str, *, after: float = 0.0, answer_after: float | None = 0.1, kind: str | None = None
    ) -> None:
        """The callee forwards to ``to`` (state ``Forwarded``), who answers after ``answer_after``."""
        self._plan(
            Forward(_uri("to", to), _after(after), _seconds("answer_after", answer_after, allow_none=True)), kind
        )

    def fail(
        self,
        code: str,
        subcode: str | None,
        *,
        message: str | None = None,
        after: float = 0.0,
        kind: str | None = None,
    ) -> None:
        """A service failure with a (code, subcode) of the documented catalogue (docs/protocol.md §5.1)."""
        if reason_of(_code(code), _subcode(subcode)).documented is None:
            raise ValueError(f"({code}, {subcode}) is not in the documented reason catalogue (fsm.reasons.CATALOGUE)")
        self.fail_undocumented(code, subcode, message=message, after=after, kind=kind)

    def fail_undocumented(
        self,
        code: str,
        subcode: str | None,
        *,
        message: str | None = None,
        after: float = 0.0,
        kind: str | None = None,
    ) -> None:
        """A failure with any (code, subcode), documented or not: what a newer or stranger server may send.

        :meth:`fail` refuses pairs outside the catalogue to catch typos in scenarios; this one is for
        testing that an app keeps such a reason as given (the machines flag it ``undocumented``).
        """
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"code must be a non-empty string, got {code!r}")
        self._plan(Fail(code, _subcode(subcode), message, _after(after)), kind)

    def answer_on_cancel(self, *, kind: str | None = None) -> None:
        """The callee answers exactly when the user's cancel arrives: completed Success crosses the cancel."""
        self._plan(AnswerOnCancel(), kind)

    def admit_after(self, delay: float = 0.0) -> None:
        """The next join waits in the lobby and is admitted after ``delay``."""
        self._plan(Admit(_after(delay)), None)

    def reject_after(
        self, delay: float = 0.0, *, code: str = "Forbidden", subcode: str | None = "Denied", message: str | None = None
    ) -> None:
        """The next join waits in the lobby and is rejected after ``delay`` (default ``Forbidden/Denied``)."""
        self._plan(Reject(_after(delay), _code(code), _subcode(subcode), message), None)

    # -- renegotiations -------------------------------------------------------------------------

    def renegotiation_answer(self, *, after: float = 0.0) -> None:
        """The user's next renegotiation offer is answered (``mediaAnswer``) after ``after``."""
        self._target.add_renegotiation_reply(RenegotiationReply(True, _after(after)))

    def renegotiation_reject(
        self, code: str = "RemoteFailure", subcode: str | None = "NotAcceptable", *, after: float = 0.0
    ) -> None:
        """The user's next renegotiation offer is refused with this reason [I]."""
        self._target.add_renegotiation_reply(RenegotiationReply(False, _after(after), _code(code), _subcode(subcode)))

    def incoming_renegotiation(self, *, after: float = 0.0, sdp: str | None = None) -> None:
        """The remote offers new media on the user's connected audio/video call."""
        if sdp is not None and not isinstance(sdp, str):
            raise ValueError("sdp must be a string")
        self._target.add_happening(IncomingRenegotiation(_after(after), sdp or DEFAULT_SDP))

    # -- happenings --------------------------------------------------------------------------------

    def incoming_call(
        self,
        name: str = "Remote Caller",
        uri: str = "sip:caller@contoso.com",
        *,
        kind: str = "audioVideo",
        subject: str | None = None,
        after: float = 0.0,
        ring_for: float | None = None,
        message: str | None = None,
    ) -> None:
        """Someone calls the user (delivered once the application called ``makeMeAvailable``).

        ``message``: a messaging invitation's first text, delivered as a
        ``message`` event once the user accepts (the ReceiveAnIM sample).
        """
        parsed = parse_kind(kind)
        if parsed not in (InvitationKind.AUDIO_VIDEO, InvitationKind.MESSAGING):
            raise ValueError("an incoming call is an audioVideo or messaging invitation")
        if message is not None and (parsed is not InvitationKind.MESSAGING or not isinstance(message, str)):
            raise ValueError("message is the text of a messaging invitation")
        self._target.add_happening(
            IncomingCall(
                _uri("name", name),
                _uri("uri", uri),
                parsed,
                subject,
                _after(after),
                _seconds("ring_for", ring_for, allow_none=True),
                _text(message),
            )
        )

    def incoming_message(self, text: str, *, after: float = 0.0) -> None:
        """The remote party sends ``text`` in the user's connected messaging conversation (a ``message`` event)."""
        if not isinstance(text, str) or not text:
            raise ValueError("text is a non-empty string")
        self._target.add_happening(IncomingMessage(_text(text) or text, _after(after)))

    def lobby_arrival(
        self,
        name: str = "Lobby Guest",
        uri: str = "sip:guest@contoso.com",
        *,
        after: float = 0.0,
        leave_after: float | None = None,
    ) -> None:
        """Someone waits in the lobby of the meeting the user is connected to (the user may admit/reject)."""
        self._target.add_happening(
            LobbyArrival(
                _uri("name", name),
                _uri("uri", uri),
                _after(after),
                _seconds("leave_after", leave_after, allow_none=True),
            )
        )

    # -- Huawei -------------------------------------------------------------------------------------

    def series(
        self,
        conference_id: str,
        *,
        held: bool = False,
        sub_meetings: Sequence[str] = (),
        subject: str | None = None,
    ) -> None:
        """A recurring series exists (``held``: a meeting of it has been held, conferenceState ``Created``)."""
        if isinstance(sub_meetings, str) or not all(isinstance(s, str) and s for s in sub_meetings):
            raise ValueError("sub_meetings must be a list of non-empty sub-meeting UUIDs")
        self._target.add_series(
            _uri("conference_id", conference_id), held=bool(held), sub_meetings=tuple(sub_meetings), subject=subject
        )

    def hold_series(self, conference_id: str, *, sub_meeting: str | None = None) -> None:
        """A meeting of the series starts (it has now been held)."""
        self._target.hold_series(_uri("conference_id", conference_id), sub_meeting)

    # -- the server itself ---------------------------------------------------------------------------

    def expire_application(self) -> None:
        """Every application is gone: 404 ``ApplicationNotFound`` from now on."""
        self._target.expire_applications()

    def fault_next(self, fault: str, *, times: int = 1) -> None:
        """Force the next ``times`` decisions of a fault (``server_error``, ``resume``, ``duplicate``...)."""
        try:
            kind = FaultKind(fault)
        except ValueError:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(k.value for k in FaultKind)}") from None
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError("times must be an integer >= 1")
        self._target.force_fault(kind, times)

    def fail_next(self, *, times: int = 1) -> None:
        """The next ``times`` requests get 500 ``ServiceFailure``."""
        self.fault_next(FaultKind.SERVER_ERROR.value, times=times)


#: Scenario step name -> the Script method it calls.
SCENARIO_STEPS: Final[Mapping[str, Callable[..., None]]] = {
    name: getattr(Script, name)
    for name in (
        "answer_after",
        "decline",
        "no_answer",
        "busy",
        "forward",
        "fail",
        "fail_undocumented",
        "answer_on_cancel",
        "admit_after",
        "reject_after",
        "renegotiation_answer",
        "renegotiation_reject",
        "incoming_renegotiation",
        "incoming_call",
        "incoming_message",
        "lobby_arrival",
        "series",
        "hold_series",
        "expire_application",
        "fault_next",
        "fail_next",
    )
}


# -- scenario files -----------------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that cannot be used: says where and why, in one line."""


@frozen
class Step:
    name: str
    arguments: Mapping[str, Any]


@frozen
class Scenario:
    """A parsed scenario: optional seed, faults, user, and the steps in order."""

    steps: tuple[Step, ...] = ()
    seed: int | None = None
    faults: FaultConfig | None = None
    user_name: str | None = None
    user_uri: str | None = None
    #: ``profile``, ``events``, ``completion``: the server the scenario was written for.
    profile: str | None = None
    events: str | None = None
    completion: str | None = None

    def apply(self, script: Script) -> None:
        """Run the steps as Script calls, in order."""
        for index, step in enumerate(self.steps):
            try:
                getattr(script, step.name)(**step.arguments)
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"steps[{index}] ({step.name}): {exc}") from None


#: Top-level switches and their allowed values (profiles.py).
_SWITCHES: Final[Mapping[str, tuple[str, ...]]] = {
    "profile": tuple(m.value for m in ProfileName),
    "events": tuple(m.value for m in EventShape),
    "completion": tuple(m.value for m in Completion),
}
_TOP_KEYS: Final = frozenset({"seed", "faults", "user", "steps", "description", *_SWITCHES})


def _check_arguments(name: str, arguments: Mapping[str, Any], where: str) -> None:
    signature = inspect.signature(SCENARIO_STEPS[name])
    params = {p for p in signature.parameters if p != "self"}
    unknown = sorted(set(arguments) - params)
    if unknown:
        raise ScenarioError(
            f"{where}: {name} has no argument {unknown[0]!r}; it takes {', '.join(sorted(params)) or 'none'}"
        )
    try:
        signature.bind(None, **arguments)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {name}: {exc}") from None


def parse_scenario(document: object) -> Scenario:
    """A scenario from its JSON-shaped document (see ``scenario.schema.json``)."""
    if not isinstance(document, dict):
        raise ScenarioError("$: a scenario is an object with a 'steps' list")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise ScenarioError(f"$: unknown key {unknown[0]!r}; known: {', '.join(sorted(_TOP_KEYS))}")
    seed = document.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ScenarioError(f"$.seed: an integer, got {seed!r}")
    faults = None
    if document.get("faults") is not None:
        raw = document["faults"]
        if not isinstance(raw, dict):
            raise ScenarioError("$.faults: an object of fault rates")
        try:
            faults = FaultConfig.from_mapping(raw)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"$.faults: {exc}") from None
    user_name = user_uri = None
    if document.get("user") is not None:
        user = document["user"]
        if not isinstance(user, dict) or set(user) - {"name", "uri"}:
            raise ScenarioError("$.user: an object with 'name' and/or 'uri'")
        user_name, user_uri = user.get("name"), user.get("uri")
        for key, value in (("name", user_name), ("uri", user_uri)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ScenarioError(f"$.user.{key}: a non-empty string")
    switches: dict[str, str | None] = {}
    for key, allowed in _SWITCHES.items():
        value = document.get(key)
        if value is not None and value not in allowed:
            raise ScenarioError(f"$.{key}: one of {', '.join(allowed)}, got {value!r}")
        switches[key] = value
    raw_steps = document.get("steps", [])
    if not isinstance(raw_steps, list):
        raise ScenarioError("$.steps: a list of steps")
    steps: list[Step] = []
    for index, given in enumerate(raw_steps):
        where = f"$.steps[{index}]"
        raw_step = {given: None} if isinstance(given, str) else given
        if not isinstance(raw_step, dict) or len(raw_step) != 1:
            raise ScenarioError(f"{where}: a step is an object with exactly one key, the step's name")
        ((name, arguments),) = raw_step.items()
        if name not in SCENARIO_STEPS:
            raise ScenarioError(f"{where}: unknown step {name!r}; known: {', '.join(SCENARIO_STEPS)}")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise ScenarioError(f"{where}.{name}: the arguments are an object (or null)")
        _check_arguments(name, arguments, f"{where}.{name}")
        steps.append(Step(name, dict(arguments)))
    scenario = Scenario(tuple(steps), seed, faults, user_name, user_uri, **switches)
    scenario.apply(Script(_DryRun()))  # every argument checked now, not when a server starts
    return scenario


class _DryRun:
    """A script target that accepts everything: :func:`parse_scenario` checks the steps' arguments with it."""

    def add_plan(self, plan: ScriptedPlan) -> None:
        pass

    def add_renegotiation_reply(self, reply: RenegotiationReply) -> None:
        pass

    def add_happening(self, happening: Happening) -> None:
        pass

    def add_series(self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None) -> None:
        pass

    def hold_series(self, conference_id: str, sub_meeting: str | None) -> None:
        pass

    def expire_applications(self) -> None:
        pass

    def force_fault(self, kind: FaultKind, times: int) -> None:
        pass


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without anchors and aliases: six nested aliases in 600 bytes are a million values."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario", mark)
        return super().compose_node(parent, index)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file: ``.json`` as JSON, anything else as YAML (a JSON document is valid YAML)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = json.loads(text) if file.suffix.lower() == ".json" else yaml.load(text, Loader=_NoAliasLoader)
    except RecursionError:
        raise ScenarioError(f"{file}: nested too deeply") from None
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(
            f"{file}: not valid {'JSON' if file.suffix.lower() == '.json' else 'YAML'}: {first}"
        ) from None
    try:
        return parse_scenario(document)
    except ScenarioError as exc:
        raise ScenarioError(f"{file}: {exc}") from None
