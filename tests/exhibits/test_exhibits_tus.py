"""The real tus client (tuspy) against a real gunicorn: an upload cut mid-transfer by a killed
process, resumed from another process, then read back whole and by ranges, every read logged.

Runs on both databases: SQLite with the filesystem blob store, PostgreSQL with the database
(chunk rows) store, the two production shapes.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from casework.blobs.models import BlobChunk
from casework.custody.models import CustodyEvent
from casework.db import db
from casework.exhibits import receipts
from casework.keys import keyring
from tests.conftest import World
from tests.pg_server import Server, gunicorn

MiB = 1024 * 1024
MARK = b"TUS-PLAINTEXT-MARKER-51d0"

CLIENT = textwrap.dedent('''
    import hashlib, http.client, json, os, signal, sys
    from urllib.parse import urlsplit
    from tusclient import client
    from tusclient.storage.filestorage import FileStorage
    from tusclient.uploader import Uploader

    class Sha256Uploader(Uploader):
        """tuspy defaults to sha1; the server speaks sha256 (Tus-Checksum-Algorithm)."""
        CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

    mode, endpoint, token, path, storage = sys.argv[1:6]
    uploader = Sha256Uploader(
        path, client=client.TusClient(endpoint, headers={"Authorization": "Bearer " + token}),
        chunk_size=2 * 1024 * 1024, upload_checksum=True, store_url=True, url_storage=FileStorage(storage),
        metadata={"kind": "audio", "filename": "W-0001 full interview.mp3", "filetype": "audio/mpeg",
                  "captured_at": "2026-03-10T10:00:00Z", "device_hash": "d" * 64})
    if mode == "cut":
        for _ in range(3):
            uploader.upload_chunk()
        # Now a PATCH that announces 4 MiB and dies after sending 1.5 MiB of them.
        target = urlsplit(uploader.url)
        connection = http.client.HTTPConnection(target.hostname, target.port)
        connection.putrequest("PATCH", target.path)
        for name, value in (("Authorization", "Bearer " + token), ("Tus-Resumable", "1.0.0"),
                            ("Upload-Offset", str(uploader.offset)), ("Content-Length", str(4 * 1024 * 1024)),
                            ("Content-Type", "application/offset+octet-stream")):
            connection.putheader(name, value)
        connection.endheaders()
        with open(path, "rb") as source:
            source.seek(uploader.offset)
            connection.send(source.read(1536 * 1024))
        print(json.dumps({"url": uploader.url, "offset": uploader.offset}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        resumed_from = uploader.offset  # found by HEAD on the URL the first process stored
        uploader.upload()
        print(json.dumps({"url": uploader.url, "resumed_from": resumed_from,
                          "receipt": json.loads(uploader.request.response_content)}), flush=True)
''')


def run_client(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLIENT, *args], capture_output=True, text=True, timeout=120)


def get(server: Server, path: str, token: str, headers: dict | None = None) -> tuple[int, dict, bytes, str]:
    """A GET read in pieces (as a player would), hashed as it comes."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}", **(headers or {})})
        response = connection.getresponse()
        body = bytearray()
        while piece := response.read(256 * 1024):
            body += piece
        return response.status, {k.lower(): v for k, v in response.getheaders()}, bytes(body), ""
    finally:
        connection.close()


def offset_of(server: Server, url: str, token: str) -> int:
    status, headers, _ = server.request(
        "HEAD", url.split(f":{server.port}", 1)[1], token, headers={"Tus-Resumable": "1.0.0"}
    )
    assert status == 200, status
    return int(headers["upload-offset"])


