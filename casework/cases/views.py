from __future__ import annotations

from casework.cases import schemas, service
from casework.http import Blueprint
from casework.pagination import PageArgs, page_of

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Cases and their members")

CasePage = page_of(schemas.CaseSchema, "CasePage")


@blp.route("", methods=["POST"])
@blp.arguments(schemas.CaseCreateSchema)
@blp.response(201, schemas.CaseSchema)
def create_case(data):
    """Open a case; a lawyer who opens one becomes its first member."""
    return service.create_case(data)


@blp.route("", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, CasePage)
def list_cases(args):
    """List the cases you work on (admins and auditors: every case)."""
    return service.list_cases(args)


@blp.route("/<int:case_id>", methods=["GET"])
@blp.response(200, schemas.CaseDetailSchema)
def get_case(case_id):
    """Read a case with its members and the membership changes waiting for a second person."""
    return service.case_detail(case_id)


@blp.route("/<int:case_id>", methods=["PATCH"])
@blp.arguments(schemas.CaseUpdateSchema)
@blp.response(200, schemas.CaseSchema)
def update_case(changes, case_id):
    """Change a case's title, reference, description or status; only the fields sent change."""
    return service.update_case(case_id, changes)


@blp.route("/<int:case_id>/members/<int:user_id>", methods=["PUT"])
@blp.response(200, schemas.MembershipSchema, description="Already a member")
@blp.alt_response(
    202,
    schema=schemas.MembershipSchema,
    description="Proposed: a lawyer of the case, or where it has none a second admin, must approve (two-person rule)",
)
def add_member(case_id, user_id):
    """Propose a member of a case (admins); a second person approves."""
    result = service.add_member(case_id, user_id)
    return result, 202 if result.status == service.PENDING else 200


@blp.route("/<int:case_id>/members/<int:user_id>/approve", methods=["POST"])
@blp.response(200, schemas.MembershipSchema)
def approve_member(case_id, user_id):
    """Approve a pending membership change (the second person of the two-person rule).

    A lawyer of the case other than the account; where the case has no other lawyer, a second,
    independent admin.
    """
    return service.approve_member(case_id, user_id)


@blp.route("/<int:case_id>/members/<int:user_id>/proposal", methods=["DELETE"])
@blp.response(204)
def reject_proposal(case_id, user_id):
    """Reject a pending membership change (a lawyer of the case), or withdraw it (admin)."""
    service.reject_proposal(case_id, user_id)


@blp.route("/<int:case_id>/members/<int:user_id>", methods=["DELETE"])
@blp.response(204, description="Removed (an interviewer)")
@blp.alt_response(
    202,
    schema=schemas.MembershipSchema,
    description="A lawyer's removal, proposed: another lawyer of the case must approve",
)
def remove_member(case_id, user_id):
    """Remove a member of a case (admins).

    An interviewer leaves at once; a lawyer once another lawyer of the case approves.
    """
    result = service.remove_member(case_id, user_id)
    if result is None:
        return None
    return schemas.MembershipSchema().dump(result), 202
