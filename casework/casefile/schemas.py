from __future__ import annotations

from marshmallow import Schema, fields

from casework.cases.schemas import CaseSchema
from casework.incidents.schemas import IncidentSchema
from casework.interviews.schemas import InterviewSchema
from casework.transcripts.schemas import TranscriptVersionSchema
from casework.witnesses.schemas import WitnessSchema


class TranscriptInFileSchema(TranscriptVersionSchema):
    text = fields.String(allow_none=True, metadata={"description": "null when shredded"})


class InterviewInFileSchema(Schema):
    interview = fields.Nested(InterviewSchema, attribute="shown")
    transcripts = fields.List(fields.Nested(TranscriptInFileSchema))


class CaseFileSchema(Schema):
    case = fields.Nested(CaseSchema)
    incidents = fields.List(fields.Nested(IncidentSchema))
    witnesses = fields.List(fields.Nested(WitnessSchema), metadata={
        "description": "Pseudonymous; identities are released one by one by GET /witnesses/{id}?include=identity."})
    interviews = fields.List(fields.Nested(InterviewInFileSchema))