@pytest.mark.slow
def test_tuspy_upload_cut_by_a_killed_process_resumed_by_another(app, backend, world: World, tmp_path: Path):
    recording = tmp_path / "interview.mp3"
    block = hashlib.sha256(b"seed").digest() * 4096 + MARK
    with recording.open("wb") as out:
        out.write(b"ID3\x03\x00\x00\x00\x00\x00\x00")
        while out.tell() < 24 * MiB:
            out.write(block)
        out.truncate(24 * MiB)
    content = recording.read_bytes()
    store = "database" if backend["name"] == "postgresql" else "filesystem"
    blob_dir = tmp_path / "blobs"
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    env = {"CASEWORK_BLOB_STORE": store, "CASEWORK_BLOB_DIR": str(blob_dir)}
    with gunicorn(backend["url"], app.config["CASEWORK_KEYRING"], workers=2, extra_env=env) as server:
        endpoint = f"http://127.0.0.1:{server.port}/api/v1/interviews/{world.interview_id}/exhibits/uploads"
        storage = str(tmp_path / "tus-urls.json")
        cut = run_client("cut", endpoint, interviewer.token, str(recording), storage)
        assert cut.returncode == -9, cut.stderr[-3000:]
        first = json.loads(cut.stdout)
        assert first["offset"] == 6 * MiB
        # What arrived of the cut PATCH is kept (no checksum on it): 6 MiB + 1.5 MiB, once the worker
        # has noticed the disconnect and committed (a loaded machine may take a moment).
        deadline = time.monotonic() + 30
        while (offset := offset_of(server, first["url"], interviewer.token)) == 6 * MiB and time.monotonic() < deadline:
            time.sleep(0.1)
        assert offset == 6 * MiB + 1536 * 1024
        resumed = run_client("resume", endpoint, interviewer.token, str(recording), storage)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        second = json.loads(resumed.stdout)
        assert second["url"] == first["url"] and second["resumed_from"] == 6 * MiB + 1536 * 1024
        receipt = second["receipt"]
        assert receipt["sha256"] == hashlib.sha256(content).hexdigest() and receipt["size"] == len(content)
        with app.app_context():
            assert receipts.verify(receipt, keyring().signing_key().public_key())
        exhibit_id = receipt["exhibit_id"]
        # Read back: whole, then as a player seeking would; each answer names the whole's SHA-256 (RFC 9530).
        whole_digest = f"sha-256=:{base64.b64encode(hashlib.sha256(content).digest()).decode()}:"
        reads = []
        status, headers, body, _ = get(server, f"/api/v1/exhibits/{exhibit_id}/content", legal.token)
        assert status == 200 and hashlib.sha256(body).hexdigest() == receipt["sha256"]
        assert headers["repr-digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
        reads.append((headers["x-request-id"], None))
        for spec, start, last in (
            ("bytes=1000000-5000000", 1000000, 5000000),
            ("bytes=-4096", len(content) - 4096, len(content) - 1),
            (f"bytes={20 * MiB}-", 20 * MiB, len(content) - 1),
        ):
            status, headers, body, _ = get(
                server, f"/api/v1/exhibits/{exhibit_id}/content", interviewer.token, {"Range": spec}
            )
            assert status == 206 and body == content[start : last + 1], spec
            assert headers["content-range"] == f"bytes {start}-{last}/{len(content)}"
            assert headers["repr-digest"] == whole_digest, spec
            reads.append((headers["x-request-id"], f"{start}-{last}"))
    with app.app_context():
        logged = db.session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.action == "exhibit.read", CustodyEvent.resource_id == str(exhibit_id))
            .order_by(CustodyEvent.seq)
        ).all()
        assert [(e.request_id, e.details["range"]) for e in logged] == reads
        writes = db.session.scalars(
            select(CustodyEvent).where(
                CustodyEvent.action == "exhibit.upload.write", CustodyEvent.resource_id == str(exhibit_id)
            )
        ).all()
        assert any(e.details.get("truncated") for e in writes)  # the cut PATCH, recorded as such
        created = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "exhibit.create")).one()
        assert created.leaf_hash.hex() == receipt["leaf_hash"]  # the promise kept
        # Never plaintext at rest, in either store.
        if store == "database":
            stored = [bytes(row) for row in db.session.scalars(select(BlobChunk.data))]
        else:
            stored = [path.read_bytes() for path in blob_dir.rglob("*") if path.is_file()]
        assert len(stored) == 24 and sum(map(len, stored)) > len(content)
        assert not any(MARK in record or b"W-0001" in record for record in stored)


