"""Dependency direction: flows -> tasks -> songforge; the library never imports Prefect or MLflow."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(folder: str):
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                yield path, [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, [node.module]


@pytest.mark.parametrize("folder, forbidden", [
    ("songforge", ("prefect", "mlflow", "tasks", "flows")),
    ("tasks", ("flows",)),
])
def test_dependency_direction(folder, forbidden):
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for path, names in imported_modules(folder) for name in names
                 if name.split(".")[0] in forbidden]
    assert not offenders, offenders


def test_only_track_imports_mlflow():
    users = {path.name for folder in ("tasks", "flows") for path, names in imported_modules(folder)
             if any(n.split(".")[0] == "mlflow" for n in names)}
    assert users <= {"track.py"}, users
