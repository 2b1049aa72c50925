"""A client that sends its body slowly holds nothing while it sends: bodies are read before the
request's transaction opens. On SQLite every transaction holds the write lock from its first
statement, so a body read inside one made every other request wait (then fail after the busy
timeout). Real slow clients against a real gunicorn on SQLite: a JSON body, a transcript upload
and a tus PATCH of one chunk, each paused half-way, while another user's request is answered.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid

import pytest

from tests.conftest import World, ok
from tests.pg_server import Server, gunicorn

PAUSE = 3.0  # seconds each slow client waits half-way through its body


def _slow_request(
    port: int,
    method: str,
    path: str,
    token: str,
    content_type: str,
    body: bytes,
    started: threading.Event,
    extra: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Send the head and half the body, pause, send the rest; the status and body of the answer."""
    headers = {
        "Host": "casework",
        "Connection": "close",
        "Authorization": f"Bearer {token}",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        **(extra or {}),
    }
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + body[:half])
        started.set()
        time.sleep(PAUSE)
        sock.sendall(body[half:])
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _multipart(filename: str, content: bytes) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def _new_upload(server: Server, world: World, size: int) -> str:
    interviewer = world.people["interviewer"]
    status, headers, _ = server.request(
        "POST",
        f"/api/v1/interviews/{world.interview_id}/exhibits/uploads",
        interviewer.token,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(size),
            "Upload-Metadata": "kind " + base64.b64encode(b"audio").decode(),
        },
    )
    assert status == 201, status
    return headers["location"]


def test_a_slow_body_holds_up_no_other_request(app, world: World, backend, keyring_path):
    if backend["name"] != "sqlite":
        pytest.skip("SQLite's write lock: on PostgreSQL a transaction locks only the rows it writes")
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    recording = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 20
    content_type, multipart = _multipart("W-0001 statement.txt", "Я бачила їх біля кар'єру.\n".encode() * 200)
    with gunicorn(backend["url"], keyring_path, workers=4) as server:
        upload_url = _new_upload(server, world, len(recording))
        slow = [
            (
                "POST",
                f"/api/v1/cases/{world.case_id}/incidents",
                "application/json",
                json.dumps(
                    {"reference": "SLOW-1", "title": "Shelling of the school", "description": "x" * 5000}
                ).encode(),
                None,
            ),
            ("POST", f"/api/v1/interviews/{world.interview_id}/transcripts", content_type, multipart, None),
            (
                "PATCH",
                upload_url,
                "application/offset+octet-stream",
                recording,
                {"Tus-Resumable": "1.0.0", "Upload-Offset": "0"},
            ),
        ]
        results: dict[int, tuple[int, bytes]] = {}
        started = [threading.Event() for _ in slow]

        def send(n: int) -> None:
            method, path, kind, body, extra = slow[n]
            results[n] = _slow_request(server.port, method, path, interviewer.token, kind, body, started[n], extra)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(slow))]
        for thread in threads:
            thread.start()
        for event in started:
            assert event.wait(10)
        time.sleep(0.5)  # the slow requests are in the server now, waiting for the rest of their bodies
        began = time.monotonic()
        status, _, answer = server.request("GET", f"/api/v1/cases/{world.case_id}/incidents", legal.token)
        waited = time.monotonic() - began
        for thread in threads:
            thread.join(30)
    assert status == 200, answer[:500]
    assert waited < PAUSE / 2, f"a request waited {waited:.1f} s for another's slow body"
    assert [results[n][0] for n in range(len(slow))] == [201, 201, 200], results
    assert json.loads(results[2][1])["media_type"] == "audio/mpeg"  # the upload completed
    incidents = ok(legal.get(f"/api/v1/cases/{world.case_id}/incidents"))["items"]
    assert "SLOW-1" in [incident["reference"] for incident in incidents]
    versions = ok(interviewer.get(f"/api/v1/interviews/{world.interview_id}/transcripts"))["items"]
    assert versions[-1]["filename"] == "W-0001 statement.txt"
