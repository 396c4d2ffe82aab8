"""Events to machines: which model an event belongs to, and what a recorded session did.

The dispatcher (:mod:`.dispatcher`: routes by href and operationId, the duplicate window, held
events), client snapshots and restart (:mod:`.restart`), the trace format and its writer
(:mod:`.trace`), and the replay checker that reads traces and event streams (:mod:`.replay`).

The trace is on this layer rather than with the clients because the simulator writes
server-side traces and replay reads them, and neither may import a client. What wraps a
client's sender or event sink to write a trace is in :mod:`adapters.ucwa.tracing`.

Layer: imports :mod:`adapters.wire` and :mod:`fsm`, nothing that does I/O.
"""
