"""The packages depend one way, from the top down: assistant → actions → storage → prompts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each package and the project packages it must never import.
FORBIDDEN = {
    "actions": {"assistant"},
    "storage": {"assistant", "actions"},
    "prompts": {"assistant", "actions", "storage"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports, lazily inside functions included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_lower_package_never_imports_one_above_it(package: str) -> None:
    reaching_up = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {module: names for module, names in reaching_up.items() if names} == {}
