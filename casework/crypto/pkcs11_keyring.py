"""PKCS#11 keyring: KEKs, per-subject keys and the custody signing key stay in a token.

`Pkcs11Keyring` satisfies `KeyringProvider` (plus `retire`, like `LocalKeyring`)
on any PKCS#11 v2.40+ token; the tests use SoftHSM2 2.6.1 (Debian 12).  It needs
``python-pkcs11`` (developed against 0.10.1).  No secret key ever leaves the
token: the host only sees data keys (which `envelope.seal` makes on the host)
and their wrapped form.

Configuration
    ``Pkcs11Keyring(module, token_label, user_pin)``, or
    ``Pkcs11Keyring.from_uri("pkcs11:token=casework;module=/usr/lib/softhsm/libsofthsm2.so")``
    with the user PIN read from the environment variable ``CASEWORK_PKCS11_PIN``
    (``pin_env=`` picks another name).  The URI is RFC 7512 style: ``token`` is
    required, ``module`` (or RFC 7512's ``module-path``) defaults to
    `DEFAULT_MODULE`, values may be percent-encoded, and a PIN in the URI
    (``pin-value``/``pin-source``) is refused so it never lands in config files.
    Nothing touches the token until the first operation; call `check()` at
    startup to fail fast.

Provisioning
    ``Pkcs11Keyring.initialise(module, token_label, user_pin, log_name=...)``
    creates whatever is missing, idempotently: the first KEK, the signing key
    pair and the log-name data object.  The token itself is initialised with
    the vendor tool (``softhsm2-util --init-token ...``).

Objects in the token (all ``CKA_TOKEN``; each key's ``CKA_ID`` is an 8-byte
big-endian creation time in ns || 8 random bytes, which orders duplicates, see
Concurrency)
    * ``kek-0001``, ``kek-0002``...: AES-256 secret keys, generated in the token,
      ``CKA_SENSITIVE`` true, ``CKA_EXTRACTABLE``/``CKA_COPYABLE``/
      ``CKA_MODIFIABLE`` false, usable only for ``CKA_ENCRYPT``/``CKA_DECRYPT``.
      The current KEK is the highest-numbered one (`rotate` adds the next
      number, `retire` refuses the current one), so no pointer object is needed.
    * ``subject:<subject>``: AES-256 per-subject keys (same attributes) for
      crypto-shredding.  `create_subject_key` is idempotent;
      `destroy_subject_key` is ``C_DestroyObject``; afterwards (and for a
      subject that never had a key) wrap/unwrap raise `SubjectKeyDestroyed`.
    * ``casework-log-signer``: Ed25519 key pair (``CKK_EC_EDWARDS``, generated
      with ``CKM_EC_EDWARDS_KEY_PAIR_GEN``); the private half is sensitive,
      non-extractable and sign-only.
    * ``casework-log-name``: a public ``CKO_DATA`` object (``CKA_APPLICATION``
      ``casework``) whose ``CKA_VALUE`` is the UTF-8 log name.  `log_name()`
      reads it from the token (it is not a constructor argument), so the
      log's identity travels with its signing key, as in ``LocalKeyring``.

Wrapping (inside the token, ``CKM_AES_GCM``, 96-bit nonce, 128-bit tag)
    ``wrapped = version || nonce(12) || AES-256-GCM(data_key)(32) || tag(16)``,
    61 bytes.  Version ``0x11`` marks a KEK wrap, ``0x12`` a subject-key wrap;
    both differ from ``LocalKeyring``'s ``0x01``, so formats cannot be confused.
    The AAD is exactly ``wrap_associated_data(kek_id, context)`` as in
    ``LocalKeyring``; subject wraps use ``wrap_associated_data("subject:<subject>",
    context)``.  Nonces come from ``os.urandom``; random 96-bit nonces are safe
    for about 2**32 wraps per KEK, far beyond a rotation period.  (Some FIPS-mode
    HSMs refuse caller-supplied GCM IVs; this code targets tokens that accept
    them, as SoftHSM2 does.)  SoftHSM2 2.6.1 reports a GCM tag mismatch as
    ``CKR_GENERAL_ERROR`` instead of ``CKR_ENCRYPTED_DATA_INVALID``; so a failed
    decrypt is re-checked with a GCM self-test under the same key, and only if
    that passes is it reported as ``InvalidTag`` (else `KeyringError`).

Signing
    ``signing_key()`` returns a `Pkcs11Ed25519Signer`, an ``Ed25519PrivateKey``
    whose ``sign`` runs ``CKM_EDDSA`` (pure Ed25519) in the token and whose
    ``public_key()`` is parsed from ``CKA_EC_POINT`` (a DER OCTET STRING around
    the 32-byte point; a bare point is accepted too).  Each signature is
    checked against that public key before it is returned.  ``private_bytes``
    raises `KeyringError`: the key is not extractable.

Concurrency
    PKCS#11 login state is per process and per token, and python-pkcs11's
    ``Session.close`` logs the whole process out, so each process keeps ONE
    logged-in read/write session per (module, token), shared by all
    `Pkcs11Keyring` instances and guarded by a lock (operations on a token are
    serialised within a process).  It is opened lazily by the process that
    uses it: the registry is keyed by ``os.getpid()`` and reset by an at-fork
    hook, and a forked child (a gunicorn worker) re-runs ``C_Finalize`` +
    ``C_Initialize`` and opens its own session, never touching the parent's
    handles.  A session that the token invalidated is reopened once.  Because
    login is per process, a second instance for a token this process is already
    logged in to does not re-check its PIN.  Objects are looked up by label on
    every operation, so a key destroyed or added by another process is seen at
    once (an object destroyed mid-operation makes the operation look again).  Should two processes create the same
    label concurrently, the creator that finds a rival destroys its own object
    and retries, while lookups pick the smallest ``CKA_ID`` (the earliest; this
    assumes the clocks of hosts sharing one HSM roughly agree), so every process
    agrees on the surviving key.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote

import pkcs11
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    KeySerializationEncryption,
    PrivateFormat,
)
from cryptography.utils import Buffer
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e

from .keyring import (
    DEFAULT_LOG_NAME,
    KeyringError,
    SubjectKeyDestroyed,
    UnknownKeyError,
    subject_label,
    wrap_associated_data,
)

__all__ = [
    "DEFAULT_MODULE",
    "KEK_WRAP_VERSION",
    "LOG_NAME_LABEL",
    "PIN_ENV",
    "SIGNER_LABEL",
    "SUBJECT_WRAP_VERSION",
    "Pkcs11Ed25519Signer",
    "Pkcs11Keyring",
    "SubjectKeyDestroyed",
]

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN_ENV = "CASEWORK_PKCS11_PIN"
SIGNER_LABEL = "casework-log-signer"
LOG_NAME_LABEL = "casework-log-name"
APPLICATION = "casework"
KEK_WRAP_VERSION = 0x11
SUBJECT_WRAP_VERSION = 0x12

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_BYTES = 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES

_KEK_ID = re.compile(r"^kek-(\d{4,})$")
_ED25519_PARAMS = (
    bytes.fromhex("06032b6570"),  # OID 1.3.101.112 (id-Ed25519)
    b"\x13\x0cedwards25519",  # PrintableString form of PKCS#11 3.0
)
_ED25519_OID_PARAMS = _ED25519_PARAMS[0]
# The session is gone or logged out (token restarted, removed, re-plugged): reopen once.
_STALE = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.UserNotLoggedIn,
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
)
# Another process destroyed an object between C_FindObjects and its use: look again.
_VANISHED = (p11e.ObjectHandleInvalid, p11e.KeyHandleInvalid)
# What a GCM decrypt may report when the tag does not verify.
_DECRYPT_FAILED = (
    p11e.EncryptedDataInvalid,
    p11e.EncryptedDataLenRange,
    p11e.GeneralError,
    p11e.FunctionFailed,
)
_CREATE_ATTEMPTS = 8

_T = TypeVar("_T")
_Session = Any  # pkcs11 Session: the stubs lack the Cython mixins (encrypt, sign...)
_Object = Any


# --------------------------------------------------------------------------
# Per-process registry of loaded modules and logged-in sessions.


@dataclass
class _Conn:
    session: _Session
    lock: threading.RLock


class _Process:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.libs: dict[str, Any] = {}
        self.conns: dict[tuple[str, str], _Conn] = {}


_PROCESS = _Process()
_INITIALISED_BY: dict[str, int] = {}  # module path -> pid that C_Initialize'd it


def _forget_parent_sessions() -> None:
    """After fork: drop (never close) the parent's sessions and locks."""
    global _PROCESS
    _PROCESS = _Process()


