"""C2SP tlog-witness end to end: two real witness processes (gunicorn, 2 workers each), a log
built in the test with casework_verify.merkle, and the standard-library client. No mocks.
"""

from __future__ import annotations

import base64
import hashlib
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casework.custody.witness_client import (
    WitnessConflict,
    WitnessRefused,
    WitnessUnreachable,
    add_checkpoint_body,
    request_cosignature,
)
from casework_verify import cosignature as cs
from casework_verify import merkle, note
from tests.tlog_witnesses import TIMEOUT, WitnessProcess, free_port, run_cli, running_witnesses

# --- a small log --------------------------------------------------------------------------


class TinyLog:
    """An RFC 9162 tree kept in memory, with checkpoints signed as C2SP signed notes."""

    def __init__(self, origin: str, key: Ed25519PrivateKey | None = None, prefix: str = "entry") -> None:
        self.origin = origin
        self.key = key or Ed25519PrivateKey.generate()
        self.vkey = note.vkey_string(origin, self.key.public_key())
        self.prefix = prefix
        self.tree = merkle.CompactRange()
        self.nodes: dict[merkle.Node, bytes] = {}

    @property
    def size(self) -> int:
        return self.tree.size

    def grow(self, size: int, prefix: str | None = None) -> TinyLog:
        while self.tree.size < size:
            data = f"{prefix or self.prefix} {self.tree.size}".encode()
            for level, index, digest in self.tree.append(merkle.leaf_hash(data)):
                self.nodes[(level, index)] = digest
        return self

    def fetch(self, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        return {node: self.nodes[node] for node in wanted if node in self.nodes}

    def root(self, size: int) -> bytes:
        return merkle.root_hash(size, self.fetch)

    def proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, new, self.fetch)

    def body(self, size: int) -> str:
        return note.format_checkpoint(self.origin, size, self.root(size))

    def checkpoint(self, size: int, key: Ed25519PrivateKey | None = None, name: str | None = None) -> str:
        return note.sign_note(self.body(size), name or self.origin, key or self.key)

    def fork(self, common: int, size: int) -> TinyLog:
        """Same origin and key, same first ``common`` leaves, different leaves after them."""
        other = TinyLog(self.origin, self.key, self.prefix)
        other.grow(common)
        other.grow(size, prefix="forged")
        return other


# --- real witness processes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WitnessProcess]]:
    with running_witnesses(
        tmp_path_factory.mktemp("witnesses"), [f"witness{i}.example.org/w1" for i in (1, 2)]
    ) as procs:
        yield procs


_counter = iter(range(10**6))


@pytest.fixture
def log(witnesses: list[WitnessProcess]) -> TinyLog:
    """A fresh log (own origin and key), witnessed by both witnesses."""
    tiny = TinyLog(f"casework.example.org/custody/test-{next(_counter)}")
    for w in witnesses:
        w.add_log(tiny.origin, tiny.vkey)
    return tiny


