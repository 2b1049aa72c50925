"""What a listing's search records in the custody log, and LIKE patterns taken literally.

Each search is a custody event with its filters (the list's own decision, allowed or refused),
so the log says who looked for what; never anything found. Free text a caller types (``q``) may
itself be a name, and the log is append-only and outlives any erasure: it is recorded as the
SHA-256 of its case-folded text, so an auditor can still confirm "did anyone search for X?" by
hashing X, while the log never holds the words.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any


def filters(args: dict[str, Any], names: tuple[str, ...], *, free_text: tuple[str, ...] = ()) -> dict[str, Any]:
    """The filters given, as the custody event records them: times in ISO 8601, free text hashed."""
    recorded: dict[str, Any] = {}
    for name in names:
        value = args.get(name)
        if value is None:
            continue
        if name in free_text:
            recorded[f"{name}_sha256"] = free_text_digest(value)
        else:
            recorded[name] = value.isoformat() if isinstance(value, datetime) else value
    return recorded


def free_text_digest(text: str) -> str:
    """SHA-256 (hex) of the case-folded text: what an auditor recomputes to test a guess."""
    return hashlib.sha256(text.casefold().encode("utf-8")).hexdigest()


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` taken literally (escape character ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
