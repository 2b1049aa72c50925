"""Two-person erasure: confirm or reject a pending erasure; legal holds; the overdue list.

The rules (the SPEC's roles table, and where it leaves a choice, this module's):

* **Confirm** (``POST /witnesses/{id}/erasure/confirm``): a lawyer of the witness's case who did
  not record the withdrawal. Refused (409 ``legal-hold``) while any hold of the witness is
  active. The rows' wrapped keys are dropped in the request's transaction; the witness's key
  is destroyed in the keyring provider only once that transaction and its custody event are
  committed: a destruction is never without its record. (Should the provider fail after the
  commit, the database already reads as shredded and ``flask keys reapply-erasures`` destroys
  the key.)
* **Reject** (``POST /witnesses/{id}/erasure/reject`` {reason}): a lawyer of the case who did not
  record the withdrawal, saying it was recorded in error. The withdrawal stays in the consent
  history; a new consent version restates the consent in force before it
  (``casework.consent.service.restore_consent``), so reads are allowed again at once.
* **Legal holds** (``POST /witnesses/{id}/legal-holds`` {court_order_reference}): any lawyer of
  the case but the one who recorded a pending withdrawal. A hold may be placed whether or not
  an erasure is pending (a court may order records preserved before any withdrawal).
  **Lifting** (``POST /witnesses/{id}/legal-holds/{hold_id}/lift``) takes two calls by two
  different lawyers of the case: the first asks (202), a second approves and the hold is lifted
  (200). Neither may be the one who recorded the pending withdrawal; the lawyer who placed the
  hold may be either of them.
* **Status** (``GET /witnesses/{id}/erasure``): whoever may read the witness's metadata; the free
  text (the rejection's reason, the holds' court order references) is shown to the case's
  lawyers only.
* **Overdue** (``GET /erasures?overdue=true``): pending past their deadline, to the lawyers of
  their cases and to auditors (all). The clock never destroys anything.

Every path takes the witness lock first (``casework.witnesses.locks``), so a withdrawal, a
confirmation, a rejection and holds of one witness are serial, and each reads the erasure
and the holds as the previous one committed them. Every step is one custody event, recorded
against the witness (allowed or refused alike).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from casework.access import door
from casework.access.door import Access, authorize, load_authorized, visible_cases
from casework.access.roles import Role
from casework.access.targets import Target
from casework.consent.service import destroy_witness_key, restore_consent, shred_rows
from casework.db import db, utcnow
from casework.errors import Conflict, Forbidden, NotFound
from casework.fields import Extended
from casework.pagination import Page, keyset_page
from casework.witnesses import suspension
from casework.witnesses.erasure_models import CONFIRMED, PENDING, REJECTED, Erasure, LegalHold
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import Witness

log = logging.getLogger(__name__)


@dataclass
class ErasureState:
    """What ``GET /witnesses/{id}/erasure`` answers: the latest erasure, if any, and the holds."""

    witness: Witness
    erasure: Erasure | None
    holds: list[Extended] = field(default_factory=list)
    reason: str | None = None
    now: datetime = field(default_factory=utcnow)

    @property
    def witness_id(self) -> int:
        return self.witness.id

    @property
    def case_id(self) -> int:
        return self.witness.case_id

    @property
    def erasure_id(self) -> int | None:
        return self.erasure.id if self.erasure is not None else None

    @property
    def status(self) -> str:
        if self.erasure is not None:
            return self.erasure.status
        # Shredded at a withdrawal before two-person erasure existed: erased, with no erasure row.
        return CONFIRMED if self.witness.shredded_at is not None else "none"

    @property
    def overdue(self) -> bool:
        return self.erasure is not None and self.erasure.overdue(self.now)

    @property
    def active_holds(self) -> int:
        return sum(1 for hold in self.holds if hold.active)

    def _of(self, name: str) -> Any:
        return getattr(self.erasure, name) if self.erasure is not None else None

    origin = property(lambda self: self._of("origin"))
    consent_version = property(lambda self: self._of("consent_version"))
    requested_by_id = property(lambda self: self._of("requested_by_id"))
    requested_at = property(lambda self: self._of("requested_at"))
    deadline = property(lambda self: self._of("deadline"))
    decided_by_id = property(lambda self: self._of("decided_by_id"))
    decided_at = property(lambda self: self._of("decided_at"))
    restored_consent_version = property(lambda self: self._of("restored_consent_version"))


def _latest(witness_id: int) -> Erasure | None:
    return db.session.scalars(
        select(Erasure).where(Erasure.witness_id == witness_id).order_by(Erasure.id.desc()).limit(1)
    ).first()


def _pending(witness_id: int) -> Erasure | None:
    return db.session.scalars(
        select(Erasure).where(Erasure.witness_id == witness_id, Erasure.status == PENDING)
    ).first()


def _pending_or_conflict(witness: Witness) -> Erasure:
    erasure = _pending(witness.id)
    if erasure is None:
        raise Conflict("No erasure of this witness is pending.", problem="no-pending-erasure")
    return erasure


def _holds(witness_id: int) -> list[LegalHold]:
    return list(db.session.scalars(select(LegalHold).where(LegalHold.witness_id == witness_id).order_by(LegalHold.id)))


def _lawyer(access: Access[Any]) -> bool:
    """Free text is for the case's lawyers (their membership was checked by the access decision)."""
    return access.actor.known_role is Role.LEGAL


