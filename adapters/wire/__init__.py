"""The UCWA wire, sans I/O: bytes in, typed values out, and request descriptions back.

Event parsing (JSON and XML: :mod:`.events`, the entry points, over :mod:`.event_model`,
:mod:`.event_walk`, :mod:`.decoding`, :mod:`.xml_events`, :mod:`.structuring`,
:mod:`.representations`, :mod:`.slot_setters` and :mod:`.parse_errors`; :mod:`.xml`,
:mod:`.data_uri`), request bodies
(:mod:`.bodies`), request building (:mod:`.requests`, over :mod:`.http_values` and the origin
policy :mod:`.origins`), response to trigger (:mod:`.response_triggers`), typed UCWA
errors (:mod:`.ucwa_errors`), and the bounded reader of recorded JSON Lines / XML streams
(:mod:`.recording`). The recording reader sits here, not with replay, because it only decodes
bytes into values: it needs nothing but the codec, and the trace and replay above both read with it.

Layer: imports only :mod:`fsm` (enforced by import-linter, ``[tool.importlinter]`` in pyproject.toml).
"""
