"""Rules that keep the architecture honest, checked on the source itself.

`relay.core` stays pure (stdlib, bs4, twitter-text); the service imports no adapter and
no settings; only `relay.wiring` builds adapters; no import circle anywhere in `relay/`;
only a handful of modules at the top of the package. Plus ruff and mypy --strict, so
the one test command covers the style rules too.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "relay"
CORE_ALLOWED = {"bs4", "twitter_text", "relay.core", "relay.errors", "ftfy", "regex"}
# ftfy: mojibake repair is text cleaning, pure like bs4 (no I/O), so it belongs in core.
# regex: grapheme clusters (\X) for Bluesky's 300-grapheme limit; pure text matching, no I/O.
STDLIB = set(sys.stdlib_module_names)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def allowed(name: str, prefixes: set[str]) -> bool:
    return name.split(".")[0] in STDLIB or any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_is_pure(path: Path) -> None:
    bad = {name for name in imports_of(path) if not allowed(name, CORE_ALLOWED)}
    assert not bad, (f"{path.name} imports {sorted(bad)}; relay.core may use only the stdlib, bs4, ftfy, regex "
                     "and twitter_text")


@pytest.mark.parametrize("name", ["service.py", "outbox.py"])
def test_the_service_and_outbox_import_no_adapter_and_no_settings(name: str) -> None:
    bad = {n for n in imports_of(PACKAGE / "pipeline" / name) if n.startswith(("relay.adapters", "relay.config"))}
    assert not bad, f"pipeline/{name} imports {sorted(bad)}"


def test_only_wiring_builds_the_x_publisher() -> None:
    users = [p.name for p in PACKAGE.rglob("*.py") if "relay.adapters.x" in imports_of(p)]
    assert set(users) <= {"wiring.py"}, users


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip(f"{name} is not installed in this environment (pip install -e '.[test]')")
    return found


def test_ruff_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "relay", "tests", "bench"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    result = subprocess.run([_tool("mypy"), "--strict", "relay"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the house: no import circle, few modules at the top ----------------------------------

TOP_LEVEL_ALLOWED = {"__init__.py", "__main__.py", "errors.py", "logs.py", "wiring.py"}
"""The only modules that may sit at the top of ``relay/``: everything else belongs to a package."""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The dotted names a module imports, relative imports resolved, functions' bodies included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports.

    Importing ``relay.a.b`` also runs ``relay/a/__init__.py``, so that package is an edge
    too, unless the importer lives inside it (Python has initialised it already then).
    """
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for target in _targets(name, path, modules):
            if not (target == top or target.startswith(top + ".")):
                continue
            while target and target not in modules:
                target = target.rpartition(".")[0]
            while target:
                if not (name == target or name.startswith(target + ".")):
                    edges.add(target)
                target = target.rpartition(".")[0]
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_relay_has_no_import_cycle() -> None:
    cycles = import_cycles(import_graph())
    assert not cycles, "modules that import each other in a circle (move the shared part below them): " + "; ".join(
        " <-> ".join(group) for group in cycles)


def test_the_cycle_check_finds_circles_through_functions_and_package_inits(tmp_path: Path) -> None:
    """The check itself can fail: the two circles relay had (a command module importing the CLI back
    inside a function; a package ``__init__`` importing the settings that import the package)."""
    pkg = tmp_path / "relay"
    (pkg / "config").mkdir(parents=True)
    (pkg / "hooks").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "config" / "__init__.py").write_text("")
    (pkg / "config" / "settings.py").write_text("from relay.hooks.signatures import key\n")
    (pkg / "hooks" / "__init__.py").write_text("from relay.config.settings import Settings\n")
    (pkg / "hooks" / "signatures.py").write_text("def key(): ...\n")
    (pkg / "cli.py").write_text("def main():\n    from relay.feeds_cmd import feeds\n")
    (pkg / "feeds_cmd.py").write_text("def feeds():\n    from relay.cli import main\n")
    cycles = import_cycles(import_graph(pkg))
    assert ["relay.config.settings", "relay.hooks"] in cycles
    assert ["relay.cli", "relay.feeds_cmd"] in cycles


def test_only_a_few_modules_sit_at_the_top_of_the_package() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in TOP_LEVEL_ALLOWED)
    assert not loose, (
        f"{loose} sit at the top of relay/: put each in the package it belongs to "
        "(cli/, config/, pipeline/, core/, adapters/, store/, routes/...) and update the README's layout section"
    )


def test_package_inits_import_nothing_of_relay() -> None:
    """An ``__init__`` runs on every import of its package: imports there are where circles hide."""
    heavy = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("__init__.py")
                   if any(n == "relay" or n.startswith("relay.") for n in imports_of(p)))
    assert not heavy, f"{heavy} import relay modules; move that code into a module of the package"
