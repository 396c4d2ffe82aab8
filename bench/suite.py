"""The benchmark suite: every figure of issue 6, one table, one JSON file.

Theory of operation
-------------------
One process measures callfsm and its references (:mod:`bench.peers`) on the
same work, interleaved round by round (:mod:`bench.measure`). The phases run
in this order because of how tracemalloc works (it only counts blocks
allocated while it traces, and it slows every allocation while it does):

1. **Memory, traced.** Tracing has been on since the process started
   (``python -m bench`` starts it before importing anything else), so the live
   traced bytes of the loaded library are the *empty baseline*. Live
   invitations (six-step history each, held in a dict by href as an app
   would) grow to 1,000, 10,000 and 100,000, with a reading at each size;
   then all 100,000 calls hang up, the app drops them, and the live bytes are
   read again after a full collection. Tracing stops.
2. **Growth, untimed tracing off.** The population grows again through the
   same sizes and, with it alive, create and trigger costs are timed.
   Raw transitions gets a registered population of the same size, filled
   through an identity-set membership test (transitions #146) so that 100,000
   registrations do not take minutes; its memory per model is the traced cost
   of the last registrations at that size, and every *timed* ``add_model``
   runs against the real list.
3. **Ingestion** (once ``adapters.wire.events`` and ``adapters.routing.dispatcher`` exist),
   **replay**, the **simulator** over loopback HTTP (:mod:`bench.simulator`)
   and **snapshot/restore**.
4. Rows that cannot be measured (a missing extra, a server that does not
   start) are printed as ``n/a`` with the reason.

Every time figure is the median of its rounds; a ratio of two interleaved
trials is the median of the per-round ratios. Ratios across sizes (flatness)
compare medians measured at different moments of the same run. Targets are
the issue's and are never relaxed here: a miss is printed as MISS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from bench import measure
from bench.measure import Traced, Trial, interleave, median, ratio_of_rounds, timed
from bench.peers import (
    Automat,
    DictFloor,
    IngestFloor,
    PythonStateMachine,
    RawTransitions,
    Reference,
)
from bench.workload import (
    PATH_BRANCHES,
    CallFsm,
    chunks,
    end_call,
    interleaved_events,
    json_response,
    live_invitation,
    responses,
)
from fsm.invitation import InvitationState, InvitationTrigger
from fsm.outcome import Completion

S = InvitationState
T = InvitationTrigger

RESULTS = Path(__file__).parent / "results" / "latest.json"

#: The full life of an ended call, as (trigger, branch) for the raw references.
ENDED_PATH: tuple[tuple[T, Enum | None], ...] = (
    (T.SEND, None),
    (T.CREATED, None),
    (T.STARTED, S.CONNECTING),
    (T.UPDATED, S.ALERTING),
    (T.UPDATED, S.ALERTING),
    (T.COMPLETED, Completion.CONNECTED),
    (T.CANCEL, None),
    (T.REQUEST_SUCCEEDED, None),
)


@dataclass(frozen=True)
class Config:
    mode: str
    sizes: tuple[int, int, int]
    trigger_rounds: int
    create_rounds: int
    other_rounds: int
    raw_leak_calls: int
    #: Registrations traced at each size for raw transitions' memory per model.
    raw_memory_sample: int
    #: Models per timed batch, per implementation.
    trigger_batch: dict[str, int]
    create_batch: dict[str, int]
    #: add_model calls per timed batch, per size index.
    add_model_batch: tuple[int, int, int]
    peer_memory: dict[str, int]
    snapshot_batch: int
    ingest_calls: int
    per_response: int
    replay_events: int
    replay_rounds: int
    #: Item 7: calls in the CLI-vs-floor file, the small and large files, each --jobs file; rounds.
    cli_calls: int
    cli_small: int
    cli_large: int
    cli_jobs_calls: int
    cli_rounds: int
    #: Item 5: GETs per request trial, lifecycles per lifecycle trial, calls in flight, rounds.
    sim_request_batch: int
    sim_lifecycles: int
    sim_concurrency: int
    sim_rounds: int


FULL = Config(
    mode="full",
    sizes=(1_000, 10_000, 100_000),
    trigger_rounds=15,
    create_rounds=9,
    other_rounds=9,
    raw_leak_calls=2_000,
    raw_memory_sample=1_000,
    trigger_batch={"callfsm": 500, "raw": 500, "floor": 5_000, "psm": 40, "automat": 300},
    create_batch={"callfsm": 1_000, "floor": 5_000, "psm": 20, "automat": 1_000},
    add_model_batch=(200, 40, 8),
    peer_memory={"floor": 1_000, "psm": 200, "automat": 1_000},
    snapshot_batch=200,
    ingest_calls=200,
    per_response=12,
    replay_events=100_000,
    replay_rounds=3,
    cli_calls=20_000,
    cli_small=10_000,
    cli_large=40_000,
    cli_jobs_calls=10_000,
    cli_rounds=3,
    sim_request_batch=200,
    sim_lifecycles=128,
    sim_concurrency=16,
    sim_rounds=9,
)

SMOKE = Config(
    mode="smoke",
    sizes=(40, 80, 160),
    trigger_rounds=3,
    create_rounds=3,
    other_rounds=3,
    raw_leak_calls=20,
    raw_memory_sample=10,
    trigger_batch={"callfsm": 20, "raw": 20, "floor": 50, "psm": 4, "automat": 20},
    create_batch={"callfsm": 20, "floor": 50, "psm": 3, "automat": 20},
    add_model_batch=(5, 4, 3),
    peer_memory={"floor": 40, "psm": 8, "automat": 40},
    snapshot_batch=10,
    ingest_calls=12,
    per_response=6,
    replay_events=120,
    replay_rounds=3,
    cli_calls=40,
    cli_small=20,
    cli_large=80,
    cli_jobs_calls=20,
    cli_rounds=2,
    sim_request_batch=10,
    sim_lifecycles=6,
    sim_concurrency=3,
    sim_rounds=3,
)


# -- rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A target of the issue: on the ratio or on callfsm's own figure."""

    text: str
    on: str  # "ratio" or "value"
    limit: float

    def verdict(self, value: float | None, ratio: float | None) -> str:
        measured = ratio if self.on == "ratio" else value
        if measured is None:
            return "n/a"
        return "PASS" if measured <= self.limit else "MISS"


