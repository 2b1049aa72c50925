"""The app installs as a package: a wheel with its templates, static files, translations and
migrations, and the runtime requirements as its dependencies."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_what_the_app_reads_from_disk(tmp_path: Path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = tmp_path.glob("casework-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "casework/__init__.py",
        "casework/workbench/templates/workbench/base.html",
        "casework/static/workbench/workbench.css",
        "casework/static/vendor/htmx.min.js",
        "casework/translations/uk/LC_MESSAGES/messages.mo",
        "config/settings.py",
        "migrations/env.py",
        "migrations/alembic.ini",
        "migrations/frozen/roles.py",
    ):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "bench/", "node_modules/")) for name in names)
    metadata = next(zipfile.Path(wheel, name).read_text() for name in names if name.endswith("/METADATA"))
    wanted = {
        Requirement(line.split("#")[0])
        for line in (ROOT / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    declared = {
        Requirement(line.removeprefix("Requires-Dist: "))
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    }
    assert {(r.name.lower(), r.specifier) for r in declared} == {(r.name.lower(), r.specifier) for r in wanted}
