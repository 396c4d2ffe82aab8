"""Graphviz DOT from a :func:`~adapters.diagrams.plan.plan` (through the graphviz package; no layout engine needed)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

import graphviz  # type: ignore[import-untyped]

from adapters.diagrams.live import LiveModel, _Path, _path
from adapters.diagrams.plan import Plan, is_failure, plan
from adapters.diagrams.shapes import Arc, Endpoint, Group, _contains, _key, _states
from adapters.diagrams.style import (
    _ALIKE_BOX,
    _CURRENT_FILL,
    _FAILED_BOX,
    _FAILED_FILL,
    _FAILED_LINE,
    _FONT,
    _LOCAL_COLOR,
    _PATH_COLOR,
    _REMOTE_COLOR,
    _SUPER_BOX,
    _TERMINAL_FILL,
    _VISITED_FILL,
    ABSORB_NOTE,
    FAILED_TITLE,
    LABEL_WIDTH,
    STAY_WIDTH,
    TITLE_WIDTH,
    WITHIN_TITLE,
)
from adapters.diagrams.views import FULL, View, drawn_in
from fsm.engine import MachineDefinition

# -- DOT ------------------------------------------------------------------------------


def _dot_id(endpoint: Enum | str) -> str:
    return endpoint if isinstance(endpoint, str) else endpoint.name


def _dot_lines(lines: Iterable[str]) -> str:
    # Graphviz's \l ends a left-justified line.
    return "".join(f"{line}\\l" for line in lines)


def _dot_stay_rows(stays: Sequence[tuple[str, bool]]) -> str:
    """HTML rows, local triggers in the local arrows' colour."""
    rows = []
    for line, local in stays:
        text = "<BR/>".join(html.escape(part) for part in _wrap(line, STAY_WIDTH))
        rows.append(f'<FONT COLOR="{_LOCAL_COLOR}">{text}</FONT>' if local else text)
    return "<BR/>".join(rows)


def _dot_node_label(state: Enum, stays: Sequence[tuple[str, bool]]) -> str:
    if not stays:
        return str(state.value)
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        f"<TR><TD>{html.escape(str(state.value))}</TD></TR><HR/>"
        f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="9">{_dot_stay_rows(stays)}</FONT></TD></TR>'
        "</TABLE>>"
    )


def to_dot(definition: MachineDefinition[Any, Any], *, model: LiveModel | None = None, view: View | None = None) -> str:
    """The machine (or one ``view`` of it) as Graphviz DOT source (needs no Graphviz program)."""
    drawing = plan(definition, view)
    path = _path(model)
    title = definition.name
    if drawing.view.name != FULL:
        title += f", {drawing.view.title}"
    if path.current is not None:
        title += f": a live model, now in {path.current.value}"
    dot = graphviz.Digraph(
        name=definition.name,
        graph_attr={
            "label": _dot_title(title, definition.summary, legend_lines(drawing)),
            "labelloc": "t",
            "labeljust": "l",
            "fontname": _FONT,
            "fontsize": "12",
            "rankdir": drawing.view.rankdir,
            "compound": "true",
            "newrank": "true",
            "nodesep": "0.2",
            "ranksep": "0.55",
            "pad": "0.3",
        },
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "color": "#343a40",
            "fontname": _FONT,
            "fontsize": "12",
        },
        edge_attr={"fontname": _FONT, "fontsize": "9", "arrowsize": "0.7"},
    )
    starts = definition.initial in drawing.view.focus
    if starts:
        dot.node("__start", label="", shape="point", width="0.16", style="filled", fillcolor="black")
    for endpoint in _in_reading_order(drawing, drawing.top):
        _dot_endpoint(dot, endpoint, drawing, path)
    if starts:
        dot.edge("__start", _dot_id(definition.initial))
    _dot_arcs(dot, drawing)
    for step_from, step_to, steps in path.moves:
        dot.edge(
            _dot_id(step_from),
            _dot_id(step_to),
            label=_dot_lines(steps),
            color=_PATH_COLOR,
            fontcolor=_PATH_COLOR,
            penwidth="2.5",
            constraint="false",
        )
    source: str = dot.source
    return source


