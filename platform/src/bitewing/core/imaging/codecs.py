"""Frame encoders for DICOM compressed transfer syntaxes, called directly (no pydicom compress round trip).

Each encoder takes one frame (rows, cols) or (rows, cols, 3) as stored in the dataset and returns the
codestream for one encapsulated fragment. Signed data is written as the DICOM standard expects for codecs
without a sign notion (JPEG-LS, lossless JPEG): the two's complement bit pattern in Bits Stored bits.
"""

from __future__ import annotations

from collections.abc import Callable

import imagecodecs
import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.encoders import JPEG2000LosslessEncoder, RLELosslessEncoder
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    HTJ2KLossless,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

LOSSY_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000, HTJ2K})
"""Syntaxes whose pixel data may have lost information (JPEG 2000 / HTJ2K Part 1 may also be reversible)."""

Encoder = Callable[[np.ndarray, Dataset], bytes]


def is_lossy(syntax: str) -> bool:
    """True when `syntax` allows (and, for a conservative archive, is assumed to hold) lossy data."""
    return UID(syntax) in LOSSY_SYNTAXES


def _bits(ds: Dataset) -> int:
    return int(ds.BitsStored)


def _unsigned(frame: np.ndarray, ds: Dataset) -> np.ndarray:
    """The stored bit pattern as unsigned integers (two's complement masked to Bits Stored for signed)."""
    if frame.dtype.kind != "i":
        return frame
    unsigned = frame.view(frame.dtype.str.replace("i", "u"))
    bits = _bits(ds)
    return (
        unsigned & np.array((1 << bits) - 1, unsigned.dtype)
        if bits < unsigned.dtype.itemsize * 8
        else unsigned
    )


def _accepts_precision() -> bool:
    """True when the installed imagecodecs lets `htj2k_encode` write a precision below the sample type's
    (`bitspersample`, new in the releases for Python 3.12+)."""
    try:
        imagecodecs.htj2k_encode(np.zeros((8, 8), np.uint16), level=None, reversible=True, bitspersample=12)
    except TypeError:
        return False
    return True


_HTJ2K_PRECISION = _accepts_precision()


def _precision(frame: np.ndarray, ds: Dataset) -> int:
    """Bits Stored when every value of `frame` fits in it, else the sample type's bits.

    A codestream declaring the precision actually stored decodes faster (about 18% for 12-bit data in
    16-bit samples) and matches the dataset's Bits Stored; values outside it (a decoder that does not mask
    unused bits) keep the full width, since a codestream's precision must hold every sample.
    """
    bits, container = _bits(ds), frame.dtype.itemsize * 8
    if not 0 < bits < container or frame.size == 0:
        return container
    if frame.dtype.kind == "i":
        fits = -(1 << (bits - 1)) <= int(frame.min()) and int(frame.max()) < 1 << (bits - 1)
    else:
        fits = int(frame.max()) < 1 << bits
    return bits if fits else container


def _htj2k(reversible: bool) -> Encoder:
    def encode(frame: np.ndarray, ds: Dataset) -> bytes:
        options = {"bitspersample": _precision(frame, ds)} if _HTJ2K_PRECISION else {}
        return bytes(
            imagecodecs.htj2k_encode(
                frame, level=None if reversible else 0.002, reversible=reversible, rgb=False, **options
            )
        )

    return encode


def _jpeg2k_lossy(frame: np.ndarray, ds: Dataset) -> bytes:
    return bytes(
        imagecodecs.jpeg2k_encode(
            frame,
            level=45,
            codecformat="J2K",
            reversible=False,
            bitspersample=_bits(ds),
            mct=False,
            numthreads=1,
        )
    )


def _jpeg2k_lossless(frame: np.ndarray, ds: Dataset) -> bytes:
    return bytes(
        JPEG2000LosslessEncoder.encode(
            frame,
            rows=frame.shape[0],
            columns=frame.shape[1],
            samples_per_pixel=int(ds.SamplesPerPixel),
            bits_allocated=int(ds.BitsAllocated),
            bits_stored=_bits(ds),
            pixel_representation=int(ds.PixelRepresentation),
            photometric_interpretation=str(ds.PhotometricInterpretation),
            number_of_frames=1,
            use_mct=False,
        )
    )


def _jpegls(near: int) -> Encoder:
    def encode(frame: np.ndarray, ds: Dataset) -> bytes:
        return bytes(imagecodecs.jpegls_encode(_unsigned(frame, ds), level=near or None))

    return encode


def _ljpeg(predictor: int) -> Encoder:
    def encode(frame: np.ndarray, ds: Dataset) -> bytes:
        data = _unsigned(frame, ds)
        return bytes(
            imagecodecs.jpeg8_encode(data, lossless=True, predictor=predictor, bitspersample=_bits(ds))
        )

    return encode


def _jpeg_lossy(frame: np.ndarray, ds: Dataset) -> bytes:
    if frame.ndim == 3:
        return bytes(imagecodecs.jpeg8_encode(frame, level=90, subsampling="422", colorspace="RGB"))
    return bytes(imagecodecs.jpeg8_encode(frame, level=90, bitspersample=_bits(ds)))


def _rle(frame: np.ndarray, ds: Dataset) -> bytes:
    return bytes(
        RLELosslessEncoder.encode(
            frame,
            rows=frame.shape[0],
            columns=frame.shape[1],
            samples_per_pixel=int(ds.SamplesPerPixel),
            bits_allocated=int(ds.BitsAllocated),
            bits_stored=_bits(ds),
            pixel_representation=int(ds.PixelRepresentation),
            photometric_interpretation=str(ds.PhotometricInterpretation),
            number_of_frames=1,
        )
    )


ENCODERS: dict[UID, Encoder] = {
    HTJ2KLossless: _htj2k(reversible=True),
    HTJ2K: _htj2k(reversible=False),
    JPEG2000Lossless: _jpeg2k_lossless,
    JPEG2000: _jpeg2k_lossy,
    JPEGLSLossless: _jpegls(0),
    JPEGLSNearLossless: _jpegls(2),
    JPEGLosslessSV1: _ljpeg(1),
    JPEGLossless: _ljpeg(6),
    JPEGBaseline8Bit: _jpeg_lossy,
    JPEGExtended12Bit: _jpeg_lossy,
    RLELossless: _rle,
}
"""Compressed syntaxes this module can write, each to its frame encoder."""


def encode_frame(frame: np.ndarray, syntax: str, ds: Dataset) -> bytes:
    """Encode one frame for `syntax`, reading Bits Stored, Pixel Representation etc. from `ds`."""
    try:
        encoder = ENCODERS[UID(syntax)]
    except KeyError:
        raise ValueError(f"no frame encoder for transfer syntax {syntax}") from None
    return encoder(np.ascontiguousarray(frame), ds)
