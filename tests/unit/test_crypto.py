"""Envelope encryption and keyring: the properties the product spec promises."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from casework.crypto import (
    SUBJECT_KEK_ID,
    DecryptionError,
    KeyDestroyedError,
    KeyringError,
    KeyringProvider,
    LocalKeyring,
    Sealed,
    SubjectKeyDestroyed,
    UnknownKeyError,
    bind,
    open_keyring,
    open_sealed,
    rewrap,
    seal,
    shred,
    to_subject,
)
from casework.crypto.envelope import to_kek

PLAINTEXT = b"Q: Where were you at 21:00?\nA: At the bus stop on Mill Road."


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keyring.json"


@pytest.fixture
def keyring(keyring_path: Path) -> LocalKeyring:
    return LocalKeyring.create(keyring_path)


def ctx(version: int = 1, transcript: int = 7, case: int = 3) -> bytes:
    return bind("transcript_version", transcript, parents={"case": case}, version=version)


def public_bytes(kr: LocalKeyring) -> bytes:
    return kr.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_round_trip(keyring: LocalKeyring) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    assert len(sealed.nonce) == 12
    assert sealed.kek_id == "kek-0001"
    assert open_sealed(keyring, sealed, ctx()) == PLAINTEXT


def test_bind_is_canonical() -> None:
    a = bind("identity", 5, parents={"case": 1, "witness": "w2"}, version=None)
    b = bind("identity", "5", parents={"witness": "w2", "case": "1"})
    assert a == b
    assert a != bind("identity", 5, parents={"case": 1, "witness": "w3"})
    assert bind("t", 1, version=1) != bind("t", 1, version=2)


def test_each_seal_uses_fresh_nonce_and_key(keyring: LocalKeyring) -> None:
    first, second = seal(keyring, PLAINTEXT, ctx()), seal(keyring, PLAINTEXT, ctx())
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    data_keys = {keyring.unwrap_key(s.wrapped_key or b"", kek_id=s.kek_id, context=ctx()) for s in (first, second)}
    assert len(data_keys) == 2


@pytest.mark.parametrize(
    "other",
    [
        ctx(version=2),
        ctx(transcript=8),
        ctx(case=4),
        bind("identity", 7, parents={"case": 3}, version=1),
    ],
)
def test_sealed_moved_to_another_row_fails(keyring: LocalKeyring, other: bytes) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    with pytest.raises(DecryptionError, match="does not belong to this record"):
        open_sealed(keyring, sealed, other)


def test_ciphertext_moved_with_own_key_row_fails(keyring: LocalKeyring) -> None:
    # Attacker swaps only the ciphertext/nonce columns between two rows.
    mine, theirs = seal(keyring, PLAINTEXT, ctx(1)), seal(keyring, b"other", ctx(2))
    moved = replace(mine, ciphertext=theirs.ciphertext, nonce=theirs.nonce)
    with pytest.raises(DecryptionError):
        open_sealed(keyring, moved, ctx(1))


def test_wrapped_key_moved_fails(keyring: LocalKeyring) -> None:
    mine, theirs = seal(keyring, PLAINTEXT, ctx(1)), seal(keyring, b"other", ctx(2))
    moved = replace(mine, wrapped_key=theirs.wrapped_key)
    with pytest.raises(DecryptionError, match="wrapped data key"):
        open_sealed(keyring, moved, ctx(1))
    # Even a complete (ciphertext, nonce, wrapped key) triple fails in another row.
    with pytest.raises(DecryptionError):
        open_sealed(keyring, theirs, ctx(1))


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_bit_flip_fails(keyring: LocalKeyring, field: str) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    value = bytearray(getattr(sealed, field))
    value[len(value) // 2] ^= 0x01
    with pytest.raises(DecryptionError) as info:
        open_sealed(keyring, replace(sealed, **{field: bytes(value)}), ctx())
    assert PLAINTEXT.decode()[:10] not in str(info.value)


def test_wrong_kek_fails(keyring: LocalKeyring) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    keyring.rotate()
    with pytest.raises(DecryptionError):
        open_sealed(keyring, replace(sealed, kek_id="kek-0002"), ctx())
    with pytest.raises(UnknownKeyError):
        open_sealed(keyring, replace(sealed, kek_id="kek-0099"), ctx())


def test_rotate_rewrap_retire(keyring: LocalKeyring, keyring_path: Path) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    new_id = keyring.rotate()
    assert new_id == "kek-0002"
    assert keyring.current_kek_id() == new_id
    assert keyring.kek_ids() == ["kek-0001", "kek-0002"]
    assert stat.S_IMODE(os.stat(keyring_path).st_mode) == 0o600

    moved = rewrap(keyring, sealed, ctx())
    assert moved.kek_id == new_id
    assert moved.ciphertext == sealed.ciphertext
    assert moved.nonce == sealed.nonce
    assert moved.wrapped_key != sealed.wrapped_key
    assert rewrap(keyring, moved, ctx()) is moved  # already current: nothing to write

    keyring.retire("kek-0001")
    assert keyring.kek_ids() == [new_id]
    reloaded = LocalKeyring.load(keyring_path)
    assert open_sealed(reloaded, moved, ctx()) == PLAINTEXT
    with pytest.raises(UnknownKeyError):
        open_sealed(reloaded, sealed, ctx())
    with pytest.raises(KeyringError, match="current"):
        reloaded.retire(new_id)


def test_other_process_rotation_is_picked_up(keyring: LocalKeyring, keyring_path: Path) -> None:
    cli = LocalKeyring.load(keyring_path)
    new_id = cli.rotate()
    sealed = rewrap(cli, seal(cli, PLAINTEXT, ctx()), ctx())
    assert keyring.current_kek_id() == new_id
    assert open_sealed(keyring, sealed, ctx()) == PLAINTEXT


def test_shredded_raises_key_destroyed(keyring: LocalKeyring) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    for gone in (shred(sealed), replace(sealed, wrapped_key=b"")):
        with pytest.raises(KeyDestroyedError):
            open_sealed(keyring, gone, ctx())
        with pytest.raises(KeyDestroyedError):
            rewrap(keyring, gone, ctx(), to_kek_id=keyring.rotate())


def test_keyring_file_mode_0600(keyring: LocalKeyring, keyring_path: Path) -> None:
    assert stat.S_IMODE(os.stat(keyring_path).st_mode) == 0o600
    # The log's signing key lives in its own file beside the KEKs, just as private.
    signing_file = keyring_path.with_name(keyring_path.name + ".signing-key")
    assert stat.S_IMODE(os.stat(signing_file).st_mode) == 0o600
    assert not [p for p in keyring_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_create_refuses_to_overwrite(keyring: LocalKeyring, keyring_path: Path) -> None:
    with pytest.raises(KeyringError, match="already exists"):
        LocalKeyring.create(keyring_path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_load_refuses_loose_mode(keyring: LocalKeyring, keyring_path: Path, mode: int) -> None:
    os.chmod(keyring_path, mode)
    with pytest.raises(KeyringError, match="group or other"):
        LocalKeyring.load(keyring_path)


def test_load_rejects_malformed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": 1, "keks": {}}')
    os.close(fd)
    with pytest.raises(KeyringError):
        LocalKeyring.load(bad)


def test_open_keyring(tmp_path: Path) -> None:
    missing = tmp_path / "prod-keyring.json"
    with pytest.raises(KeyringError, match="does not exist"):
        open_keyring(str(missing), create_if_missing=False)
    assert not missing.exists()
    with pytest.raises(KeyringError, match="no keyring path"):
        open_keyring(None, create_if_missing=True)

    created = open_keyring(str(missing), create_if_missing=True)
    again = open_keyring(str(missing), create_if_missing=False)
    assert again.kek_ids() == created.kek_ids()


def test_reload_keeps_signing_key_and_log_name(keyring_path: Path) -> None:
    created = LocalKeyring.create(keyring_path, log_name="casework.test/custody")
    reloaded = LocalKeyring.load(keyring_path)
    assert public_bytes(reloaded) == public_bytes(created)
    assert reloaded.log_name() == "casework.test/custody"
    signature = reloaded.signing_key().sign(b"checkpoint")
    created.signing_key().public_key().verify(signature, b"checkpoint")


def test_no_plaintext_data_key_is_stored(keyring: LocalKeyring, keyring_path: Path) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    assert isinstance(sealed, Sealed)
    assert PLAINTEXT not in sealed.ciphertext
    data_key = keyring.unwrap_key(sealed.wrapped_key or b"", kek_id=sealed.kek_id, context=ctx())
    assert len(data_key) == 32
    file_bytes = keyring_path.read_bytes() + keyring_path.with_name(keyring_path.name + ".signing-key").read_bytes()
    for needle in (data_key, base64.b64encode(data_key), data_key.hex().encode()):
        assert needle not in file_bytes
        for field in (sealed.ciphertext, sealed.nonce, sealed.wrapped_key or b""):
            assert needle not in field


# --- Per-subject keys (crypto-shredding) in the file keyring -----------------------------------


def in_child(code: str, *args: str) -> str:
    """Run `code` in another process (its own LocalKeyring), as another worker or the CLI would."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


