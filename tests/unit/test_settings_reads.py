"""Settings are read once, typed, in ``casework.settings``: no other module indexes the Flask config
by a CASEWORK_* string (a typo there is a KeyError at run time, or a silent None with ``.get``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "casework"
# Where the Flask config may be read by CASEWORK_* name: the typed settings themselves (the app
# factory reads them from there too; config/settings.py, outside casework/, loads the environment).
ALLOWED = {"casework.settings"}
LOOKUPS = {"get", "pop", "setdefault"}


def _is_config(node: ast.expr) -> bool:
    """``config``, ``app.config``, ``current_app.config``, ``self.app.config``, ..."""
    return (isinstance(node, ast.Name) and node.id == "config") or (
        isinstance(node, ast.Attribute) and node.attr == "config"
    )


def _casework_key(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("CASEWORK_"):
        return node.value
    return None


def config_reads(source: str) -> list[tuple[int, str]]:
    """(line, key) of every CASEWORK_* key the source looks up in a Flask config."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and _is_config(node.value):
            key = _casework_key(node.slice)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOOKUPS
            and _is_config(node.func.value)
            and node.args
        ):
            key = _casework_key(node.args[0])
        else:
            continue
        if key:
            found.append((node.lineno, key))
    return found


def test_the_scan_finds_every_way_of_reading_the_config_by_name():
    source = (
        'a = current_app.config["CASEWORK_A"]\n'
        'b = app.config.get("CASEWORK_B", 1)\n'
        'config = current_app.config\nc = config["CASEWORK_C"]\n'
        'self.app.config["CASEWORK_D"] = True\n'
        'e = os.environ.get("CASEWORK_E")\n'  # the environment is not the config
        'f = current_app.config["SQLALCHEMY_DATABASE_URI"]\n'  # Flask's own keys stay Flask's
    )
    assert config_reads(source) == [(1, "CASEWORK_A"), (2, "CASEWORK_B"), (4, "CASEWORK_C"), (5, "CASEWORK_D")]


def test_no_module_reads_the_config_by_a_casework_name():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module in ALLOWED:
            continue
        offenders += [f"{module}:{line} {key}" for line, key in config_reads(path.read_text())]
    assert not offenders, "read these through casework.settings.settings(): " + ", ".join(offenders)
