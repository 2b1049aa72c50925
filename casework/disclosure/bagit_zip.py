"""A BagIt bag (RFC 8493) written as a zip stream, in constant memory, the same bytes every time.

The standard library's ``zipfile`` writes each file as it is iterated (to an unseekable sink it
writes data descriptors after the bytes), so the payload is hashed on its way into the zip and
the manifests, which need every hash, are written last. What stays in memory is one
(path, digest) row and one ``ZipInfo`` per file.

Every entry carries the same fixed time and permissions, and nothing else varies between runs:
given the same files in the same order, two writers give byte-identical zips (a bundle is a
file: its length and SHA-256 are known before it is sent again).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from casework_verify import bag_format as fmt

Sign = Callable[[str], str]
"""Given the tag manifest's SHA-256 (hex), return the signature file's text."""

_DEFLATE_LEVEL = 6  # zlib's default: fixed here, so the bytes do not depend on a library default
_FILE_MODE = 0o644 << 16


class _Sink(io.RawIOBase):
    """An unseekable file that hands out what was written to it since it was last drained."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class BagZip:
    """Write payload and tag files into one zip under ``root/``; ``finish`` closes the bag.

    Every method returns an iterator of zip bytes; the caller yields from them in order.
    ``bagged_at`` is the time on every entry and the bag's Bagging-Date.
    """

    def __init__(self, root: str, bagged_at: datetime) -> None:
        if fmt.safe_name(root) != root:
            raise ValueError(f"unsafe bag name {root!r}")
        self.root = root
        self.bagged_at = bagged_at
        self._date_time = (max(bagged_at.year, 1980), *bagged_at.timetuple()[1:6])
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w")
        self._payload: list[tuple[str, str]] = []
        self._tags: list[tuple[str, str]] = []
        self.payload_bytes = 0
        self.last: tuple[str, int] = ("", 0)
        self._finished = False

    def _entry(self, path: str, chunks: Iterable[bytes], *, deflate: bool) -> Iterator[bytes]:
        """One zip entry, streamed: stored (evidence is mostly compressed already) or deflated (text)."""
        info = zipfile.ZipInfo(f"{self.root}/{path}", date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        info.external_attr = _FILE_MODE
        if deflate:
            info._compresslevel = _DEFLATE_LEVEL  # type: ignore[attr-defined]
        digest = hashlib.sha256()
        size = 0
        with self._zip.open(info, "w", force_zip64=True) as out:
            yield self._sink.drain()
            for chunk in chunks:
                if chunk:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                    yield self._sink.drain()
        yield self._sink.drain()
        self.last = (digest.hexdigest(), size)

    def _add(
        self, path: str, chunks: Iterable[bytes], record: list[tuple[str, str]], *, deflate: bool
    ) -> Iterator[bytes]:
        if self._finished:
            raise RuntimeError("the bag is already finished")
        _check_path(path)
        yield from (piece for piece in self._entry(path, chunks, deflate=deflate) if piece)
        record.append((path, self.last[0]))
        if record is self._payload:
            self.payload_bytes += self.last[1]

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
        """bag-info.txt (with Payload-Oxum), the manifests, the signature, the zip's central directory."""
        info = [
            *bag_info,
            ("Bagging-Date", self.bagged_at.date().isoformat()),
            ("Payload-Oxum", f"{self.payload_bytes}.{len(self._payload)}"),
        ]
        yield from self.tag("bag-info.txt", _bag_info(info))
        yield from self.tag(fmt.MANIFEST, _manifest(self._payload))
        tagmanifest = _manifest(self._tags)
        self._finished = True
        yield from self._entry(fmt.TAGMANIFEST, [tagmanifest], deflate=True)
        yield from self._entry(
            fmt.SIGNATURE_FILE, [sign(hashlib.sha256(tagmanifest).hexdigest()).encode("utf-8")], deflate=False
        )
        self._zip.close()
        yield self._sink.drain()

    def abandon(self) -> None:
        """A stream stopped early (a range sent, a client gone, an error): write nothing more."""
        if not self._finished:
            self._finished = True
            self._zip.fp = None  # ZipFile.close (also from __del__) then writes no end record


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
