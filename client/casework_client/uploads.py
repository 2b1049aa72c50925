"""Sending a statement (one POST) or an exhibit (tus, with tuspy), from a file or from the outbox.

Statements go as multipart/form-data (the file and the reason in the body, never in the URL
where proxies log it) with ``Idempotency-Key`` and ``Content-Digest`` (RFC 9530) over the exact
body sent. Exhibits go by tus 1.0: creation, then PATCHes of ``chunk_size`` bytes, each with
``Upload-Checksum: sha256``; the upload URL is remembered before the first byte, so a re-run
(or ``outbox send``) continues where the server's HEAD says it stopped. The PATCH that completes
the upload answers the signed receipt; if that answer was lost, GET /exhibits/{id}/receipt
serves the stored one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import mimetypes
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader import Uploader

from casework_client.api import API, TRANSIENT_STATUSES, USER_AGENT, Api, ApiError, Unreachable
from casework_client.config import Config

KINDS = ("audio", "video", "photo", "document", "other")
DEFAULT_CHUNK = 1 << 20  # the server's encryption chunk: on SQLite a PATCH must be at most this
_EXHIBIT_URL = re.compile(r"/api/v1/exhibits/([0-9]+)/upload$")


class Sha256Uploader(Uploader):
    """tuspy checksums with sha1 unless told; the server speaks sha256 (Tus-Checksum-Algorithm)."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


# -- statements ------------------------------------------------------------------------------


