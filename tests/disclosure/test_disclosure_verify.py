"""The offline bundle verifier against tampering: each change fails, naming what was changed.

A bundle is made once per database by the real app; each case rewrites one thing in a copy and
runs the verifier (in process, on the zip and on the folder it unzips to, and as ``python -m
casework.disclosure.verify`` for some).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest

from casework_verify import leaf
from casework_verify.bundle import verify_bundle
from casework_verify.canonical import canonical_json
from tests.bundles import disclose, fetch_bundle, log_vkey, members, rezip, run_verifier, unzip

_MADE: dict[str, tuple[bytes, str]] = {}

Files = dict[str, bytes]


@pytest.fixture
def made(request: pytest.FixtureRequest, backend: dict[str, str], tmp_path: Path) -> tuple[Path, str]:
    """(bundle path, the log's vkey), made by the real app once per backend."""
    if backend["name"] not in _MADE:
        app = request.getfixturevalue("app")
        world = request.getfixturevalue("world")
        request.getfixturevalue("legal2")
        disclosed = disclose(world.people, world.case_id, world.incident_id, world.witness_id, world.interview_id)
        bundle = fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "made.zip")
        _MADE[backend["name"]] = (bundle.read_bytes(), log_vkey(app, tmp_path / "log.vkey").read_text().strip())
    data, vkey = _MADE[backend["name"]]
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    return path, vkey


def _item(files: Files, kind: str) -> tuple[str, dict[str, Any]]:
    for rel, data in files.items():
        if rel.endswith("/metadata.json") and json.loads(data)["kind"] == kind:
            return rel.rsplit("/", 1)[0], json.loads(data)
    raise AssertionError(kind)


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(canonical_json(record) + b"\n" for record in records)


def _change_bytes(files: Files) -> str:
    directory, meta = _item(files, "transcript_version")
    rel = f"{directory}/{meta['content_file']}"
    files[rel] = files[rel].replace(b"seven", b"three")
    return f"item {meta['registration_number']} ({rel}): sha256 mismatch"


def _change_manifest_line(files: Files) -> str:
    directory, meta = _item(files, "redaction")
    rel = f"{directory}/{meta['content_file']}"
    lines = files["manifest-sha256.txt"].decode().splitlines()
    changed = [f"{'0' * 64}  {rel}" if line.endswith(f"  {rel}") else line for line in lines]
    assert changed != lines
    files["manifest-sha256.txt"] = ("\n".join(changed) + "\n").encode()
    return f"item {meta['registration_number']} ({rel}): sha256 mismatch"


def _change_bytes_and_manifest(files: Files) -> str:
    directory, meta = _item(files, "transcript_version")
    rel = f"{directory}/{meta['content_file']}"
    files[rel] = files[rel].replace(b"seven", b"three")
    new = hashlib.sha256(files[rel]).hexdigest()
    files["manifest-sha256.txt"] = b"".join(
        f"{new}  {rel}\n".encode() if line.endswith(f"  {rel}".encode()) else line + b"\n"
        for line in files["manifest-sha256.txt"].splitlines()
    )
    return f"item {meta['registration_number']} ({rel}): sha256 differs from its metadata"


def _change_tagmanifest(files: Files) -> str:
    files["tagmanifest-sha256.txt"] = files["tagmanifest-sha256.txt"].replace(b"bag-info.txt", b"bag-info.txt ", 1)
    return "the tag manifest was altered after it was signed"


def _change_bag_info(files: Files) -> str:
    files["bag-info.txt"] = files["bag-info.txt"].replace(b"Karim Prosecutor", b"Defence Counsel")
    return "tag file bag-info.txt: sha256 mismatch"


def _alter_event(files: Files) -> str:
    directory, meta = _item(files, "transcript_version")
    rel = f"{directory}/custody.jsonl"
    records = _lines(files[rel])
    records[1]["entry"]["action"] = "transcript.delete"  # a field shown in clear, in every trail format
    files[rel] = _jsonl(records)
    return (
        f"custody event {records[1]['entry']['seq']} of item {meta['registration_number']} ({rel}) was "
        "altered: its content does not match its leaf hash"
    )


def _alter_event_and_leaf(files: Files) -> str:
    directory, meta = _item(files, "transcript_version")
    rel = f"{directory}/custody.jsonl"
    records = _lines(files[rel])
    records[1]["entry"]["outcome"] = "denied"
    records[1]["leaf_hash"] = leaf.leaf_hash(records[1]["entry"]).hex()
    files[rel] = _jsonl(records)
    return (
        f"custody event {records[1]['entry']['seq']} of item {meta['registration_number']} ({rel}): "
        "inclusion proof does not verify"
    )


