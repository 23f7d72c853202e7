"""Renditions of a display frame (thumbnail, preview, full) and representative 2D views of a volume.

Downscaling uses `Image.reduce()` by an integer factor first (a cheap box filter that keeps a resampling
"reducing gap" of at least 2) and then a bilinear resize to the exact size; each smaller rendition is made
from the previous one. The full rendition's quality adapts: the lowest quality at or above the spec's whose
SSIM and PSNR against the 8-bit windowed frame reach their floors (see
docs/decisions/0002-rendition-defaults.md). For greyscale JPEG the floors are measured on a sample of
block-aligned tiles encoded as one small mosaic, which decodes to exactly the pixels the full image decodes
to in those tiles, so the full image is encoded once.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, features

from bitewing.core.imaging import quality

cv2.setNumThreads(1)  # one image per worker process: OpenCV's thread pool would only add CPU time

MIN_SSIM = 0.97
MIN_PSNR = 45.0
QUALITY_STEP = 3
"""Quality step of the search for formats measured on the whole image (WebP, AVIF, colour JPEG)."""
SAMPLE_TILE, SAMPLE_GRID = 64, 5
"""The greyscale JPEG quality search measures SAMPLE_GRID² tiles of SAMPLE_TILE² pixels (multiples of the
8x8 JPEG block), spread evenly over the frame: 100 k pixels, 5% of a 2 MP intraoral."""
SAMPLE_MARGIN_PSNR, SAMPLE_MARGIN_SSIM = 0.5, 0.004
"""How far above the floors the tile estimate must be: about 1.5 times the largest overestimate seen
(+0.34 dB, +0.0029) over 39 images (36 synthetic, pydicom-data's two CR radiographs and an MR) at
qualities 78-95 (decision 0002)."""
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
    RenditionSpec("full", None, "jpeg", 80),
)
"""Chosen from bench/results/imaging.md; why: docs/decisions/0002-rendition-defaults.md. The full
rendition's quality is its lowest: it is raised as far as the fidelity floors need."""


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
    """`image` fitted into `max_side`: `reduce()` by the integer part of the scale, then bilinear.

    After the box reduction the remaining scale is below 2: there a bilinear step stays above 45 dB
    against a float Lanczos from the full frame (more than the preview's own JPEG keeps). OpenCV's
    vectorised bilinear does that step in less than half the time of Pillow's, a little closer to Lanczos
    (decision 0002).
    """
    size = fit(image.width, image.height, max_side)
    if size == image.size:
        return image
    factor = min(image.width // size[0], image.height // size[1])
    if factor >= 2:
        image = image.reduce(factor)
    resized = cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_LINEAR)
    return Image.fromarray(resized)


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


class TileSample:
    """Block-aligned tiles of a greyscale frame laid side by side in one small mosaic image.

    JPEG codes every 8x8 block on its own, so the mosaic's decoded tiles are exactly the pixels a decoder
    produces in the same places of the whole encoded frame: the sample's SSIM is the tiles' true SSIM and
    its PSNR an estimate of the frame's from `SAMPLE_GRID`² evenly spread tiles.
    """

    def __init__(self, frame: np.ndarray, tile: int = SAMPLE_TILE, grid: int = SAMPLE_GRID) -> None:
        rows, cols = frame.shape
        ys = self._starts(rows, tile, grid)
        xs = self._starts(cols, tile, grid)
        self.tiles = np.stack([frame[y : y + tile, x : x + tile] for y in ys for x in xs])
        self.mosaic = Image.fromarray(np.ascontiguousarray(np.concatenate(list(self.tiles), axis=1)), "L")
        self._decoded: dict[tuple[str, int], np.ndarray] = {}

    @staticmethod
    def _starts(length: int, tile: int, grid: int) -> list[int]:
        """Block-aligned tile starts centred in `grid` equal cells (a stratified sample: an edge-to-edge
        grid would put most tiles on the border, where radiographs are darker and less noisy)."""
        centres = (np.arange(grid) + 0.5) * length / grid
        return [int(min(max(0, c - tile / 2), length - tile)) // 8 * 8 for c in centres]

    @staticmethod
    def fits(frame: np.ndarray, tile: int = SAMPLE_TILE, grid: int = SAMPLE_GRID) -> bool:
        """True when `frame` is greyscale and much larger than the sample (else measure it whole)."""
        return (
            frame.ndim == 2 and min(frame.shape) >= 2 * tile and frame.size >= 4 * grid * grid * tile * tile
        )

    def decoded(self, fmt: str, quality_: int) -> np.ndarray:
        """The tiles (n, tile, tile) after an encode/decode round trip of the mosaic at `quality_`."""
        key = (fmt, quality_)
        if key not in self._decoded:
            with Image.open(io.BytesIO(encode(self.mosaic, fmt, quality_))) as image:
                test = np.asarray(image)
            n, size, _ = self.tiles.shape
            self._decoded[key] = test.reshape(size, n, size).transpose(1, 0, 2)
        return self._decoded[key]

    def psnr(self, fmt: str, quality_: int) -> float:
        """PSNR over all tiles at `quality_` (an estimate of the whole frame's)."""
        return quality.psnr(self.tiles, self.decoded(fmt, quality_))

    def ssim(self, fmt: str, quality_: int) -> float:
        """Mean SSIM of every other tile at `quality_` (an estimate of the whole frame's; SSIM costs ten
        times PSNR, and half the tiles estimate it within 0.002 on the corpus)."""
        return quality.ssim_stack(self.tiles[::2], self.decoded(fmt, quality_)[::2])

    def fidelity(self, fmt: str, quality_: int) -> tuple[float, float]:
        """(SSIM, PSNR) of the sample's tiles after an encode/decode round trip at `quality_`."""
        return self.ssim(fmt, quality_), self.psnr(fmt, quality_)


def _lowest_passing(low: int, high: int, passes: Callable[[int], bool], step: int) -> int:
    """The lowest quality in [low, high] (on a grid of `step` from `low`, `high` always included) that
    `passes`, assuming fidelity grows with quality; `high` when none does."""
    levels = [*range(low, high, step), high]
    lo, hi = 0, len(levels) - 1
    if passes(levels[lo]):
        return levels[lo]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(levels[mid]):
            hi = mid
        else:
            lo = mid
    return levels[hi]


def _adaptive(
    image: Image.Image, reference: np.ndarray, spec: RenditionSpec, min_ssim: float, min_psnr: float
) -> tuple[bytes, int]:
    """Encode at the lowest quality from `spec.quality` up whose fidelity meets both floors.

    Greyscale JPEG of a large frame: the search runs on a `TileSample` with a safety margin and the frame
    is encoded once. Otherwise every candidate is encoded whole and measured (`fidelity`).
    """
    top = MAX_QUALITY[spec.format]
    if spec.format == "jpeg" and TileSample.fits(reference):
        sample = TileSample(reference)
        ssim_floor, psnr_floor = min_ssim + SAMPLE_MARGIN_SSIM, min_psnr + SAMPLE_MARGIN_PSNR

        def psnr_ok(level: int) -> bool:
            return sample.psnr(spec.format, level) >= psnr_floor

        def both_ok(level: int) -> bool:
            return psnr_ok(level) and sample.ssim(spec.format, level) >= ssim_floor

        # PSNR (cheap) narrows the search; SSIM is then usually computed once, at the answer.
        level = _lowest_passing(min(spec.quality, top), top, psnr_ok, 1)
        level = _lowest_passing(level, top, both_ok, 1)
        return encode(image, spec.format, level), level
    encoded: dict[int, bytes] = {}

    def passes_whole(level: int) -> bool:
        encoded[level] = encode(image, spec.format, level)
        ssim_, psnr_ = fidelity(reference, encoded[level])
        return ssim_ >= min_ssim and psnr_ >= min_psnr

    level = _lowest_passing(min(spec.quality, top), top, passes_whole, QUALITY_STEP)
    return encoded.get(level) or encode(image, spec.format, level), level


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
    return tile_views(*orthogonal_slices(volume))


def orthogonal_slices(volume: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The middle axial, coronal and sagittal slices of (slices, rows, cols), head up (views, no copies)."""
    slices, rows, cols = volume.shape
    return volume[slices // 2], volume[::-1, rows // 2, :], volume[::-1, :, cols // 2]


def tile_views(*views: np.ndarray) -> np.ndarray:
    """uint8 `views` side by side, vertically centred on a black canvas."""
    height = max(view.shape[0] for view in views)
    canvas = np.zeros((height, sum(view.shape[1] for view in views)), dtype=np.uint8)
    x = 0
    for view in views:
        top = (height - view.shape[0]) // 2
        canvas[top : top + view.shape[0], x : x + view.shape[1]] = view
        x += view.shape[1]
    return canvas
