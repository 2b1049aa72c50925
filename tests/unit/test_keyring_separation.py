"""Key separation for the file keyring: the KEKs and the log's signing key live in separate files."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from casework.crypto import KeyringError, LocalKeyring, bind, open_keyring, open_sealed, seal
from casework.crypto.keyring import signing_key_path, wrap_associated_data

LOG = "casework.test/custody"


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keyring.json"


def sig_path_of(path: Path) -> Path:
    """Spelled out here, not taken from the module: the layout is part of the contract."""
    return path.parent / (path.name + ".signing-key")


def ctx(version: int = 1) -> bytes:
    return bind("transcript_version", 7, parents={"case": 3}, version=version)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def old_format_bytes(log_name: str, current: str, keks: dict[str, tuple[bytes, str]], seed: bytes) -> bytes:
    """A keyring exactly as format 1 wrote it (the `_serialise` of the pre-split module)."""
    doc = {
        "format": 1,
        "log_name": log_name,
        "current": current,
        "keks": {
            kid: {"key": base64.b64encode(key).decode("ascii"), "created": created}
            for kid, (key, created) in sorted(keks.items(), key=lambda kv: int(kv[0].split("-")[1]))
        },
        "signing_seed": base64.b64encode(seed).decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def signing_file_bytes(log_name: str, seed: bytes) -> bytes:
    doc = {"format": 1, "log_name": log_name, "signing_seed": base64.b64encode(seed).decode("ascii")}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def old_wrap(kek: bytes, kek_id: str, data_key: bytes, context: bytes) -> bytes:
    """Wrap as the format-1 keyring did: 0x01 || nonce || AES-256-GCM(data key), AAD bound to KEK id."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(kek).encrypt(nonce, data_key, wrap_associated_data(kek_id, context))


def seed_needles(seed: bytes) -> list[bytes]:
    return [seed, base64.b64encode(seed), seed.hex().encode()]


def load_json(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_bytes())
    assert isinstance(doc, dict)
    return doc


# --- new layout -------------------------------------------------------------------------------


def test_kek_file_holds_no_signing_seed(keyring_path: Path) -> None:
    kr = LocalKeyring.create(keyring_path, log_name=LOG)
    kek_doc = load_json(keyring_path)
    assert kek_doc["format"] == 2
    assert "signing_seed" not in kek_doc
    assert set(kek_doc) <= {"format", "log_name", "current", "keks"}
    assert list(kek_doc["keks"]) == ["kek-0001"]

    sig_doc = load_json(sig_path_of(keyring_path))
    assert sig_doc["format"] == 1
    assert sig_doc["log_name"] == LOG
    assert set(sig_doc) == {"format", "log_name", "signing_seed"}
    seed = base64.b64decode(sig_doc["signing_seed"], validate=True)
    assert len(seed) == 32
    assert raw_public(Ed25519PrivateKey.from_private_bytes(seed)) == raw_public(kr.signing_key())

    kek_bytes = keyring_path.read_bytes()
    for needle in seed_needles(seed):
        assert needle not in kek_bytes
    # ... and the other way round: no KEK in the signing-key file.
    sig_bytes = sig_path_of(keyring_path).read_bytes()
    for entry in kek_doc["keks"].values():
        assert entry["key"].encode() not in sig_bytes
    assert kr.signing_path == sig_path_of(keyring_path) == signing_key_path(keyring_path)


def test_signing_key_file_is_private_and_signs(keyring_path: Path) -> None:
    kr = LocalKeyring.create(keyring_path, log_name=LOG)
    sig_path = sig_path_of(keyring_path)
    assert sig_path.is_file()
    assert mode_of(sig_path) == 0o600
    assert mode_of(keyring_path) == 0o600
    assert not [p for p in keyring_path.parent.iterdir() if p.name.endswith(".tmp")]

    seed = base64.b64decode(load_json(sig_path)["signing_seed"])
    file_public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    for signer in (kr, LocalKeyring.load(keyring_path)):
        signature = signer.signing_key().sign(b"checkpoint")
        file_public.verify(signature, b"checkpoint")  # raises InvalidSignature on mismatch
    assert LocalKeyring.load(keyring_path).log_name() == LOG


