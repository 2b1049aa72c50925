"""Exhibits over the test client: tus creation/HEAD/PATCH, chunk encryption at rest, ranged reads,
access, limits, nonce safety across resumed uploads, erasure, and lineage of derived transcripts."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from casework import blobs
from casework.blobs.models import BlobChunk
from casework.db import db
from casework.exhibits import receipts
from casework.exhibits.models import Exhibit
from casework.settings import settings
from casework_verify import note
from tests.conftest import World, ok
from tests.helpers import all_events, assert_problem, events_of
from tests.settings import patch_settings, settings_replaced

TUS = {"Tus-Resumable": "1.0.0"}
MARK = b"PLAINTEXT-MARKER-9c1e"
MP3_HEAD = b"ID3\x03\x00\x00\x00\x00\x00\x00"  # filetype: audio/mpeg


def meta(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def recording(size: int, seed: int = 1) -> bytes:
    """An 'audio/mpeg' recording of ``size`` bytes with plaintext markers scattered in it."""
    body = bytearray(MP3_HEAD)
    block = hashlib.sha256(str(seed).encode()).digest() * 64 + MARK
    while len(body) < size:
        body += block
    return bytes(body[:size])


def create(caller, path: str, length: int, headers: dict | None = None, **pairs: str):
    pairs.setdefault("kind", "audio")
    return caller.client.post(
        path,
        headers={
            "Authorization": f"Bearer {caller.token}",
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": meta(**pairs),
            **(headers or {}),
        },
    )


def patch(
    caller,
    url: str,
    offset: int,
    data: bytes,
    checksum: bytes | None = None,
    headers: dict | None = None,
    content_type: str = "application/offset+octet-stream",
):
    extra = {"Upload-Checksum": "sha256 " + base64.b64encode(checksum).decode()} if checksum else {}
    return caller.client.patch(
        url,
        data=data,
        content_type=content_type,
        headers={
            "Authorization": f"Bearer {caller.token}",
            **TUS,
            "Upload-Offset": str(offset),
            **extra,
            **(headers or {}),
        },
    )


def head(caller, url: str):
    return caller.client.head(url, headers={"Authorization": f"Bearer {caller.token}", **TUS})


def upload(caller, path: str, content: bytes, piece: int = 300_000, **pairs: str) -> tuple[str, dict]:
    created = create(caller, path, len(content), **pairs)
    assert created.status_code == 201, created.get_data(as_text=True)
    url = created.headers["Location"]
    offset, receipt = 0, None
    while offset < len(content) or receipt is None:
        response = patch(caller, url, offset, content[offset : offset + piece])
        assert response.status_code in (200, 204), response.get_data(as_text=True)
        offset = int(response.headers["Upload-Offset"])
        if response.status_code == 200:
            receipt = response.get_json()
    return url, receipt


def interview_path(world: World) -> str:
    return f"/api/v1/interviews/{world.interview_id}/exhibits/uploads"


@pytest.fixture
def small_chunks(app):
    """64 KiB chunks, so modest test files span many chunks."""
    with settings_replaced(app, exhibits={"chunk_bytes": 64 * 1024}):
        yield


@pytest.fixture(autouse=True)
def _own_blob_dir(blob_dir):
    """Every test here stores its chunks in its own directory (``blob_dir``, tests/conftest.py)."""
    return blob_dir


@pytest.fixture(params=["filesystem", "database"])
def store_name(request, app, blob_dir):
    with settings_replaced(app, blobs={"store": request.param}):
        yield request.param


def stored_bytes(app, exhibit_id: int) -> list[bytes]:
    with app.app_context():
        exhibit = db.session.get_one(Exhibit, exhibit_id)
        if exhibit.blob_store == "database":
            return [
                bytes(row)
                for row in db.session.scalars(select(BlobChunk.data).where(BlobChunk.blob_key == exhibit.blob_key))
            ]
        store = blobs.store("filesystem")
        return [path.read_bytes() for path in store.files(exhibit.blob_key)]  # type: ignore[attr-defined]


def exhibit_id_of(url: str) -> int:
    return int(url.rstrip("/").split("/")[-2])


def public_key(world: World):
    vkey = world.people["auditor"].get("/api/v1/custody/public-key").get_data(as_text=True).strip()
    return note.parse_vkey(vkey).public_key


def test_upload_in_pieces_then_read_back_whole_and_ranged(app, world: World, store_name, small_chunks):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    content = recording(1_000_003)
    url, receipt = upload(
        interviewer,
        interview_path(world),
        content,
        filename="W-0001 interview.mp3",
        captured_at="2026-03-10T10:05:00Z",
        device_hash="ab" * 16,
    )
    exhibit_id = exhibit_id_of(url)
    assert receipt["sha256"] == hashlib.sha256(content).hexdigest() and receipt["size"] == len(content)
    assert receipt["media_type"] == "audio/mpeg" and receipt["exhibit_id"] == exhibit_id
    assert receipts.verify(receipt, public_key(world))
    assert not receipts.verify({**receipt, "sha256": "00" * 32}, public_key(world))
    located = ok(interviewer.get(f"/api/v1/exhibits/{exhibit_id}/receipt"))["custody"]
    assert located["status"] == "integrated"
    event = ok(world.people["auditor"].get(f"/api/v1/custody/events/{located['seq']}"))
    assert event["action"] == "exhibit.create" and event["leaf_hash"] == receipt["leaf_hash"]
    assert receipt["sha256"] not in str(event) and event["details"]["keyed_sha256"] == receipt["keyed_sha256"]
    # Nothing stored is plaintext: not the marker, not the file name.
    stored = stored_bytes(app, exhibit_id)
    assert len(stored) == -(-len(content) // (64 * 1024))
    assert not any(MARK in record or b"W-0001" in record for record in stored)
    # Whole read, with its event.
    whole = legal.get(f"/api/v1/exhibits/{exhibit_id}/content")
    assert whole.status_code == 200 and whole.data == content and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.mimetype == "audio/mpeg"
    (read,) = events_of(app, whole)
    assert read["action"] == "exhibit.read" and read["outcome"] == "allowed" and read["details"]["range"] is None
    assert read["details"]["bytes_served"] == len(content) and "headers_only" not in read["details"]
    # HEAD: decided as a read and recorded, as one that served nothing.
    asked = legal.client.head(
        f"/api/v1/exhibits/{exhibit_id}/content", headers={"Authorization": f"Bearer {legal.token}"}
    )
    assert asked.status_code == 200 and asked.data == b"" and asked.headers["Content-Length"] == str(len(content))
    (headers_only,) = events_of(app, asked)
    assert headers_only["action"] == "exhibit.read" and headers_only["outcome"] == "allowed"
    assert headers_only["details"]["bytes_served"] == 0 and headers_only["details"]["headers_only"] is True
    # Ranges: first-last across chunk boundaries, open-ended, suffix.
    size = len(content)
    for header, start, last in (
        (f"bytes=65530-{3 * 65536 + 9}", 65530, 3 * 65536 + 9),
        ("bytes=999990-", 999990, size - 1),
        ("bytes=-17", size - 17, size - 1),
        ("bytes=0-0", 0, 0),
        ("bytes=5-99999999", 5, size - 1),
    ):
        part = legal.get(f"/api/v1/exhibits/{exhibit_id}/content", headers={"Range": header})
        assert part.status_code == 206, (header, part.status_code)
        assert part.data == content[start : last + 1], header
        assert part.headers["Content-Range"] == f"bytes {start}-{last}/{size}"
        (event,) = events_of(app, part)
        assert event["action"] == "exhibit.read" and event["details"]["range"] == f"{start}-{last}"
    unsatisfiable = legal.get(f"/api/v1/exhibits/{exhibit_id}/content", headers={"Range": f"bytes={len(content)}-"})
    assert_problem(unsatisfiable, 416)
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{len(content)}"
    assert events_of(app, unsatisfiable)[0]["action"] == "exhibit.read"
    # Metadata: the keyed hash only; file name and device hash for readers of the content only.
    shown = ok(world.people["auditor"].get(f"/api/v1/exhibits/{exhibit_id}"))
    assert (shown["filename"], shown["filename_withheld"]) == (None, True) and shown["status"] == "complete"
    assert (shown["device_hash"], shown["device_hash_withheld"]) == (None, True)
    assert shown["keyed_sha256"] == receipt["keyed_sha256"] and "sha256" not in shown["receipt"]
    assert b"W-0001" not in world.people["auditor"].get(f"/api/v1/exhibits/{exhibit_id}").data
    shown = ok(legal.get(f"/api/v1/exhibits/{exhibit_id}"))
    assert (shown["filename"], shown["filename_withheld"], shown["device_hash"]) == (
        "W-0001 interview.mp3",
        False,
        "ab" * 16,
    )
    assert shown["captured_at"].startswith("2026-03-10T10:05:00")
    listed = ok(legal.get(f"/api/v1/interviews/{world.interview_id}/exhibits"))["items"]
    assert [item["id"] for item in listed] == [exhibit_id]


@pytest.mark.parametrize(
    "role,status",
    [("interviewer", 200), ("legal", 200), ("interviewer2", 403), ("admin", 403), ("auditor", 403), ("outsider", 404)],
)
def test_who_may_read_exhibit_content_and_metadata(app, world: World, role, status):
    content = recording(5000)
    url, _ = upload(world.people["interviewer"], interview_path(world), content)
    exhibit_id = exhibit_id_of(url)
    response = world.people[role].get(f"/api/v1/exhibits/{exhibit_id}/content")
    assert response.status_code == status
    assert (MARK in response.data) == (status == 200)
    event = events_of(app, response)[0]
    assert event["action"] == "exhibit.read" and event["outcome"] == ("allowed" if status == 200 else "denied")
    assert event["resource_type"] == "exhibit" and event["resource_id"] == str(exhibit_id)
    metadata = world.people[role].get(f"/api/v1/exhibits/{exhibit_id}")
    assert metadata.status_code == (404 if role == "outsider" else 200)
    listing = world.people[role].get(f"/api/v1/interviews/{world.interview_id}/exhibits")
    assert listing.status_code == (404 if role == "outsider" else 200)


@pytest.mark.parametrize(
    "role,status", [("interviewer2", 403), ("legal", 403), ("admin", 403), ("auditor", 403), ("outsider", 404)]
)
def test_only_the_interviewer_uploads_and_only_the_uploader_continues(app, world: World, role, status):
    caller = world.people[role]
    assert_problem(create(caller, interview_path(world), 10), status)
    created = create(world.people["interviewer"], interview_path(world), 10)
    url = created.headers["Location"]
    assert head(caller, url).status_code == status  # HEAD: no body
    refused = patch(caller, url, 0, MP3_HEAD)
    assert_problem(refused, status)
    assert events_of(app, refused)[0]["action"] == "exhibit.upload.write"
    own = head(world.people["interviewer"], url)
    assert own.status_code == 200 and own.headers["Upload-Offset"] == "0"


def test_tus_protocol_headers_and_errors(app, world: World):
    interviewer = world.people["interviewer"]
    auth = {"Authorization": f"Bearer {interviewer.token}"}
    options = interviewer.client.open("/api/v1/exhibits/uploads", method="OPTIONS", headers=auth)
    assert options.status_code == 204
    assert options.headers["Tus-Version"] == "1.0.0" and options.headers["Tus-Checksum-Algorithm"] == "sha256"
    assert set(options.headers["Tus-Extension"].split(",")) == {"creation", "checksum", "expiration", "termination"}
    assert int(options.headers["Tus-Max-Size"]) == app.config["CASEWORK_EXHIBIT_MAX_BYTES"] == 4 * 1024**3
    assert events_of(app, options)[0]["action"] == "exhibit.discover"
    # No or another protocol version: 412, with the version served.
    old = create(interviewer, interview_path(world), 10, headers={"Tus-Resumable": "0.2.2"})
    assert_problem(old, 412)
    assert old.headers["Tus-Version"] == "1.0.0"
    # Creation problems.
    assert_problem(create(interviewer, interview_path(world), 10, kind="hologram"), 422)
    assert_problem(create(interviewer, interview_path(world), 10, colour="red"), 422)
    assert_problem(create(interviewer, interview_path(world), 4 * 1024**3 + 1), 413)
    assert_problem(create(interviewer, interview_path(world), 10, headers={"Upload-Length": "-1"}), 400)
    assert_problem(create(interviewer, interview_path(world), 10, headers={"Upload-Metadata": "kind !!!"}), 400)
    created = create(interviewer, interview_path(world), 20_000, filename="a.mp3")
    assert created.status_code == 201 and created.headers["Tus-Resumable"] == "1.0.0"
    assert created.headers["Upload-Expires"].endswith("GMT")
    url = created.headers["Location"]
    content = recording(20_000)
    state = head(interviewer, url)
    assert state.status_code == 200 and events_of(app, state)[0]["action"] == "exhibit.upload.status"
    assert state.headers["Upload-Length"] == "20000" and state.headers["Upload-Offset"] == "0"
    assert state.headers["Cache-Control"] == "no-store" and "Upload-Expires" in state.headers
    assert_problem(patch(interviewer, url, 5, content[:10]), 409)  # the offset is 0
    assert_problem(patch(interviewer, url, 0, content[:10], content_type="application/octet-stream"), 415)
    assert_problem(patch(interviewer, url, 0, content[:10], headers={"Upload-Checksum": "sha1 AAAA"}), 400)
    assert_problem(patch(interviewer, url, 0, content + b"extra"), 413)
    bad = patch(interviewer, url, 0, content[:9000], checksum=hashlib.sha256(b"other").digest())
    assert_problem(bad, 460)
    assert bad.get_json()["title"] == "Checksum Mismatch"
    assert events_of(app, bad)[0]["outcome"] == "error"
    assert head(interviewer, url).headers["Upload-Offset"] == "0"
    good = patch(interviewer, url, 0, content[:9000], checksum=hashlib.sha256(content[:9000]).digest())
    assert good.status_code == 204 and good.headers["Upload-Offset"] == "9000"
    (event,) = events_of(app, good)
    assert event["action"] == "exhibit.upload.write"
    assert event["details"]["bytes_received"] == 9000 and event["details"]["new_offset"] == 9000
    done = patch(interviewer, url, 9000, content[9000:])
    assert done.status_code == 200 and done.get_json()["sha256"] == hashlib.sha256(content).hexdigest()
    assert [e["action"] for e in events_of(app, done)] == ["exhibit.upload.write", "exhibit.create"]
    # Immutable once complete.
    assert_problem(patch(interviewer, url, 20_000, b""), 409)
    assert_problem(patch(interviewer, url, 0, content[:10]), 409)


def test_kind_must_match_the_detected_media_type(app, world: World):
    interviewer = world.people["interviewer"]
    url = create(interviewer, interview_path(world), 3000, kind="photo").headers["Location"]
    refused = patch(interviewer, url, 0, recording(3000))
    assert_problem(refused, 415)
    assert head(interviewer, url).headers["Upload-Offset"] == "0"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2992
    url, receipt = upload(interviewer, interview_path(world), png, kind="photo")
    assert receipt["media_type"] == "image/png"
    url, receipt = upload(interviewer, interview_path(world), "Протокол допиту\n".encode() * 100, kind="document")
    assert receipt["media_type"] == "text/plain"


def test_case_quota(app, world: World):
    with settings_replaced(app, exhibits={"case_quota_bytes": 10_000}):
        interviewer = world.people["interviewer"]
        assert create(interviewer, interview_path(world), 6000).status_code == 201
        over = create(interviewer, interview_path(world), 5000)
        assert "quota" in assert_problem(over, 413)["type"]
        assert create(interviewer, interview_path(world), 4000).status_code == 201


def record_epochs(app, exhibit_id: int) -> dict[int, bytes]:
    """index -> stored record, whichever store holds it."""
    with app.app_context():
        exhibit = db.session.get_one(Exhibit, exhibit_id)
        store = blobs.store(exhibit.blob_store)
        found = {}
        for index in range(-(-exhibit.size // exhibit.chunk_size)):
            with contextlib.suppress(blobs.MissingChunk):
                found[index] = store.get(exhibit.blob_key, index)
        return found


def test_resumed_and_refused_writes_never_reuse_a_key_and_nonce(app, world: World, store_name, small_chunks):
    """The attack: after a cut, resend *different* bytes for the same chunk index (a refused checksum,
    then the right bytes). Every record ever stored at an index under one epoch (one write key) must be
    the same record: a second, different ciphertext under the same epoch and index is nonce reuse."""
    interviewer = world.people["interviewer"]
    content = recording(300_000, seed=7)
    url = create(interviewer, interview_path(world), len(content)).headers["Location"]
    exhibit_id = exhibit_id_of(url)
    seen: dict[tuple[int, bytes], bytes] = {}

    def observe() -> None:
        for index, record in record_epochs(app, exhibit_id).items():
            key = (index, record[1:17])
            assert seen.setdefault(key, record) == record, f"chunk {index} re-encrypted under the same key"

    steps = [
        (0, content[:100_000], None),  # ends inside chunk 1: a partial tail is stored
        (100_000, os.urandom(50_000), b"\x00" * 32),  # refused (checksum) other bytes over the tail
        (100_000, content[100_000:100_001], None),  # one byte: the tail re-encrypted again
        (100_001, content[100_001:250_000], None),
        (250_000, os.urandom(50_000), hashlib.sha256(b"x").digest()),  # refused again
        (250_000, content[250_000:], None),
    ]
    for offset, data, checksum in steps:
        response = patch(interviewer, url, offset, data, checksum=checksum)
        assert response.status_code in (200, 204, 460), response.get_data(as_text=True)
        observe()
    assert head(interviewer, url).headers["Upload-Offset"] == str(len(content))
    assert world.people["legal"].get(f"/api/v1/exhibits/{exhibit_id}/content").data == content
    # Tail chunk 1 was written under several epochs; each epoch wrote it once.
    assert len({epoch for (index, epoch) in seen if index == 1}) >= 3


class GeneratedStream:
    """A request body generated on the fly: the test holds no copy of the whole upload either."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.position = size, 0
        self.block = MP3_HEAD + hashlib.sha256(str(seed).encode()).digest() * 2048 + MARK

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n is None or n < 0 else min(n, self.size - self.position)
        out = bytearray()
        while len(out) < n:
            at = (self.position + len(out)) % len(self.block)
            out += self.block[at : at + n - len(out)]
        self.position += n
        return bytes(out)

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: offset, 1: self.position + offset, 2: self.size + offset}[whence]
        return self.position

    def digest(self) -> str:
        copy, hasher = GeneratedStream(self.size, 0), hashlib.sha256()
        copy.block = self.block
        while piece := copy.read(1 << 20):
            hasher.update(piece)
        return hasher.hexdigest()