def _alter_proof_node(files: Files) -> str:
    directory, meta = _item(files, "incident")
    rel = f"{directory}/custody.jsonl"
    records = _lines(files[rel])
    node = bytearray.fromhex(records[0]["proof"][0])
    node[0] ^= 1
    records[0]["proof"][0] = node.hex()
    files[rel] = _jsonl(records)
    return (
        f"custody event {records[0]['entry']['seq']} of item {meta['registration_number']} ({rel}): "
        "inclusion proof does not verify"
    )


def _drop_event(files: Files) -> str:
    """Removing an event cannot be proven wrong by proofs: the signed manifest catches it."""
    directory, meta = _item(files, "transcript_version")
    rel = f"{directory}/custody.jsonl"
    files[rel] = b"".join(files[rel].splitlines(keepends=True)[1:])
    return f"item {meta['registration_number']} custody record ({rel}): sha256 mismatch"


def _move_event(files: Files) -> str:
    """Another item's (valid, proven) event put in this item's record."""
    directory, meta = _item(files, "transcript_version")
    other, _ = _item(files, "incident")
    records = _lines(files[f"{directory}/custody.jsonl"])
    foreign = _lines(files[f"{other}/custody.jsonl"])[-1]
    records.append(foreign)
    records.sort(key=lambda r: r["entry"]["seq"])
    files[f"{directory}/custody.jsonl"] = _jsonl(records)
    return f"custody event {foreign['entry']['seq']} of item {meta['registration_number']}"


def _alter_checkpoint(files: Files) -> str:
    body, _, signatures = files["custody/checkpoint.txt"].decode().partition("\n\n")
    origin, size, root = body.split("\n")[:3]
    forged = bytearray(base64.b64decode(root))
    forged[0] ^= 1
    root = base64.b64encode(bytes(forged)).decode()
    files["custody/checkpoint.txt"] = f"{origin}\n{size}\n{root}\n\n{signatures}".encode()
    return "checkpoint (custody/checkpoint.txt) rejected: invalid signature"


def _add_payload_file(files: Files) -> str:
    files["data/items/0001/extra.txt"] = b"slipped in"
    return "data/items/0001/extra.txt is in the bag but not in manifest-sha256.txt"


def _remove_index(files: Files) -> str:
    del files["data/index.pdf"]
    return "(data/index.pdf) is missing from the bag"


def _remove_signature(files: Files) -> str:
    del files["tagmanifest-sha256.txt.sig"]
    return "the signature (tagmanifest-sha256.txt.sig) is missing"


CASES: dict[str, tuple[Callable[[Files], str], str]] = {
    "item bytes": (_change_bytes, "payload"),
    "manifest line": (_change_manifest_line, "payload"),
    "item bytes and its manifest line": (_change_bytes_and_manifest, "payload"),
    "tag manifest": (_change_tagmanifest, "signature"),
    "bag-info": (_change_bag_info, "tags"),
    "event altered": (_alter_event, "custody"),
    "event and leaf hash altered": (_alter_event_and_leaf, "custody"),
    "proof node": (_alter_proof_node, "custody"),
    "event dropped": (_drop_event, "payload"),
    "event moved from another item": (_move_event, "custody"),
    "checkpoint": (_alter_checkpoint, "checkpoint"),
    "file added": (_add_payload_file, "payload"),
    "index removed": (_remove_index, "payload"),
    "signature removed": (_remove_signature, "structure"),
}


@pytest.mark.parametrize("form", ["zip", "folder"])
@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_named(made: tuple[Path, str], tmp_path: Path, case: str, form: str):
    """The same checks, with the same findings, on the zip and on the folder it unzips to."""
    bundle, vkey = made
    assert verify_bundle(bundle, vkey=vkey).ok
    files = members(bundle)
    tamper, problem = CASES[case]
    expected = tamper(files)
    tampered = rezip(bundle, tmp_path / "tampered.zip", files)
    if form == "folder":
        tampered = unzip(tampered, tmp_path / "unzipped")
    report = verify_bundle(tampered, vkey=vkey)
    assert not report.ok and report.problem == problem, report
    assert expected in report.message, report.message


@pytest.mark.parametrize("case", ["item bytes", "event and leaf hash altered", "checkpoint"])
def test_the_command_exits_nonzero_naming_the_item(made: tuple[Path, str], tmp_path: Path, case: str):
    bundle, vkey = made
    files = members(bundle)
    expected = CASES[case][0](files)
    result = run_verifier(str(rezip(bundle, tmp_path / "tampered.zip", files)), "--vkey", vkey)
    assert result.returncode == 1 and result.stdout.startswith("FAILED") and expected in result.stdout, result.stdout


