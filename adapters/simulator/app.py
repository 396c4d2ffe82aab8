"""The simulator over HTTP: a Starlette app, and a way to run it on loopback in a thread.

Theory of operation
-------------------
:func:`create_app` builds the ASGI app around one :class:`Simulator` (the
:class:`~adapters.simulator.state.World` and its :class:`~adapters.simulator.script.Script`).
Handlers are thin: they read the request (at most :data:`MAX_BODY` bytes),
check the credentials, call one World method under its lock, and write the
:class:`~adapters.simulator.state.Reply` in the format the client accepts
(:mod:`adapters.simulator.render`).

Routes:

- UCWA under ``/ucwa/oauth/v1/applications`` and ``/ucwa/v1/applications``:
  ``POST`` creates an application; everything below an application id goes to
  the World (resources by GET, links by POST, the application by DELETE);
  ``.../events`` is the P-GET. A request without ``Authorization: Bearer``
  (or, when the configuration names a token, with another one) gets 401 with
  ``WWW-Authenticate: Bearer`` and no body: the docs' error table has no 401
  row, and real servers answer it before UCWA sees the request.
- Huawei: ``POST /v2/usg/acs/auth/appauth`` (App ID authentication),
  ``DELETE /v1/mmc/management/cycleconferences``,
  ``DELETE /v1/mmc/management/conferences/cyclesubconf`` and
  ``GET /v1/mmc/management/conferences/confDetail`` (``X-Access-Token``).

The P-GET is a coroutine that asks the World every few milliseconds whether
its answer is ready (events visible, timeout reached, replaced, application
gone), and gives up quietly when the client disconnects. The World also runs
its scheduled steps whenever any request comes in, and a ticker task (the
app's lifespan) runs them every 10 ms even when nobody asks: scripted delays
happen on time, by the World's clock.

Logging (logger ``callfsm.simulator``): one line per request (method, path
with query values masked as the adapters mask them, status) and one per event
(the World logs those). Headers and bodies are never logged, so neither are
tokens, signatures or app keys.

:func:`serve` runs the app under uvicorn on 127.0.0.1 (a free port by
default) in a background thread and yields a :class:`SimulatorHandle`; the
pytest fixture and ``callfsm demo`` use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import uvicorn
from attrs import define
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.requests import loggable_url
from adapters.simulator import render
from adapters.simulator.callbacks import push_loop
from adapters.simulator.events import Waiter
from adapters.simulator.script import Script
from adapters.simulator.state import (
    HUAWEI_APP_AUTH,
    HUAWEI_DETAIL,
    HUAWEI_SERIES,
    HUAWEI_SUB_MEETINGS,
    BodyKind,
    Reply,
    SimRequest,
    SimulatorConfig,
    World,
    ucwa_error,
)

log = logging.getLogger("callfsm.simulator")

#: Request bodies above this are refused with 413 (UCWA bodies are a few KiB).
MAX_BODY: Final = 1024 * 1024
#: How often a pending P-GET (and a held 201) looks again, in seconds of real time.
POLL_INTERVAL: Final = 0.005
TICK_INTERVAL: Final = 0.01


class Simulator:
    """The world, its script, and the HTTP handlers around them."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.world = World(config)
        #: One line per response, in the order the server produced them ("POST /path -> 201").
        self.transcript: list[str] = []

    @property
    def script(self) -> Script:
        return self.world.script

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

    async def _read(self, request: Request) -> SimRequest | Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return self._write(request, ucwa_error(413, "EntityTooLarge", None, "request body too large"))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return self._write(request, ucwa_error(413, "EntityTooLarge", None, "request body too large"))
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
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
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        line = f"{request.method} {loggable_url(target)}"
        self.transcript.append(f"{line} -> {reply.status}")
        log.info("%s -> %d", line, reply.status)
        return response

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

    # -- UCWA ------------------------------------------------------------------------------------

    def ucwa_routes(self, root: str) -> list[Route]:
        async def create(request: Request) -> Response:
            read = await self._read(request)
            if isinstance(read, Response):
                return read
            if not self.world.bearer_ok(read.headers.get("authorization")):
                return self._unauthorized(request)
            return self._write(request, self.world.create_application(root, read))

        async def events(request: Request) -> Response:
            read = await self._read(request)
            if isinstance(read, Response):
                return read
            if not self.world.bearer_ok(read.headers.get("authorization")):
                return self._unauthorized(request)
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
            read = await self._read(request)
            if isinstance(read, Response):
                return read
            if not self.world.bearer_ok(read.headers.get("authorization")):
                return self._unauthorized(request)
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
        read = await self._read(request)
        if isinstance(read, Response):
            return read
        return self._write(request, self.world.huawei(read))


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` is its :class:`Simulator`."""
    simulator = Simulator(config or SimulatorConfig())
    # only the profile's own root: a client written for another server gets the 404 it would get there
    routes: list[Route] = list(simulator.ucwa_routes(simulator.world.profile.root))
    routes.append(Route(HUAWEI_APP_AUTH, simulator.huawei, methods=["POST"]))
    routes.append(Route(HUAWEI_SERIES, simulator.huawei, methods=["DELETE"]))
    routes.append(Route(HUAWEI_SUB_MEETINGS, simulator.huawei, methods=["DELETE"]))
    routes.append(Route(HUAWEI_DETAIL, simulator.huawei, methods=["GET"]))
    app = Starlette(routes=routes, lifespan=simulator.lifespan)
    app.state.simulator = simulator
    return app


# -- running on loopback ----------------------------------------------------------------------------


class NotLoopback(ValueError):
    """The simulator serves loopback only: it has fixed credentials and no TLS."""


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address or ``localhost``; raise :class:`NotLoopback` otherwise."""
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise NotLoopback(f"{host!r} is not a loopback address (use 127.0.0.1, ::1 or localhost)") from None
    if not address.is_loopback:
        raise NotLoopback(f"{host} is not a loopback address: the simulator only serves 127.0.0.1, ::1 or localhost")
    return host


@define(eq=False)
class SimulatorHandle:
    """A running simulator, as a test sees it."""

    base_url: str
    #: The bearer token to send (``Authorization: Bearer <token>``).
    token: str
    simulator: Simulator
    #: A Huawei access token accepted without authenticating (``X-Access-Token``).
    huawei_token: str
    #: The Huawei App ID and app key the App ID authentication accepts.
    huawei_app_id: str
    huawei_app_key: str

    @property
    def script(self) -> Script:
        return self.simulator.script

    @property
    def world(self) -> World:
        return self.simulator.world

    @property
    def events_sent(self) -> list[dict[str, Any]]:
        return self.simulator.events_sent

    @property
    def applications_url(self) -> str:
        """Where to POST to create an application (the profile's root, ``/ucwa/v1/applications`` by default)."""
        return self.base_url + self.simulator.world.profile.root

    @property
    def callback_token(self) -> str | None:
        """The bearer token the callbacks carry (``saas`` with a callback URL): the receiver's to check."""
        return self.simulator.config.callback_token

    def write_events(self, path: str | Path) -> Path:
        """Write the recorded event stream as JSON Lines (the input of ``callfsm replay``)."""
        target = Path(path)
        target.write_text("".join(json.dumps(doc) + "\n" for doc in self.events_sent), encoding="utf-8")
        return target


def _free_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP, and
    # without it a response written in two parts (uvicorn writes the head, then the body) waits for the
    # client's delayed ACK: 40 ms per request on Linux
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.contextmanager
def serve(
    config: SimulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0
) -> Iterator[SimulatorHandle]:
    """Run the simulator under uvicorn in a background thread; yield its handle; stop it cleanly.

    Without a token in ``config``, a random one is made (and required). A Huawei
    token is added to the accepted ones, so tests can skip the App ID step.
    ``config`` itself is not changed (the server runs on a copy).
    """
    check_loopback(host)
    config = config or SimulatorConfig()
    huawei_token = "sim-" + secrets.token_urlsafe(24)
    config = attrs.evolve(
        config,
        token=config.token or "cwt=" + secrets.token_urlsafe(24),
        huawei_tokens=(*config.huawei_tokens, huawei_token),
        callback_token=config.callback_token or "sim-callback-" + secrets.token_urlsafe(24),
    )
    assert config.token is not None
    app = create_app(config)
    simulator: Simulator = app.state.simulator
    sock = _free_socket(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="callfsm-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            sock.close()
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    app_id, app_key = next(iter(config.huawei_apps.items()), ("", ""))
    shown_host = f"[{host}]" if ":" in host else host
    try:
        yield SimulatorHandle(f"http://{shown_host}:{bound}", config.token, simulator, huawei_token, app_id, app_key)
    finally:
        simulator.world.close()
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


Handler = Callable[[Request], Awaitable[Response]]
