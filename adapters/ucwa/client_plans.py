"""Plans, and the two ways to run one: a sans-IO generator that yields what to send and is sent each answer.

The clients' shared core (:mod:`adapters.ucwa.client_core`) says what to send and what to make of each
answer as a plan; :func:`run_plan` sends with ``httpx.Client`` in the sync client, :func:`arun_plan`
awaits ``httpx.AsyncClient`` in the asyncio one. Separate from the core because this is the only code
that differs between the twins for a request: everything else about it is said once. The application's
creation walk (:func:`adapters.ucwa.application.creation`) is a plan of the same shape.

A failure to send (an :class:`~adapters.wire.requests.OriginError`, a
:class:`~adapters.transport.http.TransportError`) is thrown into the plan where it yielded, so the plan
handles it exactly as if it had sent the request itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import TypeAlias, TypeVar, cast

S = TypeVar("S")
R = TypeVar("R")
T = TypeVar("T")

#: Yields what to send (``S``), is sent its answer (``R``), returns its result (``T``).
Plan: TypeAlias = Generator[S, R, T]


def run_plan(plan: Generator[S, R, T], send: Callable[[S], R]) -> T:
    """Run ``plan`` to its end, sending each of its requests with ``send``."""
    try:
        item = next(plan)
        while True:
            try:
                answer = send(item)
            except BaseException as error:  # the plan decides, as where it yielded (it may catch, or not)
                item = plan.throw(error)
            else:
                item = plan.send(answer)
    except StopIteration as done:
        return cast(T, done.value)


async def arun_plan(plan: Generator[S, R, T], send: Callable[[S], Awaitable[R]]) -> T:
    """Run ``plan`` to its end, awaiting ``send`` for each of its requests (the asyncio twin of :func:`run_plan`)."""
    try:
        item = next(plan)
        while True:
            try:
                answer = await send(item)
            except BaseException as error:  # the plan decides, as where it yielded (it may catch, or not)
                item = plan.throw(error)
            else:
                item = plan.send(answer)
    except StopIteration as done:
        return cast(T, done.value)