@dataclass
class Row:
    key: str
    figure: str
    unit: str
    callfsm: float | None
    reference: float | None
    reference_name: str
    ratio: float | None
    target: str
    verdict: str
    note: str = ""

    @classmethod
    def measured(
        cls,
        key: str,
        figure: str,
        unit: str,
        *,
        value: float,
        reference: float | None,
        reference_name: str,
        ratio: float | None,
        target: Target | None = None,
        note: str = "",
    ) -> Row:
        return cls(
            key,
            figure,
            unit,
            value,
            reference,
            reference_name,
            ratio,
            target.text if target else "-",
            target.verdict(value, ratio) if target else "info",
            note,
        )

    @classmethod
    def na(cls, key: str, figure: str, reason: str, target: Target | None = None) -> Row:
        return cls(key, figure, "", None, None, "", None, target.text if target else "-", "n/a", f"n/a: {reason}")


@dataclass
class Report:
    config: Config
    rows: list[Row] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    started: str = ""
    seconds: float = 0.0

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {format_row(row)}", file=sys.stderr, flush=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.started,
            "mode": self.config.mode,
            "seconds": round(self.seconds, 1),
            "machine": self.machine,
            "ratio": "callfsm cost / reference cost (lower is better; for rates: reference rate / callfsm rate)",
            "rows": [asdict(r) for r in self.rows],
        }


def size_label(n: int) -> str:
    return f"{n:,}"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "ev/s":
        return f"{value:,.0f} ev/s"
    if unit == "µs":
        return f"{value:,.3f} µs" if value < 10 else f"{value:,.1f} µs"
    return f"{value:,.3g} {unit}"


def format_row(row: Row) -> str:
    cf = row.note if row.verdict == "n/a" else _fmt(row.callfsm, row.unit)
    ref = _fmt(row.reference, row.unit)
    if ref and row.reference_name:
        ref = f"{ref} ({row.reference_name})"
    return f"{row.figure} | {cf} | {ref} | {_fmt_ratio(row.ratio)} | {row.target} | {row.verdict}"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    # a tiny ratio keeps two significant digits rather than printing as 0.00x
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def render_table(rows: Sequence[Row]) -> str:
    header = ("figure", "callfsm", "reference", "ratio", "target", "result")
    cells = [header]
    for row in rows:
        cf = row.note if row.verdict == "n/a" else _fmt(row.callfsm, row.unit)
        ref = _fmt(row.reference, row.unit)
        if ref and row.reference_name:
            ref = f"{ref} ({row.reference_name})"
        cells.append((row.figure, cf, ref, _fmt_ratio(row.ratio), row.target, row.verdict))
    lines = ["| " + " | ".join(c) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("---" for _ in header) + "|")
    return "\n".join(lines)


# -- helpers -----------------------------------------------------------------------


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {
        "nproc": str(nproc),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "platform": platform.platform(),
    }


def _per_unit(ns: int, units: int) -> float:
    return ns / units / 1000.0  # µs


def _drive_raw(raw: RawTransitions, model: Any, steps: Sequence[tuple[T, Enum | None]]) -> None:
    for trigger, branch in steps:
        raw.drive(model, trigger, branch)


# -- phase 1: memory (traced) -----------------------------------------------------------


