"""The live ``callfsm demo``: the adapters' clients against the simulator, over loopback HTTP.

Theory of operation
-------------------
:func:`play_live` starts the simulator (:func:`adapters.simulator.serve`) on
127.0.0.1 with a free port and a short P-GET hold, creates one UCWA
application over HTTP (that step is the app's business, not the client's),
and drives a :class:`~adapters.ucwa.client.UcwaClient` through the scenarios of
:data:`SCENARIOS`, one after the other, on that one application, so that the
recorded event stream is one channel, as an app would have recorded it. The
remote party is scripted before each scenario (``sim.script``), with delays of
a tenth of a second or so.

Where the client has no method for a step (joining an online meeting,
dismissing an incoming renegotiation), the scenario drives the fsm model
itself and hands the actions to :meth:`~adapters.ucwa.client.UcwaClient.perform`,
exactly as an app would: the join is tracked by its operation id before its
POST goes out; the renegotiation is the model the dispatcher created from its
``started`` event. The Huawei scenarios use :class:`~adapters.huawei.HuaweiClient`
with the simulator's App ID credentials (so the App ID authentication runs
too); they have no event channel.

After each scenario one progress line (number, title, final state by its wire
name, with the failure reason where there is one, elapsed real time) and each
machine's transitions as a table (:func:`adapters.cli.demo_output.format_history`).
A scenario that does not end where the docs say, or that raises, is marked on
its line and makes the run fail; the next scenario still runs. When they are
done, the channel is drained (polled until an answer comes back empty) and
the stream the server sent is written as JSON Lines. The client wrote its
trace meanwhile (:mod:`adapters.routing.trace`: the events with the app's own calls
and requests); it is read back and replayed with :mod:`adapters.routing.replay`,
whose summary is printed, and each UCWA resource's replayed end state is
compared with the one its model reached live (a difference fails the run).

Expected end states come from the docs: docs/protocol.md §1.6-1.7 and seed 002
(answered, declined ``RemoteFailure/Declined``, the cancel race), seed 003
(lobby admitted / rejected; the rejection reason is the simulator's [U]
``Forbidden/Denied``), seed 001 (dismissed with ``InsufficientBandwidth``),
seed 004 (series cancelled with 200; a held series refused without ``type=1``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import Final, TextIO

import httpx
from attrs import define, field, frozen

from adapters.cli.demo_output import DEFAULT_EVENTS as _DEFAULT_EVENTS
from adapters.cli.demo_output import DEFAULT_TRACE as _DEFAULT_TRACE
from adapters.cli.demo_output import format_history
from adapters.huawei import AppIdCredentials, HuaweiAuthError, HuaweiClient
from adapters.routing.replay import ReplayReport, read_records, render_text, replay, state_name
from adapters.routing.trace import TraceWriter
from adapters.simulator import SimulatorConfig, SimulatorHandle, serve
from adapters.transport.http import TransportError
from adapters.ucwa.client import ClientError, UcwaClient
from adapters.wire.ucwa_errors import UcwaError
from fsm.errors import CallFsmError, InvalidTrigger
from fsm.invitation import Invitation, InvitationState
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState
from fsm.meeting_series import MeetingSeries, MeetingSeriesState
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import ReNegotiationDeclineReason
from fsm.registry import MACHINES
from fsm.renegotiation import Renegotiation, RenegotiationState

#: Where the recorded event stream goes unless ``--events`` says otherwise.
DEFAULT_EVENTS: Final = Path(_DEFAULT_EVENTS)
#: Where the client's trace goes unless ``--trace`` says otherwise.
DEFAULT_TRACE: Final = Path(_DEFAULT_TRACE)
#: The P-GET hold: short, so that draining the channel at the end costs little.
PGET_TIMEOUT: Final = 0.5
#: How long a scenario waits for the server before it gives up (real seconds).
WAIT: Final = 5.0
#: The most polls spent draining the channel at the end.
DRAIN_POLLS: Final = 20
CALLEE: Final = "sip:bob@contoso.com"
#: The meeting URI shape of docs/protocol.md §3 (a conference focus URI).
MEETING_URI: Final = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:7PQRS3"
#: seed 004's sample series, and a second one that has been held.
SERIES_ID: Final = "984697426"
HELD_SERIES_ID: Final = "555000111"
APPLICATION_BODY: Final = {"UserAgent": "callfsm-demo/1.0", "EndpointId": "callfsm-demo", "Culture": "en-US"}


class DemoError(Exception):
    """A scenario could not go on (the server did not answer in time, a step was refused...)."""


class EventsFileError(Exception):
    """The event stream could not be written where asked."""


@define
class Show:
    """What a scenario hands back: the model whose state is its result, and what to print."""

    result: FsmModel
    #: Every model the scenario drove, in order, for its tables.
    models: list[FsmModel] = field(factory=list)
    #: Notes printed under the tables (a refusal, an error code).
    notes: list[str] = field(factory=list)
    #: What the progress line says after the state (default: the failure reason, if any).
    detail: str | None = None


@define
class Live:
    """What a scenario works with: the running simulator and the clients."""

    sim: SimulatorHandle
    ucwa: UcwaClient
    huawei: HuaweiClient
    http: httpx.Client
    #: Every model the scenarios drove, in order (their live end states are compared with the trace's replay).
    driven: list[FsmModel] = field(factory=list)

    def now(self) -> float:
        return self.ucwa.clock()

    def wait(self, what: str, predicate: Callable[[], object]) -> None:
        if not self.ucwa.run_until(predicate, timeout=WAIT):
            raise DemoError(f"{what}: nothing after {WAIT:.0f} s")


@frozen
class LiveScenario:
    title: str
    #: The machines whose transitions it shows (for ``callfsm demo MACHINE``).
    machines: tuple[str, ...]
    #: Where the docs say it ends.
    expected: Enum
    run: Callable[[Live], Show]
    #: Whether it needs the UCWA application (else: Huawei only).
    ucwa: bool = True


@frozen
class LiveResult:
    number: int
    title: str
    state: str | None
    expected: str
    elapsed: float
    detail: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.state == self.expected

    def line(self, total: int) -> str:
        head = f"[{self.number}/{total}] {self.title} ..."
        if self.error is not None:
            return f"{head} FAILED after {self.elapsed:.2f} s: {self.error}"
        detail = f" ({self.detail})" if self.detail else ""
        verdict = "" if self.ok else f"; UNEXPECTED, the docs say {self.expected}"
        return f"{head} {self.state}{detail} in {self.elapsed:.2f} s{verdict}"


@frozen
class LiveRun:
    results: tuple[LiveResult, ...]
    events_path: Path
    report: ReplayReport
    #: Each UCWA resource's live end state, by href (the models the scenarios drove).
    live_states: tuple[tuple[str, str], ...] = ()
    trace_path: Path | None = None

    @property
    def mismatches(self) -> tuple[tuple[str, str, str | None], ...]:
        """``(href, live, replay)`` for each live resource whose replayed end state differs (or is missing)."""
        replayed = {r.href: r.state for r in self.report.resources}
        return tuple((href, live, replayed.get(href)) for href, live in self.live_states if replayed.get(href) != live)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.report.violations and not self.mismatches


# -- the scenarios ------------------------------------------------------------------------------------


def _answered(live: Live) -> Show:
    live.sim.script.answer_after(0.1)
    call = live.ucwa.start_audio_video(CALLEE, subject="callfsm demo")
    live.wait("the answer", lambda: call.outcome is not None)
    live.ucwa.cancel(call)  # connected: the cancel link is the hang-up (docs/protocol.md §1.6)
    return Show(call, [call])


def _declined(live: Live) -> Show:
    live.sim.script.decline("RemoteFailure", "Declined", message="Outgoing invitation declined.")
    call = live.ucwa.start_audio_video(CALLEE)
    live.wait("the decline", lambda: call.outcome is not None)
    return Show(call, [call])


def _cancel_race(live: Live) -> Show:
    live.sim.script.answer_on_cancel()
    call = live.ucwa.start_audio_video(CALLEE)
    live.wait("the ringing call's cancel link", lambda: call.representation.has("cancel"))
    live.ucwa.cancel(call)
    # the cancel's 204 is in (cancel_answered) when the answer that crossed it arrives: completed Success,
    # and the client hangs up at once, no response being pending (the dispatcher sends the hang-up)
    live.wait("the crossed answer", lambda: call.outcome is not None)
    live.wait("the hang-up", lambda: call.is_terminal)
    return Show(call, [call])


def _join(live: Live, operation_id: str) -> OnlineMeetingJoin:
    join = live.ucwa.join_online_meeting(MEETING_URI, operation_id=operation_id)
    live.wait("the lobby's decision", lambda: join.outcome is not None or join.is_terminal)
    return join


def _lobby_admitted(live: Live) -> Show:
    live.sim.script.admit_after(0.2)
    join = _join(live, "demo-join-admitted")
    return Show(join, [join])


def _lobby_rejected(live: Live) -> Show:
    live.sim.script.reject_after(0.2)
    join = _join(live, "demo-join-rejected")
    return Show(join, [join])


def _leader_admits(live: Live) -> Show:
    """The leader's side (docs/protocol.md §3): a guest waits in our meeting's lobby, and we admit them."""
    live.sim.script.answer_after(0.0)  # our own join: straight in
    join = _join(live, "demo-join-leader")
    # only now: a guest goes to the lobby of the meeting the user is connected to last, this one
    live.sim.script.lobby_arrival("Guest", "sip:guest@fabrikam.com")
    waiting: list[LobbyParticipant] = []

    def arrived() -> bool:
        waiting[:] = [
            m
            for m in live.ucwa.models
            if isinstance(m, LobbyParticipant) and m.state is LobbyParticipantState.WAITING
        ]
        return bool(waiting)

    live.wait("the guest in the lobby", arrived)
    guest = waiting[0]
    live.ucwa.admit(guest)
    live.wait("the guest's admission", lambda: guest.is_terminal)
    live.ucwa.cancel(join)  # leave the meeting
    return Show(guest, [join, guest], detail=guest.display_name)


def _renegotiation_dismissed(live: Live) -> Show:
    live.sim.script.answer_after(0.0)
    call = live.ucwa.start_audio_video(CALLEE, subject="bandwidth")
    live.wait("the answer", lambda: call.outcome is not None)
    live.sim.script.incoming_renegotiation(after=0.1)
    offered: list[Renegotiation] = []

    def arrived() -> bool:
        offered[:] = [
            m for m in live.ucwa.models if isinstance(m, Renegotiation) and m.state is RenegotiationState.REMOTE_OFFERED
        ]
        return bool(offered)

    live.wait("the incoming renegotiation", arrived)
    renegotiation = offered[0]
    # seed 001: POST dismiss {"reason": "InsufficientBandwidth"} -> 204
    reason = ReNegotiationDeclineReason.INSUFFICIENT_BANDWIDTH
    live.ucwa.perform(renegotiation, renegotiation.dismiss(now=live.now(), reason=reason))
    live.ucwa.cancel(call)
    sent = renegotiation.decline_reason
    return Show(renegotiation, [call, renegotiation], detail=f"reason {sent.value}" if sent is not None else None)


def _series_cancelled(live: Live) -> Show:
    live.sim.script.series(SERIES_ID)
    series = MeetingSeries(conference_id=SERIES_ID)
    result = live.huawei.cancel_series(series)
    return Show(series, [series], [f"DELETE cycleconferences?conferenceID={SERIES_ID}: {result.response.status}"])


def _series_held(live: Live) -> Show:
    live.sim.script.series(HELD_SERIES_ID, held=True)
    series = MeetingSeries(conference_id=HELD_SERIES_ID)
    notes: list[str] = []
    # the app does not know yet that it was held: the server refuses (seed 004), and the client
    # asks confDetail what the 403 means: Created, held (docs/protocol.md §7.2)
    refused = live.huawei.cancel_series(series)
    notes.append(f"without type=1: {refused.error}")
    if refused.query is None or refused.query.detail is None:
        raise DemoError("the client did not query the series' details after the 403")
    notes.append(f"confDetail: {refused.query.detail.conference_state}, so the series is {series.state.value}")
    try:
        live.huawei.cancel_series(series)
    except InvalidTrigger as refusal:
        notes.append(f"held, without type=1 again: refused locally, nothing sent ({refusal})")
    else:
        raise DemoError("the series machine let a held series be cancelled without type=1")
    # the app may ask the details itself at any time (HuaweiClient.query_series)
    again = live.huawei.query_series(series)
    notes.append(f"confDetail asked again: {again.detail.conference_state if again.detail else again.error}")
    accepted = live.huawei.cancel_series(series, cancel_ongoing=True)
    notes.append(f"with type=1: {accepted.response.status}")
    return Show(series, [series], notes)


INVITATION: Final = Invitation.DEFINITION.name
ONLINE_MEETING: Final = OnlineMeetingJoin.DEFINITION.name
LOBBY_PARTICIPANT: Final = LobbyParticipant.DEFINITION.name
RENEGOTIATION: Final = Renegotiation.DEFINITION.name
MEETING_SERIES: Final = MeetingSeries.DEFINITION.name

SCENARIOS: Final[tuple[LiveScenario, ...]] = (
    LiveScenario("outgoing audio/video call answered, then hung up", (INVITATION,), InvitationState.HUNG_UP, _answered),
    LiveScenario(
        "outgoing audio/video call declined by the callee", (INVITATION,), InvitationState.DECLINED, _declined
    ),
    LiveScenario(
        "the cancel race: the callee answers as our cancel arrives",
        (INVITATION,),
        InvitationState.HUNG_UP,
        _cancel_race,
    ),
    LiveScenario(
        "online meeting joined through the lobby, admitted",
        (ONLINE_MEETING,),
        OnlineMeetingState.CONNECTED,
        _lobby_admitted,
    ),
    LiveScenario(
        "online meeting joined through the lobby, rejected",
        (ONLINE_MEETING,),
        OnlineMeetingState.FAILED,
        _lobby_rejected,
    ),
    LiveScenario(
        "the leader admits a guest waiting in the lobby",
        (LOBBY_PARTICIPANT, ONLINE_MEETING),
        LobbyParticipantState.ADMITTED,
        _leader_admits,
    ),
    LiveScenario(
        "incoming renegotiation dismissed with InsufficientBandwidth",
        (RENEGOTIATION, INVITATION),
        RenegotiationState.DISMISSED,
        _renegotiation_dismissed,
    ),
    LiveScenario(
        "Huawei series cancelled", (MEETING_SERIES,), MeetingSeriesState.CANCELLED, _series_cancelled, ucwa=False
    ),
    LiveScenario(
        "Huawei held series: refused without type=1, cancelled with it",
        (MEETING_SERIES,),
        MeetingSeriesState.CANCELLED,
        _series_held,
        ucwa=False,
    ),
)


def scenarios_for(machines: Iterable[str] | None = None) -> tuple[LiveScenario, ...]:
    """The scenarios showing any of ``machines`` (all of them for ``None``)."""
    if machines is None:
        return SCENARIOS
    wanted = set(machines)
    return tuple(s for s in SCENARIOS if wanted.intersection(s.machines))


# -- running them -------------------------------------------------------------------------------------


def _detail(model: FsmModel) -> str:
    outcome = getattr(model, "outcome", None)
    if outcome is not None and not outcome.success and outcome.reason is not None:
        return f"{outcome.reason.code}/{outcome.reason.subcode}" if outcome.reason.subcode else outcome.reason.code
    error = getattr(model, "last_error", None)
    return "" if error is None else f"last error {error}"


def _expected_name(scenario: LiveScenario) -> str:
    """The expected state by its wire name where it has one (its machine is the scenario's first)."""
    definition = MACHINES[scenario.machines[0]]
    return definition.wire_name(scenario.expected) or str(scenario.expected.value)


def _tables(show: Show, out: TextIO) -> None:
    for model in show.models:
        href = getattr(model, "href", None) or getattr(model, "conference_id", "")
        out.write(f"  -- {model.machine} {href}\n")
        out.write(format_history(model))
    out.writelines(f"  {note}\n" for note in show.notes)


#: What a scenario may fail with, as the app would see it (anything else is a bug: it propagates).
_SCENARIO_ERRORS: Final = (DemoError, CallFsmError, UcwaError, ClientError, TransportError, HuaweiAuthError)


def _run_one(live: Live, number: int, scenario: LiveScenario, total: int, out: TextIO) -> LiveResult:
    started = time.monotonic()
    expected = _expected_name(scenario)
    try:
        show = scenario.run(live)
    except _SCENARIO_ERRORS as exc:
        result = LiveResult(number, scenario.title, None, expected, time.monotonic() - started, error=str(exc))
        out.write(result.line(total) + "\n")
        return result
    elapsed = time.monotonic() - started
    live.driven.extend(m for m in show.models if all(m is not d for d in live.driven))
    detail = show.detail if show.detail is not None else _detail(show.result)
    result = LiveResult(number, scenario.title, state_name(show.result), expected, elapsed, detail)
    out.write(result.line(total) + "\n")
    _tables(show, out)
    out.write("\n")
    return result


def _create_application(sim: SimulatorHandle, http: httpx.Client) -> str:
    """POST applications (UserAgent, EndpointId, Culture); the application's URL from ``Location``."""
    response = http.post(sim.applications_url, json=APPLICATION_BODY, headers={"Authorization": f"Bearer {sim.token}"})
    location = response.headers.get("location")
    if response.status_code != 201 or not location:
        raise DemoError(f"creating the application: {response.status_code}")
    return str(httpx.URL(sim.base_url).join(location))


def _drain(client: UcwaClient, sim: SimulatorHandle) -> None:
    """Poll until an answer comes back empty, so the recording holds every event the scenarios caused."""
    for _ in range(DRAIN_POLLS):
        client.poll_once()
        sent = sim.events_sent
        if client.ended is not None or (sent and not sent[-1].get("sender")):
            return


def play_live(
    out: TextIO,
    events_path: Path = DEFAULT_EVENTS,
    scenarios: Sequence[LiveScenario] = SCENARIOS,
    *,
    config: SimulatorConfig | None = None,
    trace_path: Path = DEFAULT_TRACE,
) -> LiveRun:
    """Run ``scenarios`` against a fresh simulator on 127.0.0.1; write the event stream and the client's
    trace; replay the trace and compare each resource's end state with the live one."""
    config = config or SimulatorConfig(pget_timeout=PGET_TIMEOUT)
    results: list[LiveResult] = []
    total = len(scenarios)
    with serve(config, host="127.0.0.1", port=0) as sim, httpx.Client(timeout=WAIT * 2) as http:
        out.write(f"simulator on {sim.base_url} (loopback only)\n")
        app_url = _create_application(sim, http)
        out.write(f"application {httpx.URL(app_url).path}\n\n")
        credentials = AppIdCredentials(sim.huawei_app_id, sim.huawei_app_key)
        huawei = HuaweiClient(http, credentials, base_url=sim.base_url)
        try:
            trace = TraceWriter(trace_path)
        except OSError as exc:
            raise EventsFileError(f"{str(trace_path)!r}: cannot write: {exc.strerror or exc}") from None
        with UcwaClient(app_url, token=sim.token, client=http, trace=trace) as ucwa:
            live = Live(sim, ucwa, huawei, http)
            for scenario in (s for s in scenarios if s.ucwa):
                results.append(_run_one(live, len(results) + 1, scenario, total, out))
            _drain(ucwa, sim)
            # Huawei has no event channel: nothing of it is in the recording
            for scenario in (s for s in scenarios if not s.ucwa):
                results.append(_run_one(live, len(results) + 1, scenario, total, out))
        try:
            written = sim.write_events(events_path).resolve()
        except OSError as exc:
            raise EventsFileError(f"{str(events_path)!r}: cannot write: {exc.strerror or exc}") from None
    records = read_records(written.read_bytes(), str(written))
    out.write(f"event stream: {len(records)} event-channel answers written to {written}\n")
    traced = trace_path.resolve()
    report = replay(read_records(traced.read_bytes(), str(traced)))
    out.write(f"trace: the events and the app's own calls and requests written to {traced}\n")
    out.write("replay of the trace:\n")
    out.write(render_text(report))
    states = tuple(
        (href, state_name(m))
        for m in live.driven
        if isinstance(href := getattr(m, "href", None), str) and not isinstance(m, MeetingSeries)
    )
    run = LiveRun(tuple(results), written, report, states, traced)
    out.write(f"replay ends as the live run for {len(states) - len(run.mismatches)} of {len(states)} resources\n")
    for href, live_state, replayed in run.mismatches:
        out.write(f"  {href}: live {live_state}, replay {replayed or 'not seen'}\n")
    return run
