"""Erasure that a database backup cannot undo: each witness's key lives in the keyring provider.

A withdrawal suspends every read at once and opens an erasure; a second person (a lawyer of the
case who did not record the withdrawal) confirms it, and only then is the witness's key
destroyed there. A copy of the database taken before the withdrawal (or while the erasure was
pending), restored afterwards and read with today's keyring, opens nothing of theirs: every
read of their identity and statements answers 410 (or 500 if a ciphertext was moved), their
free text reads null, and the plaintext appears in no response.

Backups are real ones: SQLite's database file and its -wal copied with no connection open (the
app's engine disposed), PostgreSQL's database copied whole with ``CREATE DATABASE ... TEMPLATE``
(a file-level copy by the server, which needs the source idle) and restored by dropping the
live database and creating it again from the copy.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from casework.db import db
from casework.interviews.models import Interview
from casework.keys import keyring
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.erasure_models import Erasure
from casework.witnesses.models import ConsentRecord, Witness
from tests.conftest import PG_SERVER, World, ok
from tests.helpers import all_events, assert_problem

MARK = "ERASE-ME-7f3c"
IDENTITY = {
    "full_name": f"{MARK} Oksana Hrytsenko",
    "contact": f"{MARK} +380 67 000 0000",
    "date_of_birth": "1984-05-06",
    "notes": f"{MARK} relocated to Dnipro",
}
FIRST = f"{MARK} I saw them line up the prisoners by the quarry wall."
SECOND = f"{MARK} I saw seven of them, not six."
REASON = f"{MARK} the witness corrected the number"
FILENAME = f"{MARK}-interview.txt"
INTERPRETER = f"{MARK} Iryna (interpreter)"
PRESENT = [f"{MARK} Halyna, the witness's sister"]
CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
FREE_TEXT_READS = {"interpreter", "others_present", "reason", "filename"}


def withdraw(caller, witness_id: int) -> dict:
    """Record a withdrawal: the witness's records are suspended at once and an erasure is pending."""
    return ok(
        caller.post(
            f"/api/v1/witnesses/{witness_id}/consent",
            {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T12:00:00Z"},
        ),
        201,
    )


def confirm(caller, witness_id: int) -> dict:
    """The second person confirms the erasure: the witness's key is destroyed."""
    answer = ok(caller.post(f"/api/v1/witnesses/{witness_id}/erasure/confirm"))
    assert answer["status"] == "confirmed", answer
    return answer


def erase(world: World, witness_id: int) -> None:
    """The witness's recorder records the withdrawal; the case's lawyer confirms it."""
    withdraw(world.people["interviewer"], witness_id)
    confirm(world.people["legal"], witness_id)


def key_file(app: Flask, witness_id: int) -> Path:
    subject = f"witness:{witness_id}"
    return Path(app.config["CASEWORK_KEYRING"] + ".subjects") / hashlib.sha256(subject.encode()).hexdigest()


@pytest.fixture
def statements(world: World) -> World:
    """The witness's identity, two transcript versions (a file with a name, then a correction) and free text."""
    interviewer = world.people["interviewer"]
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": IDENTITY}))
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(
        interviewer.patch(
            f"/api/v1/interviews/{world.interview_id}", {"interpreter": INTERPRETER, "others_present": PRESENT}
        )
    )
    first = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts",
        data={"file": (io.BytesIO(FIRST.encode()), FILENAME)},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {interviewer.token}"},
    )
    ok(first, 201)
    ok(
        interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": SECOND, "reason": REASON}),
        201,
    )
    return world


# ---------------------------------------------------------------------------------------------
# Backing up and restoring the whole database, as an operator would.


class DatabaseBackup:
    def __init__(self, app: Flask, backend: dict[str, str], directory: Path) -> None:
        self.app, self.backend, self.directory = app, backend, directory
        self.pg_copy = f"casework_backup_{uuid.uuid4().hex[:10]}"

    def _quiesce(self) -> None:
        """No connection of ours stays open: a copy must not race a writer."""
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    @property
    def _sqlite_file(self) -> Path:
        return Path(self.backend["url"].removeprefix("sqlite:///"))

    @property
    def _pg_name(self) -> str:
        return self.backend["url"].rsplit("/", 1)[1]

    def _pg(self, *statements: str) -> None:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def _pg_kick(self, name: str) -> str:
        return f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"

    @staticmethod
    def _sqlite_copy(source: Path, target: Path) -> None:
        with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)

    def take(self) -> None:
        self._quiesce()
        if self.backend["name"] == "sqlite":
            # SQLite's online backup API: consistent with the WAL, safe beside other connections.
            self.directory.mkdir(parents=True)
            self._sqlite_copy(self._sqlite_file, self.directory / "db")
        else:
            self._pg(self._pg_kick(self._pg_name), f'CREATE DATABASE "{self.pg_copy}" TEMPLATE "{self._pg_name}"')

    def restore(self) -> None:
        """Replace the live database with the backup."""
        self._quiesce()
        if self.backend["name"] == "sqlite":
            self._sqlite_copy(self.directory / "db", self._sqlite_file)
        else:
            self._pg(
                f'DROP DATABASE "{self._pg_name}" WITH (FORCE)',
                f'CREATE DATABASE "{self._pg_name}" TEMPLATE "{self.pg_copy}"',
                f'DROP DATABASE "{self.pg_copy}"',
            )


