"""The UCWA clients, over HTTP.

The event channel, sync and asyncio (:mod:`.channel`); the application lifecycle
(:mod:`.application`); ``UcwaClient`` and ``AsyncUcwaClient`` (:mod:`.client`, their public face;
the ``client_*`` modules hold them by responsibility, around one sans-IO core); the Trusted
Application API webhook (:mod:`.webhook`); the trace wrappers for a client's sender and event
sink (:mod:`.tracing`).

Layer: imports :mod:`adapters.transport`, :mod:`adapters.routing`, :mod:`adapters.wire` and :mod:`fsm`.
"""
