"""Every ```python block of README.md runs as written (the README stays true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    block = BLOCKS[index]
    if "# needs: ucwa simulator" in block:
        pytest.skip("run as printed against `callfsm simulate` in test_client_readme")
    if "# needs: huawei simulator" in block:
        pytest.skip("run against `callfsm simulate` in test_huawei_readme")
    if "# needs: pytest" in block:
        pytest.skip("a pytest test using the ucwa_simulator fixture: see test_simulator_cli")
    exec(compile(block, f"README.md block {index}", "exec"), {"__name__": "readme"})


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"^make (\w+)", README.read_text(encoding="utf-8"), flags=re.M))
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    defined = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    assert {"demo", "test", "bench", "soak", "fuzz"} <= named
    assert named <= defined, named - defined