CHILD = "import sys\nfrom casework.crypto.keyring import LocalKeyring\nkr = LocalKeyring.load(sys.argv[1])\n"


def test_keyring_provider_declares_subject_keys(keyring: LocalKeyring) -> None:
    provider: KeyringProvider = keyring
    for name in (
        "create_subject_key",
        "has_subject_key",
        "wrap_with_subject",
        "unwrap_with_subject",
        "destroy_subject_key",
    ):
        assert name in KeyringProvider.__dict__ and callable(getattr(provider, name))


def test_local_subject_key_lifecycle(keyring: LocalKeyring, keyring_path: Path) -> None:
    subject, other = "witness:7", "witness:8"
    data_key = os.urandom(32)
    assert not keyring.has_subject_key(subject)
    with pytest.raises(SubjectKeyDestroyed):
        keyring.wrap_with_subject(subject, data_key, ctx())

    keyring.create_subject_key(subject)
    key_file = keyring_path.with_name("keyring.json.subjects") / hashlib.sha256(subject.encode()).hexdigest()
    first = key_file.read_bytes()
    keyring.create_subject_key(subject)  # idempotent: the same key
    assert key_file.read_bytes() == first and len(first) == 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]  # no temp files, no witness ids
    assert keyring.has_subject_key(subject)

    wrapped = keyring.wrap_with_subject(subject, data_key, ctx())
    assert wrapped[0] == 0x02 and len(wrapped) == 61 and data_key not in wrapped
    assert keyring.unwrap_with_subject(subject, wrapped, ctx()) == data_key
    with pytest.raises(InvalidTag):
        keyring.unwrap_with_subject(subject, wrapped, ctx(version=2))
    keyring.create_subject_key(other)
    with pytest.raises(InvalidTag):
        keyring.unwrap_with_subject(other, wrapped, ctx())
    with pytest.raises(InvalidTag):  # a subject wrap is not a KEK wrap, nor the other way round
        keyring.unwrap_key(wrapped, kek_id="kek-0001", context=ctx())
    _, kek_wrapped = keyring.wrap_key(data_key, kek_id=None, context=ctx())
    with pytest.raises(InvalidTag):
        keyring.unwrap_with_subject(subject, kek_wrapped, ctx())

    check = CHILD + (
        "subject, wrapped, context = sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4].encode()\n"
        "print(kr.has_subject_key(subject))\n"
        "try:\n"
        "    print(kr.unwrap_with_subject(subject, wrapped, context).hex())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    args = (str(keyring_path), subject, wrapped.hex(), ctx().decode())
    assert in_child(check, *args).split() == ["True", data_key.hex()]

    assert keyring.destroy_subject_key(subject) is True
    assert not key_file.exists() and not keyring.has_subject_key(subject)
    with pytest.raises(SubjectKeyDestroyed) as info:
        keyring.unwrap_with_subject(subject, wrapped, ctx())
    assert isinstance(info.value, UnknownKeyError)
    assert keyring.destroy_subject_key(subject) is False
    assert in_child(check, *args).split() == ["False", "SubjectKeyDestroyed"]
    for directory_file in keyring_path.parent.rglob("*"):
        if directory_file.is_file():
            assert first not in directory_file.read_bytes()

    # And the other way round: a key destroyed by another process is gone here at once.
    other_wrapped = keyring.wrap_with_subject(other, data_key, ctx())
    assert in_child(CHILD + "print(kr.destroy_subject_key(sys.argv[2]))", str(keyring_path), other) == "True"
    with pytest.raises(SubjectKeyDestroyed):
        keyring.unwrap_with_subject(other, other_wrapped, ctx())


@pytest.mark.parametrize("subject", ["", "a\nb", "x" * 201])
def test_local_subject_names_are_validated(keyring: LocalKeyring, subject: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        keyring.create_subject_key(subject)


def test_local_subject_directory_must_be_private(keyring: LocalKeyring, keyring_path: Path) -> None:
    keyring.create_subject_key("witness:1")
    directory = keyring_path.with_name("keyring.json.subjects")
    os.chmod(directory, 0o755)
    with pytest.raises(KeyringError, match="group or other"):
        keyring.has_subject_key("witness:1")
    os.chmod(directory, 0o700)
    key_file = directory / hashlib.sha256(b"witness:1").hexdigest()
    os.chmod(key_file, 0o644)
    with pytest.raises(KeyringError, match="group or other"):
        keyring.wrap_with_subject("witness:1", os.urandom(32), ctx())


def test_envelope_under_a_subject_key(keyring: LocalKeyring) -> None:
    subject = "witness:3"
    keyring.create_subject_key(subject)
    sealed = seal(keyring, PLAINTEXT, ctx(), subject=subject)
    assert sealed.kek_id == SUBJECT_KEK_ID == "subject"
    assert open_sealed(keyring, sealed, ctx(), subject=subject) == PLAINTEXT
    with pytest.raises(DecryptionError):  # a subject record needs its subject
        open_sealed(keyring, sealed, ctx())
    keyring.create_subject_key("witness:4")
    with pytest.raises(DecryptionError):  # and opens under no other
        open_sealed(keyring, sealed, ctx(), subject="witness:4")
    keyring.rotate()
    assert rewrap(keyring, sealed, ctx()) is sealed  # subject keys are not KEKs: rotation leaves it be

    legacy = seal(keyring, PLAINTEXT, ctx())  # sealed under a KEK, as before subject keys
    assert open_sealed(keyring, legacy, ctx(), subject=subject) == PLAINTEXT
    moved = to_subject(keyring, legacy, ctx(), subject)
    assert moved.kek_id == "subject" and moved.ciphertext == legacy.ciphertext
    assert open_sealed(keyring, moved, ctx(), subject=subject) == PLAINTEXT
    back = to_kek(keyring, moved, ctx(), subject)
    assert back.kek_id == keyring.current_kek_id() and open_sealed(keyring, back, ctx()) == PLAINTEXT

    # Destroyed in the keyring: the row still holds its wrapped key (a restored backup), yet nothing opens.
    keyring.destroy_subject_key(subject)
    assert sealed.wrapped_key
    with pytest.raises(KeyDestroyedError):
        open_sealed(keyring, sealed, ctx(), subject=subject)
    with pytest.raises(KeyDestroyedError):
        seal(keyring, PLAINTEXT, ctx(), subject=subject)
