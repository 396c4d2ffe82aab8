"""The simulator over HTTP: a Starlette app, and a way to run it on loopback in a thread.

Theory of operation
-------------------
:func:`create_app` builds the ASGI app around one :class:`Simulator` (the
:class:`~adapters.simulator.state.World` and its :class:`~adapters.simulator.script.Script`;
the handlers, in :mod:`adapters.simulator.handlers`). Handlers are thin: they
read the request (at most :data:`MAX_BODY` bytes), check the credentials,
call one World method under its lock, and write the
:class:`~adapters.simulator.replies.Reply` in the format the client accepts
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
  ``GET /v1/mmc/management/conferences/confDetail`` (``X-Access-Token``),
  ``PUT /v1/usg/acs/token`` (refresh) and ``POST /v1/usg/acs/token/validate``.

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
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import h11
import uvicorn
from attrs import define
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from adapters.simulator.config import SimulatorConfig
from adapters.simulator.discovery import discovery_routes
from adapters.simulator.handlers import (
    MAX_BODY,
    MAX_DEPTH,
    POLL_INTERVAL,
    TICK_INTERVAL,
    Simulator,
    nesting_exceeds,
)
from adapters.simulator.huawei import (
    HUAWEI_APP_AUTH,
    HUAWEI_DETAIL,
    HUAWEI_SERIES,
    HUAWEI_SUB_MEETINGS,
    HUAWEI_TOKEN,
    HUAWEI_TOKEN_VALIDATE,
)
from adapters.simulator.script import Script
from adapters.simulator.state import World
from adapters.wire.requests import loggable_url

log = logging.getLogger("callfsm.simulator")

# the handlers and their bounds moved to handlers.py; their old path keeps working
__all__ = [
    "HEADER_TIMEOUT",
    "MAX_BODY",
    "MAX_DEPTH",
    "POLL_INTERVAL",
    "TICK_INTERVAL",
    "Handler",
    "HeaderTimeout",
    "NotLoopback",
    "Simulator",
    "SimulatorHandle",
    "check_loopback",
    "create_app",
    "nesting_exceeds",
    "serve",
    "uvicorn_config",
]

#: Seconds a connection may take to send a request's line and headers, from its first byte (or from the
#: connection, for the first request). uvicorn times out idle keep-alive connections only, so a client that
#: sends headers one byte at a time (or none) would hold a connection for good: :class:`HeaderTimeout`.
HEADER_TIMEOUT: Final = 10.0


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's line and headers (:data:`HEADER_TIMEOUT`).

    uvicorn 0.55 arms a timer only between requests on a keep-alive connection and cancels it at the
    first byte, so a connection that never finishes its headers is never closed. Here a timer runs from
    the connection (or from the end of the previous response) until h11 has a whole request head; if it
    fires first, the connection is closed unanswered. The body is not under it: the handlers bound it.
    """

    header_timeout: float = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # a request head under way (or none yet): the deadline runs from its first byte
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # between requests the keep-alive timer rules; the next head's deadline starts with its first byte
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("a connection sent no whole request head in %.1f s: closed", self.header_timeout)
            self.transport.close()


def _header_timeout(seconds: float) -> type[HeaderTimeout]:
    return type("HeaderTimeout", (HeaderTimeout,), {"header_timeout": seconds})


def uvicorn_config(app: Starlette, *, header_timeout: float = HEADER_TIMEOUT) -> uvicorn.Config:
    """How the simulator is served, by :func:`serve` and by ``callfsm simulate`` alike (header deadline included)."""
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        http=_header_timeout(header_timeout),
    )


async def _unreadable(request: Request, exc: Exception) -> Response:
    """Input that made a parser fail past the checks above (too deep, undecodable): the client's fault, 400."""
    log.warning("%s %s -> 400 (%s)", request.method, loggable_url(request.url.path), type(exc).__name__)
    return Response(f"unreadable request: {type(exc).__name__}\n".encode(), status_code=400, media_type="text/plain")


#: Last resort, after the body checks: an input a parser cannot take is a 400, never a 500 with a traceback.
_INPUT_FAILURES: Final[Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]]] = {
    RecursionError: _unreadable,
    UnicodeError: _unreadable,
}


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` is its :class:`Simulator`."""
    simulator = Simulator(config or SimulatorConfig())
    # only the profile's own root: a client written for another server gets the 404 it would get there
    routes: list[Route] = list(simulator.ucwa_routes(simulator.world.profile.root))
    routes.append(Route(HUAWEI_APP_AUTH, simulator.huawei, methods=["POST"]))
    routes.append(Route(HUAWEI_SERIES, simulator.huawei, methods=["DELETE"]))
    routes.append(Route(HUAWEI_SUB_MEETINGS, simulator.huawei, methods=["DELETE"]))
    routes.append(Route(HUAWEI_DETAIL, simulator.huawei, methods=["GET"]))
    routes.append(Route(HUAWEI_TOKEN, simulator.huawei, methods=["PUT"]))
    routes.append(Route(HUAWEI_TOKEN_VALIDATE, simulator.huawei, methods=["POST"]))
    routes.extend(discovery_routes(simulator))  # GET / and the user resource: where a client starts
    app = Starlette(routes=routes, lifespan=simulator.lifespan, exception_handlers=_INPUT_FAILURES)
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
    def discovery_url(self) -> str:
        """Where a client starts (``UcwaClient.create_application``): the root discovery document."""
        return self.base_url + "/"

    @property
    def applications_url(self) -> str:
        """Where to POST to create an application (the profile's root, ``/ucwa/v1/applications`` by default)."""
        return self.base_url + self.simulator.world.profile.root

    @property
    def callback_token(self) -> str | None:
        """The bearer token the callbacks carry (``saas`` with a callback URL): the receiver's to check."""
        return self.simulator.config.callback_token

    def write_trace(self, path: str | Path) -> Path:
        """Write the server's view (adapters/routing/trace.py) as JSON Lines.

        Needs a trace in memory (the pytest fixture's).
        """
        if self.simulator.trace is None:
            raise RuntimeError("this simulator keeps no trace: set simulator.trace = TraceWriter(role='server')")
        return self.simulator.trace.dump(path)

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
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    header_timeout: float = HEADER_TIMEOUT,
    accept_any_token: bool = False,
) -> Iterator[SimulatorHandle]:
    """Run the simulator under uvicorn in a background thread; yield its handle; stop it cleanly.

    Without a token in ``config``, a random one is made (and required). A Huawei
    token is added to the accepted ones, so tests can skip the App ID step.
    ``config`` itself is not changed (the server runs on a copy).
    ``accept_any_token`` runs the "any token" mode of ``callfsm simulate`` (each token then owns the
    applications it creates); the handle's ``token`` is one such token.
    """
    check_loopback(host)
    config = config or SimulatorConfig()
    huawei_token = "sim-" + secrets.token_urlsafe(24)
    token = config.token or "cwt=" + secrets.token_urlsafe(24)
    config = attrs.evolve(
        config,
        token=None if accept_any_token else token,
        huawei_tokens=(*config.huawei_tokens, huawei_token),
        callback_token=config.callback_token or "sim-callback-" + secrets.token_urlsafe(24),
    )
    app = create_app(config)
    simulator: Simulator = app.state.simulator
    sock = _free_socket(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, header_timeout=header_timeout))
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
        yield SimulatorHandle(f"http://{shown_host}:{bound}", token, simulator, huawei_token, app_id, app_key)
    finally:
        simulator.world.close()
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


Handler = Callable[[Request], Awaitable[Response]]
