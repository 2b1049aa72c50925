"""What both verifiers report about a checkpoint and its cosigners, as plain JSON values.

One shape for a bundle's checkpoint and an export's, so a program reading ``--json`` (and the
human summary built from it) treats them alike.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from casework_verify.cosignature import Cosignature
from casework_verify.note import Checkpoint


def utc_time(timestamp: int) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC; None if out of any calendar's range."""
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def checkpoint_facts(checkpoint: Checkpoint) -> dict[str, Any]:
    """The log's name (origin), the tree size and the root, base64 as in the checkpoint's text."""
    return {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": base64.b64encode(checkpoint.root).decode("ascii"),
    }


def cosigner_facts(valid: Sequence[Cosignature]) -> list[dict[str, Any]]:
    """Who cosigned and when: name, key id, the signed timestamp and that time in UTC."""
    return [
        {"name": c.name, "key_id": c.key_id.hex(), "timestamp": c.timestamp, "time": utc_time(c.timestamp)}
        for c in sorted(valid, key=lambda c: c.name)
    ]
