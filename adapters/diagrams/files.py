"""The files ``callfsm diagrams`` writes: one per machine, view and format, and the diagrams README."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.diagrams import rendering
from adapters.diagrams.dot import to_dot
from adapters.diagrams.mermaid import to_mermaid
from adapters.diagrams.plan import FORMATS, FULL, PICTURE_FORMATS, View, views
from fsm.engine import MachineDefinition
from fsm.registry import MACHINES

# -- files ----------------------------------------------------------------------------

README_INTRO = """\
# Diagrams of the machines

Generated from the machines' own definitions (`fsm.MACHINES`) by
`callfsm diagrams --out diagrams --format dot,mmd,svg --readme` (`make diagrams`):
do not edit these files by hand. A test fails when any of them differs from
what the current machines generate.

How to read them:

- An arrow's label is `trigger [guard or reason]`. Solid blue arrows are
  local triggers (the app calls them; ▶ in Mermaid); dashed ones come from
  the wire.
- States that behave alike share a box. An arrow from a box leaves every state
  in it; an arrow to a box reaches one of its states, chosen by the guard
  (`Failure: Declined | Canceled | other reason` lists the guards of the
  states inside, in their order).
- Lines under a state's name, or in a box's title, are triggers that stay
  there (UML internal transitions).
- A double border (Mermaid: an arrow to the end point) marks a terminal state.
  Unsuccessful ends share a red box. The rule: an end is successful when what
  the machine is for happened there (the call or the join connected, and was
  hung up later; the participant was admitted; the renegotiation was answered
  or completed; the series ran its course); every other end is unsuccessful,
  whoever chose it: declined, cancelled, rejected, dismissed, collided,
  expired, failed, or gone from the lobby without being admitted.
- Ended states absorb late events: recorded in the model's history, not drawn.

Views: a machine too dense for one picture at page width (A4 at 100%: at
most 1,200 px wide, a test checks it) is also drawn in parts, each in
`<machine>-<view>.<format>`, while `<machine>.<format>` (the view `full`)
keeps every transition for reference. `invitation` and `online_meeting` have
three parts:

- `progress`: every move before the outcome, from the first request or event
  to the pending states, and the cancel that starts the race;
- `completion`: how each of those states ends (connected, or an unsuccessful
  end);
- `cancel-race`: the cancel race with hang-up, from the cancel to `hung_up`.

`renegotiation` has two: `ours` (our offer) and `theirs` (the remote's offer,
answered or dismissed). A state no part names goes to the first part, so a
state added to a table is always drawn. A dashed state in a part is drawn
there only because an arrow leads to it; its own moves are in the part it
names. `callfsm diagrams --view progress,full` picks views (default: all).
"""


_FORMAT_NAMES = {"dot": "DOT", "mmd": "Mermaid", "svg": "SVG", "png": "PNG"}


def file_stem(name: str, view: View) -> str:
    """``<machine>`` for the full view, ``<machine>-<view>`` for a part."""
    return name if view.name == FULL else f"{name}-{view.name}"


def readme_text(names: Sequence[str], formats: Sequence[str], view_names: Sequence[str] | None = None) -> str:
    """``diagrams/README.md``: each machine's summary, and per view its file links and Mermaid diagram inline.

    A split machine's full view is linked, not inlined: its parts are what reads at page width.
    """
    parts = [README_INTRO]
    for name in names:
        definition = MACHINES[name]
        parts.append(f"## {name}\n\n{definition.summary}\n")
        chosen = _chosen(definition, view_names)
        split = len(views(definition)) > 1
        for view in chosen:
            stem = file_stem(name, view)
            links = [f"[{_FORMAT_NAMES[fmt]}]({stem}.{fmt})" for fmt in FORMATS if fmt in formats]
            if split:
                parts.append(f"### {view.title}\n")
            if links:
                parts.append(f"Files: {' · '.join(links)}\n")
            if not split or view.name != FULL:
                parts.append(f"```mermaid\n{to_mermaid(definition, view=view)}```\n")
    return "\n".join(parts)


def _chosen(definition: MachineDefinition[Any, Any], view_names: Sequence[str] | None) -> list[View]:
    return [view for view in views(definition) if view_names is None or view.name in view_names]


def check_request(formats: Sequence[str], names: Sequence[str], view_names: Sequence[str] | None = None) -> None:
    """Raise :class:`ValueError` naming the first unknown format, machine or view."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    for name in names:
        if name not in MACHINES:
            raise ValueError(f"unknown machine {name!r} (known: {', '.join(MACHINES)})")
    if view_names is not None:
        known = list(dict.fromkeys(view.name for name in names for view in views(MACHINES[name])))
        for view_name in view_names:
            if view_name not in known:
                raise ValueError(f"unknown view {view_name!r} for {', '.join(names)} (known: {', '.join(known)})")


def write_all(
    out_dir: str | os.PathLike[str],
    formats: Sequence[str],
    names: Sequence[str],
    *,
    readme: bool = False,
    view_names: Sequence[str] | None = None,
) -> list[Path]:
    """Write ``<stem>.<fmt>`` for each machine, view and format (and ``README.md``); return the paths written.

    ``view_names`` picks views by name (``None``: every view; see
    :func:`views` and :func:`file_stem`). DOT, Mermaid and the README are
    always written. Pictures need a layout engine: without one, everything
    else is written first, then :class:`RendererUnavailable` is raised.
    """
    check_request(formats, names, view_names)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, data: bytes) -> None:
        path.write_bytes(data)
        written.append(path)

    for name in names:
        definition = MACHINES[name]
        for view in _chosen(definition, view_names):
            if "dot" in formats:
                put(out / f"{file_stem(name, view)}.dot", to_dot(definition, view=view).encode())
            if "mmd" in formats:
                put(out / f"{file_stem(name, view)}.mmd", to_mermaid(definition, view=view).encode())
    if readme:
        put(out / "README.md", readme_text(names, formats, view_names).encode())
    pictures = [fmt for fmt in FORMATS if fmt in PICTURE_FORMATS and fmt in formats]
    # through the module, so that a test can take the layout engine away (monkeypatch rendering.renderer)
    if pictures and rendering.renderer() is None:
        rendering.render_source("", pictures[0])  # raises RendererUnavailable with the explanation
    for name in names:
        definition = MACHINES[name]
        for view in _chosen(definition, view_names):
            for fmt in pictures:
                put(out / f"{file_stem(name, view)}.{fmt}", rendering.render(definition, fmt, view=view))
    return written