def test_log_name_comes_from_signing_key_file(keyring_path: Path) -> None:
    LocalKeyring.create(keyring_path, log_name=LOG)
    kek_doc = load_json(keyring_path)
    kek_doc["log_name"] = "display.only/elsewhere"
    write_private(keyring_path, json.dumps(kek_doc).encode())
    assert LocalKeyring.load(keyring_path).log_name() == LOG


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660])
def test_loose_signing_key_file_is_refused(keyring_path: Path, mode: int) -> None:
    LocalKeyring.create(keyring_path, log_name=LOG)
    sig_path = sig_path_of(keyring_path)
    os.chmod(sig_path, mode)
    with pytest.raises(KeyringError, match="group or other") as err:
        LocalKeyring.load(keyring_path)
    assert str(sig_path) in str(err.value)
    with pytest.raises(KeyringError, match="group or other"):
        open_keyring(keyring_path, create_if_missing=True)
    assert mode_of(sig_path) == mode  # refused, not silently "fixed"


def test_rotation_never_touches_signing_key(keyring_path: Path) -> None:
    kr = LocalKeyring.create(keyring_path, log_name=LOG)
    sig_path = sig_path_of(keyring_path)
    before = sig_path.read_bytes()
    before_stat = os.stat(sig_path)
    public = raw_public(kr.signing_key())
    sealed = seal(kr, b"statement", ctx())

    other = LocalKeyring.load(keyring_path)  # e.g. the rotation CLI
    new_id = other.rotate()
    assert kr.current_kek_id() == new_id  # the running app picks the rotation up
    third = other.rotate()
    other.retire(new_id)
    assert kr.kek_ids() == ["kek-0001", third]
    assert open_sealed(kr, sealed, ctx()) == b"statement"

    assert sig_path.read_bytes() == before
    assert os.stat(sig_path).st_ino == before_stat.st_ino
    assert raw_public(kr.signing_key()) == raw_public(other.signing_key()) == public
    seed = base64.b64decode(load_json(sig_path)["signing_seed"])
    kek_doc = load_json(keyring_path)
    assert kek_doc["format"] == 2
    assert "signing_seed" not in kek_doc
    for needle in seed_needles(seed):
        assert needle not in keyring_path.read_bytes()


def test_create_refuses_when_signing_key_file_exists(keyring_path: Path) -> None:
    sig_path = sig_path_of(keyring_path)
    write_private(sig_path, signing_file_bytes(LOG, os.urandom(32)))
    before = sig_path.read_bytes()
    with pytest.raises(KeyringError, match="already exists"):
        LocalKeyring.create(keyring_path)
    assert not keyring_path.exists()
    assert sig_path.read_bytes() == before
    with pytest.raises(KeyringError, match="already exists"):
        open_keyring(keyring_path, create_if_missing=True)
    assert not keyring_path.exists()


def test_create_refuses_when_kek_file_exists(keyring_path: Path) -> None:
    LocalKeyring.create(keyring_path)
    sig_path = sig_path_of(keyring_path)
    sig_path.unlink()
    with pytest.raises(KeyringError, match="already exists"):
        LocalKeyring.create(keyring_path)
    assert not sig_path.exists()


# --- refusals -----------------------------------------------------------------------------------


def test_format_2_without_signing_key_file_is_refused(keyring_path: Path) -> None:
    LocalKeyring.create(keyring_path, log_name=LOG)
    sig_path = sig_path_of(keyring_path)
    sig_path.unlink()
    with pytest.raises(KeyringError, match="signing-key file") as err:
        LocalKeyring.load(keyring_path)
    assert str(sig_path) in str(err.value)
    assert "does not exist" in str(err.value)
    # Even where creating is allowed, a missing signing key is never silently re-minted.
    with pytest.raises(KeyringError, match="signing-key file"):
        open_keyring(keyring_path, create_if_missing=True)
    assert not sig_path.exists()


def test_format_2_with_a_signing_seed_is_refused(keyring_path: Path) -> None:
    LocalKeyring.create(keyring_path, log_name=LOG)
    kek_doc = load_json(keyring_path)
    kek_doc["signing_seed"] = load_json(sig_path_of(keyring_path))["signing_seed"]
    write_private(keyring_path, json.dumps(kek_doc).encode())
    with pytest.raises(KeyringError, match="KEKs only"):
        LocalKeyring.load(keyring_path)


