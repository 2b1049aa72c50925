"""Durable, private file writes: what the keyring, the signer's state and the witness share.

A secret or a state file is written to a fresh sibling (exact mode, fsynced), then published by
``os.replace`` (or ``os.link`` where an existing file must not be overwritten) and the directory
fsynced, so readers and crashes see the old file or the new one, never a torn or readable one.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private_temp(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write ``data`` to a fresh sibling of ``path`` with exactly ``mode``; fsynced, not yet published."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # umask can only narrow; make the mode exact
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` (``mode``): readers and crashes see the old or the new file."""
    tmp = write_private_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