def post(url: str, body: bytes, path: str = "/add-checkpoint", method: str = "POST") -> tuple[int, str, str]:
    req = urllib.request.Request(url + path, data=body if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read().decode()


def refused(w: WitnessProcess, old: int, proof: list[bytes], checkpoint: str) -> int:
    with pytest.raises(WitnessRefused) as info:
        w.cosign(old, proof, checkpoint)
    return info.value.status


# --- the tests ----------------------------------------------------------------------------


def test_state_dir_and_cli(witnesses: list[WitnessProcess]) -> None:
    w = witnesses[0]
    assert stat.S_IMODE((w.state_dir / "key.pem").stat().st_mode) == 0o600
    assert run_cli("vkey", str(w.state_dir)).stdout.strip() == w.vkey
    assert cs.parse_cosigner_vkey(w.vkey).name == "witness1.example.org/w1"
    again = run_cli("init", str(w.state_dir), "--name", "x.example/w", check=False)
    assert again.returncode == 1 and "already" in again.stderr
    bad = run_cli("add-log", str(w.state_dir), "--origin", "o.example", "--vkey", "garbage", check=False)
    assert bad.returncode == 1
    assert run_cli("init", str(w.state_dir.parent / "bad"), "--name", "has space", check=False).returncode == 1


def test_first_and_grown_checkpoints_are_cosigned_by_both(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    vkeys = [w.vkey for w in witnesses]
    before = int(time.time())
    first = log.grow(5).checkpoint(5)
    lines = [line for w in witnesses for line in w.cosign(0, [], first)]
    assert len(lines) == 2
    cosigned = cs.append_signatures(first, lines)
    valid = cs.verify_quorum(cosigned, vkeys, 2, log_vkey=log.vkey, latest=int(time.time()) + 1)
    assert {c.vkey for c in valid} == set(vkeys)
    assert all(before <= c.timestamp <= time.time() + 1 for c in valid)
    assert note.open_note(cosigned, log.vkey) == log.body(5)

    for old, new in ((5, 8), (8, 13), (13, 13)):  # 13 -> 13: the same checkpoint is cosigned again
        checkpoint = log.grow(new).checkpoint(new)
        got = [
            request_cosignature(w.url, old, log.proof(old, new), checkpoint, TIMEOUT, trusted_vkeys=[w.vkey])
            for w in witnesses
        ]
        assert all(len(g) == 1 for g in got)
        cosigned = cs.append_signatures(checkpoint, [g[0] for g in got])
        assert len(cs.verify_quorum(cosigned, vkeys, 2, log_vkey=log.vkey)) == 2
        for w, g in zip(witnesses, got, strict=True):
            assert cs.verify_cosignature(cs.append_signatures(checkpoint, g), w.vkey) >= before
    # A cosignature by one witness does not pass for the other.
    with pytest.raises(cs.CosignatureError):
        cs.verify_cosignature(cs.append_signatures(checkpoint, got[0]), witnesses[1].vkey)

    # The monitoring endpoint serves the latest cosigned checkpoint, log signature and cosignature.
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    for w in witnesses:
        status, _, served = post(w.url, b"", path=f"/{origin_hash}/checkpoint", method="GET")
        assert status == 200
        assert note.open_note(served, log.vkey) == log.body(13)
        assert cs.verify_cosignature(served, w.vkey) >= before
    assert post(witnesses[0].url, b"", path=f"/{'0' * 64}/checkpoint", method="GET")[0] == 404


def test_stale_old_size_is_a_conflict_with_the_witness_size(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    w = witnesses[0]
    w.cosign(0, [], log.grow(8).checkpoint(8))
    checkpoint = log.grow(10).checkpoint(10)
    with pytest.raises(WitnessConflict) as info:
        w.cosign(5, log.proof(5, 10), checkpoint)
    assert info.value.known_size == 8
    status, content_type, body = post(w.url, add_checkpoint_body(5, log.proof(5, 10), checkpoint))
    assert (status, content_type, body) == (409, "text/x.tlog.size", "8\n")
    with pytest.raises(WitnessConflict) as info:  # a log that lost track asks with old size 0
        w.cosign(0, [], checkpoint)
    assert info.value.known_size == 8
    # Retrying from the witness's size succeeds.
    [line] = w.cosign(info.value.known_size, log.proof(8, 10), checkpoint)
    assert cs.verify_cosignature(cs.append_signatures(checkpoint, [line]), w.vkey)
    # The other witness never saw this log: its size is 0.
    with pytest.raises(WitnessConflict) as info:
        witnesses[1].cosign(8, log.proof(8, 10), checkpoint)
    assert info.value.known_size == 0


def test_forks_are_refused_so_no_quorum(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    vkeys = [w.vkey for w in witnesses]
    honest = log.grow(6).checkpoint(6)
    for w in witnesses:
        w.cosign(0, [], honest)

    same_size = log.fork(5, 6)  # same size, another root
    assert same_size.root(6) != log.root(6)
    bigger = log.fork(5, 9)  # a larger tree that does not extend the cosigned one
    log.grow(9)
    good_proof = log.proof(6, 9)
    bad_proofs = {
        "flipped bit": [bytes([good_proof[0][0] ^ 1]) + good_proof[0][1:], *good_proof[1:]],
        "missing hash": good_proof[:-1],
        "extra hash": [*good_proof, good_proof[0]],
        "roots swapped": [log.root(9), *good_proof[1:]],
    }
    attempts = [
        (6, [], same_size.checkpoint(6)),
        (6, bigger.proof(6, 9), bigger.checkpoint(9)),  # proof valid for the fork, not for what was cosigned
        *((6, proof, log.checkpoint(9)) for proof in bad_proofs.values()),
    ]
    for old, proof, checkpoint in attempts:
        cosignatures: list[str] = []
        for w in witnesses:
            try:
                cosignatures += w.cosign(old, proof, checkpoint)
            except WitnessRefused as exc:
                assert exc.status == 422
        assert cosignatures == []
        with pytest.raises(cs.QuorumError) as info:
            cs.verify_quorum(checkpoint, vkeys, 2, log_vkey=log.vkey)
        assert info.value.valid == []
    # The refused forks were kept as evidence, and the honest history goes on.
    assert len(list((witnesses[0].state_dir / "evidence").iterdir())) >= len(attempts)
    for w in witnesses:
        w.cosign(6, good_proof, log.checkpoint(9))


def test_split_view_cannot_gather_a_quorum(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    """The log shows one tree to witness 1 and a fork to witness 2: each view gets one cosignature."""
    w1, w2 = witnesses
    vkeys = [w1.vkey, w2.vkey]
    fork = log.fork(3, 7)
    log.grow(7)
    view1 = cs.append_signatures(log.checkpoint(7), w1.cosign(0, [], log.checkpoint(7)))
    view2 = cs.append_signatures(fork.checkpoint(7), w2.cosign(0, [], fork.checkpoint(7)))
    for view in (view1, view2):
        with pytest.raises(cs.QuorumError) as info:
            cs.verify_quorum(view, vkeys, 2, log_vkey=log.vkey)
        assert len(info.value.valid) == 1
    # Neither witness will now cosign the other view, at the same size or grown.
    assert refused(w2, 7, [], log.checkpoint(7)) == 422
    assert refused(w1, 7, [], fork.checkpoint(7)) == 422
    log.grow(12)
    assert refused(w2, 7, log.proof(7, 12), log.checkpoint(12)) == 422


def test_unknown_keys_and_origins(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    w = witnesses[0]
    log.grow(4)
    impostor = Ed25519PrivateKey.generate()
    assert refused(w, 0, [], log.checkpoint(4, key=impostor)) == 403  # same name, other key
    assert refused(w, 0, [], log.checkpoint(4, key=impostor, name="other.example/log")) == 403
    tampered = log.checkpoint(4).replace(base64.b64encode(log.root(4)).decode(), base64.b64encode(log.root(3)).decode())
    assert refused(w, 0, [], tampered) == 403  # trusted key, signature does not verify
    stranger = TinyLog("not-witnessed.example/log").grow(2)
    assert refused(w, 0, [], stranger.checkpoint(2)) == 404
    # An extra signature from an unknown key is ignored.
    extra = cs.append_signatures(
        log.checkpoint(4), note.sign_note(log.body(4), "x.example/k", impostor).split("\n\n")[1].splitlines()
    )
    w.cosign(0, [], extra)
    # Key rotation: a second key for the origin, added while the witness runs.
    rotated = TinyLog(log.origin)
    rotated.nodes, rotated.tree = log.nodes, log.tree
    assert refused(w, 4, [], rotated.checkpoint(4)) == 403
    w.add_log(rotated.origin, rotated.vkey)
    w.cosign(4, [], rotated.checkpoint(4))


def test_malformed_requests(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    w = witnesses[1]
    checkpoint = log.grow(3).checkpoint(3)
    good = add_checkpoint_body(0, [], checkpoint).decode()
    hash_line = base64.b64encode(bytes(32)).decode()
    bodies = {
        "leading zero": good.replace("old 0\n", "old 00\n"),
        "negative": good.replace("old 0\n", "old -1\n"),
        "no old line": good.replace("old 0\n", ""),
        "two spaces": good.replace("old 0\n", "old  0\n"),
        "not base64": good.replace("old 0\n", "old 0\nnot*base64\n"),
        "short hash": good.replace("old 0\n", "old 0\nAAAA\n"),
        "64 proof lines": good.replace("old 0\n", "old 0\n" + f"{hash_line}\n" * 64),
        "no blank line": "old 0\n" + checkpoint,
        "unsigned": "old 0\n\n" + log.body(3),
        "not a checkpoint": "old 0\n\n" + note.sign_note("hello\n", log.origin, log.key),
        "old above size": good.replace("old 0\n", "old 4\n"),
    }
    for what, body in bodies.items():
        status, content_type, _ = post(w.url, body.encode())
        assert status == 400, what
        assert content_type.startswith("text/plain")
    assert post(w.url, b"old 0\n\n\xff\xfe")[0] == 400
    assert post(w.url, b"x" * (300 * 1024))[0] == 413
    assert post(w.url, b"", method="GET")[0] == 405
    # Size 0 must have the empty root; a proof from size 0 must be empty.
    empty = TinyLog(log.origin, log.key)
    bad_empty = note.sign_note(note.format_checkpoint(log.origin, 0, log.root(3)), log.origin, log.key)
    assert refused(w, 0, [], bad_empty) == 422
    with_proof = f"old 0\n{base64.b64encode(log.root(1)).decode()}\n\n{checkpoint}"  # the client won't send it
    assert post(w.url, with_proof.encode())[0] == 422
    # The empty tree itself can be cosigned, then grown from.
    w.cosign(0, [], note.sign_note(note.format_checkpoint(log.origin, 0, empty.root(0)), log.origin, log.key))
    w.cosign(0, [], checkpoint)
    # 63 proof lines is the limit, not an error of form: a wrong proof of that length is a 422.
    assert post(w.url, add_checkpoint_body(3, [bytes(32)] * 63, log.grow(5).checkpoint(5)))[0] == 422


def test_concurrent_submissions_are_serialised(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    w = witnesses[0]
    log.grow(16)
    w.cosign(0, [], log.checkpoint(3))

    def submit(new: int) -> int | str:
        try:
            w.cosign(3, log.proof(3, new), log.checkpoint(new))
        except WitnessConflict as exc:
            return exc.known_size
        return "cosigned"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(zip(range(4, 16), pool.map(submit, range(4, 16)), strict=True))
    winners = [size for size, result in results.items() if result == "cosigned"]
    assert len(winners) == 1, results  # the others saw the winner's size: nothing was rolled back
    assert all(result == winners[0] for size, result in results.items() if size != winners[0])
    with pytest.raises(WitnessConflict) as info:
        w.cosign(0, [], log.checkpoint(16))
    assert info.value.known_size == winners[0]


def test_state_survives_a_restart(witnesses: list[WitnessProcess], log: TinyLog) -> None:
    w = witnesses[1]
    before = w.cosign(0, [], log.grow(7).checkpoint(7))
    w.stop()
    with pytest.raises(WitnessUnreachable):
        w.cosign(7, [], log.checkpoint(7))
    w.start()
    with pytest.raises(WitnessConflict) as info:
        w.cosign(0, [], log.checkpoint(7))
    assert info.value.known_size == 7
    fork = log.fork(6, 7)
    assert refused(w, 7, [], fork.checkpoint(7)) == 422
    log.grow(10)
    after = w.cosign(7, log.proof(7, 10), log.checkpoint(10))
    assert cs.verify_cosignature(cs.append_signatures(log.checkpoint(10), after), w.vkey) >= cs.verify_cosignature(
        cs.append_signatures(log.checkpoint(7), before), w.vkey
    )


def test_client_errors() -> None:
    with pytest.raises(WitnessUnreachable):
        request_cosignature(f"http://127.0.0.1:{free_port()}", 0, [], TinyLog("a.example/l").grow(1).checkpoint(1), 2)
    with pytest.raises(ValueError):
        add_checkpoint_body(0, [bytes(32)], TinyLog("a.example/l").grow(1).checkpoint(1))
    with pytest.raises(ValueError):
        add_checkpoint_body(1, [bytes(31)], TinyLog("a.example/l").grow(1).checkpoint(1))
    with pytest.raises(cs.CosignatureError):
        add_checkpoint_body(0, [], "not a note\n")
