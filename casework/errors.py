"""Domain errors: what went wrong, in the domain's words. No HTTP here.

Services, crypto adapters and the access door raise these; ``casework.problems`` is the one
place that turns them into RFC 9457 problem+json answers with a status code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a service may raise; ``problem`` names its kind for clients."""

    problem: ClassVar[str] = "error"

    def __init__(self, detail: str, *, problem: str | None = None, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problem_type = problem or self.problem
        self.errors = errors


class Unauthenticated(DomainError):
    problem = "unauthenticated"


class Forbidden(DomainError):
    problem = "forbidden"


class NotFound(DomainError):
    problem = "not-found"


class Gone(DomainError):
    problem = "gone"


class Conflict(DomainError):
    problem = "conflict"


class Invalid(DomainError):
    """The input is well-formed but breaks a rule (field errors in ``errors``)."""

    problem = "validation-error"


class BadInput(DomainError):
    """The input could not be understood at all (encoding, framing, a malformed header)."""

    problem = "bad-request"


class TooLarge(DomainError):
    problem = "payload-too-large"


class UnsupportedMedia(DomainError):
    problem = "unsupported-media-type"

    def __init__(self, detail: str, *, accepted: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.accepted = accepted


class PreconditionFailed(DomainError):
    """A protocol precondition is not met (tus: an unsupported Tus-Resumable version)."""

    problem = "precondition-failed"


class ChecksumMismatch(DomainError):
    """The body received does not match the checksum the client sent with it; nothing was kept."""

    problem = "checksum-mismatch"


class RangeNotSatisfiable(DomainError):
    problem = "range-not-satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail)
        self.size = size


class IntegrityFailure(DomainError):
    """Stored data failed a cryptographic check: tampering or a bug, never the caller's fault."""

    problem = "integrity-failure"


class LogCorrupted(IntegrityFailure):
    """The custody log failed a consistency check; nothing is signed or served from it."""

    problem = "custody-log-corrupted"


class CustodyUnavailable(DomainError):
    """The log could not record; the request is refused rather than served unrecorded."""

    problem = "custody-unavailable"

    def __init__(self, detail: str = "The custody log could not record this request, so it was not served.") -> None:
        super().__init__(detail)