@pytest.mark.slow
def test_a_64_mib_upload_and_download_never_buffers_the_whole_file(app, world: World, store_name):
    interviewer = world.people["interviewer"]
    size = 64 * 1024 * 1024
    body = GeneratedStream(size, seed=3)
    url = create(interviewer, interview_path(world), size).headers["Location"]
    tracemalloc.start()
    try:
        response = interviewer.client.patch(
            url,
            input_stream=body,
            content_type="application/offset+octet-stream",
            headers={
                "Authorization": f"Bearer {interviewer.token}",
                **TUS,
                "Upload-Offset": "0",
                "Content-Length": str(size),
            },
        )
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert response.status_code == 200, response.get_data(as_text=True)
        receipt = response.get_json()
        download = world.people["legal"].get(f"/api/v1/exhibits/{exhibit_id_of(url)}/content")
        hasher, received = hashlib.sha256(), 0
        for piece in download.response:
            hasher.update(piece)
            received += len(piece)
        download.close()
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert receipt["sha256"] == hasher.hexdigest() == body.digest() and received == size
    # One chunk (1 MiB) and a few read pieces at a time: far below the 64 MiB uploaded.
    print(f"tracemalloc peaks: upload {upload_peak / 2**20:.1f} MiB, download {download_peak / 2**20:.1f} MiB")
    assert upload_peak < 12 * 1024 * 1024, upload_peak
    assert download_peak < 12 * 1024 * 1024, download_peak
    assert not any(MARK in record for record in stored_bytes(app, exhibit_id_of(url)))