def phase_memory(cfg: Config, report: Report, *, traced_from_start: bool) -> dict[int, float]:
    """Memory per live invitation at each size, then released memory after all of them end.

    Tracing is continuous from the baseline to the last reading, so any block
    allocated by any call and still alive at the end is counted. The calls are
    held the way an app holds them: a dict keyed by href. Returns callfsm's
    bytes per live invitation by size (the growth phase prints the rows, next
    to raw transitions' figure at the same size).
    """
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    # Warm every lazy cache (attrs, enum, transitions) so the baseline is the steady empty state.
    end_call(live_invitation(0, 0.0), 10.0)
    baseline = measure.traced_now()

    live: dict[str | None, Any] = {}
    per_model: dict[int, float] = {}
    started = 0
    for size in cfg.sizes:
        for n in range(started, size):
            inv = live_invitation(n, 1000.0 + n)
            live[inv.href] = inv
        started = size
        del inv
        per_model[size] = (measure.traced_now() - baseline) / size
    ended = len(live)
    for n, inv in enumerate(live.values()):
        end_call(inv, 200_000.0 + n)
    del inv
    live.clear()
    del live
    after = measure.traced_now()
    residue = (after - baseline) / ended

    # Reference: raw transitions with add_model; the app drops its reference but
    # never calls remove_model (a list scan per call), so the Machine keeps them.
    raw = RawTransitions()
    before_raw = measure.traced_now()
    for _ in range(cfg.raw_leak_calls):
        _drive_raw(raw, raw.new(), ENDED_PATH)
    raw_residue = (measure.traced_now() - before_raw) / cfg.raw_leak_calls
    del raw
    tracemalloc.stop()

    report.add(
        Row.measured(
            "released",
            f"2. live traced bytes after {size_label(ended)} calls started and ended (vs empty baseline)",
            "B",
            value=after,
            # started inside run() (the smoke test), the baseline may hold nothing at all: 1 byte then
            reference=max(baseline, 1),
            reference_name="empty baseline",
            ratio=after / max(baseline, 1),
            target=Target("<= 1.10x baseline", "ratio", 1.10),
            note=(
                "baseline: the loaded library, traced since the process started"
                if traced_from_start
                else "tracing started inside run(), so the baseline holds almost nothing: "
                "use `python -m bench` for this figure"
            ),
        )
    )
    report.add(
        Row.measured(
            "released.residue",
            "2. bytes left behind per ended call",
            "B",
            value=residue,
            reference=raw_residue,
            reference_name=f"raw transitions, no remove_model, {size_label(cfg.raw_leak_calls)} calls",
            ratio=None,
            note="~0 or negative: nothing retained",
        )
    )
    return per_model


# -- phase 2: growth -----------------------------------------------------------------


@dataclass
class Subjects:
    callfsm: CallFsm
    #: A shared Machine of its own for the trigger batches (registered once, reset each round).
    raw_trigger: RawTransitions
    floor: DictFloor
    psm: PythonStateMachine | None
    automat: Automat | None
    missing: dict[str, str]

    @classmethod
    def make(cls) -> Subjects:
        missing: dict[str, str] = {}
        psm: PythonStateMachine | None = None
        automat: Automat | None = None
        if _available("statemachine"):
            psm = PythonStateMachine()
        else:
            missing["psm"] = "python-statemachine not installed (pip install '.[bench]')"
        if _available("automat"):
            automat = Automat()
        else:
            missing["automat"] = "automat not installed (pip install '.[bench]')"
        return cls(CallFsm(), RawTransitions(), DictFloor(), psm, automat, missing)

    def peers(self) -> list[tuple[str, str, Reference | None]]:
        return [
            ("floor", "dict-table floor", self.floor),
            ("psm", "python-statemachine", self.psm),
            ("automat", "automat TypeMachine", self.automat),
        ]


def _trigger_trial(ref: Reference, batch: int, reuse: Callable[[Sequence[Any]], None] | None) -> Trial:
    """A trial timing the four-trigger path over ``batch`` models.

    Models are created before the clock starts; a reference whose creation is
    costly (registration, per-instance machine) gets one batch that ``reuse``
    puts back in the initial state before each round.
    """
    kept: list[Any] = [ref.new() for _ in range(batch)] if reuse is not None else []

    def trial() -> float:
        if reuse is not None:
            models = kept
            reuse(models)
        else:
            models = [ref.new() for _ in range(batch)]
        ns = timed(lambda: ref.path(models, PATH_BRANCHES))
        return _per_unit(ns, 4 * batch)

    return trial


def _create_trial(make: Callable[[], Any], batch: int, after: Callable[[list[Any]], None] | None = None) -> Trial:
    def trial() -> float:
        made: list[Any] = []

        def work() -> None:
            append = made.append
            for _ in range(batch):
                append(make())

        ns = timed(work)
        if after is not None:
            after(made)
        return _per_unit(ns, batch)

    return trial