def _dot_endpoint(target: Any, endpoint: Endpoint, drawing: Plan, path: _Path) -> None:
    definition = drawing.definition
    if isinstance(endpoint, Enum):
        attrs: dict[str, str] = {}
        if endpoint in definition.terminal:
            attrs["peripheries"] = "2"
            attrs["fillcolor"] = _FAILED_FILL if is_failure(definition, endpoint) else _TERMINAL_FILL
        if endpoint in path.visited:
            attrs["fillcolor"] = _VISITED_FILL
        if endpoint is path.current:
            attrs.update(fillcolor=_CURRENT_FILL, penwidth="3", color=_PATH_COLOR)
        if endpoint in drawing.stubs:
            attrs.update(style="rounded,dashed", color=_REMOTE_COLOR)
            label = _dot_stub_label(str(endpoint.value), drawn_in(definition, endpoint))
        else:
            label = _dot_node_label(endpoint, drawing.stays_of(endpoint))
        target.node(_dot_id(endpoint), label=label, **attrs)
        return
    if endpoint.key.startswith("stub"):
        # One node for alike states a part only points at: a row of them would set its width.
        names = "\n".join(str(s.value) for s in endpoint.members)
        target.node(
            f"__{endpoint.key}",
            label=_dot_stub_label(names, drawn_in(definition, endpoint.members[0])),
            comment=" ".join(_dot_id(s) for s in endpoint.members),
            style="rounded,dashed",
            color=_REMOTE_COLOR,
        )
        return
    with target.subgraph(name=f"cluster_{endpoint.key}") as box:
        if endpoint.failed:
            # The title at the bottom: arrows come in from above, and would cross it at the top.
            box.attr(label=FAILED_TITLE, fillcolor=_FAILED_BOX, color=_FAILED_LINE, fontsize="11", labelloc="b")
        elif endpoint.key.startswith("stub"):
            box.attr(label="", fillcolor="white", color="#adb5bd")
        elif endpoint.key.startswith("super"):
            box.attr(label="", fillcolor=_SUPER_BOX, color="#adb5bd", penwidth="1.5")
        else:
            box.attr(label="", fillcolor=_ALIKE_BOX, color="#868e96")
        box.attr(style="rounded,filled", labeljust="l", fontname=_FONT)
        if not endpoint.key.startswith("super"):
            # Alike states side by side: arrows to and from the box then meet one border.
            box.attr(rank="same")
        stays = drawing.stays_of(endpoint)
        if stays:
            # A node of its own, not the box's title: arrows come in where a title would be.
            box.node(
                f"__stays_{endpoint.key}",
                label=(
                    '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                    f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="9">{WITHIN_TITLE}<BR/>'
                    f"{_dot_stay_rows(stays)}</FONT></TD></TR></TABLE>>"
                ),
                shape="plaintext",
                style="",
                fontsize="9",
                width="0",
                height="0",
            )
        for child in _in_reading_order(drawing, endpoint.children):
            _dot_endpoint(box, child, drawing, path)
        if stays and endpoint.key.startswith("super"):
            # Beside the box's first state: left free, the note takes a rank of its own.
            first = min(endpoint.members, key=_states(definition).index)
            with box.subgraph() as row:
                row.attr(rank="same")
                row.node(f"__stays_{endpoint.key}")
                row.node(_dot_id(first))


