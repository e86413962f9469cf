"""Every third-party module the package imports is declared in pyproject.toml, and the lock pins it."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
OWN = {"claude_code_provider", "custom_handler", "litellm_claude_code"}


def _package_files() -> list[Path]:
    return [
        ROOT / "claude_code_provider.py",
        ROOT / "custom_handler.py",
        *sorted((ROOT / "litellm_claude_code").rglob("*.py")),
    ]


def imported_top_levels(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (anywhere in it, functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def third_party(names: set[str]) -> set[str]:
    return {n for n in names if n not in sys.stdlib_module_names and n not in OWN and n != "__future__"}


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project.get("dependencies", [])]
    return {canonicalize_name(r.name): r for r in requirements}


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def undeclared(modules: set[str], names: set[str]) -> set[str]:
    """The modules whose distribution is not among ``names`` (unknown modules count as undeclared)."""
    distributions = packages_distributions()
    return {m for m in modules if not {canonicalize_name(d) for d in distributions.get(m, [])} & names}


def test_every_third_party_import_is_declared() -> None:
    imports = set().union(*(imported_top_levels(path.read_text()) for path in _package_files()))
    modules = third_party(imports)
    assert {"claude_agent_sdk", "litellm", "jsonschema", "fastapi"} <= modules  # the parse sees them
    assert undeclared(modules, set(declared())) == set()


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = locked()
    for name, requirement in declared().items():
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_an_undeclared_import_is_found() -> None:
    """The check itself: a module imported but not declared is reported, by its import name."""
    modules = third_party(imported_top_levels("import yaml\nfrom jsonschema import validate\nimport os\n"))
    assert modules == {"yaml", "jsonschema"}
    assert undeclared(modules, {"jsonschema"}) == {"yaml"}
    assert undeclared({"no_such_module_anywhere"}, set(declared())) == {"no_such_module_anywhere"}
