from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from marshmallow import Schema, fields

from casework.casefile.service import CONSENT_RULE, CaseFileStream, IncidentInFile, InterviewInFile
from casework.cases.schemas import CaseSchema
from casework.exhibits.schemas import (
    CAPTURED_AT_EXAMPLE,
    FILENAME_EXAMPLE,
    KIND_EXAMPLE,
    MEDIA_TYPE_EXAMPLE,
    SIZE_EXAMPLE,
)
from casework.fields import FreeText, FreeTextSchema
from casework.incidents.schemas import IncidentSchema
from casework.interviews.schemas import InterviewSchema
from casework.transcripts.schemas import STATEMENT_EXAMPLE, TranscriptVersionSchema
from casework.witnesses.schemas import WitnessSchema


class TranscriptInFileSchema(TranscriptVersionSchema):
    text = fields.String(
        allow_none=True, metadata={"description": "null when withheld or shredded", "example": STATEMENT_EXAMPLE}
    )
    withheld = fields.String(
        allow_none=True,
        metadata={
            "description": "why the text is not included (the witness's consent in force, or shredded); null if it is",
            "example": None,
        },
    )


_SEALED = "null when withheld or shredded, and for those who may not read this exhibit's content"


class ExhibitInFileSchema(FreeTextSchema):
    """An exhibit's metadata in the case file: never its bytes, which are a read of their own."""

    id = fields.Integer()
    kind = fields.String(metadata={"example": KIND_EXAMPLE})
    media_type = fields.String(allow_none=True, metadata={"example": MEDIA_TYPE_EXAMPLE})
    size = fields.Integer(metadata={"example": SIZE_EXAMPLE})
    sha256 = FreeText(allow_none=True, metadata={"description": "hex SHA-256 of the content; " + _SEALED})
    captured_at = fields.DateTime(allow_none=True, metadata={"example": CAPTURED_AT_EXAMPLE})
    filename = FreeText(allow_none=True, metadata={"description": _SEALED, "example": FILENAME_EXAMPLE})
    shredded = fields.Boolean()
    withheld = fields.String(
        allow_none=True,
        metadata={
            "description": "why the exhibit's sealed metadata and content are not available (witness_shredded, "
            "consent_withdrawn while an erasure is pending, shredded); null if they are",
            "example": None,
        },
    )
    content_path = fields.Method(
        "_content_path",
        metadata={
            "description": "where to download the content (GET, Range supported, a logged read of its own); null "
            "when withheld",
            "example": "/api/v1/exhibits/4/content",
        },
    )

    def _content_path(self, exhibit: Any) -> str | None:
        return None if exhibit.withheld else f"/api/v1/exhibits/{exhibit.id}/content"


class InterviewInFileSchema(Schema):
    interview = fields.Nested(InterviewSchema, attribute="shown")
    transcripts = fields.List(fields.Nested(TranscriptInFileSchema), attribute="statements")
    exhibits = fields.List(fields.Nested(ExhibitInFileSchema))


class IncidentInFileSchema(IncidentSchema):
    exhibits = fields.List(fields.Nested(ExhibitInFileSchema))


class CaseFileSchema(Schema):
    """For the OpenAPI description; the body is streamed by ``stream_json`` in this shape."""

    case = fields.Nested(CaseSchema)
    consent_rule = fields.String(
        metadata={"description": "the rule that decided which statements are included", "example": CONSENT_RULE}
    )
    incidents = fields.List(fields.Nested(IncidentInFileSchema))
    witnesses = fields.List(
        fields.Nested(WitnessSchema),
        metadata={
            "description": "Pseudonymous; identities are released one by one by GET /witnesses/{id}?include=identity."
        },
    )
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


def _opened(value: dict[str, Any]) -> bytes:
    """A JSON object without its closing brace, ready for more members."""
    return _encode(value)[:-1] + (b"," if value else b"")


def stream_json(file: CaseFileStream) -> Iterator[bytes]:
    """The case file as JSON, one object at a time (the schemas above, dumped piece by piece)."""
    incident_schema, witness = IncidentSchema(), WitnessSchema()
    interview_schema, transcript, exhibit = InterviewSchema(), TranscriptInFileSchema(), ExhibitInFileSchema()

    def one(schema: Schema) -> Any:
        return lambda item: iter([_encode(schema.dump(item))])

    def incident(entry: IncidentInFile) -> Iterator[bytes]:
        yield _opened(incident_schema.dump(entry.incident)) + b'"exhibits":'
        yield from _array(entry.exhibits, one(exhibit))
        yield b"}"

    def interview(entry: InterviewInFile) -> Iterator[bytes]:
        yield b'{"interview":' + _encode(interview_schema.dump(entry.shown)) + b',"transcripts":'
        yield from _array(entry.statements, one(transcript))
        yield b',"exhibits":'
        yield from _array(entry.exhibits, one(exhibit))
        yield b"}"

    yield b'{"case":'  # before any read: a body never started holds no database transaction
    yield _encode(CaseSchema().dump(next(file.case))) + b',"consent_rule":' + _encode(file.consent_rule)
    yield b',"incidents":'
    yield from _array(file.incidents, incident)
    yield b',"witnesses":'
    yield from _array(file.witnesses, one(witness))
    yield b',"interviews":'
    yield from _array(file.interviews, interview)
    yield b"}"