def _multipart(content: bytes, filename: str | None, reason: str | None) -> tuple[bytes, str]:
    """The form body, built here so Content-Digest covers exactly the bytes sent."""
    boundary = "casework-" + secrets.token_hex(16)
    parts = []
    if reason:
        parts.append(
            b'Content-Disposition: form-data; name="reason"\r\n'
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + reason.encode("utf-8")
        )
    disposition = 'form-data; name="file"'
    if filename:
        ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
        disposition += f'; filename="{ascii_name}"'
        if ascii_name != filename:
            disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    parts.append(
        f"Content-Disposition: {disposition}\r\n".encode()
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + content
    )
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def content_digest(body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def send_statement(
    api: Api, interview_id: int, content: bytes, *, filename: str | None, reason: str | None, idempotency_key: str
) -> tuple[dict[str, Any], bool]:
    """POST the statement; answer the receipt and whether it was a replay of an earlier send (200)."""
    body, media_type = _multipart(content, filename, reason)
    response = api.request(
        "POST",
        f"/interviews/{interview_id}/transcripts",
        200,
        201,
        content=body,
        headers={
            "Content-Type": media_type,
            "Idempotency-Key": idempotency_key,
            "Content-Digest": content_digest(body),
        },
    )
    return response.json(), response.status_code == 200


# -- exhibits --------------------------------------------------------------------------------


def guess_kind(path: Path) -> str:
    media_type = mimetypes.guess_type(path.name)[0] or ""
    if media_type.startswith("audio/"):
        return "audio"
    if media_type.startswith("video/"):
        return "video"
    if media_type.startswith("image/"):
        return "photo"
    if media_type.startswith("text/") or media_type == "application/pdf" or "document" in media_type:
        return "document"
    return "other"


def exhibit_id_of(url: str, server: str) -> int:
    """The exhibit an upload URL names; one on another origin is refused (the token goes with it)."""
    target, home = urlsplit(url), urlsplit(server)
    match = _EXHIBIT_URL.search(target.path)
    if not match or (target.scheme, target.netloc) != (home.scheme, home.netloc):
        raise ApiError(0, f"the server answered an unexpected upload URL {url!r}")
    return int(match.group(1))


def _tus_failure(exc: TusCommunicationError, server: str) -> Exception:
    status = getattr(exc, "status_code", None)
    if status is None or status in TRANSIENT_STATUSES:
        return Unreachable(f"cannot reach {server}: {exc}")
    content = getattr(exc, "response_content", None) or b""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if isinstance(body, dict) and "title" in body:
        return ApiError(
            status,
            str(body["title"]),
            str(body.get("detail") or ""),
            str(body.get("type", "")).rstrip("/").rsplit("/", 1)[-1],
            body.get("errors"),
        )
    return ApiError(status, f"tus request refused: {exc}")


class UrlMemory:
    """Where an exhibit's upload URL is remembered: tuspy's FileStorage (direct uploads, keyed by a
    keyed hash of server, user, target and content) or the outbox item itself."""

    def __init__(self, get: Callable[[], str | None], put: Callable[[str | None], None]) -> None:
        self.get, self.put = get, put

    @classmethod
    def tus_storage(cls, config: Config, target: str, sha256: str, kind: str) -> UrlMemory:
        path = config.directory / "tus-uploads.json"
        if not path.exists():
            path.touch(mode=0o600)
        # Keyed by a secret of this config: the file names no content hash a reader could confirm.
        key = hmac.new(
            config.local_salt.encode(),
            f"{config.server}|{config.username}|{target}|{kind}|{sha256}".encode(),
            hashlib.sha256,
        ).hexdigest()

        def get() -> str | None:
            storage = FileStorage(str(path))
            try:
                return storage.get_item(key)
            finally:
                storage.close()

        def put(url: str | None) -> None:
            storage = FileStorage(str(path))
            try:
                if url is None:
                    storage.remove_item(key)
                else:
                    storage.set_item(key, url)
            finally:
                storage.close()

        return cls(get, put)


@dataclass
class ExhibitResult:
    exhibit_id: int
    receipt: dict[str, Any]
    stored_receipt: bool  # True: the completing answer was not ours to read (GET .../receipt)
    resumed_from: int | None


def send_exhibit(
    api: Api,
    token: str,
    interview_id: int,
    stream: IO[bytes] | io.RawIOBase,
    size: int,
    *,
    kind: str,
    filename: str | None,
    memory: UrlMemory,
    chunk_size: int,
    retries: int,
    on_start: Callable[[int, int | None], None],
    on_progress: Callable[[int], None],
) -> ExhibitResult:
    """Upload (or continue uploading) ``stream`` as an exhibit of the interview."""
    endpoint = f"{api.server}{API}/interviews/{interview_id}/exhibits/uploads"
    client = TusClient(endpoint, headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT})
    metadata = {"kind": kind, **({"filename": filename[:255]} if filename else {})}
    options: dict[str, Any] = {
        "file_stream": stream,
        "client": client,
        "chunk_size": chunk_size,
        "metadata": metadata,
        "upload_checksum": True,
        "retries": retries,
        "retry_delay": 2,
    }
    known = memory.get()
    resumed_from: int | None = None
    uploader: Sha256Uploader | None = None
    if known:
        exhibit_id_of(known, api.server)
        try:
            uploader = Sha256Uploader(url=known, **options)  # HEAD: the offset the server holds
            resumed_from = uploader.offset
        except TusCommunicationError as exc:
            failure = _tus_failure(exc, api.server)
            if not isinstance(failure, ApiError) or failure.status not in (404, 410):
                raise failure from None
            memory.put(None)  # expired, cancelled or unknown: start again
    try:
        if uploader is None:
            uploader = Sha256Uploader(**options)
            url = uploader.create_url()
            exhibit_id_of(url, api.server)
            memory.put(url)  # before the first byte: any later attempt continues this upload
            uploader.set_url(url)
            uploader.offset = 0
        exhibit_id = exhibit_id_of(uploader.url or "", api.server)
        on_start(exhibit_id, resumed_from)
        on_progress(uploader.offset)
        while uploader.offset < size:
            try:
                uploader.upload_chunk()
            except TusCommunicationError as exc:
                failure = _tus_failure(exc, api.server)
                if isinstance(failure, ApiError) and failure.problem == "upload-complete":
                    break  # it completed, but the answer with the receipt was lost on the way
                raise failure from None
            on_progress(uploader.offset)
    except TusCommunicationError as exc:
        raise _tus_failure(exc, api.server) from None
    request = uploader.request
    if request is not None and request.status_code == 200 and request.response_content:
        result = ExhibitResult(exhibit_id, json.loads(request.response_content), False, resumed_from)
    else:  # complete before this run (the answer to the last PATCH was lost): the stored receipt
        result = ExhibitResult(exhibit_id, api.get_json(f"/exhibits/{exhibit_id}/receipt"), True, resumed_from)
    memory.put(None)
    return result
