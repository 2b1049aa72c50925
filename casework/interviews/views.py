from __future__ import annotations

from casework.http import Blueprint
from casework.interviews import schemas, service
from casework.pagination import PageArgs, page_of

blp = Blueprint("interviews", __name__, url_prefix="/api/v1", description="Witness interviews")

InterviewPage = page_of(schemas.InterviewSchema, "InterviewPage")


@blp.route("/cases/<int:case_id>/interviews", methods=["POST"])
@blp.arguments(schemas.InterviewCreateSchema)
@blp.response(201, schemas.InterviewSchema)
def create_interview(data, case_id):
    return service.create_interview(case_id, data)


@blp.route("/cases/<int:case_id>/interviews", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, InterviewPage)
def list_interviews(args, case_id):
    return service.list_interviews(case_id, args)


@blp.route("/interviews/<int:interview_id>", methods=["GET"])
@blp.response(200, schemas.InterviewSchema)
def get_interview(interview_id):
    return service.get_interview(interview_id)


@blp.route("/interviews/<int:interview_id>", methods=["PATCH"])
@blp.arguments(schemas.InterviewUpdateSchema)
@blp.response(200, schemas.InterviewSchema)
def update_interview(changes, interview_id):
    return service.update_interview(interview_id, changes)
