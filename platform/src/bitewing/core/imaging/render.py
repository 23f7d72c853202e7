"""Renditions of a display frame (thumbnail, preview, full) and representative 2D views of a volume.

Downscaling uses `Image.reduce()` by an integer factor first (a cheap box filter that keeps a Lanczos
"reducing gap" of at least 2) and then a Lanczos resize to the exact size; each smaller rendition is made
from the previous one. The full rendition's quality adapts: it is raised step by step until SSIM and PSNR
against the 8-bit windowed frame reach their floors (see docs/decisions/0002-rendition-defaults.md).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, features

from bitewing.core.imaging import quality

MIN_SSIM = 0.97
MIN_PSNR = 45.0
QUALITY_STEP = 3
MAX_QUALITY = {"jpeg": 98, "webp": 100, "avif": 100}
CONTENT_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}
_PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
_SSIM_TILE, _SSIM_GRID = 128, 2


@dataclass(frozen=True)
class RenditionSpec:
    """What to render: `max_side` bounds the longest side (None keeps the full resolution)."""

    name: str
    max_side: int | None
    format: str
    quality: int


@dataclass
class Rendition:
    """One encoded rendition and what it is."""

    name: str
    data: bytes
    content_type: str
    width: int
    height: int
    format: str
    quality: int


DEFAULT_RENDITIONS: tuple[RenditionSpec, ...] = (
    RenditionSpec("thumbnail", 200, "jpeg", 80),
    RenditionSpec("preview", 800, "jpeg", 85),
    RenditionSpec("full", None, "jpeg", 90),
)
"""Chosen from bench/results/imaging.md; why: docs/decisions/0002-rendition-defaults.md."""


def format_available(fmt: str) -> bool:
    """True when the installed Pillow can encode `fmt` (jpeg, webp, avif)."""
    return fmt in _PIL_FORMATS and bool(features.check({"jpeg": "jpg"}.get(fmt, fmt)))


def fit(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) scaled to fit `max_side` on the longest side, never enlarged."""
    longest = max(width, height)
    if max_side is None or longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def downscale(image: Image.Image, max_side: int | None) -> Image.Image:
    """`image` fitted into `max_side`: `reduce()` by the integer part of the scale, then Lanczos."""
    size = fit(image.width, image.height, max_side)
    if size == image.size:
        return image
    factor = min(image.width // size[0], image.height // size[1])
    if factor >= 2:
        image = image.reduce(factor)
    return image.resize(size, Image.Resampling.LANCZOS)


def encode(image: Image.Image, fmt: str, quality_: int) -> bytes:
    """`image` encoded as jpeg / webp / avif at `quality_`."""
    out = io.BytesIO()
    options: dict[str, object] = {"quality": quality_}
    if fmt == "webp":
        options["method"] = 4
    elif fmt == "avif":
        options["speed"] = 8
    image.save(out, _PIL_FORMATS[fmt], **options)
    return out.getvalue()


def fidelity(reference: np.ndarray, data: bytes) -> tuple[float, float]:
    """(SSIM estimate on full-resolution tiles, PSNR on the whole image) of encoded `data` vs `reference`."""
    with Image.open(io.BytesIO(data)) as decoded:
        test = np.asarray(decoded.convert("RGB" if reference.ndim == 3 else "L"))
    return quality.tiled_ssim(reference, test, _SSIM_TILE, _SSIM_GRID), quality.psnr(reference, test)


def _adaptive(
    image: Image.Image, reference: np.ndarray, spec: RenditionSpec, min_ssim: float, min_psnr: float
) -> tuple[bytes, int]:
    """Encode at `spec.quality`, raising the quality by QUALITY_STEP until both floors are met."""
    level = spec.quality
    data = encode(image, spec.format, level)
    while level < MAX_QUALITY[spec.format]:
        ssim_, psnr_ = fidelity(reference, data)
        if ssim_ >= min_ssim and psnr_ >= min_psnr:
            break
        level = min(MAX_QUALITY[spec.format], level + QUALITY_STEP)
        data = encode(image, spec.format, level)
    return data, level


def _image(display: np.ndarray) -> Image.Image:
    if display.dtype != np.uint8 or display.ndim not in (2, 3):
        raise ValueError(f"expected one uint8 frame (rows, cols[, 3]), got {display.dtype} {display.shape}")
    return Image.fromarray(np.ascontiguousarray(display), "RGB" if display.ndim == 3 else "L")


def render_renditions(
    display: np.ndarray,
    specs: tuple[RenditionSpec, ...] = DEFAULT_RENDITIONS,
    *,
    min_ssim: float | None = None,
    min_psnr: float | None = None,
    full_source: np.ndarray | None = None,
) -> list[Rendition]:
    """Encode `display` (one uint8 frame, greyscale or RGB) into `specs`, returned in the order of `specs`.

    Full-resolution renditions (max_side None) get adaptive quality against `min_ssim` / `min_psnr`
    (defaults MIN_SSIM / MIN_PSNR). `full_source`, when given, is rendered for full-resolution specs
    instead of `display` (e.g. a volume's middle slice while `display` is its tiled views).
    """
    floors = (MIN_SSIM if min_ssim is None else min_ssim, MIN_PSNR if min_psnr is None else min_psnr)
    cascade = _image(display)
    full_reference = display if full_source is None else full_source
    full_image = cascade if full_source is None else _image(full_source)
    done: dict[str, Rendition] = {}
    for spec in sorted(specs, key=lambda s: -(s.max_side or 1 << 30)):
        if spec.max_side is None:
            image = full_image
            data, level = _adaptive(image, full_reference, spec, *floors)
        else:
            image = cascade = downscale(cascade, spec.max_side)
            data, level = encode(image, spec.format, spec.quality), spec.quality
        done[spec.name] = Rendition(
            spec.name, data, CONTENT_TYPES[spec.format], image.width, image.height, spec.format, level
        )
    return [done[spec.name] for spec in specs]


def cbct_views(volume: np.ndarray) -> np.ndarray:
    """One 2D image standing for a volume (slices, rows, cols): the middle axial, coronal and sagittal
    slices side by side, each at its own aspect (isotropic voxels assumed), on a black background."""
    if volume.ndim != 3:
        raise ValueError(f"expected (slices, rows, cols), got shape {volume.shape}")
    slices, rows, cols = volume.shape
    axial = volume[slices // 2]
    coronal = volume[::-1, rows // 2, :]
    sagittal = volume[::-1, :, cols // 2]
    height = max(rows, slices)
    width = cols + cols + rows
    canvas = np.zeros((height, width), dtype=np.uint8)
    x = 0
    for view in (axial, coronal, sagittal):
        top = (height - view.shape[0]) // 2
        canvas[top : top + view.shape[0], x : x + view.shape[1]] = view
        x += view.shape[1]
    return canvas
