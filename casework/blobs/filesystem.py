"""The filesystem blob store: one private file per chunk record, renamed into place."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from casework.blobs import MissingChunk
from casework.files import fsync_dir, write_private_temp

_KEY = re.compile(r"^[0-9a-f]{16,64}$")


def _private_dir(path: Path) -> None:
    """A directory only its owner may enter (0700, whatever the umask), made if missing."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        return
    os.chmod(path, 0o700)


class FilesystemStore:
    name = "filesystem"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _dir(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are ours (random hex); anything else is a bug, not a path
            raise ValueError("bad blob key")
        return self.root / key[:2] / key

    def _path(self, key: str, index: int) -> Path:
        return self._dir(key) / f"{index:012d}.chunk"

    def put(self, key: str, index: int, record: bytes) -> None:
        directory = self._dir(key)
        if not directory.is_dir():
            for level in (self.root, directory.parent, directory):
                _private_dir(level)
        target = self._path(key, index)
        tmp = write_private_temp(target, record)
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get(self, key: str, index: int) -> bytes:
        try:
            return self._path(key, index).read_bytes()
        except FileNotFoundError:
            raise MissingChunk(f"chunk {index} of blob {key} is missing") from None

    def iter_records(self, key: str, indexes: range) -> Iterator[tuple[int, bytes]]:
        for index in indexes:
            yield index, self.get(key, index)

    def sync(self, key: str) -> None:
        directory = self._dir(key)
        if directory.is_dir():
            fsync_dir(directory)

    def delete(self, key: str) -> int:
        directory = self._dir(key)
        if not directory.is_dir():
            return 0
        count = sum(1 for path in directory.iterdir() if path.suffix == ".chunk")
        shutil.rmtree(directory)
        return count

    def files(self, key: str) -> list[Path]:
        """Every file of the blob (tests look for plaintext in them)."""
        directory = self._dir(key)
        return sorted(directory.iterdir()) if directory.is_dir() else []