os.register_at_fork(after_in_child=_forget_parent_sessions)


def _process() -> _Process:
    global _PROCESS
    proc = _PROCESS
    if proc.pid != os.getpid():  # forked by something that bypassed os.fork's hooks
        proc = _PROCESS = _Process()
    return proc


def _load_module(proc: _Process, module: str) -> Any:
    with proc.lock:
        lib = proc.libs.get(module)
        if lib is not None:
            return lib
        try:
            lib = pkcs11.lib(module)  # cached per path by python-pkcs11; C_Initialize once
        except p11e.PKCS11Error as exc:
            raise KeyringError(f"cannot load PKCS#11 module {module}: {_describe(exc)}") from None
        owner = _INITIALISED_BY.get(module)
        if owner is not None and owner != proc.pid:
            # Inherited through fork: PKCS#11 requires the child to initialise again.
            # A fork-aware library may already consider itself uninitialised, or
            # answer CKR_CRYPTOKI_ALREADY_INITIALIZED because it reset itself.
            with suppress(p11e.PKCS11Error):
                lib.finalize()
            with suppress(p11e.PKCS11Error):
                lib.initialize()
        _INITIALISED_BY[module] = proc.pid
        proc.libs[module] = lib
        return lib


def _describe(exc: BaseException) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _backoff() -> None:
    time.sleep(0.01 + int.from_bytes(os.urandom(1), "big") / 5000)  # 10-61 ms, randomised


