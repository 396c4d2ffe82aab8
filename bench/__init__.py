"""callfsm's benchmark suite (issue 6): ``python -m bench`` or ``make bench``.

Theory of operation
-------------------
:mod:`bench.suite` runs every figure in one process, interleaving callfsm
with the references of :mod:`bench.peers` on the work of
:mod:`bench.workload`, prints one table and writes ``bench/results/latest.json``.
``python -m bench --smoke`` runs the same code at tiny sizes in a few seconds
(the test suite does, so the benchmark cannot rot); its figures mean nothing.

This package imports nothing at import time: ``python -m bench`` starts
tracemalloc before the library is loaded (see :mod:`bench.__main__`).
"""
