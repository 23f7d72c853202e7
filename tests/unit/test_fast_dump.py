"""`compile_dump` gives exactly what marshmallow's `dump` gives, and declines schemas it cannot mirror."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from marshmallow import Schema, fields, post_dump

from bitewing.core.api.fast_dump import compile_dump
from bitewing.core.images.models import MatchStatus
from bitewing.core.images.schemas import ImageSummarySchema
from bitewing.core.images.services import ImageSummary, RenditionLink
from bitewing.core.images.types import ImageType


class Colour(enum.Enum):
    RED = "r"
    BLUE = "b"


class PartSchema(Schema):
    name = fields.String()
    size = fields.Integer(data_key="bytes")


class WholeSchema(Schema):
    id = fields.UUID()
    label = fields.String(attribute="title")
    count = fields.Integer(allow_none=True)
    colour = fields.Enum(Colour, by_value=True)
    shade = fields.Enum(Colour)
    when = fields.DateTime(allow_none=True)
    day = fields.Date()
    tags = fields.List(fields.String())
    parts = fields.List(fields.Nested(PartSchema))
    main = fields.Nested(PartSchema, allow_none=True)
    secret = fields.String(load_only=True)


@dataclass
class Part:
    name: str
    size: int


@dataclass
class Whole:
    id: uuid.UUID
    title: str
    count: int | None
    colour: Colour
    shade: Colour
    when: datetime | None
    day: date
    tags: list[str]
    parts: list[Part]
    main: Part | None
    secret: str = "never dumped"


WHOLES = [
    Whole(
        uuid.uuid4(),
        "first",
        3,
        Colour.RED,
        Colour.BLUE,
        datetime(2026, 11, 28, 9, 30, 1, 5),
        date(2026, 1, 2),
        ["11", "12"],
        [Part("a", 1), Part("b", 2)],
        Part("m", 9),
    ),
    Whole(uuid.uuid4(), "", None, Colour.BLUE, Colour.RED, None, date(1999, 12, 31), [], [], None),
]


@pytest.mark.parametrize("whole", WHOLES)
def test_objects_dump_as_marshmallow_dumps_them(whole: Whole) -> None:
    dump = compile_dump(WholeSchema())
    assert dump is not None
    assert dump(whole) == WholeSchema().dump(whole)


def test_a_plucked_nested_field_dumps_as_marshmallow_dumps_it() -> None:
    schema = Schema.from_dict(
        {"main": fields.Pluck(PartSchema, "name"), "all": fields.Pluck(PartSchema, "size", many=True)}
    )()
    dump = compile_dump(schema)
    obj = {"main": Part("m", 1), "all": [Part("a", 2), Part("b", 3)]}
    assert dump is not None and dump(obj) == schema.dump(obj) == {"main": "m", "all": [2, 3]}


def test_mappings_and_missing_attributes_dump_as_marshmallow_dumps_them() -> None:
    dump = compile_dump(PartSchema())
    assert dump is not None
    for obj in ({"name": "x", "size": 4}, {"name": "only a name"}, Part("y", 5), object()):
        assert dump(obj) == PartSchema().dump(obj)


def test_an_image_list_dumps_as_its_schema_dumps_it() -> None:
    """The image lists answer with this dump: it must be ImageSummarySchema's, field for field."""
    view = ImageSummary(
        id=uuid.uuid4(),
        sop_instance_uid="1.2.826.0.1.3680043.8.498.1",
        patient_id=None,
        match_status=MatchStatus.UNMATCHED,
        match_note="no patient with chart number CH-9",
        image_type=ImageType.BITEWING,
        modality="IO",
        teeth=["36", "37"],
        laterality=None,
        acquired_at=datetime(2026, 11, 27, 14, 5),
        created_at=datetime(2026, 11, 27, 14, 6, 7, 123456),
        rows=1300,
        columns=1700,
        frames=1,
        version=2,
        dicom_patient_id="CH-9",
        dicom_patient_name="Chen^Amelia",
        dicom_birth_date=date(1986, 3, 14),
        volume_slices=None,
        renditions=[RenditionLink("thumbnail", "/files/t", 153, 200, 4321, "image/jpeg")],
    )
    dump = compile_dump(ImageSummarySchema())
    assert dump is not None, "the image lists would fall back to marshmallow"
    assert dump(view) == ImageSummarySchema().dump(view)
    assert dump(view)["renditions"] == [
        {
            "name": "thumbnail",
            "url": "/files/t",
            "width": 153,
            "height": 200,
            "bytes": 4321,
            "content_type": "image/jpeg",
        }
    ]


class _Hooked(PartSchema):
    @post_dump
    def _shout(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: str(v).upper() for k, v in data.items()}


class _Fetching(fields.String):
    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = None) -> Any:
        return "fetched elsewhere"


@pytest.mark.parametrize(
    "schema",
    [
        _Hooked(),
        Schema.from_dict({"x": fields.Function(lambda obj: 1)})(),
        Schema.from_dict({"x": fields.String(dump_default="d")})(),
        Schema.from_dict({"x": fields.String(attribute="a.b")})(),
        Schema.from_dict({"x": _Fetching()})(),
        Schema.from_dict({"inner": fields.Nested(_Hooked)})(),
        Schema.from_dict({"xs": fields.List(fields.Function(lambda obj: 1))})(),
    ],
    ids=[
        "post_dump hook",
        "function field",
        "dump default",
        "dotted attribute",
        "own get_value",
        "nested",
        "list of function",
    ],
)
def test_schemas_it_cannot_mirror_are_left_to_marshmallow(schema: Schema) -> None:
    assert compile_dump(schema) is None


def test_an_image_summary_holds_every_field_its_schema_shows() -> None:
    """The lists read plain columns into ImageSummary: a field the schema gains must be read too (a missing
    attribute would silently drop out of the dump)."""
    assert {f.name for f in dataclasses.fields(ImageSummary)} == set(ImageSummarySchema().fields)
