"""The shape of the code, checked: imports point down, and services know nothing of HTTP."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "casework"
# What HTTP looks like from Python: a service or crypto module importing any of these is a leak.
HTTP_MACHINERY = {
    ("flask", "request"),
    ("flask", "Response"),
    ("flask", "session"),
    ("flask", "make_response"),
    ("flask", "abort"),
    ("flask", "jsonify"),
    ("flask_login", "current_user"),
    ("flask_login", "login_user"),
}
HTTP_MODULES = {"werkzeug.exceptions", "casework.problems", "casework.http"}
# Domains whose rules are split by concern instead of one service.py: these modules are services too.
RULE_MODULES = {
    f"casework.exhibits.{name}"
    for name in ("uploads", "chunks", "completion", "reads", "content", "sealed", "disposal", "types")
}


def _holds_rules(name: str) -> bool:
    return name.endswith(".service") or name in RULE_MODULES


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def _imports(tree: ast.Module) -> list[tuple[str, str | None]]:
    """(module, name) for every import anywhere in the file, functions included."""
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.module, alias.name) for alias in node.names]
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_import_cycles_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for name, tree in _modules().items():
        if name == "casework":
            continue  # the app factory wires every package together; nothing imports it back
        for module, imported in _imports(tree):
            if module == "casework" and imported:
                module = f"casework.{imported}"
            if module.startswith("casework.") and _package(module) != _package(name):
                graph[_package(name)].add(_package(module))
    assert "casework.access" in graph["casework.cases"]  # the graph is real, so "no cycle" means something
    cycles = []
    for start in list(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(path)
                elif nxt not in path and len(path) < 12:
                    stack.append((nxt, [*path, nxt]))
    assert not cycles, "package import cycles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles[:5])


def test_keys_and_crypto_know_nothing_of_the_log():
    """The log signs with a key of the keyring (the app factory hands the keyring to the signer);
    the keyring and sealing never reach up into custody or access. ``keys.cli`` is an operator
    command on top, recording through the door like any other."""
    offenders = [
        f"{name} imports {module}"
        for name, tree in _modules().items()
        if name in ("casework.keys", "casework.keys.rotation") or name.startswith("casework.crypto")
        for module, _ in _imports(tree)
        if module.startswith(("casework.custody", "casework.access"))
    ]
    assert not offenders, offenders


def test_services_and_crypto_know_no_http():
    assert not RULE_MODULES - set(_modules()), "a rules module was renamed: name it here"
    offenders = []
    for name, tree in _modules().items():
        if not (
            _holds_rules(name)
            or name.startswith(("casework.crypto", "casework.custody"))
            or name in ("casework.keys", "casework.errors")
        ):
            continue
        for module, imported in _imports(tree):
            if module in HTTP_MODULES or (module, imported) in HTTP_MACHINERY:
                offenders.append(f"{name} imports {module}.{imported}")
    assert not offenders, offenders


def test_status_codes_live_only_at_the_edge():
    """No service raises or returns an HTTP status: they raise domain errors."""
    offenders = []
    for name, tree in _modules().items():
        if not _holds_rules(name):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, int) and 400 <= node.value <= 599:
                offenders.append(f"{name}:{node.lineno} {node.value}")
    assert not offenders, offenders


def test_only_the_access_package_records_custody_events():
    offenders = [
        name
        for name, tree in _modules().items()
        if not name.startswith(("casework.access", "casework.custody"))
        and any(
            module == "casework.custody.recorder" or (module == "casework.custody" and imported == "recorder")
            for module, imported in _imports(tree)
        )
    ]
    assert not offenders, offenders


VERIFIER = Path(__file__).resolve().parents[2] / "verifier" / "casework_verify"


def test_the_verifier_imports_only_the_standard_library_and_cryptography():
    """``pip install ./verifier`` brings cryptography alone; orjson is optional and guarded
    (tests/test_verifier_package.py proves it in a fresh virtualenv, this says where it breaks)."""
    allowed = set(sys.stdlib_module_names) | {"cryptography", "casework_verify", "orjson"}
    offenders, orjson_users = [], []
    for path in sorted(VERIFIER.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for module, _ in _imports(tree):
            top = module.split(".")[0]
            if top not in allowed:
                offenders.append(f"{path.name} imports {module}")
            if top == "orjson":
                orjson_users.append(path.name)
    assert not offenders, offenders
    assert orjson_users == ["fastjson.py"], "orjson is imported in one place, where its absence is handled"
