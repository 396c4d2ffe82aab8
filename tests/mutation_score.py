"""Print the mutation score that ``make mutate`` left in ``mutants/``, per area (fsm/, adapters/).

mutmut keeps one ``<file>.meta`` per mutated file with an exit code per mutant;
this reads them, so a run stopped by ``MUTATE_TIME`` still reports the mutants
it checked (``not checked`` ones are counted apart, not as survivors).

``--survivors FILE`` also writes every survivor as a Markdown list: its name,
the line the mutant changed (read from mutmut's own copy in ``mutants/``, which
holds the original and every mutant of a function side by side) and a first
sorting into kinds (``message`` when only the text of a string changed, ``history text``
when it is the reason a history step records, ``error detail`` when it is what a raised
error carries). The
reasons in tests/README.md are written from that list.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check", "segfault"}
NOT_KILLED = {"survived", "no tests", "suspicious"}
_STRING_ONLY = re.compile(r"""^(?P<a>.*?)(?P<q>["'])(?P<s>[^"']*)(?P=q)(?P<b>.*)$""")


def _functions(source: Path) -> dict[str, str]:
    """Every function of mutmut's copy by name (original ``..__mutmut_orig`` and mutants ``..__mutmut_N``)."""
    found: dict[str, str] = {}
    text = source.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name:
            found[node.name] = ast.get_source_segment(text, node) or ""
    return found


def _changed(functions: dict[str, str], mutant: str) -> tuple[str, str]:
    """(the line as it was, the line as the mutant has it), from the function bodies."""
    local = mutant.rsplit(".", maxsplit=1)[-1]
    original = functions.get(local.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", "")
    mutated = functions.get(local, "")
    old = original.splitlines()[1:]
    new = mutated.splitlines()[1:]
    removed = [line[1:].strip() for line in difflib.ndiff(old, new) if line.startswith("- ")]
    added = [line[1:].strip() for line in difflib.ndiff(old, new) if line.startswith("+ ")]
    return (removed[0] if removed else ""), (added[0] if added else "")


def _kind(name: str, old: str, new: str) -> str:
    a, b = _STRING_ONLY.match(old), _STRING_ONLY.match(new)
    if a and b and (a["a"], a["b"]) == (b["a"], b["b"]):
        return "message"
    if "._move(" in old or "Step(" in old:
        return "history text"
    if old.startswith("raise ") or ".errors." in name or "Error" in name.rsplit(".", maxsplit=1)[-1]:
        return "error detail"
    return "behaviour"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", type=Path, help="write every survivor with its changed line to this file")
    args = parser.parse_args(argv)
    root: Path = args.root
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutate` first")
        return 1
    by_area: dict[str, Counter[str]] = {}
    listing: list[str] = []
    for meta in metas:
        area = meta.relative_to(root).parts[0]
        counts = by_area.setdefault(area, Counter())
        functions: dict[str, str] | None = None
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[code]
            counts["killed" if status in KILLED else status] += 1
            if status in NOT_KILLED and args.survivors:
                if functions is None:
                    functions = _functions(meta.with_suffix(""))
                old, new = _changed(functions, name)
                listing.append(f"- `{name}` ({status}, {_kind(name, old, new)}): `{old}` -> `{new}`")
    for area, counts in sorted(by_area.items()):
        checked = sum(n for status, n in counts.items() if status not in {"not checked", "skipped"})
        score = 100.0 * counts["killed"] / checked if checked else 0.0
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"{area}/: {score:.1f}% killed of {checked} checked ({detail})")
    if args.survivors:
        args.survivors.write_text("\n".join(listing) + "\n", encoding="utf-8")
        print(f"{len(listing)} survivors written to {args.survivors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
