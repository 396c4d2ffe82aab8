"""Events to machines: which model an event belongs to, and what a recorded session did.

The dispatcher (:mod:`.dispatcher`, a façade over its parts: :mod:`.registry` finds a model
by href, operationId or conversation; :mod:`.handlers` turn an event into a trigger;
:mod:`.creation` makes the models the server starts; :mod:`.held` keeps events until a 201
names their href; :mod:`.duplicates` is the duplicate window; :mod:`.feed_run` is one feed's
bookkeeping and :mod:`.records` what it returns; :mod:`.vocabulary` the rel lookups they
share), client snapshots and restart (:mod:`.restart`), the trace writer (:mod:`.trace`, with
its records in :mod:`.trace_format`, redaction in :mod:`.trace_redaction` and call arguments in
:mod:`.trace_calls`), and the replay checker that reads traces and event streams (:mod:`.replay`).

The trace is on this layer rather than with the clients because the simulator writes
server-side traces and replay reads them, and neither may import a client. What wraps a
client's sender or event sink to write a trace is in :mod:`adapters.ucwa.tracing`.

Layer: imports :mod:`adapters.wire` and :mod:`fsm`, nothing that does I/O.
"""
