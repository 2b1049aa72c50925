from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.access.door import ALLOWED, DENIED, ERROR
from casework.fields import HexBytes, UTCDateTime
from casework.http import EXAMPLE_DIGEST, ID_RANGE, MAX_SEQ
from casework.pagination import PageArgs

BIG = validate.Range(min=0, max=MAX_SEQ)
# Examples: an interviewer's upload of a statement, as an auditor sees its event.
DETAILS_EXAMPLE = {"created": "7/2", "version": 2, "size": 188, "keyed_sha256": EXAMPLE_DIGEST, "corrects": 1}
SALTS_EXAMPLE = {
    "actor_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "actor_username": "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9",
    "client_addr": "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f",
}
PROOF_EXAMPLE = [EXAMPLE_DIGEST, "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"]


class EventFilterArgs(PageArgs):
    actor_id = fields.Integer(validate=ID_RANGE)
    actor = fields.String(validate=validate.Length(max=64), metadata={"description": "Actor username."})
    action = fields.String(validate=validate.Length(max=64))
    outcome = fields.String(validate=validate.OneOf([ALLOWED, DENIED, ERROR]))
    resource_type = fields.String(validate=validate.Length(max=32))
    resource_id = fields.String(validate=validate.Length(max=64))
    case_id = fields.Integer(validate=ID_RANGE)
    witness_id = fields.Integer(
        validate=ID_RANGE,
        metadata={
            "description": "Events about this witness (e.g. with action=transcript.read: who read their statements)."
        },
    )
    since = UTCDateTime(metadata={"description": "Inclusive lower bound on the event time."})
    until = UTCDateTime(metadata={"description": "Exclusive upper bound on the event time."})


class EventSchema(Schema):
    """An event as auditors see it: leaf form v2 (``casework_verify.leaf``), values and their salts."""

    v = fields.Integer(attribute="leaf_version", metadata={"description": "leaf form version (2)", "example": 2})
    seq = fields.Integer(metadata={"example": 1187})
    time = fields.String(metadata={"example": "2022-05-18T11:42:07.513204Z"})
    actor_id = fields.Integer(allow_none=True)
    actor_username = fields.String(allow_none=True, metadata={"example": "m.okafor"})
    actor_role = fields.String(allow_none=True, metadata={"example": "interviewer"})
    action = fields.String(metadata={"example": "transcript.create"})
    outcome = fields.String(metadata={"example": ALLOWED})
    resource_type = fields.String(allow_none=True, metadata={"example": "interview"})
    resource_id = fields.String(allow_none=True, metadata={"example": "7"})
    case_id = fields.Integer(allow_none=True)
    witness_id = fields.Integer(allow_none=True)
    request_id = fields.String(allow_none=True, metadata={"example": "b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"})
    client_addr = fields.String(allow_none=True, metadata={"example": "10.20.4.17"})
    details = fields.Dict(metadata={"example": DETAILS_EXAMPLE})
    salts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        allow_none=True,
        metadata={
            "description": "hex salt of each identifying value (actor_id, actor_username, client_addr, details.*): "
            "the leaf commits to SHA-256(salt || value)",
            "example": SALTS_EXAMPLE,
        },
    )
    leaf_hash = HexBytes(
        metadata={
            "description": "hex SHA-256(0x00 || canonical JSON of the leaf form: the other "
            "fields without seq and salts, identifying values committed)"
        }
    )


class InclusionArgs(Schema):
    seq = fields.Integer(required=True, validate=BIG)
    tree_size = fields.Integer(required=True, validate=BIG)


class ConsistencyArgs(Schema):
    first = fields.Integer(required=True, validate=BIG)
    second = fields.Integer(required=True, validate=BIG)


class InclusionSchema(Schema):
    seq = fields.Integer(metadata={"example": 1187})
    tree_size = fields.Integer(metadata={"example": 1203})
    leaf_hash = HexBytes(allow_none=True)
    root_hash = HexBytes()
    proof = fields.List(HexBytes(), metadata={"example": PROOF_EXAMPLE})


class ConsistencySchema(Schema):
    first = fields.Integer(metadata={"example": 1024})
    second = fields.Integer(metadata={"example": 1203})
    first_root_hash = HexBytes()
    second_root_hash = HexBytes()
    proof = fields.List(HexBytes(), metadata={"example": PROOF_EXAMPLE})
