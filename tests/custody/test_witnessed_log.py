"""Trust that survives a hostile database: the signer's own state, witnesses, a quorum offline.

The attacker here can write anything in the database (as its owner, triggers off) but holds
no key. Each attack of the issue is replayed against the real server and publication CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from casework.custody import log, proofs
from casework.custody.log import NewEvent
from casework.custody.models import CustodyCheckpoint
from casework.custody.signer import signer
from casework.db import db
from casework_verify import cosignature, merkle, note
from casework_verify.cli import main as verify_main
from tests.conftest import make_caller
from tests.helpers import database_owner_writes
from tests.tlog_witnesses import WitnessProcess, app_witnessed_by, running_witnesses

LOG_ORIGIN = "casework.local/custody"


def _publish(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["custody", "publish"])
    return result.exit_code, result.output


def _append(app: Flask, count: int, tag: str) -> None:
    """Events written straight into the log, as a database writer would."""
    with app.app_context():
        log.append(NewEvent(action=f"forged.{tag}", outcome="allowed", details={"n": i}) for i in range(count))
        db.session.commit()


def _wipe_log(app: Flask) -> None:
    with app.app_context(), database_owner_writes(app):
        for table in ("custody_cosignatures", "custody_checkpoints", "custody_nodes", "custody_events"):
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.execute(text("UPDATE custody_head SET tree_size = 0, frontier = :empty"), {"empty": b""})
        db.session.commit()


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    with running_witnesses(tmp_path, [f"witness{i}.partner.example/w" for i in (1, 2)]) as procs:
        yield procs


@pytest.fixture
def log_app(backend, keyring_path, tmp_path: Path, witnesses: list[WitnessProcess]) -> Iterator[Flask]:
    """An app with its own signer state, configured with both witnesses and a quorum of two."""
    with app_witnessed_by(witnesses, backend, keyring_path, tmp_path) as (app, _vkey):
        yield app


def _signed_sizes(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(CustodyCheckpoint.tree_size).order_by(CustodyCheckpoint.tree_size)))


def test_two_witnesses_cosign_and_the_verifier_checks_the_quorum(log_app, witnesses, tmp_path, capsys):
    caller = make_caller(log_app, "auditor1", "auditor")
    _append(log_app, 25, "a")
    code, output = _publish(log_app)
    assert code == 0, output
    served = caller.get("/api/v1/custody/checkpoint").get_data(as_text=True)
    cosigned = cosignature.verify_quorum(served, [w.vkey for w in witnesses], 2)
    assert sorted(c.name for c in cosigned) == sorted(w.name for w in witnesses)
    # Kept elsewhere (by a court, a partner): the note served today.
    kept = tmp_path / "kept-checkpoint.txt"
    kept.write_text(served)
    _append(log_app, 10, "b")
    assert _publish(log_app)[0] == 0
    export = tmp_path / "export"
    result = log_app.test_cli_runner().invoke(args=["custody", "export", str(export)])
    assert result.exit_code == 0, result.output
    args = [str(export / "log.jsonl"), "--checkpoint", str(kept), "--vkey", str(export / "log.vkey")]
    witness_args = [a for w in witnesses for a in ("--witness", w.vkey)]
    capsys.readouterr()
    assert verify_main(["log", *args, *witness_args, "--quorum", "2"]) == 0
    summary = capsys.readouterr().out  # who cosigned the kept checkpoint, and when
    assert all(
        re.search(rf"{re.escape(w.name)} on \d{{4}}-\d\d-\d\d at \d\d:\d\d:\d\d UTC", summary) for w in witnesses
    ), summary
    # A checkpoint without its cosignatures does not meet the quorum.
    bare = tmp_path / "bare.txt"
    body, lines = cosignature.split_note(served)
    bare.write_text(cosignature.join_note(body, [line for line in lines if line.split()[1] == LOG_ORIGIN]))
    assert verify_main(["log", *args[:2], str(bare), *args[3:], *witness_args, "--quorum", "2"]) == 1


def test_a_fork_signed_with_the_stolen_key_cannot_gather_a_quorum(log_app, witnesses, tmp_path):
    _append(log_app, 20, "honest")
    assert _publish(log_app)[0] == 0
    # The attacker has the database AND the key, but not the signer's state: they wipe both.
    _wipe_log(log_app)
    Path(log_app.config["CASEWORK_SIGNER_STATE"]).unlink()
    _append(log_app, 30, "forged")
    code, output = _publish(log_app)
    # Without its state the signer asks the witnesses first: they hold this log's size 21.
    assert code == 2 and "holds size 21" in output and "recover-state" in output, output
    assert _signed_sizes(log_app) == []


def test_equivocation_at_the_same_size_is_refused(log_app):
    """Attack 1: delete the checkpoint rows and rewrite the tree consistently."""
    _append(log_app, 40, "honest")
    assert _publish(log_app)[0] == 0
    with log_app.app_context():
        first = signer().last()
    _wipe_log(log_app)
    _append(log_app, 40, "rewritten")
    code, output = _publish(log_app)
    # The signer extends its own range, not the database's: the rewritten tree is named, not signed.
    assert code == 2 and "REFUSED" in output and "first differing seq" in output, output
    with log_app.app_context():
        assert signer().last() == first
    assert _signed_sizes(log_app) == []  # nothing new was signed or stored


def test_overwritten_root_does_not_lead_the_signer(log_app):
    """Attack 2: overwrite only the stored root; later checkpoints still extend what was signed."""
    _append(log_app, 30, "honest")
    assert _publish(log_app)[0] == 0
    with log_app.app_context():
        first = note.parse_checkpoint(signer().last().note.split("\n\n")[0] + "\n")
    with log_app.app_context(), database_owner_writes(log_app):
        db.session.execute(text("UPDATE custody_checkpoints SET root_hash = :forged"), {"forged": b"\x07" * 32})
        db.session.commit()
    _append(log_app, 12, "more")
    assert _publish(log_app)[0] == 0
    with log_app.app_context():
        second = note.parse_checkpoint(signer().last().note.split("\n\n")[0] + "\n")
        proof = proofs.consistency_proof(first.size, second.size)
    assert merkle.verify_consistency(first.size, second.size, first.root, second.root, proof)


def test_truncated_log_is_refused_shorter_and_longer(log_app):
    """Attack 3: truncate the log and its checkpoints, then grow it past the signed size."""
    _append(log_app, 36, "honest")
    assert _publish(log_app)[0] == 0
    _wipe_log(log_app)
    _append(log_app, 30, "short")
    code, output = _publish(log_app)
    assert code == 2 and "shrank" in output, output
    _append(log_app, 73, "long")
    code, output = _publish(log_app)
    assert code == 2 and "first differing seq" in output, output
    assert _signed_sizes(log_app) == []


def test_proofs_are_not_served_beyond_or_against_the_signed_root(log_app):
    auditor = make_caller(log_app, "auditor2", "auditor")
    _append(log_app, 16, "honest")
    assert _publish(log_app)[0] == 0
    with log_app.app_context():
        published = signer().last().size  # the 16 events and the publication's own
    assert published == 17
    assert auditor.get("/api/v1/custody/proofs/inclusion?seq=3&tree_size=16").status_code == 200
    # Beyond the published checkpoint: not backed by a signature yet.
    assert auditor.get(f"/api/v1/custody/proofs/inclusion?seq=3&tree_size={published + 1}").status_code == 422
    # A database writer swaps a stored subtree hash: the proof no longer verifies, so none is sent.
    with log_app.app_context(), database_owner_writes(log_app):
        db.session.execute(text("UPDATE custody_nodes SET hash = :h WHERE level = 1 AND idx = 0"), {"h": b"\x01" * 32})
        db.session.commit()
    response = auditor.get("/api/v1/custody/proofs/inclusion?seq=3&tree_size=16")
    assert response.status_code == 503 and response.get_json()["type"].endswith("custody-log-corrupted")
