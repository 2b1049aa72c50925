"""Pkcs11Keyring on a real SoftHSM2 token: no mocks, keys never leave the token.

The session fixture installs SoftHSM2 with scripts/install-softhsm when it is missing
(skipping only if that is impossible), points SOFTHSM2_CONF at a private token
directory and initialises the tokens with softhsm2-util before PKCS#11 is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e

from casework.crypto import pkcs11_keyring
from casework.crypto.envelope import (
    DecryptionError,
    KeyDestroyedError,
    bind,
    open_sealed,
    rewrap,
    seal,
    shred,
)
from casework.crypto.keyring import (
    KeyringError,
    KeyringProvider,
    LocalKeyring,
    UnknownKeyError,
)
from casework.crypto.pkcs11_keyring import (
    DEFAULT_MODULE,
    KEK_WRAP_VERSION,
    SIGNER_LABEL,
    SUBJECT_WRAP_VERSION,
    Pkcs11Ed25519Signer,
    Pkcs11Keyring,
    SubjectKeyDestroyed,
)
from casework_verify import note

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install-softhsm"
PIN, SO_PIN = "1234", "5678"
LOG_NAME = "casework.test/custody"
# Tokens must exist before PKCS#11 is initialised in this process: SoftHSM2 fixes
# its slot list at C_Initialize.
TOKENS = ("casework", "rotation", "fresh", "empty", "wrong-pin", "session-loss")
PLAINTEXT = b"Q: Where were you at 21:00?\nA: At the bus stop on Mill Road."


@dataclass(frozen=True)
class Hsm:
    module: str
    conf: Path


def _install_softhsm() -> str:
    """Module path from scripts/install-softhsm; skip only if SoftHSM2 cannot be installed."""
    missing = shutil.which("softhsm2-util") is None
    try:
        proc = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        if missing:
            pytest.skip(f"SoftHSM2 is not installed and {INSTALL} could not run: {exc}")
        raise
    if proc.returncode != 0:
        if missing:
            pytest.skip(
                f"SoftHSM2 is not installed and cannot be installed here "
                f"({INSTALL} exited {proc.returncode}): {proc.stderr.strip()[-500:]}"
            )
        pytest.fail(f"{INSTALL} failed although softhsm2-util exists: {proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsm]:
    module = _install_softhsm()
    root = tmp_path_factory.mktemp("softhsm")
    tokens = root / "tokens"
    tokens.mkdir(mode=0o700)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        for label in TOKENS:
            subprocess.run(
                ["softhsm2-util", "--init-token", "--free", "--label", label,
                 "--pin", PIN, "--so-pin", SO_PIN],
                check=True, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        yield Hsm(module=module, conf=conf)


@pytest.fixture(scope="session")
def keyring(hsm: Hsm) -> Pkcs11Keyring:
    return Pkcs11Keyring.initialise(hsm.module, "casework", PIN, log_name=LOG_NAME)


@pytest.fixture
def raw_session(hsm: Hsm, keyring: Pkcs11Keyring) -> Iterator[Any]:
    """A separate python-pkcs11 session on the same token, to inspect objects directly.

    PKCS#11 login is per process, so it sees the private objects once `keyring`
    has logged in; it is opened without a PIN so closing it does not log out.
    """
    keyring.current_kek_id()
    token = pkcs11.lib(hsm.module).get_token(token_label="casework")
    session = token.open(rw=True)
    try:
        yield session
    finally:
        session.close()


def ctx(version: int = 1, transcript: int = 7, case: int = 3) -> bytes:
    return bind("transcript_version", transcript, parents={"case": case}, version=version)


def run_python(code: str, *args: str) -> str:
    """Run `code` in a fresh interpreter (its own PKCS#11 initialisation and login)."""
    env = {**os.environ, "CASEWORK_PKCS11_PIN": PIN}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


OPEN_IN_CHILD = (
    "import sys\n"
    "from casework.crypto.pkcs11_keyring import Pkcs11Keyring\n"
    "kr = Pkcs11Keyring.from_uri(f'pkcs11:token={sys.argv[1]};module={sys.argv[2]}')\n"
)


def test_satisfies_keyring_provider(keyring: Pkcs11Keyring) -> None:
    provider: KeyringProvider = keyring  # checked by mypy as well
    assert provider.current_kek_id() == "kek-0001"
    assert provider.log_name() == LOG_NAME
    assert isinstance(provider.signing_key(), Ed25519PrivateKey)
    assert "1234" not in repr(keyring)


def test_wrap_unwrap_round_trip(keyring: Pkcs11Keyring) -> None:
    data_key = os.urandom(32)
    kek_id, wrapped = keyring.wrap_key(data_key, kek_id=None, context=ctx())
    assert kek_id == keyring.current_kek_id()
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert wrapped[0] == KEK_WRAP_VERSION
    assert data_key not in wrapped
    assert keyring.unwrap_key(wrapped, kek_id=kek_id, context=ctx()) == data_key
    _, again = keyring.wrap_key(data_key, kek_id=kek_id, context=ctx())
    assert again[1:13] != wrapped[1:13]  # fresh nonce per wrap
    assert keyring.unwrap_key(again, kek_id=kek_id, context=ctx()) == data_key
    with pytest.raises(ValueError, match="32 bytes"):
        keyring.wrap_key(b"short", kek_id=None, context=ctx())


@pytest.mark.parametrize(
    "other",
    [ctx(version=2), ctx(transcript=8), ctx(case=4), bind("identity", 7, parents={"case": 3}), b""],
)
def test_wrong_context_fails(keyring: Pkcs11Keyring, other: bytes) -> None:
    kek_id, wrapped = keyring.wrap_key(os.urandom(32), kek_id=None, context=ctx())
    with pytest.raises(InvalidTag):
        keyring.unwrap_key(wrapped, kek_id=kek_id, context=other)


@pytest.mark.parametrize("position", [0, 1, 13, 30, 60])
def test_altered_or_truncated_wrap_fails(keyring: Pkcs11Keyring, position: int) -> None:
    kek_id, wrapped = keyring.wrap_key(os.urandom(32), kek_id=None, context=ctx())
    flipped = bytearray(wrapped)
    flipped[position] ^= 0x01
    for bad in (bytes(flipped), wrapped[:-1], wrapped + b"\x00", b""):
        with pytest.raises(InvalidTag):
            keyring.unwrap_key(bad, kek_id=kek_id, context=ctx())
    assert len(keyring.unwrap_key(wrapped, kek_id=kek_id, context=ctx())) == 32


def test_unknown_kek_id(keyring: Pkcs11Keyring) -> None:
    _, wrapped = keyring.wrap_key(os.urandom(32), kek_id=None, context=ctx())
    for unknown in ("kek-9999", "kek-01", "nonsense", SIGNER_LABEL):
        with pytest.raises(UnknownKeyError):
            keyring.unwrap_key(wrapped, kek_id=unknown, context=ctx())
        with pytest.raises(UnknownKeyError):
            keyring.wrap_key(os.urandom(32), kek_id=unknown, context=ctx())


def test_format_is_distinct_from_local_keyring(keyring: Pkcs11Keyring, tmp_path: Path) -> None:
    local = LocalKeyring.create(tmp_path / "keyring.json")
    data_key = os.urandom(32)
    _, local_wrapped = local.wrap_key(data_key, kek_id="kek-0001", context=ctx())
    _, token_wrapped = keyring.wrap_key(data_key, kek_id="kek-0001", context=ctx())
    assert local_wrapped[0] == 0x01
    assert token_wrapped[0] == KEK_WRAP_VERSION != local_wrapped[0]
    with pytest.raises(InvalidTag):
        keyring.unwrap_key(local_wrapped, kek_id="kek-0001", context=ctx())
    with pytest.raises(InvalidTag):
        local.unwrap_key(token_wrapped, kek_id="kek-0001", context=ctx())


def test_envelope_seal_and_open(keyring: Pkcs11Keyring) -> None:
    sealed = seal(keyring, PLAINTEXT, ctx())
    assert sealed.kek_id == keyring.current_kek_id()
    assert PLAINTEXT not in sealed.ciphertext
    assert open_sealed(keyring, sealed, ctx()) == PLAINTEXT
    with pytest.raises(DecryptionError, match="does not belong to this record"):
        open_sealed(keyring, sealed, ctx(version=2))
    other = seal(keyring, b"other", ctx(2))
    with pytest.raises(DecryptionError, match="wrapped data key"):
        open_sealed(keyring, replace(sealed, wrapped_key=other.wrapped_key), ctx())
    flipped = bytearray(sealed.wrapped_key or b"")
    flipped[20] ^= 0x80
    with pytest.raises(DecryptionError):
        open_sealed(keyring, replace(sealed, wrapped_key=bytes(flipped)), ctx())
    with pytest.raises(KeyDestroyedError):
        open_sealed(keyring, shred(sealed), ctx())
    assert rewrap(keyring, sealed, ctx()) is sealed  # already under the current KEK


def test_rotate_rewrap_retire(hsm: Hsm) -> None:
    keyring = Pkcs11Keyring.initialise(hsm.module, "rotation", PIN, log_name=LOG_NAME)
    assert keyring.kek_ids() == ["kek-0001"]
    sealed = seal(keyring, PLAINTEXT, ctx())
    assert sealed.kek_id == "kek-0001"

    assert keyring.rotate() == "kek-0002"
    assert keyring.current_kek_id() == "kek-0002"
    assert keyring.kek_ids() == ["kek-0001", "kek-0002"]
    assert open_sealed(keyring, sealed, ctx()) == PLAINTEXT  # old wraps still open
    assert seal(keyring, PLAINTEXT, ctx()).kek_id == "kek-0002"
    with pytest.raises(DecryptionError):
        open_sealed(keyring, replace(sealed, kek_id="kek-0002"), ctx())
    with pytest.raises(UnknownKeyError):
        open_sealed(keyring, replace(sealed, kek_id="kek-0099"), ctx())

    with pytest.raises(KeyringError, match="current"):
        keyring.retire("kek-0002")
    with pytest.raises(UnknownKeyError):
        keyring.retire("kek-0042")

    moved = rewrap(keyring, sealed, ctx())
    assert moved.kek_id == "kek-0002"
    assert (moved.ciphertext, moved.nonce) == (sealed.ciphertext, sealed.nonce)
    assert moved.wrapped_key != sealed.wrapped_key
    keyring.retire("kek-0001")
    assert keyring.kek_ids() == ["kek-0002"]
    with pytest.raises(UnknownKeyError):
        keyring.retire("kek-0001")
    with pytest.raises(UnknownKeyError):
        open_sealed(keyring, sealed, ctx())

    # Another process (the rotation CLI) rotates; this one picks it up.
    assert run_python(OPEN_IN_CHILD + "print(kr.rotate())", "rotation", hsm.module) == "kek-0003"
    assert keyring.current_kek_id() == "kek-0003"
    assert seal(keyring, PLAINTEXT, ctx()).kek_id == "kek-0003"
    reopened = Pkcs11Keyring(hsm.module, "rotation", PIN)
    assert reopened.kek_ids() == ["kek-0002", "kek-0003"]
    assert open_sealed(reopened, moved, ctx()) == PLAINTEXT
    with pytest.raises(KeyringError, match="current"):
        reopened.retire("kek-0003")


def _attributes(obj: Any) -> dict[Attribute, Any]:
    names = [
        Attribute.SENSITIVE,
        Attribute.EXTRACTABLE,
        Attribute.ALWAYS_SENSITIVE,
        Attribute.NEVER_EXTRACTABLE,
        Attribute.LOCAL,
        Attribute.TOKEN,
        Attribute.PRIVATE,
    ]
    return obj.get_attributes(names)


def _assert_locked_in(obj: Any, session: Any) -> None:
    attrs = _attributes(obj)
    assert attrs[Attribute.SENSITIVE] is True
    assert attrs[Attribute.EXTRACTABLE] is False
    assert attrs[Attribute.ALWAYS_SENSITIVE] is True
    assert attrs[Attribute.NEVER_EXTRACTABLE] is True
    assert attrs[Attribute.LOCAL] is True  # generated in the token, never imported
    assert attrs[Attribute.TOKEN] is True
    assert attrs[Attribute.PRIVATE] is True
    with pytest.raises(p11e.AttributeSensitive):
        obj[Attribute.VALUE]
    # Nor can it be wrapped out under another key.
    wrapper = session.generate_key(
        KeyType.AES, 256, store=False, capabilities=MechanismFlag.WRAP | MechanismFlag.ENCRYPT
    )
    with pytest.raises(p11e.PKCS11Error):
        wrapper.wrap_key(obj)
    with pytest.raises(p11e.PKCS11Error):  # not copyable (CKA_COPYABLE false)
        obj.copy({Attribute.LABEL: "stolen", Attribute.TOKEN: False})


def test_keys_are_sensitive_and_not_extractable(keyring: Pkcs11Keyring, raw_session: Any) -> None:
    kek = raw_session.get_key(ObjectClass.SECRET_KEY, KeyType.AES, label="kek-0001")
    _assert_locked_in(kek, raw_session)
    signer = raw_session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label=SIGNER_LABEL)
    _assert_locked_in(signer, raw_session)
    subject = f"witness-{uuid.uuid4()}"
    keyring.create_subject_key(subject)
    subject_key = raw_session.get_key(ObjectClass.SECRET_KEY, KeyType.AES, label=f"subject:{subject}")
    _assert_locked_in(subject_key, raw_session)
    with pytest.raises(KeyringError, match="not extractable"):
        keyring.signing_key().private_bytes_raw()


