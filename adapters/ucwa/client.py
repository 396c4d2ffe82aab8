"""One object per UCWA application: the event channel, the dispatcher, the machines, the sender.

Theory of operation
-------------------
:class:`UcwaClient` (sync, ``httpx.Client``) and :class:`AsyncUcwaClient`
(asyncio, ``httpx.AsyncClient``) put the pieces together for an app:

- :meth:`UcwaClient.create_application` creates the application by following
  links from a discovery URL (:mod:`adapters.ucwa.application`: which origins get
  the token on the way) and returns a client connected to it from the 201's
  body; ``connect()`` instead GETs an application that already exists and
  reads its links (the ``events`` link, and the ``communication`` links such
  as ``startAudioVideo``, wherever they are embedded). Recreating it after a
  404 stays the app's business (``on_application_not_found``).
- the lifecycle: ``make_me_available`` (the documented body fields, typed),
  then the ``reportMyActivity`` keep-alive (asyncio: a task; sync: before a
  P-GET that would otherwise outlast the four-minute deadline, so no thread),
  and ``close(delete_application=...)`` / ``aclose(...)``, which DELETEs an
  application this client created unless told not to.
- a local call fires the machine's trigger first, so a refused trigger or
  an over-long value raises before anything is sent; then each action
  becomes a request (:mod:`adapters.wire.requests`), and its response is fed back
  to the same machine (201 -> ``created``, 204 -> ``request_succeeded``,
  4xx/5xx -> ``request_failed`` and a raised
  :class:`~adapters.wire.ucwa_errors.UcwaError`). The local calls:

  - invitations: ``start_audio_video``, ``start_messaging``,
    ``add_participant`` (its link is the conversation's: pass ``href=``),
    ``accept`` (its ``accept`` link only), ``accept_with_answer``,
    ``accept_with_phone_audio`` and ``send_provisional_answer`` (UCWA
    audio/video, which has no ``accept``), ``decline``, ``forward``,
    ``cancel`` (also leaves a join);
  - the online meeting join through the lobby: ``join_online_meeting``;
  - renegotiations: ``offer`` (ours, one at a time per audio/video
    session), ``answer`` and ``dismiss`` (theirs);
  - the leader's lobby participants: ``admit`` and ``reject``;
  - :meth:`~UcwaClient.perform` for any machine's actions.
- a created resource (a ``StartOperation``: an invitation, a join; a
  renegotiation offer) is tracked by the dispatcher under its operation id
  *before* its POST goes out, so a ``started`` that beats the 201 finds it:
  :meth:`~UcwaClient.perform` does it for any model, the app's own too. An
  event with nothing to route it by (no ``_embedded``) waits in the
  dispatcher until the 201 comes: the client then tells the dispatcher
  (:meth:`Dispatcher.created <adapters.routing.dispatcher.Dispatcher.created>`) and
  what it held reaches the model, in order.
- deadlines (a join's ``lobby_deadline``, an offer's ``deadline``) are on the
  client's ``clock``; the client keeps them on the model but fires nothing:
  the app performs ``lobby_timeout`` / ``expire`` when they are due.
- the event channel (:mod:`adapters.ucwa.channel`) feeds the
  :class:`~adapters.routing.dispatcher.Dispatcher`; what the machines then ask for
  (a GET after a bare ``completed``, a glare dismiss) is performed at once;
  after a ``resume``/``resync`` every unsettled resource is read again.
- every step a machine takes, whatever caused it, reaches the app as a
  :class:`StateChange`: through ``on_change``, and in asyncio also through
  ``client.changes()``, an async iterator (subscribe before you act).

- :meth:`UcwaClient.snapshot` and :meth:`UcwaClient.restore` (and their
  asyncio twins) carry the live machines, the event-channel cursor and the
  routing across a restart (:mod:`adapters.routing.restart`): the restored client
  reads the application again on ``connect`` but goes on from the saved
  cursor, not from the application's ``events`` link, so no event is lost.

The sync client starts no thread unless asked to (``prefetch=True``: each
P-GET is then sent ahead from a helper thread while the answer before it is
processed, as docs/protocol.md §2.2 advises; off by default because a sync GET sent
ahead cannot be interrupted by :meth:`UcwaClient.close`). The app drives it with
:meth:`UcwaClient.poll_once`, :meth:`UcwaClient.run_until` or
:meth:`UcwaClient.run`. One poll blocks until the server answers the P-GET
(at most its ``timeout``, 180 s by default), so ``run_until``'s timeout is
checked between answers. The asyncio client runs the channel as a task from
``async with`` (or :meth:`AsyncUcwaClient.start`) until ``aclose``.

Where it lives
--------------
This module is the clients' public face; the code is split by responsibility
(issue 15): :mod:`.client_links` (the application's links, ``ClientError``),
:mod:`.client_changes` (``StateChange`` and what the app has been shown),
:mod:`.client_core` (everything both twins share, with no I/O: what to
send, as plans, and what each answer does), :mod:`.client_plans` (running a
plan, sync or awaited), :mod:`.client_sync` and :mod:`.client_sync_calls`
(``UcwaClient``: its lifecycle and channel, then the app's calls),
:mod:`.client_async` and :mod:`.client_async_calls` (``AsyncUcwaClient``,
``Subscription``). Every name importable from here before the split still is.
"""

