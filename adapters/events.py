"""Deprecated path: moved to :mod:`adapters.wire.events`; the old path works for one release.

Every name is the new module's own object (README "Architecture" says where each role lives now).
"""

from __future__ import annotations

from typing import Any

from adapters._deprecation import warn_moved
from adapters.wire import events as _moved
from adapters.wire.events import *  # noqa: F403

warn_moved("adapters.events", "adapters.wire.events")


def __getattr__(name: str) -> Any:
    # names outside the new module's ``__all__`` (a star import leaves them behind)
    return getattr(_moved, name)
