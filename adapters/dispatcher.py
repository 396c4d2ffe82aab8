"""Deprecated path: moved to :mod:`adapters.routing.dispatcher`; the old path works for one release.

Every name is the new module's own object (README "Architecture" says where each role lives now).
"""

from __future__ import annotations

from typing import Any

from adapters._deprecation import warn_moved
from adapters.routing import dispatcher as _moved
from adapters.routing.dispatcher import *  # noqa: F403

warn_moved("adapters.dispatcher", "adapters.routing.dispatcher")


def __getattr__(name: str) -> Any:
    # names outside the new module's ``__all__`` (a star import leaves them behind)
    return getattr(_moved, name)
