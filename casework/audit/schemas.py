from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.access.door import ALLOWED, DENIED, ERROR
from casework.fields import HexBytes, UTCDateTime
from casework.http import ID_RANGE, MAX_SEQ
from casework.pagination import PageArgs

BIG = validate.Range(min=0, max=MAX_SEQ)


class EventFilterArgs(PageArgs):
    actor_id = fields.Integer(validate=ID_RANGE)
    actor = fields.String(validate=validate.Length(max=64), metadata={"description": "Actor username."})
    action = fields.String(validate=validate.Length(max=64))
    outcome = fields.String(validate=validate.OneOf([ALLOWED, DENIED, ERROR]))
    resource_type = fields.String(validate=validate.Length(max=32))
    resource_id = fields.String(validate=validate.Length(max=64))
    case_id = fields.Integer(validate=ID_RANGE)
    witness_id = fields.Integer(validate=ID_RANGE, metadata={
        "description": "Events about this witness (e.g. with action=transcript.read: who read their statements)."})
    since = UTCDateTime(metadata={"description": "Inclusive lower bound on the event time."})
    until = UTCDateTime(metadata={"description": "Exclusive upper bound on the event time."})


class EventSchema(Schema):
    """An event as auditors see it: leaf form v2 (``casework_verify.leaf``), values and their salts."""

    v = fields.Integer(attribute="leaf_version", metadata={"description": "leaf form version (2)"})
    seq = fields.Integer()
    time = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor_username = fields.String(allow_none=True)
    actor_role = fields.String(allow_none=True)
    action = fields.String()
    outcome = fields.String()
    resource_type = fields.String(allow_none=True)
    resource_id = fields.String(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    witness_id = fields.Integer(allow_none=True)
    request_id = fields.String(allow_none=True)
    client_addr = fields.String(allow_none=True)
    details = fields.Dict()
    salts = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True, metadata={
        "description": "hex salt of each identifying value (actor_id, actor_username, client_addr, details.*): "
                       "the leaf commits to SHA-256(salt || value)"})
    leaf_hash = HexBytes(metadata={"description": "hex SHA-256(0x00 || canonical JSON of the leaf form: the other "
                                                  "fields without seq and salts, identifying values committed)"})


class InclusionArgs(Schema):
    seq = fields.Integer(required=True, validate=BIG)
    tree_size = fields.Integer(required=True, validate=BIG)


class ConsistencyArgs(Schema):
    first = fields.Integer(required=True, validate=BIG)
    second = fields.Integer(required=True, validate=BIG)


class InclusionSchema(Schema):
    seq = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = HexBytes(allow_none=True)
    root_hash = HexBytes()
    proof = fields.List(HexBytes())


class ConsistencySchema(Schema):
    first = fields.Integer()
    second = fields.Integer()
    first_root_hash = HexBytes()
    second_root_hash = HexBytes()
    proof = fields.List(HexBytes())
