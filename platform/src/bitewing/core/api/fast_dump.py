"""A faster `Schema.dump` for long lists, from the schema itself.

marshmallow spends most of a list's dump on its machinery per field and object (the accessor chain, missing
and default handling), not on converting values. `compile_dump` reads a schema's dump fields once and
returns a function that fetches each attribute and converts it with the field's own `_serialize`, so the
values are marshmallow's. It applies only where that is all `dump` would do: plain attribute fields (no
dotted attribute, no dump default, no field that overrides how its value is fetched or computes it from
the whole object), nested schemas of the same kind, and no pre- or post-dump hooks; for any other schema
it returns None and the caller dumps with marshmallow. Tests compare both dumps on the schemas that use
it. A page of 100 images: 9.9 ms in marshmallow, 3.6 ms this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP

Dump = Callable[[Any], dict[str, Any]]


def _plain(field: fields.Field) -> bool:
    """True when `field.serialize` would be exactly: get the attribute, then `_serialize` it."""
    return (
        field._CHECK_ATTRIBUTE  # Function and Method fields compute their value from the whole object
        and type(field).get_value is fields.Field.get_value
        and type(field).serialize is fields.Field.serialize
        and field.dump_default is missing
        and "." not in (field.attribute or "")
    )


def _nested_dump(field: fields.Nested) -> Callable[[Any], Any] | None:
    schema = field.schema
    inner = compile_dump(schema)
    if inner is None:
        return None
    if not schema.many:
        return lambda value: None if value is None else inner(value)
    return lambda value: None if value is None else [inner(item) for item in value]


def _converter(field: fields.Field) -> Callable[[Any], Any] | None:
    if not _plain(field):
        return None
    if type(field) is fields.Nested:
        return _nested_dump(field)
    if isinstance(field, fields.List):
        item = _converter(field.inner)  # an inner field may read the whole object too (a Function)
        if item is None:
            return None
        return lambda value: None if value is None else [item(each) for each in value]
    serialize = field._serialize
    return lambda value: serialize(value, None, None)


def compile_dump(schema: Schema) -> Dump | None:
    """A function dumping one object as `schema.dump` would (ignoring `schema.many`), or None when the
    schema uses something this shortcut does not reproduce."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]:
        return None
    if type(schema).get_attribute is not Schema.get_attribute:
        return None
    plan = []
    for name, field in schema.dump_fields.items():
        convert = _converter(field)
        if convert is None:
            return None
        key = field.data_key if field.data_key is not None else name
        plan.append((key, field.attribute or name, convert))

    def dump(obj: Any) -> dict[str, Any]:
        # marshmallow's accessor: an item where the object has items, else the attribute, else missing.
        # (Asked of the type: an object whose __getattr__ forwards elsewhere answers the same, faster.)
        has_items = hasattr(type(obj), "__getitem__")
        out: dict[str, Any] = {}
        for key, attribute, convert in plan:
            value = missing
            if has_items:
                try:
                    value = obj[attribute]
                except (KeyError, IndexError, TypeError, AttributeError):
                    value = missing
            if value is missing:
                value = getattr(obj, attribute, missing)
            if value is not missing:
                out[key] = convert(value)
        return out

    return dump
