"""Offline verifier for a custody-log export: anyone holding the log's public key can run it.

    casework-verify log EXPORT.jsonl --checkpoint CP.txt [--checkpoint ...] \\
        --vkey VKEY_FILE_OR_STRING [--json]

An export is JSON Lines in seq order, one ``{"entry": {...}, "leaf_hash": "<64 hex>"}`` per
event, where ``entry["seq"]`` is the leaf index. Each line is read in the leaf form its entry
declares (``casework_verify.leaf``; the two may be mixed, line by line):

* **v2** (``"v": 2``, the form exported today): ``leaf_hash = SHA-256(0x00 ||
  canonical_json(leaf_form(entry)))``, where the leaf form drops ``seq`` and ``salts`` and
  replaces each identifying value (``leaf.COMMITTED_PATHS``) by ``{"sha256": hex
  SHA-256(salt || UTF-8 value)}``, the salt being the entry's ``salts[path]`` (32 bytes, hex).
  A value may already be such a commitment (hidden), and then needs no salt. The seq is not
  in the hash, so its place is bound by the tree alone: the position checks below apply as
  for v1, and the signed root binds each leaf to its index.
* **v1** (no ``v`` key, older logs): ``leaf_hash = SHA-256(0x00 || canonical_json(entry))``,
  the entry hashed as it is, seq included.

Signed checkpoints are the trust anchor: the export proves nothing by itself, since whoever
edits it can recompute its hashes, but it cannot reproduce a signed root.

The stream is checked line by line in constant memory (only the Merkle frontier is kept) and
the first problem is reported: a malformed line, a missing (deleted), extra (inserted) or
out-of-order seq, an entry whose content no longer matches its leaf hash (altered), a root
that differs from a signed checkpoint (an entry altered together with its leaf hash: only the
range between two checkpoints can be named), or an export that stops before a checkpoint
(truncated). Entries after the largest checkpoint are counted but not covered by a signature.

For v2 the two findings about commitments are, with the entry's seq:

* ``malformed``: no leaf can be made of the entry: a revealed identifying value without a
  valid salt (missing, not hex, not 32 bytes), an identifying value that is neither a string,
  an integer nor a commitment, a ``salts`` that is not an object, or an unknown ``v``;
* ``altered``: a leaf can be made but differs from the stated leaf hash: a revealed value
  changed, a wrong (well-formed) salt, a changed commitment, or any other field changed.
  These cannot be told apart: the hash covers the whole leaf form.

A file (not standard input) is checked faster: the part covered by the largest checkpoint is
hashed by up to two worker processes (``verify_path``; ``--jobs``), v1 lines without parsing,
v2 lines parsed (their hash is not over the line's bytes); only if something there does not
match does the line-by-line pass run, so findings are the same.

The command line (``casework-verify log``, ``cli``) exits 0 verified, 1 tampering or failed
verification, 2 usage error.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from casework_verify import fastjson
from casework_verify import leaf as leaf_v2
from casework_verify.canonical import canonical_json
from casework_verify.cosignature import Cosignature, QuorumError, verify_quorum
from casework_verify.facts import checkpoint_facts, cosigner_facts
from casework_verify.merkle import EMPTY_ROOT, CompactRange
from casework_verify.note import Checkpoint, NoteError, open_note, parse_checkpoint, parse_vkey

# A canonical line is b'{"entry":' + canonical entry + b',"leaf_hash":"' + 64 hex + b'"}'.
_ENTRY_START = len(b'{"entry":')
_ENTRY_END = -len(b',"leaf_hash":"' + b"0" * 64 + b'"}')


@dataclass
class VerifyReport:
    """Outcome of verifying one export; ``problem`` is None exactly when ``ok``.

    problem: malformed | deleted | reordered | inserted | altered | root_mismatch |
    truncated | checkpoint. ``verified_size`` is the largest checkpoint size whose signed root
    the export reproduced; ``bad_range`` (inclusive seqs) is set when the bad entry can only be
    located to a range. ``uncovered`` counts entries after the largest checkpoint.
    ``checkpoints`` says, for each signed checkpoint accepted, its log, size, root and who of
    the ``witness_key_count`` witnesses given cosigned it, when.
    """

    ok: bool
    entries: int
    verified_size: int
    first_bad_seq: int | None
    problem: str | None
    message: str
    bad_range: tuple[int, int] | None = None
    checkpoint_sizes: tuple[int, ...] = ()
    uncovered: int = 0
    origin: str | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # facts.checkpoint_facts + "cosigners"
    witness_key_count: int = 0
    quorum: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Failed(Exception):
    """Internal: stop streaming with a report."""

    def __init__(
        self, problem: str, message: str, first_bad_seq: int | None = None, bad_range: tuple[int, int] | None = None
    ) -> None:
        super().__init__(message)
        self.problem, self.message = problem, message
        self.first_bad_seq, self.bad_range = first_bad_seq, bad_range


def load_checkpoints(
    checkpoints: Sequence[str], vkey: str, witnesses: Sequence[str] = (), quorum: int = 0
) -> list[Checkpoint]:
    """Open and parse every checkpoint, sorted by size; raise _Failed on any bad one.

    With witness vkeys, each checkpoint must also carry valid cosignatures (C2SP
    tlog-cosignature) from at least ``quorum`` of them. Two valid signatures on different
    roots for one size mean the log was forked.
    """
    return [cp for cp, _ in _load_checkpoints(checkpoints, vkey, witnesses, quorum)]


def _load_checkpoints(
    checkpoints: Sequence[str], vkey: str, witnesses: Sequence[str], quorum: int
) -> list[tuple[Checkpoint, list[Cosignature]]]:
    """``load_checkpoints`` with each checkpoint's valid cosignatures by the given witnesses."""
    parsed: dict[int, tuple[Checkpoint, list[Cosignature]]] = {}
    for number, text in enumerate(checkpoints, 1):
        try:
            cp = parse_checkpoint(open_note(text, vkey))
            valid = verify_quorum(text, witnesses, quorum, log_vkey=vkey) if witnesses or quorum else []
        except QuorumError as exc:
            raise _Failed(
                "checkpoint",
                f"checkpoint #{number} (size {cp.size}) lacks a witness quorum: "
                f"{len(exc.valid)} of {quorum} valid cosignatures",
            ) from exc
        except NoteError as exc:
            raise _Failed("checkpoint", f"checkpoint #{number} rejected: {exc}") from exc
        first = next(iter(parsed.values()), None)
        if first is not None and cp.origin != first[0].origin:
            raise _Failed("checkpoint", f"checkpoint #{number} is for log {cp.origin!r}, not {first[0].origin!r}")
        known, _ = parsed.setdefault(cp.size, (cp, valid))
        if known.root != cp.root:
            raise _Failed(
                "checkpoint",
                f"two signed checkpoints for size {cp.size} have different roots: the log was forked (equivocation)",
            )
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise _Failed("checkpoint", f"checkpoint #{number} has size 0 but a root other than the empty root")
    return [parsed[size] for size in sorted(parsed)]


