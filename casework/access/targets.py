"""What an action is done to. Models describe themselves with ``custody_target()``."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Target:
    """Enough about an object to decide access to it and to record the decision.

    ``resource_type``/``resource_id`` name what the request's URL names, so an allowed and a
    denied attempt at the same URL are recorded against the same resource. ``owner_id`` is
    whoever the SPEC calls the object's owner (the witness's recorder, the interview's
    interviewer, the token's holder).
    """

    resource_type: str
    resource_id: int | str | None = None
    case_id: int | None = None
    owner_id: int | None = None
    witness_id: int | None = None

    def part(self, resource_type: str, resource_id: int | str) -> Target:
        """A part of this object (a transcript version of an interview): same case, owner and witness."""
        return replace(self, resource_type=resource_type, resource_id=resource_id)