def test_token_ed25519_signature_verifies(keyring: Pkcs11Keyring, raw_session: Any) -> None:
    signer = keyring.signing_key()
    assert isinstance(signer, Pkcs11Ed25519Signer)
    message = b"casework checkpoint"
    signature = signer.sign(message)
    assert len(signature) == 64
    public = signer.public_key()
    public.verify(signature, message)
    with pytest.raises(InvalidSignature):
        public.verify(signature, message + b"!")
    assert signer.sign(message) == signature  # Ed25519 is deterministic
    point = raw_session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS, label=SIGNER_LABEL)[Attribute.EC_POINT]
    assert bytes(point) == b"\x04\x20" + public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    # The same key from a fresh instance.
    again = Pkcs11Keyring(keyring.module, keyring.token_label, PIN).signing_key().public_key()
    assert again.public_bytes(Encoding.Raw, PublicFormat.Raw) == public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_signed_note_with_token_key(keyring: Pkcs11Keyring) -> None:
    signer = keyring.signing_key()
    name = keyring.log_name()
    text = note.format_checkpoint(name, 42, bytes(range(32)))
    signed = note.sign_note(text, name, signer)
    vkey = note.vkey_string(name, signer.public_key())
    assert note.open_note(signed, vkey) == text
    assert note.parse_checkpoint(note.open_note(signed, vkey)).size == 42
    forged = signed.replace("\n42\n", "\n43\n")
    with pytest.raises(note.NoteError):
        note.open_note(forged, vkey)


