"""The witness's state directory: its key, its name, the logs it witnesses and what it cosigned.

Layout (everything written atomically: temp file, fsync, rename, fsync of the directory)::

    STATE_DIR/
      key.pem        Ed25519 private key, PKCS#8 PEM, mode 0600 (refused if group/other can read it)
      witness.json   {"name": "witness.example.org/w1", "logs": {"<origin>": ["<log vkey>", ...]}}
      state.json     {"logs": {"<origin>": {"size": N, "root": "<base64>", "timestamp": T,
                                             "checkpoint": "<note with log signature and cosignature>"}}}
      lock           flock(2) lock file: serialises every read-check-write of state.json across
                     gunicorn workers and threads (each holder opens its own file description)
      evidence/      validly signed checkpoints the witness refused as inconsistent (proof of a fork)

No part of this module uses the Casework app, its database or its configuration.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from casework.files import replace_atomically
from casework_verify.cosignature import cosigner_vkey
from casework_verify.note import NoteError, Verifier, parse_vkey

KEY_FILE = "key.pem"
CONFIG_FILE = "witness.json"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
EVIDENCE_DIR = "evidence"


class WitnessStateError(RuntimeError):
    """The state directory is missing, incomplete, unsafe or corrupt."""


@dataclass(frozen=True)
class LogState:
    """The latest checkpoint the witness cosigned for one log."""

    size: int
    root: bytes
    timestamp: int
    checkpoint: str


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


class WitnessStore:
    """Access to one state directory; cheap to construct, safe to share between threads."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir)

    # --- creation --------------------------------------------------------------------------

    @classmethod
    def init(cls, state_dir: str | os.PathLike[str], name: str) -> WitnessStore:
        """Create a new witness: fresh Ed25519 key (0600), name, no logs, empty state."""
        path = Path(state_dir)
        private_key = Ed25519PrivateKey.generate()
        cosigner_vkey(name, private_key.public_key())  # validates the name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if (path / KEY_FILE).exists() or (path / CONFIG_FILE).exists():
            raise WitnessStateError(f"{path} already holds a witness")
        pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        fd = os.open(path / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        store = cls(path)
        with store.lock():
            replace_atomically(path / STATE_FILE, _dump({"logs": {}}))
            replace_atomically(path / CONFIG_FILE, _dump({"name": name, "logs": {}}), mode=0o644)
        return store

    # --- key and configuration ---------------------------------------------------------------

    def load_private_key(self) -> Ed25519PrivateKey:
        key_path = self.path / KEY_FILE
        try:
            info = key_path.stat()
            if stat.S_IMODE(info.st_mode) & 0o077:
                raise WitnessStateError(f"{key_path} is readable by group or others; chmod 600 it")
            pem = key_path.read_bytes()
        except OSError as exc:
            raise WitnessStateError(f"cannot read the witness key {key_path}: {exc}") from exc
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise WitnessStateError(f"{key_path} is not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise WitnessStateError(f"{key_path} is not an Ed25519 key")
        return key

    def _config(self) -> dict[str, Any]:
        try:
            config = json.loads((self.path / CONFIG_FILE).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise WitnessStateError(f"cannot read {self.path / CONFIG_FILE}: {exc}") from exc
        if (
            not isinstance(config, dict)
            or not isinstance(config.get("name"), str)
            or not isinstance(config.get("logs"), dict)
        ):
            raise WitnessStateError(f"{self.path / CONFIG_FILE} is malformed")
        return config

    def name(self) -> str:
        return str(self._config()["name"])

    def vkey(self) -> str:
        return cosigner_vkey(self.name(), self.load_private_key().public_key())

    def logs(self) -> dict[str, list[str]]:
        """Origin -> the log vkeys trusted for it (read afresh: ``add-log`` needs no restart)."""
        logs = self._config()["logs"]
        return {str(origin): [str(v) for v in vkeys] for origin, vkeys in logs.items()}

    def trusted_keys(self, origin: str) -> list[Verifier] | None:
        """The log's verifiers, or None if the origin is not witnessed here."""
        vkeys = self.logs().get(origin)
        if vkeys is None:
            return None
        try:
            return [parse_vkey(v) for v in vkeys]
        except NoteError as exc:
            raise WitnessStateError(f"bad log vkey configured for {origin!r}: {exc}") from exc

    def add_log(self, origin: str, vkey: str) -> bool:
        """Trust ``vkey`` for ``origin`` (a log may have several keys); False if already there."""
        if not origin or "\n" in origin or origin != origin.strip():
            raise WitnessStateError("the origin must be one non-empty line without surrounding spaces")
        parse_vkey(vkey)  # NoteError if malformed
        vkey = vkey.strip()
        with self.lock():
            config = self._config()
            keys = config["logs"].setdefault(origin, [])
            if vkey in keys:
                return False
            keys.append(vkey)
            replace_atomically(self.path / CONFIG_FILE, _dump(config), mode=0o644)
        return True

    # --- state -----------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock over the state (blocks other workers, processes and threads)."""
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the description releases the lock

    def load_state(self) -> dict[str, LogState]:
        try:
            raw = json.loads((self.path / STATE_FILE).read_text("utf-8"))
            result: dict[str, LogState] = {}
            for origin, entry in raw["logs"].items():
                root = base64.b64decode(entry["root"], validate=True)
                if len(root) != 32 or int(entry["size"]) < 0:
                    raise ValueError(f"bad entry for {origin!r}")
                result[origin] = LogState(int(entry["size"]), root, int(entry["timestamp"]), str(entry["checkpoint"]))
            return result
        except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise WitnessStateError(f"cannot read {self.path / STATE_FILE}: {exc}") from exc

    def save_state(self, state: dict[str, LogState]) -> None:
        """Persist (call with the lock held)."""
        logs = {
            origin: {
                "size": entry.size,
                "root": base64.b64encode(entry.root).decode("ascii"),
                "timestamp": entry.timestamp,
                "checkpoint": entry.checkpoint,
            }
            for origin, entry in state.items()
        }
        replace_atomically(self.path / STATE_FILE, _dump({"logs": logs}))

    def save_evidence(self, request_body: bytes) -> Path:
        """Keep a validly signed but refused submission: it may prove the log forked."""
        folder = self.path / EVIDENCE_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / f"{hashlib.sha256(request_body).hexdigest()}.txt"
        if not target.exists():
            replace_atomically(target, request_body)
        return target
