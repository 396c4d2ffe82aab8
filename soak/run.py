"""The client's side of the soak: drive the calls, inject PGetReplaced, compare, report.

Theory of operation
-------------------
One asyncio loop drives every call through the adapters'
:class:`~adapters.ucwa.client.AsyncUcwaClient` (a few of them, one UCWA
application each, calls dealt round-robin). Asyncio rather than sync clients
in threads: a call spends its life waiting (for the remote party, for the
event channel), so hundreds of them fit in one thread, and the event channel
of each client is a task that issues the next P-GET before it processes the
answer in hand (docs/protocol.md §2.2), which a sync client cannot do. Threads would
also share one interpreter lock with nothing to gain.

A call (:func:`Soak.call`):

1. the create POST, made one at a time across the whole soak (the plans queue
   in the same order on the server: :mod:`soak.scenarios`); an injected 500
   takes no plan, and the same call is tried again with a new operation id;
2. the user's moves: cancel after ``cancel_after`` (when the ``started`` was
   dropped the client has no ``cancel`` link, so it GETs the invitation, as an
   app must); a connected call is held ``hold_for`` and hung up; an injected
   500 on a POST is retried;
3. wait until the model is terminal, or its deadline (start + scenario span +
   hold + grace) passes: then it is *stuck*.

Faults: the simulator's own (``FaultConfig``, seeded in the child), plus
``409 PGetReplaced``, which needs a second P-GET: a rogue GET on a client's
current ``next`` URL, at seeded moments. The client's loop then ends
(``ChannelEnd.REPLACED``) and the soak starts it again from its cursor, as an
app whose other instance went away would.

The checks, at the end:

- *outcomes*: every call the server completed (its shadow applied a
  ``completed``) is terminal on the client with the same (success, status,
  code, subcode); and, stricter, in the same final state as the server's
  shadow (a *state mismatch* otherwise);
- *stuck*: no call past its deadline in a non-terminal state, and no live
  model left in any client's dispatcher that is not terminal;
- *violations*: everything the client could complain about (refused
  triggers, unrouted events, refused requests, channel retries and endings,
  warnings logged by the adapters, the server machines' refusals) is
  classified (:class:`Findings`, :func:`classify_log`,
  :func:`classify_request_error`): explained by an injected fault (or by a
  scenario's designed race), or unexplained;
- *memory*: tracemalloc's live bytes in this process (the client: the server
  is in its child) once every call has ended and the dispatchers have
  forgotten them, vs the baseline taken after a warm-up of the first calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from adapters.routing.dispatcher import DispatchResult
from adapters.ucwa.channel import Backoff, ChannelEnd
from adapters.ucwa.client import AsyncUcwaClient, StateChange
from adapters.wire.ucwa_errors import UcwaError
from fsm.actions import FetchResource
from fsm.errors import CallFsmError, LinkMissing
from fsm.invitation import Invitation, InvitationState
from soak.scenarios import CallSpec, Scenario, calls
from soak.server import OutcomeKey, ServerReport, outcome_key, serve_child

S = InvitationState
RINGING = frozenset({S.CONNECTING, S.ALERTING, S.TEAM_RING, S.FORWARDED})
#: Resources the client has no machine for: their events are routed nowhere by design.
UNMODELLED = frozenset({"conversation", "audioVideo", "messaging", "participant", "localParticipant"})

APPLICATIONS = "/ucwa/v1/applications"  # the default (ucwa) profile's root


@dataclass(frozen=True)
class Options:
    calls: int = 10_000
    concurrency: int = 64
    seconds: float = 600.0
    seed: int = 1
    apps: int = 4
    time_scale: float = 1.0
    #: Seconds past a scenario's own span before a non-terminal call counts as stuck.
    grace: float = 15.0
    #: Calls run before the memory baseline is read (at most half of ``calls``): enough to fill the
    #: client's bounded caches (each dispatcher's 1,024-event duplicate window, the 4,096-href key cache).
    warmup: int = 1500
    #: Probability, per call started, that a rogue P-GET replaces a client's pending one.
    replace_rate: float = 0.01
    #: Connections per client (httpx keeps this many alive; the P-GET holds one).
    connections: int = 24
    faults: dict[str, float] = field(
        default_factory=lambda: {
            "duplicate": 0.05,
            "drop_started": 0.08,
            "early_events": 0.03,
            "delay": 0.1,
            "max_delay": 0.05,
            "resume": 0.004,
            "server_error": 0.01,
        }
    )

    def limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)


#: A quick run that still meets every fault: 60 calls, shorter delays, higher fault rates.
SMOKE = Options(
    calls=60,
    concurrency=20,
    seconds=60.0,
    apps=2,
    time_scale=0.3,
    grace=10.0,
    warmup=15,
    replace_rate=0.15,
    faults={
        "duplicate": 0.15,
        "drop_started": 0.15,
        "early_events": 0.1,
        "delay": 0.2,
        "max_delay": 0.03,
        "resume": 0.03,
        "server_error": 0.03,
    },
)


# -- what the client saw ----------------------------------------------------------------------------


@dataclass(slots=True)
class CallResult:
    index: int
    scenario: Scenario
    #: Operation id of the attempt the server accepted (``None``: every attempt refused).
    operation_id: str | None = None
    href: str | None = None
    state: str | None = None
    terminal: bool = False
    outcome: OutcomeKey | None = None
    stuck: bool = False
    refused_creates: int = 0
    #: The client's model, kept until the comparison: an event may still reach it after the call ended
    #: (a completed that follows a GET), so its outcome is read at the end, when the channels are quiet.
    model: Invitation | None = None
    #: The model's history as text, kept when the model goes and its end looks odd (no status, not terminal).
    history: str | None = None

    def read(self) -> None:
        """Take the state and outcome from the model, and let the model go."""
        model = self.model
        if model is not None:
            self.state = model.state.value
            self.terminal = model.is_terminal
            self.outcome = outcome_key(model.outcome)
            self.href = model.href
            if not self.terminal or self.outcome is None or self.outcome[1] is None:
                self.history = history(model)
            self.model = None


class Findings:
    """What went wrong or was odd, counted by (kind, explanation), with the first few details of each.

    The explanation is the injected fault (or the scenario's designed race)
    that accounts for it; ``None`` means nothing does: unexplained.
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str | None]] = Counter()
        self.examples: dict[tuple[str, str | None], list[str]] = {}

    def add(self, kind: str, explained_by: str | None, detail: str) -> None:
        key = (kind, explained_by)
        self.counts[key] += 1
        shown = self.examples.setdefault(key, [])
        if len(shown) < 5:
            shown.append(detail)

    @property
    def explained(self) -> int:
        return sum(n for (_, why), n in self.counts.items() if why is not None)

    @property
    def unexplained(self) -> int:
        return sum(n for (_, why), n in self.counts.items() if why is None)


