"""Pictures: each view fits the page width, no arrow crosses a label, SVG and PNG show every state.

They need a Graphviz layout engine and are skipped without one. The SVG is read
back (defusedxml) to find arrows that run through text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from defusedxml import ElementTree as DefusedET
from diagram_reading import VIEW_CASES

from adapters import diagrams
from fsm import MACHINES

#: A4 is 210 mm wide; at 100% on a 96 dpi screen that is 794 px, and a
#: landscape page or a wide browser column about 1,200: the limit for a view.
PAGE_WIDTH_PX = 1200


def _width_px(svg: bytes) -> float:
    # Graphviz writes the size in points; a PNG of it at 96 dpi is 96/72 px per point.
    match = re.search(rb'<svg width="([0-9.]+)pt"', svg)
    assert match is not None
    return float(match.group(1)) * 96 / 72


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_each_view_fits_the_page_width(name: str, view_name: str, svg_of: Callable[[str, str], bytes]) -> None:
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    split = len(diagrams.views(MACHINES[name])) > 1
    width = _width_px(svg_of(name, view_name))
    if split and view_name == diagrams.FULL:
        # The full view of a split machine is kept for reference, not for the page:
        # its parts are what must fit. It must still not grow without bound.
        assert width <= 2.5 * PAGE_WIDTH_PX
    else:
        assert width <= PAGE_WIDTH_PX, f"{name} {view_name}: {width:.0f} px"


def test_the_invitation_views_fit_the_page_width(svg_of: Callable[[str, str], bytes]) -> None:
    # The issue's own figure: the invitation's views at most 1,200 px wide.
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    parts = [view.name for view in diagrams.views(MACHINES["invitation"])[1:]]
    assert parts == ["progress", "completion", "cancel-race"]
    for view_name in parts:
        assert _width_px(svg_of("invitation", view_name)) <= PAGE_WIDTH_PX


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
def test_no_arrow_crosses_a_label(name: str, view_name: str, svg_of: Callable[[str, str], bytes]) -> None:
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    assert label_crossings(svg_of(name, view_name)) == []


def test_svg_and_png_show_every_state() -> None:
    if diagrams.renderer() is None:
        pytest.skip("no Graphviz layout engine installed")
    definition = MACHINES["lobby_participant"] if "lobby_participant" in MACHINES else MACHINES["invitation"]
    svg = diagrams.render(definition, "svg").decode()
    assert "<svg" in svg
    for state in definition.states:
        assert f">{state.value}</text>" in svg
    assert diagrams.render(definition, "png").startswith(b"\x89PNG\r\n\x1a\n")
