"""A loopback UCWA server for the adapter tests: Starlette under uvicorn, real HTTP.

It plays the server side of one application (``/ucwa/v1/applications/app1``):

- ``GET /ucwa/v1/applications/app1``: the application resource (``events`` and
  ``startAudioVideo`` links).
- ``GET .../events?ack=N``: the P-GET. Each GET takes the next queued batch of
  events (waiting up to ``hold`` seconds, then answering an empty batch, as
  the real server does after its ``timeout``). The ``next`` link is
  ``events?ack=<n+1>`` unless the test queued its own links (``next_links``).
- ``POST .../communication/startAudioVideo``: 201 + ``Location``, then queues
  ``started`` (Connecting, with a ``cancel`` link) and ``completed`` as the
  scenario says: ``"connect"`` (Success, embedded Connected) or
  ``"decline"`` (Failure, RemoteFailure/Declined).
- ``POST .../audioVideoInvitations/{id}/{accept|decline|cancel}``: 204, then
  the matching ``completed``.
- ``GET .../audioVideoInvitations/{id}``: the invitation as last described.
- Anything scripted with :meth:`UcwaFake.script` answers first (409
  PGetReplaced, 404 ApplicationNotFound, 500s...).

Every request is recorded (method, raw path with query, headers, body).
Requests without ``Authorization: Bearer <token>`` get 401.

The server runs in a thread (its own event loop); the test thread and the
handlers share state under a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import uvicorn
from attrs import define, field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

APP = "/ucwa/v1/applications/app1"
EVENTS = f"{APP}/events"
START_AV = f"{APP}/communication/startAudioVideo"
INVITATIONS = f"{APP}/communication/audioVideoInvitations"
TOKEN = "cwt=UCWA-TEST-TOKEN-5f3a9"
JSON_TYPE = "application/vnd.microsoft.com.ucwa+json"


@define
class Recorded:
    method: str
    #: Path and query exactly as received (``raw_path`` + ``query_string``).
    target: str
    headers: dict[str, str]
    body: bytes


@define
class Scripted:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(factory=dict)


def error_body(code: str, subcode: str | None = None, message: str | None = None) -> bytes:
    document: dict[str, str] = {"code": code}
    if subcode is not None:
        document["subcode"] = subcode
    if message is not None:
        document["message"] = message
    return json.dumps(document).encode()


class UcwaFake:
    def __init__(self, hold: float = 0.3) -> None:
        self.lock = threading.Lock()
        self.hold = hold
        self.reset()
        self.app: ASGIApp = Starlette(
            routes=[
                Route(APP, self.application, methods=["GET"]),
                Route(EVENTS, self.events, methods=["GET"]),
                Route(START_AV, self.start_av, methods=["POST"]),
                Route(INVITATIONS + "/{inv}", self.get_invitation, methods=["GET"]),
                Route(INVITATIONS + "/{inv}/{verb}", self.invitation_link, methods=["POST"]),
            ]
        )
        self.base_url = ""

    def reset(self) -> None:
        with self.lock:
            # a P-GET still held from an earlier test must not take this test's events
            self.generation = getattr(self, "generation", 0) + 1
            self.requests: list[Recorded] = []
            self.batches: deque[list[dict[str, Any]]] = deque()
            self.scripted: dict[tuple[str, str], deque[Scripted]] = {}
            self.next_links: deque[str] = deque()
            self.ack = 1
            self.scenario = "connect"
            #: Seconds the 201 waits after the events are queued (lets ``started`` beat it).
            self.create_delay = 0.0
            self.invitations: dict[str, dict[str, Any]] = {}
            self.counter = 0

    # -- test-side API ------------------------------------------------------------------

    def script(self, method: str, path: str, *answers: Scripted) -> None:
        """Answer the next requests to ``method path`` (path without query) with ``answers``."""
        with self.lock:
            self.scripted.setdefault((method, path), deque()).extend(answers)

    def push(self, *events: dict[str, Any]) -> None:
        """Queue one batch (one P-GET answer) of events from the communication sender."""
        with self.lock:
            self.batches.append(list(events))

    def seen(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.target.split("?")[0] == path)
            ]

    # -- helpers -----------------------------------------------------------------------

    def invitation_resource(self, inv: str) -> dict[str, Any]:
        return self.invitations[inv]

    def _record(self, request: Request, body: bytes) -> Recorded:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        target = raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        recorded = Recorded(request.method, target, {k.lower(): v for k, v in request.headers.items()}, body)
        with self.lock:
            self.requests.append(recorded)
        return recorded

    def _scripted(self, method: str, path: str) -> Response | None:
        with self.lock:
            queue = self.scripted.get((method, path))
            answer = queue.popleft() if queue else None
        if answer is None:
            return None
        headers = {"content-type": "application/json", **answer.headers}
        return Response(answer.body, status_code=answer.status, headers=headers)

    async def _common(self, request: Request) -> tuple[Recorded, Response | None]:
        recorded = self._record(request, await request.body())
        scripted = self._scripted(request.method, request.url.path)
        if scripted is not None:
            return recorded, scripted
        if recorded.headers.get("authorization") != f"Bearer {TOKEN}":
            return recorded, Response(error_body("Unauthorized"), 401, media_type="application/json")
        return recorded, None

    # -- handlers --------------------------------------------------------------------------

    async def application(self, request: Request) -> Response:
        _, early = await self._common(request)
        if early is not None:
            return early
        document = {
            "rel": "application",
            "_links": {"self": {"href": APP}, "events": {"href": f"{EVENTS}?ack=1"}},
            "_embedded": {
                "communication": {
                    "rel": "communication",
                    "_links": {"self": {"href": f"{APP}/communication"}, "startAudioVideo": {"href": START_AV}},
                }
            },
        }
        return Response(json.dumps(document), 200, media_type=JSON_TYPE)

    async def events(self, request: Request) -> Response:
        _, early = await self._common(request)
        if early is not None:
            return early
        deadline = time.monotonic() + self.hold
        generation = self.generation
        batch: list[dict[str, Any]] | None = None
        while True:
            with self.lock:
                if generation != self.generation:
                    return Response(b"", 410)
                if self.batches:
                    batch = self.batches.popleft()
            if batch is not None or time.monotonic() >= deadline:
                break
            if await request.is_disconnected():
                return Response(b"", 499)
            await asyncio.sleep(0.01)
        with self.lock:
            self_href = f"{EVENTS}?{request.url.query}"
            self.ack += 1
            next_href = self.next_links.popleft() if self.next_links else f"{EVENTS}?ack={self.ack}"
        document: dict[str, Any] = {"_links": {"self": {"href": self_href}, "next": {"href": next_href}}}
        if batch:
            document["sender"] = [{"rel": "communication", "href": f"{APP}/communication", "events": batch}]
        return Response(json.dumps(document), 200, media_type=JSON_TYPE)

    async def start_av(self, request: Request) -> Response:
        recorded, early = await self._common(request)
        if early is not None:
            return early
        body = json.loads(recorded.body)
        with self.lock:
            self.counter += 1
            inv = f"av{self.counter}"
            scenario = self.scenario
        href = f"{INVITATIONS}/{inv}"
        resource = {
            "rel": "audioVideoInvitation",
            "direction": "Outgoing",
            "state": "Connecting",
            "operationId": body.get("operationId"),
            "to": body.get("to"),
            "_links": {"self": {"href": href}, "cancel": {"href": f"{href}/cancel"}},
        }
        self.invitations[inv] = resource
        self.push({"link": {"rel": "audioVideoInvitation", "href": href}, "type": "started",
                   "_embedded": {"audioVideoInvitation": resource}})
        if scenario == "connect":
            final = {**resource, "state": "Connected"}
            self.invitations[inv] = final
            self.push({"link": {"rel": "audioVideoInvitation", "href": href}, "type": "completed",
                       "status": "Success", "_embedded": {"audioVideoInvitation": final}})
        elif scenario == "decline":
            self.push({"link": {"rel": "audioVideoInvitation", "href": href}, "type": "completed",
                       "status": "Failure",
                       "reason": {"code": "RemoteFailure", "subcode": "Declined",
                                  "message": "Outgoing invitation declined."}})
        # "ring": started only; the test decides what comes next
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        return Response(b"", 201, headers={"location": href})

    async def get_invitation(self, request: Request) -> Response:
        _, early = await self._common(request)
        if early is not None:
            return early
        inv = request.path_params["inv"]
        if inv not in self.invitations:
            return Response(error_body("NotFound"), 404, media_type="application/json")
        return Response(json.dumps(self.invitations[inv]), 200, media_type=JSON_TYPE)

    async def invitation_link(self, request: Request) -> Response:
        _, early = await self._common(request)
        if early is not None:
            return early
        inv, verb = request.path_params["inv"], request.path_params["verb"]
        href = f"{INVITATIONS}/{inv}"
        link = {"rel": "audioVideoInvitation", "href": href}
        if verb == "accept":
            self.push({"link": link, "type": "completed", "status": "Success",
                       "_embedded": {"audioVideoInvitation": {**self.invitations.get(inv, {}), "state": "Connected"}}})
        elif verb == "decline":
            self.push({"link": link, "type": "completed", "status": "Failure",
                       "reason": {"code": "LocalFailure", "subcode": "Declined"}})
        elif verb == "cancel":
            self.push({"link": link, "type": "completed", "status": "Failure",
                       "reason": {"code": "LocalFailure", "subcode": "Canceled"}})
        else:
            return Response(error_body("NotFound"), 404, media_type="application/json")
        return Response(b"", 204)

    def incoming(self, inv: str = "in1") -> str:
        """Queue an incoming audio/video invitation (started, Connecting, accept/decline links)."""
        href = f"{INVITATIONS}/{inv}"
        resource = {
            "rel": "audioVideoInvitation",
            "direction": "Incoming",
            "state": "Connecting",
            "_links": {
                "self": {"href": href},
                "accept": {"href": f"{href}/accept"},
                "decline": {"href": f"{href}/decline"},
            },
        }
        self.invitations[inv] = resource
        self.push({"link": {"rel": "audioVideoInvitation", "href": href}, "type": "started",
                   "_embedded": {"audioVideoInvitation": resource}})
        return href


# -- running an ASGI app on loopback ---------------------------------------------------------------


class Channels:
    """The sync event channels one test made, closed at its end with their GETs sent ahead settled.

    A module-wide fake outlives its tests: a GET one test's channel sent ahead must have been answered
    before the next test resets the fake, or that GET would take the next test's events.
    """

    def __init__(self) -> None:
        self.made: list[Any] = []

    def add(self, channel: Any) -> Any:
        self.made.append(channel)
        return channel

    def settle(self) -> None:
        """Wait for every GET sent ahead to be answered (the fake's hold is short)."""
        for thread in [c.sent_ahead for c in self.made if c.sent_ahead is not None]:
            thread.join(timeout=10)

    def close(self, fake: UcwaFake) -> None:
        threads = [c.sent_ahead for c in self.made if c.sent_ahead is not None]
        for channel in self.made:
            channel.close()
        self.made.clear()
        fake.reset()  # a GET the fake still holds answers at once
        for thread in threads:
            thread.join(timeout=10)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with contextlib.closing(free_socket()) as sock:
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=5)
        sock.close()
