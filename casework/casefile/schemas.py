from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from marshmallow import Schema, fields

from casework.casefile.service import CaseFileStream
from casework.cases.schemas import CaseSchema
from casework.incidents.schemas import IncidentSchema
from casework.interviews.schemas import InterviewSchema
from casework.transcripts.schemas import TranscriptVersionSchema
from casework.witnesses.schemas import WitnessSchema


class TranscriptInFileSchema(TranscriptVersionSchema):
    text = fields.String(allow_none=True, metadata={"description": "null when withheld or shredded"})
    withheld = fields.String(allow_none=True, metadata={
        "description": "why the text is not included (the witness's consent in force, or shredded); null if it is"})


class InterviewInFileSchema(Schema):
    interview = fields.Nested(InterviewSchema, attribute="shown")
    transcripts = fields.List(fields.Nested(TranscriptInFileSchema))


class CaseFileSchema(Schema):
    """For the OpenAPI description; the body is streamed by ``stream_json`` in this shape."""

    case = fields.Nested(CaseSchema)
    consent_rule = fields.String()
    incidents = fields.List(fields.Nested(IncidentSchema))
    witnesses = fields.List(fields.Nested(WitnessSchema), metadata={
        "description": "Pseudonymous; identities are released one by one by GET /witnesses/{id}?include=identity."})
    interviews = fields.List(fields.Nested(InterviewInFileSchema))


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _array(items: Iterable[Any], dump: Any) -> Iterator[bytes]:
    yield b"["
    first = True
    for item in items:
        if not first:
            yield b","
        first = False
        yield from dump(item)
    yield b"]"


def stream_json(file: CaseFileStream) -> Iterator[bytes]:
    """The case file as JSON, one object at a time (the schemas above, dumped piece by piece)."""
    incident, witness = IncidentSchema(), WitnessSchema()
    interview_schema, transcript = InterviewSchema(), TranscriptInFileSchema()

    def one(schema: Schema) -> Any:
        return lambda item: iter([_encode(schema.dump(item))])

    def interview(pair: Any) -> Iterator[bytes]:
        shown, statements = pair
        yield b'{"interview":' + _encode(interview_schema.dump(shown)) + b',"transcripts":'
        yield from _array(statements, one(transcript))
        yield b"}"

    yield b'{"case":'  # before any read: a body never started holds no database transaction
    yield _encode(CaseSchema().dump(next(file.case))) + b',"consent_rule":' + _encode(file.consent_rule)
    yield b',"incidents":'
    yield from _array(file.incidents, one(incident))
    yield b',"witnesses":'
    yield from _array(file.witnesses, one(witness))
    yield b',"interviews":'
    yield from _array(file.interviews, interview)
    yield b"}"
