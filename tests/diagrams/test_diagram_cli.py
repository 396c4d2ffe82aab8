"""The ``callfsm diagrams`` command: the files asked for, every view, one-line refusals, no renderer."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import cli, diagrams
from adapters.diagrams import rendering
from fsm import MACHINES


def test_cli_refuses_an_unknown_machine_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "invitation", "no_such_machine"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no_such_machine" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "dot,gif"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "gif" in err


def test_cli_writes_the_files_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "dot,mmd", "--readme", "lobby_participant"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "lobby_participant.dot", "lobby_participant.mmd"]
    readme = (tmp_path / "README.md").read_text()
    assert MACHINES["lobby_participant"].summary in readme
    assert "```mermaid\n" + (tmp_path / "lobby_participant.mmd").read_text() + "```" in readme
    assert "[DOT](lobby_participant.dot)" in readme
    assert "lobby_participant.svg" not in readme  # not written, so not linked


def test_cli_writes_every_view_of_a_split_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "dot,mmd", "--readme", "invitation"]) == 0
    stems = ["invitation", "invitation-progress", "invitation-completion", "invitation-cancel-race"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["README.md", *(f"{stem}.{fmt}" for stem in stems for fmt in ("dot", "mmd"))]
    )
    readme = (tmp_path / "README.md").read_text()
    # the parts inline, the full view linked for reference
    for stem in stems[1:]:
        assert "```mermaid\n" + (tmp_path / f"{stem}.mmd").read_text() + "```" in readme
    assert "[DOT](invitation.dot)" in readme
    assert "```mermaid\n" + (tmp_path / "invitation.mmd").read_text() not in readme
    assert "invitation.svg" not in readme  # not written, so not linked


def test_cli_picks_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagrams", "--out", str(tmp_path), "--format", "dot", "--view", "cancel-race,full", "invitation"]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invitation-cancel-race.dot", "invitation.dot"]
    # a view only some machines have: drawn for those, the others get nothing
    assert cli.main(["diagrams", "--out", str(tmp_path / "all"), "--format", "dot", "--view", "progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "invitation-progress.dot",
        "online_meeting-progress.dot",
    ]


@pytest.mark.parametrize("view", ["nosuch", ","])
def test_cli_refuses_an_unknown_view_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], view: str
) -> None:
    assert cli.main(["diagrams", "--out", str(tmp_path), "--view", view, "lobby_participant"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "view" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_without_a_renderer_pictures_are_skipped_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rendering, "renderer", lambda: None)
    with pytest.raises(diagrams.RendererUnavailable):
        diagrams.render(MACHINES["invitation"], "svg")
    # The default formats include svg: the rest is written, a warning, exit 0.
    assert cli.main(["diagrams", "--out", str(tmp_path), "--view", "full", "invitation"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invitation.dot", "invitation.mmd"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "skipped svg/png" in err
    # Asked for explicitly: the same, but the exit status says it failed.
    assert cli.main(["diagrams", "--out", str(tmp_path), "--format", "svg", "invitation"]) == 1
