"""Where a walk's randomness comes from: Hypothesis' ``draw``, or a seeded :class:`random.Random`.

Every walker asks one ``_Choices`` for a pick, a number or a coin, so the same walk code serves the
Hypothesis strategies (which shrink) and :func:`~adapters.testing.strategies.random_stream` (which
builds long streams from a seed without Hypothesis' engine).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

import hypothesis.strategies as st

X = TypeVar("X")


class _Choices(Protocol):
    """Where a walk's randomness comes from: Hypothesis' ``draw``, or a seeded ``random.Random``."""

    def pick(self, options: Sequence[X]) -> X: ...

    def number(self, low: int, high: int) -> int: ...

    def coin(self) -> bool: ...


class _DrawChoices:
    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def pick(self, options: Sequence[X]) -> X:
        return self._draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def coin(self) -> bool:
        return self._draw(st.booleans())


class _RandomChoices:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, options: Sequence[X]) -> X:
        return options[self._rng.randrange(len(options))]

    def number(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def coin(self) -> bool:
        return self._rng.random() < 0.5
