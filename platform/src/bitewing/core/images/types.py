"""The kinds of dental image Bitewing distinguishes."""

from __future__ import annotations

import enum


class ImageType(enum.StrEnum):
    """What an image shows, as routing rules and the chart use it."""

    INTRAORAL = "intraoral"
    BITEWING = "bitewing"
    PERIAPICAL = "periapical"
    PANORAMIC = "panoramic"
    CEPHALOMETRIC = "cephalometric"
    CBCT = "cbct"
    PHOTO = "photo"
    OTHER = "other"
