"""Schemas shared by every resource: the problem body and common query arguments."""

from __future__ import annotations

from marshmallow import Schema, fields


class ProblemSchema(Schema):
    """RFC 9457 problem details: the body of every error."""

    type = fields.String(metadata={"description": "a URI identifying the problem type"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Raw(metadata={"description": "field name → list of messages, for invalid input"})