class Growth:
    """Phase 2: the sizes one after the other; memory of raw transitions, trigger and create costs.

    At each size, raw transitions first gets a fresh shared Machine with that
    many registered models: the last registrations are traced (its memory per
    model) and ``add_model`` is timed on the real list. At the smallest size
    that Machine stays for :meth:`creates` to interleave ``add_model`` with
    callfsm's create round by round (the targeted ratio); at the larger sizes
    it is timed alone and dropped, so its population does not sit in the heap
    while callfsm is timed. Then callfsm's population grows to the size and
    its trigger and create costs are timed with it alive, each trial
    interleaved with a size-independent control (a small raw-transitions batch
    for triggers, the dict floor for creates) that shows machine drift.
    """

    def __init__(self, cfg: Config, report: Report, memory: dict[int, float]) -> None:
        self.cfg = cfg
        self.report = report
        #: callfsm's bytes per live invitation by size, from :func:`phase_memory`.
        self.memory = memory
        self.subjects = Subjects.make()
        self.population: list[Any] = []
        #: Per-round figures by size: callfsm's, and the control's.
        self.trigger_at: dict[int, tuple[list[float], list[float]]] = {}
        self.create_at: dict[int, tuple[list[float], list[float]]] = {}
        self.raw: RawTransitions | None = None

    def run(self) -> None:
        for index, size in enumerate(self.cfg.sizes):
            raw_rounds = self.raw_step(index, size)
            self.population.extend(live_invitation(n, 1000.0 + n) for n in range(len(self.population), size))
            self.triggers(index, size)
            self.creates(index, size, raw_rounds)
            self.raw = None
        self.peer_memory()
        self.population.clear()

    def raw_step(self, index: int, size: int) -> list[float] | None:
        """Raw transitions with ``size`` registered models; its add_model rounds, unless kept for interleaving."""
        cfg = self.cfg
        raw = RawTransitions()
        sample = min(cfg.raw_memory_sample, size)
        self._fill_raw(raw, size - sample)
        with Traced() as grown:
            self._fill_raw(raw, sample)
        raw_per = grown.grew / sample
        cf_per = self.memory[size]
        self.report.add(
            Row.measured(
                f"memory.{index}",
                f"2. memory per live invitation incl. 6-step history, {size_label(size)} live",
                "B",
                value=cf_per,
                reference=raw_per,
                reference_name="raw transitions, registered, no history",
                ratio=cf_per / raw_per,
                target=Target("<= 2,048 B", "value", 2048) if size == cfg.sizes[-1] else None,
                note=f"raw: the last {size_label(sample)} of {size_label(size)} registrations, traced",
            )
        )
        if size == cfg.sizes[0]:
            self.raw = raw
            return None
        rounds = interleave({"raw": self._add_model_trial(raw, cfg.add_model_batch[index])}, cfg.create_rounds)
        return rounds["raw"]

    @staticmethod
    def _fill_raw(raw: RawTransitions, count: int) -> None:
        for model in raw.fill(count):
            raw.machine.set_state(S.CONNECTED, model)

    @staticmethod
    def _add_model_trial(raw: RawTransitions, batch: int) -> Trial:
        def unregister(made: list[Any]) -> None:
            del raw.machine.models[-len(made) :]

        return _create_trial(raw.new, batch, unregister)

    def triggers(self, index: int, size: int) -> None:
        cfg, sub = self.cfg, self.subjects
        small = cfg.sizes[0]
        batch = cfg.trigger_batch
        trials: dict[str, Trial] = {
            "callfsm": _trigger_trial(sub.callfsm, batch["callfsm"], None),
            "raw": _trigger_trial(sub.raw_trigger, batch["raw"], sub.raw_trigger.reset),
        }
        if size == small:
            trials["floor"] = _trigger_trial(sub.floor, batch["floor"], None)
            if sub.psm is not None:
                trials["psm"] = _trigger_trial(sub.psm, batch["psm"], sub.psm.reset)
            if sub.automat is not None:
                trials["automat"] = _trigger_trial(sub.automat, batch["automat"], None)
        trig = interleave(trials, cfg.trigger_rounds)
        ours = trig["callfsm"]
        self.trigger_at[size] = (ours, trig["raw"])
        label = size_label(size)
        if size != small:
            base, base_control = (median(v) for v in self.trigger_at[small])
            control = median(trig["raw"])
            self.report.add(
                Row.measured(
                    f"trigger.{index}",
                    f"2. trigger µs, {label} live (vs {size_label(small)} live)",
                    "µs",
                    value=median(ours),
                    reference=base,
                    reference_name=f"callfsm, {size_label(small)} live",
                    ratio=median(ours) / base,
                    target=Target("<= 1.20x", "ratio", 1.20) if size == cfg.sizes[-1] else None,
                    note=(
                        f"control (raw transitions batch, same rounds): {control:.2f} µs here, "
                        f"{base_control:.2f} µs at {size_label(small)}; "
                        f"ratio over the control's drift: {(median(ours) / control) / (base / base_control):.2f}x"
                    ),
                )
            )
            return
        self.report.add(
            Row.measured(
                "trigger.raw",
                f"1. trigger µs (send, started, updated, completed), {label} live",
                "µs",
                value=median(ours),
                reference=median(trig["raw"]),
                reference_name="raw transitions, shared Machine",
                ratio=ratio_of_rounds(ours, trig["raw"]),
                target=Target("<= 1.10x", "ratio", 1.10),
            )
        )
        self.peer_rows("trigger", f"1. trigger µs, {label} live", ours, trig)

    def creates(self, index: int, size: int, raw_rounds: list[float] | None) -> None:
        cfg, sub = self.cfg, self.subjects
        small, large = cfg.sizes[0], cfg.sizes[-1]
        trials: dict[str, Trial] = {
            "callfsm": _create_trial(sub.callfsm.new, cfg.create_batch["callfsm"]),
            "floor": _create_trial(sub.floor.new, cfg.create_batch["floor"]),
        }
        if self.raw is not None:
            trials["raw"] = self._add_model_trial(self.raw, cfg.add_model_batch[index])
        if size == small:
            if sub.psm is not None:
                trials["psm"] = _create_trial(sub.psm.new, cfg.create_batch["psm"])
            if sub.automat is not None:
                trials["automat"] = _create_trial(sub.automat.new, cfg.create_batch["automat"])
        created = interleave(trials, cfg.create_rounds)
        ours = created["callfsm"]
        self.create_at[size] = (ours, created["floor"])
        label = size_label(size)
        if raw_rounds is None:
            raw_rounds = created["raw"]
            ratio = ratio_of_rounds(ours, raw_rounds)
            note = "interleaved round by round"
        else:
            ratio = median(ours) / median(raw_rounds)
            note = f"raw timed alone just before, on a fresh Machine with {label} registered models"
        self.report.add(
            Row.measured(
                f"create.{index}",
                f"2. create one model µs, {label} live, vs raw add_model",
                "µs",
                value=median(ours),
                reference=median(raw_rounds),
                reference_name=f"raw transitions add_model at {label}",
                ratio=ratio,
                target=Target("<= 0.50x", "ratio", 0.50) if size == small else None,
                note=note,
            )
        )
        if size == small:
            self.peer_rows("create", f"2. create one model µs, {label} live", ours, created)
        if size == large:
            first, first_control = (median(v) for v in self.create_at[small])
            last, control = median(ours), median(created["floor"])
            self.report.add(
                Row.measured(
                    "create.flat",
                    f"2. create one model µs, {label} live (vs {size_label(small)} live)",
                    "µs",
                    value=last,
                    reference=first,
                    reference_name=f"callfsm, {size_label(small)} live",
                    ratio=last / first,
                    target=Target("<= 1.50x", "ratio", 1.50),
                    note=(
                        f"control (dict floor create, same rounds): {control:.3f} µs here, "
                        f"{first_control:.3f} µs at {size_label(small)}"
                    ),
                )
            )

    def peer_rows(self, what: str, figure: str, ours: list[float], theirs: dict[str, list[float]]) -> None:
        for key, name, _ref in self.subjects.peers():
            if key in self.subjects.missing:
                self.report.add(Row.na(f"{what}.{key}", f"{figure}, vs {name}", self.subjects.missing[key]))
                continue
            self.report.add(
                Row.measured(
                    f"{what}.{key}",
                    f"{figure}, vs {name}",
                    "µs",
                    value=median(ours),
                    reference=median(theirs[key]),
                    reference_name=name,
                    ratio=ratio_of_rounds(ours, theirs[key]),
                )
            )

    def peer_memory(self) -> None:
        """Memory per live instance of the other peers (each run through the path, no history)."""
        cf_per = self.memory[self.cfg.sizes[-1]]
        for key, name, ref in self.subjects.peers():
            count = self.cfg.peer_memory[key]
            figure = f"2. memory per live instance vs {name} ({size_label(count)} instances, no history)"
            if ref is None:
                self.report.add(Row.na(f"memory.{key}", figure, self.subjects.missing[key]))
                continue
            with Traced() as grown:
                models = [ref.new() for _ in range(count)]
                ref.path(models, PATH_BRANCHES)
            per = grown.grew / count
            del models
            self.report.add(
                Row.measured(
                    f"memory.{key}",
                    figure,
                    "B",
                    value=cf_per,
                    reference=per,
                    reference_name=name,
                    ratio=cf_per / per,
                    note="callfsm: its figure at the largest size",
                )
            )


