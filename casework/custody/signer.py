"""The log's signer, with its own memory of what it signed, kept beside its key.

C2SP: a log MUST NOT sign a checkpoint inconsistent with one it signed before. The database
cannot be trusted to say what was signed last, nor what the tree is (whoever holds its
password could rewrite a head, a frontier or a node), so the signer keeps, in a state file of
its own beside the key and outside the database, the last signed note **and the compact range
of that tree**. It signs only a range it extended itself, leaf by leaf, from that state
(``casework.custody.publication`` recomputes each leaf from its event): every checkpoint it
signs is consistent with the last by construction.
"""

from __future__ import annotations

import base64
import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from casework.crypto.keyring import KeyringError, KeyringProvider
from casework.errors import LogCorrupted
from casework.files import replace_atomically
from casework.settings import settings
from casework_verify import merkle, note


class SignerBusy(LogCorrupted):
    """Another publisher holds this log's signer."""

    problem = "publisher-busy"


@dataclass(frozen=True)
class SignedState:
    size: int
    root: bytes
    note: str
    hashes: tuple[bytes, ...]  # the compact range of the signed tree, largest subtree first

    def compact_range(self) -> merkle.CompactRange:
        return merkle.CompactRange.from_bytes(self.size, b"".join(self.hashes))


def default_state_path(keyring_location: str | None) -> Path | None:
    """Beside a keyring file; a token-backed keyring must be given a path explicitly."""
    if not keyring_location or keyring_location.startswith("pkcs11:"):
        return None
    return Path(keyring_location).with_name(Path(keyring_location).name + ".signer-state")


def init_signer(app: Flask, keyring: KeyringProvider) -> None:
    """The log's signer over the app's keyring, its state in CASEWORK_SIGNER_STATE or beside a keyring file."""
    state = settings(app).custody.signer_state or default_state_path(settings(app).keys.keyring)
    if state is None:
        raise KeyringError("a PKCS#11 keyring needs CASEWORK_SIGNER_STATE: the signer's state file beside the token")
    app.extensions["casework.signer"] = LogSigner(keyring, Path(state))


def signer() -> LogSigner:
    """The log's signer: its key and its own memory of what it signed."""
    found: LogSigner = current_app.extensions["casework.signer"]
    return found


class LogSigner:
    def __init__(self, keyring: KeyringProvider, state_path: Path) -> None:
        self.keyring = keyring
        self.state_path = state_path

    def last(self) -> SignedState | None:
        """The state, believed only if its own key signed the note and the range gives its root."""
        try:
            raw = json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LogCorrupted(f"the signer's state file is unreadable: {exc}") from None
        try:
            hashes = tuple(base64.b64decode(h, validate=True) for h in raw["range"])
            state = SignedState(
                int(raw["size"]), base64.b64decode(raw["root"], validate=True), str(raw["note"]), hashes
            )
            compact = state.compact_range()
        except (KeyError, TypeError, ValueError) as exc:
            raise LogCorrupted(
                f"the signer's state file is malformed or from before SPEC v3 ({exc}): "
                "run `flask custody recover-state`"
            ) from None
        try:
            body = note.parse_checkpoint(note.open_note(state.note, self.vkey()))
        except note.NoteError as exc:
            raise LogCorrupted(f"the signer's state does not carry its own signature: {exc}") from None
        if (body.size, body.root) != (state.size, state.root) or compact.root() != state.root:
            raise LogCorrupted("the signer's state disagrees with the note it holds")
        return state

    def vkey(self) -> str:
        return note.vkey_string(self.keyring.log_name(), self.keyring.signing_key().public_key())

    def verify_note(self, signed: str) -> note.Checkpoint | None:
        """The checkpoint a note carries if this log's key signed it, else None."""
        try:
            return note.parse_checkpoint(note.open_note(signed, self.vkey()))
        except note.NoteError:
            return None

    @contextmanager
    def exclusive(self, *, wait: bool = True) -> Iterator[None]:
        """One publisher per log on this host: a lock beside the state, held for a whole publication."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise SignerBusy("another publisher is signing this log; try again when it is done") from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def sign(self, extended: merkle.CompactRange, since: SignedState | None) -> str:
        """Sign the tree ``extended`` (grown by the caller from ``since``, the state it read). Call
        inside ``exclusive``; refuses if the state moved meanwhile or the range shrank."""
        current = self.last()
        if (current and (current.size, current.root)) != (since and (since.size, since.root)):
            raise LogCorrupted("the signer's state changed during this publication")
        size, root = extended.size, extended.root()
        if since is not None:
            if size < since.size:
                raise LogCorrupted(f"the log shrank from signed size {since.size} to {size}")
            if size == since.size:
                if root != since.root:
                    raise LogCorrupted(f"a different root for signed size {size}: refusing to equivocate")
                return since.note
        name = self.keyring.log_name()
        signed = note.sign_note(note.format_checkpoint(name, size, root), name, self.keyring.signing_key())
        self.save(SignedState(size, root, signed, extended.hashes))
        return signed

    def save(self, state: SignedState) -> None:
        data = json.dumps(
            {
                "size": state.size,
                "root": base64.b64encode(state.root).decode(),
                "note": state.note,
                "range": [base64.b64encode(h).decode() for h in state.hashes],
            }
        )
        replace_atomically(self.state_path, data.encode())