def reads(world: World) -> list[tuple[str, object]]:
    """Every read of the witness's identity, statements and free text, by everyone who may read them."""
    w, i = world.witness_id, world.interview_id
    answers = []
    for name in ("interviewer", "legal"):
        caller = world.people[name]
        for path in (
            f"/api/v1/witnesses/{w}?include=identity",
            f"/api/v1/interviews/{i}/transcripts/1",
            f"/api/v1/interviews/{i}/transcripts/2",
            f"/api/v1/interviews/{i}/transcripts/2?format=raw",
            f"/api/v1/interviews/{i}/transcripts",
            f"/api/v1/interviews/{i}",
            f"/api/v1/cases/{world.case_id}/interviews",
            f"/api/v1/witnesses/{w}",
        ):
            answers.append((f"{name} GET {path}", caller.get(path)))
    answers.append(("legal GET case file", world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file")))
    return answers


def assert_nothing_decrypts(world: World) -> None:
    """Every read of the witness's identity and statements is 410; free text reads null; no plaintext anywhere."""
    for label, response in reads(world):
        assert MARK.encode() not in response.data, f"plaintext in {label}"
        if "include=identity" in label or "/transcripts/" in label:
            body = assert_problem(response, 410)
            assert body["type"].endswith("shredded"), label
            continue
        data = ok(response)
        # Free text beside metadata reads null; the statements in the case file too.
        for item in data.get("items", [data]):
            for field in FREE_TEXT_READS & set(item):
                assert item[field] is None, (label, field)
        if "file" in label:
            transcripts = [t for entry in data["interviews"] for t in entry["transcripts"]]
            assert len(transcripts) == 2 and all(t["text"] is None for t in transcripts)
            assert all(entry["interview"]["interpreter"] is None for entry in data["interviews"])


def test_a_database_backup_restored_after_a_withdrawal_decrypts_nothing(app, statements: World, backend, tmp_path):
    world, interviewer = statements, statements.people["interviewer"]
    before = dict(reads(world))
    assert ok(before[f"legal GET /api/v1/witnesses/{world.witness_id}?include=identity"])["identity"] == IDENTITY
    assert ok(before[f"legal GET /api/v1/interviews/{world.interview_id}"])["interpreter"] == INTERPRETER
    listed = ok(before[f"legal GET /api/v1/interviews/{world.interview_id}/transcripts"])["items"]
    assert [(v["filename"], v["reason"]) for v in listed] == [(FILENAME, None), (None, REASON)]

    backup = DatabaseBackup(app, backend, tmp_path / "backup")
    backup.take()
    withdrawal_details = withdraw(interviewer, world.witness_id)
    assert withdrawal_details["withdrawn_at"]
    # At once, before anyone confirms: nothing of the witness is read by anyone, though the key is kept.
    assert_nothing_decrypts(world)
    assert key_file(app, world.witness_id).exists()
    confirm(world.people["legal"], world.witness_id)
    assert not key_file(app, world.witness_id).exists()
    backup.restore()

    with app.app_context():  # the restored rows are exactly as before the withdrawal: keys wrapped, not shredded
        witness = db.session.get(Witness, world.witness_id)
        assert witness.shredded_at is None and witness.identity_wrapped_key and witness.identity_kek_id == "subject"
        versions = db.session.scalars(select(TranscriptVersion)).all()
        assert len(versions) == 2 and all(v.content_wrapped_key and v.freetext_wrapped_key for v in versions)
        assert db.session.get(Interview, world.interview_id).freetext_wrapped_key
        assert all(when is None for when in db.session.scalars(select(ConsentRecord.withdrawn_at)))
        assert db.session.scalars(select(Erasure)).all() == []  # the restored database knows of no erasure

    assert_nothing_decrypts(world)
    # Nothing new can be sealed for the witness either, even though this database forgot the withdrawal.
    assert_problem(
        interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "new", "reason": "again"}),
        410,
    )
    assert_problem(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": IDENTITY}), 410)
    # The operator's reconciliation names the witness whose key is gone though the database says live.
    result = app.test_cli_runner().invoke(args=["keys", "reapply-erasures"])
    assert result.exit_code == 0 and f"witness {world.witness_id}" in result.output, result.output


def test_a_backup_taken_while_the_erasure_was_pending_decrypts_nothing_once_confirmed(
    app, statements: World, backend, tmp_path
):
    """Between the withdrawal and the confirmation the key still exists: a backup of that time, restored
    after the confirmation, still opens nothing (the key is gone from the provider, not the rows)."""
    world = statements
    withdraw(world.people["interviewer"], world.witness_id)
    backup = DatabaseBackup(app, backend, tmp_path / "backup")
    backup.take()
    confirm(world.people["legal"], world.witness_id)
    backup.restore()
    with app.app_context():  # the restored database still says pending, with every wrapped key in its rows
        (erasure,) = db.session.scalars(select(Erasure)).all()
        assert erasure.status == "pending" and db.session.get(Witness, world.witness_id).identity_wrapped_key
    assert_nothing_decrypts(world)
    # The erasure can be confirmed again in the restored database: the rows follow the provider.
    confirm(world.people["legal"], world.witness_id)
    assert_nothing_decrypts(world)


def test_the_key_is_gone_from_the_keyring_directory(app, statements: World):
    world = statements
    path = key_file(app, world.witness_id)
    old_key = path.read_bytes()
    assert len(old_key) == 32 and (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    withdraw(world.people["interviewer"], world.witness_id)
    assert path.read_bytes() == old_key  # suspended, not destroyed: one person never destroys evidence
    confirm(world.people["legal"], world.witness_id)
    assert not path.exists()
    forms = (old_key, old_key.hex().encode(), base64.b64encode(old_key))
    directory = Path(app.config["CASEWORK_KEYRING"]).parent
    files = [f for f in directory.rglob("*") if f.is_file()]
    assert files  # the KEK file, the signing key, the other witnesses' keys...
    for file in files:
        data = file.read_bytes()
        assert not any(form in data for form in forms), f"the destroyed key is still in {file}"


def test_reapply_erasures_after_a_keyring_restore(app, statements: World, tmp_path):
    """A keyring backup holds keys destroyed since: re-apply the recorded erasures after restoring it."""
    world = statements
    path = key_file(app, world.witness_id)
    keyring_backup = tmp_path / "subject-key"
    shutil.copy2(path, keyring_backup)
    erase(world, world.witness_id)
    shutil.copy2(keyring_backup, path)  # the keyring restored from its backup
    with app.app_context():
        assert keyring().has_subject_key(f"witness:{world.witness_id}")
    result = app.test_cli_runner().invoke(args=["keys", "reapply-erasures"])
    assert result.exit_code == 0 and "destroyed again: 1" in result.output, result.output
    assert not path.exists()
    events = [e for e in all_events(app) if e["action"] == "keys.erasure.reapply"]
    assert [e["witness_id"] for e in events] == [world.witness_id]
    again = app.test_cli_runner().invoke(args=["keys", "reapply-erasures"])
    assert "destroyed again: 0; already destroyed: 1" in again.output, again.output


def test_a_ciphertext_moved_to_another_witness_fails_its_integrity_check(app, statements: World):
    world, interviewer, legal = statements, statements.people["interviewer"], statements.people["legal"]
    other = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/witnesses",
            {"witness_type": "victim", "risk_level": "high", "identity": {"full_name": "Someone Else"}},
        ),
        201,
    )["id"]
    other_interview = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {
                "witness_id": other,
                "conducted_at": "2026-03-12T10:00:00Z",
                "language": "uk",
                "interpreter": "Another interpreter",
            },
        ),
        201,
    )["id"]
    ok(interviewer.post(f"/api/v1/interviews/{other_interview}/transcripts", {"text": "their own words"}), 201)
    columns = ("ciphertext", "nonce", "wrapped_key", "kek_id")
    with app.app_context():  # witness A's sealed fields, wrapped under A's key, copied into B's rows
        a, b = db.session.get(Witness, world.witness_id), db.session.get(Witness, other)
        a_interview, b_interview = (
            db.session.get(Interview, world.interview_id),
            db.session.get(Interview, other_interview),
        )
        a_version = db.session.execute(
            select(TranscriptVersion).where(
                TranscriptVersion.interview_id == world.interview_id, TranscriptVersion.version == 1
            )
        ).scalar_one()
        b_version = db.session.execute(
            select(TranscriptVersion).where(TranscriptVersion.interview_id == other_interview)
        ).scalar_one()
        for source, target, prefix in (
            (a, b, "identity_"),
            (a_interview, b_interview, "freetext_"),
            (a_version, b_version, "content_"),
        ):
            for column in columns:
                setattr(target, f"{prefix}{column}", getattr(source, f"{prefix}{column}"))
        db.session.commit()
    for path in (
        f"/api/v1/witnesses/{other}?include=identity",
        f"/api/v1/interviews/{other_interview}",
        f"/api/v1/interviews/{other_interview}/transcripts/1",
    ):
        response = legal.get(path)
        body = assert_problem(response, 500)
        assert body["type"].endswith("integrity-failure") and MARK.encode() not in response.data, path
    # Witness A's own rows still open: nothing was taken from them.
    assert ok(legal.get(f"/api/v1/witnesses/{world.witness_id}?include=identity"))["identity"] == IDENTITY