def _in_reading_order(drawing: Plan, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
    # Left to right, dot stacks what shares a rank from the bottom up: declared
    # the other way round, a column reads in enum order from the top.
    return endpoints[::-1] if drawing.view.rankdir == "LR" else endpoints


def _dot_stub_label(names: str, where: str) -> str:
    lines = "<BR/>".join(html.escape(name) for name in names.splitlines())
    return f'<{lines}<BR/><FONT POINT-SIZE="9" COLOR="{_REMOTE_COLOR}">drawn in: {html.escape(where)}</FONT>>'


def _wrap(line: str, width: int) -> list[str]:
    """``line`` cut at spaces into lines of about ``width`` characters, the later ones indented."""
    words = line.split(" ")
    out = [words[0]]
    for word in words[1:]:
        if len(out[-1]) + 1 + len(word) > width:
            out.append("   " + word)
        else:
            out[-1] += " " + word
    return out


def _dot_label(lines: Iterable[str]) -> str:
    # Two spaces first: dot puts a label right against its own arrow.
    return _dot_lines(f"  {part}" for line in lines for part in _wrap(line, LABEL_WIDTH))


def _dot_arcs(dot: Any, drawing: Plan) -> None:
    """Every arrow, its label a node of its own on the way.

    Dot routes arrows around nodes but not reliably around other arrows'
    labels; a label that is a node is never crossed.
    """
    fans: dict[tuple[Any, bool, tuple[str, ...]], list[Arc]] = {}
    for arc in drawing.arcs:
        fans.setdefault((_key(arc.head), arc.local, arc.lines), []).append(arc)
    count = 0
    for number, ((_head, local, lines), same) in enumerate(fans.items(), start=1):
        color = _LOCAL_COLOR if local else _REMOTE_COLOR
        style = {"color": color, "style": "bold" if local else "dashed"}
        head = same[0].head
        tails: list[Endpoint | str] = [arc.tail for arc in same]
        # Inside the innermost box holding both ends, so the arrow stays in it.
        inside = _container(drawing, [arc.tail for arc in same] + [head])
        if len(same) >= 3:
            # The same label into the same place from several states: the arrows meet
            # at a junction and the label is written once, after it.
            junction = f"__join{number}"
            _in_boxes(dot, inside).node(junction, label="", shape="point", width="0.05", color=color)
            for tail in tails:
                _dot_edge(dot, tail, junction, arrowhead="none", **style)
            tails = [junction]
        for tail in tails:
            count += 1
            label = f"__label{count}"
            _in_boxes(dot, inside).node(
                label,
                label=_dot_label(lines),
                shape="plaintext",
                style="",
                fontsize="9",
                fontcolor=_LOCAL_COLOR if local else "#343a40",
                width="0",
                height="0",
                margin="0.02,0.01",
            )
            _dot_edge(dot, tail, label, arrowhead="none", **style)
            _dot_edge(dot, label, head, **style)


def _container(drawing: Plan, endpoints: Sequence[Endpoint]) -> list[Group]:
    """The boxes, outermost first, that hold every one of ``endpoints`` (a box holds itself not)."""
    chains = []
    for endpoint in endpoints:
        chain: list[Group] = []
        level: Sequence[Endpoint] = drawing.top
        while True:
            box = next(
                (g for g in level if isinstance(g, Group) and g != endpoint and _contains(g, endpoint)),
                None,
            )
            if box is None:
                break
            chain.append(box)
            level = box.children
        chains.append(chain)
    common: list[Group] = []
    for boxes in zip(*chains, strict=False):
        if any(box != boxes[0] for box in boxes):
            break
        common.append(boxes[0])
    return common


class _Boxes:
    """Adds a node inside nested clusters: DOT merges a subgraph named again into the first one."""

    def __init__(self, dot: Any, path: Sequence[Group]) -> None:
        self.dot, self.path = dot, path

    def node(self, name: str, **attrs: str) -> None:
        def add(target: Any, rest: Sequence[Group]) -> None:
            if not rest:
                target.node(name, **attrs)
                return
            with target.subgraph(name=f"cluster_{rest[0].key}") as box:
                add(box, rest[1:])

        add(self.dot, self.path)


def _in_boxes(dot: Any, path: Sequence[Group]) -> _Boxes:
    return _Boxes(dot, path)


def _dot_edge(dot: Any, tail: Endpoint | str, head: Endpoint | str, **attrs: str) -> None:
    if isinstance(tail, Group):
        attrs["ltail"] = f"cluster_{tail.key}"
        tail = _representative(tail)
    if isinstance(head, Group) and head.key.startswith("stub"):
        head = f"__{head.key}"  # drawn as one node
    elif isinstance(head, Group):
        attrs["lhead"] = f"cluster_{head.key}"
        head = _representative(head)
    dot.edge(_dot_id(tail), _dot_id(head), **attrs)


def _representative(group: Group) -> Enum:
    members = group.members
    return members[(len(members) - 1) // 2]


def legend_lines(drawing: Plan) -> list[str]:
    """What the legend under the title says, one line each."""
    lines = [
        "solid blue arrow: local trigger (the app calls it); dashed grey arrow: remote trigger (from the wire)",
        "trigger [guard or reason]; under a state's name, or in a box: moves that stay there",
        "arrow from a box: from each state in it; to a box: to one of its states, by guard",
        f"double border: terminal state; red box: {FAILED_TITLE}",
    ]
    if drawing.stubs:
        lines.append("dashed state: its own moves are drawn in the view it names")
    if drawing.absorbed:
        lines.append(ABSORB_NOTE)
    return lines


def _dot_title(title: str, summary: str, legend: Sequence[str]) -> str:
    """The title, the summary and the legend as one HTML label: the legend then takes no width of its own."""
    rows = [f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="15">{html.escape(title)}</FONT></TD></TR>']
    rows += [f'<TR><TD ALIGN="LEFT">{html.escape(line)}</TD></TR>' for line in _wrap(summary, TITLE_WIDTH)]
    rows += [
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="{_REMOTE_COLOR}">{html.escape(line)}</FONT></TD></TR>'
        for line in legend
    ]
    rows.append('<TR><TD> </TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'
