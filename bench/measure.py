"""Timing and memory primitives: interleaved rounds, medians, traced bytes.

Theory of operation
-------------------
A *trial* is a callable that does its own untimed setup, times one piece of
work with :func:`timed` and returns the cost per unit (ns per trigger, per
create, ...). :func:`interleave` runs several trials round-robin, rotating the
order every round, so callfsm and its references see the same machine load;
every figure is the median of its rounds, and a ratio is the median of the
per-round ratios (a slow round slows both sides and cancels out).

The garbage collector is disabled inside the timed region only: a collection
triggered by an unrelated allocation would land on whichever trial happened to
run, and it is a property of the heap, not of the code measured.

Memory is :mod:`tracemalloc`'s count of live traced bytes. The caller decides
when tracing starts; :class:`Traced` measures the growth of one block of work.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

Trial = Callable[[], float]


def timed(work: Callable[[], Any]) -> int:
    """Nanoseconds taken by ``work()``, with the garbage collector off while it runs."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        work()
        return time.perf_counter_ns() - start
    finally:
        if was_enabled:
            gc.enable()


def interleave(trials: Mapping[str, Trial], rounds: int) -> dict[str, list[float]]:
    """Run every trial once per round, rotating the order; each trial's per-round values."""
    names = list(trials)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            out[name].append(trials[name]())
    return out


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def ratio_of_rounds(numerator: list[float], denominator: list[float]) -> float:
    """Median of the per-round ratios of two interleaved trials."""
    return median([a / b for a, b in zip(numerator, denominator, strict=True)])


def traced_now() -> int:
    """Live traced bytes after a full collection."""
    gc.collect()
    current, _peak = tracemalloc.get_traced_memory()
    return current


class Traced:
    """Growth of live traced bytes across a ``with`` block (tracing on inside it).

    Starts tracing if it is off and stops it again on exit, so timing loops
    elsewhere never pay for tracemalloc's hooks.
    """

    def __init__(self) -> None:
        self.grew = 0
        self._started_here = False
        self._before = 0

    def __enter__(self) -> Traced:
        if not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_here = True
        self._before = traced_now()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.grew = traced_now() - self._before
        if self._started_here:
            tracemalloc.stop()
