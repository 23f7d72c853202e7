"""Text fields that accept only storable text: no control characters, no lone surrogates."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

CONTROL_CHARACTERS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\ufeff"
"""C0 controls but tab and line breaks, DEL, C1 controls, and U+FEFF (an invisible byte-order mark). With
C1's NEL (U+0085) and U+FEFF refused, Python's `\\s` and JSON Schema's (ECMA-262) agree on every character
the patterns allow, so a client validating against the OpenAPI spec accepts what the API accepts."""


def reject_lone_surrogates(value: str) -> None:
    """Refuse text that cannot be encoded as UTF-8 (a JSON ``\\ud800`` escape without its pair)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("must be valid Unicode text") from exc


def text(
    *,
    max_length: int,
    min_length: int = 0,
    extra_forbidden: str = "",
    error: str = "must be printable text without control characters",
    **kwargs: Any,
) -> fields.String:
    """A string field of at most `max_length` characters of printable text (the rule is in the OpenAPI spec);
    `extra_forbidden` adds characters to refuse, and `error` then says which.

    A field with a `min_length` must also hold something besides white space (services store names
    stripped, and a blank one would be stored empty). The pattern says so without backtracking: leading
    white space, then one character that is not, then anything printable.
    """
    forbidden = f"{CONTROL_CHARACTERS}{extra_forbidden}"
    if min_length > 0:
        pattern = f"^[^{forbidden}\\S]*[^{forbidden}\\s][^{forbidden}]*$"
        error = f"{error}, and not blank"
    else:
        pattern = f"^[^{forbidden}]*$"
    return fields.String(
        validate=[
            validate.Length(min=min_length, max=max_length),
            validate.Regexp(pattern, error=error),
            reject_lone_surrogates,
        ],
        **kwargs,
    )
