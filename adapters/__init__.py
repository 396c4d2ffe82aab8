"""callfsm's adapters: the wire in, the machines' decisions out.

One package per role, imports running down (README "Architecture"; import-linter checks it):
``wire`` (the sans-IO codec) under ``routing`` (events to models, traces, replay) under
``transport`` (httpx senders) and the clients ``ucwa`` and ``huawei``; ``simulator``,
``testing`` and ``diagrams`` beside them, importing no client; ``cli`` on top. Everything
that touches the outside world lives here, never in ``fsm/``.
"""
