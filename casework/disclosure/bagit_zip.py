"""A BagIt bag (RFC 8493) written as a zip stream, in constant memory.

zipstream-ng writes each file as it is iterated (data descriptors after the bytes), so the
payload is hashed on its way into the zip and the manifests, which need every hash, are
written last. What stays in memory is one (path, digest, size) row per file.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream  # type: ignore[import-untyped]

from casework_verify import bag_format as fmt

Sign = Callable[[str], str]
"""Given the tag manifest's SHA-256 (hex), return the signature file's text."""


class BagZip:
    """Write payload and tag files into one zip under ``root/``; ``finish`` closes the bag.

    Every method returns an iterator of zip bytes; the caller yields from them in order.
    """

    def __init__(self, root: str) -> None:
        if fmt.safe_name(root) != root:
            raise ValueError(f"unsafe bag name {root!r}")
        self.root = root
        # Stored, not deflated: evidence is mostly already compressed (audio, video, photos), and
        # stored entries keep the server's work per byte minimal. Text tag files are deflated.
        self._zip = ZipStream(compress_type=ZIP_STORED)
        self._payload: list[tuple[str, str]] = []
        self._tags: list[tuple[str, str]] = []
        self.payload_bytes = 0
        self.last: tuple[str, int] = ("", 0)
        self._finished = False

    def _add(self, path: str, chunks: Iterable[bytes], record: list[tuple[str, str]], *,
             deflate: bool) -> Iterator[bytes]:
        if self._finished:
            raise RuntimeError("the bag is already finished")
        _check_path(path)
        digest = hashlib.sha256()
        size = 0

        def hashed() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                if chunk:
                    digest.update(chunk)
                    size += len(chunk)
                    yield chunk

        self._zip.add(hashed(), f"{self.root}/{path}", compress_type=ZIP_DEFLATED if deflate else None)
        yield from self._zip.all_files()
        record.append((path, digest.hexdigest()))
        self.last = (digest.hexdigest(), size)
        if record is self._payload:
            self.payload_bytes += size

    def start(self) -> Iterator[bytes]:
        """bagit.txt, first: constant, so the stream's first bytes need no database read."""
        return self.tag("bagit.txt", fmt.BAGIT_TXT)

    def payload(self, path: str, chunks: Iterable[bytes], *, deflate: bool = False) -> Iterator[bytes]:
        """A file under ``data/``; once written, ``last`` holds its (sha256 hex, size)."""
        if not path.startswith("data/"):
            raise ValueError("payload files live under data/")
        return self._add(path, chunks, self._payload, deflate=deflate)

    def tag(self, path: str, content: bytes) -> Iterator[bytes]:
        """A tag file (outside ``data/``), listed in the tag manifest."""
        if path.startswith("data/") or path in (fmt.TAGMANIFEST, fmt.SIGNATURE_FILE):
            raise ValueError(f"{path} is not a tag file this writer lists")
        return self._add(path, [content], self._tags, deflate=True)

    def finish(self, bag_info: Iterable[tuple[str, str]], sign: Sign) -> Iterator[bytes]:
        """bag-info.txt (with Payload-Oxum), the manifests, the signature, the zip footer."""
        info = [*bag_info,
                ("Bagging-Date", datetime.now(UTC).date().isoformat()),
                ("Payload-Oxum", f"{self.payload_bytes}.{len(self._payload)}")]
        yield from self.tag("bag-info.txt", _bag_info(info))
        yield from self.tag(fmt.MANIFEST, _manifest(self._payload))
        tagmanifest = _manifest(self._tags)
        self._finished = True
        self._zip.add(tagmanifest, f"{self.root}/{fmt.TAGMANIFEST}", compress_type=ZIP_DEFLATED)
        self._zip.add(sign(hashlib.sha256(tagmanifest).hexdigest()).encode("utf-8"),
                      f"{self.root}/{fmt.SIGNATURE_FILE}")
        yield from self._zip.finalize()


def _check_path(path: str) -> str:
    """RFC 8493 2.1.3 would percent-encode CR, LF and %; bagit-python decodes only CR and LF.
    Such names are refused instead (the bundle's names never need them), so every tool agrees."""
    if any(c in path for c in "%\r\n\\") or path.startswith("/") or ".." in path.split("/"):
        raise ValueError(f"unsafe path in a bag: {path!r}")
    return path


def _manifest(rows: list[tuple[str, str]]) -> bytes:
    return "".join(f"{digest}  {path}\n" for path, digest in rows).encode("utf-8")


def _bag_info(rows: list[tuple[str, str]]) -> bytes:
    """``Label: value`` lines; values are folded onto one line (no newlines in a tag value)."""
    lines = []
    for label, value in rows:
        if not label or ":" in label or any(c.isspace() for c in label):
            raise ValueError(f"bad bag-info label {label!r}")
        lines.append(f"{label}: {' '.join(str(value).split())}\n")
    return "".join(lines).encode("utf-8")
