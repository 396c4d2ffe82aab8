"""Deprecated path: moved to :mod:`adapters.testing.strategies`; the old path works for one release.

Every name is the new module's own object (README "Architecture" says where each role lives now).
"""

from __future__ import annotations

import warnings
from typing import Any

from adapters.testing import strategies as _moved
from adapters.testing.strategies import *  # noqa: F403

warnings.warn(
    "adapters.strategies is deprecated and goes in the next release: import adapters.testing.strategies",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    # names outside the new module's ``__all__`` (a star import leaves them behind)
    return getattr(_moved, name)
