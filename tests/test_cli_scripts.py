"""``assistant scripts list|show|copy|check``: where each script is, a copy to edit, and checks
that name the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.cli import main
from assistant.dialogue.script import builtin_dir, builtin_scripts


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASSISTANT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    return tmp_path / "data"


def test_list_shows_where_each_script_is_and_whose(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staff = data / "scripts"
    staff.mkdir(parents=True)
    (staff / "daily-checkin.yaml").write_text(
        (builtin_dir() / "daily-checkin.yaml").read_text().replace("name: daily-checkin", "name: x")
    )
    (staff / "broken.yaml").write_text("name: [\n")
    published = data / "published" / "scripts"
    published.mkdir(parents=True)
    (published / "garden.yaml").write_text(
        "name: garden\ntitle: Garden\nkind: group\nsteps:\n  - type: say\n    text: Hi.\n"
    )
    assert main(["scripts", "list"]) == 0
    out = capsys.readouterr().out
    for name in builtin_scripts():
        assert "built-in" in out and str(builtin_dir() / f"{name}.yaml") in out
    assert f"staff's: {staff / 'daily-checkin.yaml'}" in out
    # a bare YAML file in the published folder is listed, but never used: it is not signed
    assert f"published: {published / 'garden.yaml'}" in out
    assert "must come signed from the hub, so this file is never run" in " ".join(out.split())
    assert "built-in; not used: the staff's copy is used instead" in out
    assert "(cannot be used: " in out and "broken.yaml" in out
    assert f"Staff's scripts folder: {staff}" in out


def test_show_prints_the_file_with_where_it_is(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scripts", "show", "review"]) == 0
    out = capsys.readouterr().out
    path = builtin_dir() / "review.yaml"
    assert out.splitlines()[0] == f"# review (built-in): {path}"
    assert yaml.safe_load(out) == yaml.safe_load(path.read_text())
    assert main(["scripts", "show", "nope"]) == 2
    assert 'There is no script called "nope"' in capsys.readouterr().err


def test_copy_then_check_a_broken_copy_names_the_line_and_the_fix(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scripts", "copy", "daily-checkin", "my-checkin"]) == 0
    out = capsys.readouterr().out
    copy = data / "scripts" / "my-checkin.yaml"
    assert f"to {copy}" in out and "assistant scripts check my-checkin" in out
    text = copy.read_text()
    assert "name: my-checkin" in text
    assert main(["scripts", "check", "my-checkin"]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    # Staff add a sentence with a colon and no quotes.
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "- type: say")
    lines[at + 1] = "    text: Remember: bring your coat."
    copy.write_text("\n".join(lines) + "\n")
    assert main(["scripts", "check", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"assistant: {copy}, line {at + 2}: put the words in quotes when they contain a colon."
    )
    # The same name again is refused, and nothing is overwritten.
    assert main(["scripts", "copy", "daily-checkin", "my-checkin"]) == 2
    assert "There is already a script" in capsys.readouterr().err
    assert "Remember: bring" in copy.read_text()


def test_copy_with_the_same_name_replaces_the_built_in(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scripts", "copy", "review"]) == 0
    out = capsys.readouterr().out
    assert "is used instead of the built-in review" in out
    assert main(["scripts", "list"]) == 0
    assert "built-in; not used: the staff's copy is used instead" in capsys.readouterr().out
    assert main(["scripts", "copy", "review", "Bad Name"]) == 2
    assert "cannot be a script name" in capsys.readouterr().err


def test_check_applies_the_wording_rules(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = data / "wordy.yaml"
    data.mkdir(parents=True)
    bad.write_text(
        "name: wordy\ntitle: Wordy\nkind: group\nsteps:\n"
        "  - id: q\n    type: ask\n    text: What did you do today? Who was there?\n"
        "  - id: s\n    type: scale\n    scale: like\n    text: Rate the garden.\n"
    )
    assert main(["scripts", "check", str(bad)]) == 1
    out = capsys.readouterr()
    assert f'{bad}, step 1 "q": "What did you do today? Who was there?" asks 2 questions' in out.out
    assert f'{bad}, step 2 "s": "Rate the garden." asks for a scale answer' in out.out
    assert "2 things to change in the wording" in out.err
