"""Mermaid: every state is there and every non-absorbed row is on an arrow or listed as a stay.

Local triggers carry a ``▶`` (Mermaid cannot style one arrow), remote ones do not.
"""

from __future__ import annotations

import re

import pytest
from diagram_reading import _triggers

from adapters import diagrams
from adapters.diagrams import mermaid
from fsm import MACHINES


def _unescape(text: str) -> str:
    return text.replace("#58;", ":").replace("#59;", ";").replace("#quot;", '"').replace("#35;", "#")


@pytest.mark.parametrize("name", list(MACHINES))
def test_mermaid_has_every_state_and_every_drawn_row(name: str) -> None:
    definition = MACHINES[name]
    text = diagrams.to_mermaid(definition)
    assert text.splitlines()[1] == "stateDiagram-v2"
    inside: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    descriptions: dict[str, list[str]] = {}
    transitions: list[tuple[str, str, list[str]]] = []
    stack: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if m := re.fullmatch(r'state "(.*)" as (\w+) \{', line):
            titles[m.group(2)] = _unescape(m.group(1))
            inside[m.group(2)] = list(stack)
            stack.append(m.group(2))
        elif line == "}":
            stack.pop()
        elif m := re.fullmatch(r'state "(.*)" as (\w+)', line):
            inside[m.group(2)] = list(stack)
            assert _unescape(m.group(1)) in {str(s.value) for s in definition.states}
        elif m := re.fullmatch(r"(\S+) --> (\S+)(?: : (.*))?", line):
            transitions.append((m.group(1), m.group(2), _unescape(m.group(3) or "").split("<br/>")))
        elif m := re.fullmatch(r"(\w+) : (.*)", line):
            descriptions.setdefault(m.group(1), []).append(_unescape(m.group(2)))
    ids = {mermaid._mermaid_id(s): s for s in definition.states}
    assert {i for i in inside if i.startswith("s_")} == set(ids)

    def ends(node: str) -> set[str]:
        return {node} | {n for n, boxes in inside.items() if node in boxes}

    for row in definition.table:
        if row.absorb:
            continue
        trigger, local = row.trigger.value, row.trigger in definition.local_triggers
        source, dest = mermaid._mermaid_id(row.source), mermaid._mermaid_id(row.dest)
        marked = [
            line.startswith("▶ ")
            for tail, head, lines in transitions
            if source in ends(tail) and dest in ends(head)
            for line in lines
            if trigger in _triggers(line.removeprefix("▶ "))
        ]
        assert all(m == local for m in marked), row
        stay_lines = descriptions.get(source, []) if source == dest else []
        for box in set(inside[source] + [source]) & set(inside[dest] + [dest]):
            stay_lines += titles.get(box, "").removeprefix(diagrams.WITHIN_TITLE).split(" · ")
        stayed = any(trigger in _triggers(line.strip().removeprefix("▶ ")) for line in stay_lines)
        assert marked or stayed, f"{name}: row not in Mermaid: {row}"
    assert f"[*] --> {mermaid._mermaid_id(definition.initial)}" in text