def _reference(hold: LegalHold, shown: bool) -> Extended:
    text = hold.sealed_reference.open().decode() if shown else None
    return Extended(hold, court_order_reference=text)


def _state(access: Access[Witness], erasure: Erasure | None) -> ErasureState:
    shown = _lawyer(access)
    sealed = erasure.sealed_reason.open_or_none() if shown and erasure is not None else None
    reason = sealed.decode() if sealed is not None else None
    holds = [_reference(hold, shown) for hold in _holds(access.obj.id)]
    return ErasureState(access.obj, erasure, holds, reason)


def _not_the_requester(access: Access[Any], erasure: Erasure | None, *others: int | None) -> None:
    """The SPEC's second person: never the one who recorded the pending withdrawal."""
    if erasure is None:
        return
    if erasure.requested_by_id in (access.user_id, *others):
        raise Forbidden(
            "The one who recorded the withdrawal cannot act on its erasure: another lawyer of the case must.",
            problem="second-person-required",
        )


def read(witness_id: int) -> ErasureState:
    access = load_authorized(Witness, witness_id, "erasure.read")
    erasure = _latest(access.obj.id)
    access.note(
        erasure_id=erasure.id if erasure else None,
        status=erasure.status if erasure else "none",
        free_text=_lawyer(access),
    )
    return _state(access, erasure)


def confirm(witness_id: int) -> ErasureState:
    """The second person confirms: the rows are shredded, then the key is destroyed in the provider."""
    access = load_authorized(Witness, witness_id, "erasure.confirm")
    witness = lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
    erasure = _pending_or_conflict(witness)
    access.note(erasure_id=erasure.id, requested_by_id=erasure.requested_by_id)
    _not_the_requester(access, erasure)
    active = [hold.id for hold in _holds(witness.id) if hold.active]
    if active:
        access.note(active_holds=active)
        raise Conflict(
            "A legal hold on this witness's records is active: the erasure cannot be confirmed "
            "until every hold is lifted.",
            problem="legal-hold",
        )
    erasure.status, erasure.decided_by_id, erasure.decided_at = CONFIRMED, access.user_id, utcnow()
    access.note(shredded=shred_rows(witness), subject_key="destroyed once this event is committed")
    suspension.forget(witness.id)
    erasure_id = erasure.id
    door.commit()  # the confirmation and its event are durable before anything leaves the provider
    try:
        destroyed = destroy_witness_key(witness_id)
    except Exception:
        log.critical(
            "erasure %s confirmed, but the key of witness %s could not be destroyed: run `flask keys reapply-erasures`",
            erasure_id,
            witness_id,
        )
        raise
    log.info("erasure %s confirmed: key of witness %s destroyed (%s)", erasure_id, witness_id, destroyed)
    return _state(access, db.session.get_one(Erasure, erasure_id))