def test_initialise_is_idempotent(hsm: Hsm) -> None:
    first = Pkcs11Keyring.initialise(hsm.module, "fresh", PIN, log_name="casework.fresh/log")
    public = first.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    token = pkcs11.lib(hsm.module).get_token(token_label="fresh")
    with token.open() as session:
        before = sorted(str(o[Attribute.LABEL]) for o in session.get_objects())
    assert before == ["casework-log-name", SIGNER_LABEL, SIGNER_LABEL, "kek-0001"]

    again = Pkcs11Keyring.initialise(hsm.module, "fresh", PIN, log_name="casework.fresh/log")
    with token.open() as session:
        after = sorted(str(o[Attribute.LABEL]) for o in session.get_objects())
    assert after == before
    assert again.log_name() == "casework.fresh/log"
    assert again.kek_ids() == ["kek-0001"]
    assert again.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) == public
    with pytest.raises(KeyringError, match="already holds log name"):
        Pkcs11Keyring.initialise(hsm.module, "fresh", PIN, log_name="another/log")


def test_uninitialised_token_fails_clearly(hsm: Hsm) -> None:
    keyring = Pkcs11Keyring(hsm.module, "empty", PIN)
    with pytest.raises(KeyringError, match="holds no KEK"):
        keyring.current_kek_id()
    with pytest.raises(KeyringError, match="holds no KEK"):
        keyring.wrap_key(os.urandom(32), kek_id=None, context=ctx())
    with pytest.raises(KeyringError, match="casework-log-name"):
        keyring.log_name()
    with pytest.raises(KeyringError, match=SIGNER_LABEL):
        keyring.signing_key().sign(b"x")
    with pytest.raises(KeyringError):
        keyring.check()
    assert keyring.kek_ids() == []


