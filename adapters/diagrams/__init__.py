"""Diagrams of the machines: Graphviz DOT, Mermaid, and SVG/PNG pictures.

Theory of operation
-------------------
Everything is read from a :class:`~fsm.engine.MachineDefinition` (its states,
its table, its terminal states and local triggers), never from a machine
module's code, so a machine added to :data:`fsm.MACHINES` is drawn as it is.
The one editorial input is :data:`_SPLITS`: which states of a dense machine
make up each part (:func:`views`), named by the machine's own state enums.

Views. A picture must read at page width (A4 at 100%: at most 1,200 px). A
machine too dense for that is drawn in parts as well as whole (the full view,
kept for reference): the invitation's progress, completion and cancel race
with hang-up, say. A part draws the rows that leave its focus states (those
its filter keeps); a state such a row leads to whose own rows another part
draws is a stub, drawn dashed with that part's name, and stubs reached the
same way share one node. A state no part names goes to the first part, so a
state another engineer adds to a table is always drawn somewhere.

A table drawn row by row is spaghetti (the invitation machine has about 200
rows), so :func:`plan` first reduces it to what a reader needs, the way
statecharts do, and :func:`to_dot` and :func:`to_mermaid` both draw that plan:

1. Absorbed rows (``absorb=True``) are not drawn; the legend says that ended
   states absorb late events.
2. States that behave alike share a box: two non-terminal states are alike
   when they have the same drawn rows (trigger, guard, note) to alike states
   (the coarsest such partition, found by refinement; the initial state stays
   apart). The invitation's four ringing states are one box, three of its four
   pending states another.
3. Terminal states that are unsuccessful ends share a box titled
   "unsuccessful ends" (:func:`is_failure`; the rule is at
   :data:`SUCCESS_WORDS`).
4. A trigger that takes one state to EVERY state of a box, depending on its
   payload (``completed`` to Declined, Cancelled or Failed), is one arrow to
   the box, its guards merged, each whole: their common words once, then each
   one's rest (``Failure: Declined | Canceled | other reason``). A trigger that EVERY state of a
   box fires to the same place with the same guard is one arrow from the box.
5. Moves that stay where they are (a state to itself, or between the states of
   one box) are not arrows: they are listed under the state's name, or in the
   box's title, like the internal transitions of a UML state.
6. When three or more states or boxes share an arrow or a stay (same trigger,
   guard and destination), an outer box is drawn around them and the arrow
   leaves from it once (a statechart superstate); inside it, a smaller set
   that shares more gets a box of its own (three levels at most).
7. What is left is collapsed per (from, to, local or remote): one arrow, one
   line per guard, triggers that share a guard on the same line.

In DOT an arrow's label is a node of its own on the way (in the innermost box
holding both ends): dot routes arrows around nodes, but not reliably around
other arrows' labels, and a label must never be crossed. Labels are cut into
short lines so that they do not widen the picture; the legend is part of the
title, so it takes no width of its own.

Local triggers (the app calls them) are solid blue arrows, remote ones (from
the wire) dashed; Mermaid cannot style one arrow, so there local triggers
carry a ``▶`` (Graphviz's bundled fonts have no such glyph). Boxes are
clusters in DOT and composite states in Mermaid. Terminal states have a
double border (Mermaid: an arrow to ``[*]``), and the initial state an arrow
from a start point.

A live model (anything with ``.state`` and ``.history`` of
:class:`~fsm.engine.Step`) is drawn on the same plan: its current state
highlighted, the states it went through tinted, and its history as numbered
arrows (DOT) or a numbered note (Mermaid).

Output is deterministic: everything follows enum order or table order, never
the order of a set or a hash, so the same machines give byte-identical DOT
and Mermaid. Pictures need a Graphviz layout engine: the ``dot`` program when
it is on PATH, else the pip-installed ``graphviz-pure`` program (the same bytes
on every platform, fonts bundled), else the ``pygraphviz`` wheel (which bundles
libgvc and the dot layout plugin). With none, :func:`render` raises
:class:`RendererUnavailable`; DOT and Mermaid need none.

Modules: :mod:`.plan` (what is drawn; built from :mod:`.shapes`, :mod:`.merging`, :mod:`.views`,
:mod:`.live` and :mod:`.style`), :mod:`.dot`, :mod:`.mermaid`,
:mod:`.rendering` (pictures through a layout engine) and :mod:`.files` (what ``callfsm diagrams``
writes). Their public names are re-exported here.
"""

from adapters.diagrams.dot import (
    legend_lines,
    to_dot,
)
from adapters.diagrams.files import (
    README_INTRO,
    check_request,
    file_stem,
    readme_text,
    write_all,
)
from adapters.diagrams.mermaid import (
    to_mermaid,
)
from adapters.diagrams.plan import (
    ABSORB_NOTE,
    FAILED_TITLE,
    FORMATS,
    FULL,
    LABEL_WIDTH,
    LOCAL_MARK,
    PICTURE_FORMATS,
    RANKDIR,
    STAY_WIDTH,
    SUCCESS_WORDS,
    TITLE_WIDTH,
    WITHIN_TITLE,
    Arc,
    Endpoint,
    Group,
    LiveModel,
    Plan,
    Stay,
    View,
    full_view,
    is_failure,
    plan,
    view_named,
    views,
)
from adapters.diagrams.rendering import (
    RendererUnavailable,
    render,
    render_source,
    renderer,
)

__all__ = [
    "ABSORB_NOTE",
    "FAILED_TITLE",
    "FORMATS",
    "FULL",
    "LABEL_WIDTH",
    "LOCAL_MARK",
    "PICTURE_FORMATS",
    "RANKDIR",
    "README_INTRO",
    "STAY_WIDTH",
    "SUCCESS_WORDS",
    "TITLE_WIDTH",
    "WITHIN_TITLE",
    "Arc",
    "Endpoint",
    "Group",
    "LiveModel",
    "Plan",
    "RendererUnavailable",
    "Stay",
    "View",
    "check_request",
    "file_stem",
    "full_view",
    "is_failure",
    "legend_lines",
    "plan",
    "readme_text",
    "render",
    "render_source",
    "renderer",
    "to_dot",
    "to_mermaid",
    "view_named",
    "views",
    "write_all",
]
