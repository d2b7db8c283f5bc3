"""The layering, checked on the import graph (grimp, which counts imports inside functions).

Layers, top to bottom; a module may import from its own layer or below, never above::

    command line   assistant.cli (and assistant.cli.*), assistant.__main__, assistant.*.cli,
                   assistant.*.*_cli
    app            assistant.app, assistant.service, assistant.check
    stages         audio, stt, voice, buttons, dialogue, records, sync, hub, models, ...
    core           assistant.core, assistant.errors, assistant.faults, assistant.words

and, across all of them: no import cycle among assistant's modules; the core and the dialogue
engine import no stage that touches the world (audio, recognisers, voices, buttons, the record
store, sync, the hub), nor yaml or numpy. Imports under ``if TYPE_CHECKING:`` are left out
(they never run); imports inside functions count.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parents[1]

CORE = ("assistant.core", "assistant.errors", "assistant.faults", "assistant.words")
APP = ("assistant.app", "assistant.service", "assistant.check")
WORLD = (
    "assistant.audio",
    "assistant.stt",
    "assistant.voice",
    "assistant.buttons",
    "assistant.records.store",
    "assistant.records.db",
    "assistant.records.people",
    "assistant.records.sessions",
    "assistant.records.clips",
    "assistant.records.jobs",
    "assistant.records.retention",
    "assistant.records.audit",
    "assistant.sync",
    "assistant.hub",
)
"""What the core and the engine must not import (directly or through anything else)."""
EXTERNAL_FORBIDDEN = ("numpy", "yaml")


def within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer(module: str) -> int:
    """0 command line, 1 app, 2 stages, 3 core."""
    last = module.rsplit(".", 1)[-1]
    if (
        within(module, ("assistant.cli", "assistant.__main__"))
        or last in ("cli",)
        or (last.endswith("_cli"))
    ):
        return 0
    if within(module, APP):
        return 1
    if within(module, CORE):
        return 3
    return 2


LAYER_NAMES = ("command line", "app", "stages", "core")


def build(package: str, external: bool = False) -> grimp.ImportGraph:
    return grimp.build_graph(
        package,
        include_external_packages=external,
        exclude_type_checking_imports=True,
        cache_dir=None,
    )


def cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every group of modules that import each other in a ring (Tarjan's strongly connected
    components of more than one module, or a module importing itself)."""
    modules = sorted(m for m in graph.modules if within(m, (package,)))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def edges(m: str) -> list[str]:
        return sorted(
            n for n in graph.find_modules_directly_imported_by(m) if within(n, (package,))
        )

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(m: str) -> None:
        nonlocal counter
        index[m] = low[m] = counter
        counter += 1
        stack.append(m)
        on_stack.add(m)
        for n in edges(m):
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            group = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                group.append(n)
                if n == m:
                    break
            if len(group) > 1 or m in edges(m):
                found.append(sorted(group))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def reachable(graph: grimp.ImportGraph, start: str) -> dict[str, str]:
    """Every module *start* imports, directly or not -> the module that imports it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        m = todo.pop()
        for n in graph.find_modules_directly_imported_by(m):
            if n not in seen and n != start:
                seen[n] = m
                todo.append(n)
    return seen


def chain(seen: dict[str, str], start: str, end: str) -> str:
    path = [end]
    while path[-1] != start:
        path.append(seen[path[-1]])
    return " -> ".join(reversed(path))


# ---------------------------------------------------------------- the tool sees what we need


@pytest.fixture
def fixture_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A tiny package: a cycle made only by an import inside a function, and an import
    under TYPE_CHECKING (which must not count)."""
    pkg = tmp_path / "layerfix"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "top.py").write_text("import layerfix.bottom\n")
    (pkg / "bottom.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                import layerfix.typed

            def late():
                from layerfix import top  # only inside a function

                return top
            """
        )
    )
    (pkg / "typed.py").write_text("import layerfix.bottom\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "layerfix"


def test_imports_inside_functions_are_seen_and_make_a_cycle(fixture_package: str) -> None:
    graph = build(fixture_package)
    assert "layerfix.top" in graph.find_modules_directly_imported_by("layerfix.bottom")
    assert cycles(graph, fixture_package) == [["layerfix.bottom", "layerfix.top"]]


def test_type_checking_imports_are_left_out(fixture_package: str) -> None:
    graph = build(fixture_package)
    assert "layerfix.typed" not in graph.find_modules_directly_imported_by("layerfix.bottom")


# ---------------------------------------------------------------- assistant's own graph


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:  # pragma: no cover - pytest's rootdir is on the path
        sys.path.insert(0, str(ROOT))
    return build("assistant", external=True)


def test_no_import_cycle(graph: grimp.ImportGraph) -> None:
    found = cycles(graph, "assistant")
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_layers_only_import_downwards(graph: grimp.ImportGraph) -> None:
    wrong = []
    for m in sorted(graph.modules):
        if not within(m, ("assistant",)) or m == "assistant":
            continue
        for n in sorted(graph.find_modules_directly_imported_by(m)):
            if within(n, ("assistant",)) and n != "assistant" and layer(n) < layer(m):
                wrong.append(f"{m} ({LAYER_NAMES[layer(m)]}) imports {n} ({LAYER_NAMES[layer(n)]})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "start",
    ["assistant.core", "assistant.core.clock", "assistant.core.audio", "assistant.core.ids"],
)
def test_core_touches_nothing_of_the_world(graph: grimp.ImportGraph, start: str) -> None:
    seen = reachable(graph, start)
    bad = [chain(seen, start, n) for n in seen if within(n, WORLD + EXTERNAL_FORBIDDEN)]
    assert not bad, "\n".join(bad)


def test_the_engine_touches_nothing_of_the_world(graph: grimp.ImportGraph) -> None:
    start = "assistant.dialogue.engine"
    seen = reachable(graph, start)
    bad = [chain(seen, start, n) for n in seen if within(n, WORLD + EXTERNAL_FORBIDDEN)]
    assert not bad, "\n".join(sorted(bad))


def test_the_device_builder_is_the_one_that_opens_devices(graph: grimp.ImportGraph) -> None:
    """``run``, ``service``, ``check``, ``demo`` and ``simulate`` reach the device builder;
    no command opens the sound devices or the buttons itself."""
    for user in ("assistant.dialogue.cli", "assistant.service", "assistant.check"):
        assert "assistant.app" in graph.find_modules_directly_imported_by(user), user
    for user in ("assistant.dialogue.cli", "assistant.service", "assistant.check"):
        direct = graph.find_modules_directly_imported_by(user)
        assert not direct & {"assistant.audio", "assistant.buttons.select"}, user


def test_no_class_over_500_lines() -> None:
    import ast

    big = []
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 500:
                    big.append(f"{path.relative_to(ROOT)}: {node.name} is {lines} lines")
    assert not big, "\n".join(big)
