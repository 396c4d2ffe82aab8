"""``python -m bench [--smoke] [--json PATH]``: run the suite, print the table, write JSON.

Theory of operation
-------------------
Tracing starts here, before callfsm, transitions and the peers are imported,
so that the released-memory figure compares against the live bytes of the
whole loaded library (the "empty baseline"), not against an empty tracer.
The suite switches tracing off before anything is timed.
"""

import tracemalloc

tracemalloc.start()

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds; the figures mean nothing")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results (default bench/results/)")
    args = parser.parse_args(argv)

    from bench.suite import FULL, RESULTS, SMOKE, run

    out = args.json or (RESULTS.with_name("smoke.json") if args.smoke else RESULTS)
    run(SMOKE if args.smoke else FULL, write=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
