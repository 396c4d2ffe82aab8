"""Diagrams: checked-in files in sync, deterministic output, every row drawn, live models, CLI.

The drawings are checked against the machines' tables, not against their own
output: a small parser reads the DOT and Mermaid text back, and every
non-absorbed row (source, trigger, dest) of every machine must be on an arrow
that leaves the source (or a box holding it) and reaches the dest (or a box
holding it), or listed as a move that stays in the state or in a box holding
both ends. Local triggers must be on solid (DOT) or ``▶`` (Mermaid) arrows,
remote ones on dashed or unmarked arrows.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from attrs import define, field
from defusedxml import ElementTree as DefusedET

from adapters import cli, diagrams
from adapters.diagrams import mermaid, rendering
from fsm import (
    MACHINES,
    Invitation,
    InvitationKind,
    InvitationState,
    InvitationTrigger,
    Link,
    LobbyParticipantState,
    MeetingSeriesState,
    OnlineMeetingState,
    Reason,
    RenegotiationState,
    Representation,
    Step,
)
from fsm.engine import MachineDefinition, Transition

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "diagrams"
#: The formats `make diagrams` writes (Makefile: --format dot,mmd,svg --readme).
CHECKED_IN_FORMATS = ("dot", "mmd", "svg")


# -- a small machine whose reduction is worked out by hand ----------------------------


class TinyState(Enum):
    START = "start"
    LEFT = "left"
    RIGHT = "right"
    DONE = "done"
    REJECTED = "rejected"


class TinyTrigger(Enum):
    GO = "go"
    FINISH = "finish"
    REFUSE = "refuse"
    POKE = "poke"


def tiny() -> MachineDefinition[TinyState, TinyTrigger]:
    s, t = TinyState, TinyTrigger
    return MachineDefinition(
        name="tiny",
        summary="A test machine.",
        states=s,
        triggers=t,
        initial=s.START,
        terminal=frozenset({s.DONE, s.REJECTED}),
        local_triggers=frozenset({t.GO}),
        table=(
            Transition(s.START, t.GO, s.LEFT, when=s.LEFT, note="to the left"),
            Transition(s.START, t.GO, s.RIGHT, when=s.RIGHT, note="to the right"),
            Transition(s.LEFT, t.FINISH, s.DONE),
            Transition(s.RIGHT, t.FINISH, s.DONE),
            Transition(s.LEFT, t.REFUSE, s.REJECTED, note="no"),
            Transition(s.RIGHT, t.REFUSE, s.REJECTED, note="no"),
            Transition(s.LEFT, t.POKE, s.LEFT),
            Transition(s.RIGHT, t.POKE, s.RIGHT),
            Transition(s.DONE, t.POKE, s.DONE, absorb=True),
            Transition(s.REJECTED, t.POKE, s.REJECTED, absorb=True),
        ),
    )


def test_tiny_machine_reduces_to_one_box_and_three_arrows() -> None:
    # LEFT and RIGHT do the same things to the same places: one box. GO reaches
    # both, by guard: one arrow to the box, guards merged on their common words,
    # each one's rest kept whole.
    # FINISH and REFUSE leave both the same way: one arrow each from the box.
    # POKE stays put in each: listed in the box. REJECTED's name says failure.
    drawing = diagrams.plan(tiny())
    boxes = {g.key: g.members for g in drawing.groups}
    assert boxes == {"alike1": (TinyState.LEFT, TinyState.RIGHT), "failed": (TinyState.REJECTED,)}
    arcs = {(_name(a.tail), _name(a.head), a.local, a.lines) for a in drawing.arcs}
    assert arcs == {
        ("start", "alike1", True, ("go [to the left | right]",)),
        ("alike1", "done", False, ("finish",)),
        ("alike1", "failed", False, ("refuse [no]",)),
    }
    assert [(_name(s.where), s.lines) for s in drawing.stays] == [("alike1", ("poke",))]
    assert drawing.absorbed == 2


def _name(endpoint: Any) -> str:
    return endpoint.key if isinstance(endpoint, diagrams.Group) else str(endpoint.value)


# -- reading DOT back ---------------------------------------------------------------


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


@pytest.mark.parametrize("name", list(MACHINES))
def test_dot_nodes_are_the_states_and_every_row_is_drawn(name: str) -> None:
    definition = MACHINES[name]
    dot = parse_dot(diagrams.to_dot(definition))
    assert {n for n in dot.clusters if not n.startswith("__")} == {s.name for s in definition.states}
    assert drawn_rows(definition, dot) == {row for row in definition.table if not row.absorb}


@pytest.mark.parametrize("name", [n for n, d in MACHINES.items() if len(diagrams.views(d)) > 1])
def test_the_parts_of_a_split_machine_draw_every_row_between_them(name: str) -> None:
    definition = MACHINES[name]
    parts = diagrams.views(definition)[1:]
    drawn: set[Transition[Any, Any]] = set()
    for view in parts:
        drawn |= drawn_rows(definition, parse_dot(diagrams.to_dot(definition, view=view)))
    assert drawn == {row for row in definition.table if not row.absorb}


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_dot_arrows_claim_nothing_the_table_does_not_say(name: str, view_name: str) -> None:
    # Legend: an arrow from a box leaves every state in it; an arrow to a box
    # reaches one of its states. So each tail state has the trigger to some head
    # state, and each head state is reached from some tail state.
    definition = MACHINES[name]
    rows = {(r.source.name, r.trigger.value, r.dest.name) for r in definition.table if not r.absorb}
    states = {s.name for s in definition.states}
    dot = parse_dot(diagrams.to_dot(definition, view=_view(name, view_name)))
    for tail_nodes, head_nodes, attrs in _dot_arrows(dot):
        tails, heads = tail_nodes & states, head_nodes & states
        assert tails
        assert heads
        for line in _lines(attrs["label"]):
            for trigger in _triggers(line):
                for tail in tails:
                    assert any((tail, trigger, h) in rows for h in heads), (tail, trigger, heads)
                for head in heads:
                    assert any((t, trigger, head) in rows for t in tails), (tails, trigger, head)


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_every_guard_is_whole(name: str, view_name: str) -> None:
    # A guard used to be cut to its first words and "…" when rows shared an
    # arrow ("[state …]"). Each row's guard must now be readable on its line:
    # its own words all there (merged guards keep every one's rest).
    definition = MACHINES[name]
    view = _view(name, view_name)
    dot_source = diagrams.to_dot(definition, view=view)
    mermaid = diagrams.to_mermaid(definition, view=view)
    assert "…" not in dot_source
    assert "…" not in mermaid
    dot = parse_dot(dot_source)
    labels = [line for _t, _h, attrs in _dot_arrows(dot) for line in _lines(attrs["label"])]
    labels += [line for attrs in dot.node_attrs.values() for line in _lines(_attrs(attrs).get("label", ""))]
    for row in drawn_rows(definition, dot):
        guard = row.note or (row.when.value if row.when is not None else "")
        if not guard:
            continue
        lines = [line for line in labels if row.trigger.value in _triggers(line)]
        words = [w.strip("[]:;,()") for w in guard.split()]
        assert any(all(w in line for w in words) for line in lines), (row, lines)


@pytest.mark.parametrize("name", list(MACHINES))
def test_dot_marks_terminal_states_the_initial_state_and_absorption(name: str) -> None:
    definition = MACHINES[name]
    source = diagrams.to_dot(definition)
    dot = parse_dot(source)
    for state in definition.states:
        double = "peripheries=2" in dot.node_attrs[state.name]
        assert double == (state in definition.terminal), state
    assert ("__start", definition.initial.name) in {(t, h) for t, h, _ in dot.edges}
    absorbs = any(row.absorb for row in definition.table)
    assert ("absorb late events" in source) == absorbs


def test_invitation_failed_outcomes_share_a_box_and_hung_up_is_not_one() -> None:
    # docs/protocol.md §1.1/§1.7: Declined, Cancelled and Failed are completions with
    # status Failure; hung_up is the end of a call that did connect.
    dot = parse_dot(diagrams.to_dot(MACHINES["invitation"]))
    failed = {n for n, inside in dot.clusters.items() if "cluster_failed" in inside}
    assert failed == {"DECLINED", "CANCELLED", "FAILED"}
    assert "cluster_failed" not in dot.clusters["HUNG_UP"]


# The rule (diagrams/README.md): an end is successful when what the machine is
# for happened there; every other end is unsuccessful, whoever chose it.
UNSUCCESSFUL = {
    # a joiner that did not get in; hung_up follows a join that connected
    OnlineMeetingState: ({OnlineMeetingState.CANCELLED, OnlineMeetingState.FAILED}, {OnlineMeetingState.HUNG_UP}),
    # admitted is the point of the lobby; rejected, or gone without being admitted, is not
    LobbyParticipantState: (
        {LobbyParticipantState.REJECTED, LobbyParticipantState.LEFT_LOBBY},
        {LobbyParticipantState.ADMITTED},
    ),
    # the new media applies only when answered (ours: completed); a dismissed
    # or collided offer changes nothing, like a rejected or expired one
    RenegotiationState: (
        {
            RenegotiationState.DISMISSED,
            RenegotiationState.COLLIDED,
            RenegotiationState.REJECTED,
            RenegotiationState.FAILED,
            RenegotiationState.EXPIRED,
        },
        {RenegotiationState.ANSWERED, RenegotiationState.COMPLETED},
    ),
    # a series that ran its course ended; a cancelled one did not
    MeetingSeriesState: ({MeetingSeriesState.CANCELLED}, {MeetingSeriesState.ENDED}),
}


@pytest.mark.parametrize("states", list(UNSUCCESSFUL), ids=lambda e: e.__name__)
def test_every_unsuccessful_end_is_in_the_group(states: type[Enum]) -> None:
    (definition,) = [d for d in MACHINES.values() if d.states is states]
    failed, succeeded = UNSUCCESSFUL[states]
    dot = parse_dot(diagrams.to_dot(definition))
    grouped = {n for n, inside in dot.clusters.items() if "cluster_failed" in inside}
    assert {s.name for s in failed} <= grouped
    assert not {s.name for s in succeeded} & grouped


def test_invitation_diagram_stays_readable() -> None:
    # ~200 rows: without boxes and collapsing there would be one arrow per row.
    definition = MACHINES["invitation"]
    drawn_rows = sum(1 for row in definition.table if not row.absorb)
    assert drawn_rows > 150
    assert len(diagrams.plan(definition).arcs) <= 25


def test_dot_and_mermaid_do_not_depend_on_hash_order() -> None:
    # Two interpreters with different string-hash seeds must print the same bytes.
    script = (
        "import sys\nfrom fsm import MACHINES\nfrom adapters import diagrams\n"
        "for d in MACHINES.values():\n"
        "    sys.stdout.write(diagrams.to_dot(d) + diagrams.to_mermaid(d))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=True, timeout=120
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    for definition in MACHINES.values():
        assert diagrams.to_dot(definition) == diagrams.to_dot(definition)


# -- reading Mermaid back -------------------------------------------------------------


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


# -- live models ----------------------------------------------------------------------


def _live_invitation() -> Invitation:
    cancel = (Link("cancel", "/inv/1/cancel"),)
    model = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    model.send(now=1.0, href="/ucwa/startAudioVideo", operation_id="op1", to="sip:bob@example.com")
    model.created(now=2.0, href="/inv/1")
    model.updated(now=3.0, representation=Representation(state="Alerting", links=cancel))
    model.cancel(now=4.0)
    model.request_failed(now=5.0, reason=Reason("Conflict", "None"))
    return model


def test_live_model_highlights_its_state_and_numbers_its_path() -> None:
    # send: idle -> sending; created: sending -> Connecting; updated to Alerting;
    # cancel: Alerting -> cancelling; the refused cancel goes back to Alerting.
    model = _live_invitation()
    assert model.state is InvitationState.ALERTING
    dot = parse_dot(diagrams.to_dot(MACHINES["invitation"], model=model))
    assert "penwidth=3" in dot.node_attrs["ALERTING"]
    path = {
        (t, h, tuple(_lines(a["label"]))) for t, h, a in dot.edges if a.get("color") == "#d9480f" and "constraint" in a
    }
    assert path == {
        ("IDLE", "SENDING", ("1. send",)),
        ("SENDING", "CONNECTING", ("2. created",)),
        ("CONNECTING", "ALERTING", ("3. updated",)),
        ("ALERTING", "CANCELLING", ("4. cancel",)),
        ("CANCELLING", "ALERTING", ("5. request_failed",)),
    }
    text = diagrams.to_mermaid(MACHINES["invitation"], model=model)
    assert "    class s_alerting current" in text
    assert "    class s_idle,s_sending,s_connecting,s_cancelling visited" in text
    assert "        5. request_failed#58; cancelling → Alerting" in text


def test_any_object_with_state_and_history_is_a_live_model() -> None:
    class Fake:
        state = InvitationState.IDLE
        history = (Step(InvitationState.IDLE, InvitationTrigger.COMPLETED, InvitationState.IDLE, None, 0.0),)

    text = diagrams.to_dot(MACHINES["invitation"], model=Fake())
    assert "1. completed" in text


# -- checked-in files -----------------------------------------------------------------


def test_checked_in_dot_mermaid_and_readme_match_the_machines() -> None:
    """The files `make diagrams` wrote are what the current machines give."""
    stale = []
    stems = set()
    for name, definition in MACHINES.items():
        for view in diagrams.views(definition):
            stem = diagrams.file_stem(name, view)
            stems.add(stem)
            dot, mmd = diagrams.to_dot(definition, view=view), diagrams.to_mermaid(definition, view=view)
            for fmt, text in (("dot", dot), ("mmd", mmd)):
                path = CHECKED_IN / f"{stem}.{fmt}"
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    stale.append(path.name)
    readme = CHECKED_IN / "README.md"
    if not readme.is_file() or readme.read_text(encoding="utf-8") != diagrams.readme_text(
        list(MACHINES), CHECKED_IN_FORMATS
    ):
        stale.append(readme.name)
    extra = {p.stem for p in CHECKED_IN.glob("*.dot")} - stems
    assert not stale, f"run `make diagrams`: stale {stale}"
    assert not extra, f"run `make diagrams`: no machine for {sorted(extra)}"


def _generator(svg: bytes) -> bytes:
    match = re.search(rb"<!-- Generated by (.*?)\s*-->", svg, re.S)
    return match.group(1) if match else b""


def test_checked_in_svgs_match_the_machines() -> None:
    """SVG bytes depend on the layout engine: compared only with the one that made them.

    Without any engine, or with another one (a system ``dot`` of another
    version), the SVGs are skipped; DOT, Mermaid and README are still compared above.
    """
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed: SVGs not compared (DOT/Mermaid/README are)")
    stale = []
    for name, view_name in VIEW_CASES:
        view = _view(name, view_name)
        path = CHECKED_IN / f"{diagrams.file_stem(name, view)}.svg"
        assert path.is_file(), f"run `make diagrams`: {path.name} is missing"
        fresh, kept = _svg(name, view_name), path.read_bytes()
        if _generator(fresh) != _generator(kept):
            pytest.skip(f"SVGs made by {_generator(kept)!r}, this machine renders with {_generator(fresh)!r}")
        if fresh != kept:
            stale.append(path.name)
    assert not stale, f"run `make diagrams`: stale {stale}"


_SVGS: dict[tuple[str, str], bytes] = {}


def _svg(name: str, view_name: str) -> bytes:
    """One rendering per view for the whole run: rendering is the slow part."""
    if (name, view_name) not in _SVGS:
        _SVGS[name, view_name] = diagrams.render(MACHINES[name], "svg", view=_view(name, view_name))
    return _SVGS[name, view_name]


#: A4 is 210 mm wide; at 100% on a 96 dpi screen that is 794 px, and a
#: landscape page or a wide browser column about 1,200: the limit for a view.
PAGE_WIDTH_PX = 1200


def _width_px(svg: bytes) -> float:
    # Graphviz writes the size in points; a PNG of it at 96 dpi is 96/72 px per point.
    match = re.search(rb'<svg width="([0-9.]+)pt"', svg)
    assert match is not None
    return float(match.group(1)) * 96 / 72


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_each_view_fits_the_page_width(name: str, view_name: str) -> None:
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    split = len(diagrams.views(MACHINES[name])) > 1
    width = _width_px(_svg(name, view_name))
    if split and view_name == diagrams.FULL:
        # The full view of a split machine is kept for reference, not for the page:
        # its parts are what must fit. It must still not grow without bound.
        assert width <= 2.5 * PAGE_WIDTH_PX
    else:
        assert width <= PAGE_WIDTH_PX, f"{name} {view_name}: {width:.0f} px"


def test_the_invitation_views_fit_the_page_width() -> None:
    # The issue's own figure: the invitation's views at most 1,200 px wide.
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    parts = [view.name for view in diagrams.views(MACHINES["invitation"])[1:]]
    assert parts == ["progress", "completion", "cancel-race"]
    for view_name in parts:
        assert _width_px(_svg("invitation", view_name)) <= PAGE_WIDTH_PX


# -- reading SVG back: does an arrow cross a label? -----------------------------------

_SVG_NS = "{http://www.w3.org/2000/svg}"


def _curve_points(d: str) -> list[tuple[float, float]]:
    """Points along a path of cubic Béziers (Graphviz writes ``M x,y C x,y x,y x,y ...``)."""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    points = list(zip(numbers[0::2], numbers[1::2], strict=False))
    out = [points[0]]
    for i in range(1, len(points) - 2, 3):
        p0, p1, p2, p3 = points[i - 1], points[i], points[i + 1], points[i + 2]
        for k in range(1, 21):
            t = k / 20
            a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
            out.append(
                (
                    a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1],
                )
            )
    return out


def _text_box(text: Any) -> tuple[float, float, float, float]:
    """Where a line of text is, a little inside: Helvetica's letters average over half the size wide."""
    size = float(text.get("font-size", "12"))
    content = "".join(text.itertext())
    lead = len(content) - len(content.lstrip())
    width = 0.45 * size * len(content.strip())
    x, y = float(text.get("x")), float(text.get("y"))
    anchor = text.get("text-anchor", "start")
    left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x + 0.45 * size * lead
    return left + 1, y - 0.7 * size + 1, left + width - 1, y - 1


