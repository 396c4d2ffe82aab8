"""The renegotiation tests' expected table, written by hand, and the way to any state.

``EXPECTED`` maps (state, case) to where the model lands; a pair not listed must be refused. It is
written from docs/protocol.md §4 (renegotiation facts, the ReNegotiationDeclineReason table), §5.2
(409 Conflict) and seed 001 (the ``dismiss`` request and its 204), and the module's documented
design (its theory of operation), not derived from fsm/renegotiation.py's TABLE, so the two can
disagree. ``CASES`` is one trigger with one payload per guard branch; :func:`reach` drives a model
to a state through its public triggers only. Kept apart so the every-pair tests and the stateful
reference share one table (pytest puts this folder on ``sys.path``, as it does for every test
folder without ``__init__.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from fsm import (
    Link,
    Reason,
    ReNegotiationDeclineReason,
    Representation,
)
from fsm.actions import Actions
from fsm.renegotiation import (
    Renegotiation,
    RenegotiationState,
    RenegotiationTrigger,
)

S = RenegotiationState
T = RenegotiationTrigger
D = ReNegotiationDeclineReason

# The href of seed 001's sample request, and its siblings.
BASE = "https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/conversations/137/audioVideo/audioVideoSession"
RENEGOTIATIONS = f"{BASE}/renegotiations"
RENEGOTIATION = f"{RENEGOTIATIONS}/audioVideoRenegotiation"
ANSWER = Link("answer", f"{RENEGOTIATION}/answer")
DISMISS = Link("dismiss", f"{RENEGOTIATION}/dismiss")
LINKS_BY_REL = {"answer": ANSWER, "dismiss": DISMISS}
SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"

# 409 AlreadyExists: another renegotiation is in progress (docs/protocol.md §4, 5.2).
COLLISION = Reason("Conflict", "AlreadyExists", "The already exists error.")
# Other documented refusals of POST link resources (seed 001, docs/protocol.md §5.2).
OTHER_ERRORS = (
    Reason("Conflict", "TooManyGroups"),
    Reason("Conflict", "None"),
    Reason("ServiceFailure", "CallbackChannelError"),
    Reason("Gone", "CannotRedirect"),
)

TERMINAL = {S.ANSWERED, S.DISMISSED, S.COMPLETED, S.REJECTED, S.COLLIDED, S.FAILED, S.EXPIRED}
SUCCESSES = {S.ANSWERED, S.COMPLETED}
OFFER_DEADLINE = 30.0
LATE = 1000.0  # well after every deadline used below


def incoming_rep(*rels: str, direction: str | None = "Incoming") -> Representation:
    return Representation(direction=direction, links=[LINKS_BY_REL[r] for r in rels])


def outgoing_rep() -> Representation:
    return Representation(direction="Outgoing", operation_id="op-1", links=[Link("audioVideoSession", BASE)])


# -- every (state, case) pair ----------------------------------------------------------------
#
# A case is one trigger with one payload; triggers with guard branches have one case per branch.

Fire = Callable[[Renegotiation], Actions]

CASES: dict[str, tuple[T, Fire]] = {
    "offer": (
        T.OFFER,
        lambda m: m.offer(now=2.0, href=RENEGOTIATIONS, operation_id="op-2", sdp=SDP, deadline=OFFER_DEADLINE),
    ),
    "answer": (T.ANSWER, lambda m: m.answer(now=2.0)),
    "dismiss": (T.DISMISS, lambda m: m.dismiss(now=2.0, reason=D.INSUFFICIENT_BANDWIDTH)),
    "expire": (T.EXPIRE, lambda m: m.expire(now=LATE)),
    "created": (T.CREATED, lambda m: m.created(now=2.0, representation=outgoing_rep(), href=RENEGOTIATION)),
    "created_answered": (
        T.CREATED,
        lambda m: m.created(now=2.0, representation=outgoing_rep(), media_answer="data:application/sdp,v=0"),
    ),
    "started_in": (T.STARTED, lambda m: m.started(now=2.0, representation=incoming_rep("answer", "dismiss"))),
    "started_out": (T.STARTED, lambda m: m.started(now=2.0, representation=outgoing_rep())),
    "remote_answered": (T.REMOTE_ANSWERED, lambda m: m.remote_answered(now=2.0, media_answer="data:,v=0")),
    "remote_rejected": (T.REMOTE_REJECTED, lambda m: m.remote_rejected(now=2.0, reason=Reason("RemoteFailure"))),
    "request_succeeded": (T.REQUEST_SUCCEEDED, lambda m: m.request_succeeded(now=2.0)),
    "failed_collision": (T.REQUEST_FAILED, lambda m: m.request_failed(now=2.0, reason=COLLISION)),
    "failed_other": (T.REQUEST_FAILED, lambda m: m.request_failed(now=2.0, reason=OTHER_ERRORS[2])),
}

_REMOTE_CASES = (
    "created",
    "created_answered",
    "started_in",
    "started_out",
    "remote_answered",
    "remote_rejected",
    "request_succeeded",
    "failed_collision",
    "failed_other",
)

#: (state, case) -> where the model lands; a pair not listed must be refused.
EXPECTED: dict[tuple[S, str], S] = {
    (S.IDLE, "offer"): S.OFFERING,
    (S.IDLE, "started_in"): S.REMOTE_OFFERED,
    # our POST is out: the 201 (or started, which may beat it) moves on; answers may beat both
    (S.OFFERING, "created"): S.OFFERED,
    (S.OFFERING, "created_answered"): S.COMPLETED,
    (S.OFFERING, "started_out"): S.OFFERED,
    (S.OFFERING, "remote_answered"): S.COMPLETED,
    (S.OFFERING, "remote_rejected"): S.REJECTED,
    (S.OFFERING, "failed_collision"): S.COLLIDED,
    (S.OFFERING, "failed_other"): S.FAILED,
    (S.OFFERING, "expire"): S.EXPIRED,
    (S.OFFERED, "created"): S.OFFERED,
    (S.OFFERED, "created_answered"): S.COMPLETED,
    (S.OFFERED, "started_out"): S.OFFERED,
    (S.OFFERED, "remote_answered"): S.COMPLETED,
    (S.OFFERED, "remote_rejected"): S.REJECTED,
    (S.OFFERED, "expire"): S.EXPIRED,
    # the remote's offer: answer, dismiss, or dismissal when the deadline passes
    (S.REMOTE_OFFERED, "answer"): S.ANSWERING,
    (S.REMOTE_OFFERED, "dismiss"): S.DISMISSING,
    (S.REMOTE_OFFERED, "expire"): S.DISMISSING,
    (S.REMOTE_OFFERED, "started_in"): S.REMOTE_OFFERED,
    (S.ANSWERING, "request_succeeded"): S.ANSWERED,
    (S.ANSWERING, "failed_collision"): S.REMOTE_OFFERED,
    (S.ANSWERING, "failed_other"): S.REMOTE_OFFERED,
    (S.ANSWERING, "started_in"): S.ANSWERING,
    (S.DISMISSING, "request_succeeded"): S.DISMISSED,
    (S.DISMISSING, "failed_collision"): S.REMOTE_OFFERED,
    (S.DISMISSING, "failed_other"): S.REMOTE_OFFERED,
    (S.DISMISSING, "started_in"): S.DISMISSING,
    # ended: every remote event is recorded and changes nothing
    **{(end, case): end for end in TERMINAL for case in _REMOTE_CASES},
}


def reach(state: S) -> Renegotiation:
    """A model in ``state``, driven there through its public triggers only."""
    m = Renegotiation()

    def ours() -> None:
        m.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP, deadline=OFFER_DEADLINE)

    def theirs() -> None:
        m.started(now=0.0, href=RENEGOTIATION, representation=incoming_rep("answer", "dismiss"), deadline=20.0)

    rep = outgoing_rep()
    paths: dict[S, list[Callable[[], object]]] = {
        S.IDLE: [],
        S.OFFERING: [ours],
        S.OFFERED: [ours, lambda: m.created(now=1.0, representation=outgoing_rep())],
        S.REMOTE_OFFERED: [theirs],
        S.ANSWERING: [theirs, lambda: m.answer(now=1.0)],
        S.DISMISSING: [theirs, lambda: m.dismiss(now=1.0)],
        S.ANSWERED: [theirs, lambda: m.answer(now=1.0), lambda: m.request_succeeded(now=1.5)],
        S.DISMISSED: [theirs, lambda: m.dismiss(now=1.0), lambda: m.request_succeeded(now=1.5)],
        S.COMPLETED: [ours, lambda: m.created(now=1.0, representation=rep), lambda: m.remote_answered(now=1.5)],
        S.REJECTED: [ours, lambda: m.created(now=1.0, representation=rep), lambda: m.remote_rejected(now=1.5)],
        S.COLLIDED: [ours, lambda: m.request_failed(now=1.0, reason=COLLISION)],
        S.FAILED: [ours, lambda: m.request_failed(now=1.0, reason=OTHER_ERRORS[0])],
        S.EXPIRED: [ours, lambda: m.expire(now=OFFER_DEADLINE)],
    }
    for step in paths[state]:
        step()
    assert m.state is state
    return m
