"""The log's signer, with its own memory of what it signed, kept beside its key.

C2SP: a log MUST NOT sign a checkpoint inconsistent with one it signed before. The database
cannot be trusted to say what was signed last (its writer could delete or rewrite the
checkpoint rows), so the signer keeps the last signed size, root and note in a state file of
its own, next to the key and outside the database, and signs a new tree head only with a
consistency proof from that state that verifies. Anything else is ``LogCorrupted``.
"""
from __future__ import annotations

import base64
import fcntl
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from casework.crypto.keyring import KeyringProvider
from casework.custody import merkle, note
from casework.errors import LogCorrupted
from casework.files import replace_atomically


@dataclass(frozen=True)
class SignedState:
    size: int
    root: bytes
    note: str


def default_state_path(keyring_location: str | None) -> Path | None:
    """Beside a keyring file; a token-backed keyring must be given a path explicitly."""
    if not keyring_location or keyring_location.startswith("pkcs11:"):
        return None
    return Path(keyring_location).with_name(Path(keyring_location).name + ".signer-state")


class LogSigner:
    def __init__(self, keyring: KeyringProvider, state_path: Path) -> None:
        self.keyring = keyring
        self.state_path = state_path

    def last(self) -> SignedState | None:
        try:
            raw = json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LogCorrupted(f"the signer's state file is unreadable: {exc}") from None
        try:
            state = SignedState(int(raw["size"]), base64.b64decode(raw["root"], validate=True), str(raw["note"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LogCorrupted(f"the signer's state file is malformed: {exc}") from None
        # The state is only believed if the signer's own key signed it.
        try:
            body = note.parse_checkpoint(note.open_note(state.note, self.vkey()))
        except note.NoteError as exc:
            raise LogCorrupted(f"the signer's state does not carry its own signature: {exc}") from None
        if (body.size, body.root) != (state.size, state.root):
            raise LogCorrupted("the signer's state disagrees with the note it holds")
        return state

    def vkey(self) -> str:
        return note.vkey_string(self.keyring.log_name(), self.keyring.signing_key().public_key())

    def sign(self, size: int, root: bytes, consistency_from: Callable[[int], list[bytes]]) -> str:
        """Sign (size, root) if provably consistent with the last signed head; idempotent."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            last = self.last()
            if last is not None:
                if size < last.size:
                    raise LogCorrupted(f"the log shrank from signed size {last.size} to {size}")
                if size == last.size:
                    if root != last.root:
                        raise LogCorrupted(f"a different root for signed size {size}: refusing to equivocate")
                    return last.note
                proof = consistency_from(last.size) if last.size else []
                if last.size and not merkle.verify_consistency(last.size, size, last.root, root, proof):
                    raise LogCorrupted(f"tree of size {size} is not consistent with signed size {last.size}")
            name = self.keyring.log_name()
            signed = note.sign_note(note.format_checkpoint(name, size, root), name, self.keyring.signing_key())
            self._save(SignedState(size, root, signed))
            return signed

    def _save(self, state: SignedState) -> None:
        data = json.dumps({"size": state.size, "root": base64.b64encode(state.root).decode(), "note": state.note})
        replace_atomically(self.state_path, data.encode())
