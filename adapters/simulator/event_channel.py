"""Each application's event channel as the clients reach it: the P-GET, and the pushed callbacks.

The channel itself (queue, groups, acks, resume, parameters) is
:class:`~adapters.simulator.events.EventChannel`, one per application; this is
the server side around it: finding the application (as
:meth:`~.applications.Applications.lookup` does), the injected faults of a
P-GET, keeping every answer in :attr:`WorldCore.events_sent`, and taking the
next answer to POST to a Trusted Application's callback URL
(:mod:`.callbacks` does the POST). Separate from the applications because it
is the one long-lived request, polled by the HTTP layer.
"""

from __future__ import annotations

import copy
import logging

from adapters.simulator.applications import Applications
from adapters.simulator.core import WorldCore, bind
from adapters.simulator.events import ChannelError, Waiter
from adapters.simulator.faults import FaultKind
from adapters.simulator.records import Application, _gone
from adapters.simulator.replies import BodyKind, Document, Reply, SimRequest, ucwa_error

log = logging.getLogger("callfsm.simulator")


class EventChannels:
    """The P-GET and push sides of every application's event channel."""

    def __init__(self, core: WorldCore, applications: Applications) -> None:
        self.core = core
        self.applications = applications

    # -- the P-GET --------------------------------------------------------------------------------------

    def begin(self, ident: str, request: SimRequest, now: float) -> Reply | Waiter:
        core = self.core
        found = self.applications.lookup(ident, now, request)
        if isinstance(found, Reply):
            return found
        app = found
        app.liveness.channel(now)  # a new event-channel request: the documented 15 minutes start again
        if core.faults.happens(FaultKind.SERVER_ERROR):
            return ucwa_error(500, "ServiceFailure", None, "injected fault")
        if core.faults.happens(FaultKind.APPLICATION_NOT_FOUND):
            app.gone = True
            log.info("fault: application %s is gone", ident)
            return ucwa_error(404, "NotFound", "ApplicationNotFound", "the application does not exist")
        refused = app.channel.parse_params(request.query)
        if refused is not None:
            return _channel_error(refused)
        idle = core.config.resume_after_idle
        last = app.channel.last_answer_at
        if idle is not None and last is not None and now - last > idle:
            app.force_resume = True
        ack: int | None = None
        if "ack" in request.query:
            try:
                ack = int(request.query["ack"])
            except ValueError:
                ack = -1
        result = app.channel.begin(ack, request.target, now)
        return result if isinstance(result, Waiter) else self._result(app, result)

    def poll(self, ident: str, waiter: Waiter, now: float) -> Reply | None:
        app = self.core.apps.get(ident)
        if self.core.closed:
            waiter.done = True
            return ucwa_error(503, "ServiceUnavailable", None, "the simulator is shutting down")
        if app is not None:
            self.applications.expired(app, now)
        if app is None or app.gone:
            waiter.done = True
            return _gone(app)
        app.last_seen = now
        result = app.channel.poll(waiter, now, bind(self._resume_decision, app))
        if result is None:
            return None
        return self._result(app, result)

    def abandon(self, ident: str, waiter: Waiter) -> None:
        app = self.core.apps.get(ident)
        if app is not None:
            app.channel.abandon(waiter)

    def _resume_decision(self, app: Application) -> bool:
        forced = app.force_resume
        app.force_resume = False
        return self.core.faults.happens(FaultKind.RESUME) or forced

    def _result(self, app: Application, result: Document | ChannelError) -> Reply:
        if isinstance(result, ChannelError):
            return _channel_error(result)
        self.core.events_sent.append(copy.deepcopy(result))
        links = result["_links"]
        onward = next((rel for rel in ("next", "resume", "resync") if rel in links), "?")
        count = sum(len(s["events"]) for s in result.get("sender", []))
        log.info(
            "answer app=%s %s -> %s %s (%d events)",
            app.ident,
            links["self"]["href"],
            onward,
            links[onward]["href"],
            count,
        )
        return Reply(200, BodyKind.EVENTS, result)

    # -- callbacks (Trusted Application API) ------------------------------------------------------------

    def push_take(self, now: float) -> list[tuple[str, str, Document]]:
        """For each application with a callback URL and no POST under way: (app, URL, next answer).

        The answer is the one a P-GET would get now, with the top-level
        ``baseuri`` of the SaaS callbacks (docs/protocol.md §2.1); it stays
        unacknowledged until :meth:`push_done` reports the receiver's 2xx.
        """
        out: list[tuple[str, str, Document]] = []
        for app in self.core.apps.values():
            channel = app.channel
            if app.gone or app.callback_url is None or app.pushing:
                continue
            if channel.outstanding is not None:  # refused last time: the same answer again
                document = copy.deepcopy(channel.outstanding.document)
            else:
                head = channel.queue[0] if channel.queue else None
                if head is None or head.visible_at > now:
                    continue
                waiter = channel.begin(None, channel.href(channel.expected_ack), now)
                assert isinstance(waiter, Waiter)
                answer = channel.poll(waiter, now, lambda: False)
                assert isinstance(answer, dict)
                document = answer
                document["baseuri"] = app.base_uri
                self.core.events_sent.append(copy.deepcopy(document))
            document["baseuri"] = app.base_uri
            app.pushing = True
            out.append((app.ident, app.callback_url, document))
        return out

    def push_done(self, ident: str, delivered: bool) -> None:
        """The callback POST for ``ident`` answered: 2xx acknowledges its events; anything else retries."""
        app = self.core.apps.get(ident)
        if app is None:
            return
        app.pushing = False
        sent = app.channel.outstanding
        if delivered and sent is not None:
            app.channel.acked += sent.count
            app.channel.outstanding = None

    def delivered(self, ident: str, group: int) -> bool:
        app = self.core.apps.get(ident)
        return app is None or app.gone or app.channel.delivered_upto >= group


def _channel_error(error: ChannelError) -> Reply:
    return ucwa_error(error.status, error.code, error.subcode, error.message, error.parameters)
