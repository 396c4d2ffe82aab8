"""Applications: creating one, finding it again (token, expiry, lifetime rules) and routing requests under it.

An application is the root of everything a client reaches: its ``me``,
``people`` and ``communication`` resources, the links that start invitations
(:mod:`.invitations`), ``makeMeAvailable`` and ``reportMyActivity``. Every
request under an application goes through :meth:`Applications.lookup`, which
applies the owner check (another token's application does not exist) and the
documented inactivity rules (:mod:`.lifetime`). Separate from the event
channel (:mod:`.event_channel`), which finds applications the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import re
import secrets
from collections.abc import Callable

import attrs

from adapters.simulator.core import WorldCore, bind
from adapters.simulator.events import EventChannel
from adapters.simulator.faults import FaultKind
from adapters.simulator.invitations import Invitations
from adapters.simulator.lifetime import EXPIRED_SUBCODE, REPORT_MY_ACTIVITY, Liveness
from adapters.simulator.profiles import Phase
from adapters.simulator.records import Application, _gone
from adapters.simulator.render import InputError, parse_input, prop, text_prop
from adapters.simulator.replies import NO_CONTENT, BodyKind, Reply, SimRequest, _invalid, ucwa_error
from fsm.invitation import InvitationKind

log = logging.getLogger("callfsm.simulator")

_BEARER = re.compile(r"^\s*bearer\s+(\S.*?)\s*$", re.IGNORECASE)


class Applications:
    """The application registry's rules; ``release`` runs the happenings an available application unblocks."""

    def __init__(self, core: WorldCore, invitations: Invitations, release: Callable[[], None]) -> None:
        self.core = core
        self.invitations = invitations
        self._release = release
        self._ids = itertools.count(101)

    # -- authentication ------------------------------------------------------------------------------

    def bearer_ok(self, authorization: str | None) -> bool:
        match = _BEARER.match(authorization or "")
        if match is None:
            return False
        token = self.core.config.token
        if token is None:
            return True
        # as bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, then a 500)
        return hmac.compare_digest(match.group(1).encode("utf-8"), token.encode("utf-8"))

    @staticmethod
    def owner_of(authorization: str | None) -> bytes:
        """Who sends a request: a digest of its bearer token (the token itself is not kept)."""
        match = _BEARER.match(authorization or "")
        token = match.group(1) if match is not None else ""
        return hashlib.sha256(token.encode("utf-8")).digest()

    def _new_id(self) -> str:
        """A counter (101, 102...) when one token is configured: every client is then the same party, and
        the same seed gives the same hrefs. With any token accepted, clients are different parties, and a
        counter would let one guess another's application: 128 random bits instead. [U] choice."""
        if self.core.config.token is None:
            return secrets.token_hex(16)
        return str(next(self._ids))

    # -- creating ---------------------------------------------------------------------------------------

    def create(self, root: str, request: SimRequest, now: float) -> Reply:
        core = self.core
        if core.faults.happens(FaultKind.SERVER_ERROR):
            return ucwa_error(500, "ServiceFailure", None, "injected fault")
        try:
            props = parse_input(request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        values: dict[str, str] = {}
        missing = []
        for name in ("userAgent", "endpointId", "culture"):
            value = text_prop(props, name)
            if not value:
                missing.append(name)
            elif len(value) > 100:
                return _invalid(name, f"{name} has more than 100 characters")
            else:
                values[name] = value
        if missing:
            return ucwa_error(
                400, "BadRequest", "ParameterValidationFailure", "required: " + ", ".join(missing), tuple(missing)
            )
        instance = text_prop(props, "instanceId")
        ident = self._new_id()
        href = f"{root}/{ident}"
        host = request.headers.get("host", "127.0.0.1")
        config = core.config
        app = Application(
            ident,
            href,
            values["userAgent"],
            values["endpointId"],
            values["culture"],
            instance,
            EventChannel(f"{href}/events", config.pget_timeout, config.coalesce),
            now,
            core.user,
            owner=self.owner_of(request.headers.get("authorization")),
            layout=core.profile.layout,
            callback_url=config.callback_url,
            base_uri=f"http://{host}/",
            liveness=Liveness.new(now),
            report_my_activity=REPORT_MY_ACTIVITY[core.profile.name],
        )
        core.apps[ident] = app
        self._register(app)
        log.info("application %s created (%s)", ident, app.user_agent)
        return Reply(201, BodyKind.RESOURCE, core.out(app.render()), (("location", href),))

    def _register(self, app: Application) -> None:
        comm = app.communication
        app.resources[f"{app.href}/me"] = app.render_me
        app.resources[f"{app.href}/people"] = app.render_people
        app.resources[comm] = lambda: app.render()["_embedded"]["communication"]
        app.resources[f"{comm}/conversations"] = lambda: {
            "rel": "conversations",
            "_links": {
                "self": {"href": f"{comm}/conversations"},
                "conversation": [{"href": c.href} for c in app.conversations],
            },
        }
        layout = app.layout
        create = self.invitations.create
        app.actions[app.path(layout.make_me_available)] = bind(self._make_me_available, app)
        if app.report_my_activity is not None:
            app.actions[app.path(app.report_my_activity)] = bind(self._report_my_activity, app)
        app.actions[app.path(layout.start_audio_video)] = bind(create, app, InvitationKind.AUDIO_VIDEO, None)
        app.actions[app.path(layout.start_messaging)] = bind(create, app, InvitationKind.MESSAGING, None)
        app.actions[app.path(layout.join_online_meeting)] = bind(create, app, InvitationKind.ONLINE_MEETING, None)
        if "?" in layout.add_participant:
            # one collection for every conversation: the query names the conversation (the Online samples)
            app.actions[app.path(layout.add_participant.split("?", 1)[0])] = bind(self.invitations.add_participant, app)

    # -- finding, routing ---------------------------------------------------------------------------------

    def lookup(self, ident: str, now: float, request: SimRequest | None = None) -> Application | Reply:
        app = self.core.apps.get(ident)
        if app is not None and request is not None:
            sender = self.owner_of(request.headers.get("authorization"))
            if not hmac.compare_digest(sender, app.owner):
                app = None  # another token's application: as if it did not exist, so its id is no oracle
        expiry = self.core.config.application_expiry
        if app is not None and not app.gone and expiry is not None and now - app.last_seen > expiry:
            app.gone = True
            log.info("application %s expired after %.1fs idle", ident, now - app.last_seen)
        if app is not None:
            self.expired(app, now)
        if app is None or app.gone:
            return _gone(app)
        app.last_seen = now
        return app

    def route(self, ident: str, request: SimRequest, now: float) -> Reply:
        """Any request under an application, except its event channel."""
        core = self.core
        found = self.lookup(ident, now, request)
        if isinstance(found, Reply):
            return found
        app = found
        if core.faults.happens(FaultKind.SERVER_ERROR):
            return ucwa_error(500, "ServiceFailure", None, "injected fault")
        path = request.path.rstrip("/") or request.path
        if path == app.href:
            if request.method == "GET":
                return Reply(200, BodyKind.RESOURCE, core.out(app.render()))
            if request.method == "DELETE":
                app.gone = True
                log.info("application %s deleted", app.ident)
                return NO_CONTENT
            return ucwa_error(405, "MethodNotAllowed")
        if request.method == "GET" and path in app.resources:
            return Reply(200, BodyKind.RESOURCE, core.out(app.resources[path]()))
        if request.method == "POST" and path in app.actions:
            reply = app.actions[path](request)
            if reply.kind is BodyKind.RESOURCE and reply.document is not None:
                reply = attrs.evolve(reply, document=core.out(reply.document))
            return reply
        if path in app.resources or path in app.actions:
            return ucwa_error(405, "MethodNotAllowed")
        return ucwa_error(404, "NotFound", None, "the resource does not exist")

    # -- presence and lifetime ------------------------------------------------------------------------------

    def _make_me_available(self, app: Application, request: SimRequest) -> Reply:
        if app.available:
            return ucwa_error(409, "Conflict", "AlreadyExists", "makeMeAvailable was already called")
        try:
            props = parse_input(request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        modalities = prop(props, "supportedModalities")
        app.supported_modalities = (
            [m for m in modalities if isinstance(m, str)] if isinstance(modalities, list) else ["Messaging"]
        )
        app.available = True
        app.liveness.activity(self.core.clock.now())
        log.info("application %s is available for incoming invitations", app.ident)
        self._release()
        return NO_CONTENT

    def _report_my_activity(self, app: Application, request: SimRequest) -> Reply:
        """``reportMyActivity``: no body, 204; 409 MakeMeAvailableRequired before ``makeMeAvailable``."""
        if not app.available:
            return ucwa_error(409, "Conflict", "MakeMeAvailableRequired", "makeMeAvailable was not called yet")
        app.liveness.activity(self.core.clock.now())
        return NO_CONTENT

    def expired(self, app: Application, now: float) -> bool:
        """The documented inactivity rules (lifetime.py); an application they end is gone for good."""
        waiter = app.channel.waiter
        in_call = any(c.invitation is not None and c.invitation.phase is not Phase.ENDED for c in app.conversations)
        expired = app.liveness.check(
            now,
            self.core.config.lifetime,
            parked=waiter is not None and not waiter.done,
            available=app.available and app.report_my_activity is not None,
            in_call=in_call,
        )
        if expired and not app.gone:
            app.gone = True
            log.info("application %s expired: %s", app.ident, EXPIRED_SUBCODE)
        return expired

    def expire_all(self) -> None:
        for app in self.core.apps.values():
            app.gone = True
        log.info("all applications expired (scripted)")

    def available_app(self) -> Application | None:
        """Where an incoming call goes: the newest application that called ``makeMeAvailable``."""
        return next((app for app in self.core.live_apps() if app.available), None)