class LogWatch(logging.Handler):
    """Warnings and errors the adapters log: each one is a finding to classify."""

    def __init__(self, findings: Findings) -> None:
        super().__init__(logging.WARNING)
        self.findings = findings

    def emit(self, record: logging.LogRecord) -> None:
        self.findings.add(*classify_log(record.name, record.getMessage()))


def classify_log(logger: str, message: str) -> tuple[str, str | None, str]:
    kind = f"log {logger}"
    if "HTTP 500 ServiceFailure" in message:
        return kind, "server_error (injected 500)", message
    return kind, None, message


def classify_request_error(what: str, error: UcwaError) -> tuple[str, str | None, str]:
    """A request of the soak's own refused by the server."""
    kind = f"refused {what}"
    if error.status == 500 and error.code == "ServiceFailure":
        return kind, "server_error (injected 500)", str(error)
    if what == "cancel" and error.status == 409:
        # the completed was on its way when the cancel arrived: the remote won the race
        return kind, "cancel crossed the remote's completion (race)", str(error)
    return kind, None, str(error)


class SoakClient(AsyncUcwaClient):
    """The adapters' client, with every dispatch result shown to the soak first."""

    observer: Callable[[DispatchResult], None] | None = None

    async def _dispatched(self, result: DispatchResult) -> None:
        if self.observer is not None:
            self.observer(result)
        await super()._dispatched(result)


# -- the soak -----------------------------------------------------------------------------------------


