"""The UCWA event channel: the pending-GET (P-GET) loop, sync and asyncio.

Theory of operation
-------------------
UCWA delivers events as answers to a long-held GET on the application's
``events`` link (docs/protocol.md §2.1, 2.2). Each answer names where the next GET
goes; following it acknowledges the answer. The decisions live in one
sans-IO object, :class:`PGetCursor`; two thin loops do the I/O:

- :class:`EventChannel` (``httpx.Client``): :meth:`~EventChannel.run` blocks
  in the calling thread, which processes every answer and runs every hook;
  only the sending of the next GET is handed to a helper thread (below);
  :meth:`~EventChannel.poll_once` does a single round for apps that drive
  the loop themselves; :meth:`~EventChannel.stop` ends it and
  :meth:`~EventChannel.close` lets go of a GET still out.
- :class:`AsyncEventChannel` (``httpx.AsyncClient``): ``async for result in
  channel`` or ``await channel.run()``; :meth:`~AsyncEventChannel.stop` or
  cancelling the task ends it, and the GET in flight is cancelled with it.

Rules, each from docs/protocol.md §2.2:

- ``next`` is followed exactly as given (resolved against the URL it came
  from when relative, never rebuilt, ``ack`` never touched): the server's
  acks need not be ``self + 1``.
- "Issue the next P-GET before processing a response, but process responses
  in order." The asyncio loop starts the next GET as a task and then feeds
  the dispatcher with the answer it holds, so processing overlaps the wait
  and answers are still processed one by one, in order. The sync loop does
  the same with one short-lived daemon thread per P-GET (``prefetch=True``,
  the default): once an answer is read into events (or skipped as
  unreadable but with a link), the cursor already names the next URL; the
  request for it is built in the caller's thread (token included) and only
  ``sender.send`` runs in the helper thread, which ``httpx.Client`` allows.
  The caller's thread then processes the answer in hand (the dispatcher,
  ``on_result`` and whatever requests that hook sends, ``on_reset``), and the
  next :meth:`~EventChannel.poll_once` takes the helper's answer, or its
  :class:`TransportError`, instead of sending a GET. At most one GET is out
  at a time, answers are processed one by one in the order they came, and no
  hook ever runs in the helper thread. A retry, a ``PGetReplaced`` and an
  ``ApplicationNotFound`` send nothing ahead, as in the asyncio loop.
  Threads are acceptable here, in ``adapters/``, which does I/O anyway;
  ``fsm/`` stays free of threads and I/O, and the helper thread never
  touches a machine, the dispatcher or the cursor: it only carries one
  HTTP exchange. ``prefetch=False`` is the old loop (one thread, the next
  GET sent after processing; the server holds new events until it comes,
  so nothing is lost or reordered, only the overlap is), for apps that must
  not have a second thread.
- Ending the sync loop with a GET sent ahead (stopped, replaced, gone, an
  :class:`EventChannelError`, or :meth:`~EventChannel.close`): that GET is
  abandoned. Its answer, whenever it comes, is dropped without touching the
  cursor, so :attr:`~EventChannel.next_url` is still the URL it went to and
  a new loop from there (a restart from a snapshot, :mod:`adapters.routing.restart`)
  asks the server for the same events again; nothing of them was processed.
  A blocked ``httpx`` GET cannot be interrupted from another thread (closing
  the client does not wake it), so the abandoned helper thread lives on
  until the server answers or the read timeout: it is a daemon thread, and
  never delays the interpreter's exit. A GET let go of before it was sent is
  not sent; one already on its way may still reach the server after the loop
  ended. It asks for :attr:`~EventChannel.next_url` like any P-GET; should a
  new loop's GET be out already (a restart within milliseconds), the server
  keeps the later of the two and answers the other ``409 PGetReplaced``.
  :meth:`~EventChannel.take_over` avoids that for a loop replaced in-process.
  The helpers are named ``callfsm-pget-N``: a test whose server outlives the
  test joins them, after releasing what the server holds, before the next
  test queues events (tests/ucwa/test_channel_prefetch.py).
- ``resume`` (transient state reset after inactivity) and ``resync`` (our ack
  was out of range): :meth:`Dispatcher.drop_transient` first, then the
  events of that answer (a ``resync`` answer carries none), then the app's
  ``on_reset`` hook re-reads the resources it cares about, then the loop goes
  on from the ``resume``/``resync`` link.
- ``409`` with subcode ``PGetReplaced``: another GET (ours or another
  instance's) took over. The loop ends quietly with
  :attr:`ChannelEnd.REPLACED` and calls ``on_replaced``; no exception.
- ``404`` (``ApplicationNotFound``, or a bare 404 on the events link, which
  can only mean the same [U]): the ``on_application_not_found`` hook decides.
  It may recreate the application and return the new ``events`` href to go
  on from, or return ``None`` to end with :attr:`ChannelEnd.APPLICATION_NOT_FOUND`.
- Network errors, ``408``, ``429`` and ``5xx``: retried after an exponential
  backoff (:class:`Backoff`: 0.5 s doubling, at most 30 s, 6 attempts in a
  row); past the last attempt, :class:`EventChannelError` says which URL
  failed how many times and why. A good answer resets the count.
- Any other ``4xx`` (401, 403...) ends the loop with :class:`EventChannelError`
  at once: retrying cannot help.
- An answer that cannot be parsed is reported through ``on_error``; no
  machine sees any of it. When its links could still be read, the loop goes
  on past it; otherwise it is fetched again (same URL, nothing acknowledged)
  under the same backoff, so a body that stays broken ends in
  :class:`EventChannelError` rather than a tight loop.

- The P-GET query parameters ``low``, ``medium``, ``timeout`` and ``priority``
  (:class:`PGetParameters`, docs/protocol.md §2.2) go on the first GET, and
  again on the first GET after a ``resume`` (the server reset them), a
  ``resync`` and a new events link (a recreated application), since the
  server keeps them between GETs and forgets them then. Every other GET
  follows ``next`` verbatim. A value outside its documented range is refused
  when the parameters are made. With a ``timeout`` longer than the transport's
  read timeout allows, the read timeout grows to ``timeout`` plus a minute.

``clock`` (for the ``now`` each dispatch gets) and ``sleep`` are injected, so
tests neither wait nor read the wall clock.

Modules: :mod:`.channel_parameters` (the P-GET's query parameters),
:mod:`.channel_cursor` (the sans-IO decisions), :mod:`.channel_loop` (what the
two loops share: their state, and the steps each decision leads to, yielded as
hook calls that the sync loop makes and the asyncio loop also awaits),
:mod:`.channel_prefetch` (the sync loop's GET sent ahead, its one thread),
:mod:`.channel_sync` and :mod:`.channel_async`. Every name is re-exported here.
"""