def test_consent_withdrawal_shreds_interview_exhibits(app, world: World, store_name, small_chunks):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    content = recording(200_000)
    url, _ = upload(interviewer, interview_path(world), content, filename="ERASE-ME.mp3")
    exhibit_id = exhibit_id_of(url)
    pending = create(interviewer, interview_path(world), 1000).headers["Location"]  # an unfinished upload too
    assert stored_bytes(app, exhibit_id)
    with app.app_context():
        assert db.session.get_one(Exhibit, exhibit_id).datakey_kek_id == "subject"
    withdrawn = ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {
                "scopes": {
                    "record": True,
                    "share_with_prosecutors": False,
                    "share_with_un_bodies": False,
                    "disclose_identity": False,
                },
                "given_at": "2026-03-10T09:00:00Z",
                "withdrawn_at": "2026-04-01T12:00:00Z",
            },
        ),
        201,
    )
    assert withdrawn
    gone = legal.get(f"/api/v1/exhibits/{exhibit_id}/content")  # at once, before the erasure is confirmed
    assert_problem(gone, 410)
    assert MARK not in gone.data
    assert events_of(app, gone)[0]["action"] == "exhibit.read"
    ok(legal.post(f"/api/v1/witnesses/{world.witness_id}/erasure/confirm"))  # the second person
    assert stored_bytes(app, exhibit_id) == []  # the chunks are deleted from the store as well
    shown = ok(legal.get(f"/api/v1/exhibits/{exhibit_id}"))
    assert shown["shredded"] is True and (shown["filename"], shown["filename_withheld"]) == (None, False)
    assert head(interviewer, pending).status_code == 410
    assert_problem(create(interviewer, interview_path(world), 10), 409)
    shred_event = [e for e in all_events(app) if e["action"] == "erasure.confirm"][-1]
    assert shred_event["details"]["shredded"]["exhibits"] == 2


