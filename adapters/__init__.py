"""callfsm's adapters: the wire in, the machines' decisions out.

The sans-IO layer (parsing, routing, request descriptions) sits under thin
transports (httpx sync and asyncio). Everything that touches the outside
world lives here, never in ``fsm/``.
"""
