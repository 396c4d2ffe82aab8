"""The fault-injection soak: ``python -m soak`` (issue 7, "Soak through the simulator").

Theory of operation
-------------------
The simulator runs in a child process (:mod:`soak.server`) with seeded faults
and a queue of scripted plans, one per call, that both processes derive from
the same seed (:mod:`soak.scenarios`). The parent (:mod:`soak.run`) drives
the calls through the adapters' :class:`~adapters.ucwa.client.AsyncUcwaClient`,
many at once, injects ``409 PGetReplaced`` with a rogue P-GET, and at the end
compares the server's World records with the client's models and checks that
no machine is stuck and memory is back to its baseline. See ``soak/README.md``.
"""
