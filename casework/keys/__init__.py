"""The app's keyring and the protected (envelope-encrypted) fields stored on rows.

Each protected field is declared once on its model, ``sealed_identity = SealedField("identity",
"witness identities")``, which maps its four columns; a method decorated ``@sealed_identity.context``
binds it to the row's place. ``row.sealed_identity.seal()`` / ``.open()`` / ``.shred()`` are the
one way the field is written, read and destroyed (services call them, after the access door), and
`sealed_fields` lists every declaration, so rotation and status see every encrypted record.

A model that belongs to a witness also has ``key_subject()`` (``witness:<id>``, see
`witness_subject`): its fields are then sealed under that witness's subject key in the keyring
provider, outside the database, and ``kek_id`` reads ``"subject"``. Destroying the subject key
(`destroy_subject_key`, on consent withdrawal) makes every such field unreadable, whatever copy
of the database is at hand. Rows sealed under a KEK before subject keys existed still open.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

from flask import Flask, current_app
from sqlalchemy import Column, LargeBinary, String
from sqlalchemy.orm import InstrumentedAttribute, MappedColumn, mapped_column

from casework.crypto.envelope import DecryptionError, KeyDestroyedError, Sealed, open_sealed, seal
from casework.crypto.keyring import KeyringProvider, open_keyring
from casework.errors import Gone, IntegrityFailure
from casework.settings import settings

log = logging.getLogger(__name__)


def _open(location: str | None, app: Flask) -> KeyringProvider:
    """A ``pkcs11:`` URI opens the HSM keyring (PIN from $CASEWORK_PKCS11_PIN); else a keyring file."""
    if location and location.startswith("pkcs11:"):
        from casework.crypto.pkcs11_keyring import Pkcs11Keyring

        return Pkcs11Keyring.from_uri(location, pin_env="CASEWORK_PKCS11_PIN")
    return open_keyring(
        location, create_if_missing=settings(app).keys.create_keyring, log_name=settings(app).custody.log_origin
    )


def init_keyring(app: Flask) -> KeyringProvider:
    """Open the app's keyring; returned so the app factory can hand it to the log's signer."""
    provider = _open(settings(app).keys.keyring, app)
    app.extensions["casework.keyring"] = provider
    return provider


def keyring() -> KeyringProvider:
    return current_app.extensions["casework.keyring"]


def witness_subject(witness_id: int) -> str:
    """The subject whose key in the keyring protects everything a witness's rows hold."""
    return f"witness:{witness_id}"


def create_subject_key(subject: str) -> None:
    keyring().create_subject_key(subject)


def destroy_subject_key(subject: str) -> bool:
    """Crypto-shred in the provider: nothing wrapped under the subject's key opens again. True if it existed."""
    return keyring().destroy_subject_key(subject)


def has_subject_key(subject: str) -> bool:
    return keyring().has_subject_key(subject)