def test_rows_sealed_before_witness_keys_still_open_and_move_to_them(app, statements: World):
    """Down to the revision before 0006 (data keys back under the KEK, free text in plaintext columns,
    plain hashes), then up again: everything reads the same, now under the witness's key."""
    world, legal = statements, statements.people["legal"]
    shredded = ok(
        world.people["interviewer"].post(
            f"/api/v1/cases/{world.case_id}/witnesses",
            {"witness_type": "victim", "risk_level": "low", "identity": {"full_name": "Withdrawn Witness"}},
        ),
        201,
    )["id"]
    shredded_interview = ok(
        world.people["interviewer"].post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {
                "witness_id": shredded,
                "conducted_at": "2026-03-12T10:00:00Z",
                "language": "uk",
                "interpreter": "Withdrawn's interpreter",
            },
        ),
        201,
    )["id"]
    erase(world, shredded)
    interview = f"/api/v1/interviews/{world.interview_id}"
    before = {
        path: ok(legal.get(path))
        for path in (
            f"/api/v1/witnesses/{world.witness_id}?include=identity",
            interview,
            f"{interview}/transcripts/1",
            f"{interview}/transcripts/2",
        )
    }
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        previous = script.get_revision("0006_witness_keys").down_revision
        db.session.remove()
        downgrade(revision=previous)
    try:
        with app.app_context():
            rows = db.session.execute(
                text(
                    "SELECT version, filename, reason, sha256, content_kek_id FROM transcript_versions "
                    f"WHERE interview_id = {world.interview_id} ORDER BY version"
                )
            ).all()
            assert [(r[0], r[1], r[2]) for r in rows] == [(1, FILENAME, None), (2, None, REASON)]
            assert bytes(rows[0][3]) == hashlib.sha256(FIRST.encode()).digest()
            assert all(r[4].startswith("kek-") for r in rows)
            interpreter = db.session.execute(
                text(f"SELECT interpreter FROM interviews WHERE id = {shredded_interview}")
            ).scalar_one()
            assert interpreter is None  # the withdrawn witness's free text did not come back
            # A row as the old code would have written it: plaintext free text, beside the converted ones.
            db.session.execute(
                text(f"UPDATE interviews SET interpreter = 'Legacy interpreter' WHERE id = {world.interview_id}")
            )
            db.session.commit()
    finally:
        with app.app_context():
            db.session.remove()
            upgrade()
    after = {path: ok(legal.get(path)) for path in before}
    for path, answer in before.items():
        if path == interview:
            assert answer["interpreter"] == INTERPRETER and after[path]["interpreter"] == "Legacy interpreter"
            assert after[path]["others_present"] == PRESENT
        else:
            assert {k: v for k, v in after[path].items() if k != "keyed_sha256"} == {
                k: v for k, v in answer.items() if k != "keyed_sha256"
            }, path
    with app.app_context():
        witness = db.session.get(Witness, world.witness_id)
        assert witness.identity_kek_id == "subject" and witness.hashkey_kek_id == "subject"
        kinds = db.session.execute(
            select(TranscriptVersion.content_kek_id, TranscriptVersion.freetext_kek_id).where(
                TranscriptVersion.witness_id == world.witness_id
            )
        ).all()
        assert [tuple(k) for k in kinds] == [("subject", "subject"), ("subject", "subject")]
        assert db.session.get(Interview, shredded_interview).freetext_ciphertext is None