def reject(witness_id: int, data: dict[str, Any]) -> ErasureState:
    """Recorded in error: the erasure closes, a new consent version restores access."""
    access = load_authorized(Witness, witness_id, "erasure.reject")
    witness = lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
    erasure = _pending_or_conflict(witness)
    access.note(erasure_id=erasure.id, requested_by_id=erasure.requested_by_id)
    _not_the_requester(access, erasure)
    erasure.status, erasure.decided_by_id, erasure.decided_at = REJECTED, access.user_id, utcnow()
    erasure.sealed_reason.seal(data["reason"].encode("utf-8"))
    restored = restore_consent(witness, erasure.consent_version, access.user_id)
    erasure.restored_consent_version = restored.version
    db.session.flush()
    suspension.forget(witness.id)
    access.note(restored_consent_version=restored.version, withdrawal_consent_version=erasure.consent_version)
    return _state(access, erasure)


def _hold_of(witness: Witness, hold_id: int) -> LegalHold:
    hold = db.session.get(LegalHold, hold_id)
    if hold is None or hold.witness_id != witness.id:
        raise NotFound("No such legal hold on this witness's records.")
    return hold


def place_hold(witness_id: int, data: dict[str, Any]) -> Extended:
    access = load_authorized(Witness, witness_id, "erasure.hold.place")
    witness = lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
    if witness.shredded_at is not None:
        raise Conflict(
            "This witness's records were already erased; there is nothing left to hold.", problem="witness-erased"
        )
    pending = _pending(witness.id)
    access.note(erasure_id=pending.id if pending else None)
    _not_the_requester(access, pending)
    hold = LegalHold(witness_id=witness.id, case_id=witness.case_id, placed_by_id=access.user_id, placed_at=utcnow())
    db.session.add(hold)
    db.session.flush()
    hold.sealed_reference.seal(data["court_order_reference"].encode("utf-8"))
    access.note(hold_id=hold.id)
    return Extended(hold, court_order_reference=data["court_order_reference"])


def lift_hold(witness_id: int, hold_id: int) -> tuple[Extended, bool]:
    """The first lawyer asks (False: not lifted yet); a second, different one lifts it (True)."""
    access = load_authorized(Witness, witness_id, "erasure.hold.lift", hold_id=hold_id)
    witness = lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
    hold = _hold_of(witness, hold_id)
    if not hold.active:
        raise Conflict("This legal hold was already lifted.", problem="hold-lifted")
    pending = _pending(witness.id)
    access.note(erasure_id=pending.id if pending else None, placed_by_id=hold.placed_by_id)
    _not_the_requester(access, pending, hold.lift_requested_by_id)
    now = utcnow()
    if hold.lift_requested_by_id is None:
        hold.lift_requested_by_id, hold.lift_requested_at = access.user_id, now
        access.note(step="lift_requested")
        return _reference(hold, True), False
    if hold.lift_requested_by_id == access.user_id:
        raise Forbidden(
            "A second lawyer of the case must approve the lift you asked for.", problem="second-person-required"
        )
    hold.lifted_by_id, hold.lifted_at = access.user_id, now
    access.note(step="lifted", lift_requested_by_id=hold.lift_requested_by_id)
    return _reference(hold, True), True


def list_erasures(args: dict[str, Any]) -> Page:
    """Erasures of the cases the caller may see (auditors: all), ``overdue``: pending past the deadline."""
    authorize("erasure.list", Target("erasure"), overdue=args["overdue"])
    now = utcnow()
    statement = select(Erasure).where(visible_cases("erasure.list", Erasure.case_id))
    if args["overdue"]:
        statement = statement.where(Erasure.status == PENDING, Erasure.deadline < now)
    page = keyset_page(statement, Erasure.id, args)
    ids = {erasure.witness_id for erasure in page["items"]}
    counts: dict[int, int] = {}
    if ids:
        counts = dict(
            db.session.execute(
                select(LegalHold.witness_id, func.count())
                .where(LegalHold.witness_id.in_(ids), LegalHold.lifted_at.is_(None))
                .group_by(LegalHold.witness_id)
            ).all()
        )
    page["items"] = [
        Extended(erasure, overdue=erasure.overdue(now), active_holds=counts.get(erasure.witness_id, 0))
        for erasure in page["items"]
    ]
    return page
