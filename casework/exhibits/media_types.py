"""Exhibit media types: a closed register, judged from the content, never a client's free text.

Every media type Casework stores, logs, receipts or puts in a bundle is a name from ``REGISTER``:
the IANA-registered name of the format wherever IANA has one (``audio/flac``, ``audio/vnd.wave``,
``image/vnd.microsoft.icon``, not the ``x-`` names tools still emit), and for the few media
formats IANA has no registration for (WebM, AIFF, MIDI, WMV, FLV, Canon raw, GIMP), the name in
common use. Formats that are neither media nor documents and have no registration (tar, 7-Zip,
executables, ...) are ``application/octet-stream``.

* ``claimed``: what a client says the file is (tus ``Upload-Metadata: filetype``) must name a
  type of the register (aliases such as ``audio/x-wav`` or ``image/jpg`` map to their registered
  name); anything else is refused, so the claim can never carry a name or a place into the log.
* ``Sniffer``: the type of the content, judged as it streams: the signature of its first
  ``DETECT_BYTES`` (the ``filetype`` library), else ``text/plain`` if the whole content is UTF-8
  text, else ``application/octet-stream``. ``head_type`` gives the same answer from the first
  bytes alone when they already settle it (a signature, or bytes that cannot be text), so an
  upload of the wrong kind is refused at its first PATCH rather than after its last.
* ``suits``: whether a type is acceptable for an exhibit kind.
"""

from __future__ import annotations

import codecs
import re

import filetype  # type: ignore[import-untyped]

DETECT_BYTES = 8192  # filetype looks at no more than this
TEXT, BINARY = "text/plain", "application/octet-stream"

# What ``filetype`` names a format, where that is not the registered name (or there is none).
_FROM_DETECTOR = {
    "image/x-icon": "image/vnd.microsoft.icon",
    "image/vnd.ms-photo": "image/jxr",
    "audio/x-flac": "audio/flac",
    "audio/x-wav": "audio/vnd.wave",
    "video/x-matroska": "video/matroska",
    "video/x-m4v": "video/mp4",
    "video/x-msvideo": "video/vnd.avi",
    "application/font-woff": "font/woff",
    "application/font-sfnt": "font/sfnt",
    "application/x-rar-compressed": "application/vnd.rar",
    "application/x-msdownload": "application/vnd.microsoft.portable-executable",
    "application/x-shockwave-flash": "application/vnd.adobe.flash.movie",
    "application/x-sqlite3": "application/vnd.sqlite3",
    "application/x-deb": "application/vnd.debian.binary-package",
}
# Media formats without an IANA registration: kept under the name in common use.
UNREGISTERED_MEDIA = frozenset(
    {
        "audio/midi",
        "audio/x-aiff",
        "audio/webm",
        "video/webm",
        "video/x-ms-wmv",
        "video/x-flv",
        "image/x-canon-cr2",
        "image/x-xcf",
    }
)

REGISTER = (
    frozenset(
        {
            BINARY,
            TEXT,
            "text/csv",
            "text/markdown",
            "text/html",
            "text/xml",
            "text/rtf",
            # images
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "image/tiff",
            "image/bmp",
            "image/heic",
            "image/heif",
            "image/avif",
            "image/jxr",
            "image/jpx",
            "image/jp2",
            "image/apng",
            "image/svg+xml",
            "image/vnd.microsoft.icon",
            "image/vnd.adobe.photoshop",
            "image/vnd.dwg",
            "application/dicom",
            # audio
            "audio/mpeg",
            "audio/mp4",
            "audio/aac",
            "audio/ogg",
            "audio/opus",
            "audio/flac",
            "audio/vnd.wave",
            "audio/amr",
            "audio/3gpp",
            "audio/basic",
            # video
            "video/mp4",
            "video/mpeg",
            "video/quicktime",
            "video/3gpp",
            "video/3gpp2",
            "video/matroska",
            "video/ogg",
            "video/vnd.avi",
            "video/mp2t",
            # documents and containers
            "application/pdf",
            "application/rtf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "application/epub+zip",
            "application/postscript",
            "application/json",
            "application/xml",
            "application/zip",
            "application/gzip",
            "application/zstd",
            "application/vnd.rar",
            "application/vnd.ms-cab-compressed",
            "application/vnd.ms-fontobject",
            "application/vnd.sqlite3",
            "application/vnd.debian.binary-package",
            "application/vnd.microsoft.portable-executable",
            "application/vnd.adobe.flash.movie",
            "application/wasm",
            "message/rfc822",
            "font/woff",
            "font/woff2",
            "font/sfnt",
            "font/ttf",
            "font/otf",
        }
    )
    | UNREGISTERED_MEDIA
)