@dataclass
class Report:
    options: Options
    started: int = 0
    completed_by_server: int = 0
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    #: Same outcome, but the client's terminal state is not the server's (shadow) state.
    state_mismatches: list[Mismatch] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    not_accepted: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    findings: Findings = field(default_factory=Findings)
    scenarios: Counter[str] = field(default_factory=Counter)
    baseline_bytes: int = 0
    end_bytes: int = 0
    peak_bytes: int = 0
    seconds: float = 0.0
    calls_seconds: float = 0.0
    server_responses: int = 0
    plans_left: int = 0
    stopped_early: bool = False
    cpu_client: float = 0.0
    rogue_gets: int = 0
    cpu_server: float = 0.0

    @property
    def memory_ratio(self) -> float:
        return self.end_bytes / self.baseline_bytes if self.baseline_bytes else float("inf")

    @property
    def ok(self) -> bool:
        return (
            not self.mismatches
            and not self.state_mismatches
            and not self.stuck
            and self.findings.unexplained == 0
            and self.memory_ratio <= 1.10
            and self.started > 0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "options": {k: v for k, v in asdict(self.options).items()},
            "started": self.started,
            "not_accepted": self.not_accepted,
            "completed_by_server": self.completed_by_server,
            "matched": self.matched,
            "mismatches": [asdict(m) for m in self.mismatches],
            "state_mismatches": [asdict(m) for m in self.state_mismatches],
            "stuck": self.stuck,
            "faults": self.faults,
            "rogue_gets": self.rogue_gets,
            "violations": {
                "explained": self.findings.explained,
                "unexplained": self.findings.unexplained,
                "by_kind": [
                    {"kind": kind, "explained_by": why, "count": n, "examples": self.findings.examples[(kind, why)]}
                    for (kind, why), n in sorted(self.findings.counts.items(), key=_by_kind)
                ],
            },
            "scenarios": dict(self.scenarios),
            "memory": {
                "baseline_bytes": self.baseline_bytes,
                "end_bytes": self.end_bytes,
                "ratio": round(self.memory_ratio, 4),
                "peak_bytes": self.peak_bytes,
            },
            "seconds": round(self.seconds, 1),
            "calls_seconds": round(self.calls_seconds, 1),
            "calls_per_second": round(self.started / self.calls_seconds, 2) if self.calls_seconds else None,
            "server_responses": self.server_responses,
            "cpu_seconds": {"client": round(self.cpu_client, 1), "simulator": round(self.cpu_server, 1)},
            "stopped_early": self.stopped_early,
            "ok": self.ok,
        }

    def render(self) -> str:
        o = self.options
        lines = [
            f"callfsm soak: seed {o.seed}, {o.calls} calls asked, concurrency {o.concurrency}, "
            f"{o.apps} applications, time scale {o.time_scale}, bound {o.seconds:.0f} s",
            f"calls started:             {self.started}"
            + (" (stopped by the time bound)" if self.stopped_early else ""),
            f"  by scenario:             {', '.join(f'{k} {v}' for k, v in sorted(self.scenarios.items()))}",
            f"  never accepted (500s):   {self.not_accepted}",
            f"completed by the server:   {self.completed_by_server}",
            f"outcomes matched:          {self.matched}",
            f"outcome mismatches:        {len(self.mismatches)}",
            f"state mismatches:          {len(self.state_mismatches)} (same outcome, another final state)",
            f"stuck machines:            {len(self.stuck)}",
            "faults injected:           "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none")
            + f" (pget_replaced: 409s caused by {self.rogue_gets} rogue P-GETs)",
            f"violations:                {self.findings.explained} explained, {self.findings.unexplained} unexplained",
        ]
        for (kind, why), n in sorted(self.findings.counts.items(), key=lambda kv: (kv[0][1] is not None, kv[0])):
            lines.append(f"  {n:6d}  {kind}: {why or 'UNEXPLAINED'}")
            if why is None:
                lines.extend(f"            e.g. {example}" for example in self.findings.examples[(kind, why)][:3])
        lines += [f"  mismatch: {m}" for m in self.mismatches[:10]]
        lines += [f"  state mismatch: {m}" for m in self.state_mismatches[:10]]
        lines += [f"  stuck: {s}" for s in self.stuck[:10]]
        lines += [
            f"memory (client, traced):   baseline {self.baseline_bytes:,} B, end {self.end_bytes:,} B "
            f"({self.memory_ratio:.3f}x), peak {self.peak_bytes:,} B",
            f"duration:                  {self.seconds:.1f} s ({self.calls_seconds:.1f} s of calls, "
            f"{self.started / self.calls_seconds if self.calls_seconds else 0:.1f} calls/s; "
            f"{self.server_responses:,} server responses; CPU: client {self.cpu_client:.1f} s, "
            f"simulator {self.cpu_server:.1f} s)",
            f"result:                    {'PASS' if self.ok else 'FAIL'}",
        ]
        return "\n".join(lines)


