"""The simulator's HTTP handlers: each request read within bounds, checked, handed to the World, written back.

:class:`Simulator` holds the :class:`~adapters.simulator.state.World` and its
script and turns each Starlette request into one World call: the credentials
first (a bearer token, or Huawei's ``X-Access-Token``), then the body, at most
:data:`MAX_BODY` bytes and :data:`MAX_DEPTH` levels deep, then the
:class:`~adapters.simulator.replies.Reply` in the format the client accepts
(:mod:`adapters.simulator.render`). The P-GET is a coroutine that asks the
World every :data:`POLL_INTERVAL` seconds whether its answer is ready. Separate
from :mod:`adapters.simulator.app`, which assembles the ASGI app and runs it
on loopback: these are the per-request rules; that is the app and the
server's lifecycle around them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.routing.trace import RequestEntry, TraceWriter
from adapters.simulator import render
from adapters.simulator.callbacks import push_loop
from adapters.simulator.config import SimulatorConfig
from adapters.simulator.events import Waiter
from adapters.simulator.huawei import HUAWEI_APP_AUTH
from adapters.simulator.profiles import Profile
from adapters.simulator.replies import BodyKind, Reply, SimRequest, huawei_error, ucwa_error
from adapters.simulator.script import Script
from adapters.simulator.state import World
from adapters.wire.requests import HttpResponse, loggable_url

log = logging.getLogger("callfsm.simulator")

#: Request bodies above this are refused with 413 (UCWA bodies are a few KiB).
MAX_BODY: Final = 1024 * 1024
#: Deepest nesting of JSON arrays and objects a body may have; every documented UCWA and Huawei body is at
#: most three deep. Checked before any parser sees the body: ``json.loads`` recurses, and 100,000 ``[`` would
#: end in RecursionError. [U] choice.
MAX_DEPTH: Final = 32
#: How often a pending P-GET (and a held 201) looks again, in seconds of real time.
POLL_INTERVAL: Final = 0.005
TICK_INTERVAL: Final = 0.01


_BRACKETS: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether a JSON body nests arrays and objects deeper than ``limit`` (brackets inside strings do not
    count). Anything that is no JSON passes: its parser refuses it with a 400 of its own."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case, at C speed
    depth = 0
    for match in _BRACKETS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


class Simulator:
    """The world, its script, and the HTTP handlers around them."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.world = World(config)
        #: One line per response, in the order the server produced them ("POST /path -> 201").
        self.transcript: list[str] = []
        #: Where the server's view goes (adapters/routing/trace.py): each request received, each answer sent.
        self.trace: TraceWriter | None = None

    @property
    def script(self) -> Script:
        return self.world.script

    @property
    def profile(self) -> Profile:
        return self.world.profile

    @property
    def events_sent(self) -> list[dict[str, Any]]:
        """Every event-channel answer sent so far (a copy), in order, as JSON-shaped dicts."""
        with self.world.lock:
            return json.loads(json.dumps(self.world.events_sent))  # type: ignore[no-any-return]

    # -- plumbing ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        ticker = asyncio.create_task(self._tick())
        tasks = [ticker, *self._pushers()]
        try:
            yield
        finally:
            self.world.close()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _pushers(self) -> list[asyncio.Task[None]]:
        """The callback deliverer, when the profile pushes events and a callback URL is set (callbacks.py)."""
        if not (self.world.profile.push and self.config.callback_url):
            return []
        token = self.config.callback_token or ""
        return [asyncio.create_task(push_loop(self.world, token, self.config.callback_format))]

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            try:
                self.world.tick()
            except Exception:  # a scripted step that fails must not stop the clock
                log.exception("a scheduled step failed")

    async def _read(self, request: Request, *, huawei: bool = False) -> SimRequest | Response:
        """The request with its body, read only after the credentials were checked (by the caller),
        at most :data:`MAX_BODY` bytes and :data:`MAX_DEPTH` levels deep; else the 4xx reply."""
        declared = request.headers.get("content-length")
        too_large = huawei_error("bad_request", "request body too large") if huawei else None
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return self._write(request, too_large or ucwa_error(413, "EntityTooLarge", None, "request body too large"))
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > MAX_BODY:
                return self._write(
                    request, too_large or ucwa_error(413, "EntityTooLarge", None, "request body too large")
                )
        body = bytes(buffer)
        if nesting_exceeds(body, MAX_DEPTH):
            why = f"the body nests deeper than {MAX_DEPTH} levels"
            reply = huawei_error("bad_request", why) if huawei else ucwa_error(400, "BadRequest", None, why)
            return self._write(request, reply)
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        request.state.trace_body = body  # for the trace, which _write writes
        return SimRequest(
            method=request.method,
            path=request.url.path,
            raw_query=raw_query,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )

    def _write(self, request: Request, reply: Reply) -> Response:
        fmt = render.negotiate(request.headers.get("accept"))
        headers = dict(reply.headers)
        body = b""
        media: str | None = None
        if reply.document is not None:
            if reply.kind is BodyKind.JSON:
                body, media = render.json_bytes(reply.document), "application/json; charset=utf-8"
            elif reply.kind is BodyKind.UCWA_ERROR:
                body = render.error_xml(reply.document) if fmt.xml else render.json_bytes(reply.document)
                media = fmt.content_type
            elif reply.kind is BodyKind.EVENTS:
                body = render.events_xml(reply.document) if fmt.xml else render.json_bytes(reply.document)
                media = fmt.content_type
            else:
                body = render.resource_xml(reply.document) if fmt.xml else render.json_bytes(reply.document)
                media = fmt.content_type
        response = Response(body, status_code=reply.status, headers=headers, media_type=media)
        if self.trace is not None:
            self._trace(self.trace, request, response, body, events=reply.kind is BodyKind.EVENTS)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        line = f"{request.method} {loggable_url(target)}"
        self.transcript.append(f"{line} -> {reply.status}")
        log.info("%s -> %d", line, reply.status)
        return response

    def _trace(self, trace: TraceWriter, request: Request, response: Response, body: bytes, *, events: bool) -> None:
        """The exchange as the server saw it: an events answer, or the request received and the response sent."""
        for name in ("authorization", "x-access-token"):
            trace.learn_secret(request.headers.get(name))
        now = self.world.clock.now()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
        if events and response.status_code == 200:
            trace.events(now, HttpResponse(200, tuple(headers), body))
            return
        received = getattr(request.state, "trace_body", None)
        sent = trace.request(
            request.method, str(request.url), request.headers.items(), received, request.headers.get("content-type")
        )
        trace.write(RequestEntry(now, sent, trace.response(response.status_code, headers, body)))

    async def _hold(self, reply: Reply) -> None:
        """Events before the 201: wait until the group was delivered, or the wait limit."""
        hold = reply.hold
        if hold is None:
            return
        # bounded by the world's clock and by real time (a manual clock may never move)
        real_deadline = time.monotonic() + self.config.faults.early_events_wait
        while not self.world.delivered(hold.app, hold.group):
            if self.world.clock.now() >= hold.until or time.monotonic() >= real_deadline:
                return
            await asyncio.sleep(POLL_INTERVAL)

    def _unauthorized(self, request: Request) -> Response:
        log.info("%s %s -> 401 (no valid bearer token)", request.method, loggable_url(request.url.path))
        return Response(b"", status_code=401, headers={"www-authenticate": 'Bearer realm="callfsm-simulator"'})

    def _authorize(self, request: Request) -> Response | None:
        """``None`` when the request carries one valid bearer token; else the 400 or 401, before any body
        is read (so an unauthenticated client cannot make the server buffer anything)."""
        values = request.headers.getlist("authorization")
        if len(values) > 1:
            # which one would count is up to each server (the last one, in Starlette's dict): none does
            log.info("%s %s -> 400 (%d Authorization headers)", request.method, request.url.path, len(values))
            return self._write(request, ucwa_error(400, "BadRequest", None, "more than one Authorization header"))
        if not self.world.bearer_ok(values[0] if values else None):
            return self._unauthorized(request)
        return None

    async def _admit(self, request: Request) -> SimRequest | Response:
        """The request read, once its token passed (auth before the body: an unauthenticated body is never read)."""
        refused = self._authorize(request)
        return refused if refused is not None else await self._read(request)

    # -- UCWA ------------------------------------------------------------------------------------

    def ucwa_routes(self, root: str) -> list[Route]:
        async def create(request: Request) -> Response:
            read = await self._admit(request)
            if isinstance(read, Response):
                return read
            return self._write(request, self.world.create_application(root, read))

        async def events(request: Request) -> Response:
            read = await self._admit(request)
            if isinstance(read, Response):
                return read
            ident = request.path_params["app"]
            result = self.world.pget_begin(ident, read)
            while isinstance(result, Waiter):
                waiter = result
                await asyncio.sleep(POLL_INTERVAL)
                if await request.is_disconnected():
                    self.world.pget_abandon(ident, waiter)
                    log.info("GET %s: the client went away", loggable_url(read.target))
                    return Response(b"", status_code=499)
                polled = self.world.pget_poll(ident, waiter)
                if polled is not None:
                    result = polled
            return self._write(request, result)

        async def anything(request: Request) -> Response:
            read = await self._admit(request)
            if isinstance(read, Response):
                return read
            reply = self.world.ucwa(request.path_params["app"], read)
            await self._hold(reply)
            return self._write(request, reply)

        methods = ["GET", "POST", "PUT", "DELETE"]
        return [
            Route(root, create, methods=["POST"]),
            Route(root + "/{app}/events", events, methods=["GET"]),
            Route(root + "/{app}", anything, methods=methods),
            Route(root + "/{app}/{rest:path}", anything, methods=methods),
        ]

    # -- Huawei -----------------------------------------------------------------------------------

    async def huawei(self, request: Request) -> Response:
        for name in ("authorization", "x-access-token"):
            if len(request.headers.getlist(name)) > 1:
                return self._write(request, huawei_error("bad_request", f"more than one {name} header"))
        if request.url.path != HUAWEI_APP_AUTH and not self._huawei_token_ok(request.headers.get("x-access-token")):
            # refused before the body is read: the World answers the missing or expired token itself
            bare = SimRequest(request.method, request.url.path, "", {}, {}, b"")
            return self._write(request, self.world.huawei(bare))
        read = await self._read(request, huawei=True)
        if isinstance(read, Response):
            return read
        return self._write(request, self.world.huawei(read))

    def _huawei_token_ok(self, token: str | None) -> bool:
        """The access token is one the World issued (or was configured with) and has not expired.
        ``appauth`` itself is authenticated by the signature over its body, so it is read first."""
        with self.world.lock:
            expiry = self.world.huawei_tokens.get(token or "")
        return token is not None and expiry is not None and expiry > self.config.wall_clock()