def test_incident_exhibits_are_under_the_kek_and_owned_by_their_uploader(app, world: World):
    legal, interviewer = world.people["legal"], world.people["interviewer"]
    path = f"/api/v1/incidents/{world.incident_id}/exhibits/uploads"
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(5000) + MARK
    url, receipt = upload(legal, path, png, kind="photo", filename="quarry.png")
    exhibit_id = exhibit_id_of(url)
    assert receipt["incident_id"] == world.incident_id and receipt["interview_id"] is None
    with app.app_context():
        assert db.session.get_one(Exhibit, exhibit_id).datakey_kek_id != "subject"
    assert legal.get(f"/api/v1/exhibits/{exhibit_id}/content").data == png
    assert_problem(interviewer.get(f"/api/v1/exhibits/{exhibit_id}/content"), 403)  # not the uploader
    assert_problem(create(world.people["outsider"], path, 10, kind="photo"), 404)
    listed = ok(legal.get(f"/api/v1/incidents/{world.incident_id}/exhibits"))["items"]
    assert [(item["id"], item["filename"]) for item in listed] == [(exhibit_id, "quarry.png")]
    # The uploader reads its content, and so its file name; the auditor sees that there is one.
    listed = ok(world.people["auditor"].get(f"/api/v1/incidents/{world.incident_id}/exhibits"))["items"]
    assert [(item["id"], item["filename"], item["filename_withheld"]) for item in listed] == [(exhibit_id, None, True)]


def test_abandoned_uploads_expire(app, world: World, small_chunks):
    interviewer = world.people["interviewer"]
    url = create(interviewer, interview_path(world), 200_000).headers["Location"]
    assert patch(interviewer, url, 0, recording(100_000)).status_code == 204
    exhibit_id = exhibit_id_of(url)
    with app.app_context():
        exhibit = db.session.get_one(Exhibit, exhibit_id)
        exhibit.expires_at = exhibit.expires_at.replace(year=2000)
        db.session.commit()
    assert head(interviewer, url).status_code == 410  # lazily, before the operator's sweep
    assert stored_bytes(app, exhibit_id)
    result = app.test_cli_runner().invoke(args=["exhibits", "expire"])
    assert result.exit_code == 0 and "expired 1" in result.output, result.output
    assert stored_bytes(app, exhibit_id) == []
    with app.app_context():
        assert db.session.get_one(Exhibit, exhibit_id).status == "expired"
    (event,) = [e for e in all_events(app) if e["action"] == "exhibit.expire"]
    assert event["actor_username"] == "system" and event["details"]["received"] == 100_000
    assert_problem(patch(interviewer, url, 100_000, recording(10)), 410)


def test_moved_swapped_or_dropped_chunks_fail_integrity(app, world: World, small_chunks):
    from casework.errors import IntegrityFailure
    from casework.exhibits.content import iter_plaintext

    interviewer = world.people["interviewer"]
    first, _ = upload(interviewer, interview_path(world), recording(200_000, seed=1))
    second, _ = upload(interviewer, interview_path(world), recording(200_000, seed=2))
    with app.app_context():
        a = db.session.get_one(Exhibit, exhibit_id_of(first))
        b = db.session.get_one(Exhibit, exhibit_id_of(second))
        store = blobs.store(a.blob_store)
        original = [store.get(a.blob_key, i) for i in range(4)]

        def attempt() -> None:
            with pytest.raises(IntegrityFailure):
                b"".join(iter_plaintext(a))

        store.put(a.blob_key, 0, original[1])  # swapped order
        store.put(a.blob_key, 1, original[0])
        attempt()
        store.put(a.blob_key, 0, store.get(b.blob_key, 0))  # moved from another exhibit
        store.put(a.blob_key, 1, original[1])
        attempt()
        store.put(a.blob_key, 0, original[0])
        assert b"".join(iter_plaintext(a)) == recording(200_000, seed=1)
        store.put(a.blob_key, 3, original[2])  # the last chunk replaced by a non-final one
        attempt()
        store.delete(a.blob_key)
        attempt()