def test_bad_configuration_fails_clearly(hsm: Hsm) -> None:
    with pytest.raises(KeyringError, match="log in"):
        Pkcs11Keyring(hsm.module, "wrong-pin", "0000").kek_ids()
    with pytest.raises(KeyringError, match="no PKCS#11 token labelled"):
        Pkcs11Keyring(hsm.module, "no-such-token", PIN).kek_ids()
    with pytest.raises(KeyringError, match="cannot load"):
        Pkcs11Keyring("/nonexistent/libpkcs11.so", "casework", PIN).kek_ids()
    with pytest.raises(KeyringError, match="non-empty"):
        Pkcs11Keyring(hsm.module, "casework", "")


def test_from_uri(hsm: Hsm, keyring: Pkcs11Keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_PKCS11_PIN", PIN)
    configured = Pkcs11Keyring.from_uri(f"pkcs11:token=casework;module={hsm.module}")
    assert (configured.module, configured.token_label) == (hsm.module, "casework")
    assert configured.current_kek_id() == keyring.current_kek_id()
    encoded = Pkcs11Keyring.from_uri(
        "pkcs11:token=case%77ork?module-path=" + hsm.module.replace("/", "%2F"),
        pin_env="OTHER_PIN",
        environ={"OTHER_PIN": PIN},
    )
    assert (encoded.module, encoded.token_label) == (hsm.module, "casework")
    assert Pkcs11Keyring.from_uri("pkcs11:token=casework").module == DEFAULT_MODULE

    for bad, message in [
        ("casework", "must start with"),
        ("pkcs11:module=/x.so", "token="),
        ("pkcs11:token=casework;pin-value=1234", "do not put the PIN"),
        ("pkcs11:token=casework;slot-id=3", "unsupported"),
        ("pkcs11:token=a;token=b", "repeats"),
        ("pkcs11:token", "malformed"),
    ]:
        with pytest.raises(KeyringError, match=message):
            Pkcs11Keyring.from_uri(bad)
    monkeypatch.delenv("CASEWORK_PKCS11_PIN")
    with pytest.raises(KeyringError, match="CASEWORK_PKCS11_PIN"):
        Pkcs11Keyring.from_uri("pkcs11:token=casework")


def test_subject_key_lifecycle(hsm: Hsm, keyring: Pkcs11Keyring, raw_session: Any) -> None:
    subject = f"witness-{uuid.uuid4()}"
    label = f"subject:{subject}"
    data_key = os.urandom(32)
    assert not keyring.has_subject_key(subject)
    with pytest.raises(SubjectKeyDestroyed):
        keyring.wrap_with_subject(subject, data_key, ctx())

    keyring.create_subject_key(subject)
    keyring.create_subject_key(subject)  # idempotent: still one key
    assert keyring.has_subject_key(subject)
    assert len(list(raw_session.get_objects({Attribute.LABEL: label}))) == 1

    wrapped = keyring.wrap_with_subject(subject, data_key, ctx())
    assert wrapped[0] == SUBJECT_WRAP_VERSION
    assert len(wrapped) == 61
    assert data_key not in wrapped
    assert keyring.unwrap_with_subject(subject, wrapped, ctx()) == data_key
    with pytest.raises(InvalidTag):
        keyring.unwrap_with_subject(subject, wrapped, ctx(version=2))
    other = f"witness-{uuid.uuid4()}"
    keyring.create_subject_key(other)
    with pytest.raises(InvalidTag):
        keyring.unwrap_with_subject(other, wrapped, ctx())
    with pytest.raises(InvalidTag):  # a subject wrap is not a KEK wrap
        keyring.unwrap_key(wrapped, kek_id="kek-0001", context=ctx())

    # Another process sees the key and can unwrap with it.
    check = OPEN_IN_CHILD + (
        "subject, wrapped, context = sys.argv[3], bytes.fromhex(sys.argv[4]), sys.argv[5].encode()\n"
        "print(kr.has_subject_key(subject))\n"
        "try:\n"
        "    print(kr.unwrap_with_subject(subject, wrapped, context).hex())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    args = ("casework", hsm.module, subject, wrapped.hex(), ctx().decode())
    assert run_python(check, *args).split() == ["True", data_key.hex()]

    assert keyring.destroy_subject_key(subject) is True
    assert not keyring.has_subject_key(subject)
    assert list(raw_session.get_objects({Attribute.LABEL: label})) == []
    with pytest.raises(SubjectKeyDestroyed) as info:
        keyring.unwrap_with_subject(subject, wrapped, ctx())
    assert isinstance(info.value, UnknownKeyError)
    assert keyring.destroy_subject_key(subject) is False
    assert run_python(check, *args).split() == ["False", "SubjectKeyDestroyed"]

    # And the other way round: a key shredded by another process is gone here at once.
    other_wrapped = keyring.wrap_with_subject(other, data_key, ctx())
    shredder = OPEN_IN_CHILD + "print(kr.destroy_subject_key(sys.argv[3]))"
    assert run_python(shredder, "casework", hsm.module, other) == "True"
    with pytest.raises(SubjectKeyDestroyed):
        keyring.unwrap_with_subject(other, other_wrapped, ctx())


@pytest.mark.parametrize("subject", ["", "a\nb", "x" * 201])
def test_subject_names_are_validated(keyring: Pkcs11Keyring, subject: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        keyring.create_subject_key(subject)


def test_forked_child_uses_provider(keyring: Pkcs11Keyring) -> None:
    data_key = os.urandom(32)
    # The parent's session is open before the fork, as in a gunicorn master with preload.
    kek_id, wrapped = keyring.wrap_key(data_key, kek_id=None, context=ctx())
    subject = f"witness-{uuid.uuid4()}"
    keyring.create_subject_key(subject)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: like a gunicorn worker forked after the app was loaded
        status = 1
        try:
            os.close(read_fd)
            result = {
                "unwrapped": keyring.unwrap_key(wrapped, kek_id=kek_id, context=ctx()).hex(),
                "wrapped": keyring.wrap_key(data_key, kek_id=None, context=ctx(9))[1].hex(),
                "subject": keyring.wrap_with_subject(subject, data_key, ctx()).hex(),
                "signature": keyring.signing_key().sign(b"from the child").hex(),
                # The child initialised PKCS#11 itself instead of reusing the parent's session.
                "own_init": pkcs11_keyring._INITIALISED_BY.get(keyring.module) == os.getpid(),
            }
            status = 0
        except BaseException:
            result = {"error": traceback.format_exc()}
        finally:
            with os.fdopen(write_fd, "w") as out:
                json.dump(result, out)
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        result = json.load(pipe)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, result.get("error")
    assert result["unwrapped"] == data_key.hex()
    assert result["own_init"] is True
    # The parent's session survived the child's re-initialisation, and the child's work is valid.
    child_wrapped = bytes.fromhex(result["wrapped"])
    assert keyring.unwrap_key(child_wrapped, kek_id=kek_id, context=ctx(9)) == data_key
    subject_wrapped = bytes.fromhex(result["subject"])
    assert keyring.unwrap_with_subject(subject, subject_wrapped, ctx()) == data_key
    keyring.signing_key().public_key().verify(bytes.fromhex(result["signature"]), b"from the child")


def test_threads_share_the_provider(keyring: Pkcs11Keyring) -> None:
    def work(n: int) -> int:
        for i in range(15):
            data_key = os.urandom(32)
            context = ctx(version=i, transcript=n)
            kek_id, wrapped = keyring.wrap_key(data_key, kek_id=None, context=context)
            assert keyring.unwrap_key(wrapped, kek_id=kek_id, context=context) == data_key
            keyring.signing_key().public_key().verify(keyring.signing_key().sign(context), context)
        return n

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(work, range(6))) == list(range(6))  # re-raises any failure


# python-pkcs11 reports the dead session once more when it finalises the failed search.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_lost_session_is_reopened(hsm: Hsm) -> None:
    # A token of its own: under xdist no other test's order decides what it holds.
    keyring = Pkcs11Keyring.initialise(hsm.module, "session-loss", PIN, log_name=LOG_NAME)
    data_key = os.urandom(32)
    kek_id, wrapped = keyring.wrap_key(data_key, kek_id=None, context=ctx())
    # Invalidate the process's session behind the provider's back (as a token restart would):
    # closing it also logs the process out of the token.
    keyring._connection().session.close()
    assert keyring.unwrap_key(wrapped, kek_id=kek_id, context=ctx()) == data_key
    assert keyring.signing_key().sign(b"after reconnect")