def test_signing_key_file_with_keks_is_refused(keyring_path: Path) -> None:
    LocalKeyring.create(keyring_path, log_name=LOG)
    sig_doc = load_json(sig_path_of(keyring_path))
    sig_doc["keks"] = load_json(keyring_path)["keks"]
    write_private(sig_path_of(keyring_path), json.dumps(sig_doc).encode())
    with pytest.raises(KeyringError, match="must not hold KEKs"):
        LocalKeyring.load(keyring_path)


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"format": 2, "log_name": "x", "signing_seed": "AAAA"}',
        b'{"format": 1, "log_name": "", "signing_seed": "AAAA"}',
        b'{"format": 1, "log_name": "x"}',
    ],
)
def test_malformed_signing_key_file_is_refused(keyring_path: Path, content: bytes) -> None:
    LocalKeyring.create(keyring_path, log_name=LOG)
    write_private(sig_path_of(keyring_path), content)
    with pytest.raises(KeyringError, match="signing key"):
        LocalKeyring.load(keyring_path)


# --- migration from format 1 --------------------------------------------------------------------


def test_migration_from_format_1(keyring_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    k1, k2, seed = os.urandom(32), os.urandom(32), os.urandom(32)
    keks = {"kek-0001": (k1, "2024-01-02T03:04:05+00:00"), "kek-0002": (k2, "2024-06-07T08:09:10+00:00")}
    old = old_format_bytes(LOG, "kek-0002", keks, seed)
    write_private(keyring_path, old)
    old_doc = json.loads(old)
    data_key = os.urandom(32)
    wrapped_old = old_wrap(k1, "kek-0001", data_key, ctx())  # wrapped before migration, under kek-0001

    with caplog.at_level(logging.DEBUG, logger="casework.crypto.keyring"):
        kr = LocalKeyring.load(keyring_path)

    # Both files exist, 0600, with nothing left over.
    sig_path = sig_path_of(keyring_path)
    assert mode_of(keyring_path) == 0o600
    assert mode_of(sig_path) == 0o600
    assert not [p for p in keyring_path.parent.iterdir() if p.name.endswith(".tmp")]

    # The KEK file keeps KEKs and current exactly, and loses the seed.
    kek_doc = load_json(keyring_path)
    assert kek_doc["format"] == 2
    assert "signing_seed" not in kek_doc
    assert kek_doc["keks"] == old_doc["keks"]
    assert kek_doc["current"] == old_doc["current"] == "kek-0002"
    kek_bytes = keyring_path.read_bytes()
    for needle in seed_needles(seed):
        assert needle not in kek_bytes
    assert kr.kek_ids() == ["kek-0001", "kek-0002"]
    assert kr.current_kek_id() == "kek-0002"
    assert kr.kek_created("kek-0001") == "2024-01-02T03:04:05+00:00"
    assert kr.unwrap_key(wrapped_old, kek_id="kek-0001", context=ctx()) == data_key

    # The signing-key file holds the same seed and log name: same public key, same log.
    sig_doc = load_json(sig_path)
    assert sig_doc == {"format": 1, "log_name": LOG, "signing_seed": old_doc["signing_seed"]}
    expected_public = raw_public(Ed25519PrivateKey.from_private_bytes(seed))
    assert raw_public(kr.signing_key()) == expected_public
    assert kr.log_name() == LOG

    # Nothing secret was logged.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert str(sig_path) in logged
    for needle in [*seed_needles(seed), *seed_needles(k1), *seed_needles(k2)]:
        assert needle.decode("latin-1") not in logged

    # A second load finds the new layout and changes nothing.
    kek_before, sig_before = keyring_path.read_bytes(), sig_path.read_bytes()
    again = LocalKeyring.load(keyring_path)
    assert keyring_path.read_bytes() == kek_before and sig_path.read_bytes() == sig_before
    assert raw_public(again.signing_key()) == expected_public
    assert again.unwrap_key(wrapped_old, kek_id="kek-0001", context=ctx()) == data_key


def test_migration_keeps_sealed_records_and_rotation_working(keyring_path: Path) -> None:
    kr = LocalKeyring.create(keyring_path, log_name=LOG)
    sealed = seal(kr, b"statement", ctx())
    public = raw_public(kr.signing_key())
    # Rewrite the pair as one format-1 file, as a pre-split deployment would have it.
    kek_doc, sig_path = load_json(keyring_path), sig_path_of(keyring_path)
    seed = base64.b64decode(load_json(sig_path)["signing_seed"])
    keks = {kid: (base64.b64decode(e["key"]), e["created"]) for kid, e in kek_doc["keks"].items()}
    write_private(keyring_path, old_format_bytes(LOG, kek_doc["current"], keks, seed))
    sig_path.unlink()

    migrated = LocalKeyring.load(keyring_path)
    assert open_sealed(migrated, sealed, ctx()) == b"statement"
    assert raw_public(migrated.signing_key()) == public
    new_id = migrated.rotate()
    assert LocalKeyring.load(keyring_path).current_kek_id() == new_id
    assert "signing_seed" not in load_json(keyring_path)
    assert sig_path.exists()


def test_open_keyring_migrates(keyring_path: Path) -> None:
    seed = os.urandom(32)
    write_private(keyring_path, old_format_bytes(LOG, "kek-0001", {"kek-0001": (os.urandom(32), "t")}, seed))
    kr = open_keyring(str(keyring_path), create_if_missing=False)
    assert raw_public(kr.signing_key()) == raw_public(Ed25519PrivateKey.from_private_bytes(seed))
    assert load_json(keyring_path)["format"] == 2
    assert sig_path_of(keyring_path).exists()


def test_interrupted_migration_is_finished(keyring_path: Path) -> None:
    """A crash after the signing-key file was written but before the KEK file was rewritten."""
    seed = os.urandom(32)
    write_private(keyring_path, old_format_bytes(LOG, "kek-0001", {"kek-0001": (os.urandom(32), "t")}, seed))
    write_private(sig_path_of(keyring_path), signing_file_bytes(LOG, seed))
    kr = LocalKeyring.load(keyring_path)
    assert raw_public(kr.signing_key()) == raw_public(Ed25519PrivateKey.from_private_bytes(seed))
    assert "signing_seed" not in load_json(keyring_path)
    assert load_json(keyring_path)["format"] == 2


def test_conflicting_seeds_are_refused(keyring_path: Path) -> None:
    write_private(keyring_path, old_format_bytes(LOG, "kek-0001", {"kek-0001": (os.urandom(32), "t")}, os.urandom(32)))
    write_private(sig_path_of(keyring_path), signing_file_bytes(LOG, os.urandom(32)))
    kek_before, sig_before = keyring_path.read_bytes(), sig_path_of(keyring_path).read_bytes()
    with pytest.raises(KeyringError, match="different") as err:
        LocalKeyring.load(keyring_path)
    assert str(sig_path_of(keyring_path)) in str(err.value)
    with pytest.raises(KeyringError, match="different"):
        open_keyring(keyring_path, create_if_missing=True)
    # Neither file was touched: the operator decides which key is the log's.
    assert keyring_path.read_bytes() == kek_before
    assert sig_path_of(keyring_path).read_bytes() == sig_before


def test_conflicting_log_names_are_refused(keyring_path: Path) -> None:
    seed = os.urandom(32)
    write_private(keyring_path, old_format_bytes(LOG, "kek-0001", {"kek-0001": (os.urandom(32), "t")}, seed))
    write_private(sig_path_of(keyring_path), signing_file_bytes("other.log/custody", seed))
    with pytest.raises(KeyringError, match="names the log"):
        LocalKeyring.load(keyring_path)
    assert load_json(keyring_path)["format"] == 1


def test_loose_format_1_file_is_refused_before_migrating(keyring_path: Path) -> None:
    write_private(keyring_path, old_format_bytes(LOG, "kek-0001", {"kek-0001": (os.urandom(32), "t")}, os.urandom(32)))
    os.chmod(keyring_path, 0o644)
    with pytest.raises(KeyringError, match="group or other"):
        LocalKeyring.load(keyring_path)
    assert not sig_path_of(keyring_path).exists()
    assert load_json(keyring_path)["format"] == 1
