"""Rows edited, deleted, inserted or reordered in the database are named by the offline verifier.

The attacker here owns the database: the append-only triggers are switched off for the rewrite
(``database_owner_writes``); tests/custody/test_append_only.py shows that nobody less can rewrite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from casework.db import db
from casework_verify import leaf
from casework_verify.log import verify_export
from tests.conftest import World
from tests.helpers import database_owner_writes, publish


def export(app, directory: Path) -> Path:
    result = app.test_cli_runner().invoke(args=["custody", "export", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


def verify(directory: Path):
    with (directory / "log.jsonl").open("rb") as lines:
        return verify_export(lines, [(directory / "checkpoint.txt").read_text()], (directory / "log.vkey").read_text())


@pytest.fixture
def signed(app, world: World, tmp_path) -> Path:
    """A log of a few dozen events with a signed checkpoint over all of them, then more events."""
    for _ in range(10):
        world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}")
    publish(app)  # the operator's cadence; exports sign nothing
    directory = export(app, tmp_path / "before")
    assert verify(directory).ok
    return directory


def sql(app, statement: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def test_untouched_log_verifies_by_cli_and_module(app, signed, tmp_path):
    directory = export(app, tmp_path / "again")
    report = verify(directory)
    # Everything but the export's own event (recorded after the checkpoint) is covered.
    assert report.ok and report.first_bad_seq is None and report.verified_size == report.entries - 2
    args = [
        str(directory / "log.jsonl"),
        "--checkpoint",
        str(directory / "checkpoint.txt"),
        "--vkey",
        str(directory / "log.vkey"),
    ]
    cli = subprocess.run([sys.executable, "-m", "casework.custody.verify", *args], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    flask_cli = app.test_cli_runner().invoke(args=["custody", "verify", *args])
    assert flask_cli.exit_code == 0, flask_cli.output


def test_altered_row_is_named(app, signed, tmp_path):
    with database_owner_writes(app):
        sql(app, "UPDATE custody_events SET actor_username = 'someone-else' WHERE seq = 7")
    report = verify(export(app, tmp_path / "after"))
    assert not report.ok and report.problem == "altered" and report.first_bad_seq == 7


def test_altered_row_with_recomputed_leaf_hash_is_still_named(app, signed, tmp_path):
    with database_owner_writes(app), app.app_context():
        from casework.custody.models import CustodyEvent

        event = db.session.get(CustodyEvent, 7)
        event.outcome = "denied"
        event.leaf_hash = leaf.leaf_hash(event.entry())
        db.session.commit()
    report = verify(export(app, tmp_path / "after"))
    assert not report.ok and report.first_bad_seq == 7


def test_deleted_row_is_named(app, signed, tmp_path):
    with database_owner_writes(app):
        sql(app, "DELETE FROM custody_events WHERE seq = 5")
    report = verify(export(app, tmp_path / "after"))
    assert not report.ok and report.problem == "deleted" and report.first_bad_seq == 5


def test_reordered_rows_are_named(app, signed, tmp_path):
    with database_owner_writes(app):
        sql(app, "UPDATE custody_events SET seq = -1 WHERE seq = 4")
        sql(app, "UPDATE custody_events SET seq = 4 WHERE seq = 5")
        sql(app, "UPDATE custody_events SET seq = 5 WHERE seq = -1")
    report = verify(export(app, tmp_path / "after"))
    assert not report.ok and report.first_bad_seq == 4


def test_inserted_row_is_named(app, signed, tmp_path):
    """Shift later rows up by one and forge an event (with a correct leaf hash of its own) at seq 6."""
    with database_owner_writes(app):
        sql(app, "UPDATE custody_events SET seq = seq + 1000000 WHERE seq >= 6")
        sql(app, "UPDATE custody_events SET seq = seq - 999999 WHERE seq >= 1000000")
    with app.app_context():
        from casework.custody.models import CustodyEvent

        template = db.session.get(CustodyEvent, 5)
        forged = CustodyEvent(**{c.key: getattr(template, c.key) for c in CustodyEvent.__table__.columns})
        forged.seq, forged.actor_username = 6, "forger"
        forged.leaf_hash = leaf.leaf_hash(forged.entry())
        db.session.add(forged)  # an INSERT: the triggers do not stop it, the verifier does
        db.session.commit()
    report = verify(export(app, tmp_path / "after"))
    assert not report.ok and report.first_bad_seq == 6


def test_rewritten_history_fails_against_the_signed_checkpoint(app, signed, tmp_path):
    """An attacker who rewrites a row, the tree and the head cannot reproduce the signed root."""
    with database_owner_writes(app), app.app_context():
        from casework.custody.models import CustodyEvent

        event = db.session.get(CustodyEvent, 3)
        event.action = "case.list"
        new_leaf = leaf.leaf_hash(event.entry())
        event.leaf_hash = new_leaf
        db.session.execute(text("UPDATE custody_nodes SET hash = :h WHERE level = 0 AND idx = 3"), {"h": new_leaf})
        db.session.commit()
    after = tmp_path / "after"
    export_without_resigning = after
    after.mkdir()
    from casework.custody.export import export_lines

    with app.app_context(), (after / "log.jsonl").open("wb") as out:
        for line in export_lines():
            out.write(line)
    report = verify_export(
        (after / "log.jsonl").open("rb"), [(signed / "checkpoint.txt").read_text()], (signed / "log.vkey").read_text()
    )
    assert not report.ok and report.problem == "root_mismatch"
    assert report.bad_range is not None and report.bad_range[0] <= 3 <= report.bad_range[1]
    assert export_without_resigning.exists()


def test_truncated_export_and_wrong_key_fail(app, signed, tmp_path):
    lines = (signed / "log.jsonl").read_bytes().splitlines(keepends=True)
    report = verify_export(lines[:-3], [(signed / "checkpoint.txt").read_text()], (signed / "log.vkey").read_text())
    assert not report.ok and report.problem == "truncated"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from casework_verify.note import vkey_string

    stranger = vkey_string("casework.local/custody", Ed25519PrivateKey.generate().public_key())
    report = verify_export(lines, [(signed / "checkpoint.txt").read_text()], stranger)
    assert not report.ok and report.problem == "checkpoint"
