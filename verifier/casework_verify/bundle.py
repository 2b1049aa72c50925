"""Offline verifier for a disclosure bundle: a lawyer, a court or a recipient can run it.

    casework-verify bundle BUNDLE.zip|FOLDER [--vkey FILE] [--witness-key FILE ...] [--quorum N] [--json]

Needs nothing but the bundle, zipped or unzipped (and, to trust it, keys obtained elsewhere):
no app, database or network. Checks, in this order, and names the first thing that fails:

1. the bag's structure (one base directory, bagit.txt, manifests, signature; in a zip no
   unsafe path, link or duplicate; in a folder no symbolic link or special file);
2. the checkpoint: signed by the log's key, and cosigned by at least ``--quorum`` witnesses;
3. the signature over the tag manifest (by the log's key), bound to that checkpoint;
4. each item: its metadata, its bytes against the payload manifest, and every custody line:
   a proven entry against its leaf hash, and every leaf hash (proven or hash-only) by its
   inclusion proof to the checkpoint; then the disclosure's own files and events;
5. completeness (no payload file unlisted or missing), the tag manifest, Payload-Oxum.

Trust: the bag carries the log's key and the witnesses' keys, but whoever made the bag chose
them. Without ``--vkey`` (and ``--witness-key``) the verifier can only say the bag is
consistent with itself; it says so. With keys obtained independently (``GET
/custody/public-key``, the witnesses' own publications), a pass means the server holding that
key signed these bytes, and the events are in a log the witnesses saw.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from casework_verify import bag_format as fmt
from casework_verify import leaf as custody_leaf
from casework_verify import merkle
from casework_verify.cosignature import CosignatureError, cosigners, parse_cosigner_vkey
from casework_verify.facts import checkpoint_facts, cosigner_facts
from casework_verify.note import Checkpoint, NoteError, open_note, parse_checkpoint, parse_vkey

MAX_SMALL_FILE = 16 * 1024 * 1024  # tag files, metadata, one custody line: anything larger is hostile
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_CHUNK = 1 << 20
_PROVEN_KEYS = {"entry", "leaf_hash", "proof"}
_WITHHELD_KEYS = {"seq", "leaf_hash", "proof", "withheld"}
MAX_STAFF_LABEL = 64


class Failed(Exception):
    """A check failed; ``problem`` is its kind, ``item`` the registration number it concerns."""

    def __init__(self, problem: str, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.problem, self.message, self.item = problem, message, item


@dataclass
class Report:
    """What was proven, or the first failure, and on whose keys: the same facts for people
    (``cli``) and for programs (``--json``).

    ``events`` counts entries proven by inclusion proof, ``withheld`` the hash-only lines (by
    reason code in ``withheld_reasons``). ``log_key`` and ``witness_keys`` say where the keys came
    from: ``"given"`` (on the command line, independently) or ``"bag"`` (self-asserted).
    """

    ok: bool
    message: str
    problem: str | None = None
    item: str | None = None
    trust: list[str] = field(default_factory=list)
    bag: str | None = None
    disclosure_id: int | None = None
    items: int = 0
    registration_numbers: list[str] = field(default_factory=list)
    events: int = 0
    withheld: int = 0
    withheld_reasons: dict[str, int] = field(default_factory=dict)
    staff: list[str] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    checkpoint_size: int | None = None
    cosignatures: int = 0
    cosigners: list[dict[str, Any]] = field(default_factory=list)
    witness_key_count: int = 0
    quorum: int = 0
    log_key: str = "bag"
    witness_keys: str = "none"

    @property
    def self_asserted(self) -> bool:
        """True when the log's key came from the bag: the pass shows self-consistency only."""
        return self.log_key != "given"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "self_asserted": self.self_asserted}


@dataclass
class _Item:
    number: str
    directory: str
    registration: str = "?"
    resource: tuple[str, str] | None = None
    files: dict[str, str] = field(default_factory=dict)  # path -> manifest digest


@dataclass(frozen=True)
class _Scope:
    """Which events a custody file may hold: those of one resource, and its origin event (the one
    that created it, recorded against its parent and naming it in ``details``)."""

    resource: tuple[str, str]
    origin: tuple[str, str, str, str, Any] | None = None

    def covers(self, entry: dict[str, Any]) -> bool:
        place = (entry.get("resource_type"), entry.get("resource_id"))
        if place == self.resource:
            return True
        if self.origin is None:
            return False
        rtype, rid, action, key, value = self.origin
        details = entry.get("details")
        return (
            place == (rtype, rid)
            and entry.get("action") == action
            and isinstance(details, dict)
            and details.get(key) == value
        )


