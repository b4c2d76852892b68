"""The package's architecture, checked: the layer contract in pyproject.toml (import-linter), no import
cycle between any two modules (imports inside functions count), and the size of the top level."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import colorizekit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(colorizekit.__file__).resolve().parent


def test_the_layer_contract_holds():
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install 'colorizekit[test]')")
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    out = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "broken" in out.stdout and "0 broken" in out.stdout


def _cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    grimp = pytest.importorskip("grimp", reason="grimp (import-linter's) is not installed")
    graph = grimp.build_graph("colorizekit", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_top_level_holds_at_most_15_entries():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= 15, entries