from __future__ import annotations

from adapters.routing import restart
from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.routing.trace import TraceTarget, TraceWriter, open_trace
from adapters.transport.http import AsyncSender, AsyncTokenSource, SyncSender, TokenSource, TransportError
from adapters.ucwa.application import (
    ASYNC_REPORT_LEAD,
    KeepAlive,
    MakeMeAvailable,
    creation,
    expect,
    made_available,
    new_endpoint_id,
    pget_hold,
)
from adapters.ucwa.application import Created as ApplicationCreated
from adapters.ucwa.application import Step as CreationStep
from adapters.ucwa.application import request as application_request
from adapters.ucwa.channel import AsyncEventChannel, Backoff, ChannelEnd, ChannelReset, EventChannel, PGetParameters
from adapters.ucwa.client_async import AsyncUcwaClient, Subscription
from adapters.ucwa.client_changes import StateChange
from adapters.ucwa.client_core import REQUEST_TIMEOUT, Cancellable, M, log, new_operation_id
from adapters.ucwa.client_links import ApplicationLinks, ClientError, application_links, read_application
from adapters.ucwa.client_sync import UcwaClient
from adapters.ucwa.tracing import async_traced_sender, trace_sink, traced_sender
from adapters.wire.events import ParseError, parse_resource
from adapters.wire.requests import (
    Applied,
    Created,
    Failed,
    HttpRequest,
    HttpResponse,
    OriginError,
    Secret,
    Unexpected,
    apply_response,
    build_request,
    loggable_url,
    resolve,
)
from adapters.wire.ucwa_errors import UcwaError, parse_error
from fsm.actions import Action, Actions, FetchResource, PostRenegotiation, StartOperation
from fsm.engine import Step
from fsm.invitation import KIND_RULES, Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.outcome import Outcome
from fsm.reasons import CallDeclineReason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation
from fsm.wire import bare_rel

__all__ = [
    "REQUEST_TIMEOUT",
    "ApplicationLinks",
    "AsyncUcwaClient",
    "Cancellable",
    "ClientError",
    "StateChange",
    "Subscription",
    "UcwaClient",
    "application_links",
    "new_operation_id",
    "read_application",
]

# Names this module imported or defined before the split (issue 15): an app may have taken them from here,
# so they stay importable from this path; new code imports them from where they live.
__all__ += [
    "ASYNC_REPORT_LEAD",
    "KIND_RULES",
    "Action",
    "Actions",
    "ApplicationCreated",
    "Applied",
    "AsyncEventChannel",
    "AsyncSender",
    "AsyncTokenSource",
    "Backoff",
    "CallDeclineReason",
    "ChannelEnd",
    "ChannelReset",
    "Created",
    "CreationStep",
    "DispatchResult",
    "Dispatcher",
    "EventChannel",
    "Failed",
    "FetchResource",
    "FsmModel",
    "HttpRequest",
    "HttpResponse",
    "Invitation",
    "InvitationKind",
    "KeepAlive",
    "LobbyParticipant",
    "M",
    "MakeMeAvailable",
    "OnlineMeetingJoin",
    "OriginError",
    "Outcome",
    "PGetParameters",
    "ParseError",
    "PostRenegotiation",
    "ReNegotiationDeclineReason",
    "Renegotiation",
    "Secret",
    "StartOperation",
    "Step",
    "SyncSender",
    "TokenSource",
    "TraceTarget",
    "TraceWriter",
    "TransportError",
    "UcwaError",
    "Unexpected",
    "application_request",
    "apply_response",
    "async_traced_sender",
    "bare_rel",
    "build_request",
    "creation",
    "expect",
    "log",
    "loggable_url",
    "made_available",
    "new_endpoint_id",
    "open_trace",
    "parse_error",
    "parse_resource",
    "pget_hold",
    "resolve",
    "restart",
    "trace_sink",
    "traced_sender",
]
