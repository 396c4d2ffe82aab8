"""Fixtures shared by the diagram tests: the SVG of each view, rendered once per run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from diagram_reading import _view

from adapters import diagrams
from fsm import MACHINES


@pytest.fixture(scope="session")
def svg_of() -> Callable[[str, str], bytes]:
    """``svg_of(machine, view)``: one rendering per view for the whole run, since rendering is the slow part.

    It needs a Graphviz layout engine: a test that uses it checks :func:`adapters.diagrams.renderer` first.
    """
    svgs: dict[tuple[str, str], bytes] = {}

    def svg(name: str, view_name: str) -> bytes:
        if (name, view_name) not in svgs:
            svgs[name, view_name] = diagrams.render(MACHINES[name], "svg", view=_view(name, view_name))
        return svgs[name, view_name]

    return svg
