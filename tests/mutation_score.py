"""Print the mutation score that ``make mutate`` left in ``mutants/``, per area (fsm/, adapters/).

mutmut keeps one ``<file>.meta`` per mutated file with an exit code per mutant;
this reads them, so a run stopped by ``MUTATE_TIME`` still reports the mutants
it checked (``not checked`` ones are counted apart, not as survivors).
Survivors are listed by name: ``mutmut show NAME`` prints the diff.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutate` first")
        return 1
    by_area: dict[str, Counter[str]] = {}
    survivors: list[str] = []
    for meta in metas:
        area = meta.relative_to(root).parts[0]
        counts = by_area.setdefault(area, Counter())
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[code]
            counts["killed" if status in KILLED else status] += 1
            if status in {"survived", "no tests", "suspicious"}:
                survivors.append(f"{status}: {name}")
    for area, counts in sorted(by_area.items()):
        checked = sum(n for status, n in counts.items() if status not in {"not checked", "skipped"})
        score = 100.0 * counts["killed"] / checked if checked else 0.0
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"{area}/: {score:.1f}% killed of {checked} checked ({detail})")
    for line in survivors:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