def _new_id() -> bytes:
    """CKA_ID: creation time (orders concurrent duplicates) and randomness (uniqueness)."""
    return time.time_ns().to_bytes(8, "big") + os.urandom(8)


def _object_id(obj: _Object) -> bytes:
    try:
        value = obj[Attribute.ID]
    except p11e.PKCS11Error:
        return b""
    return bytes(value) if value is not None else b""


def _pick(objects: list[_Object]) -> _Object | None:
    """The authoritative object among same-label duplicates: the smallest (oldest) CKA_ID."""
    if not objects:
        return None
    if len(objects) == 1:
        return objects[0]
    return min(objects, key=_object_id)


def _parse_kek_label(label: str) -> int | None:
    match = _KEK_ID.match(label)
    if match is None or _kek_label(int(match.group(1))) != label:
        return None  # only canonical ids, so a number maps to exactly one label
    return int(match.group(1))


def _kek_number(kek_id: str) -> int:
    number = _parse_kek_label(kek_id) if isinstance(kek_id, str) else None
    if number is None:
        raise UnknownKeyError(f"KEK {kek_id!r} is not in the token")
    return number


def _kek_label(number: int) -> str:
    return f"kek-{number:04d}"


def _subject_label(subject: str) -> str:
    """Validated ``subject:<subject>`` (shared with `LocalKeyring`, so both bind the same AAD)."""
    return subject_label(subject)


def _check_data_key(data_key: bytes) -> bytes:
    if not isinstance(data_key, (bytes, bytearray)) or len(data_key) != KEY_BYTES:
        raise ValueError(f"data key must be {KEY_BYTES} bytes")
    return bytes(data_key)


def _check_context(context: bytes) -> None:
    if not isinstance(context, bytes):
        raise TypeError("context must be bytes")


def _secret_key_template(label: str, key_id: bytes) -> dict[Attribute, Any]:
    return {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.LABEL: label,
        Attribute.ID: key_id,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.COPYABLE: False,
        Attribute.MODIFIABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
        Attribute.DERIVE: False,
    }


def _ed25519_public(point: bytes, params: bytes | None) -> Ed25519PublicKey:
    if params is not None and bytes(params) not in _ED25519_PARAMS:
        raise KeyringError(f"token key {SIGNER_LABEL!r} is not an Ed25519 key")
    raw = bytes(point)
    if len(raw) == 2 + KEY_BYTES and raw[0] == 0x04 and raw[1] == KEY_BYTES:
        raw = raw[2:]  # DER OCTET STRING, as SoftHSM2 and PKCS#11 3.0 encode it
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"token key {SIGNER_LABEL!r} has a malformed CKA_EC_POINT")
    return Ed25519PublicKey.from_public_bytes(raw)