def test_derived_transcript_versions_state_their_lineage(app, world: World):
    from casework.transcripts import receipts as transcript_receipts

    interviewer, legal = world.people["interviewer"], world.people["legal"]
    url, exhibit_receipt = upload(interviewer, interview_path(world), recording(5000))
    exhibit_id = exhibit_id_of(url)
    transcripts = f"/api/v1/interviews/{world.interview_id}/transcripts"
    codes = [{"segment": 0, "start_ms": 0, "end_ms": 4200}, {"segment": 1, "start_ms": 4200, "end_ms": 9100}]
    first = interviewer.post(
        transcripts,
        {"text": "Мене звати ...\nЯ бачила ...", "derived_from": {"exhibit_id": exhibit_id, "time_codes": codes}},
    )
    receipt = ok(first, 201)
    assert receipt["derived_from"] == {
        "exhibit_id": exhibit_id,
        "time_codes": 2,
        "exhibit_keyed_sha256": exhibit_receipt["keyed_sha256"],
    }
    assert transcript_receipts.verify(receipt, public_key(world))
    assert events_of(app, first)[0]["details"]["derived_from"]["exhibit_id"] == exhibit_id
    translation = interviewer.post(
        transcripts,
        {
            "text": "My name is ...\nI saw ...",
            "translation_of": {
                "version": 1,
                "translator": "TRANSLATOR-NAME Iryna K.",
                "method": "human",
                "certified": True,
            },
        },
    )
    receipt = ok(translation, 201)  # a translation is no correction: no reason needed
    assert receipt["version"] == 2
    assert receipt["translation_of"] == {"version": 1, "method": "human", "certified": True}
    event = events_of(app, translation)[0]
    assert event["details"]["translation_of"] == {"version": 1, "method": "human", "certified": True}
    assert "TRANSLATOR-NAME" not in str(event)
    assert event["action"] == "transcript.derive"
    # Lawyers of the case translate too (SPEC: translations, member cases); other interviewers do not.
    by_lawyer = ok(
        legal.post(
            transcripts,
            {
                "text": "Je m'appelle ...",
                "translation_of": {"version": 1, "translator": "DeepL", "method": "machine", "certified": False},
            },
        ),
        201,
    )
    assert by_lawyer["version"] == 3
    assert_problem(
        world.people["interviewer2"].post(
            transcripts,
            {"text": "x", "translation_of": {"version": 1, "translator": "x", "method": "human", "certified": False}},
        ),
        403,
    )
    assert_problem(legal.post(transcripts, {"text": "not a derived version", "reason": "r"}), 403)
    listed = ok(legal.get(transcripts))["items"]
    assert listed[0]["derived_from_exhibit_id"] == exhibit_id and listed[0]["time_codes"] == codes
    assert (
        listed[1]["translation_of_version"],
        listed[1]["translation_method"],
        listed[1]["translation_certified"],
        listed[1]["translator"],
    ) == (1, "human", True, "TRANSLATOR-NAME Iryna K.")
    # Lineage must point inside this interview, at something complete, and be one thing.
    other_interview = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {"witness_id": world.witness_id, "conducted_at": "2026-03-11T10:00:00Z", "language": "uk"},
        ),
        201,
    )["id"]
    unfinished = exhibit_id_of(create(interviewer, interview_path(world), 100).headers["Location"])
    for body in (
        {"derived_from": {"exhibit_id": 999999}},
        {"derived_from": {"exhibit_id": unfinished}},
        {"translation_of": {"version": 9, "translator": "x", "method": "human", "certified": False}},
        {"translation_of": {"version": 1, "translator": "x", "method": "telepathy", "certified": False}},
        {"derived_from": {"exhibit_id": exhibit_id, "time_codes": [{"segment": 0, "start_ms": 5, "end_ms": 1}]}},
        {
            "derived_from": {"exhibit_id": exhibit_id},
            "translation_of": {"version": 1, "translator": "x", "method": "human", "certified": False},
        },
    ):
        assert_problem(interviewer.post(transcripts, {"text": "t", **body}), 422)
    assert_problem(
        interviewer.post(
            f"/api/v1/interviews/{other_interview}/transcripts",
            {"text": "t", "derived_from": {"exhibit_id": exhibit_id}},
        ),
        422,
    )


def test_an_unfinished_upload_has_no_content_yet(app, world: World):
    interviewer = world.people["interviewer"]
    url = create(interviewer, interview_path(world), 5000).headers["Location"]
    assert patch(interviewer, url, 0, recording(5000)[:1000]).status_code == 204
    early = world.people["legal"].get(f"/api/v1/exhibits/{exhibit_id_of(url)}/content")
    assert_problem(early, 409)
    assert events_of(app, early)[0]["action"] == "exhibit.read"
    shown = ok(world.people["legal"].get(f"/api/v1/exhibits/{exhibit_id_of(url)}"))
    # The media type is the whole content's: judged when the upload completes.
    assert (shown["status"], shown["upload_offset"], shown["media_type"]) == ("uploading", 1000, None)
    anonymous = app.test_client().open("/api/v1/exhibits/uploads", method="OPTIONS")
    assert anonymous.status_code == 401 and events_of(app, anonymous)


