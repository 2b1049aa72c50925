from __future__ import annotations

from casework.http import Blueprint
from casework.interviews import schemas, service
from casework.pagination import page_of

blp = Blueprint("interviews", __name__, url_prefix="/api/v1", description="Witness interviews")

InterviewPage = page_of(schemas.InterviewSchema, "InterviewPage")


@blp.route("/cases/<int:case_id>/interviews", methods=["POST"])
@blp.arguments(schemas.InterviewCreateSchema)
@blp.response(201, schemas.InterviewSchema)
def create_interview(data, case_id):
    """Record an interview of a witness, linked to incidents of the same case.

    The interpreter and the others present are sealed under the witness's key.
    """
    return service.create_interview(case_id, data)


@blp.route("/cases/<int:case_id>/interviews", methods=["GET"])
@blp.arguments(schemas.InterviewFilterArgs, location="query")
@blp.response(200, InterviewPage)
def list_interviews(args, case_id):
    """List a case's interviews, or search them by language, date and witness.

    Filters narrow together; each search is recorded with its filters in the custody log.
    """
    return service.list_interviews(case_id, args)


@blp.route("/interviews/<int:interview_id>", methods=["GET"])
@blp.response(200, schemas.InterviewSchema)
def get_interview(interview_id):
    """Read an interview (its free text only if you may read the witness's statements)."""
    return service.get_interview(interview_id)


@blp.route("/interviews/<int:interview_id>", methods=["PATCH"])
@blp.arguments(schemas.InterviewUpdateSchema)
@blp.response(200, schemas.InterviewSchema)
def update_interview(changes, interview_id):
    """Change an interview; only the fields sent change."""
    return service.update_interview(interview_id, changes)
