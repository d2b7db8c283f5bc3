"""Every command, typed wrongly: one plain sentence, exit status 2, never a traceback.

The command tree is walked (so a new command is tested the day it is added) and each command is
given a missing argument, an extra one, an unknown option, a bad choice and a word where a
number goes. None of these runs the command: click refuses them while reading the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from assistant.cli import app, main
from assistant.cli.usage import choices_of
from assistant.sync.cli import enrolment_code

ROOT = typer.main.get_command(app)


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    ctx = typer.Context(command)
    if hasattr(command, "list_commands"):
        yield path, command
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, [*path, name])
    else:
        yield path, command


COMMANDS = [(p, c) for p, c in _walk(ROOT, []) if p and not hasattr(c, "list_commands")]
GROUPS = [(p, c) for p, c in _walk(ROOT, []) if hasattr(c, "list_commands")]


def _ids(items: list[tuple[list[str], Any]]) -> list[str]:
    return [" ".join(p) or "assistant" for p, _ in items]


def _arguments(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "argument"]


def _options(command: Any) -> list[Any]:
    return [
        p
        for p in command.params
        if p.param_type_name == "option" and not p.hidden and not p.is_flag
    ]


def _name_of(argument: Any) -> str:
    return str(argument.name).upper()


def _value(param: Any) -> str:
    choices = choices_of(param)
    return choices[0] if choices else "x-value"


def _filled(command: Any, every: bool = False) -> list[str]:
    """A value for each required argument (never used: parsing fails first)."""
    return [_value(p) for p in _arguments(command) if p.required or every]


@pytest.fixture(autouse=True)
def _own_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)


def mistake(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a mistaken command line; its one sentence, after checking the shape of it."""
    code = main(args)
    out = capsys.readouterr()
    assert code == 2, (args, code, out)
    assert "Traceback" not in out.err + out.out, out.err
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("assistant: "), lines
    assert lines[0].endswith((".", "?")), lines
    for jargon in ("Got unexpected", "Missing parameter", "Value error", "No such option"):
        assert jargon not in lines[0], lines
    return lines[0].removeprefix("assistant: ")


