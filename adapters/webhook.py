"""Deprecated path: moved to :mod:`adapters.ucwa.webhook`; the old path works for one release.

Every name is the new module's own object (README "Architecture" says where each role lives now).
"""

from __future__ import annotations

from typing import Any

from adapters._deprecation import warn_moved
from adapters.ucwa import webhook as _moved
from adapters.ucwa.webhook import *  # noqa: F403

warn_moved("adapters.webhook", "adapters.ucwa.webhook")


def __getattr__(name: str) -> Any:
    # names outside the new module's ``__all__`` (a star import leaves them behind)
    return getattr(_moved, name)