# -- phase 3: snapshot, ingestion -------------------------------------------------------


def phase_snapshot(cfg: Config, report: Report) -> None:
    from fsm.snapshot import dumps, loads, snapshot

    models = [live_invitation(n, 1000.0 + n) for n in range(cfg.snapshot_batch)]
    plain = [snapshot(m) for m in models]

    def ours() -> float:
        def work() -> None:
            for m in models:
                loads(dumps(m))

        return _per_unit(timed(work), len(models))

    def floor() -> float:
        def work() -> None:
            for d in plain:
                json.loads(json.dumps(d, sort_keys=True))

        return _per_unit(timed(work), len(plain))

    result = interleave({"callfsm": ours, "floor": floor}, cfg.other_rounds)
    report.add(
        Row.measured(
            "snapshot",
            "6. snapshot + restore one live invitation (JSON round trip)",
            "µs",
            value=median(result["callfsm"]),
            reference=median(result["floor"]),
            reference_name="json.dumps + loads of the same dict",
            ratio=ratio_of_rounds(result["callfsm"], result["floor"]),
        )
    )


INGEST_MODULES = ("adapters.wire.events", "adapters.routing.dispatcher")


def ingestion_available() -> str | None:
    """``None`` when the adapters exist, else why the rows are n/a."""
    absent = [m for m in INGEST_MODULES if not _available(m)]
    if absent:
        return f"not available yet ({', '.join(absent)} absent)"
    return None


JSON_TYPE = "application/vnd.microsoft.com.ucwa+json"
XML_TYPE = "application/vnd.microsoft.com.ucwa+xml"