def label_crossings(svg: bytes) -> list[tuple[str, str, str]]:
    """(arrow, owner, text) for each arrow that runs through text it does not end at."""
    root = DefusedET.fromstring(svg)
    arrows: list[tuple[str, list[tuple[float, float]]]] = []
    texts: list[tuple[str, tuple[float, float, float, float], str]] = []
    for group in root.iter(f"{_SVG_NS}g"):
        kind, title = group.get("class"), group.findtext(f"{_SVG_NS}title") or ""
        if kind == "edge":
            arrows += [(title, _curve_points(p.get("d", ""))) for p in group.findall(f"{_SVG_NS}path")]
        if kind in {"edge", "node", "cluster"}:
            for text in group.findall(f"{_SVG_NS}text"):
                if "".join(text.itertext()).strip():
                    texts.append((title, _text_box(text), "".join(text.itertext()).strip()))
    found = []
    for title, points in arrows:
        ends = set(title.replace("&gt;", ">").split("->"))
        for owner, (x0, y0, x1, y1), words in texts:
            if owner in ends:
                continue  # an arrow meets the label node it runs to or from
            if any(x0 < x < x1 and y0 < y < y1 for x, y in points):
                found.append((title, owner, words))
    return found


def test_the_crossing_check_finds_a_crossing() -> None:
    # By hand: a straight arrow from (0,0) to (100,0) through a label at x=40..70 on y=0.
    svg = b"""<svg xmlns="http://www.w3.org/2000/svg">
    <g class="edge"><title>a&#45;&gt;b</title><path d="M0,0C30,0 70,0 100,0"/></g>
    <g class="node"><title>c</title><text x="40" y="5" font-size="10">labels</text></g>
    <g class="node"><title>d</title><text x="40" y="50" font-size="10">far away</text></g>
    </svg>"""
    assert label_crossings(svg) == [("a->b", "c", "labels")]


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_no_arrow_crosses_a_label(name: str, view_name: str) -> None:
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    assert label_crossings(_svg(name, view_name)) == []


