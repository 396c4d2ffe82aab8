"""Test support for the library's users: hypothesis strategies (:mod:`.strategies`, the one module
to import them from; the walks, walkers, response wrapping and malformed bodies behind it each have a
module of their own) and the pytest plugin with the ``ucwa_simulator`` fixture (:mod:`.pytest_plugin`,
entry point ``pytest11``).

Layer: may import the simulator, routing and the wire; never a client.
"""