from adapters.ucwa.channel_async import AsyncEventChannel
from adapters.ucwa.channel_cursor import (
    RETRYABLE_STATUSES,
    ApplicationGone,
    Backoff,
    Decision,
    Deliver,
    EventChannelError,
    PGetCursor,
    Replaced,
    ResetKind,
    Retry,
    Skip,
)
from adapters.ucwa.channel_loop import ChannelEnd, ChannelReset, EventSink, MaybeAwaitable, resolve_events
from adapters.ucwa.channel_parameters import (
    PARAMETER_RANGES,
    PGET_TIMEOUT,
    PGetParameterError,
    PGetParameters,
    read_timeout_for,
    with_parameters,
)
from adapters.ucwa.channel_sync import EventChannel

__all__ = [
    "PARAMETER_RANGES",
    "PGET_TIMEOUT",
    "RETRYABLE_STATUSES",
    "ApplicationGone",
    "AsyncEventChannel",
    "Backoff",
    "ChannelEnd",
    "ChannelReset",
    "Decision",
    "Deliver",
    "EventChannel",
    "EventChannelError",
    "EventSink",
    "MaybeAwaitable",
    "PGetCursor",
    "PGetParameterError",
    "PGetParameters",
    "Replaced",
    "ResetKind",
    "Retry",
    "Skip",
    "read_timeout_for",
    "resolve_events",
    "with_parameters",
]