START_CLIENT = textwrap.dedent("""
    import json, sys
    from tusclient import client
    from tusclient.exceptions import TusCommunicationError
    from tusclient.storage.filestorage import FileStorage
    from tusclient.uploader import Uploader

    mode, endpoint, token, path, storage = sys.argv[1:6]
    try:  # with a stored URL, the uploader asks the server where to resume (HEAD) as it is made
        uploader = Uploader(
            path, client=client.TusClient(endpoint, headers={"Authorization": "Bearer " + token}),
            chunk_size=1024 * 1024, store_url=True, url_storage=FileStorage(storage),
            metadata={"kind": "audio", "filename": "wrong recording.mp3", "filetype": "audio/mpeg"})
        uploader.upload(stop_at=2 * 1024 * 1024 if mode == "start" else None)
        print(json.dumps({"url": uploader.url, "offset": uploader.offset}), flush=True)
    except TusCommunicationError as exc:
        print(json.dumps({"refused": exc.status_code}), flush=True)
""")


@pytest.mark.slow
def test_tuspy_upload_cancelled_by_tus_termination(app, backend, world: World, tmp_path: Path):
    """A wrong upload started by the real client is cancelled (DELETE); the client cannot resume it."""
    recording = tmp_path / "wrong.mp3"
    recording.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + hashlib.sha256(b"wrong").digest() * (4 * MiB // 32))
    store = "database" if backend["name"] == "postgresql" else "filesystem"
    interviewer, other = world.people["interviewer"], world.people["interviewer2"]
    env = {"CASEWORK_BLOB_STORE": store, "CASEWORK_BLOB_DIR": str(tmp_path / "blobs")}
    with gunicorn(backend["url"], app.config["CASEWORK_KEYRING"], workers=1, extra_env=env) as server:
        endpoint = f"http://127.0.0.1:{server.port}/api/v1/interviews/{world.interview_id}/exhibits/uploads"
        storage = str(tmp_path / "tus-urls.json")
        started = subprocess.run(
            [sys.executable, "-c", START_CLIENT, "start", endpoint, interviewer.token, str(recording), storage],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stderr[-3000:]
        first = json.loads(started.stdout)
        assert first["offset"] == 2 * MiB
        path = first["url"].split(f":{server.port}", 1)[1]
        tus = {"Tus-Resumable": "1.0.0"}
        status, _, _ = server.request("DELETE", path, other.token, headers=tus)
        assert status == 403  # another interviewer of the case: refused, and recorded
        status, headers, body = server.request("DELETE", path, interviewer.token, headers=tus)
        assert (status, body, headers["tus-resumable"]) == (204, b"", "1.0.0")
        assert server.request("HEAD", path, interviewer.token, headers=tus)[0] == 410
        resumed = subprocess.run(
            [sys.executable, "-c", START_CLIENT, "resume", endpoint, interviewer.token, str(recording), storage],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert json.loads(resumed.stdout) == {"refused": 410}
        options = server.request("OPTIONS", "/api/v1/exhibits/uploads", interviewer.token)
        assert "termination" in options[1]["tus-extension"].split(",")
    exhibit_id = int(path.split("/")[-2])
    with app.app_context():
        logged = db.session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.action == "exhibit.upload.terminate", CustodyEvent.resource_id == str(exhibit_id))
            .order_by(CustodyEvent.seq)
        ).all()
        assert [(e.actor_id, e.outcome) for e in logged] == [(other.id, "denied"), (interviewer.id, "allowed")]
        assert logged[1].details["upload_offset"] == 2 * MiB and logged[1].details["chunks_deleted"] == 2
        if store == "database":
            assert db.session.scalars(select(BlobChunk.data)).all() == []
        else:
            assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