def test_the_unzipped_bundle_verifies_as_the_zip_does(made: tuple[Path, str], tmp_path: Path):
    bundle, vkey = made
    folder = unzip(bundle, tmp_path / "unzipped")
    zipped, unzipped = verify_bundle(bundle, vkey=vkey).to_dict(), verify_bundle(folder, vkey=vkey).to_dict()
    assert zipped["ok"] and zipped == unzipped == verify_bundle(folder.parent, vkey=vkey).to_dict()
    result = run_verifier(str(folder), "--vkey", vkey)
    assert result.returncode == 0 and result.stdout.startswith("OK: "), result.stdout + result.stderr


def test_the_library_of_congress_bagit_also_rejects_changed_bytes(made: tuple[Path, str], tmp_path: Path):
    bundle, _ = made
    files = members(bundle)
    _change_bytes(files)
    root = unzip(rezip(bundle, tmp_path / "tampered.zip", files), tmp_path / "u")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(root)).validate()


def test_a_key_not_the_logs_is_refused(made: tuple[Path, str], tmp_path: Path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from casework_verify.note import vkey_string

    bundle, vkey = made
    name = vkey.split("+", 1)[0]
    other = vkey_string(name, Ed25519PrivateKey.generate().public_key())
    report = verify_bundle(bundle, vkey=other)
    assert not report.ok and report.problem == "checkpoint" and "no signature by" in report.message
    # A bag whose own key was swapped for the forger's passes nothing either.
    files = members(bundle)
    files["custody/log.vkey"] = (other + "\n").encode()
    report = verify_bundle(rezip(bundle, tmp_path / "swapped.zip", files))
    assert not report.ok and report.problem == "checkpoint"


def test_hostile_zips_are_refused(made: tuple[Path, str], tmp_path: Path):
    bundle, vkey = made
    escaping = tmp_path / "slip.zip"
    with zipfile.ZipFile(bundle) as zf, zipfile.ZipFile(escaping, "w") as out:
        for info in zf.infolist():
            out.writestr(info, zf.read(info))
        out.writestr("disclosure-1/../../evil.txt", b"x")
    report = verify_bundle(escaping, vkey=vkey)
    assert not report.ok and report.problem == "structure" and "unsafe path" in report.message
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip at all")
    assert verify_bundle(garbage).problem == "structure"
    assert run_verifier(str(tmp_path / "missing.zip")).returncode == 2
    assert run_verifier(str(bundle), "--vkey", "not-a-key").returncode == 2


def _hostile_folder(bag: Path, outside: Path, change: str) -> str:
    item = next(path for path in sorted((bag / "data" / "items").iterdir()))
    content = next(path for path in sorted(item.iterdir()) if path.name not in ("metadata.json", "custody.jsonl"))
    rel = content.relative_to(bag).as_posix()
    if change == "symlink to a file outside":
        content.unlink()
        content.symlink_to(outside)
        return f"{rel} is a symbolic link"
    if change == "symlink to a folder":
        moved = outside.parent / "moved"
        shutil.move(item, moved)
        item.symlink_to(moved, target_is_directory=True)
        return f"{item.relative_to(bag).as_posix()} is a symbolic link"
    if change == "a fifo":
        os.mkfifo(bag / "data" / "pipe")
        return "data/pipe is not a regular file"
    if change == "a file added":
        (bag / "data" / "extra.txt").write_text("slipped in")
        return "data/extra.txt is in the bag but not in manifest-sha256.txt (a file was added)"
    if change == "two bags":
        shutil.copytree(bag, bag.parent / "disclosure-0")
        return "holds no bagit.txt, nor exactly one folder"
    raise AssertionError(change)


@pytest.mark.parametrize(
    "change", ["symlink to a file outside", "symlink to a folder", "a fifo", "a file added", "two bags"]
)
def test_hostile_folders_are_refused(made: tuple[Path, str], tmp_path: Path, change: str):
    """An unzipped bag is read as carefully as the zip: no link is followed, nothing but files."""
    bundle, vkey = made
    bag = unzip(bundle, tmp_path / "unzipped")
    outside = tmp_path / "outside.txt"
    outside.write_text("elsewhere")
    expected = _hostile_folder(bag, outside, change)
    report = verify_bundle(bag.parent if change == "two bags" else bag, vkey=vkey)
    assert not report.ok and report.problem in ("structure", "payload") and expected in report.message, report


@pytest.fixture
def witnessed_app(backend, keyring_path, tmp_path: Path):
    """An app whose checkpoints two real witness processes cosign (as tests/custody/test_witnessed_log.py)."""
    from tests.tlog_witnesses import app_witnessed_by, running_witnesses

    with (
        running_witnesses(tmp_path, [f"witness{i}.partner.example/w" for i in (1, 2)]) as witnesses,
        app_witnessed_by(witnesses, backend, keyring_path, tmp_path) as (app, vkey),
    ):
        yield app, vkey, witnesses


def test_witness_cosignatures_and_the_quorum(witnessed_app, tmp_path: Path):
    from tests.bundles import world_on

    app, vkey, witnesses = witnessed_app
    w = world_on(app)
    disclosed = disclose(w["people"], w["case_id"], w["incident_id"], w["witness_id"], w["interview_id"])
    bundle = fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "bundle.zip")
    keys = tmp_path / "witnesses.vkey"
    keys.write_text("".join(witness.vkey + "\n" for witness in witnesses))
    good = run_verifier(str(bundle), "--vkey", vkey, "--witness-key", str(keys), "--quorum", "2")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "2 valid cosignature(s) of 2 witness key(s) given with --witness-key; quorum required: 2" in good.stdout
    files = members(bundle)
    assert files["custody/witnesses.vkey"].decode().split() == [witness.vkey for witness in witnesses]

    # One cosignature stripped: the checkpoint still carries the log's signature, not the quorum.
    lines = files["custody/checkpoint.txt"].decode().splitlines(keepends=True)
    stripped = [line for line in lines if not line.startswith(f"\u2014 {witnesses[1].name} ")]
    assert len(stripped) == len(lines) - 1
    files["custody/checkpoint.txt"] = "".join(stripped).encode()
    tampered = rezip(bundle, tmp_path / "stripped.zip", files)
    result = run_verifier(str(tampered), "--vkey", vkey, "--witness-key", str(keys), "--quorum", "2")
    assert result.returncode == 1
    assert "FAILED (checkpoint)" in result.stdout and "cosigned by 1 of the witnesses; the quorum is 2" in result.stdout
    assert run_verifier(str(tampered), "--vkey", vkey, "--witness-key", str(keys), "--quorum", "1").returncode == 1, (
        "the checkpoint passes a quorum of one, but the tag manifest no longer matches it"
    )


