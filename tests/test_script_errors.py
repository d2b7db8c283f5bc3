"""Loading scripts: built-ins by name, staff scripts from a folder, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.dialogue.script import (
    Branch,
    builtin_scripts,
    load_script,
    parse_script,
    validate_script_file,
)
from assistant.errors import AssistantError, ScriptError

HEAD = "name: x\ntitle: X\nkind: group\nsteps:\n"


def write(tmp_path: Path, body: str, name: str = "x.yaml", head: str = HEAD) -> Path:
    path = tmp_path / name
    path.write_text(head + body, encoding="utf-8")
    return path


def error(tmp_path: Path, body: str, head: str = HEAD) -> str:
    path = write(tmp_path, body, head=head)
    with pytest.raises(ScriptError) as info:
        validate_script_file(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert message.endswith("."), message
    assert "\n" not in message
    return message


def test_builtins_load_by_name() -> None:
    assert builtin_scripts() == ["coproduction-group", "daily-checkin", "my-goals", "review"]
    for name in builtin_scripts():
        script = load_script(name)
        assert script.name == name
        assert script.source.endswith("(built-in)")


def test_a_staff_script_is_found_by_name_in_its_folder_and_wins(tmp_path: Path) -> None:
    write(tmp_path, "  - type: say\n    text: Hello.\n", name="garden.yaml")
    assert load_script("garden", extra_dirs=[tmp_path]).name == "x"
    own = tmp_path / "daily-checkin.yaml"
    own.write_text(HEAD.replace("name: x", "name: own") + "  - type: say\n    text: Hi.\n")
    assert load_script("daily-checkin", extra_dirs=[tmp_path]).name == "own"
    assert load_script(str(own)).name == "own"


def test_an_unknown_script_name_lists_the_scripts(tmp_path: Path) -> None:
    write(tmp_path, "  - type: say\n    text: Hello.\n", name="garden.yaml")
    with pytest.raises(ScriptError, match='no script called "nope".*garden.*my-goals'):
        load_script("nope", extra_dirs=[tmp_path])
    with pytest.raises(ScriptError, match="does not exist"):
        load_script(str(tmp_path / "missing.yaml"))


def test_unknown_step_type(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - type: say\n    text: Hi.\n  - id: q\n    type: question\n")
    assert re.search(r'step 2 "q": unknown step type "question"; the types are: .*ask', msg)


def test_missing_field(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - id: why\n    type: ask\n")
    assert msg.endswith('x.yaml, step 1 "why": an ask step needs "text".')


def test_missing_id_on_a_question(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - type: ask\n    text: Why?\n")
    assert 'step 1: an ask step needs "id"' in msg


def test_five_options(tmp_path: Path) -> None:
    options = "".join(f"      - {{value: o{i}, label: option {i}}}\n" for i in range(5))
    body = (
        "  - type: say\n    text: Hi.\n  - type: say\n    text: Hi.\n"
        f"  - id: goal\n    type: choose\n    text: Pick one.\n    options:\n{options}"
    )
    msg = error(tmp_path, body)
    assert msg.endswith('x.yaml, step 3 "goal": a choose step has 5 options; the most is 4.')


def test_bad_template_reference(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - type: say\n    text: Hello {persn}.\n")
    assert "step 1" in msg and "{persn} is not something I can fill in" in msg
    msg = error(
        tmp_path,
        "  - id: r\n    type: for_each_person\n    steps:\n"
        "      - id: a\n        type: ask\n        text: You said {answer.later}.\n"
        "  - id: later\n    type: ask\n    text: Why?\n",
    )
    assert 'step 1.1 "a"' in msg and '"later", which is not an earlier question' in msg
    msg = error(tmp_path, "  - type: say\n    text: Hello {person}.\n")
    assert "{person} is used outside for_each_person" in msg
    msg = error(tmp_path, "  - type: say\n    text: Your job {job.what}.\n")
    assert "outside a review of jobs" in msg
    msg = error(tmp_path, "  - type: say\n    text: Hello {person.\n")
    assert "is not matched" in msg


def test_duplicate_step_id(tmp_path: Path) -> None:
    body = (
        "  - id: why\n    type: ask\n    text: Why?\n"
        "  - id: round\n    type: for_each_person\n    steps:\n"
        "      - id: why\n        type: ask\n        text: '{person}, why?'\n"
    )
    msg = error(tmp_path, body)
    assert 'step 2.1 "why": the id "why" is used twice (also at step 1).' in msg


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - type: say\n    text: [unclosed\n  - type: say\n")
    assert re.search(r"x\.yaml, line \d+: a bracket \[ or \{ is opened but not closed", msg)
    line = int(re.search(r"line (\d+)", msg).group(1))  # type: ignore[union-attr]
    assert 5 <= line <= 8


@pytest.mark.parametrize(
    ("body", "line", "advice"),
    [
        (
            "  - type: say\n    text: Note: bring a coat.\n",
            6,
            "put the words in quotes when they contain a colon",
        ),
        ("  - type: say\n    text: Hi.\n     id: q\n", 7, "indented differently"),
        (
            "  - type: say\n    text: Hi.\n  - id: q\n      type: ask\n    text: Why?\n",
            8,
            "indented differently",
        ),
        ("  - type: say\n\ttext: Hi.\n", 6, "use spaces, not tabs"),
        (
            '  - type: say\n    text: "Hello there.\n  - type: say\n',
            6,
            "a quote mark is opened but not closed",
        ),
        ('  - type: say\n    text: "Hello" there.\n', 6, "put all the words inside the quotes"),
        ("  - type: say\n    text: 'It's fine.'\n", 6, "in double quotes"),
        ("  - type: say\n    text: @home\n", 6, "put the words in quotes when they start with @"),
        ("  - type: say\n    text: *note\n", 6, "put the words in quotes when they start with *"),
        ("  - type: say\n    text: Hello\n    there is more\n    id: x\n", 7, "needs a colon"),
        (
            "  - type: say\n    text: Hi.\n - type: say\n   text: Hi.\n",
            7,
            "the dashes of one list line up",
        ),
    ],
)
def test_yaml_mistakes_are_plain_advice_with_the_line(
    tmp_path: Path, body: str, line: int, advice: str
) -> None:
    msg = error(tmp_path, body)
    assert f"x.yaml, line {line}: " in msg
    assert advice in msg
    for jargon in ("<block", "mapping values", "scalar", "expected", "token", "YAML"):
        assert jargon not in msg.split(f"line {line}: ")[1], msg


def test_unknown_field_and_bad_values(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - id: q\n    type: ask\n    text: Why?\n    keep: idea\n")
    assert 'unknown field "keep" in an ask step' in msg and "keep_as" in msg
    msg = error(tmp_path, "  - id: q\n    type: scale\n    scale: stars\n    text: How?\n")
    assert 'step 1 "q": "scale":' in msg and "like" in msg
    msg = error(tmp_path, "  - id: Bad Id\n    type: ask\n    text: Why?\n")
    assert "the id must be lower-case" in msg
    msg = error(tmp_path, "  - type: say\n    text: Hi.\n", head="name: x\ntitle: X\nsteps:\n")
    assert 'the script needs "kind"' in msg
    msg = error(tmp_path, "  - type: say\n")
    assert 'a say step needs "text"' in msg
    msg = error(tmp_path, "  - type: say\n    text: Hi.\n", head="colour: red\n" + HEAD)
    assert 'unknown field "colour"' in msg


def test_a_confirm_step_may_not_ask_for_a_preference(tmp_path: Path) -> None:
    msg = error(tmp_path, "  - id: q\n    type: confirm\n    text: Do you like gardening?\n")
    assert 'step 1 "q": a confirm step asks for a preference ("Do you like")' in msg
    assert "scale" in msg
    # A check is fine.
    ok = write(tmp_path, "  - id: q\n    type: confirm\n    text: Is the plan right?\n")
    assert validate_script_file(ok).steps[0].type == "confirm"


def test_branch_checks(tmp_path: Path) -> None:
    msg = error(
        tmp_path, "  - id: b\n    type: branch\n    on_answer: mood\n    cases:\n      good: []\n"
    )
    assert '"mood", which is not an earlier step' in msg
    body = (
        "  - id: mood\n    type: scale\n    scale: feeling\n    text: How are you?\n"
        "  - id: b\n    type: branch\n    on_answer: mood\n    cases:\n"
        "      happy:\n        - type: say\n          text: Good.\n"
    )
    msg = error(tmp_path, body)
    assert 'step 2 "b": has a case "happy" but "mood" can only be: good, okay, not_good.' in msg
    # yes / no cases survive YAML 1.1 turning them into booleans.
    body = (
        "  - id: sure\n    type: confirm\n    text: Is that right?\n"
        "  - id: b\n    type: branch\n    on_answer: sure\n    cases:\n"
        "      yes:\n        - type: say\n          text: Good.\n"
        "      no:\n        - type: say\n          text: Okay.\n"
    )
    branch = validate_script_file(write(tmp_path, body)).steps[1]
    assert isinstance(branch, Branch) and set(branch.cases) == {"yes", "no"}


def test_scale_sets_must_fit_where_it_is(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        "  - id: r\n    type: scale\n    scale: like\n    sets: rating\n    text: Rate it.\n",
    )
    assert "must be inside a review of ideas" in msg
    msg = error(
        tmp_path,
        "  - id: r\n    type: scale\n    scale: like\n    sets: mood\n    text: How?\n",
    )
    assert 'must use the scale "feeling"' in msg


def test_not_a_mapping_and_empty_steps(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="must be a set of fields"):
        parse_script("- just\n- a list\n", "list.yaml")
    with pytest.raises(ScriptError, match='"steps" must be a list with at least one step'):
        parse_script("name: x\ntitle: X\nkind: group\nsteps: []\n", "empty.yaml")


def test_script_errors_are_assistant_errors_and_value_errors() -> None:
    with pytest.raises(AssistantError):
        parse_script("name: [", "bad.yaml")
    with pytest.raises(ValueError):
        parse_script("name: [", "bad.yaml")