def test_kek_rotation_rewraps_incident_exhibit_keys_without_touching_chunks(app, world: World):
    legal = world.people["legal"]
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
    url, _ = upload(legal, f"/api/v1/incidents/{world.incident_id}/exhibits/uploads", png, kind="photo")
    exhibit_id = exhibit_id_of(url)
    before_chunks = stored_bytes(app, exhibit_id)
    with app.app_context():
        old_kek = db.session.get_one(Exhibit, exhibit_id).datakey_kek_id
    runner = app.test_cli_runner()
    for args in (["keys", "rotate"], ["keys", "rewrap", "--batch-size", "1"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get_one(Exhibit, exhibit_id).datakey_kek_id not in (old_kek, "subject")
    assert stored_bytes(app, exhibit_id) == before_chunks
    assert legal.get(f"/api/v1/exhibits/{exhibit_id}/content").data == png


def test_range_and_metadata_parsing():
    from casework.errors import BadInput
    from casework.exhibits.tus import upload_metadata
    from casework.ranges import ByteRange
    from casework.ranges import parse as byte_range
    from config.settings import ConfigurationError, load_config

    assert byte_range("bytes=0-99") == ByteRange(0, 99) and byte_range("bytes=100-") == ByteRange(100, None)
    assert byte_range("bytes=-5") == ByteRange(None, None, 5)
    for ignored in (None, "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=x-1"):
        assert byte_range(ignored) is None  # RFC 9110: served whole
    assert upload_metadata("kind YXVkaW8=,empty,filename w4TDtsOcLm1wMw==") == {
        "kind": "audio",
        "empty": "",
        "filename": "ÄöÜ.mp3",
    }
    for bad in ("kind YXVkaW8=,kind YXVkaW8=", "kind ***", "kind AA==", "bad key"):
        with pytest.raises(BadInput):
            upload_metadata(bad)
    with pytest.raises(ConfigurationError):
        load_config("testing", {"CASEWORK_BLOB_STORE": "s3"})


def test_filesystem_store_is_private_and_beside_the_sqlite_file(app, world: World, backend, blob_dir):
    import stat

    interviewer = world.people["interviewer"]
    upload(interviewer, interview_path(world), recording(3000))
    files = [path for path in blob_dir.rglob("*") if path.is_file()]
    assert files and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o700 for path in blob_dir.rglob("*") if path.is_dir())
    with app.app_context(), settings_replaced(app, blobs={"directory": None}):
        expected = (
            backend["url"].removeprefix("sqlite:///") + ".blobs"
            if backend["name"] == "sqlite"
            else str(Path(__file__).resolve().parents[2] / "instance" / "blobs")
        )
        assert blobs.blob_dir() == expected


# -- media types: registered names, judged from the whole content -------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 3000 + b"\n%%EOF\n"


def upload_in(caller, path: str, content: bytes, cuts: list[int], **pairs: str):
    """An upload sent as PATCHes ending at ``cuts`` (and the end); the last answer."""
    url = create(caller, path, len(content), **pairs).headers["Location"]
    start, response = 0, None
    for end in [*cuts, len(content)]:
        response = patch(caller, url, start, content[start:end])
        if response.status_code not in (200, 204):
            return url, response
        start = end
    return url, response


def test_the_media_type_is_judged_from_the_whole_content(app, world: World, small_chunks):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    path = interview_path(world)
    # A first PATCH of one byte used to receipt a PDF as text/plain.
    url, done = upload_in(interviewer, path, PDF, [1, 2, 700], kind="document")
    assert ok(done)["media_type"] == "application/pdf"
    assert ok(legal.get(f"/api/v1/exhibits/{exhibit_id_of(url)}"))["media_type"] == "application/pdf"
    # Registered names, not the x- names detectors emit.
    wave = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + b"\x10\x00\x00\x00" + b"\x01\x00" * 10
    _, done = upload_in(interviewer, path, wave, [3], kind="audio")
    assert ok(done)["media_type"] == "audio/vnd.wave"
    # Text at first and binary later (past the first chunk) is no text: not a document...
    text_then_binary = "Протокол допиту\n".encode() * 6000 + b"\x00\x01\x02\xff" + b"more text\n" * 10
    url, refused = upload_in(interviewer, path, text_then_binary, [70_000], kind="document")
    body = assert_problem(refused, 415)
    assert "application/octet-stream" in body["detail"]
    assert head(interviewer, url).headers["Upload-Offset"] == "70000"  # the completing PATCH kept nothing
    # ...while kind "other" takes anything, under the registered name of unknown bytes.
    _, done = upload_in(interviewer, path, text_then_binary, [70_000], kind="other")
    assert ok(done)["media_type"] == "application/octet-stream"
    _, done = upload_in(interviewer, path, "Протокол допиту\n".encode() * 6000, [5, 90_000], kind="document")
    assert ok(done)["media_type"] == "text/plain"


def test_a_claimed_filetype_is_a_registered_media_type(app, world: World):
    interviewer = world.people["interviewer"]
    path = interview_path(world)
    for free_text in ("Oksana's recording at the quarry", "audio/oksana-at-the-quarry", "x" * 101):
        refused = create(interviewer, path, 10, filetype=free_text)
        assert "filetype" in assert_problem(refused, 422)["errors"]["metadata"]
    assert "Oksana" not in str(all_events(app)) and "oksana" not in str(all_events(app))
    for claim, registered in (
        ("audio/x-wav", "audio/vnd.wave"),
        ("AUDIO/MPEG; name=x", "audio/mpeg"),
        ("image/jpg", "image/jpeg"),
        ("video/webm", "video/webm"),
    ):
        created = create(interviewer, path, 10, filetype=claim)
        assert created.status_code == 201, created.get_data(as_text=True)
        assert events_of(app, created)[0]["details"]["media_type_claim"] == registered


def test_expired_uploads_stop_counting_against_the_quota_at_once(app, world: World, monkeypatch):
    patch_settings(monkeypatch, app, exhibits={"case_quota_bytes": 10_000})
    interviewer = world.people["interviewer"]
    first = create(interviewer, interview_path(world), 6000)
    assert first.status_code == 201
    assert "quota" in assert_problem(create(interviewer, interview_path(world), 5000), 413)["type"]
    with app.app_context():
        exhibit = db.session.get_one(Exhibit, exhibit_id_of(first.headers["Location"]))
        exhibit.expires_at = exhibit.expires_at.replace(year=2000)
        db.session.commit()
    # No operator sweep has run: the expired upload no longer holds its bytes.
    assert create(interviewer, interview_path(world), 5000).status_code == 201
    with app.app_context():
        assert db.session.get_one(Exhibit, exhibit_id_of(first.headers["Location"])).status == "uploading"


def test_uploads_in_progress_are_capped_per_person(app, world: World, monkeypatch):
    assert settings(app).exhibits.uploads_in_progress == 16  # the default
    patch_settings(monkeypatch, app, exhibits={"uploads_in_progress": 3})
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    urls = [create(interviewer, interview_path(world), 4000).headers["Location"] for _ in range(3)]
    refused = create(interviewer, interview_path(world), 10)
    body = assert_problem(refused, 409)
    assert body["type"].endswith("too-many-uploads-in-progress") and "3" in body["detail"]
    (event,) = events_of(app, refused)
    assert (event["action"], event["outcome"]) == ("exhibit.upload.create", "error")
    # Someone else's uploads are their own.
    assert create(legal, f"/api/v1/incidents/{world.incident_id}/exhibits/uploads", 10, kind="photo").status_code == 201
    # A completed upload, or one past its expiry, frees its place at once.
    assert patch(interviewer, urls[0], 0, recording(4000)).status_code == 200
    assert create(interviewer, interview_path(world), 10).status_code == 201
    assert_problem(create(interviewer, interview_path(world), 10), 409)
    with app.app_context():
        exhibit = db.session.get_one(Exhibit, exhibit_id_of(urls[1]))
        exhibit.expires_at = exhibit.expires_at.replace(year=2000)
        db.session.commit()
    assert create(interviewer, interview_path(world), 10).status_code == 201


# -- Repr-Digest on downloads (RFC 9530) ----------------------------------------------------------------


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def test_downloads_carry_the_whole_exhibits_repr_digest(app, world: World, store_name, small_chunks):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    content = recording(300_001, seed=5)
    url, receipt = upload(interviewer, interview_path(world), content, filename="W-0001 digest.mp3")
    exhibit_id = exhibit_id_of(url)
    whole = legal.get(f"/api/v1/exhibits/{exhibit_id}/content")
    assert whole.status_code == 200 and whole.data == content
    assert whole.headers["Repr-Digest"] == repr_digest(whole.data)
    assert base64.b64decode(whole.headers["Repr-Digest"][len("sha-256=:") : -1]).hex() == receipt["sha256"]
    # A range carries the whole representation's digest (not the part's): a resumed download checks it.
    parts = [
        legal.get(f"/api/v1/exhibits/{exhibit_id}/content", headers={"Range": spec})
        for spec in ("bytes=0-70000", "bytes=70001-")
    ]
    assert [part.status_code for part in parts] == [206, 206]
    resumed = b"".join(part.data for part in parts)
    assert all(part.headers["Repr-Digest"] == repr_digest(resumed) for part in parts)
    assert parts[0].headers["Repr-Digest"] != repr_digest(parts[0].data)
    own = interviewer.get(f"/api/v1/exhibits/{exhibit_id}/content", headers={"Range": "bytes=-10"})
    assert own.status_code == 206 and own.headers["Repr-Digest"] == repr_digest(content)
    asked = legal.client.head(
        f"/api/v1/exhibits/{exhibit_id}/content", headers={"Authorization": f"Bearer {legal.token}"}
    )
    assert asked.status_code == 200 and asked.headers["Repr-Digest"] == repr_digest(content)
    # Not for those refused the read; not in metadata, the log, or the database in the clear.
    refused = world.people["interviewer2"].get(f"/api/v1/exhibits/{exhibit_id}/content")
    assert_problem(refused, 403)
    assert "Repr-Digest" not in refused.headers
    plain = hashlib.sha256(content)
    for shown in (
        world.people["auditor"].get(f"/api/v1/exhibits/{exhibit_id}"),
        legal.get(f"/api/v1/exhibits/{exhibit_id}"),
    ):
        assert plain.hexdigest() not in shown.get_data(as_text=True)
    assert plain.hexdigest() not in str(all_events(app))
    with app.app_context():
        row = db.session.get_one(Exhibit, exhibit_id)
        stored = [value for value in (getattr(row, c.key) for c in Exhibit.__table__.columns) if value is not None]
        assert not any(plain.digest() in v or plain.hexdigest().encode() in v for v in stored if isinstance(v, bytes))
        assert plain.hexdigest() not in str(row.receipt)
    # The free text sealed beside the digest still reads as before.
    assert ok(legal.get(f"/api/v1/exhibits/{exhibit_id}"))["filename"] == "W-0001 digest.mp3"


def test_an_incident_exhibit_and_an_empty_one_carry_repr_digest(app, world: World):
    legal, interviewer = world.people["legal"], world.people["interviewer"]
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(4000)
    url, _ = upload(legal, f"/api/v1/incidents/{world.incident_id}/exhibits/uploads", png, kind="photo")
    read = legal.get(f"/api/v1/exhibits/{exhibit_id_of(url)}/content", headers={"Range": "bytes=100-199"})
    assert read.status_code == 206 and read.headers["Repr-Digest"] == repr_digest(png)
    url, _ = upload(interviewer, interview_path(world), b"", kind="other")
    empty = legal.get(f"/api/v1/exhibits/{exhibit_id_of(url)}/content")
    assert empty.status_code == 200 and empty.data == b"" and empty.headers["Repr-Digest"] == repr_digest(b"")


def test_exhibits_completed_before_digests_were_sealed_get_them_from_the_operator(app, world: World):
    """Exhibits completed before the digest was sealed beside the free text: no Repr-Digest (never a
    wrong one) until ``flask exhibits seal-digests`` seals it, checked against the keyed hash."""
    from casework.exhibits.sealed import free_text

    interviewer, legal = world.people["interviewer"], world.people["legal"]
    content, other = recording(5000), recording(6000, seed=2)
    ids = [
        exhibit_id_of(upload(interviewer, interview_path(world), content, filename="old.mp3")[0]),
        exhibit_id_of(upload(interviewer, interview_path(world), other)[0]),
    ]
    with app.app_context():  # seal the free text as completion used to: without the digest
        for exhibit_id in ids:
            exhibit = db.session.get_one(Exhibit, exhibit_id)
            exhibit.sealed_freetext.seal(json.dumps(free_text(exhibit)).encode())
        db.session.get_one(Exhibit, ids[1]).keyed_sha256 = b"\x00" * 32  # no longer what its content hashes to
        db.session.commit()
    read = legal.get(f"/api/v1/exhibits/{ids[0]}/content")
    assert read.status_code == 200 and read.data == content and "Repr-Digest" not in read.headers
    runner = app.test_cli_runner()
    result = runner.invoke(args=["exhibits", "seal-digests"])
    assert result.exit_code == 0 and "sealed the digest of 1 exhibit(s)" in result.output, result.output
    read = legal.get(f"/api/v1/exhibits/{ids[0]}/content")
    assert read.headers["Repr-Digest"] == repr_digest(read.data) == repr_digest(content)
    assert "Repr-Digest" not in legal.get(f"/api/v1/exhibits/{ids[1]}/content").headers
    assert ok(legal.get(f"/api/v1/exhibits/{ids[0]}"))["filename"] == "old.mp3"
    (event,) = [e for e in all_events(app) if e["action"] == "exhibit.digest.seal"]
    assert event["actor_username"] == "system" and event["resource_id"] == str(ids[0])
    assert hashlib.sha256(content).hexdigest() not in str(event)
    result = runner.invoke(args=["exhibits", "seal-digests"])
    assert "sealed the digest of 0 exhibit(s)" in result.output, result.output


# -- tus termination ------------------------------------------------------------------------------------


def terminate(caller, url: str, headers: dict | None = None):
    return caller.client.delete(url, headers={"Authorization": f"Bearer {caller.token}", **TUS, **(headers or {})})


def test_tus_termination_cancels_an_unfinished_upload(app, world: World, store_name, small_chunks):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    content = recording(300_000, seed=9)
    created = create(interviewer, interview_path(world), len(content), filename="WRONG-FILE.mp3")
    url = created.headers["Location"]
    exhibit_id = exhibit_id_of(url)
    assert patch(interviewer, url, 0, content[:100_000]).status_code == 204  # one whole chunk and a partial one
    assert len(stored_bytes(app, exhibit_id)) == 2
    # The protocol version is required, as for every tus request but OPTIONS.
    assert_problem(interviewer.client.delete(url, headers={"Authorization": f"Bearer {interviewer.token}"}), 412)
    cancelled = terminate(interviewer, url)
    assert cancelled.status_code == 204 and cancelled.data == b"" and "Content-Type" not in cancelled.headers
    assert cancelled.headers["Tus-Resumable"] == "1.0.0"
    (event,) = events_of(app, cancelled)
    assert (event["action"], event["outcome"], event["resource_type"], event["resource_id"]) == (
        "exhibit.upload.terminate",
        "allowed",
        "exhibit",
        str(exhibit_id),
    )
    assert event["case_id"] == world.case_id and event["witness_id"] == world.witness_id
    assert event["details"]["upload_offset"] == 100_000 and event["details"]["upload_length"] == len(content)
    assert event["details"]["chunks_deleted"] == 2 and event["details"]["status"] == "uploading"
    assert "WRONG-FILE" not in str(event)
    # What it stored is gone: the chunks from the store, the data key and free text from the row.
    assert stored_bytes(app, exhibit_id) == []
    with app.app_context():
        row = db.session.get_one(Exhibit, exhibit_id)
        assert row.status == "terminated"
        assert row.datakey_wrapped_key is None and row.freetext_wrapped_key is None
    # From now on the upload URL answers 410, whatever is asked.
    assert head(interviewer, url).status_code == 410
    for again in (patch(interviewer, url, 100_000, content[100_000:]), terminate(interviewer, url)):
        assert assert_problem(again, 410)["type"].endswith("upload-terminated")
        assert events_of(app, again)[0]["outcome"] == "error"
    assert_problem(legal.get(f"/api/v1/exhibits/{exhibit_id}/content"), 409)
    # The row stays, with its trail: metadata says what happened, and shows no file name any more.
    shown = ok(legal.get(f"/api/v1/exhibits/{exhibit_id}"))
    assert (shown["status"], shown["upload_offset"], shown["filename"]) == ("terminated", 100_000, None)
    trail = [
        (e["action"], e["outcome"])
        for e in all_events(app)
        if (e["resource_type"], e["resource_id"]) == ("exhibit", str(exhibit_id))
    ]
    assert trail.index(("exhibit.upload.terminate", "allowed")) > trail.index(("exhibit.upload.write", "allowed"))


def test_a_terminated_upload_frees_its_place_and_quota(app, world: World, monkeypatch):
    patch_settings(monkeypatch, app, exhibits={"uploads_in_progress": 1, "case_quota_bytes": 10_000})
    interviewer = world.people["interviewer"]
    url = create(interviewer, interview_path(world), 8000).headers["Location"]
    assert_problem(create(interviewer, interview_path(world), 8000), 409)  # one upload in progress at most
    assert terminate(interviewer, url).status_code == 204
    url, receipt = upload(interviewer, interview_path(world), recording(8000))
    assert receipt["size"] == 8000


@pytest.mark.parametrize(
    "role,status", [("interviewer2", 403), ("legal", 403), ("admin", 403), ("auditor", 403), ("outsider", 404)]
)
def test_only_who_may_write_an_upload_may_terminate_it(app, world: World, role, status):
    interviewer = world.people["interviewer"]
    url = create(interviewer, interview_path(world), 5000).headers["Location"]
    assert patch(interviewer, url, 0, recording(5000)[:1000]).status_code == 204
    refused = terminate(world.people[role], url)
    assert_problem(refused, status)
    (event,) = events_of(app, refused)
    assert (event["action"], event["outcome"], event["resource_id"]) == (
        "exhibit.upload.terminate",
        "denied",
        str(exhibit_id_of(url)),
    )
    assert event["actor_id"] == world.people[role].id
    # Nothing happened to the upload: it resumes and completes.
    assert head(interviewer, url).headers["Upload-Offset"] == "1000"
    assert patch(interviewer, url, 1000, recording(5000)[1000:]).status_code == 200


def test_an_incident_upload_is_terminated_by_its_uploader_only(app, world: World):
    legal, interviewer = world.people["legal"], world.people["interviewer"]
    url = create(legal, f"/api/v1/incidents/{world.incident_id}/exhibits/uploads", 5000, kind="photo").headers[
        "Location"
    ]
    assert_problem(terminate(interviewer, url), 403)  # a member of the case, not the uploader
    assert terminate(legal, url).status_code == 204
    assert head(legal, url).status_code == 410


def test_a_complete_exhibit_is_never_terminated(app, world: World):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    content = recording(5000)
    url, _ = upload(interviewer, interview_path(world), content)
    exhibit_id = exhibit_id_of(url)
    refused = terminate(interviewer, url)
    body = assert_problem(refused, 409)
    assert body["type"].endswith("exhibit-immutable") and "immutable" in body["detail"]
    (event,) = events_of(app, refused)
    assert (event["action"], event["outcome"]) == ("exhibit.upload.terminate", "error")
    assert event["details"]["refused"] == "exhibit_complete" and event["details"]["status"] == 409
    assert legal.get(f"/api/v1/exhibits/{exhibit_id}/content").data == content  # untouched
    assert ok(legal.get(f"/api/v1/exhibits/{exhibit_id}"))["status"] == "complete"
    assert_problem(terminate(world.people["interviewer2"], url), 403)  # and others are refused first


def test_unknown_upload_termination_is_refused_like_a_hidden_one(app, world: World):
    refused = terminate(world.people["interviewer"], "/api/v1/exhibits/999999/upload")
    assert_problem(refused, 404)
    (event,) = events_of(app, refused)
    assert (event["action"], event["outcome"], event["details"]["reason"]) == (
        "exhibit.upload.terminate",
        "denied",
        "not_found",
    )
    anonymous = app.test_client().delete("/api/v1/exhibits/999999/upload", headers=TUS)
    assert anonymous.status_code == 401 and events_of(app, anonymous)[0]["outcome"] == "denied"
