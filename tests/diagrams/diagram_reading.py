"""Reading a DOT drawing back, for the tests: nodes and the boxes around them, arrows, labels, drawn rows.

The drawings are checked against the machines' tables, not against their own
output: this small parser reads the DOT text back, and :func:`drawn_rows` says
which table rows a drawing shows (on an arrow of the right style, or listed as
a move that stays). Shared by the DOT, plan, Mermaid and live-model tests;
also :data:`VIEW_CASES`, every (machine, view) drawn, for parametrizing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from attrs import define, field

from adapters import diagrams
from fsm import MACHINES
from fsm.engine import MachineDefinition, Transition


@define
class Dot:
    clusters: dict[str, list[str]] = field(factory=dict)  # node id -> enclosing clusters
    node_attrs: dict[str, str] = field(factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(factory=list)


_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<<.*?>>|[^ \]]+)')


def _attrs(text: str) -> dict[str, str]:
    out = {}
    for key, value in _ATTR.findall(text):
        out[key] = value[1:-1] if value.startswith('"') else value
    return out


def parse_dot(source: str) -> Dot:
    dot = Dot()
    stack: list[str | None] = []
    for raw in source.splitlines():
        line = raw.strip()
        if m := re.fullmatch(r"subgraph (\w+) \{", line):
            stack.append(m.group(1))
        elif line == "{":
            stack.append(None)
        elif line == "}":
            if stack:
                stack.pop()
        elif m := re.fullmatch(r"(\w+) -> (\w+)(?: \[(.*)\])?", line):
            dot.edges.append((m.group(1), m.group(2), _attrs(m.group(3) or "")))
        elif (m := re.fullmatch(r"(\w+)(?: \[(.*)\])?", line)) and m.group(1) not in {
            "graph",
            "node",
            "edge",
            *dot.clusters,
        }:
            dot.clusters[m.group(1)] = [c for c in stack if c]
            dot.node_attrs[m.group(1)] = m.group(2) or ""
    return dot


def _lines(label: str) -> list[str]:
    """A label's lines; an arrow label's line cut to fit (continued with more indent) joined back."""
    text = html.unescape(re.sub(r"<[^>]+>", "\n", label))  # HTML labels: tags break lines
    lines: list[str] = []
    for part in re.split(r"\\l|\n", text):
        if part.startswith("   ") and lines:
            lines[-1] += " " + part.strip()
        elif part.strip():
            lines.append(part.strip())
    return lines


def _triggers(line: str) -> list[str]:
    return [name.strip() for name in line.split(" [", maxsplit=1)[0].split(",")]


def _dot_arrows(dot: Dot) -> Iterator[tuple[set[str], set[str], dict[str, str]]]:
    """(tail states, head states, attrs with the label) per labelled arrow.

    An arrow's label is a node of its own (``__labelN``) on the way, after a
    junction (``__joinN``) when several states share it; a stub node
    (``__stubN``) stands for the states in its ``comment``.
    """

    def ends(node: str, cluster: str | None) -> set[str]:
        if cluster is not None:
            return {n for n, inside in dot.clusters.items() if cluster in inside and not n.startswith("__")}
        if node.startswith("__stub"):
            return set(_attrs(dot.node_attrs[node])["comment"].split())
        return {node}

    def into(node: str) -> set[str]:
        found: set[str] = set()
        for t, h, a in dot.edges:
            if h == node:
                found |= into(t) if t.startswith("__join") else ends(t, a.get("ltail"))
        return found

    for tail, head, attrs in dot.edges:
        if not tail.startswith("__") and "label" in attrs:  # a live model's path
            yield ends(tail, attrs.get("ltail")), ends(head, attrs.get("lhead")), attrs
        if tail.startswith("__label"):
            label = _attrs(dot.node_attrs[tail])["label"]
            yield into(tail), ends(head, attrs.get("lhead")), {**attrs, "label": label}


def _view_cases() -> list[tuple[str, str]]:
    return [(name, view.name) for name, d in MACHINES.items() for view in diagrams.views(d)]


VIEW_CASES = _view_cases()


def _view(name: str, view_name: str) -> diagrams.View:
    view = diagrams.view_named(MACHINES[name], view_name)
    assert view is not None
    return view


def drawn_rows(definition: MachineDefinition[Any, Any], dot: Dot) -> set[Transition[Any, Any]]:
    """The rows a drawing shows: on an arrow of the right style, or listed as a move that stays."""
    arrows = list(_dot_arrows(dot))
    drawn = set()
    for row in definition.table:
        if row.absorb or row.source.name not in dot.clusters:
            continue
        trigger, local = row.trigger.value, row.trigger in definition.local_triggers
        on_arrow = [
            attrs
            for tails, heads, attrs in arrows
            if row.source.name in tails
            and row.dest.name in heads
            and any(trigger in _triggers(line) for line in _lines(attrs["label"]))
        ]
        for attrs in on_arrow:
            assert attrs["style"] == ("bold" if local else "dashed"), (row, attrs)
        stays = []
        if row.source is row.dest:
            stays.append(dot.node_attrs[row.source.name])
        if row.dest.name in dot.clusters:
            shared = set(dot.clusters[row.source.name]) & set(dot.clusters[row.dest.name])
            stays.extend(dot.node_attrs.get(f"__stays_{c.removeprefix('cluster_')}", "") for c in shared)
        stayed = any(trigger in _triggers(line) for text in stays for line in _lines(_attrs(text).get("label", "")))
        if on_arrow or stayed:
            drawn.add(row)
    return drawn