def verify_export(
    lines: Iterable[bytes], checkpoints: Sequence[str], vkey: str, *, witnesses: Sequence[str] = (), quorum: int = 0
) -> VerifyReport:
    """Verify an export stream against signed checkpoints; stops at the first problem.

    ``lines`` may be any iterable of JSON Lines (e.g. a file opened in binary mode); it is
    read once and never stored. Raises NoteError for a malformed ``vkey`` and ValueError
    if no checkpoint is given: those are usage errors, not findings about the log.
    """
    return _verified(checkpoints, vkey, witnesses, quorum, lambda state, cps: state.run(iter(lines), cps))


def _verified(
    checkpoints: Sequence[str],
    vkey: str,
    witnesses: Sequence[str],
    quorum: int,
    run: Callable[[_Stream, list[Checkpoint]], None],
) -> VerifyReport:
    """Check the arguments and the checkpoints, then ``run`` the pass; the report of the first failure."""
    parse_vkey(vkey)
    if not checkpoints:
        raise ValueError("at least one signed checkpoint is needed to verify an export")
    state = _Stream()
    state.witness_key_count, state.quorum = len(witnesses), quorum
    try:
        loaded = _load_checkpoints(checkpoints, vkey, witnesses, quorum)
        state.checkpoints = [{**checkpoint_facts(cp), "cosigners": cosigner_facts(valid)} for cp, valid in loaded]
        cps = [cp for cp, _ in loaded]
        state.origin = cps[0].origin
        state.sizes = tuple(cp.size for cp in cps)
        run(state, cps)
    except _Failed as failure:
        return state.report(failure)
    return state.report(None)


