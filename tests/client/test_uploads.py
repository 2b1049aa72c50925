"""Exhibits and the outbox: an upload whose process is killed resumes by running the command
again; uploads made while the server is down wait, encrypted, and are delivered once."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from casework.db import db
from casework.exhibits.models import Exhibit
from casework.transcripts.models import TranscriptVersion
from tests import pg_server
from tests.client.conftest import kill, log_vkey, serve, url
from tests.conftest import PASSWORD, World

MiB = 1024 * 1024
MARK = b"FIELD-RECORDING-PLAINTEXT-7c1e"


def recording(path: Path, size: int) -> Path:
    """An MP3 as the server's sniffer sees one (ID3 header), with a marker to look for at rest."""
    block = hashlib.sha256(path.name.encode()).digest() * 2048 + MARK
    with path.open("wb") as out:
        out.write(b"ID3\x03\x00\x00\x00\x00\x00\x00")
        while out.tell() < size:
            out.write(block)
        out.truncate(size)
    return path


def exhibits_of(app, interview_id: int) -> list[tuple[int, str, int, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(Exhibit.id, Exhibit.status, Exhibit.received, Exhibit.size)
            .where(Exhibit.interview_id == interview_id)
            .order_by(Exhibit.id)
        ).all()
        db.session.remove()
        return [tuple(row) for row in rows]


@pytest.mark.slow
def test_killed_exhibit_upload_resumes_when_run_again(app, backend, pg_only, world: World, cli, tmp_path: Path):
    field = cli("interviewer")
    audio = recording(tmp_path / "W-0001 interview.mp3", 16 * MiB)
    vkey = tmp_path / "log.vkey"
    vkey.write_text(log_vkey(world) + "\n")
    with serve(app, backend) as server:
        field.ok(
            "login",
            "--server",
            url(server),
            "--username",
            "interviewer",
            "--log-key",
            str(vkey),
            env={"CASEWORK_PASSWORD": PASSWORD},
        )
        upload = field.popen(
            "exhibit", "upload", str(world.interview_id), str(audio), "--json", "--chunk-size", str(512 * 1024)
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and upload.poll() is None:
            rows = exhibits_of(app, world.interview_id)
            if rows and rows[0][2] >= 3 * MiB:
                break
            time.sleep(0.02)
        assert upload.poll() is None, f"the upload ended before it could be killed: {upload.communicate()}"
        kill(upload)  # SIGKILL: no handler runs, nothing is tidied up
        [(exhibit_id, status, received, size)] = exhibits_of(app, world.interview_id)
        assert status == "uploading" and 3 * MiB <= received < size == 16 * MiB

        # The same command again: it finds the upload it started (tuspy's URL storage), asks the
        # server where it stopped (HEAD) and sends the rest.
        again = field.json("exhibit", "upload", str(world.interview_id), str(audio))
        assert again["verified"] is True, again
        receipt = again["receipt"]
        assert receipt["exhibit_id"] == exhibit_id and receipt["kind"] == "audio"
        assert receipt["sha256"] == hashlib.sha256(audio.read_bytes()).hexdigest() and receipt["size"] == 16 * MiB
        resumed = [note for note in again["notes"] if note.startswith(f"Resumed the upload of exhibit {exhibit_id}")]
        assert resumed, again["notes"]
        assert int(resumed[0].rsplit(" ", 1)[1].rstrip(".")) >= received
        [(_, status, received, _)] = exhibits_of(app, world.interview_id)
        assert status == "complete" and received == 16 * MiB
        # Done: nothing is left to resume; a third run is a new upload, not a continuation.
        assert json.loads((field.config / "tus-uploads.json").read_text() or "{}").get("_default", {}) == {}
        # The stored receipt, checked later against the file (the plain hash is not stored on the server).
        later = field.json("exhibit", "receipt", str(exhibit_id), str(audio))
        assert later["verified"] is True


@pytest.mark.slow
def test_outbox_filled_while_the_server_is_down_is_delivered_once(
    app, backend, pg_only, world: World, cli, tmp_path: Path
):
    field = cli("interviewer")
    vkey = tmp_path / "log.vkey"
    vkey.write_text(log_vkey(world) + "\n")
    text = "Statement taken in the shelter; the phone had no signal. Свідок бачив колону.\n"
    statement = tmp_path / "statement.txt"
    statement.write_text(text, encoding="utf-8")
    audio = recording(tmp_path / "shelter.mp3", 3 * MiB + 12345)
    port = pg_server.free_port()
    with serve(app, backend, port=port) as server:
        field.ok(
            "login",
            "--server",
            url(server),
            "--username",
            "interviewer",
            "--log-key",
            str(vkey),
            env={"CASEWORK_PASSWORD": PASSWORD},
        )

    # The server is down (nothing listens on its port).
    interview = str(world.interview_id)
    down = field("statement", "upload", interview, str(statement))
    assert down.returncode == 5 and "cannot reach" in down.stderr
    queued = field("statement", "upload", interview, str(statement), "--queue")
    assert queued.returncode == 0 and "Queued as" in queued.stderr, queued.stderr
    queued = field("exhibit", "upload", interview, str(audio), "--queue")
    assert queued.returncode == 0 and "Queued as" in queued.stderr, queued.stderr
    waiting = field.json("outbox", "list")
    assert [(i["kind"], i["size"]) for i in waiting] == [
        ("statement", len(statement.read_bytes())),
        ("exhibit", audio.stat().st_size),
    ]
    # At rest the outbox holds ciphertext only, its key readable by the user alone.
    key = field.config / "outbox.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for path in (field.config / "outbox").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert MARK not in data and b"shelter" not in data and "Свідок".encode() not in data, path
    assert field("outbox", "send").returncode == 5  # still down: the first is tried, and the send stops
    assert [(i["attempts"], bool(i["last_error"])) for i in field.json("outbox", "list")] == [(1, True), (0, False)]
    # A copy of the outbox as a crash right after delivery would leave it (item and key still there).
    crash = tmp_path / "outbox-before-send"
    shutil.copytree(field.config / "outbox", crash)
    shutil.copy2(key, tmp_path / "outbox.key.before-send")

    with serve(app, backend, port=port):  # the server is back, at the same address
        sent = field("outbox", "send")
        assert sent.returncode == 0, sent.stderr
        assert "Sent 2; 0 left" in sent.stderr and sent.stdout.count("OK signature: valid") == 2, sent
        assert field.ok("outbox", "send").stdout.strip() == "The outbox is empty: nothing to send."
        assert field.json("outbox", "list") == []
        assert not key.exists()  # the outbox is empty: its key is destroyed with it

        # Delivered before the crash, but still queued after it: sent again, stored once.
        shutil.rmtree(field.config / "outbox")
        shutil.copytree(crash, field.config / "outbox")
        shutil.copy2(tmp_path / "outbox.key.before-send", key)
        field.ok("outbox", "drop", waiting[1]["id"])  # (the exhibit's upload was not begun in that copy)
        replay = field("outbox", "send")
        assert replay.returncode == 0, replay.stderr
        assert "The server already had this upload (same Idempotency-Key)" in replay.stdout
    with app.app_context():
        versions = db.session.scalar(
            select(func.count())
            .select_from(TranscriptVersion)
            .where(TranscriptVersion.interview_id == world.interview_id)
        )
        assert versions == 1
    rows = exhibits_of(app, world.interview_id)
    assert [(status, received) for _, status, received, _ in rows] == [("complete", audio.stat().st_size)]