class Pkcs11Ed25519Signer(Ed25519PrivateKey):
    """The custody signing key held in the token, usable wherever an Ed25519PrivateKey is."""

    def __init__(self, keyring: Pkcs11Keyring) -> None:
        self._keyring = keyring

    def public_key(self) -> Ed25519PublicKey:
        return self._keyring._signer_public()

    def sign(self, data: Buffer) -> bytes:
        return self._keyring._sign(bytes(data))

    def private_bytes(
        self,
        encoding: Encoding,
        format: PrivateFormat,
        encryption_algorithm: KeySerializationEncryption,
    ) -> bytes:
        raise KeyringError("the custody signing key is held in a PKCS#11 token and is not extractable")

    def private_bytes_raw(self) -> bytes:
        raise KeyringError("the custody signing key is held in a PKCS#11 token and is not extractable")

    def __copy__(self) -> Pkcs11Ed25519Signer:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Pkcs11Ed25519Signer:
        return self

    def __repr__(self) -> str:
        return f"<Pkcs11Ed25519Signer {SIGNER_LABEL!r} on {self._keyring!r}>"


class Pkcs11Keyring:
    """`KeyringProvider` whose KEKs, subject keys and signing key live in a PKCS#11 token."""

    def __init__(self, module: str, token_label: str, user_pin: str) -> None:
        """Remember the configuration; the token is opened lazily, per process."""
        for what, value in (
            ("module", module),
            ("token_label", token_label),
            ("user_pin", user_pin),
        ):
            if not isinstance(value, str) or not value:
                raise KeyringError(f"PKCS#11 {what} must be a non-empty string")
        self._module = module
        self._token_label = token_label
        self._pin = user_pin
        self._current_hint: int | None = None
        self._public: tuple[bytes, Ed25519PublicKey] | None = None  # (private CKA_ID, key)
        self._log_name: str | None = None

    def __repr__(self) -> str:
        return f"Pkcs11Keyring(module={self._module!r}, token_label={self._token_label!r})"

    @property
    def module(self) -> str:
        return self._module

    @property
    def token_label(self) -> str:
        return self._token_label

    # ------------------------------------------------------------------ config

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        pin_env: str = PIN_ENV,
        environ: Mapping[str, str] | None = None,
    ) -> Pkcs11Keyring:
        """``pkcs11:token=<label>[;module=<path>]``, PIN from ``$pin_env`` (see module docs)."""
        if not isinstance(uri, str) or not uri.startswith("pkcs11:"):
            raise KeyringError("PKCS#11 URI must start with 'pkcs11:'")
        path, _, query = uri[len("pkcs11:") :].partition("?")
        attrs: dict[str, str] = {}
        for part in [p for p in path.split(";") if p] + [q for q in query.split("&") if q]:
            name, sep, value = part.partition("=")
            name = name.strip().lower()
            if not sep or not name:
                raise KeyringError(f"malformed PKCS#11 URI attribute {part!r}")
            if name in ("pin-value", "pin-source"):
                raise KeyringError(f"do not put the PIN in the PKCS#11 URI; set ${pin_env} instead")
            if name == "module-path":
                name = "module"
            if name in attrs:
                raise KeyringError(f"PKCS#11 URI repeats {name!r}")
            attrs[name] = unquote(value)
        unknown = sorted(set(attrs) - {"token", "module"})
        if unknown:
            raise KeyringError(f"unsupported PKCS#11 URI attributes {unknown}; use token and module")
        token = attrs.get("token", "")
        if not token:
            raise KeyringError("PKCS#11 URI needs token=<label>")
        pin = (os.environ if environ is None else environ).get(pin_env, "")
        if not pin:
            raise KeyringError(f"set ${pin_env} to the PKCS#11 token's user PIN")
        return cls(attrs.get("module") or DEFAULT_MODULE, token, pin)

    @classmethod
    def initialise(
        cls,
        module: str,
        token_label: str,
        user_pin: str,
        *,
        log_name: str = DEFAULT_LOG_NAME,
    ) -> Pkcs11Keyring:
        """Create the first KEK, the signing key pair and the log name where missing.

        Idempotent: existing keys are kept; an existing log name that differs
        from `log_name` is an error rather than silently renaming the log.
        """
        if not isinstance(log_name, str) or not log_name:
            raise KeyringError("log_name must be non-empty")
        keyring = cls(module, token_label, user_pin)
        keyring._run("initialise", lambda s: keyring._initialise(s, log_name))
        keyring.check()
        return keyring

    def _initialise(self, session: _Session, log_name: str) -> None:
        existing = self._read_log_name(session)
        if existing is None:
            self._create_log_name(session, log_name)
            existing = self._read_log_name(session)
        if existing != log_name:
            raise KeyringError(f"token {self._token_label!r} already holds log name {existing!r}, not {log_name!r}")
        if not self._kek_numbers(session):
            first = _kek_label(1)
            self._ensure(
                partial(self._generate_aes, session, first),
                partial(self._secret_keys, session, first),
                what="the first KEK",
            )
        self._ensure(
            partial(self._generate_signer, session),
            partial(self._signer_privates, session),
            what="the signing key",
        )

    def check(self) -> None:
        """Fail fast: the token opens and holds a KEK, the signing key and the log name.

        The current KEK and the signing key must be sensitive and non-extractable.
        """
        self.current_kek_id()
        self.log_name()

        def inspect(session: _Session) -> None:
            number, kek = self._current(session)
            for label, key in ((_kek_label(number), kek), (SIGNER_LABEL, self._signer(session))):
                attrs = key.get_attributes([Attribute.SENSITIVE, Attribute.EXTRACTABLE])
                if attrs.get(Attribute.SENSITIVE) is not True or attrs.get(Attribute.EXTRACTABLE) is not False:
                    raise KeyringError(f"token key {label!r} must be sensitive and non-extractable")

        self._run("check", inspect)
        self._signer_public()

    # ----------------------------------------------------------------- session

    def _connection(self) -> _Conn:
        proc = _process()
        key = (self._module, self._token_label)
        conn = proc.conns.get(key)
        if conn is None:
            with proc.lock:
                conn = proc.conns.get(key)
                if conn is None:
                    conn = _Conn(self._open_session(proc), threading.RLock())
                    proc.conns[key] = conn
        return conn

    def _open_session(self, proc: _Process) -> _Session:
        lib = _load_module(proc, self._module)
        try:
            token = lib.get_token(token_label=self._token_label)
        except p11e.NoSuchToken:
            raise KeyringError(f"no PKCS#11 token labelled {self._token_label!r} in {self._module}") from None
        except p11e.PKCS11Error as exc:
            raise KeyringError(f"cannot find PKCS#11 token {self._token_label!r}: {_describe(exc)}") from None
        try:
            return token.open(rw=True, user_pin=self._pin)
        except p11e.UserAlreadyLoggedIn:
            # Login is per process and token: another session already logged in.
            return token.open(rw=True)
        except p11e.PKCS11Error as exc:
            raise KeyringError(f"cannot log in to PKCS#11 token {self._token_label!r}: {_describe(exc)}") from None

    def _discard(self, conn: _Conn) -> None:
        proc = _process()
        with proc.lock:
            key = (self._module, self._token_label)
            if proc.conns.get(key) is conn:
                del proc.conns[key]
        with suppress(p11e.PKCS11Error):  # already invalid: that is why it is discarded
            conn.session.close()

    def _run(self, what: str, op: Callable[[_Session], _T]) -> _T:
        """Run `op` on this process's session for the token, under its lock.

        A lost session is reopened once; an object that another process destroyed
        while `op` was reading it (CKR_OBJECT_HANDLE_INVALID) makes `op` run again,
        so it looks the token up afresh.
        """
        reopened = False
        error: BaseException = KeyringError("not attempted")
        for _ in range(_CREATE_ATTEMPTS):
            conn = self._connection()
            with conn.lock:
                try:
                    return op(conn.session)
                except _STALE as exc:
                    self._discard(conn)
                    if reopened:
                        raise self._failed(what, exc) from exc
                    reopened, error = True, exc
                except _VANISHED as exc:
                    error = exc
                except p11e.PKCS11Error as exc:
                    raise self._failed(what, exc) from exc
        raise self._failed(what, error)

    def _failed(self, what: str, exc: BaseException) -> KeyringError:
        return KeyringError(f"PKCS#11 token {self._token_label!r}: {what} failed: {_describe(exc)}")

    # ----------------------------------------------------------------- objects

    @staticmethod
    def _secret_keys(session: _Session, label: str) -> list[_Object]:
        template = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.AES,
            Attribute.LABEL: label,
        }
        return list(session.get_objects(template))

    @staticmethod
    def _signer_privates(session: _Session) -> list[_Object]:
        template = {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
            Attribute.LABEL: SIGNER_LABEL,
        }
        return list(session.get_objects(template))

    @staticmethod
    def _data_objects(session: _Session) -> list[_Object]:
        return list(
            session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.LABEL: LOG_NAME_LABEL,
                    Attribute.APPLICATION: APPLICATION,
                }
            )
        )

    @staticmethod
    def _create_unique(create: Callable[[bytes], list[_Object]], find: Callable[[], list[_Object]]) -> bool:
        """Create objects under a fresh CKA_ID; undo it if a rival with the label exists.

        Returns False when a rival (another process) won; callers re-read.
        """
        key_id = _new_id()
        created = create(key_id)
        if all(_object_id(o) == key_id for o in find()):
            return True
        for obj in created:
            obj.destroy()
        return False

    @classmethod
    def _ensure(cls, create: Callable[[bytes], list[_Object]], find: Callable[[], list[_Object]], what: str) -> None:
        """Create the object unless it exists, tolerating a concurrent creator."""
        for _ in range(_CREATE_ATTEMPTS):
            if find() or cls._create_unique(create, find):
                return
            _backoff()
        raise KeyringError(f"could not create {what}: other processes keep racing")

    def _generate_aes(self, session: _Session, label: str, key_id: bytes) -> list[_Object]:
        key = session.generate_key(
            KeyType.AES,
            256,
            label=label,
            id=key_id,
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template=_secret_key_template(label, key_id),
        )
        return [key]

    def _generate_signer(self, session: _Session, key_id: bytes) -> list[_Object]:
        public, private = session.generate_keypair(
            KeyType.EC_EDWARDS,
            label=SIGNER_LABEL,
            id=key_id,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            public_template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.EC_PARAMS: _ED25519_OID_PARAMS,
                Attribute.VERIFY: True,
                Attribute.ENCRYPT: False,
                Attribute.WRAP: False,
                Attribute.DERIVE: False,
                Attribute.MODIFIABLE: False,
            },
            private_template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.COPYABLE: False,
                Attribute.MODIFIABLE: False,
                Attribute.SIGN: True,
                Attribute.DECRYPT: False,
                Attribute.UNWRAP: False,
                Attribute.DERIVE: False,
            },
        )
        return [public, private]

    @staticmethod
    def _create_log_name(session: _Session, log_name: str) -> None:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.MODIFIABLE: False,
                Attribute.LABEL: LOG_NAME_LABEL,
                Attribute.APPLICATION: APPLICATION,
                Attribute.VALUE: log_name.encode("utf-8"),
            }
        )

    def _read_log_name(self, session: _Session) -> str | None:
        # Data objects have no CKA_ID; concurrent initialisers may both create
        # one, which is harmless as long as they agree.
        values = {bytes(obj[Attribute.VALUE]) for obj in self._data_objects(session)}
        if not values:
            return None
        if len(values) > 1:
            raise KeyringError(f"token {self._token_label!r} holds conflicting log names")
        try:
            name = values.pop().decode("utf-8")
        except UnicodeDecodeError:
            raise KeyringError(f"token object {LOG_NAME_LABEL!r} is not UTF-8") from None
        if not name:
            raise KeyringError(f"token object {LOG_NAME_LABEL!r} is empty")
        return name

    # -------------------------------------------------------------------- KEKs

    def _kek_numbers(self, session: _Session) -> list[int]:
        """Every KEK number in the token (a scan of the AES keys; not on the hot path)."""
        template = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
        numbers = set()
        for obj in session.get_objects(template):
            number = _parse_kek_label(str(obj[Attribute.LABEL]))
            if number is not None:
                numbers.add(number)
        return sorted(numbers)

    def _current(self, session: _Session) -> tuple[int, _Object]:
        """The highest-numbered KEK, found by probing upward from the last one seen."""
        hint = self._current_hint
        for _ in range(_CREATE_ATTEMPTS):
            key = None if hint is None else _pick(self._secret_keys(session, _kek_label(hint)))
            if hint is not None and key is not None:
                while (newer := _pick(self._secret_keys(session, _kek_label(hint + 1)))) is not None:
                    hint, key = hint + 1, newer
                return hint, key
            numbers = self._kek_numbers(session)  # no hint yet, or the token changed under us
            if not numbers:
                raise KeyringError(f"PKCS#11 token {self._token_label!r} holds no KEK; run Pkcs11Keyring.initialise")
            hint = numbers[-1]
        raise KeyringError(f"PKCS#11 token {self._token_label!r}: the KEK set keeps changing")

    def _kek(self, session: _Session, kek_id: str) -> _Object:
        _kek_number(kek_id)
        key = _pick(self._secret_keys(session, kek_id))
        if key is None:
            raise UnknownKeyError(f"KEK {kek_id!r} is not in the token")
        return key

    def current_kek_id(self) -> str:
        number, _ = self._run("find the current KEK", self._current)
        self._current_hint = number
        return _kek_label(number)

    def kek_ids(self) -> list[str]:
        return [_kek_label(n) for n in self._run("list KEKs", self._kek_numbers)]

    def wrap_key(self, data_key: bytes, *, kek_id: str | None = None, context: bytes) -> tuple[str, bytes]:
        """Wrap in the token: 0x11 || nonce || AES-256-GCM(data key) || tag."""
        data_key = _check_data_key(data_key)
        _check_context(context)

        def wrap(session: _Session) -> tuple[str, bytes]:
            if kek_id is None:
                number, key = self._current(session)
                kid = _kek_label(number)
                self._current_hint = number
            else:
                kid, key = kek_id, self._kek(session, kek_id)
            return kid, _gcm_wrap(key, KEK_WRAP_VERSION, data_key, wrap_associated_data(kid, context))

        return self._run("wrap a data key", wrap)

    def unwrap_key(self, wrapped: bytes, *, kek_id: str, context: bytes) -> bytes:
        """Unwrap in the token; InvalidTag if moved, altered or under another KEK."""
        _check_context(context)

        def unwrap(session: _Session) -> bytes:
            key = self._kek(session, kek_id)
            return _gcm_unwrap(key, KEK_WRAP_VERSION, wrapped, wrap_associated_data(kek_id, context))

        return self._run("unwrap a data key", unwrap)

    def rotate(self) -> str:
        """Generate the next KEK in the token and make it current; old KEKs stay."""

        def rotate(session: _Session) -> str:
            for _ in range(_CREATE_ATTEMPTS):
                numbers = self._kek_numbers(session)
                label = _kek_label((numbers[-1] if numbers else 0) + 1)
                created = self._create_unique(
                    partial(self._generate_aes, session, label),
                    partial(self._secret_keys, session, label),
                )
                if created:
                    self._current_hint = _kek_number(label)
                    return label
                _backoff()
            raise KeyringError("could not create a new KEK: other processes keep rotating concurrently")

        return self._run("rotate", rotate)

    def retire(self, kek_id: str) -> None:
        """Destroy an old KEK; only call once no stored key is wrapped under it."""

        def retire(session: _Session) -> None:
            _kek_number(kek_id)
            keys = self._secret_keys(session, kek_id)
            if not keys:
                raise UnknownKeyError(f"KEK {kek_id!r} is not in the token")
            current, _ = self._current(session)
            if kek_id == _kek_label(current):
                raise KeyringError(f"refusing to retire the current KEK {kek_id}")
            for key in keys:
                key.destroy()

        self._run("retire a KEK", retire)

    # ----------------------------------------------------------------- signing

    def signing_key(self) -> Pkcs11Ed25519Signer:
        return Pkcs11Ed25519Signer(self)

    def _signer(self, session: _Session) -> _Object:
        private = _pick(self._signer_privates(session))
        if private is None:
            raise KeyringError(f"PKCS#11 token {self._token_label!r} has no {SIGNER_LABEL!r} key")
        return private

    def _read_public(self, session: _Session) -> tuple[bytes, Ed25519PublicKey]:
        key_id = _object_id(self._signer(session))
        template = {
            Attribute.CLASS: ObjectClass.PUBLIC_KEY,
            Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
            Attribute.LABEL: SIGNER_LABEL,
            Attribute.ID: key_id,
        }
        public = _pick(list(session.get_objects(template)))
        if public is None:
            raise KeyringError(f"PKCS#11 token {self._token_label!r} lacks the public half of {SIGNER_LABEL!r}")
        attrs = public.get_attributes([Attribute.EC_POINT, Attribute.EC_PARAMS])
        return key_id, _ed25519_public(attrs[Attribute.EC_POINT], attrs.get(Attribute.EC_PARAMS))

    def _signer_public(self) -> Ed25519PublicKey:
        cached = self._public
        if cached is None:
            cached = self._public = self._run("read the signing public key", self._read_public)
        return cached[1]

    def _sign(self, data: bytes) -> bytes:
        def sign(session: _Session) -> tuple[bytes, bytes]:
            private = self._signer(session)
            return _object_id(private), bytes(private.sign(data, mechanism=Mechanism.EDDSA))

        key_id, signature = self._run("sign", sign)
        for _ in (1, 2):
            cached = self._public
            if cached is not None and cached[0] == key_id:
                try:
                    cached[1].verify(signature, data)
                    return signature
                except InvalidSignature:
                    pass
            self._public = self._run("read the signing public key", self._read_public)
        raise KeyringError(f"token signature by {SIGNER_LABEL!r} does not verify with its public key")

    def log_name(self) -> str:
        name = self._log_name
        if name is None:
            found = self._run("read the log name", self._read_log_name)
            if found is None:
                raise KeyringError(
                    f"PKCS#11 token {self._token_label!r} has no {LOG_NAME_LABEL!r} object; "
                    "run Pkcs11Keyring.initialise"
                )
            name = self._log_name = found
        return name

    # ------------------------------------------------------------ subject keys

    def create_subject_key(self, subject: str) -> None:
        """Generate the subject's AES-256 key in the token; a no-op if it already exists."""
        label = _subject_label(subject)

        def create(session: _Session) -> None:
            self._ensure(
                partial(self._generate_aes, session, label),
                partial(self._secret_keys, session, label),
                what=f"the key of subject {subject!r}",
            )

        self._run("create a subject key", create)

    def has_subject_key(self, subject: str) -> bool:
        label = _subject_label(subject)
        return self._run("find a subject key", lambda s: bool(self._secret_keys(s, label)))

    def _subject_key(self, session: _Session, subject: str, label: str) -> _Object:
        key = _pick(self._secret_keys(session, label))
        if key is None:
            raise SubjectKeyDestroyed(f"the key of subject {subject!r} was destroyed (or never created)")
        return key

    def wrap_with_subject(self, subject: str, data_key: bytes, context: bytes) -> bytes:
        """Wrap under the subject's key: 0x12 || nonce || AES-256-GCM(data key) || tag."""
        label = _subject_label(subject)
        data_key = _check_data_key(data_key)
        _check_context(context)

        def wrap(session: _Session) -> bytes:
            key = self._subject_key(session, subject, label)
            return _gcm_wrap(key, SUBJECT_WRAP_VERSION, data_key, wrap_associated_data(label, context))

        return self._run("wrap with a subject key", wrap)

    def unwrap_with_subject(self, subject: str, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap; SubjectKeyDestroyed once shredded, InvalidTag if moved or altered."""
        label = _subject_label(subject)
        _check_context(context)

        def unwrap(session: _Session) -> bytes:
            key = self._subject_key(session, subject, label)
            return _gcm_unwrap(key, SUBJECT_WRAP_VERSION, wrapped, wrap_associated_data(label, context))

        return self._run("unwrap with a subject key", unwrap)

    def destroy_subject_key(self, subject: str) -> bool:
        """C_DestroyObject the subject's key (crypto-shredding); False if there was none."""
        label = _subject_label(subject)

        def destroy(session: _Session) -> bool:
            keys = self._secret_keys(session, label)
            for key in keys:
                key.destroy()
            return bool(keys)

        return self._run("destroy a subject key", destroy)


# --------------------------------------------------------------------------
# AES-GCM in the token.


def _gcm_wrap(key: _Object, version: int, data_key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = bytes(key.encrypt(data_key, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)))
    if len(sealed) != KEY_BYTES + TAG_BYTES:
        raise KeyringError(f"token returned {len(sealed)} bytes for an AES-GCM wrap")
    return bytes([version]) + nonce + sealed


def _gcm_unwrap(key: _Object, version: int, wrapped: bytes, aad: bytes) -> bytes:
    if not isinstance(wrapped, (bytes, bytearray)) or len(wrapped) != WRAPPED_BYTES or wrapped[0] != version:
        raise InvalidTag()
    nonce, sealed = bytes(wrapped[1 : 1 + NONCE_BYTES]), bytes(wrapped[1 + NONCE_BYTES :])
    try:
        data_key = bytes(key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)))
    except _DECRYPT_FAILED as exc:
        # SoftHSM2 says CKR_GENERAL_ERROR for a bad tag; tell that apart from a sick token.
        if _gcm_self_test(key):
            raise InvalidTag() from None
        raise KeyringError(f"PKCS#11 AES-GCM decrypt failed and the self-test failed too: {_describe(exc)}") from exc
    if len(data_key) != KEY_BYTES:
        raise InvalidTag()
    return data_key


def _gcm_self_test(key: _Object) -> bool:
    probe, aad = os.urandom(KEY_BYTES), b"casework/pkcs11/self-test"
    try:
        wrapped = _gcm_wrap(key, 0, probe, aad)
        nonce, sealed = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        clear = key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128))
    except (p11e.PKCS11Error, KeyringError):
        return False
    return bytes(clear) == probe