@dataclass(frozen=True)
class _Line:
    """One custody line, checked for shape: a proven ``entry`` or a ``withheld`` hash."""

    seq: int
    leaf: bytes  # computed from the entry, or the stated hash of a hash-only line
    claimed: bytes
    proof: list[bytes]
    entry: dict[str, Any] | None
    withheld: str | None
    staff: str | None


class _Bag:
    """A bag's files by their path inside it, opened defensively; ``sizes`` lists every file."""

    root: str
    sizes: dict[str, int]

    def _open(self, rel: str) -> IO[bytes]:
        raise NotImplementedError

    def has(self, rel: str) -> bool:
        return rel in self.sizes

    def chunks(self, rel: str) -> Iterator[bytes]:
        try:
            with self._open(rel) as f:
                while chunk := f.read(_CHUNK):
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise Failed("structure", f"{rel}: cannot be read ({exc})") from None

    def sha256(self, rel: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        for chunk in self.chunks(rel):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    def read(self, rel: str, what: str) -> bytes:
        if rel not in self.sizes:
            raise Failed("structure", f"{what} ({rel}) is missing from the bag")
        if self.sizes[rel] > MAX_SMALL_FILE:
            raise Failed("structure", f"{what} ({rel}) is implausibly large")
        return b"".join(self.chunks(rel))

    def text(self, rel: str, what: str) -> str:
        try:
            return self.read(rel, what).decode("utf-8")
        except UnicodeDecodeError:
            raise Failed("structure", f"{what} ({rel}) is not UTF-8") from None

    def lines(self, rel: str) -> Iterator[bytes]:
        """Lines of a payload file, streamed; a line longer than MAX_SMALL_FILE is refused."""
        buffer = b""
        for chunk in self.chunks(rel):
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            yield from complete
            if len(buffer) > MAX_SMALL_FILE:
                raise Failed("structure", f"{rel}: a line is implausibly long")
        if buffer:
            yield buffer


class _ZipBag(_Bag):
    """The zip: one base directory, no traversal, no links, no encryption, no duplicates."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.members: dict[str, zipfile.ZipInfo] = {}
        roots = set()
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if (
                name.startswith("/")
                or "\\" in name
                or "\x00" in name
                or any(part in ("", ".", "..") for part in name.split("/"))
            ):
                raise Failed("structure", f"zip member {name!r} has an unsafe path")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise Failed("structure", f"zip member {name!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise Failed("structure", f"zip member {name!r} is encrypted")
            root, _, rel = name.partition("/")
            if not rel:
                raise Failed("structure", f"zip member {name!r} is outside the bag's base directory")
            roots.add(root)
            if rel in self.members:
                raise Failed("structure", f"zip member {name!r} appears twice")
            self.members[rel] = info
        if len(roots) != 1:
            raise Failed("structure", f"the zip must hold exactly one bag directory, found {len(roots)}")
        self.root = roots.pop()
        self.sizes = {rel: info.file_size for rel, info in self.members.items()}

    def _open(self, rel: str) -> IO[bytes]:
        return self.zf.open(self.members[rel])


class _DirBag(_Bag):
    """An unzipped bag: the folder itself, or the one folder an unzip made around it.

    Every file is listed once, up front, without following links: a symbolic link or a special
    file anywhere refuses the bag (it could point outside, or change between two reads), and a
    file is read only if it was listed, opened without following a link, and still inside.
    """

    def __init__(self, path: str) -> None:
        directory = os.path.abspath(path)
        if not _is_file(os.path.join(directory, "bagit.txt")):
            with os.scandir(directory) as found:
                inside = list(found)
            if len(inside) != 1 or not inside[0].is_dir(follow_symlinks=False):
                raise Failed("structure", f"{path} is not a bag: it holds no bagit.txt, nor exactly one folder")
            directory = inside[0].path
        self.directory = os.path.realpath(directory)
        self.root = os.path.basename(self.directory)
        self.sizes = {}
        self._walk(self.directory, "")

    def _walk(self, directory: str, prefix: str) -> None:
        with os.scandir(directory) as found:
            for entry in sorted(found, key=lambda e: e.name):
                rel = prefix + entry.name
                if "\\" in entry.name or not _utf8(entry.name):
                    raise Failed("structure", f"{rel!r} has an unsafe name")
                if entry.is_symlink():
                    raise Failed("structure", f"{rel} is a symbolic link")
                if entry.is_dir(follow_symlinks=False):
                    self._walk(entry.path, rel + "/")
                elif entry.is_file(follow_symlinks=False):
                    self.sizes[rel] = entry.stat(follow_symlinks=False).st_size
                else:
                    raise Failed("structure", f"{rel} is not a regular file")

    def _open(self, rel: str) -> IO[bytes]:
        path = os.path.join(self.directory, *rel.split("/"))
        if os.path.commonpath([os.path.realpath(path), self.directory]) != self.directory:
            raise Failed("structure", f"{rel} leads outside the bag's folder")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise Failed("structure", f"{rel} is not a regular file")
        return os.fdopen(fd, "rb")


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in a file name
        return False
    return True


def _unescape(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def _manifest(bag: _Bag, rel: str) -> dict[str, str]:
    """path -> sha256 hex, refusing duplicates, bad digests and paths that leave the bag."""
    entries: dict[str, str] = {}
    for number, line in enumerate(bag.text(rel, "manifest").split("\n"), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _HEX64.match(parts[0].lower()):
            raise Failed("manifest", f"{rel} line {number} is malformed")
        path = _unescape(parts[1].strip().lstrip("*"))
        if posixpath.normpath(path) != path or path.startswith(("/", "../")) or path == "..":
            raise Failed("manifest", f"{rel} line {number} names an unsafe path {path!r}")
        if path in entries:
            raise Failed("manifest", f"{rel} lists {path} twice")
        entries[path] = parts[0].lower()
    return entries


def _bag_info(bag: _Bag) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in bag.text("bag-info.txt", "bag-info.txt").split("\n"):
        if line.strip() and ":" in line and not line[0].isspace():
            label, _, value = line.partition(":")
            info.setdefault(label.strip(), value.strip())
    return info


class Verifier:
    def __init__(self, bag: _Bag, vkey: str | None, witness_keys: Sequence[str] | None, quorum: int | None) -> None:
        self.bag = bag
        self.report = Report(ok=False, message="", bag=bag.root)
        self.trusted_vkey = vkey is not None
        self.vkey = vkey if vkey is not None else bag.text(fmt.LOG_VKEY_FILE, "the log's key").strip()
        self.trusted_witnesses = witness_keys is not None
        if witness_keys is None and bag.has(fmt.WITNESS_VKEYS_FILE):
            text = bag.text(fmt.WITNESS_VKEYS_FILE, "the witnesses' keys")
            witness_keys = [line.strip() for line in text.split("\n") if line.strip()]
        self.witness_keys = list(witness_keys or [])
        self.quorum = quorum if quorum is not None else (len(self.witness_keys) if self.trusted_witnesses else 0)
        self.report.log_key = "given" if self.trusted_vkey else "bag"
        self.report.witness_keys = "given" if self.trusted_witnesses else ("bag" if self.witness_keys else "none")
        self.report.witness_key_count, self.report.quorum = len(self.witness_keys), self.quorum
        self.checkpoint: Checkpoint | None = None
        self.payload: dict[str, str] = {}
        self.withheld: Counter[str] = Counter()
        self.staff: set[str] = set()
        self.case_id: str | None = None

    # --- 1. structure -------------------------------------------------------------------
    def structure(self) -> None:
        bagit = self.bag.read("bagit.txt", "bagit.txt")
        if bagit.startswith(b"\xef\xbb\xbf") or not re.match(rb"BagIt-Version: \d+\.\d+\r?\n", bagit):
            raise Failed("structure", "bagit.txt does not declare a BagIt version")
        for rel, what in (
            (fmt.MANIFEST, "payload manifest"),
            (fmt.TAGMANIFEST, "tag manifest"),
            (fmt.SIGNATURE_FILE, "signature"),
            (fmt.CHECKPOINT_FILE, "checkpoint"),
            ("bag-info.txt", "bag-info.txt"),
        ):
            if not self.bag.has(rel):
                raise Failed("structure", f"the {what} ({rel}) is missing from the bag")
        try:
            parse_vkey(self.vkey)
        except NoteError as exc:
            raise Failed(
                "keys", f"the log's key ({'--vkey' if self.trusted_vkey else fmt.LOG_VKEY_FILE}) is malformed: {exc}"
            ) from None
        bag_vkey = self.bag.text(fmt.LOG_VKEY_FILE, "the log's key").strip() if self.bag.has(fmt.LOG_VKEY_FILE) else ""
        if self.trusted_vkey:
            note = "" if bag_vkey == self.vkey else " (the bag's own custody/log.vkey differs and was ignored)"
            self.report.trust.append(f"log key: trusted, given with --vkey{note}")
        else:
            self.report.trust.append(
                "log key: SELF-ASSERTED by the bag (custody/log.vkey); this only shows the "
                "bag is consistent with itself. Pass --vkey with the log's key obtained "
                "independently to verify who signed it"
            )

    # --- 2. checkpoint ----------------------------------------------------------------------
    def check_checkpoint(self) -> None:
        text = self.bag.text(fmt.CHECKPOINT_FILE, "checkpoint")
        try:
            self.checkpoint = parse_checkpoint(open_note(text, self.vkey))
        except NoteError as exc:
            raise Failed("checkpoint", f"checkpoint ({fmt.CHECKPOINT_FILE}) rejected: {exc}") from None
        self.report.checkpoint_size = self.checkpoint.size
        self.report.checkpoint = checkpoint_facts(self.checkpoint)
        try:
            for key in self.witness_keys:
                parse_cosigner_vkey(key)
            valid = cosigners(text, self.witness_keys)
        except CosignatureError as exc:
            raise Failed("checkpoint", f"checkpoint ({fmt.CHECKPOINT_FILE}) rejected: {exc}") from None
        self.report.cosignatures = len(valid)
        self.report.cosigners = cosigner_facts(valid)
        source = "given with --witness-key" if self.trusted_witnesses else "SELF-ASSERTED by the bag"
        self.report.trust.append(
            f"witnesses: {len(valid)} valid cosignature(s) of {len(self.witness_keys)} "
            f"witness key(s) {source}; quorum required: {self.quorum}"
        )
        if len(valid) < self.quorum:
            raise Failed(
                "checkpoint",
                f"checkpoint ({fmt.CHECKPOINT_FILE}) is cosigned by {len(valid)} of the "
                f"witnesses; the quorum is {self.quorum}",
            )

    # --- 3. signature -------------------------------------------------------------------
    def check_signature(self) -> None:
        assert self.checkpoint is not None
        try:
            signed = fmt.BundleSignature.parse(open_note(self.bag.text(fmt.SIGNATURE_FILE, "signature"), self.vkey))
        except (NoteError, ValueError) as exc:
            raise Failed("signature", f"signature ({fmt.SIGNATURE_FILE}) rejected: {exc}") from None
        digest, _ = self.bag.sha256(fmt.TAGMANIFEST)
        if digest != signed.tagmanifest_sha256:
            raise Failed(
                "signature",
                f"signature ({fmt.SIGNATURE_FILE}) does not cover {fmt.TAGMANIFEST}: the tag "
                "manifest was altered after it was signed",
            )
        root_b64 = fmt_b64(self.checkpoint.root)
        if (signed.checkpoint_size, signed.checkpoint_root_b64) != (self.checkpoint.size, root_b64):
            raise Failed(
                "signature",
                f"signature ({fmt.SIGNATURE_FILE}) names another checkpoint "
                f"(size {signed.checkpoint_size}) than {fmt.CHECKPOINT_FILE}",
            )
        if signed.bag_name != self.bag.root:
            raise Failed(
                "signature", f"signature ({fmt.SIGNATURE_FILE}) is for bag {signed.bag_name!r}, not {self.bag.root!r}"
            )
        self.disclosure_id = signed.disclosure_id
        self.report.disclosure_id = signed.disclosure_id

    # --- 4. items and custody ---------------------------------------------------------------
    def check_payload(self) -> None:
        self.payload = _manifest(self.bag, fmt.MANIFEST)
        items: dict[str, _Item] = {}
        for path, digest in self.payload.items():
            if path.startswith(fmt.ITEMS_DIR + "/"):
                number = path[len(fmt.ITEMS_DIR) + 1 :].split("/", 1)[0]
                items.setdefault(number, _Item(number, f"{fmt.ITEMS_DIR}/{number}")).files[path] = digest
            elif not path.startswith("data/"):
                raise Failed("manifest", f"{fmt.MANIFEST} lists {path}, which is not payload (data/)")
        self._check_listing(items)
        for number in sorted(items):
            self._check_item(items[number])
            self.report.registration_numbers.append(items[number].registration)
        self.report.items = len(items)
        for rel in (fmt.DISCLOSURE_FILE, fmt.INDEX_FILE):
            self._check_file(rel, rel, None)
        if fmt.DISCLOSURE_CUSTODY_FILE in self.payload:
            origin = (
                None
                if self.case_id is None
                else (
                    "case",
                    self.case_id,
                    fmt.DISCLOSURE_ORIGIN_ACTION,
                    fmt.DISCLOSURE_ORIGIN_DETAIL,
                    self.disclosure_id,
                )
            )
            self._check_custody(
                fmt.DISCLOSURE_CUSTODY_FILE,
                _Scope(("disclosure", str(self.disclosure_id)), origin),
                "the disclosure",
                None,
            )
            self._check_file(fmt.DISCLOSURE_CUSTODY_FILE, fmt.DISCLOSURE_CUSTODY_FILE, None)

    def _check_listing(self, items: dict[str, _Item]) -> None:
        try:
            listing = json.loads(self.bag.read(fmt.DISCLOSURE_FILE, "the disclosure record"))
            listed = {str(item["directory"]): str(item["registration_number"]) for item in listing["items"]}
            case_id = listing.get("case_id")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Failed("payload", f"{fmt.DISCLOSURE_FILE} is malformed") from None
        self.case_id = None if case_id is None else str(case_id)  # the disclosure's creation is recorded there
        for item in items.values():
            item.registration = listed.get(item.directory, "?")
        for directory, registration in listed.items():
            if directory not in {item.directory for item in items.values()}:
                raise Failed(
                    "payload",
                    f"item {registration} ({directory}) is listed in {fmt.DISCLOSURE_FILE} "
                    f"but none of its files are in {fmt.MANIFEST}",
                    registration,
                )

    def _check_file(self, rel: str, what: str, item: str | None) -> None:
        expected = self.payload.get(rel)
        if expected is None:
            raise Failed("payload", f"{what} ({rel}) is not listed in {fmt.MANIFEST}", item)
        if not self.bag.has(rel):
            raise Failed("payload", f"{what} ({rel}) is missing from the bag", item)
        digest, _ = self.bag.sha256(rel)
        if digest != expected:
            raise Failed("payload", f"{what} ({rel}): sha256 mismatch", item)

    def _check_item(self, item: _Item) -> None:
        metadata_rel = f"{item.directory}/{fmt.METADATA_NAME}"
        label = f"item {item.registration}"
        self._check_file(metadata_rel, f"{label} metadata", item.registration)
        try:
            metadata = json.loads(self.bag.read(metadata_rel, f"{label} metadata"))
            content_rel = f"{item.directory}/{metadata['content_file']}"
            resource = (str(metadata["custody_resource"]["type"]), str(metadata["custody_resource"]["id"]))
            registration, sha256 = str(metadata["registration_number"]), str(metadata["sha256"])
        except (ValueError, KeyError, TypeError):
            raise Failed("payload", f"{label} metadata ({metadata_rel}) is malformed", item.registration) from None
        if registration != item.registration:
            raise Failed("payload", f"{label} ({metadata_rel}) calls itself {registration}", item.registration)
        self._check_file(content_rel, label, item.registration)
        if self.payload[content_rel] != sha256:
            raise Failed("payload", f"{label} ({content_rel}): sha256 differs from its metadata", item.registration)
        custody: list[tuple[str, _Scope]] = []
        try:
            for listed in metadata["custody_files"]:
                origin = listed.get("origin")
                custody.append(
                    (
                        f"{item.directory}/{fmt.safe_name(str(listed['file']))}",
                        _Scope(
                            (str(listed["resource"]["type"]), str(listed["resource"]["id"])),
                            None
                            if origin is None
                            else (
                                str(origin["type"]),
                                str(origin["id"]),
                                str(origin["action"]),
                                str(origin["detail"]),
                                origin["value"],
                            ),
                        ),
                    )
                )
        except (KeyError, TypeError, AttributeError):
            raise Failed("payload", f"{label} metadata ({metadata_rel}) is malformed", item.registration) from None
        main = f"{item.directory}/{fmt.CUSTODY_NAME}"
        if not any(rel == main and scope.resource == resource for rel, scope in custody):
            raise Failed("custody", f"{label} has no custody record of its own resource ({main})", item.registration)
        for custody_rel, scope in custody:
            if custody_rel not in self.payload or not self.bag.has(custody_rel):
                raise Failed("custody", f"{label} has no custody record ({custody_rel})", item.registration)
            self._check_custody(custody_rel, scope, label, item.registration)
            self._check_file(custody_rel, f"{label} custody record", item.registration)
        unexpected = set(item.files) - {metadata_rel, content_rel} - {rel for rel, _ in custody}
        for rel in sorted(unexpected):
            self._check_file(rel, f"{label} file", item.registration)

    def _check_custody(self, rel: str, scope: _Scope, label: str, item: str | None) -> None:
        assert self.checkpoint is not None
        size, root = self.checkpoint.size, self.checkpoint.root
        last, proven, withheld = -1, 0, Counter[str]()
        for number, raw in enumerate(self.bag.lines(rel), 1):
            if not raw.strip():
                continue
            line = _parse_line(raw, f"custody line {number} of {label} ({rel})", item)
            kind = "custody event" if line.entry is not None else "hash-only custody line"
            where = f"{kind} {line.seq} of {label}"
            if line.seq <= last:
                raise Failed("custody", f"{where} ({rel}) is out of order or repeated", item)
            if line.entry is not None and line.leaf != line.claimed:
                raise Failed("custody", f"{where} ({rel}) was altered: its content does not match its leaf hash", item)
            if not merkle.verify_inclusion(line.leaf, line.seq, size, line.proof, root):
                raise Failed(
                    "custody",
                    f"{where} ({rel}): inclusion proof does not verify against the checkpoint (tree size {size})",
                    item,
                )
            if line.entry is not None:
                if not scope.covers(line.entry):
                    raise Failed(
                        "custody",
                        f"{where} ({rel}) is an event of {line.entry.get('resource_type')} "
                        f"{line.entry.get('resource_id')}, not of {label}",
                        item,
                    )
                proven += 1
            else:
                assert line.withheld is not None
                withheld[line.withheld] += 1
            if line.staff is not None:
                self.staff.add(line.staff)
            last = line.seq
        if proven + withheld.total() == 0:
            raise Failed("custody", f"{label} has no custody events ({rel})", item)
        self.report.events += proven
        self.withheld.update(withheld)

    # --- 5. completeness, tag files, oxum ------------------------------------------------------
    def check_completeness(self) -> None:
        present = {rel for rel in self.bag.sizes if rel.startswith("data/")}
        for rel in sorted(present - set(self.payload)):
            raise Failed("payload", f"{rel} is in the bag but not in {fmt.MANIFEST} (a file was added)")
        for rel in sorted(set(self.payload) - present):
            raise Failed("payload", f"{rel} is listed in {fmt.MANIFEST} but missing from the bag")
        tags = _manifest(self.bag, fmt.TAGMANIFEST)
        for rel in ("bagit.txt", "bag-info.txt", fmt.MANIFEST, fmt.CHECKPOINT_FILE, fmt.LOG_VKEY_FILE):
            if rel not in tags:
                raise Failed("tags", f"{fmt.TAGMANIFEST} does not cover {rel}")
        for rel, expected in tags.items():
            if rel.startswith("data/") or rel in (fmt.TAGMANIFEST, fmt.SIGNATURE_FILE):
                raise Failed("tags", f"{fmt.TAGMANIFEST} lists {rel}, which is not a tag file it may cover")
            if not self.bag.has(rel):
                raise Failed("tags", f"tag file {rel} is listed in {fmt.TAGMANIFEST} but missing")
            if self.bag.sha256(rel)[0] != expected:
                raise Failed("tags", f"tag file {rel}: sha256 mismatch (altered after the bag was signed)")
        info = _bag_info(self.bag)
        oxum = info.get("Payload-Oxum", "")
        total = sum(self.bag.sizes[rel] for rel in present)
        if oxum != f"{total}.{len(present)}":
            raise Failed(
                "tags", f"Payload-Oxum {oxum!r} does not match the payload ({total} bytes, {len(present)} files)"
            )
        if info.get("External-Identifier") != self.bag.root:
            raise Failed("tags", "bag-info.txt External-Identifier does not name this bag")

    def run(self) -> Report:
        try:
            self.structure()
            self.check_checkpoint()
            self.check_signature()
            self.check_payload()
            self.check_completeness()
        finally:
            self.report.withheld = self.withheld.total()
            self.report.withheld_reasons = dict(sorted(self.withheld.items()))
            self.report.staff = sorted(self.staff)
        self.report.ok = True
        self.report.message = (
            f"bag {self.bag.root}: {_count(self.report.items, 'item')} and "
            f"{_count(self.report.events, 'custody event')} verified against checkpoint size "
            f"{self.report.checkpoint_size}"
        )
        return self.report


def _parse_line(raw: bytes, where: str, item: str | None) -> _Line:
    """A custody line of either kind, its shape checked and, for an entry, its leaf hash computed."""
    try:
        record = json.loads(raw, object_pairs_hook=_no_duplicates)
        if not isinstance(record, dict):
            raise TypeError("not an object")
        entry, withheld, staff = record.get("entry"), record.get("withheld"), record.get("staff")
        if entry is not None:
            if not _PROVEN_KEYS <= set(record) <= _PROVEN_KEYS | {"staff"}:
                raise ValueError("a proven entry has exactly entry, leaf_hash, proof and optionally staff")
            if not isinstance(entry, dict):
                raise TypeError("entry is not an object")
            seq = entry.get("seq")
            if staff is not None and not (isinstance(staff, str) and 0 < len(staff) <= MAX_STAFF_LABEL):
                raise ValueError("staff must be a short label")
        else:
            if set(record) != _WITHHELD_KEYS:
                raise ValueError("a hash-only line has exactly seq, leaf_hash, proof and withheld")
            if not isinstance(withheld, str) or not fmt.WITHHELD_CODE.match(withheld):
                raise ValueError("withheld must be a reason code ([a-z_]+)")
            seq = record["seq"]
        leaf_hex, proof_hex = record["leaf_hash"], record["proof"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise TypeError("seq must be a non-negative integer")
        if not isinstance(leaf_hex, str) or not _HEX64.match(leaf_hex) or not isinstance(proof_hex, list):
            raise TypeError("leaf_hash must be 64 hex digits and proof a list")
        proof = [bytes.fromhex(node) for node in proof_hex]
        claimed = bytes.fromhex(leaf_hex)
        leaf = merkle.leaf_hash(custody_leaf.leaf_bytes(entry)) if entry is not None else claimed  # v1 or v2
    except (ValueError, KeyError, TypeError) as exc:
        raise Failed("custody", f"{where} is malformed: {exc}", item) from None
    return _Line(seq, leaf, claimed, proof, entry, withheld if entry is None else None, staff)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def fmt_b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate keys in a JSON object")
    return obj


def verify_bundle(
    path: str | os.PathLike[str],
    *,
    vkey: str | None = None,
    witness_keys: Sequence[str] | None = None,
    quorum: int | None = None,
) -> Report:
    """Verify a bundle, its zip or its unzipped folder; the report says what passed, or the first
    thing that failed."""
    verifier: Verifier | None = None
    try:
        if os.path.isdir(path):
            verifier = Verifier(_DirBag(os.fspath(path)), vkey, witness_keys, quorum)
            return verifier.run()
        with zipfile.ZipFile(path) as zf:
            verifier = Verifier(_ZipBag(zf), vkey, witness_keys, quorum)
            return verifier.run()
    except zipfile.BadZipFile as exc:
        return Report(ok=False, problem="structure", message=f"not a readable zip: {exc}")
    except OSError as exc:
        return Report(ok=False, problem="structure", message=f"cannot read the bundle: {exc}")
    except Failed as failure:
        report = verifier.report if verifier is not None else Report(ok=False, message="")
        report.ok, report.problem, report.message, report.item = False, failure.problem, failure.message, failure.item
        return report
