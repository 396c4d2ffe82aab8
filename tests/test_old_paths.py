"""The flat module paths the README named before the adapters moved into role packages (README "Architecture").

Each still imports for one release, warns with a ``DeprecationWarning`` that names the new path, and hands out
the new module's own objects, so that ``isinstance`` and ``except`` keep working across the two paths. The
pairs are written out here from the move itself (README "Architecture"), not read from the shims.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from types import ModuleType

import pytest

MOVED = {
    "adapters.application": "adapters.ucwa.application",
    "adapters.client": "adapters.ucwa.client",
    "adapters.webhook": "adapters.ucwa.webhook",
    "adapters.dispatcher": "adapters.routing.dispatcher",
    "adapters.events": "adapters.wire.events",
    "adapters.requests": "adapters.wire.requests",
    "adapters.strategies": "adapters.testing.strategies",
    "adapters.pytest_plugin": "adapters.testing.pytest_plugin",
}

#: One name per old path that the README's examples (or the pytest11 entry point) used from it.
README_NAMES = {
    "adapters.application": "Modality",
    "adapters.client": "UcwaClient",
    "adapters.webhook": "webhook_app",
    "adapters.dispatcher": "Dispatcher",
    "adapters.events": "parse_events",
    "adapters.requests": "OriginError",
    "adapters.strategies": "event_sequences",
    "adapters.pytest_plugin": "ucwa_simulator",
}


def _fresh(old: str) -> tuple[ModuleType, list[warnings.WarningMessage]]:
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # a user's own ``import`` statement, compiled as if it were a line of this file
        exec(compile(f"import {old}", __file__, "exec"), {})
    return sys.modules[old], list(caught)


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_warns_and_names_the_new_one(old: str, new: str) -> None:
    _, caught = _fresh(old)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1, [str(w.message) for w in caught]
    message = str(deprecations[0].message)
    assert old in message
    assert new in message
    # the warning points at the importer (this file), not at the shim or at importlib
    assert deprecations[0].filename == __file__


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_hands_out_the_new_modules_objects(old: str, new: str) -> None:
    module, _ = _fresh(old)
    moved = importlib.import_module(new)
    public = [name for name in dir(moved) if not name.startswith("_")]
    assert public
    for name in public:
        assert getattr(module, name) is getattr(moved, name), name
    assert getattr(module, README_NAMES[old]) is getattr(moved, README_NAMES[old])


def test_an_old_path_also_reaches_names_outside_all() -> None:
    module, _ = _fresh("adapters.dispatcher")
    moved = importlib.import_module("adapters.routing.dispatcher")
    private = [name for name in vars(moved) if name.startswith("_") and not name.startswith("__")]
    assert private
    assert getattr(module, private[0]) is getattr(moved, private[0])


def test_an_unknown_name_on_an_old_path_is_an_attribute_error() -> None:
    module, _ = _fresh("adapters.events")
    with pytest.raises(AttributeError):
        _ = module.no_such_name


@pytest.mark.parametrize("path", ["adapters.huawei", "adapters.diagrams", "adapters.simulator", "adapters.cli"])
def test_a_module_that_became_a_package_keeps_its_path_without_a_warning(path: str) -> None:
    # a module and a package cannot share a name: the package is the new home, so no shim is needed.
    # A child interpreter imports it afresh: dropping it from this one's sys.modules would leave
    # other tests holding classes from the old copy.
    code = f"import {path} as m; assert hasattr(m, '__path__'), m"
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
