"""The warning the deprecated flat paths give (README "Architecture"), said at the importer's own line.

``stacklevel=2`` in a shim points at whatever ran the shim's body: importlib's frames, which
:func:`warnings.warn` skips by itself, and then the loader's ``exec_module``, which it does not when
the loader is an import hook (pytest's assertion rewriter is one, under pytest-xdist). This walks
past the loader to the frame that holds the ``import`` statement.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

#: Functions of a loader that stand between an ``import`` statement and a module's body.
_LOADING = frozenset({"exec_module", "load_module", "_load_unlocked", "_call_with_frames_removed"})


def _internal(filename: str) -> bool:
    # what warnings itself skips (CPython's _warnings.c, is_internal_frame)
    return "importlib" in filename and "_bootstrap" in filename


def warn_moved(old: str, new: str) -> None:
    """Warn that ``old`` moved to ``new``, at the line that imported ``old``."""
    frame: FrameType | None = sys._getframe(2)  # 0: here, 1: the shim's body, 2: what ran it
    level = 3
    while frame is not None and (_internal(frame.f_code.co_filename) or frame.f_code.co_name in _LOADING):
        if not _internal(frame.f_code.co_filename):
            level += 1
        frame = frame.f_back
    warnings.warn(
        f"{old} is deprecated and goes in the next release: import {new}", DeprecationWarning, stacklevel=level
    )