def test_svg_and_png_show_every_state() -> None:
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    definition = MACHINES["lobby_participant"] if "lobby_participant" in MACHINES else MACHINES["invitation"]
    svg = diagrams.render(definition, "svg").decode()
    assert "<svg" in svg
    for state in definition.states:
        assert f">{state.value}</text>" in svg
    assert diagrams.render(definition, "png").startswith(b"\x89PNG\r\n\x1a\n")


# -- the command line -----------------------------------------------------------------


def test_cli_refuses_an_unknown_machine_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "invitation", "no_such_machine"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no_such_machine" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "dot,gif"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "gif" in err


def test_cli_writes_the_files_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "dot,mmd", "--readme", "lobby_participant"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "lobby_participant.dot", "lobby_participant.mmd"]
    readme = (tmp_path / "README.md").read_text()
    assert MACHINES["lobby_participant"].summary in readme
    assert "```mermaid\n" + (tmp_path / "lobby_participant.mmd").read_text() + "```" in readme
    assert "[DOT](lobby_participant.dot)" in readme
    assert "lobby_participant.svg" not in readme  # not written, so not linked


def test_cli_writes_every_view_of_a_split_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "dot,mmd", "--readme", "invitation"]) == 0
    stems = ["invitation", "invitation-progress", "invitation-completion", "invitation-cancel-race"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["README.md", *(f"{stem}.{fmt}" for stem in stems for fmt in ("dot", "mmd"))]
    )
    readme = (tmp_path / "README.md").read_text()
    # the parts inline, the full view linked for reference
    for stem in stems[1:]:
        assert "```mermaid\n" + (tmp_path / f"{stem}.mmd").read_text() + "```" in readme
    assert "[DOT](invitation.dot)" in readme
    assert "```mermaid\n" + (tmp_path / "invitation.mmd").read_text() not in readme
    assert "invitation.svg" not in readme  # not written, so not linked


def test_cli_picks_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagrams", "--out", str(tmp_path), "--format", "dot", "--view", "cancel-race,full", "invitation"]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invitation-cancel-race.dot", "invitation.dot"]
    # a view only some machines have: drawn for those, the others get nothing
    assert cli.main(["diagrams", "--out", str(tmp_path / "all"), "--format", "dot", "--view", "progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "invitation-progress.dot",
        "online_meeting-progress.dot",
    ]


@pytest.mark.parametrize("view", ["nosuch", ","])
def test_cli_refuses_an_unknown_view_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], view: str
) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--view", view, "lobby_participant"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "view" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_without_a_renderer_pictures_are_skipped_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rendering, "renderer", lambda: None)
    with pytest.raises(diagrams.RendererUnavailable):
        diagrams.render(MACHINES["invitation"], "svg")
    # The default formats include svg: the rest is written, a warning, exit 0.
    assert cli.main(["diagrams", "--out", str(tmp_path), "--view", "full", "invitation"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invitation.dot", "invitation.mmd"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "skipped svg/png" in err
    # Asked for explicitly: the same, but the exit status says it failed.
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "svg", "invitation"]) == 1