class _Stream:
    """The streaming pass; ``run`` is the hot loop, everything else runs at most once."""

    def __init__(self) -> None:
        self.frontier = CompactRange()
        self.entries = 0  # lines accepted so far == next expected seq
        self.verified_size = 0
        self.blank_lines = 0
        self.origin: str | None = None
        self.sizes: tuple[int, ...] = ()
        self.checkpoints: list[dict[str, Any]] = []
        self.witness_key_count = self.quorum = 0

    def run(self, lines: Iterator[bytes], cps: list[Checkpoint], start: int = 0) -> None:
        """Check lines from seq ``start`` on (the frontier already holds the ``start`` before)."""
        frontier = self.frontier
        push = frontier.push
        loads, dumps_sorted = fastjson.loads, fastjson.dumps_sorted
        sha256 = hashlib.sha256
        targets = iter([cp for cp in cps if cp.size > start])
        target: Checkpoint | None = next(targets, None)
        if target is not None and target.size == 0:  # already checked against EMPTY_ROOT
            target = next(targets, None)
        n = start
        try:
            for line in lines:
                try:
                    rec = loads(line)
                    entry, stored = rec["entry"], rec["leaf_hash"]
                    seq = entry["seq"]
                except (ValueError, KeyError, TypeError) as exc:
                    if not line.strip():
                        self.blank_lines += 1
                        continue
                    raise self._malformed(n, exc) from None
                if seq != n or type(seq) is not int or len(rec) != 2:
                    raise self._bad_sequence(n, rec, seq, lines)
                canon = dumps_sorted(rec)
                if line[-1:] == b"\n":
                    line = line[:-1]
                if "v" in entry:  # leaf form v2 (or an unknown one): hashed through the leaf form
                    if canon != line:
                        self._refuse_duplicates(n, line, rec)
                    leaf = self._leaf_v2(n, entry)
                elif canon == line:  # v1, the usual canonical line: the entry bytes are a slice of it
                    leaf = sha256(b"\x00" + canon[_ENTRY_START:_ENTRY_END]).digest()
                else:
                    leaf = sha256(b"\x00" + self._entry_bytes(n, line, rec, entry)).digest()
                if leaf.hex() != stored:
                    leaf = self._recheck_leaf(n, entry, stored)
                push(leaf)
                n += 1
                if target is not None and n == target.size:
                    self._check_root(target)
                    target = next(targets, None)
        finally:
            self.entries = n  # also when a problem stops the loop
        if target is not None or n < (cps[-1].size if cps else 0):
            raise _Failed(
                "truncated",
                f"the export ends after {n} entries but a checkpoint for size "
                f"{cps[-1].size} is signed: entries {n}..{cps[-1].size - 1} are "
                "missing (truncated)",
                n,
                (n, cps[-1].size - 1),
            )

    def _check_root(self, cp: Checkpoint) -> None:
        if self.frontier.root() != cp.root:
            low = self.verified_size
            raise _Failed(
                "root_mismatch",
                f"root mismatch at checkpoint size {cp.size}: an entry in ({low}, {cp.size}] "
                f"(seq {low}..{cp.size - 1}) was altered without trace in its own leaf hash",
                None,
                (low, cp.size - 1),
            )
        self.verified_size = cp.size

    def _line_number(self, n: int) -> int:
        return n + self.blank_lines + 1

    def _malformed(self, n: int, exc: Exception) -> _Failed:
        reason = (
            "not valid JSON" if isinstance(exc, ValueError) else "not an object with entry, leaf_hash and entry.seq"
        )
        return _Failed("malformed", f"line {self._line_number(n)} (expected seq {n}) is malformed: {reason}", n)

    def _bad_sequence(self, n: int, rec: Any, seq: Any, lines: Iterator[bytes]) -> _Failed:
        """Diagnose a seq that is not the next one; peeks one line to recognise a swap."""
        if type(seq) is not int or len(rec) != 2:
            return _Failed(
                "malformed",
                f"line {self._line_number(n)} (expected seq {n}) is malformed: "
                "seq must be an integer and the record must have exactly entry "
                "and leaf_hash",
                n,
            )
        if seq > n:
            following = _peek_seq(lines)
            if following == n:
                return _Failed(
                    "reordered", f"entries out of order: seq {seq} appears before seq {n} (lines swapped or moved)", n
                )
            return _Failed(
                "deleted",
                f"entry seq {n} is missing: the export jumps from seq {n - 1} to "
                f"seq {seq} (seq {n}..{seq - 1} deleted, or moved later)",
                n,
                (n, seq - 1),
            )
        if seq == n - 1:
            return _Failed(
                "inserted", f"two consecutive lines claim seq {seq}: an entry was inserted or duplicated there", seq
            )
        return _Failed(
            "inserted",
            f"seq {seq} appears again at position {n} where seq {n} was expected: "
            "an entry was inserted, duplicated or moved earlier",
            n,
        )

    def _entry_bytes(self, n: int, line: bytes, rec: Any, entry: Any) -> bytes:
        """v1 entry bytes from a line that is not canonical JSON, refusing duplicate keys."""
        self._refuse_duplicates(n, line, rec)
        return fastjson.dumps_sorted(entry)

    def _refuse_duplicates(self, n: int, line: bytes, rec: Any) -> None:
        """Refuse a line that is not canonical JSON if it has duplicate keys.

        Duplicate keys would let a reader see one value while the hash covers another. A
        compact line with unsorted keys is checked cheaply (parsing keeps document order, and a
        duplicate would make the re-encoding shorter); other formatting takes the stdlib parser.
        """
        if fastjson.dumps(rec) != line:
            try:
                json.loads(line, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
            except ValueError as exc:
                raise _Failed("malformed", f"line {self._line_number(n)} (seq {n}) is malformed: {exc}", n) from None

    def _leaf_v2(self, n: int, entry: Any) -> bytes:
        """The leaf hash of a v2 entry; an entry no leaf can be made of is malformed."""
        try:
            return leaf_v2.leaf_hash(entry)
        except leaf_v2.LeafFormError as exc:
            raise _Failed("malformed", f"entry seq {n} is malformed (leaf form v2): {exc}", n) from None
        except (TypeError, ValueError) as exc:
            raise _Failed("malformed", f"entry seq {n} cannot be a log entry: {exc}", n) from None

    def _canonical(self, n: int, entry: Any) -> bytes:
        try:
            return canonical_json(entry)
        except (TypeError, ValueError) as exc:
            raise _Failed("malformed", f"entry seq {n} cannot be a log entry: {exc}", n) from None

    def _recheck_leaf(self, n: int, entry: Any, stored: Any) -> bytes:
        """The hash did not match the stated one: recompute exactly (v1: JCS key order) before accusing."""
        try:
            claimed = bytes.fromhex(stored) if isinstance(stored, str) and len(stored) == 64 else None
        except ValueError:
            claimed = None
        if claimed is None:
            raise _Failed("malformed", f"entry seq {n}: leaf_hash must be 64 hex digits", n)
        if "v" in entry:
            leaf = self._leaf_v2(n, entry)
            if leaf != claimed:
                raise _Failed(
                    "altered",
                    f"entry seq {n} was altered: its content (a value, a salt or a "
                    "commitment) does not match its leaf hash",
                    n,
                )
            return leaf
        leaf = hashlib.sha256(b"\x00" + self._canonical(n, entry)).digest()
        if leaf != claimed:
            raise _Failed("altered", f"entry seq {n} was altered: its content does not match its leaf hash", n)
        return leaf

    def report(self, failure: _Failed | None) -> VerifyReport:
        largest = self.sizes[-1] if self.sizes else 0
        report = VerifyReport(
            ok=failure is None,
            entries=self.entries,
            verified_size=self.verified_size,
            first_bad_seq=None,
            problem=None,
            message="",
            checkpoint_sizes=self.sizes,
            uncovered=max(0, self.entries - largest),
            origin=self.origin,
            checkpoints=self.checkpoints,
            witness_key_count=self.witness_key_count,
            quorum=self.quorum,
        )
        if failure is not None:
            report.first_bad_seq, report.problem = failure.first_bad_seq, failure.problem
            report.message, report.bad_range = failure.message, failure.bad_range
            return report
        if largest:
            report.message = (
                f"{self.entries} entries read; entries 0..{largest - 1} match the signed root of "
                f"{self.origin} at tree size {largest}"
            )
        else:
            report.message = f"{self.entries} entries read; the only checkpoint is of the empty tree"
        if len(self.sizes) > 1:
            report.message += f" (and checkpoints at sizes {', '.join(map(str, self.sizes[:-1]))})"
        if report.uncovered:
            report.message += (
                f"; {report.uncovered} later entries (seq {largest}..{self.entries - 1}) are "
                "well-formed but NOT covered by any signed checkpoint"
            )
        return report


# --- the fast path for files: parallel hashing of the signed prefix ----------------------

BLOCK = 4 << 20  # bytes of export a worker hashes at a time
_PREFIX = b'{"entry":'
_MIDDLE = b',"leaf_hash":"'
_TAIL = len(_MIDDLE) + 64 + 2  # ,"leaf_hash":"<64 hex>"}
_V_KEY = b'"v":'  # in compact JSON only a key ends so: a line without it has no v2 entry


def verify_path(
    path: str,
    checkpoints: Sequence[str],
    vkey: str,
    *,
    witnesses: Sequence[str] = (),
    quorum: int = 0,
    jobs: int | None = None,
) -> VerifyReport:
    """``verify_export`` on a file, with the part covered by signed checkpoints hashed by
    ``jobs`` processes (default: up to 2 CPUs) instead of parsed line by line.

    The fast pass only hashes each v1 line's entry bytes, checks them against the stated leaf
    hash and folds the leaves into the tree: a prefix whose roots match the signed checkpoints
    is exactly the bytes the log signed, so there is nothing more to learn by parsing it. A v2
    line's hash is over its leaf form, not its bytes, and leaves its seq out, so it is parsed
    (refusing duplicate keys) and its seq checked against its place. On anything unusual (a
    line not in the exporter's exact form, a hash, seq or root that does not match, an export
    shorter than a checkpoint) it gives up and the precise line-by-line pass
    runs from the start, so every finding is reported exactly as ``verify_export`` reports it.
    Entries after the largest checkpoint, which no signature covers, always take the precise pass.
    """

    def run(state: _Stream, cps: list[Checkpoint]) -> None:
        with open(path, "rb") as export:
            fast = _fast_prefix(path, cps, jobs or min(2, os.cpu_count() or 1))
            if fast is None:
                state.run(iter(export), cps)
            else:
                state.frontier, offset = fast
                state.verified_size = cps[-1].size
                export.seek(offset)
                state.run(iter(export), cps, start=cps[-1].size)

    return _verified(checkpoints, vkey, witnesses, quorum, run)


def _hash_block(path: str, start: int, end: int) -> tuple[bytes, list[int], list[int | None]] | None:
    """Leaf hashes of the lines in bytes [start, end), the end offset of each and, for each v2
    line, its stated seq (None for v1, whose seq is in its hash); or None if a line is not
    exactly as the exporter writes it or its entry does not hash to its leaf hash.

    A v1 line is hashed as the slice of its bytes holding the entry, unparsed. A v2 line (one
    whose bytes hold a key ``"v"``, a cheap test, confirmed by parsing) is parsed: it must be
    compact JSON without duplicate keys (its re-encoding is the line itself), and its leaf
    hash is computed from its leaf form. Its seq is not in its hash, so the caller checks it.
    """
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    base = hashlib.sha256(b"\x00")
    unhex = binascii.unhexlify
    leaves = bytearray()
    ends = []
    seqs: list[int | None] = []
    position = start
    lines = data.split(b"\n")
    if lines[-1]:
        return None  # a block always ends at a newline
    lines.pop()
    head, tail = len(_PREFIX), -_TAIL
    for line in lines:
        position += len(line) + 1
        if not line.startswith(_PREFIX) or line[tail : tail + 14] != _MIDDLE or line[-2:] != b'"}':
            return None
        seq: int | None = None
        if _V_KEY in line:
            v2 = _v2_leaf(line)
            if v2 is False:
                return None
            if v2 is not None:
                leaf, seq = v2
        if seq is None:
            digest = base.copy()
            digest.update(line[head:tail])
            leaf = digest.digest()
        try:
            if unhex(line[-66:-2]) != leaf:
                return None
        except binascii.Error:
            return None
        leaves += leaf
        ends.append(position)
        seqs.append(seq)
    return bytes(leaves), ends, seqs


def _v2_leaf(line: bytes) -> tuple[bytes, int] | Literal[False] | None:
    """(leaf hash, seq) of a line whose entry has a ``v`` key; None if it has none (v1); False
    if the line is not exactly as the exporter writes it or no leaf can be made of it."""
    try:
        rec = fastjson.loads(line)
    except ValueError:
        return False
    if type(rec) is not dict or len(rec) != 2 or type(rec.get("entry")) is not dict:
        return False
    entry = rec["entry"]
    if "v" not in entry:
        return None
    seq = entry.get("seq")
    if type(seq) is not int or fastjson.dumps(rec) != line:  # a duplicate key shortens the re-encoding
        return False
    try:
        return leaf_v2.leaf_hash(entry), seq
    except (TypeError, ValueError):  # LeafFormError is a ValueError
        return False


def _blocks(path: str) -> Iterator[tuple[int, int]]:
    """[start, end) byte ranges of about BLOCK bytes, each ending just after a newline."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = 0
        while start < size:
            f.seek(min(size, start + BLOCK))
            f.readline()
            end = min(size, f.tell())
            yield start, end
            start = end


def _fast_prefix(path: str, cps: list[Checkpoint], jobs: int) -> tuple[CompactRange, int] | None:
    """The frontier after the largest checkpoint and the byte offset of the next line, if the
    whole signed prefix hashes and matches every signed root; None otherwise."""
    largest = cps[-1].size
    if largest == 0:
        return CompactRange(), 0
    frontier = CompactRange()
    push = frontier.push
    targets = iter([cp for cp in cps if cp.size])
    target = next(targets)
    n = 0
    pool = _worker_context().Pool(jobs) if jobs > 1 else None
    try:
        pending: deque[Any] = deque()
        blocks = _blocks(path)

        def submit() -> bool:
            block = next(blocks, None)
            if block is None:
                return False
            pending.append(pool.apply_async(_hash_block, (path, *block)) if pool else _hash_block(path, *block))
            return True

        for _ in range(2 * jobs):
            submit()
        while pending:
            item = pending.popleft()
            result = item.get() if pool else item
            if result is None:
                return None
            leaves, ends, seqs = result
            for i in range(0, len(leaves), 32):
                seq = seqs[i // 32]
                if seq is not None and seq != n:  # a v2 seq is bound by its position only
                    return None
                push(leaves[i : i + 32])
                n += 1
                if n == target.size:
                    if frontier.root() != target.root:
                        return None
                    if n == largest:
                        return frontier, ends[i // 32]
                    target = next(targets)
            submit()
        return None  # the export ends before the largest checkpoint: the precise pass says where
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _worker_context() -> Any:
    """Workers forked from a clean server process, not from this one: forking a process that has
    other threads (a test runner's, a server's) can copy a lock one of them holds, and a worker
    stuck on it hung ``Pool.terminate`` in CI. The server preloads this module, so a worker starts
    without importing anything."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["casework_verify.log"])
    return context


def _peek_seq(lines: Iterator[bytes]) -> int | None:
    try:
        seq = fastjson.loads(next(lines))["entry"]["seq"]
    except (StopIteration, ValueError, KeyError, TypeError):
        return None
    return seq if type(seq) is int else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate keys in a JSON object")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
