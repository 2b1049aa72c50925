"""``pip install ./verifier`` in a fresh virtualenv gives a ``casework-verify`` that needs nothing of
the server: no Flask, no SQLAlchemy, no casework, not even orjson, and it verifies what the app
makes (a bundle, zipped and unzipped, and an export of the log).

Installs from PyPI (cryptography, setuptools to build; the pip cache is used), so it is slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bundles import disclose, fetch_bundle, log_vkey, unzip
from tests.conftest import World
from tests.helpers import publish

REPO = Path(__file__).resolve().parents[1]


def _run(command: list[str], cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """Outside the repository and without PYTHONPATH, so nothing of the server is importable by accident."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    created = _run([sys.executable, "-m", "venv", str(venv)], venv.parent)
    assert created.returncode == 0, created.stderr
    installed = _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(REPO / "verifier"),
        ],
        venv.parent,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


@pytest.mark.slow
def test_the_installed_verifier_needs_nothing_of_the_server(fresh_venv: Path) -> None:
    python = str(fresh_venv / "bin" / "python")
    for module in ("flask", "sqlalchemy", "casework", "orjson"):
        result = _run([python, "-c", f"import {module}"], fresh_venv.parent)
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, (module, result.stderr)
    requires = _run(
        [python, "-c", "import importlib.metadata as m; print(m.requires('casework-verify'))"], fresh_venv.parent
    )
    assert requires.stdout.strip() == "['cryptography']", requires.stdout + requires.stderr
    version = _run([str(fresh_venv / "bin" / "casework-verify"), "--help"], fresh_venv.parent)
    assert version.returncode == 0 and "bundle" in version.stdout and "log" in version.stdout


@pytest.mark.slow
def test_it_verifies_what_the_app_makes_zipped_unzipped_and_exported(
    fresh_venv: Path, app, world: World, legal2, backend: dict[str, str], tmp_path: Path
) -> None:
    if backend["name"] != "sqlite":
        pytest.skip("the verifier reads files, not the database: one backend shows it")
    command = str(fresh_venv / "bin" / "casework-verify")
    disclosed = disclose(world.people, world.case_id, world.incident_id, world.witness_id, world.interview_id)
    bundle = fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "bundle.zip")
    vkey = str(log_vkey(app, tmp_path / "log.vkey"))
    folder = unzip(bundle, tmp_path / "unzipped")
    for path in (bundle, folder, folder.parent):
        result = _run([command, "bundle", str(path), "--vkey", vkey], tmp_path)
        assert result.returncode == 0 and result.stdout.startswith("OK: "), result.stdout + result.stderr
        assert "log key: trusted, given with --vkey" in result.stdout
    facts = json.loads(_run([command, "bundle", str(folder), "--json"], tmp_path).stdout)
    assert facts["ok"] and facts["self_asserted"] and facts["items"] == 3

    # A defence bundle (approved by a second lawyer): staff pseudonymous, entries by hash alone.
    pending = disclosed.legal.post(
        f"/api/v1/cases/{world.case_id}/disclosures",
        {
            "recipient": {"name": "Defence counsel", "organisation": "Chambers", "kind": "defence"},
            "purpose": "Rule 77",
            "items": [{"kind": "incident", "incident_id": world.incident_id}],
        },
    )
    assert pending.status_code == 202, pending.get_data(as_text=True)
    assert legal2.post(f"/api/v1/disclosures/{pending.get_json()['id']}/approve").status_code == 200
    defence = fetch_bundle(disclosed.legal, pending.get_json()["id"], tmp_path / "defence.zip")
    result = _run([command, "bundle", str(defence), "--vkey", vkey], tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("OK: "), result.stdout + result.stderr

    publish(app)
    export = tmp_path / "export"
    exported = app.test_cli_runner().invoke(args=["custody", "export", str(export)])
    assert exported.exit_code == 0, exported.output
    result = _run(
        [
            command,
            "log",
            str(export / "log.jsonl"),
            "--checkpoint",
            str(export / "checkpoint.txt"),
            "--vkey",
            str(export / "log.vkey"),
        ],
        tmp_path,
    )
    assert result.returncode == 0 and result.stdout.startswith("OK: "), result.stdout + result.stderr
