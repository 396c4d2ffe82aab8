"""``python -m soak [--calls N] [--concurrency C] [--seconds S] [--seed K] [--apps A] [--smoke] [--json PATH]``.

Theory of operation
-------------------
Tracing starts here, before callfsm and httpx are imported, so that the
memory baseline is the live traced bytes of the whole loaded client (see
:mod:`soak.run`). Prints the report; exit status 1 on any outcome mismatch,
stuck machine, unexplained violation or memory not back to its baseline.
"""

import tracemalloc

tracemalloc.start()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from soak.run import SMOKE, Options  # noqa: E402
from soak.run import main as run_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description="callfsm's fault-injection soak (issue 7)")
    parser.add_argument("--calls", type=int, default=None, help="calls to run (default 10000; smoke: 40)")
    parser.add_argument("--concurrency", type=int, default=None, help="calls in flight at once (default 64)")
    parser.add_argument("--seconds", type=float, default=None, help="stop starting calls after this long (600)")
    parser.add_argument("--seed", type=int, default=None, help="scenarios and faults (default 1)")
    parser.add_argument("--apps", type=int, default=None, help="UCWA applications, one client each (default 4)")
    parser.add_argument("--smoke", action="store_true", help="a small, quick run (60 calls, shorter delays)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    options = SMOKE if args.smoke else Options()
    given = {
        name: value
        for name, value in (
            ("calls", args.calls),
            ("concurrency", args.concurrency),
            ("seconds", args.seconds),
            ("seed", args.seed),
            ("apps", args.apps),
        )
        if value is not None
    }
    for name in ("calls", "concurrency", "apps"):
        if name in given and given[name] < 1:
            parser.error(f"--{name} must be at least 1")
    return run_main(dataclasses.replace(options, **given), json_path=args.json)


if __name__ == "__main__":
    sys.exit(main())
