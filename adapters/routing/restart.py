"""Client snapshots: the live machines, the event-channel cursor and the routing, as JSON.

Theory of operation
-------------------
A client that stops (a deploy, a crash, a move to another host) and starts
again must end every call as if it had never stopped. Three things make that
possible, and a client snapshot holds all three, as plain JSON data:

- every live model, each as an :mod:`fsm.snapshot` (its own format and
  version, its history and its deadlines);
- the event-channel cursor: the URL the next P-GET goes to (the last
  ``next`` followed, or the answer being processed: see
  :attr:`adapters.ucwa.channel.EventChannel.resume_url`). Following it asks the
  server for exactly the events this client has not applied yet;
- the dispatcher's routing: the keys each model is found by (hrefs,
  operation ids, the join's conversation, the audio/video session a
  renegotiation belongs to and which renegotiation is its current one), the
  ``baseuri``, when each settled model settled, and the duplicate window.

Layout (``version`` 1)::

    {"format": "callfsm.client", "version": 1, "url": <application>,
     "events": <next P-GET URL or null>, "clock": {"now": t, "wall": unix},
     "baseuri": <str or null>,
     "models": [{"model": <fsm snapshot>, "routes": [[space, key], ...], "settled_at": t or null}],
     "sessions": [{"href": <audioVideoSession>, "current": <index in models or null>}],
     "seen": [[key, type, status or null, digest], ...]}

No credential is in it: the token is given again to ``restore``.

Origins. A snapshot is a file someone may have edited, and the restored
client sends its token to the URLs in it. :func:`load` resolves every href
the snapshot holds (the ``events`` cursor, the ``baseuri``, each session's
href, and each model's hrefs and links) against the application URL and
refuses, with a :class:`~fsm.errors.SnapshotError` naming the field, any
that leads to another origin (scheme, host, port). ``data:`` URIs (an SDP
offer) are content, not places, and pass.

Time. Deadlines and history times are on the caller's clock, which need not
survive a restart (``time.monotonic`` starts anew with the process). The
snapshot records the clock and the wall clock (Unix time) together; restoring
reads both again and moves every time value by
``clock_now - (clock_then + (wall_now - wall_then))``: a deadline 20 s away
when the snapshot was taken, restored 5 s later, is 15 s away on the new
clock. [U] A wall clock that went backwards counts as no time passed.
:data:`TIME_FIELDS` lists the model fields that hold a time; a test checks
that every float field of every machine is in it.

Versions. ``MIGRATIONS[n]`` upgrades a version-``n`` client snapshot to
version ``n + 1``; an older snapshot goes through every step, a missing or
failing step and a newer snapshot are refused with a
:class:`~fsm.errors.SnapshotError` saying which versions are involved. Each
model inside is migrated by :mod:`fsm.snapshot` under its own version.

Whatever the input, :func:`load` returns a :class:`ClientState` or raises
:class:`~fsm.errors.SnapshotError`; nothing else escapes.

The dispatcher's routing tables are private to :mod:`adapters.routing.dispatcher`;
:func:`routing_state` and :func:`install` read and write them here, in one
place, so that the dispatcher's public surface stays what it was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from attrs import frozen

from adapters.routing.dispatcher import Dispatcher
from adapters.wire.requests import OriginError, resolve
from fsm import snapshot as model_snapshot
from fsm.errors import SnapshotError
from fsm.model import FsmModel
from fsm.renegotiation import Renegotiation
from fsm.wire import json_kind

FORMAT: Final = "callfsm.client"
VERSION: Final = 1

#: version -> function that upgrades a client snapshot (the whole dict) from that
#: version to the next. Version 1 is the first: nothing to upgrade yet.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

#: Machine name -> the model fields that hold a time on the caller's clock.
TIME_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "invitation": ("final_at",),
    "online_meeting": ("lobby_deadline", "final_at"),
    "lobby_participant": (),
    "renegotiation": ("deadline",),
    "meeting_series": (),
}

#: The spaces a routing key lives in (see :class:`~adapters.routing.dispatcher.Dispatcher`).
ROUTE_SPACES: Final = frozenset({"href", "op", "conv", "session"})

_TOP_KEYS: Final = frozenset({"format", "version", "url", "events", "clock", "baseuri", "models", "sessions", "seen"})


@frozen
class Route:
    space: str
    key: str


@frozen
class ModelEntry:
    """One live model with its routing keys and, once it settled, when."""

    model: FsmModel
    routes: tuple[Route, ...]
    settled_at: float | None


@frozen
class SessionEntry:
    href: str
    #: Index into :attr:`ClientState.models` of the session's current renegotiation.
    current: int | None


@frozen
class ClientState:
    """A client snapshot, read, checked and moved onto the new clock."""

    url: str
    events: str | None
    baseuri: str | None
    models: tuple[ModelEntry, ...]
    sessions: tuple[SessionEntry, ...]
    seen: tuple[tuple[str, str, str | None, str], ...]


# -- taking a snapshot ----------------------------------------------------------------------


def routing_state(dispatcher: Dispatcher) -> dict[str, Any]:
    """The dispatcher's part of a client snapshot (``baseuri``, ``models``, ``sessions``, ``seen``)."""
    registry = dispatcher.registry
    idents = list(registry.models)
    index = {ident: number for number, ident in enumerate(idents)}
    models = []
    for ident in idents:
        model = registry.models[ident]
        routes = sorted([space, key] for space, key in registry.keys.get(ident, set()))
        models.append(
            {
                "model": model_snapshot.snapshot(model),
                "routes": routes,
                "settled_at": registry.settled_at.get(ident),
            }
        )
    sessions = []
    for key, session in registry.sessions.items():
        current = session.current
        sessions.append(
            {
                "href": registry.session_hrefs.get(key, key),
                "current": None if current is None else index.get(id(current)),
            }
        )
    return {
        "baseuri": dispatcher.baseuri,
        "models": models,
        "sessions": sessions,
        "seen": [list(entry) for entry in dispatcher._seen],
    }


