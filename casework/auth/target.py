"""What an action is done to; models describe themselves with ``custody_target()``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """Enough about an object to decide access to it and to record the decision."""

    resource_type: str
    resource_id: Any = None
    case_id: int | None = None
    owner_id: int | None = None
    witness_id: int | None = None
