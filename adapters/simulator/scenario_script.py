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

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from adapters.simulator.faults import FaultKind
from adapters.simulator.scenario_checks import (
    abridged,
    check_after,
    check_code,
    check_incoming_kind,
    check_nonempty,
    check_seconds,
    check_subcode,
    check_text,
    parse_kind,
    reason_of,
    shown,
)
from adapters.simulator.scenario_remote import (
    Admit,
    Answer,
    AnswerOnCancel,
    Decline,
    Fail,
    Forward,
    IncomingCall,
    IncomingMessage,
    IncomingRenegotiation,
    LobbyArrival,
    NoAnswer,
    Plan,
    Reject,
    RenegotiationReply,
    ScriptedPlan,
    ScriptTarget,
)
from fsm.invitation import InvitationKind

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
        self._plan(Answer(check_after(delay)), kind)

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
        self._plan(Decline(check_code(code), check_subcode(subcode), message, check_after(after)), kind)

    def no_answer(
        self,
        timeout: float | None = None,
        *,
        code: str = "RemoteFailure",
        subcode: str | None = "Timeout",
        kind: str | None = None,
    ) -> None:
        """Nobody answers: a Failure with the timeout reason after ``timeout`` (default: ``ring_timeout``)."""
        self._plan(
            NoAnswer(check_seconds("timeout", timeout, allow_none=True), check_code(code), check_subcode(subcode)), kind
        )

    def busy(self, *, after: float = 0.0, kind: str | None = None) -> None:
        """The callee is busy: ``RemoteFailure/Busy``."""
        self._plan(Decline("RemoteFailure", "Busy", None, check_after(after)), kind)

    def forward(
        self, to: str, *, after: float = 0.0, answer_after: float | None = 0.1, kind: str | None = None
    ) -> None:
        """The callee forwards to ``to`` (state ``Forwarded``), who answers after ``answer_after``."""
        self._plan(
            Forward(
                check_nonempty("to", to),
                check_after(after),
                check_seconds("answer_after", answer_after, allow_none=True),
            ),
            kind,
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
        if reason_of(check_code(code), check_subcode(subcode)).documented is None:
            raise ValueError(
                f"({code}, {abridged(subcode)}) is not in the documented reason catalogue (fsm.reasons.CATALOGUE)"
            )
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
            raise ValueError(f"code must be a non-empty string, got {shown(code)}")
        self._plan(Fail(code, check_subcode(subcode), message, check_after(after)), kind)

    def answer_on_cancel(self, *, kind: str | None = None) -> None:
        """The callee answers exactly when the user's cancel arrives: completed Success crosses the cancel."""
        self._plan(AnswerOnCancel(), kind)

    def admit_after(self, delay: float = 0.0) -> None:
        """The next join waits in the lobby and is admitted after ``delay``."""
        self._plan(Admit(check_after(delay)), None)

    def reject_after(
        self, delay: float = 0.0, *, code: str = "Forbidden", subcode: str | None = "Denied", message: str | None = None
    ) -> None:
        """The next join waits in the lobby and is rejected after ``delay`` (default ``Forbidden/Denied``)."""
        self._plan(Reject(check_after(delay), check_code(code), check_subcode(subcode), message), None)

    # -- renegotiations -------------------------------------------------------------------------

    def renegotiation_answer(self, *, after: float = 0.0) -> None:
        """The user's next renegotiation offer is answered (``mediaAnswer``) after ``after``."""
        self._target.add_renegotiation_reply(RenegotiationReply(True, check_after(after)))

    def renegotiation_reject(
        self, code: str = "RemoteFailure", subcode: str | None = "NotAcceptable", *, after: float = 0.0
    ) -> None:
        """The user's next renegotiation offer is refused with this reason [I]."""
        self._target.add_renegotiation_reply(
            RenegotiationReply(False, check_after(after), check_code(code), check_subcode(subcode))
        )

    def incoming_renegotiation(self, *, after: float = 0.0, sdp: str | None = None) -> None:
        """The remote offers new media on the user's connected audio/video call."""
        if sdp is not None and not isinstance(sdp, str):
            raise ValueError("sdp must be a string")
        self._target.add_happening(IncomingRenegotiation(check_after(after), sdp or DEFAULT_SDP))

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
        parsed = check_incoming_kind(kind)
        if message is not None and (parsed is not InvitationKind.MESSAGING or not isinstance(message, str)):
            raise ValueError("message is the text of a messaging invitation")
        self._target.add_happening(
            IncomingCall(
                check_nonempty("name", name),
                check_nonempty("uri", uri),
                parsed,
                subject,
                check_after(after),
                check_seconds("ring_for", ring_for, allow_none=True),
                check_text(message),
            )
        )

    def incoming_message(self, text: str, *, after: float = 0.0) -> None:
        """The remote party sends ``text`` in the user's connected messaging conversation (a ``message`` event)."""
        if not isinstance(text, str) or not text:
            raise ValueError("text is a non-empty string")
        self._target.add_happening(IncomingMessage(check_text(text) or text, check_after(after)))

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
                check_nonempty("name", name),
                check_nonempty("uri", uri),
                check_after(after),
                check_seconds("leave_after", leave_after, allow_none=True),
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
            check_nonempty("conference_id", conference_id),
            held=bool(held),
            sub_meetings=tuple(sub_meetings),
            subject=subject,
        )

    def hold_series(self, conference_id: str, *, sub_meeting: str | None = None) -> None:
        """A meeting of the series starts (it has now been held)."""
        self._target.hold_series(check_nonempty("conference_id", conference_id), sub_meeting)

    # -- the server itself ---------------------------------------------------------------------------

    def expire_application(self) -> None:
        """Every application is gone: 404 ``ApplicationNotFound`` from now on."""
        self._target.expire_applications()

    def fault_next(self, fault: str, *, times: int = 1) -> None:
        """Force the next ``times`` decisions of a fault (``server_error``, ``resume``, ``duplicate``...)."""
        try:
            kind = FaultKind(fault)
        except ValueError:
            raise ValueError(f"unknown fault {shown(fault)}; known: {', '.join(k.value for k in FaultKind)}") from None
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