def test_every_command_is_walked() -> None:
    names = _ids(COMMANDS)
    for name in ("people add", "records show", "sync enrol", "scripts copy", "hub staff add"):
        assert name in names
    assert len(names) > 35


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids(COMMANDS))
def test_every_command_explains_each_mistake(
    path: list[str], command: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # A missing argument names it and shows how to type the command.
    if any(p.required for p in _arguments(command)):
        said = mistake(path, capsys)
        assert "needs" in said and f"'assistant {' '.join(path)} --help'" in said
    # One word too many, unless the last argument takes any number of words.
    arguments = _arguments(command)
    if not arguments or arguments[-1].nargs == 1:
        said = mistake([*path, *_filled(command, every=True), "surplus"], capsys)
        assert "'surplus'" in said
    # A bad choice for an argument (people consent Sam maybe).
    for i, argument in enumerate(arguments):
        if choices_of(argument):
            words = _filled(command, every=True)
            words[i] = "maybe-not"
            said = mistake([*path, *words], capsys)
            assert said.startswith(f"'maybe-not' is not a choice for {_name_of(argument)}: use ")
    # An option that does not exist.
    said = mistake([*path, *_filled(command), "--no-such-thing"], capsys)
    assert said.startswith("There is no option '--no-such-thing'")
    # A bad choice, or a word where a number goes, or an option with no value.
    for option in _options(command):
        name = next(o for o in option.opts if o.startswith("--"))
        choices = choices_of(option)
        annotation = option.type_descriptor.annotation
        if choices:
            said = mistake([*path, *_filled(command), name, "maybe-not"], capsys)
            assert said.startswith(f"'maybe-not' is not a choice for {name}: use ")
        elif annotation in (int, float):
            said = mistake([*path, *_filled(command), name, "lots"], capsys)
            assert name in said and "'lots'" in said
        said = mistake([*path, *_filled(command), name], capsys)
        assert said.startswith(f"The option '{name}' needs ")


@pytest.mark.parametrize(("path", "group"), GROUPS, ids=_ids(GROUPS))
def test_a_mistyped_command_suggests_the_near_one(
    path: list[str], group: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = typer.Context(group)
    first = sorted(n for n in group.list_commands(ctx) if len(n) >= 3)[0]
    typo = first[0] + first[2:]  # one letter left out
    said = mistake([*path, typo], capsys)
    assert said == f"There is no command '{typo}'. Did you mean '{first}'?"
    said = mistake([*path, "zzzzqqq"], capsys)
    assert said.startswith("There is no command 'zzzzqqq'") and "the commands are: " in said


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["records", "shw"], "There is no command 'shw'. Did you mean 'show'?"),
        (
            ["people", "add"],
            "'assistant people add' needs NAME (their name, as it will be spoken): type "
            "'assistant people add NAME', or see 'assistant people add --help'.",
        ),
        (
            ["people", "add", "Sam", "--consent", "maybe"],
            "'maybe' is not a choice for --consent: use yes or no.",
        ),
        (
            ["people", "add", "Sam", "Jones"],
            "'assistant people add' takes only NAME, so 'Jones' is too much (put words with "
            "spaces in quotes); see 'assistant people add --help'.",
        ),
        (
            ["people", "add", "Sam", "--consent"],
            "The option '--consent' needs one of yes or no after it; see "
            "'assistant people add --help'.",
        ),
        (
            ["people", "list", "extra"],
            "'assistant people list' takes nothing after it, but was given 'extra'; see "
            "'assistant people list --help'.",
        ),
        (
            ["people", "add", "Sam", "--cons", "yes"],
            "There is no option '--cons' for 'assistant people add'. Did you mean '--consent'?",
        ),
        (["--version"], "There is no option '--version'; it is a command: 'assistant version'."),
    ],
)
def test_the_issue_mistakes_in_one_sentence(
    args: list[str], sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mistake(args, capsys) == sentence


@pytest.mark.parametrize(
    ("error", "start", "status"),
    [
        (
            PermissionError(13, "Permission denied", "/var/lib/x"),
            "Permission denied for /var/lib/x",
            2,
        ),
        (FileNotFoundError(2, "No such file", "/nope"), "Cannot find /nope", 2),
        (OSError(28, "No space left on device"), "The system refused: No space left on device", 2),
        (RuntimeError("odd"), "Something went wrong inside assistant (RuntimeError: odd)", 1),
    ],
)
def test_errors_nobody_planned_for_are_one_sentence(
    error: Exception, start: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    @app.command("fail", hidden=True)
    def _fail() -> None:
        raise error

    try:
        assert main(["fail"]) == status
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "fail"]
    err = capsys.readouterr().err
    assert err.startswith(f"assistant: {start}") and len(err.strip().splitlines()) == 1


def test_debug_shows_the_traceback() -> None:
    import typer._click.exceptions as click_errors

    with pytest.raises(click_errors.UsageError):
        main(["--debug", "records", "shw"])


def test_an_unexpected_error_is_one_sentence_with_debug_advice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @app.command("boom", hidden=True)
    def _boom() -> None:
        raise ValueError("it broke")

    try:
        assert main(["boom"]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert "ValueError: it broke" in err and "--debug" in err
        with pytest.raises(ValueError, match="it broke"):
            main(["--debug", "boom"])
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "boom"]


def test_a_group_with_no_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records"]) == 0
    out = capsys.readouterr().out
    assert "Usage: assistant records" in out and "summary" in out


@pytest.mark.parametrize(("path", "command"), COMMANDS + GROUPS, ids=_ids(COMMANDS + GROUPS))
def test_help_shows_no_bool_on_plain_flags(
    path: list[str], command: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out
    assert "Usage: assistant" in out


@pytest.mark.parametrize(
    "typed",
    [
        ["kmqy", "szfn", "7kd7"],
        ["KMQY-SZFN-7KD7"],
        ["kmqyszfn7kd7"],
        ["kmqy-szfn", "7KD7"],
        [" KmQy  SZFN-7kd7 "],
    ],
)
def test_an_enrolment_code_is_read_however_it_is_typed(typed: list[str]) -> None:
    assert enrolment_code(typed) == "KMQY-SZFN-7KD7"


def test_enrol_takes_a_code_typed_with_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    # No hub is listening on that port: the one sentence is about the hub, not the arguments.
    code = main(["sync", "enrol", "http://127.0.0.1:9", "kmqy", "szfn", "7kd7"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (
        "assistant: Cannot reach the hub at http://127.0.0.1:9: check the address and network."
    )


def test_the_command_modules_never_import_the_root() -> None:
    """Settings come from the context: no module but the root imports assistant.cli.root."""
    here = Path(__file__).resolve().parents[1] / "assistant"
    for path in here.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path == here / "__main__.py" or (
            path.parent.name == "cli" and path.parent == here / "cli"
        ):
            continue  # the command-line package itself (its __init__ loads the root lazily)
        assert not re.search(
            r"^\s*(from assistant\.cli(\.root)? import|import assistant\.cli)", text, re.MULTILINE
        ), path
