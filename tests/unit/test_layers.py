"""Import direction (issue 22): layers point one way, and no two modules import each other.

translate <- request data <- runtime <- answer and boundary <- proxy <- provider, over a base of
plain modules (errors, settings, the account's environment, the SDK's private surface). The graph
is read from the source with an AST walk (``TYPE_CHECKING`` imports included: they are
dependencies all the same); no exception is listed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "litellm_claude_code"

# Lowest first: a module may import its own layer and the layers below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "litellm_claude_code.errors",
        "litellm_claude_code.settings",
        "litellm_claude_code.environment",
        "litellm_claude_code.sdk_seam",
        "litellm_claude_code.counters",
        "litellm_claude_code.sync",
    ),
    ("litellm_claude_code.translate",),
    ("litellm_claude_code.request", "litellm_claude_code.quota"),
    ("litellm_claude_code.runtime",),
    ("litellm_claude_code.answer", "litellm_claude_code.boundary"),
    ("litellm_claude_code.proxy",),
    ("claude_code_provider", "custom_handler"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    """The project's modules (packages' ``__init__`` files are empty, and no module's layer)."""
    files = [*(ROOT / PACKAGE).rglob("*.py"), ROOT / "claude_code_provider.py", ROOT / "custom_handler.py"]
    assert all(
        not path.read_text().strip() for path in files if path.name == "__init__.py" and path.parent.name != PACKAGE
    )
    return {module_name(path): path for path in files if path.name != "__init__.py"}


def imports(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    """The project's modules ``name`` imports (``from . import x`` resolved to the module x when it is one)."""
    found: set[str] = set()
    here = name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here[: len(here) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {module for module in found if module in known}


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    return {name: imports(name, ast.parse(path.read_text()), known) - {name} for name, path in modules.items()}


def layer_of(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in layer):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer by a lower one."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles (two modules importing each other, or longer), each once."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(edges.get(module, ())):
            if target in path:
                cycle = path[path.index(target) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append([*cycle, target])
            elif len(path) < len(edges):
                visit(target, [*path, target])

    for module in sorted(edges):
        visit(module, [module])
    return found


def test_every_module_is_in_a_layer() -> None:
    for module in sources():
        layer_of(module)


def test_no_layer_imports_a_higher_one() -> None:
    assert upward(graph(sources())) == []


def test_no_modules_import_each_other() -> None:
    assert cycles(graph(sources())) == []


@pytest.mark.parametrize(
    ("edges", "problem"),
    [
        ({"litellm_claude_code.request": {"litellm_claude_code.runtime.options"}}, "upward"),
        ({"litellm_claude_code.translate.stream": {"litellm_claude_code.proxy.quota"}}, "upward"),
        (
            {
                "litellm_claude_code.runtime.live": {"litellm_claude_code.runtime.process"},
                "litellm_claude_code.runtime.process": {"litellm_claude_code.runtime.live"},
            },
            "cycle",
        ),
    ],
)
def test_the_checks_catch_what_they_are_for(edges: dict[str, set[str]], problem: str) -> None:
    assert bool(upward(edges)) is (problem == "upward")
    assert bool(cycles(edges)) is (problem == "cycle")


def test_the_walk_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    source = "from ..request import ChatRequest\nfrom . import keys\nimport litellm_claude_code.quota\n"
    known = {"litellm_claude_code.request", "litellm_claude_code.runtime.keys", "litellm_claude_code.quota"}
    found = imports("litellm_claude_code.runtime.live", ast.parse(source), known)
    assert found >= known
