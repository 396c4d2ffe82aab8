"""SVG and PNG pictures: a Graphviz layout engine (``dot``, ``graphviz-pure``, ``pygraphviz``) run on DOT."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from adapters.diagrams.dot import to_dot
from adapters.diagrams.plan import PICTURE_FORMATS, LiveModel, View
from fsm.engine import MachineDefinition

# -- pictures -------------------------------------------------------------------------


class RendererUnavailable(Exception):
    """No Graphviz layout engine is installed: SVG and PNG cannot be made."""


def renderer() -> str | None:
    """Which layout engine :func:`render` uses: ``dot``, ``graphviz-pure``, ``pygraphviz`` or ``None``."""
    if shutil.which("dot"):
        return "dot"
    if _graphviz_pure() is not None:
        return "graphviz-pure"
    try:
        importlib.import_module("pygraphviz")
    except ImportError:
        return None
    return "pygraphviz"


def _graphviz_pure() -> str | None:
    # pip puts the program next to the interpreter, which may not be on PATH (a venv not activated).
    beside = Path(sysconfig.get_path("scripts")) / "graphviz-pure"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("graphviz-pure")


def render(
    definition: MachineDefinition[Any, Any], fmt: str, *, model: LiveModel | None = None, view: View | None = None
) -> bytes:
    """The machine (or a view) as an SVG or PNG picture; raises :class:`RendererUnavailable` without a layout engine."""
    if fmt not in PICTURE_FORMATS:
        raise ValueError(f"not a picture format: {fmt!r} (use {', '.join(sorted(PICTURE_FORMATS))})")
    return render_source(to_dot(definition, model=model, view=view), fmt)


def render_source(source: str, fmt: str) -> bytes:
    """Lay out DOT ``source`` and draw it as ``fmt`` (svg or png)."""
    engine = renderer()
    if engine in {"dot", "graphviz-pure"}:
        program = shutil.which("dot") if engine == "dot" else _graphviz_pure()
        assert program is not None
        done = subprocess.run(
            [program, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{engine} failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout
    if engine == "pygraphviz":
        pygraphviz = importlib.import_module("pygraphviz")
        picture: bytes = pygraphviz.AGraph(string=source).draw(format=fmt, prog="dot")
        return picture
    raise RendererUnavailable(
        "no Graphviz layout engine: install the 'diagrams' extra (pip install 'callfsm[diagrams]', "
        "which brings graphviz-pure) or put Graphviz's dot on PATH; DOT and Mermaid need none"
    )