def phase_ingestion(cfg: Config, report: Report) -> None:
    json_target = Target("<= 6x floor", "ratio", 6.0)
    json_figure = "3. ingestion, JSON event-channel bytes -> history (events/s)"
    xml_figure = "3. ingestion, XML event-channel bytes -> history (events/s)"
    why = ingestion_available()
    if why is not None:
        report.add(Row.na("ingest.json", json_figure, why, json_target))
        report.add(Row.na("ingest.xml", xml_figure, why))
        return
    events = interleaved_events(cfg.ingest_calls)
    bodies = {fmt: responses(events, cfg.per_response, fmt) for fmt in ("json", "xml")}
    count = len(events)
    types = {"json": JSON_TYPE, "xml": XML_TYPE}
    try:
        from bench.ingest import CallFsmIngest

        # One untimed run per format: every event must reach a history, or the figure measures something else.
        problems = [p for fmt in types if (p := CallFsmIngest().check(bodies[fmt], types[fmt], count))]
    except Exception as exc:  # the adapters are young: report, do not crash the suite
        problems = [f"{type(exc).__name__}: {exc}"]
    floor_check = IngestFloor()
    floor_applied = sum(floor_check.feed(body, 1000.0 + i) for i, body in enumerate(bodies["json"]))
    if floor_applied != count:
        problems.append(f"the floor applied {floor_applied} of {count} events")
    if problems:
        report.add(Row.na("ingest.json", json_figure, f"adapters not usable yet ({problems[0]})", json_target))
        report.add(Row.na("ingest.xml", xml_figure, f"adapters not usable yet ({problems[-1]})"))
        return

    def ours(fmt: str) -> Callable[[], float]:
        def trial() -> float:
            sink = CallFsmIngest()
            return count / (timed(lambda: sink.run(bodies[fmt], types[fmt])) / 1e9)

        return trial

    def floor() -> float:
        sink = IngestFloor()

        def work() -> None:
            for i, body in enumerate(bodies["json"]):
                sink.feed(body, 1000.0 + i)

        return count / (timed(work) / 1e9)

    result = interleave({"json": ours("json"), "xml": ours("xml"), "floor": floor}, cfg.other_rounds)
    # rates: a cost ratio is floor rate / our rate
    for key, fmt, figure, target in (
        ("ingest.json", "json", json_figure, json_target),
        ("ingest.xml", "xml", xml_figure, None),
    ):
        report.add(
            Row.measured(
                key,
                figure,
                "ev/s",
                value=median(result[fmt]),
                reference=median(result["floor"]),
                reference_name="json.loads + dict floor (JSON bodies)",
                ratio=ratio_of_rounds(result["floor"], result[fmt]),
                target=target,
            )
        )


