"""The engine package imports nothing from Rasa, the channels, storage or settings."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "aftercare" / "triage"
FORBIDDEN = (
    "rasa", "rasa_sdk", "sanic", "sqlalchemy", "requests", "twilio",
    "aftercare.channels", "aftercare.console", "aftercare.sms", "aftercare.escalations",
    "aftercare.settings", "aftercare.services", "aftercare.stack", "actions",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_engine_module_imports_stay_inside_the_boundary(module: Path) -> None:
    bad = {m for m in imported_modules(module) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad, f"{module.name} imports {sorted(bad)}"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from aftercare.settings import load_settings\nimport rasa.core\n", encoding="utf-8")
    assert {"aftercare.settings", "rasa.core"} <= imported_modules(sample)