class Soak:
    def __init__(self, options: Options, base_url: str, token: str) -> None:
        self.o = options
        self.base_url = base_url
        self.token = token
        self.specs = calls(options.seed, options.calls, time_scale=options.time_scale)
        self.findings = Findings()
        self.results: list[CallResult] = []
        self.clients: list[SoakClient] = []
        self.watchers: list[asyncio.Task[None]] = []
        self.create_lock = asyncio.Lock()
        self.changed: dict[int, asyncio.Event] = {}
        self.rng = random.Random(f"callfsm-soak-replace:{options.seed}")
        self.rogue_at: dict[int, float] = {}
        self.replaced_injected = 0
        self.replaced_seen = 0
        self.stopping = False
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(15.0, connect=10.0), limits=httpx.Limits(max_connections=None)
        )

    # -- setup ---------------------------------------------------------------------------------

    async def create_application(self, n: int) -> str:
        body = {"UserAgent": "callfsm-soak", "EndpointId": f"soak-endpoint-{n}", "Culture": "en-US"}
        for _ in range(10):
            response = await self.http.post(
                self.base_url + APPLICATIONS, json=body, headers={"Authorization": f"Bearer {self.token}"}
            )
            if response.status_code == 201:
                return self.base_url + response.headers["location"]
            self.findings.add("refused create application", _server_error(response.status_code), str(response))
        raise RuntimeError("the simulator refused to create an application ten times")

    async def connect(self, client: SoakClient) -> None:
        for _ in range(10):
            try:
                await client.connect()
                return
            except UcwaError as error:
                self.findings.add(*classify_request_error("read the application", error))
        raise RuntimeError("the client could not read its application ten times")

    async def start_clients(self) -> None:
        for n in range(self.o.apps):
            url = await self.create_application(n)
            client = SoakClient(
                url,
                token=self.token,
                client=httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=10.0), limits=self.o.limits()),
                on_change=self.on_change,
                # a soak on loopback: retry quickly, but as many times as a real app would
                backoff=Backoff(base=0.02, max_delay=0.5, max_attempts=10),
            )
            client.observer = self.observe
            # settled calls are forgotten two seconds after they settle (the default minute is for real servers)
            client.dispatcher.grace = 2.0
            await self.connect(client)
            self.clients.append(client)
            self.watchers.append(asyncio.ensure_future(self.watch(len(self.clients) - 1)))

    async def watch(self, n: int) -> None:
        """Keep client ``n``'s event channel running; an ending the soak did not cause is a finding."""
        while not self.stopping:
            client = self.clients[n]
            task = client.start()
            try:
                end = await asyncio.shield(task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.findings.add("event channel failed", None, f"{type(exc).__name__}: {exc}")
                end = None
            if self.stopping:
                return
            if end is ChannelEnd.REPLACED and time.monotonic() - self.rogue_at.get(n, -1e9) < 5.0:
                self.replaced_seen += 1
                self.findings.add("event channel replaced (409 PGetReplaced)", "rogue P-GET (injected)", str(n))
            else:
                self.findings.add("event channel ended", None, f"client {n}: {end}")
            if end is ChannelEnd.APPLICATION_NOT_FOUND:
                return
            # start again from the cursor: connect() builds a new loop that goes on from the old one's next
            await self.connect(client)

    async def rogue(self, n: int) -> None:
        """A second P-GET on client ``n``'s next URL: the server releases the client's with 409 PGetReplaced."""
        channel = self.clients[n].channel
        if channel is None:
            return
        self.rogue_at[n] = time.monotonic()
        self.replaced_injected += 1
        with contextlib.suppress(httpx.HTTPError):
            await self.http.get(
                channel.next_url,
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
                timeout=httpx.Timeout(0.3, connect=1.0),
            )

    # -- observation -------------------------------------------------------------------------------

    def on_change(self, change: StateChange) -> None:
        event = self.changed.get(id(change.model))
        if event is not None:
            event.set()

    def observe(self, result: DispatchResult) -> None:
        for violation in result.violations:
            self.findings.add("refused trigger on an event", None, str(violation))
        for unrouted in result.unknown:
            name = unrouted.rel.rsplit("/", 1)[-1]
            if name in UNMODELLED:
                continue  # conversations and modalities have no machine: not a violation
            self.findings.add(f"unrouted {name} event", None, str(unrouted))

    async def until(self, model: Invitation, check: Callable[[], bool], deadline: float) -> bool:
        """Wait until ``check()`` or the deadline (monotonic); woken by the model's changes."""
        event = self.changed.setdefault(id(model), asyncio.Event())
        while not check():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return True

    # -- one call ------------------------------------------------------------------------------------

    async def call(self, spec: CallSpec, limit: asyncio.Semaphore) -> None:
        result = CallResult(spec.index, spec.scenario)
        self.results.append(result)
        client = self.clients[spec.index % len(self.clients)]
        invitation: Invitation | None = None
        try:
            invitation = await self.create(client, spec, result)
            if invitation is not None:
                await self.drive(client, spec, invitation, result)
        except Exception as exc:  # one call's crash is a finding, not the end of the soak
            self.findings.add("the soak's call task failed", None, f"call {spec.index}: {type(exc).__name__}: {exc}")
            result.model = invitation
            result.stuck = invitation is not None and not invitation.is_terminal
        finally:
            if invitation is not None:
                self.changed.pop(id(invitation), None)
            limit.release()

    async def create(self, client: SoakClient, spec: CallSpec, result: CallResult) -> Invitation | None:
        async with self.create_lock:
            for attempt in range(1, 11):
                operation_id = f"soak-{spec.index}-{attempt}"
                try:
                    invitation = await client.start_audio_video(spec.to, operation_id=operation_id)
                except UcwaError as error:
                    result.refused_creates += 1
                    self.findings.add(*classify_request_error("create (startAudioVideo)", error))
                    continue
                result.operation_id = operation_id
                result.href = invitation.href
                return invitation
        return None

    async def post(self, what: str, client: SoakClient, invitation: Invitation, act: Callable[[], Any]) -> bool:
        """A POST of the user's, retried after an injected 500; False when the server refused it otherwise."""
        for _ in range(10):
            try:
                await act()
                return True
            except UcwaError as error:
                kind, why, detail = classify_request_error(what, error)
                self.findings.add(kind, why, detail)
                if error.status != 500:
                    return False
        return False

    async def drive(self, client: SoakClient, spec: CallSpec, invitation: Invitation, result: CallResult) -> None:
        begun = time.monotonic()
        deadline = begun + spec.span + spec.hold_for + self.o.grace
        if spec.cancel_after is not None:
            await self.until(invitation, lambda: invitation.state not in RINGING, begun + spec.cancel_after)
            await self.cancel(client, invitation, deadline)
        held = False
        while not invitation.is_terminal and time.monotonic() < deadline:
            if invitation.state is S.CONNECTED:
                if not held:
                    held = True
                    await asyncio.sleep(spec.hold_for)
                    continue
                with contextlib.suppress(CallFsmError):
                    # a hang-up; the cancel race's own hang-up may have been refused with a 500
                    await self.post("hang up", client, invitation, lambda: client.cancel(invitation))
                # refused, or still on its way: give the server a moment before trying again
                await self.until(
                    invitation, _moved_from(invitation, S.CONNECTED), min(deadline, time.monotonic() + 0.2)
                )
                continue
            await self.until(invitation, _moved_from(invitation, invitation.state), deadline)
        result.model = invitation
        if not invitation.is_terminal:
            result.stuck = True
            result.state = invitation.state.value

    async def cancel(self, client: SoakClient, invitation: Invitation, deadline: float) -> None:
        for _ in range(10):
            if invitation.state not in RINGING:
                return  # it completed (or connected) first: nothing to cancel
            try:
                if await self.post("cancel", client, invitation, lambda: client.cancel(invitation)):
                    return
                if invitation.state in RINGING:
                    # refused (409): wait for what the server did instead
                    await self.until(invitation, lambda: invitation.state not in RINGING, deadline)
                return
            except LinkMissing:
                # no cancel link yet: the started is late (delay) or was aggregated away (drop_started)
                got = await self.until(
                    invitation, lambda: invitation.representation.has("cancel"), time.monotonic() + 0.3
                )
                if not got and invitation.state in RINGING and invitation.href is not None:
                    read = (FetchResource(invitation.href, "learn the cancel link"),)
                    self.findings.add("cancel link missing: GET the invitation", "drop_started or delay", read[0].href)
                    await self.post(
                        "read the invitation", client, invitation, partial(client.perform, invitation, read)
                    )
            except CallFsmError:
                return  # no longer cancellable: it moved on while we looked

    # -- the run ---------------------------------------------------------------------------------------

    async def run(self, report: Report, server: Callable[[], ServerReport]) -> None:
        """Every call, then the comparison with ``server()``'s records, then the memory reading, then stop."""
        await self.start_clients()
        limit = asyncio.Semaphore(self.o.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        began = time.monotonic()
        warm = min(self.o.warmup, len(self.specs) // 2)
        for spec in self.specs:
            if time.monotonic() - began > self.o.seconds:
                report.stopped_early = True
                break
            if spec.index == warm and warm:
                await asyncio.gather(*tasks)
                await self.settle()
                # the warm-up's calls are over and their events delivered: keep their results, not their models
                # (the end reading holds no model either)
                for result in self.results:
                    result.read()
                report.baseline_bytes = traced_bytes()
                tracemalloc.reset_peak()
            await limit.acquire()
            task = asyncio.ensure_future(self.call(spec, limit))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if self.rng.random() < self.o.replace_rate:
                rogue = asyncio.ensure_future(self.rogue(spec.index % len(self.clients)))
                tasks.add(rogue)
                rogue.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        report.calls_seconds = time.monotonic() - began
        if not report.baseline_bytes:
            report.baseline_bytes = traced_bytes()
        await self.settle()
        # blocking, but nothing else is left to do: every call has ended
        records = server()
        report.started = len(self.results)
        report.faults = dict(records.faults)
        report.faults["pget_replaced"] = self.replaced_seen
        report.rogue_gets = self.replaced_injected
        report.server_responses = records.responses
        report.plans_left = records.plans_left
        compare(report, self.results, records, self.clients)
        if self.replaced_seen > self.replaced_injected:
            self.findings.add("more PGetReplaced than rogue P-GETs", None, str(self.replaced_seen))
        report.findings = self.findings
        # what the baseline held of the soak's own books: the warm-up's results; the rest goes
        del records
        del self.results[warm:]
        report.end_bytes = traced_bytes()
        report.peak_bytes = tracemalloc.get_traced_memory()[1]
        await self.stop()

    async def settle(self) -> None:
        """Let the dispatchers forget every settled call: note them, wait their grace, sweep."""
        grace = max(c.dispatcher.grace for c in self.clients)
        for client in self.clients:
            client.dispatcher.sweep(time.monotonic())
        await asyncio.sleep(grace + 0.1)
        for client in self.clients:
            client.dispatcher.sweep(time.monotonic())

    async def stop(self) -> None:
        self.stopping = True
        for watcher in self.watchers:
            watcher.cancel()
        for watcher in self.watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        for client in self.clients:
            await client.aclose()
            await client.http.aclose()
        await self.http.aclose()


def _moved_from(model: Invitation, state: InvitationState) -> Callable[[], bool]:
    return lambda: model.state is not state


def _by_kind(item: tuple[tuple[str, str | None], int]) -> tuple[str, str]:
    (kind, why), _ = item
    return kind, why or ""


def _server_error(status: int) -> str | None:
    return "server_error (injected 500)" if status == 500 else None


def traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


# -- comparison ------------------------------------------------------------------------------------------


def history(model: Invitation | None) -> str:
    """A model's triggers in order (``*``: absorbed, no move), for the report."""
    if model is None:
        return "?"
    return " ".join(f"{s.trigger.value}{'' if s.source is not s.dest else '*'}" for s in model.history)


@dataclass
class Mismatch:
    """A call whose end on the client is not the server's."""

    call: int
    scenario: str
    href: str | None
    #: ``outcome`` (status, code or subcode differ), ``state`` (same outcome, another final state),
    #: ``no server record``, ``outcome without completed``.
    kind: str
    client_state: str | None
    server_state: str | None
    client_outcome: OutcomeKey | None
    server_outcome: OutcomeKey | None
    plan: str | None
    history: str

    def __str__(self) -> str:
        return (
            f"call {self.call} ({self.scenario}, {self.href}): {self.kind}: client {self.client_state} "
            f"{self.client_outcome}, server {self.server_state} {self.server_outcome} (plan {self.plan}); "
            f"client history: {self.history}"
        )


def compare(report: Report, results: list[CallResult], server: ServerReport, clients: list[SoakClient]) -> None:
    by_operation = {call.operation_id: call for call in server.calls if call.operation_id is not None}
    for result in results:
        report.scenarios[result.scenario.value] += 1
        if result.operation_id is None:
            report.not_accepted += 1
            continue
        model = result.model
        result.read()
        theirs = by_operation.get(result.operation_id)
        if result.stuck:
            report.stuck.append(
                f"call {result.index} ({result.scenario.value}, {result.href}): still {result.state} past its deadline"
            )
        if theirs is not None and theirs.outcome is not None:
            report.completed_by_server += 1
        if theirs is None:
            kind = "no server record"
        elif theirs.outcome is None:
            kind = "outcome without completed" if result.outcome is not None else ""
        elif result.outcome != theirs.outcome:
            kind = "outcome"
        elif not result.terminal:
            kind = ""  # stuck: counted above
        elif result.state != theirs.state:
            kind = "state"
        else:
            report.matched += 1
            kind = ""
        if not kind:
            continue
        mismatch = Mismatch(
            result.index,
            result.scenario.value,
            result.href,
            kind,
            result.state,
            None if theirs is None else theirs.state,
            result.outcome,
            None if theirs is None else theirs.outcome,
            None if theirs is None else theirs.plan,
            history(model) if model is not None else result.history or "?",
        )
        (report.state_mismatches if kind == "state" else report.mismatches).append(mismatch)
    for n, client in enumerate(clients):
        for live in client.models:
            if not live.is_terminal:
                href = getattr(live, "href", None)
                state = getattr(live, "state", None)
                report.stuck.append(f"client {n}: {type(live).__name__} {href} live in {state}")
    for refusal in server.refusals:
        report.findings.add("the server's machine refused an event", None, refusal)


# -- entry point ---------------------------------------------------------------------------------------------


def run(options: Options) -> Report:
    """Start the simulator's process, run the soak, compare, measure; returns the report."""
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    begin = time.monotonic()
    report = Report(options)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=serve_child,
        args=(child, options.seed, options.calls, options.time_scale, options.faults),
        name="callfsm-soak-simulator",
        daemon=True,
    )
    process.start()

    def server_records() -> ServerReport:
        parent.send(("records",))
        records: ServerReport = parent.recv()
        return records

    try:
        if not parent.poll(60):
            raise RuntimeError("the simulator's process did not start")
        _, base_url, token = parent.recv()
        soak = Soak(options, base_url, token)
        watch = LogWatch(soak.findings)
        adapters_log = logging.getLogger("callfsm")
        adapters_log.addHandler(watch)
        try:
            asyncio.run(soak.run(report, server_records))
        finally:
            adapters_log.removeHandler(watch)
        parent.send(("stop",))
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
    report.seconds = time.monotonic() - begin
    report.cpu_client = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    report.cpu_server = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    return report


def main(options: Options, *, json_path: Path | None = None) -> int:
    report = run(options)
    print(report.render())
    sys.stdout.flush()
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.ok else 1