def phase_replay(cfg: Config, report: Report) -> None:
    """Item 4: what ``callfsm replay`` does, on a generated stream, vs item 3's ingestion rate.

    The stream is JSON Lines (one event-channel response per line), as the
    command reads it; a round reads it (:func:`adapters.routing.replay.read_records`),
    replays it and renders the text report, all in memory (no file I/O). Each
    round is interleaved with item 3's JSON ingestion trial, and the ratio is
    ingestion rate / replay rate: the target "replay >= 50% of ingestion" is
    a ratio <= 2.
    """
    figure = f"4. replay of a {size_label(cfg.replay_events)}-event stream (events/s)"
    target = Target(">= 50% of ingestion", "ratio", 2.0)
    why = ingestion_available()
    if why is None and not _available("adapters.routing.replay"):
        why = "not available yet (adapters.routing.replay absent)"
    if why is not None:
        report.add(Row.na("replay", figure, why, target))
        return
    from adapters.routing.replay import read_records, render_text, replay
    from bench.ingest import CallFsmIngest

    events = interleaved_events(-(-cfg.replay_events // 3))[: cfg.replay_events]
    stream = b"\n".join(json_response(list(chunk), ack=i + 1) for i, chunk in enumerate(chunks(events, 12)))
    calls = len({e.href for e in events})
    ingest_events = interleaved_events(cfg.ingest_calls)
    ingest_bodies = responses(ingest_events, cfg.per_response, "json")
    problems: list[str] = []

    def replay_trial() -> float:
        out: list[Any] = []

        def work() -> None:
            result = replay(read_records(stream, "generated.jsonl"))
            out.append((result, render_text(result)))

        ns = timed(work)
        result, _text = out[0]
        # the checker must have checked the stream we think it did
        if result.events != len(events) or len(result.resources) != calls or result.violations or result.not_applied:
            problems.append(
                f"{result.events} events, {len(result.resources)} resources, {len(result.violations)} violations, "
                f"{len(result.not_applied)} not applied (expected {len(events)} events, {calls} resources)"
            )
        return len(events) / (ns / 1e9)

    def ingest_trial() -> float:
        sink = CallFsmIngest()
        return len(ingest_events) / (timed(lambda: sink.run(ingest_bodies, JSON_TYPE)) / 1e9)

    result = interleave({"replay": replay_trial, "ingest": ingest_trial}, cfg.replay_rounds)
    if problems:
        report.add(Row.na("replay", figure, f"the replay did not check the generated stream: {problems[0]}", target))
        return
    report.add(
        Row.measured(
            "replay",
            figure,
            "ev/s",
            value=median(result["replay"]),
            reference=median(result["ingest"]),
            reference_name="ingestion (item 3, JSON), same rounds",
            ratio=ratio_of_rounds(result["ingest"], result["replay"]),
            target=target,
            note="read_records + replay + render_text, in memory",
        )
    )


def phase_replay_cli(cfg: Config, report: Report) -> None:
    """Item 7 (issue 14): the ``callfsm replay`` command on files, in child processes (:mod:`bench.replay_cli`)."""
    from bench import replay_cli

    cli_figure = f"7. callfsm replay --json, {size_label(cfg.cli_calls)} calls x 3 events, vs floor (s)"
    linear_figure = f"7. callfsm replay time, {size_label(cfg.cli_large)} calls vs {size_label(cfg.cli_small)}"
    memory_figure = (
        f"7. callfsm replay peak RSS per further call, {size_label(cfg.cli_small)} -> {size_label(cfg.cli_large)}"
    )
    jobs_figure = f"7. callfsm replay --jobs 2 vs --jobs 1, 2 files of {size_label(cfg.cli_jobs_calls)} calls (s)"
    targets = {
        "replay.cli": Target("<= 6x floor", "ratio", 6.0),
        "replay.linear": Target("<= 4.2x", "ratio", 4.2),
        "replay.memory": Target("<= 2,048 B", "value", 2048.0),
        "replay.jobs": Target("<= 0.59 (>= 1.7x faster)", "ratio", 1 / 1.7),
    }
    figures = {
        "replay.cli": cli_figure,
        "replay.linear": linear_figure,
        "replay.memory": memory_figure,
        "replay.jobs": jobs_figure,
    }
    files = replay_cli.Recordings(cfg.cli_calls, cfg.cli_small, cfg.cli_large, cfg.cli_jobs_calls)
    replay_cli.PEAKS.clear()
    try:
        replay_cli.run_cli("--json", str(files.small))  # untimed: writes the bytecode cache, as an install does
        result = interleave(replay_cli.trials(files), cfg.cli_rounds)
    except RuntimeError as exc:
        for key, figure in figures.items():
            report.add(Row.na(key, figure, str(exc), targets[key]))
        return
    finally:
        files.close()
    report.add(
        Row.measured(
            "replay.cli",
            cli_figure,
            "s",
            value=median(result["cli"]),
            reference=median(result["floor"]),
            reference_name="json.loads + dict floor over the same file",
            ratio=ratio_of_rounds(result["cli"], result["floor"]),
            target=targets["replay.cli"],
            note=f"{files.cli_events} events; child process, start-up included; the floor in this process",
        )
    )
    report.add(
        Row.measured(
            "replay.linear",
            linear_figure,
            "s",
            value=median(result["large"]),
            reference=median(result["small"]),
            reference_name=f"the same command, {size_label(cfg.cli_small)} calls",
            ratio=ratio_of_rounds(result["large"], result["small"]),
            target=targets["replay.linear"],
            note="linear is 4x the calls: 4x",
        )
    )
    peaks = replay_cli.PEAKS
    per_call = (median([float(x) for x in peaks["large"]]) - median([float(x) for x in peaks["small"]])) / (
        cfg.cli_large - cfg.cli_small
    )
    report.add(
        Row.measured(
            "replay.memory",
            memory_figure,
            "B",
            value=per_call,
            reference=median([float(x) for x in peaks["small"]]),
            reference_name=f"peak RSS of the run with {size_label(cfg.cli_small)} calls",
            ratio=None,
            target=targets["replay.memory"],
            note=f"peak RSS (the child's VmHWM), bytes: large {peaks['large']}, small {peaks['small']}",
        )
    )
    report.add(
        Row.measured(
            "replay.jobs",
            jobs_figure,
            "s",
            value=median(result["jobs2"]),
            reference=median(result["jobs1"]),
            reference_name="--jobs 1, same files",
            ratio=ratio_of_rounds(result["jobs2"], result["jobs1"]),
            target=targets["replay.jobs"],
            note=(
                f"speed-up {median(result['jobs1']) / median(result['jobs2']):.2f}x on {os.cpu_count()} cores; "
                f"control, two CPU-bound processes at once vs one after the other, same rounds: "
                f"{1 / ratio_of_rounds(result['spin2'], result['spin1']):.2f}x"
            ),
        )
    )


SIMULATOR_MODULES = ("adapters.simulator", "adapters.ucwa.client", "uvicorn", "starlette")


def phase_simulator(cfg: Config, report: Report) -> None:
    """Item 5: lifecycles per second through the simulator and the client; per-request cost vs bare ASGI.

    See :mod:`bench.simulator`. Three trials, interleaved round by round: a
    batch of GETs of one invitation from the simulator, the same batch from a
    bare ASGI handler that answers the same bytes (same uvicorn settings, same
    keep-alive client, same headers), and a batch of call lifecycles through
    the adapters' AsyncUcwaClient. The lifecycle's reference is the floor of
    its HTTP exchanges at the bare handler's cost in the same round.
    """
    life_figure = (
        f"5. simulator: call lifecycles per second over loopback (AsyncUcwaClient, {cfg.sim_concurrency} at a time)"
    )
    request_figure = "5. simulator: per-request cost vs bare ASGI handler (GET of an invitation)"
    target = Target("<= 2x bare ASGI", "ratio", 2.0)
    absent = [m for m in SIMULATOR_MODULES if not _available(m)]
    if absent:
        why = f"not available ({', '.join(absent)} absent: install the server extra)"
        report.add(Row.na("simulator.lifecycles", life_figure, why))
        report.add(Row.na("simulator.request", request_figure, why, target))
        return
    from bench.simulator import running

    exchanges: list[float] = []
    try:
        with running() as bench:
            # one untimed round: connections opened, code paths warm
            bench.request_trial(bench.sim.base_url, cfg.sim_request_batch)
            bench.request_trial(bench.bare_url, cfg.sim_request_batch)
            bench.lifecycle_trial(cfg.sim_lifecycles, cfg.sim_concurrency)

            def life() -> float:
                measured = bench.lifecycle_trial(cfg.sim_lifecycles, cfg.sim_concurrency)
                exchanges.append(measured.exchanges)
                return measured.per_second

            result = interleave(
                {
                    "simulator": lambda: bench.request_trial(bench.sim.base_url, cfg.sim_request_batch),
                    "bare": lambda: bench.request_trial(bench.bare_url, cfg.sim_request_batch),
                    "lifecycles": life,
                },
                cfg.sim_rounds,
            )
    except Exception as exc:  # a server that cannot start must not sink the other rows
        why = f"the loopback run failed ({type(exc).__name__}: {exc})"
        report.add(Row.na("simulator.lifecycles", life_figure, why))
        report.add(Row.na("simulator.request", request_figure, why, target))
        return
    floor = [1e6 / (k * bare) for k, bare in zip(exchanges, result["bare"], strict=True)]
    report.add(
        Row.measured(
            "simulator.lifecycles",
            life_figure,
            "calls/s",
            value=median(result["lifecycles"]),
            reference=median(floor),
            reference_name=f"floor: {median(exchanges):.2f} bare-ASGI round trips per lifecycle",
            ratio=ratio_of_rounds(floor, result["lifecycles"]),
            note=(
                f"{cfg.sim_lifecycles} lifecycles per round (start, events, hang-up; the remote answers at once), "
                f"{cfg.sim_rounds} rounds; HTTP exchanges per lifecycle (creates, P-GETs, hang-ups) "
                f"from the simulator's transcript: median {median(exchanges):.2f}"
            ),
        )
    )
    report.add(
        Row.measured(
            "simulator.request",
            request_figure,
            "µs",
            value=median(result["simulator"]),
            reference=median(result["bare"]),
            reference_name="bare ASGI handler, same bytes",
            ratio=ratio_of_rounds(result["simulator"], result["bare"]),
            target=target,
            note=(
                f"round trip through one keep-alive httpx.Client, {cfg.sim_request_batch} GETs per round, "
                f"{cfg.sim_rounds} rounds; the simulator's own share: "
                f"{median(result['simulator']) - median(result['bare']):.0f} µs per request"
            ),
        )
    )


# -- the run -------------------------------------------------------------------------


def run(cfg: Config, *, write: Path | None = RESULTS) -> Report:
    """Run every phase, print the table on stdout, write the JSON; returns the report."""
    report = Report(cfg, machine=machine_info(), started=time.strftime("%Y-%m-%d %H:%M:%S %z"))
    begin = time.perf_counter()
    print(f"callfsm bench ({cfg.mode}): rows as they are measured", file=sys.stderr, flush=True)
    memory: dict[int, float] = {}
    traced_from_start = tracemalloc.is_tracing()

    def memory_phase() -> None:
        memory.update(phase_memory(cfg, report, traced_from_start=traced_from_start))

    phases: list[tuple[str, Callable[[], Any]]] = [
        ("memory", memory_phase),
        ("growth", lambda: Growth(cfg, report, memory).run()),
        ("ingestion", lambda: phase_ingestion(cfg, report)),
        ("replay", lambda: phase_replay(cfg, report)),
        ("replay command", lambda: phase_replay_cli(cfg, report)),
        ("simulator", lambda: phase_simulator(cfg, report)),
        ("snapshot", lambda: phase_snapshot(cfg, report)),
    ]
    for name, phase in phases:
        at = time.perf_counter()
        phase()
        print(f"  [{name}: {time.perf_counter() - at:.1f} s]", file=sys.stderr, flush=True)
    report.seconds = time.perf_counter() - begin
    report.rows.sort(key=lambda r: ROW_ORDER.index(r.key) if r.key in ROW_ORDER else len(ROW_ORDER))
    m = report.machine
    print(
        f"\ncallfsm bench, {cfg.mode} run, {report.started}; {m['nproc']} cores, Python {m['python']}, {m['cpu']}; "
        f"{report.seconds:.0f} s"
    )
    print(render_table(report.rows))
    print("ratio = callfsm cost / reference cost (for ev/s rows: reference rate / callfsm rate)")
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
        print(f"written: {write}")
    return report


#: Table order: the issue's items in order.
ROW_ORDER: tuple[str, ...] = (
    "trigger.raw",
    "trigger.floor",
    "trigger.psm",
    "trigger.automat",
    "memory.0",
    "memory.1",
    "memory.2",
    "memory.floor",
    "memory.psm",
    "memory.automat",
    "trigger.1",
    "trigger.2",
    "create.0",
    "create.1",
    "create.2",
    "create.flat",
    "create.floor",
    "create.psm",
    "create.automat",
    "released",
    "released.residue",
    "ingest.json",
    "ingest.xml",
    "replay",
    "replay.cli",
    "replay.linear",
    "replay.memory",
    "replay.jobs",
    "simulator.lifecycles",
    "simulator.request",
    "snapshot",
)
