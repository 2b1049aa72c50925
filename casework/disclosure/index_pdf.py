"""The printable index of a bundle: what a lawyer files with the evidence (fpdf2).

One table row per item: its registration number, what it is, its SHA-256 and size, and its
chain of custody in short (who uploaded it and when, how often it was read or refused, and
where in the bag the full, provable record is). The PDF holds only these summaries (measured:
~170 KB for 1,000 items), so its size is bounded by the number of items, never their content.

It is built in a short-lived child process (``IndexBuilder``; ``python -m
casework.disclosure.index_render``) fed one JSON line per row as the items stream: fpdf2 brings
PIL, fontTools and HarfBuzz, which every app worker would otherwise carry for good, and the rows
never accumulate in the worker. This module holds only what the app needs (the records and the
builder); ``index_render`` draws the PDF (PDF/A-2b, fonts embedded, the same bytes for the same
rows and header) and is the only one of the two that imports the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any


@dataclass
class CustodySummary:
    """Running summary of an item's custody events, fed one event at a time.

    ``add(None, ...)`` counts an entry the bundle proves by its hash alone; ``who`` is how the
    bundle names the actor (a per-disclosure pseudonym), never the username in the entry.
    """

    events: int = 0
    withheld: int = 0
    first: str | None = None
    last_time: str | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, entry: dict[str, Any] | None, who: str | None = None) -> None:
        self.events += 1
        if entry is None:
            self.withheld += 1
            return
        if self.first is None:
            self.first = f"{entry['action']} by {who or 'system'} at {entry['time'][:19]}Z (seq {entry['seq']})"
        self.last_time = entry["time"][:19] + "Z"
        self.counts[f"{entry['action']} {entry['outcome']}"] += 1

    def lines(self, custody_path: str) -> list[str]:
        if not self.events:
            return ["no custody events"]
        out = [f"first: {self.first}"] if self.first else []
        out += [f"{n} x {what}" for what, n in sorted(self.counts.items())]
        if self.withheld:
            out.append(f"{self.withheld} x proven by hash alone (other people's attempts, other disclosures)")
        out.append(f"{self.events} events, last at {self.last_time or '-'}; proofs in {custody_path}")
        return out


@dataclass
class IndexRow:
    registration_number: str
    description: str
    path: str
    sha256: str
    size: int
    custody: list[str]


# The creation date written into an index whose caller gives none: fixed, so that the same rows
# and header always give the same bytes (a bundle is reproducible byte for byte).
FIXED_EPOCH = "1970-01-01T00:00:00+00:00"


@dataclass
class IndexHeader:
    title: str
    facts: list[tuple[str, str]]
    created_at: str = FIXED_EPOCH  # ISO 8601; the PDF's creation date (UTC if it names no zone)


class IndexBuilder:
    """Feeds rows to a child process that builds the PDF; ``finish`` returns its bytes."""

    def __init__(self, header: IndexHeader) -> None:
        datetime.fromisoformat(header.created_at)  # a bad date fails here, not in the child
        root = str(Path(__file__).resolve().parents[2])  # the directory holding the casework package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the child; closed by finish/close)
        self._child = subprocess.Popen(
            [sys.executable, "-m", "casework.disclosure.index_render"],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
        )
        self._write(asdict(header))

    def _write(self, record: dict[str, Any]) -> None:
        stdin: IO[bytes] | None = self._child.stdin
        assert stdin is not None
        stdin.write(json.dumps(record).encode("utf-8") + b"\n")

    def add(self, row: IndexRow) -> None:
        self._write(asdict(row))

    def finish(self) -> bytes:
        out, _ = self._child.communicate(timeout=600)
        if self._child.returncode != 0:
            self._errors.seek(0)
            raise RuntimeError(f"the PDF index failed: {self._errors.read()[-2000:].decode(errors='replace')}")
        self._errors.close()
        return out

    def close(self) -> None:
        """Stop the child if the bundle was abandoned half-way."""
        if self._child.poll() is None:
            self._child.kill()
            self._child.wait(timeout=30)
        self._errors.close()
