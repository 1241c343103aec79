"""The engine is pure: it imports nothing from the API, the store, integrations, services or the
dev stack (it may use the language package, bounds and time formatting)."""

from __future__ import annotations

import ast
from pathlib import Path

import stepline.engine

ENGINE = Path(stepline.engine.__file__).parent
FORBIDDEN = (
    "stepline.api",
    "stepline.store",
    "stepline.integrations",
    "stepline.service",
    "stepline.dev",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_engine_module_imports_the_layers_around_it() -> None:
    offending = {
        f"{path.name}: {name}"
        for path in ENGINE.glob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN)
    }
    assert offending == set()
