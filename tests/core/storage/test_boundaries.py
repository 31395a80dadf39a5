"""The storage wing is a gateway below the use cases: it imports nothing else of housing_core.

Ruff's banned-api list names today's wings (it cannot ban `housing_core` whole without banning
the wing's own relative imports); this test also catches a wing added later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import housing_core.storage

WING = Path(housing_core.storage.__file__).parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(relative level, module) of every import in a file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_the_wing_imports_only_itself_and_libraries() -> None:
    offending = [
        f"{path.name}: {'.' * level}{module}"
        for path in sorted(WING.glob("*.py"))
        for level, module in imported_modules(path)
        if level > 1
        or (level == 0 and module.split(".")[0] in ("housing_core", "prefect", "mlflow"))
    ]

    assert offending == []
