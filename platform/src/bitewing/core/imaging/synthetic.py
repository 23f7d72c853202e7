"""Realistic synthetic dental X-ray instances for tests, the demo and load generation.

Images have the sizes and bit depths of real devices and plausible content (teeth with enamel, pulp and
roots, trabecular bone, soft-tissue gradients, signal-dependent noise), so that codecs and renditions behave
as they do on real images. Pixel content is cached per (kind, seed, geometry); every call still gets fresh UIDs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    generate_uid,
)

from bitewing.core.imaging import codecs
from bitewing.core.imaging.part10 import IMPLEMENTATION_CLASS_UID, to_bytes

Kind = Literal["intraoral", "bitewing", "periapical", "panoramic", "cephalometric", "cbct"]
_KINDS: tuple[str, ...] = ("intraoral", "bitewing", "periapical", "panoramic", "cephalometric", "cbct")

IO_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.3")
DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1")
ENHANCED_CT = UID("1.2.840.10008.5.1.4.1.1.2.1")
CT_IMAGE = UID("1.2.840.10008.5.1.4.1.1.2")


@dataclass(frozen=True)
class _Geometry:
    rows: int
    cols: int
    bits_stored: int
    frames: int = 1


def _geometry(kind: Kind, sensor_size: int) -> _Geometry:
    if kind in ("intraoral", "periapical"):
        return _Geometry(1700, 1300, 12) if sensor_size >= 2 else _Geometry(1500, 1000, 12)
    if kind == "bitewing":
        return _Geometry(1300, 1700, 12) if sensor_size >= 2 else _Geometry(1000, 1500, 12)
    if kind == "panoramic":
        return _Geometry(1500, 2900, 14)
    if kind == "cephalometric":
        return _Geometry(2400, 3000, 12)
    if kind == "cbct":
        return _Geometry(200, 200, 16, frames=160)
    raise ValueError(f"unknown synthetic kind {kind!r}")


def _ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float, soft: float = 1.5):
    """A soft-edged filled ellipse (1 inside, 0 outside, linear ramp of `soft` pixels at the edge)."""
    r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    return np.clip((1.0 - r) * min(rx, ry) / soft + 0.5, 0.0, 1.0)


def _draw_tooth(canvas: np.ndarray, cx: float, cy: float, width: float, length: float, upper: bool) -> None:
    """Add one tooth's attenuation: enamel cap, dentine crown and tapered root with a darker pulp canal.

    (cx, cy) is the crown centre; the root points away from the occlusal plane (up for upper teeth).
    """
    rows, cols = canvas.shape
    sign = -1.0 if upper else 1.0
    y0 = int(max(0, min(cy, cy + sign * length) - width))
    y1 = int(min(rows, max(cy, cy + sign * length) + width))
    x0, x1 = int(max(0, cx - width)), int(min(cols, cx + width))
    if y1 <= y0 or x1 <= x0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    crown_r = width * 0.5
    crown = _ellipse(yy, xx, cy, cx, crown_r * 0.85, crown_r)
    inner = _ellipse(yy, xx, cy, cx, crown_r * 0.6, crown_r * 0.72)
    enamel = np.clip(crown - inner, 0.0, 1.0)
    t = sign * (yy - cy) / length
    half = crown_r * 0.8 * np.clip(1.0 - 0.75 * t, 0.0, 1.0)
    root = np.clip((half - np.abs(xx - cx)) / 1.5 + 0.5, 0.0, 1.0) * np.clip(
        (1.0 - t) * length / 2.0, 0.0, 1.0
    )
    root *= t > 0
    pulp_half = half * 0.22
    pulp = np.clip((pulp_half - np.abs(xx - cx)) / 1.0 + 0.5, 0.0, 1.0) * np.clip(0.92 - t, 0.0, 1.0)
    pulp *= np.clip(t + 0.25, 0.0, 1.0)
    dentine = np.maximum(crown, root)
    canvas[y0:y1, x0:x1] += 0.75 * dentine + 0.55 * enamel - 0.35 * pulp


def _draw_filling(canvas: np.ndarray, rng: np.random.Generator, cx: float, cy: float, width: float) -> None:
    yy, xx = np.mgrid[0 : canvas.shape[0], 0 : canvas.shape[1]].astype(np.float32)
    canvas += 2.5 * _ellipse(yy, xx, cy, cx + rng.uniform(-0.1, 0.1) * width, width * 0.18, width * 0.3, 1.0)


def _upsample(low: np.ndarray, rows: int, cols: int) -> np.ndarray:
    image = Image.fromarray(low.astype(np.float32), "F").resize((cols, rows), Image.Resampling.BICUBIC)
    return np.array(image)


def _smooth_noise(rng: np.random.Generator, rows: int, cols: int, scale: int) -> np.ndarray:
    low = rng.standard_normal((max(2, rows // scale), max(2, cols // scale)), dtype=np.float32)
    return _upsample(low, rows, cols)


def _arch_teeth(
    kind: Kind, rows: int, cols: int, rng: np.random.Generator
) -> list[tuple[float, float, float, float, bool]]:
    """Tooth placements (cx, cy, width, length, upper) on a low-resolution canvas."""
    teeth: list[tuple[float, float, float, float, bool]] = []
    if kind in ("intraoral", "periapical"):
        n = int(rng.integers(2, 4))
        w = cols / (n + 0.6)
        for i in range(n):
            cx = w * (i + 0.8) + rng.uniform(-0.05, 0.05) * w
            teeth.append((cx, rows * 0.2, w * 0.9, rows * 0.7, False))
    elif kind == "bitewing":
        n = int(rng.integers(3, 5))
        w = cols / (n + 0.4)
        for i in range(n):
            cx = w * (i + 0.7)
            teeth.append((cx, rows * 0.38, w * 0.95, rows * 0.6, True))
            teeth.append((cx + w * 0.3, rows * 0.63, w * 0.95, rows * 0.6, False))
    elif kind == "panoramic":
        for i in range(16):
            u = (i + 0.5) / 16
            cx = cols * (0.2 + 0.6 * u)
            bow = 0.06 * rows * (1 - (2 * u - 1) ** 2)
            w = cols * 0.6 / 16 * (1.25 if abs(2 * u - 1) > 0.5 else 0.9)
            teeth.append((cx, rows * 0.45 + bow * 0.3, w, rows * 0.3, True))
            teeth.append((cx, rows * 0.56 + bow * 0.3, w, rows * 0.3, False))
    elif kind == "cephalometric":
        for i in range(6):
            cx = cols * (0.72 + 0.025 * i)
            teeth.append((cx, rows * 0.66, cols * 0.025, rows * 0.1, True))
            teeth.append((cx - cols * 0.005, rows * 0.71, cols * 0.025, rows * 0.1, False))
    return teeth


def _attenuation(kind: Kind, rows: int, cols: int, seed: int) -> np.ndarray:
    """Low-frequency attenuation map (0 = air .. ~1.5 = enamel, more for metal) on a 1/4 canvas."""
    rng = np.random.default_rng([seed, _KINDS.index(kind)])
    lr, lc = max(8, rows // 4), max(8, cols // 4)
    yy, xx = np.mgrid[0:lr, 0:lc].astype(np.float32)
    canvas = 0.12 + 0.1 * (yy / lr) + 0.05 * np.sin(xx / lc * np.pi)
    if kind in ("panoramic", "cephalometric"):
        canvas += 0.35 * _ellipse(yy, xx, lr * 0.5, lc * 0.5, lr * 0.48, lc * 0.46, soft=lr * 0.1)
    if kind == "panoramic":
        for side in (0.07, 0.93):
            canvas += 0.35 * _ellipse(yy, xx, lr * 0.6, lc * side, lr * 0.45, lc * 0.03, soft=3)
        canvas += 0.3 * np.clip(1 - np.abs(yy - lr * (0.82 - 0.15 * ((xx / lc - 0.5) * 2) ** 2)) / 6, 0, 1)
    if kind == "cephalometric":
        canvas += 0.5 * _ellipse(yy, xx, lr * 0.38, lc * 0.45, lr * 0.34, lc * 0.36, soft=4)
        canvas -= 0.4 * _ellipse(yy, xx, lr * 0.4, lc * 0.46, lr * 0.3, lc * 0.32, soft=6)
    bone_top = lr * (0.35 if kind in ("intraoral", "periapical") else 0.0)
    bone = np.clip((yy - bone_top) / (lr * 0.1), 0.0, 1.0) * 0.35
    if kind == "bitewing":
        bone = (0.3 * (np.abs(yy - lr * 0.5) > lr * 0.28)).astype(np.float32)
    canvas += bone
    teeth = _arch_teeth(kind, lr, lc, rng)
    for cx, cy, w, length, upper in teeth:
        _draw_tooth(canvas, cx, cy, w, length, upper)
    for cx, cy, w, _, _ in teeth[: max(1, len(teeth) // 4)]:
        if rng.random() < 0.6:
            _draw_filling(canvas, rng, cx, cy, w)
    return canvas


QUANTUM_NOISE_SHARE = 0.55
"""Share of the noise variance that passed through the scintillator / phosphor light spread (the rest is
white electronic noise). Chosen so that the noise of the synthetic images has the neighbour correlation
(~0.37) and the fall of its power spectrum towards Nyquist (to ~0.1 of the low-frequency level) measured on
the real CR radiographs of pydicom-data (RG1, RG3): see docs/decisions/0002-rendition-defaults.md."""


def _blur_121(noise: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 binomial blur (edges replicated), in place of a detector's light spread."""
    padded = np.pad(noise, 1, mode="edge")
    rows = padded[:-2] + 2.0 * padded[1:-1] + padded[2:]
    return (rows[:, :-2] + 2.0 * rows[:, 1:-1] + rows[:, 2:]) * np.float32(1 / 16)