def take(url: str, events: str | None, dispatcher: Dispatcher, *, now: float, wall: float) -> dict[str, Any]:
    """A client snapshot (JSON-ready) of ``dispatcher`` with the cursor ``events``."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "url": url,
        "events": events,
        "clock": {"now": now, "wall": wall},
        **routing_state(dispatcher),
    }


# -- reading one ----------------------------------------------------------------------------




def _bad(where: str, why: str) -> SnapshotError:
    return SnapshotError(f"client snapshot: {where}: {why}")


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, f"expected a string, got {json_kind(value)}")
    return value


def _opt_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _time(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(where, f"expected a number, got {json_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise _bad(where, "a number too large for a time") from None
    if not math.isfinite(number):
        raise _bad(where, f"expected a finite time, got {value!r}")
    return number


def _opt_time(value: object, where: str) -> float | None:
    return None if value is None else _time(value, where)


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(where, f"expected an array, got {json_kind(value)}")
    return value


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, f"expected an object, got {json_kind(value)}")
    return value


def parse(data: Any) -> dict[str, Any]:
    """``data`` (a dict, or JSON text or bytes) as a client snapshot dict, upgraded to :data:`VERSION`."""
    if isinstance(data, str | bytes | bytearray):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SnapshotError(f"client snapshot is not JSON: {exc}") from None
        except RecursionError:
            raise SnapshotError("client snapshot is not JSON this reader accepts: nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        hint = " (that is one model's snapshot: restore it with fsm.snapshot)" if found == model_snapshot.FORMAT else ""
        raise SnapshotError(f"not a callfsm client snapshot (expected format {FORMAT!r}){hint}")
    version = model_snapshot.check_version(data, what="client snapshot", current=VERSION)
    return model_snapshot.migrate(dict(data), version, VERSION, MIGRATIONS, what="client snapshot")


def _shifted(entry: object, shift: float, where: str) -> dict[str, Any]:
    """A model snapshot with every time moved by ``shift`` (the model's own checks come after)."""
    data = dict(_object(entry, where))
    body = data.get("model")
    machine = data.get("machine")
    if not isinstance(body, dict) or not isinstance(machine, str) or shift == 0.0:
        return data  # fsm.snapshot.restore says what is wrong with it
    body = dict(body)
    for name in TIME_FIELDS.get(machine, ()):
        body[name] = _plus(body.get(name), shift)
    history = body.get("history")
    if isinstance(history, list):
        body["history"] = [
            [*row[:4], _plus(row[4], shift)] if isinstance(row, list) and len(row) == 5 else row for row in history
        ]
    data["model"] = body
    return data


def _plus(value: object, shift: float) -> object:
    """``value + shift`` for a number; anything else (or a number no float can hold) unchanged, for the checks."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:
        return value + shift
    except OverflowError:
        return value


def _routes(raw: object, where: str) -> tuple[Route, ...]:
    out = []
    for number, item in enumerate(_list(raw, where)):
        here = f"{where}[{number}]"
        if not isinstance(item, list) or len(item) != 2:
            raise _bad(here, f"expected [space, key], got {json_kind(item)}")
        space, key = _text(item[0], here), _text(item[1], here)
        if space not in ROUTE_SPACES:
            raise _bad(here, f"unknown routing space {space!r} (known: {sorted(ROUTE_SPACES)})")
        out.append(Route(space, key))
    return tuple(out)


def _seen(raw: object) -> tuple[tuple[str, str, str | None, str], ...]:
    out = []
    for number, item in enumerate(_list(raw, "seen")):
        here = f"seen[{number}]"
        if not isinstance(item, list) or len(item) != 4:
            raise _bad(here, f"expected [key, type, status, digest], got {json_kind(item)}")
        out.append((_text(item[0], here), _text(item[1], here), _opt_text(item[2], here), _text(item[3], here)))
    return tuple(out)


def _on_origin(href: str | None, where: str, url: str) -> None:
    """Refuse ``href`` unless, resolved against the application ``url``, it stays on its origin."""
    if href is None or href[:5].lower() == "data:":
        return
    try:
        resolve(url, href, where)
    except OriginError as refused:
        raise _bad(where, str(refused)) from None


def _model_hrefs(value: object, where: str, url: str, depth: int = 0) -> None:
    """Every href a restored model holds (fields named ``href`` or ``*_href``, every link), on ``url``'s origin."""
    cls: Any = type(value)
    if depth > 8 or not attrs.has(cls):
        return
    for attribute in attrs.fields(cls):
        item = getattr(value, attribute.name)
        here = f"{where}.{attribute.name}"
        if isinstance(item, str) and (attribute.name == "href" or attribute.name.endswith("_href")):
            _on_origin(item, here, url)
        elif isinstance(item, tuple | list):
            for number, entry in enumerate(item):
                _model_hrefs(entry, f"{here}[{number}]", url, depth + 1)
        else:
            _model_hrefs(item, here, url, depth + 1)


def load(data: Any, *, url: str, now: float, wall: float) -> ClientState:
    """Read a client snapshot for the application ``url``, moving its times onto the clock reading ``now``.

    ``wall`` is the wall clock (Unix seconds) now. Raises :class:`SnapshotError` only.
    """
    doc = parse(data)
    for key in doc:
        if key not in _TOP_KEYS:
            raise _bad("$", f"unknown field {key!r}")
    own_url = _text(doc.get("url"), "url")
    if own_url != url:
        raise _bad("url", f"the snapshot is of the application {own_url!r}, not {url!r}")
    clock = _object(doc.get("clock"), "clock")
    then = _time(clock.get("now"), "clock.now")
    wall_then = _time(clock.get("wall"), "clock.wall")
    shift = now - (then + max(0.0, wall - wall_then))
    models = []
    for number, raw in enumerate(_list(doc.get("models", []), "models")):
        where = f"models[{number}]"
        entry = _object(raw, where)
        extra = set(entry) - {"model", "routes", "settled_at"}
        if extra:
            raise _bad(where, f"unknown fields {sorted(extra)}")
        try:
            model = model_snapshot.restore(_shifted(entry.get("model"), shift, f"{where}.model"))
        except SnapshotError as exc:
            raise _bad(f"{where}.model", str(exc)) from None
        _model_hrefs(model, f"{where}.model", url)
        settled = _opt_time(entry.get("settled_at"), f"{where}.settled_at")
        routes = _routes(entry.get("routes", []), f"{where}.routes")
        models.append(ModelEntry(model, routes, None if settled is None else settled + shift))
    sessions = []
    for number, raw in enumerate(_list(doc.get("sessions", []), "sessions")):
        where = f"sessions[{number}]"
        entry = _object(raw, where)
        href = _text(entry.get("href"), f"{where}.href")
        _on_origin(href, f"{where}.href", url)
        current = entry.get("current")
        if current is not None and (
            isinstance(current, bool)
            or not isinstance(current, int)
            or not 0 <= current < len(models)
            or not isinstance(models[current].model, Renegotiation)
        ):
            raise _bad(f"{where}.current", f"expected the index of a renegotiation in models, got {current!r}")
        sessions.append(SessionEntry(href, current))
    events = _opt_text(doc.get("events"), "events")
    baseuri = _opt_text(doc.get("baseuri"), "baseuri")
    _on_origin(events, "events", url)
    _on_origin(baseuri, "baseuri", url)
    return ClientState(
        url=url,
        events=events,
        baseuri=baseuri,
        models=tuple(models),
        sessions=tuple(sessions),
        seen=_seen(doc.get("seen", [])),
    )


def install(state: ClientState, dispatcher: Dispatcher) -> None:
    """Put the models and the routing of ``state`` into a fresh ``dispatcher``."""
    dispatcher.baseuri = state.baseuri
    registry = dispatcher.registry
    tables: dict[str, dict[str, Any]] = {
        "href": registry.by_href,
        "op": registry.by_operation,
        "conv": registry.conversations,
    }
    for entry in state.models:
        model = entry.model
        dispatcher.track(model)
        keys = registry.keys.setdefault(id(model), set())
        for route in entry.routes:
            keys.add((route.space, route.key))
            if route.space in tables:
                tables[route.space][route.key] = model
        if any(route.space == "href" for route in entry.routes):
            registry.pending.pop(id(model), None)
        if entry.settled_at is not None:
            registry.settled_at[id(model)] = entry.settled_at
    for session_entry in state.sessions:
        session = dispatcher.av_session(session_entry.href)
        if session_entry.current is not None:
            current = state.models[session_entry.current].model
            assert isinstance(current, Renegotiation)
            session.current = current
    for seen in state.seen:
        dispatcher._seen.add(seen)  # once: a key already in the window is not added again


__all__ = [
    "FORMAT",
    "MIGRATIONS",
    "ROUTE_SPACES",
    "TIME_FIELDS",
    "VERSION",
    "ClientState",
    "ModelEntry",
    "Route",
    "SessionEntry",
    "install",
    "load",
    "parse",
    "routing_state",
    "take",
]
