"""Where the client keeps what it knows: one directory, readable by its user only.

The directory is ``$CASEWORK_CONFIG`` if set, else the platform's config dir for "casework"
(``~/.config/casework`` on Linux, ``~/Library/Application Support/casework`` on macOS,
``%APPDATA%\\casework`` on Windows). It holds:

* ``config.json`` (0600): server URL, username, token, the log keys pinned per server, the
  witness keys and quorum the monitor requires;
* ``tus-uploads.json``: tuspy's record of unfinished exhibit uploads (resumed by a re-run);
* ``outbox/`` and ``outbox.key``: uploads waiting for the server, encrypted (``outbox``);
* ``monitor/``: the last checkpoint the monitor kept per log, and evidence of any fork.

Every file is written whole and renamed into place, so a killed command never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

CONFIG_FILE = "config.json"
ENV_DIR = "CASEWORK_CONFIG"


class ConfigError(Exception):
    """The configuration is missing something a command needs (say: not logged in)."""


def config_dir(override: str | None = None) -> Path:
    chosen = override or os.environ.get(ENV_DIR)
    path = Path(chosen).expanduser() if chosen else Path(platformdirs.user_config_dir("casework", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _owner_only(path, 0o700)
    return path


def _owner_only(path: Path, mode: int) -> None:
    """Tighten a file or directory others can read (SSH refuses such files; we fix and say so)."""
    if sys.platform == "win32":
        return
    current = path.stat().st_mode & 0o777
    if current & 0o077:
        print(f"warning: {path} was readable by others (mode {current:o}); set to {mode:o}", file=sys.stderr)
        path.chmod(mode)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 from the first byte (never world-readable)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if sys.platform != "win32":
            os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@dataclass
class Config:
    directory: Path
    server: str | None = None
    username: str | None = None
    token: str | None = None
    token_id: int | None = None
    token_expires_at: str | None = None
    # Trust on first use, per server URL (as SSH's known_hosts): {url: {"vkey", "pinned_at"}}.
    known_logs: dict[str, dict[str, str]] = field(default_factory=dict)
    witness_keys: list[str] = field(default_factory=list)
    quorum: int | None = None
    # A random value only this config knows: keys tuspy's record of uploads without naming content.
    local_salt: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def path(self) -> Path:
        return self.directory / CONFIG_FILE

    @classmethod
    def load(cls, directory: Path) -> Config:
        path = directory / CONFIG_FILE
        if not path.exists():
            return cls(directory)
        _owner_only(path, 0o600)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        known = {name for name in cls.__dataclass_fields__ if name != "directory"}
        return cls(directory, **{k: v for k, v in data.items() if k in known})

    def save(self) -> None:
        data: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "directory"}
        write_private(self.path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    def require_login(self) -> tuple[str, str]:
        if not self.server or not self.token:
            raise ConfigError(
                f"not logged in (no token in {self.path}): run casework login --server URL --username NAME"
            )
        return self.server, self.token

    def pinned_vkey(self) -> str | None:
        entry = self.known_logs.get(self.server or "")
        return entry.get("vkey") if entry else None