def detector_noise(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Unit-variance noise with the spectrum of an indirect-conversion detector: quantum noise blurred by
    the light spread of its scintillator or storage phosphor plus white electronic noise.

    Per-pixel standard deviation is 1 (the amplitude is the caller's); only the spectrum differs from white
    noise: neighbouring pixels correlate (~0.37) as they do on real radiographs.
    """
    quantum = _blur_121(rng.standard_normal((rows, cols), dtype=np.float32))
    quantum *= np.float32(16 / 6)  # the 2D [1, 2, 1] / 4 kernel keeps (6/16)² of the variance
    electronic = rng.standard_normal((rows, cols), dtype=np.float32)
    return quantum * np.float32(np.sqrt(QUANTUM_NOISE_SHARE)) + electronic * np.float32(
        np.sqrt(1 - QUANTUM_NOISE_SHARE)
    )


@lru_cache(maxsize=12)
def _projection_pixels(kind: Kind, seed: int, rows: int, cols: int, bits_stored: int) -> np.ndarray:
    """Stored values of a projection radiograph (MONOCHROME2: more attenuation is brighter)."""
    rng = np.random.default_rng(seed + 7919)
    att = _upsample(_attenuation(kind, rows, cols, seed), rows, cols)
    trabecular = _smooth_noise(rng, rows, cols, 6) * 0.04 + _smooth_noise(rng, rows, cols, 2) * 0.02
    att += trabecular * np.clip(att - 0.2, 0.0, 1.0)
    top = (1 << bits_stored) - 1
    signal = 0.06 * top + 0.62 * top * (1.0 - np.exp(-1.1 * att))
    noise_sd = np.sqrt(np.maximum(signal, 1.0)) * (0.35 * (1 << max(0, bits_stored - 12)) ** 0.5)
    signal += detector_noise(rng, rows, cols) * noise_sd
    out = np.clip(np.rint(signal), 0, top).astype(np.uint16)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=4)
def _cbct_volume(seed: int, frames: int, rows: int, cols: int) -> np.ndarray:
    """Stored values (HU + 1000, signed 16-bit) of a small dental CBCT volume: skull shell, jaw, teeth."""
    rng = np.random.default_rng(seed + 104729)
    zz, yy, xx = np.ogrid[0:frames, 0:rows, 0:cols]
    z = (zz / frames - 0.5) * 2
    y = (yy / rows - 0.5) * 2
    x = (xx / cols - 0.5) * 2
    head = (x**2 + (y * 1.1) ** 2 + (z * 0.8) ** 2) < 0.85
    hu = np.where(head, 40.0, -1000.0).astype(np.float32)
    arch = np.abs(np.sqrt(x**2 + ((y + 0.5) * 1.4) ** 2) - 0.55) < 0.09
    jaw = arch & (np.abs(z) < 0.45) & (y < 0.1)
    hu = np.where(jaw, 900.0, hu)
    teeth_band = arch & (np.abs(z) < 0.12) & (np.cos(np.arctan2(y + 0.5, x) * 14) > 0.1)
    hu = np.where(teeth_band, 2200.0, hu)
    hu += rng.standard_normal(hu.shape, dtype=np.float32) * 25.0
    out = np.clip(np.rint(hu + 1000.0), -32768, 32767).astype(np.int16)
    out.flags.writeable = False
    return out


def _base_dataset(
    kind: Kind, patient_id: str, patient_name: str, birth_date: str, study_uid: str | None
) -> Dataset:
    ds = Dataset()
    now = dt.datetime(2024, 5, 17, 10, 30, 0)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientBirthDate = birth_date
    ds.PatientSex = "O"
    ds.Manufacturer = "Bitewing Synthetic"
    ds.ManufacturerModelName = f"Synthetic {kind}"
    ds.StudyDescription = "Dental imaging"
    return ds


def _iso3950_item(tooth: str) -> Dataset:
    item = Dataset()
    item.CodeValue = tooth
    item.CodingSchemeDesignator = "ISO3950"
    item.CodeMeaning = f"Tooth {tooth}"
    return item


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _projection_attributes(ds: Dataset, kind: Kind, geom: _Geometry, teeth: list[str] | None) -> None:
    ds.PatientOrientation = ["L", "F"] if kind != "cephalometric" else ["A", "F"]
    ds.BurnedInAnnotation = "NO"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.KVP = 70 if kind in ("intraoral", "bitewing", "periapical") else 80
    ds.ImagerPixelSpacing = [0.02, 0.02] if kind in ("intraoral", "bitewing", "periapical") else [0.1, 0.1]
    ds.PixelSpacing = ds.ImagerPixelSpacing
    if kind in ("intraoral", "bitewing", "periapical"):
        ds.SOPClassUID = IO_FOR_PRESENTATION
        ds.Modality = "IO"
        ds.PositionerType = "NONE"
        ds.SeriesDescription = {"intraoral": "Intraoral", "bitewing": "Bitewing", "periapical": "Periapical"}[
            kind
        ]
        ds.BodyPartExamined = "JAW"
        ds.AnatomicRegionSequence = Sequence([_code("T-11170", "SRT", "Maxilla and mandible")])
        if teeth:
            ds.AnatomicRegionSequence[0].PrimaryAnatomicStructureSequence = Sequence(
                [_iso3950_item(t) for t in teeth]
            )
    elif kind == "panoramic":
        ds.SOPClassUID = DX_FOR_PRESENTATION
        ds.Modality = "PX"
        ds.SeriesDescription = "Panoramic"
        ds.BodyPartExamined = "JAW"
    else:
        ds.SOPClassUID = DX_FOR_PRESENTATION
        ds.Modality = "DX"
        ds.SeriesDescription = "Lateral cephalometric"
        ds.BodyPartExamined = "SKULL"
        ds.ViewPosition = "LL"
    top = (1 << geom.bits_stored) - 1
    ds.WindowCenter = round(top * 0.42)
    ds.WindowWidth = round(top * 0.62)
    ds.WindowCenterWidthExplanation = "NORMAL"
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"


def _image_pixel_module(ds: Dataset, geom: _Geometry, signed: bool, photometric: str) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = geom.rows, geom.cols
    ds.BitsAllocated = 16
    ds.BitsStored = geom.bits_stored
    ds.HighBit = geom.bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0


def _cbct_attributes(ds: Dataset, geom: _Geometry) -> None:
    ds.SOPClassUID = ENHANCED_CT
    ds.Modality = "CT"
    ds.SeriesDescription = "CBCT volume"
    ds.BodyPartExamined = "JAW"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.ContentQualification = "PRODUCT"
    ds.BurnedInAnnotation = "NO"
    ds.NumberOfFrames = geom.frames
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionDateTime = ds.AcquisitionDate + ds.AcquisitionTime
    ds.DimensionOrganizationType = "3D"
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [0.2, 0.2]
    measures.SliceThickness = 0.2
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    transform = Dataset()
    transform.RescaleIntercept = -1000
    transform.RescaleSlope = 1
    transform.RescaleType = "HU"
    voi = Dataset()
    voi.WindowCenter = 600
    voi.WindowWidth = 3000
    frame_type = Dataset()
    frame_type.FrameType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelValueTransformationSequence = Sequence([transform])
    shared.FrameVOILUTSequence = Sequence([voi])
    shared.CTImageFrameTypeSequence = Sequence([frame_type])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for i in range(geom.frames):
        item = Dataset()
        content = Dataset()
        content.DimensionIndexValues = [i + 1]
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, round(i * 0.2, 3)]
        item.FrameContentSequence = Sequence([content])
        item.PlanePositionSequence = Sequence([position])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)


def _to_monochrome1(ds: Dataset, pixels: np.ndarray) -> np.ndarray:
    top = (1 << int(ds.BitsStored)) - 1
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.PresentationLUTShape = "INVERSE"
    ds.WindowCenter = top - int(ds.WindowCenter)
    return (top - pixels.astype(np.int32)).astype(np.uint16)


def _fit_bit_depth(ds: Dataset, pixels: np.ndarray, syntax: UID) -> np.ndarray:
    """Reduce unsigned data to the precision a lossy JPEG process allows (8 bits baseline, 12 extended)."""
    limit = {JPEGBaseline8Bit: 8, JPEGExtended12Bit: 12}.get(syntax)
    bits = int(ds.BitsStored)
    if limit is None or bits <= limit:
        return pixels
    if int(ds.PixelRepresentation):
        raise ValueError(f"{syntax.name} cannot hold signed {bits}-bit data")
    shift = bits - limit
    ds.BitsStored, ds.HighBit = limit, limit - 1
    if limit == 8:
        ds.BitsAllocated = 8
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in ds:
            ds[keyword].value = max(1, round(float(ds[keyword].value) / (1 << shift)))
    return (pixels >> shift).astype(np.uint8 if limit == 8 else np.uint16)


def set_pixels(ds: Dataset, pixels: np.ndarray, transfer_syntax: UID) -> None:
    """Store `pixels` (frames, rows, cols[, samples] or rows, cols[, samples]) in `ds` under `transfer_syntax`.

    Native syntaxes store the bytes in the syntax's byte order; compressed syntaxes are encoded frame by
    frame with `codecs.encode_frame` and encapsulated with a basic offset table.
    """
    transfer_syntax = UID(transfer_syntax)
    ds.file_meta = ds.get("file_meta") or FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    frames = pixels if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels[np.newaxis]
    if transfer_syntax.is_compressed:
        fragments = [codecs.encode_frame(frame, transfer_syntax, ds) for frame in frames]
        ds.PixelData = encapsulate(fragments, has_bot=True)
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01" if codecs.is_lossy(transfer_syntax) else "00"
        if transfer_syntax in (JPEGBaseline8Bit, JPEGExtended12Bit) and int(ds.SamplesPerPixel) == 3:
            ds.PhotometricInterpretation = "YBR_FULL_422"
        return
    dtype = pixels.dtype.newbyteorder(">" if transfer_syntax == ExplicitVRBigEndian else "<")
    ds.PixelData = np.ascontiguousarray(pixels, dtype=dtype).tobytes()
    ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"


def make_instance(
    kind: Kind,
    *,
    patient_id: str = "DEMO1",
    patient_name: str = "Demo^Patient",
    birth_date: str = "19800101",
    seed: int = 0,
    transfer_syntax: UID = ExplicitVRLittleEndian,
    study_uid: str | None = None,
    monochrome1: bool = False,
    sensor_size: int = 2,
    bits_stored: int | None = None,
    shape: tuple[int, int] | None = None,
    frames: int | None = None,
    teeth: list[str] | None = None,
    laterality: str | None = None,
) -> Dataset:
    """A realistic synthetic dental X-ray as a pydicom Dataset with file meta, ready for `to_bytes`.

    :param kind: intraoral / bitewing / periapical (Digital Intra-Oral X-Ray, IO), panoramic (Digital X-Ray,
        PX), cephalometric (Digital X-Ray, DX) or cbct (Enhanced CT, signed 16-bit with a HU rescale).
    :param seed: selects the (cached) pixel content; same seed, same pixels.
    :param transfer_syntax: any syntax `codecs.encode_frame` or the native writers support.
    :param shape: (rows, cols) override of the device geometry, e.g. small images for fast tests.
    :param teeth: ISO 3950 (FDI) tooth numbers recorded in the Primary Anatomic Structure Sequence.
    """
    geom = _geometry(kind, sensor_size)
    if shape:
        geom = _Geometry(shape[0], shape[1], geom.bits_stored, geom.frames)
    if bits_stored:
        geom = _Geometry(geom.rows, geom.cols, bits_stored, geom.frames)
    if frames:
        geom = _Geometry(geom.rows, geom.cols, geom.bits_stored, frames)
    ds = _base_dataset(kind, patient_id, patient_name, birth_date, study_uid)
    if kind == "cbct":
        _image_pixel_module(ds, geom, signed=True, photometric="MONOCHROME2")
        _cbct_attributes(ds, geom)
        pixels = _cbct_volume(seed, geom.frames, geom.rows, geom.cols)
    else:
        _image_pixel_module(ds, geom, signed=False, photometric="MONOCHROME2")
        _projection_attributes(ds, kind, geom, teeth)
        pixels = _projection_pixels(kind, seed, geom.rows, geom.cols, geom.bits_stored)
        if monochrome1:
            pixels = _to_monochrome1(ds, pixels)
        elif kind != "cbct":
            ds.PresentationLUTShape = "IDENTITY"
    if laterality:
        ds.ImageLaterality = laterality
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    set_pixels(ds, _fit_bit_depth(ds, pixels, UID(transfer_syntax)), transfer_syntax)
    return ds


def make_cbct_slices(
    count: int = 24,
    *,
    shape: tuple[int, int] = (96, 80),
    seed: int = 0,
    patient_id: str = "DEMO1",
    patient_name: str = "Demo^Patient",
    birth_date: str = "19800101",
) -> list[Dataset]:
    """A small CBCT volume as a machine that sends one CT Image Storage instance per slice does: one series,
    each slice with its Image Position (Patient) 0.2 mm apart along z, its Instance Number and the same
    rescale and window, bottom slice first."""
    rows, cols = shape
    volume = _cbct_volume(seed, count, rows, cols)
    first = make_instance("cbct", shape=shape, frames=1, seed=seed)
    study_uid, series_uid, frame_of_reference = generate_uid(), generate_uid(), generate_uid()
    slices = []
    for index in range(count):
        ds = _base_dataset("cbct", patient_id, patient_name, birth_date, study_uid)
        ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series_uid, frame_of_reference
        ds.SOPClassUID = CT_IMAGE
        ds.Modality, ds.SeriesDescription, ds.BodyPartExamined = "CT", "CBCT volume", "JAW"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = index + 1
        ds.PixelSpacing, ds.SliceThickness = [0.2, 0.2], 0.2
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, round(index * 0.2, 3)]
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1000, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 600, 3000
        for keyword in ("SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns"):
            setattr(ds, keyword, getattr(first, keyword))
        for keyword in ("BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation"):
            setattr(ds, keyword, getattr(first, keyword))
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        set_pixels(ds, volume[index], ExplicitVRLittleEndian)
        slices.append(ds)
    return slices


__all__ = [
    "CT_IMAGE",
    "DX_FOR_PRESENTATION",
    "ENHANCED_CT",
    "IO_FOR_PRESENTATION",
    "make_cbct_slices",
    "make_instance",
    "set_pixels",
    "to_bytes",
]
