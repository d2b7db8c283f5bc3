"""The engine's shape: a pure kernel plus registered handlers, over a core that imports no stage."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import assistant
from assistant.dialogue import schema as S
from assistant.dialogue.engine import HANDLERS, handles

ROOT = Path(assistant.__file__).parent

FORBIDDEN = (
    "yaml",
    "numpy",
    "tomllib",
    "assistant.audio",
    "assistant.stt",
    "assistant.voice",
    "assistant.buttons",
    "assistant.records.store",
    "assistant.sync",
    "assistant.hub",
    "assistant.config",
    "assistant.dialogue.script",
    "assistant.dialogue.shell",
)


def _loaded_by(module: str) -> list[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return list(json.loads(out))


@pytest.mark.parametrize("module", ["assistant.dialogue.engine", "assistant.core"])
def test_importing_the_engine_or_core_loads_no_stage(module: str) -> None:
    loaded = _loaded_by(module)
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_core_and_engine_sources_import_no_stage() -> None:
    """Imports inside functions and under TYPE_CHECKING count too."""
    allowed_typing_only = {"numpy", "numpy.typing"}  # core.audio names the array type only
    for folder in (ROOT / "core", ROOT / "dialogue" / "engine"):
        for path in folder.glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    if name in allowed_typing_only and path.name == "audio.py":
                        continue
                    hit = [f for f in FORBIDDEN if name == f or name.startswith(f + ".")]
                    assert not hit, f"{path.relative_to(ROOT)} imports {name}"


def test_every_step_type_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(S.STEP_TYPES)


def test_a_second_handler_for_a_step_type_is_refused() -> None:
    with pytest.raises(ValueError, match="already has a handler"):

        @handles("ask")
        def another_ask(engine, step, ctx):  # type: ignore[no-untyped-def]
            yield

    with pytest.raises(ValueError, match="not a step type"):

        @handles("no_such_step")
        def nothing(engine, step, ctx):  # type: ignore[no-untyped-def]
            yield


def _class_lengths(folder: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                name = f"{path.relative_to(ROOT)}:{node.name}"
                out[name] = node.end_lineno - node.lineno + 1
    return out


@pytest.mark.parametrize("folder", ["core", "dialogue"])
def test_no_class_over_500_lines(folder: str) -> None:
    lengths = _class_lengths(ROOT / folder)
    assert lengths  # the walk found classes
    assert {name: n for name, n in lengths.items() if n > 500} == {}


def test_the_kernel_names_no_step_kind() -> None:
    """Adding a step kind is a handler and a registration, never an edit of the kernel."""
    source = (ROOT / "dialogue" / "engine" / "kernel.py").read_text(encoding="utf-8")
    body = source.split('"""', 2)[2]  # after the module docstring (which shows an example)
    used = {
        node.attr
        for node in ast.walk(ast.parse(body))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "S"
    }
    step_models = {model.__name__ for model in S.STEP_TYPES.values()}
    # the roll call decides only whether the roster is copied in at the start
    assert used & step_models <= {"WhoIsHere"}


HANDLER_MODULES = ("flow", "questions", "roster", "planning", "agreement", "render")
MUTATORS = {"append", "extend", "insert", "update", "pop", "remove", "clear", "setdefault"}


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_handlers_change_the_record_only_through_the_log(module: str) -> None:
    """No attribute or item assignment and no in-place change of anything but a local list:
    a record change in a handler is a call of a SessionLog method."""
    path = ROOT / "dialogue" / "engine" / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute | ast.Subscript):
                # the one exception: who is being asked (the context, not the record)
                assert ast.unparse(target) == "ctx.person", f"{module}: {ast.unparse(node)}"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATORS
        ):
            assert isinstance(node.func.value, ast.Name), f"{module}: {ast.unparse(node)}"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("assistant.dialogue.events", "assistant.core.events"),
        ("assistant.records.model", "assistant.core.record"),
        ("assistant.words", "assistant.core.words"),
        ("assistant.stt.base", "assistant.core.speech"),
        ("assistant.config", "assistant.core.settings"),
        ("assistant.dialogue.script", "assistant.dialogue.schema"),
    ],
)
def test_the_old_import_paths_give_the_same_objects(old: str, new: str) -> None:
    import importlib

    before, after = importlib.import_module(old), importlib.import_module(new)
    names = [n for n in getattr(after, "__all__", dir(after)) if not n.startswith("__")]
    shared = [n for n in names if hasattr(before, n)]
    assert shared
    assert [n for n in shared if getattr(before, n) is not getattr(after, n)] == []
    if old != "assistant.config" and old != "assistant.stt.base":
        assert [n for n in names if not hasattr(before, n)] == []


ALLOWED = {
    "core": ("assistant.core",),
    "dialogue/engine": (
        "assistant.core",
        "assistant.dialogue.engine",
        "assistant.dialogue.prompts",
        "assistant.dialogue.schema",
    ),
}


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_core_and_engine_import_only_from_below(folder: str) -> None:
    """An allow-list: core imports only core; the engine only core, itself, prompts and the
    script schema (never an old re-export path, which would be a stage)."""
    allowed = ALLOWED[folder]
    for path in (ROOT / folder).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
                if node.module == "assistant.dialogue":
                    names = [f"assistant.dialogue.{a.name}" for a in node.names]
            for name in names:
                if name.startswith("assistant"):
                    ok = any(name == a or name.startswith(a + ".") for a in allowed)
                    assert ok, f"{path.relative_to(ROOT)} imports {name}"