# Names clients send for registered types.
ALIASES = {
    **_FROM_DETECTOR,
    "audio/wav": "audio/vnd.wave",
    "audio/wave": "audio/vnd.wave",
    "audio/x-pn-wav": "audio/vnd.wave",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-aac": "audio/aac",
    "audio/aiff": "audio/x-aiff",
    "audio/x-midi": "audio/midi",
    "audio/mid": "audio/midi",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-png": "image/png",
    "video/avi": "video/vnd.avi",
    "video/msvideo": "video/vnd.avi",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-gzip": "application/gzip",
    "text/x-markdown": "text/markdown",
}

# Media types each kind accepts, by prefix ("audio/") or exactly; "other" takes anything.
_ACCEPTS: dict[str, tuple[str, ...]] = {
    "audio": ("audio/", "video/mp4", "video/webm", "video/3gpp", "video/quicktime", "application/ogg"),
    "video": ("video/",),
    "photo": ("image/",),
    "document": (
        "application/pdf",
        "text/",
        "image/",
        "application/vnd.",
        "application/msword",
        "application/rtf",
        "application/epub+zip",
    ),
}

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# Text is UTF-8 without control characters other than tab, line feed, form feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def claimed(value: str) -> str | None:
    """The registered name a client's claim stands for (parameters dropped), or None if it names none."""
    name = value.partition(";")[0].strip().lower()
    if not _MEDIA_TYPE.match(name):
        return None
    name = ALIASES.get(name, name)
    return name if name in REGISTER else None


def accepted(kind: str) -> tuple[str, ...] | None:
    """What ``kind`` accepts (prefixes end in ``/``); None: anything."""
    return _ACCEPTS.get(kind)


def suits(kind: str, media_type: str) -> bool:
    wanted = _ACCEPTS.get(kind)
    return wanted is None or any(media_type == a or (a.endswith("/") and media_type.startswith(a)) for a in wanted)


def _signature(head: bytes) -> str | None:
    found = filetype.guess_mime(head) if head else None
    if found is None:
        return None
    found = _FROM_DETECTOR.get(found, found)
    return found if found in REGISTER else BINARY


def _text(decoded: str) -> bool:
    return _CONTROL.search(decoded) is None


def head_type(head: bytes, *, whole: bool) -> str | None:
    """The content's type if its first bytes settle it (``whole``: they are all of it), else None."""
    head = head[:DETECT_BYTES]
    signature = _signature(head)
    if signature is not None:
        return signature
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoded = decoder.decode(head, final=whole)
    except UnicodeDecodeError:
        return BINARY
    if not _text(decoded):
        return BINARY
    return TEXT if whole else None


class Sniffer:
    """The media type of a content fed to it piece by piece, in order, from its first byte."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._signature: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._text = True

    def update(self, piece: bytes) -> None:
        if len(self._head) < DETECT_BYTES:
            self._head += piece[: DETECT_BYTES - len(self._head)]
            if len(self._head) == DETECT_BYTES:
                self._signature = _signature(bytes(self._head))
        if self._signature is not None or not self._text:
            return
        try:
            self._text = _text(self._decoder.decode(piece))
        except UnicodeDecodeError:
            self._text = False

    def media_type(self) -> str:
        """The type of everything fed so far, taken as the whole content."""
        if len(self._head) < DETECT_BYTES:
            self._signature = _signature(bytes(self._head))
        if self._signature is not None:
            return self._signature
        if self._text:
            try:
                self._text = _text(self._decoder.decode(b"", final=True))
            except UnicodeDecodeError:
                self._text = False
        return TEXT if self._text else BINARY