def test_the_streaming_writer_makes_bags_the_library_of_congress_accepts(tmp_path: Path):
    """The writer alone: names with spaces and non-ASCII pass, names that tools disagree on are
    refused, Payload-Oxum counts, the tag manifest covers every tag file but the signature."""
    from datetime import UTC, datetime

    from casework.disclosure.bagit_zip import BagZip

    bag = BagZip("bag-1", datetime(2026, 12, 8, tzinfo=UTC))
    chunks = [*bag.start()]
    chunks += bag.payload("data/a file with spaces.txt", iter([b"one ", b"two"]))
    chunks += bag.payload("data/свідчення/sure.bin", [bytes(range(256)) * 1000])
    chunks += bag.tag("custody/checkpoint.txt", b"not really a checkpoint\n")
    chunks += bag.finish(
        [("External-Identifier", "bag-1"), ("Contact-Name", "Рада\nline two")], lambda digest: f"signed {digest}\n"
    )
    target = tmp_path / "bag.zip"
    target.write_bytes(b"".join(chunks))
    files = members(target)
    assert "data/свідчення/sure.bin" in files["manifest-sha256.txt"].decode()
    assert "tagmanifest-sha256.txt.sig" not in files["tagmanifest-sha256.txt"].decode()
    assert (
        files["tagmanifest-sha256.txt.sig"]
        == f"signed {hashlib.sha256(files['tagmanifest-sha256.txt']).hexdigest()}\n".encode()
    )
    root = unzip(target, tmp_path / "u")
    parsed = bagit.Bag(str(root))
    assert parsed.validate() and parsed.info["Payload-Oxum"] == f"{7 + 256_000}.2"
    assert parsed.info["Contact-Name"] == "Рада line two"  # folded: a tag value has no newline
    for unsafe in ("data/../escape", "data/100%", "data/line\nbreak", "elsewhere/x"):
        with pytest.raises((ValueError, RuntimeError)):
            list(BagZip("bag-2", datetime(2026, 12, 8, tzinfo=UTC)).payload(unsafe, [b"x"]))
