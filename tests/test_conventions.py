"""Rules that keep the architecture honest, checked on the source itself.

`relay.core` stays pure (stdlib, bs4, twitter-text); the service imports no adapter and
no settings; only `relay.wiring` builds adapters. Plus ruff and mypy --strict, so the
one test command covers the style rules too.
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
CORE_ALLOWED = {"bs4", "twitter_text", "relay.core", "relay.errors"}
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
    assert not bad, f"{path.name} imports {sorted(bad)}; relay.core may use only the stdlib, bs4 and twitter_text"


def test_service_imports_no_adapter_and_no_settings() -> None:
    bad = {n for n in imports_of(PACKAGE / "service.py") if n.startswith(("relay.adapters", "relay.config.settings"))}
    assert not bad, f"service.py imports {sorted(bad)}"


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
