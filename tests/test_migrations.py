"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from casework.db import db


def test_models_and_migrations_do_not_drift(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], diff


def _imported_modules(tree):
    """Every module a Python file imports: import statements, __import__ and importlib.import_module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                yield node.args[0].value


def test_migrations_never_import_the_application():
    """Migrations are frozen (issue #25): what they run is written under migrations/, never imported
    from the app (casework, casework_verify, casework_client), whose later changes would change them."""
    root = Path(__file__).resolve().parent.parent / "migrations"
    files = sorted(root.rglob("*.py"))
    assert len([f for f in files if f.parent.name == "versions"]) >= 18
    offending = [
        f"{path.relative_to(root)}: {module}"
        for path in files
        for module in _imported_modules(ast.parse(path.read_text(), filename=str(path)))
        if module.split(".")[0].startswith("casework")
    ]
    assert offending == []
    # New revisions start from the template: it must not import the app either.
    template = (root / "script.py.mako").read_text()
    assert not [line for line in template.splitlines() if "import casework" in line or "from casework" in line]
