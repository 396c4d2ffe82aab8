"""Deprecated path: moved to :mod:`adapters.ucwa.client`; the old path works for one release.

Every name is the new module's own object (README "Architecture" says where each role lives now).
"""

from __future__ import annotations

import warnings
from typing import Any

from adapters.ucwa import client as _moved
from adapters.ucwa.client import *  # noqa: F403

warnings.warn(
    "adapters.client is deprecated and goes in the next release: import adapters.ucwa.client",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    # names outside the new module's ``__all__`` (a star import leaves them behind)
    return getattr(_moved, name)
