"""Renditions: sizes, formats, adaptive quality (tile estimate), and the size budget on the corpus."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bitewing.core.imaging import quality, synthetic
from bitewing.core.imaging.render import (
    DEFAULT_RENDITIONS,
    MIN_PSNR,
    MIN_SSIM,
    SAMPLE_GRID,
    SAMPLE_MARGIN_PSNR,
    SAMPLE_MARGIN_SSIM,
    SAMPLE_TILE,
    RenditionSpec,
    TileSample,
    cbct_views,
    downscale,
    encode,
    fit,
    format_available,
    render_renditions,
)
from bitewing.core.imaging.validate import expected_native_length
from bitewing.core.imaging.window import display_frames

from .conftest import load_testdata


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[int, np.ndarray]]:
    """Full-size synthetic images of each projection kind: (original pixel bytes, display frame)."""
    out = {}
    for kind in ("intraoral", "bitewing", "periapical", "panoramic", "cephalometric"):
        ds = synthetic.make_instance(kind, seed=3)
        out[kind] = (expected_native_length(ds), display_frames(ds)[0])
    small = synthetic.make_instance("intraoral", sensor_size=1, seed=4)
    out["intraoral size 1"] = (expected_native_length(small), display_frames(small)[0])
    return out


def test_default_renditions_sizes_and_types(corpus: dict[str, tuple[int, np.ndarray]]) -> None:
    _, display = corpus["panoramic"]
    renditions = render_renditions(display)
    assert [r.name for r in renditions] == ["thumbnail", "preview", "full"]
    by_name = {r.name: r for r in renditions}
    assert max(by_name["thumbnail"].width, by_name["thumbnail"].height) == 200
    assert max(by_name["preview"].width, by_name["preview"].height) == 800
    assert (by_name["full"].height, by_name["full"].width) == display.shape
    for rendition in renditions:
        assert rendition.content_type == "image/jpeg"
        assert _decoded(rendition.data).shape[:2] == (rendition.height, rendition.width)
    assert by_name["thumbnail"].width / by_name["thumbnail"].height == pytest.approx(2900 / 1500, rel=0.02)


def test_rendition_budget_on_synthetic_corpus(corpus: dict[str, tuple[int, np.ndarray]]) -> None:
    """The rendition set stays within 10% of the original pixel bytes for every image."""
    shares = {}
    for kind, (original, display) in corpus.items():
        renditions = render_renditions(display)
        shares[kind] = sum(len(r.data) for r in renditions) / original
        full = next(r for r in renditions if r.name == "full")
        decoded = _decoded(full.data)
        assert quality.psnr(display, decoded) >= MIN_PSNR, kind
        assert quality.ssim(display, decoded) >= MIN_SSIM, kind
    assert max(shares.values()) <= 0.10, shares
    assert sorted(shares.values())[len(shares) // 2] <= 0.05, shares


def test_adaptive_quality_raises_full_only(corpus: dict[str, tuple[int, np.ndarray]]) -> None:
    _, display = corpus["intraoral"]
    relaxed = {r.name: r for r in render_renditions(display, min_ssim=0.0, min_psnr=0.0)}
    strict = {r.name: r for r in render_renditions(display, min_psnr=48.0)}
    assert relaxed["full"].quality == DEFAULT_RENDITIONS[2].quality == 80, "the spec's quality is the lowest"
    assert strict["full"].quality > 80
    assert quality.psnr(display, _decoded(strict["full"].data)) >= 48.0
    assert strict["preview"].quality == relaxed["preview"].quality == 85


def test_quality_search_finds_the_lowest_passing_level(corpus: dict[str, tuple[int, np.ndarray]]) -> None:
    """One step below the chosen quality the tile estimate misses a floor (plus margin): no bytes wasted."""
    _, display = corpus["panoramic"]
    full = render_renditions(display, min_psnr=47.0)[2]
    sample = TileSample(display)
    assert sample.psnr("jpeg", full.quality) >= 47.0 + SAMPLE_MARGIN_PSNR
    below = sample.fidelity("jpeg", full.quality - 1)
    assert below[1] < 47.0 + SAMPLE_MARGIN_PSNR or below[0] < MIN_SSIM + SAMPLE_MARGIN_SSIM


def test_tile_mosaic_decodes_to_the_full_images_pixels(corpus: dict[str, tuple[int, np.ndarray]]) -> None:
    """The premise of the estimate: JPEG codes 8x8 blocks independently, so block-aligned tiles encoded
    as one mosaic decode to exactly the pixels of the same places in the whole encoded frame."""
    _, display = corpus["bitewing"]
    sample = TileSample(display)
    whole = _decoded(encode(Image.fromarray(display), "jpeg", 83))
    ys = sample._starts(display.shape[0], SAMPLE_TILE, SAMPLE_GRID)
    xs = sample._starts(display.shape[1], SAMPLE_TILE, SAMPLE_GRID)
    expected = np.stack([whole[y : y + SAMPLE_TILE, x : x + SAMPLE_TILE] for y in ys for x in xs])
    assert np.array_equal(sample.decoded("jpeg", 83), expected)
    assert all(y % 8 == 0 for y in ys) and all(x % 8 == 0 for x in xs)


@pytest.mark.parametrize(
    ("name", "floors"),
    [
        ("RG1_UNCI.dcm", {}),
        ("RG3_UNCI.dcm", {}),
        ("intraoral", {"min_psnr": 46.0}),
        ("panoramic", {"min_ssim": 0.98}),
    ],
)
def test_estimated_full_rendition_never_under_the_floors(
    corpus: dict[str, tuple[int, np.ndarray]], name: str, floors: dict[str, float]
) -> None:
    """The quality chosen from the tile estimate gives a full rendition at or above both floors measured
    on the whole image: on pydicom-data's real CR radiographs and at stricter floors (the synthetic corpus
    at the default floors is checked in test_rendition_budget_on_synthetic_corpus)."""
    display = corpus[name][1] if name in corpus else display_frames(load_testdata(name))[0]
    full = render_renditions(display, (DEFAULT_RENDITIONS[2],), **floors)[0]
    decoded = _decoded(full.data)
    assert quality.psnr(display, decoded) >= floors.get("min_psnr", MIN_PSNR)
    assert quality.ssim(display, decoded) >= floors.get("min_ssim", MIN_SSIM)


def test_small_images_are_not_enlarged() -> None:
    display = np.tile(np.arange(120, dtype=np.uint8), (90, 1))
    renditions = {r.name: r for r in render_renditions(display)}
    assert (renditions["preview"].width, renditions["preview"].height) == (120, 90)
    assert (renditions["thumbnail"].width, renditions["thumbnail"].height) == (120, 90)


def test_rgb_frame() -> None:
    rng = np.random.default_rng(1)
    display = np.repeat(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], 480, axis=0).repeat(
        3, axis=2
    )
    display = np.clip(display + rng.integers(0, 3, display.shape), 0, 255).astype(np.uint8)
    renditions = render_renditions(display)
    assert _decoded(renditions[0].data).shape == (150, 200, 3)


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_other_formats(fmt: str) -> None:
    if not format_available(fmt):
        pytest.skip(f"Pillow cannot encode {fmt}")
    display = synthetic_display()
    specs = (RenditionSpec("thumbnail", 200, fmt, 70), RenditionSpec("full", None, fmt, 80))
    thumbnail, full = render_renditions(display, specs)
    assert thumbnail.content_type == f"image/{fmt}"
    assert max(thumbnail.width, thumbnail.height) == 200
    assert full.quality >= 80


def synthetic_display() -> np.ndarray:
    return display_frames(synthetic.make_instance("intraoral", shape=(400, 300)))[0]


@pytest.mark.parametrize(
    ("size", "side", "expected"), [((1300, 1700), 200, (153, 200)), ((100, 50), 800, (100, 50))]
)
def test_fit(size: tuple[int, int], side: int, expected: tuple[int, int]) -> None:
    assert fit(*size, side) == expected


def test_downscale_reduces_first() -> None:
    image = Image.fromarray(synthetic_display())
    assert downscale(image, 100).size == (75, 100)
    assert downscale(image, None) is image


def test_cbct_views_tiles_three_planes() -> None:
    volume = np.zeros((30, 40, 50), dtype=np.uint8)
    volume[15] = 100  # axial middle slice
    volume[:, 20, :] = 150  # coronal middle
    volume[:, :, 25] = 200  # sagittal middle
    views = cbct_views(volume)
    assert views.shape == (40, 50 + 50 + 40)
    assert views[5, 5] == 100  # axial tile shows the axial slice
    assert (views[5:35, 50:75] == 150).all()  # coronal tile (its column 25 is the sagittal plane)
    assert (views[5:35, 100:140] == 200).all()  # sagittal tile
    assert DEFAULT_RENDITIONS[0].max_side == 200
