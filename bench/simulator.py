"""Item 5: the simulator and the client over loopback HTTP.

Theory of operation
-------------------
Two servers run side by side in this process, each under uvicorn in a thread
of its own with the same settings as :func:`adapters.simulator.serve` (one
worker, the same loop and protocol choice, ``log_level="warning"``, no access
log, lifespan on):

- the simulator (:func:`adapters.simulator.serve`), holding one application
  with one outgoing audio/video invitation that keeps ringing (``no_answer``
  for an hour), so the resource it serves does not change during the run;
- a *bare* ASGI handler (:func:`bare_app`) that answers every request with
  the exact status, headers that matter (``content-type``) and body bytes
  the simulator gave for that invitation, read once before timing.

A *request* trial sends ``batch`` GETs of the invitation's href, one after
the other, through one keep-alive ``httpx.Client`` with the same headers
(``Authorization: Bearer``, ``Accept: application/json``) to one server, and
returns microseconds per request (a full round trip: client, loopback,
uvicorn, the app). The two trials are interleaved round by round; the ratio
is the median of per-round ratios (:mod:`bench.measure`).

A *lifecycle* trial creates a fresh application (untimed), then times
``lifecycles`` calls through the adapters' :class:`~adapters.ucwa.client.AsyncUcwaClient`,
``concurrency`` at a time: start (POST ``startAudioVideo``, 201), events
through the P-GET loop (started, then completed Success: the remote answers
at once), hang-up (POST the ``cancel`` link, 204), until every invitation is
``hung_up``. It returns lifecycles per second and counts the HTTP exchanges a
lifecycle took (the simulator's transcript: creates, P-GETs, hang-ups). Its
reference is the floor of that many round trips to the bare handler, at the
bare cost measured in the same round: ``1 / (exchanges × bare µs)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from adapters.simulator import SimulatorConfig, SimulatorHandle, serve
from adapters.ucwa.client import AsyncUcwaClient, StateChange
from bench.measure import timed
from fsm.invitation import Invitation, InvitationState

APPLICATIONS = "/ucwa/v1/applications"  # the default (ucwa) profile's root
ACCEPT_JSON = "application/json"


def uvicorn_config(app: Any) -> uvicorn.Config:
    """The settings :func:`adapters.simulator.serve` runs the simulator with."""
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)


def bare_app(status: int, content_type: str, body: bytes) -> Any:
    """An ASGI app that answers every request with these bytes (and handles the lifespan protocol)."""
    headers = [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode())]
    start = {"type": "http.response.start", "status": status, "headers": headers}
    whole = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send(start)
        await send(whole)

    return app


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free 127.0.0.1 port in a thread; yields the base URL."""
    # the simulator's socket, made the same way (IPPROTO_TCP: see adapters.simulator.app._free_socket)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="bench-bare-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the bare ASGI server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@dataclass
class Lifecycles:
    per_second: float
    #: HTTP exchanges per lifecycle (the simulator's answers, P-GETs included).
    exchanges: float


class SimulatorBench:
    """The two servers, the invitation both serve, and the trials."""

    def __init__(self, sim: SimulatorHandle, bare_url: str, target: str, http: httpx.Client) -> None:
        self.sim = sim
        self.bare_url = bare_url
        self.target = target
        self.http = http

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sim.token}", "Accept": ACCEPT_JSON}

    def request_trial(self, base_url: str, batch: int) -> float:
        url = base_url + self.target
        get = self.http.get
        headers = self.headers
        statuses: list[int] = []

        def work() -> None:
            for _ in range(batch):
                statuses.append(get(url, headers=headers).status_code)

        ns = timed(work)
        if set(statuses) != {200}:
            raise RuntimeError(f"{base_url}: GET {self.target} answered {sorted(set(statuses))}")
        return ns / batch / 1000.0

    def lifecycle_trial(self, lifecycles: int, concurrency: int) -> Lifecycles:
        app_url = create_application(self.http, self.sim)
        before = len(self.sim.simulator.transcript)
        # the collector is off while timing, as in every other trial (bench.measure.timed)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            seconds, hung_up = asyncio.run(_lifecycles(app_url, self.sim.token, lifecycles, concurrency))
        finally:
            if was_enabled:
                gc.enable()
        exchanges = (len(self.sim.simulator.transcript) - before) / lifecycles
        if hung_up != lifecycles:
            raise RuntimeError(f"{hung_up} of {lifecycles} calls ended hung_up")
        return Lifecycles(lifecycles / seconds, exchanges)


def create_application(http: httpx.Client, sim: SimulatorHandle) -> str:
    response = http.post(
        sim.base_url + APPLICATIONS,
        json={"UserAgent": "callfsm-bench", "EndpointId": "bench", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {sim.token}"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"creating an application: HTTP {response.status_code}")
    return sim.base_url + response.headers["location"]


async def _lifecycles(app_url: str, token: str, count: int, concurrency: int) -> tuple[float, int]:
    """Seconds for ``count`` lifecycles, ``concurrency`` at a time, and how many ended hung_up."""
    moved: dict[int, asyncio.Event] = {}

    def on_change(change: StateChange) -> None:
        event = moved.get(id(change.model))
        if event is not None:
            event.set()

    async with AsyncUcwaClient(app_url, token=token, on_change=on_change) as client:
        limit = asyncio.Semaphore(concurrency)

        async def one(n: int) -> Invitation:
            async with limit:
                call = await client.start_audio_video(f"sip:bench{n}@callfsm.test")
                event = moved.setdefault(id(call), asyncio.Event())
                while call.state is not InvitationState.CONNECTED and not call.is_terminal:
                    event.clear()
                    await event.wait()
                if call.state is InvitationState.CONNECTED:
                    await client.cancel(call)
                del moved[id(call)]
                return call

        start = time.perf_counter()
        calls = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(count))), timeout=120)
        seconds = time.perf_counter() - start
        return seconds, sum(1 for call in calls if call.state is InvitationState.HUNG_UP)


@contextlib.contextmanager
def running() -> Iterator[SimulatorBench]:
    """Both servers up, one ringing invitation, its bytes served by the bare handler too."""
    # the remote answers at once: a lifecycle measures the servers and the client, not scripted waits
    config = SimulatorConfig(default_answer_delay=0.0, coalesce=True, pget_timeout=30.0)
    with serve(config) as sim, httpx.Client(timeout=httpx.Timeout(15.0, connect=10.0)) as http:
        app_url = create_application(http, sim)
        headers = {"Authorization": f"Bearer {sim.token}", "Accept": ACCEPT_JSON}
        application = http.get(app_url, headers=headers).json()
        start = application["_embedded"]["communication"]["_links"]["startAudioVideo"]["href"]
        sim.script.no_answer(3600.0)
        created = http.post(
            sim.base_url + start,
            json={"operationId": "bench-ringing", "to": "sip:ringing@callfsm.test"},
            headers=headers,
        )
        if created.status_code != 201:
            raise RuntimeError(f"creating the ringing invitation: HTTP {created.status_code}")
        target = created.headers["location"]
        sample = http.get(sim.base_url + target, headers=headers)
        if sample.status_code != 200:
            raise RuntimeError(f"GET {target}: HTTP {sample.status_code}")
        app = bare_app(sample.status_code, sample.headers["content-type"], sample.content)
        with serve_asgi(app) as bare_url:
            same = http.get(bare_url + target, headers=headers)
            if same.content != sample.content:
                raise RuntimeError("the bare handler does not answer the simulator's bytes")
            yield SimulatorBench(sim, bare_url, target, http)
