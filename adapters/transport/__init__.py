"""How bytes move: thin httpx senders (sync and asyncio) for request descriptions.

Both clients (:mod:`adapters.ucwa`, :mod:`adapters.huawei`) send through :mod:`.http`, so it
sits below both rather than inside either (httpx keeps ``_transports/`` beside its client the
same way).

Layer: imports :mod:`adapters.wire` only.
"""