def keyed_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256: the content hash metadata readers and the log see, unguessable without the key."""
    return hmac.new(key, data, hashlib.sha256).digest()


PARTS = ("ciphertext", "nonce", "wrapped_key", "kek_id")  # a sealed field's columns: <stem>_<part>
_Context = TypeVar("_Context", bound=Callable[[Any], bytes])


class SealedField:
    """One envelope-encrypted field, declared once on its model: its columns, its place, its label.

    In a model's body, ``sealed_freetext = SealedField("freetext", "interview free text")`` maps
    ``freetext_ciphertext``, ``freetext_nonce``, ``freetext_wrapped_key`` and ``freetext_kek_id``
    (NOT NULL but for the wrapped key when ``required``), and ``@sealed_freetext.context`` marks the
    method binding it to the row's place. On a row the field is a `SealedValue` (seal, open, shred);
    on the model, its columns for queries (``Interview.sealed_freetext.wrapped_key``). ``label``
    names its records in ``keys status``.
    """

    model: type[Any]
    bind: Callable[[Any], bytes]  # the @context method
    columns: tuple[Column[Any], ...]  # what the declaration mapped: the test of hand-made groups reads it

    def __init__(self, stem: str, label: str, *, required: bool = False) -> None:
        self.stem, self.label, self.required = stem, label, required
        self._context: Callable[[Any], bytes] | None = None

    def context(self, method: _Context) -> _Context:
        """Mark the model's method that gives the field's associated data (``bind(...)``)."""
        self._context = method
        return method

    def __set_name__(self, owner: type[Any], name: str) -> None:
        # Runs as the class body closes, before the declarative base maps it: the columns set here
        # are mapped like those written out.
        if self._context is None:
            raise TypeError(f"{owner.__name__}.{name} has no @{name}.context method")
        self.model, self.bind = owner, self._context
        mapped = [self._mapped_column(part) for part in PARTS]
        for part, column in zip(PARTS, mapped, strict=True):
            setattr(owner, self.column_name(part), column)
        self.columns = tuple(column.column for column in mapped)

    def _mapped_column(self, part: str) -> MappedColumn[Any]:
        nullable = part == "wrapped_key" or not self.required
        if part == "kek_id":
            return mapped_column(String(32), nullable=nullable, index=True)
        return mapped_column(LargeBinary(12) if part == "nonce" else LargeBinary, nullable=nullable)

    def column_name(self, part: str) -> str:
        return f"{self.stem}_{part}"

    @overload
    def __get__(self, row: None, owner: type[Any]) -> SealedField: ...

    @overload
    def __get__(self, row: object, owner: type[Any]) -> SealedValue: ...

    def __get__(self, row: object | None, owner: type[Any]) -> SealedField | SealedValue:
        return self if row is None else SealedValue(self, row)

    def on(self, row: Any) -> SealedValue:
        """The field of ``row`` (one of ``model``'s), for code that holds the field, not the row's class."""
        return SealedValue(self, row)

    def _attribute(self, part: str) -> InstrumentedAttribute[Any]:
        attribute: InstrumentedAttribute[Any] = getattr(self.model, self.column_name(part))
        return attribute

    @property
    def ciphertext(self) -> InstrumentedAttribute[Any]:
        return self._attribute("ciphertext")

    @property
    def wrapped_key(self) -> InstrumentedAttribute[Any]:
        return self._attribute("wrapped_key")

    @property
    def kek_id(self) -> InstrumentedAttribute[Any]:
        return self._attribute("kek_id")


def sealed_fields(model: type[Any]) -> list[SealedField]:
    """The model's sealed fields, in the order its body declares them."""
    return [value for value in vars(model).values() if isinstance(value, SealedField)]


class SealedValue:
    """One row's sealed field: the one way it is sealed, opened and shredded, under the row's
    subject key when it has ``key_subject()`` (see the module's docstring)."""

    __slots__ = ("field", "row")

    def __init__(self, field: SealedField, row: Any) -> None:
        self.field, self.row = field, row

    def _get(self, part: str) -> Any:
        return getattr(self.row, self.field.column_name(part))

    def _set(self, part: str, value: Any) -> None:
        setattr(self.row, self.field.column_name(part), value)

    @property
    def present(self) -> bool:
        """Something was sealed here (its ciphertext is stored, shredded or not)."""
        return self._get("ciphertext") is not None

    @property
    def shredded(self) -> bool:
        """The row holds no data key for it: shredded, or never sealed."""
        return self._get("wrapped_key") is None

    def context(self) -> bytes:
        return self.field.bind(self.row)

    def subject(self) -> str | None:
        """The row's subject (``key_subject()``), or None for a row sealed under the KEKs."""
        method = getattr(self.row, "key_subject", None)
        return method() if method is not None else None

    def envelope(self) -> Sealed:
        """What the row stores (ciphertext and wrapped key, never plaintext): for rewrapping."""
        return Sealed(
            ciphertext=self._get("ciphertext"),
            nonce=self._get("nonce"),
            wrapped_key=self._get("wrapped_key"),
            kek_id=self._get("kek_id"),
        )

    def store(self, sealed: Sealed) -> None:
        for part in PARTS:
            self._set(part, getattr(sealed, part))

    def seal(self, plaintext: bytes) -> None:
        """Seal under the row's subject key (or the current KEK for a row without a subject)."""
        try:
            self.store(seal(keyring(), plaintext, self.context(), subject=self.subject()))
        except KeyDestroyedError:
            raise Gone(
                "The witness's key was destroyed (consent withdrawn or erasure ordered); "
                "nothing more can be recorded for them.",
                problem="shredded",
            ) from None

    def open(self) -> bytes:
        """Decrypt; shredded is ``Gone``, a moved or altered ciphertext ``IntegrityFailure``.

        Shredded means the row's wrapped key was removed, or the subject key it is wrapped under
        was destroyed in the provider (so a database restored from before the withdrawal is Gone too).
        """
        try:
            return open_sealed(keyring(), self.envelope(), self.context(), subject=self.subject())
        except KeyDestroyedError:
            raise Gone(
                "This content was crypto-shredded (consent withdrawn or erasure ordered).", problem="shredded"
            ) from None
        except DecryptionError:
            log.critical("ciphertext does not belong to its row: %s %s", type(self.row).__name__, self.row.id)
            raise IntegrityFailure(
                "Stored ciphertext failed its integrity check; the incident has been logged."
            ) from None

    def open_or_none(self) -> bytes | None:
        """Like ``open`` for fields shown beside metadata: None when absent or shredded."""
        if not self.present:
            return None
        try:
            return self.open()
        except Gone:
            return None

    def shred(self) -> bool:
        """Destroy the data key; the ciphertext stays but can never be opened. True if it was live."""
        if self.shredded:
            return False
        self._set("wrapped_key", None)
        return True

    def clear(self) -> None:
        """Nothing sealed: every column NULL (a field that may be absent, emptied)."""
        for part in PARTS:
            self._set(part, None)

    def reserve(self) -> None:
        """Empty placeholders in a required field's NOT NULL columns, until the row has the id its
        context binds (``seal`` replaces them)."""
        self._set("ciphertext", b"")
        self._set("nonce", b"")
        self._set("kek_id", "")
