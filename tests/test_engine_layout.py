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
