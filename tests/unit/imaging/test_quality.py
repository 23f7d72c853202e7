"""PSNR and SSIM agree with straightforward float64 definitions."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from bitewing.core.imaging import quality


def _reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. 2004, 7x7 uniform window, sample covariances, every full window: in float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    wx, wy = sliding_window_view(x, (7, 7)), sliding_window_view(y, (7, 7))
    mx, my = wx.mean(axis=(-2, -1)), wy.mean(axis=(-2, -1))
    vx, vy = wx.var(axis=(-2, -1), ddof=1), wy.var(axis=(-2, -1), ddof=1)
    cxy = ((wx - mx[..., None, None]) * (wy - my[..., None, None])).sum(axis=(-2, -1)) / 48
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))))


def _pair(shape: tuple[int, ...], noise: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, shape).astype(np.uint8)
    y = np.clip(x.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(np.uint8)
    return x, y


@pytest.mark.parametrize(("shape", "noise"), [((64, 64), 3), ((40, 90), 20), ((7, 7), 60), ((200, 150), 1)])
def test_ssim_matches_the_definition(shape: tuple[int, int], noise: int) -> None:
    x, y = _pair(shape, noise)
    assert quality.ssim(x, y) == pytest.approx(_reference_ssim(x, y), abs=1e-5)
    assert quality.ssim(x, x) == pytest.approx(1.0, abs=1e-6)


def test_ssim_of_a_stack_is_the_mean_over_its_planes_with_no_window_across_planes() -> None:
    """The planes are filtered as one tall image: a window straddling two planes would change the result."""
    x, y = _pair((5, 32, 48), 10)
    y[1] = 255 - y[1]  # one plane very unlike its neighbours
    per_plane = np.mean([_reference_ssim(a, b) for a, b in zip(x, y, strict=True)])
    assert quality.ssim_stack(x, y) == pytest.approx(per_plane, abs=1e-5)


def test_psnr_matches_the_definition() -> None:
    x, y = _pair((300, 200, 3), 5)
    mse = np.mean((x.astype(np.float64) - y) ** 2)
    assert quality.psnr(x, y) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)
    assert quality.psnr(x, x) == float("inf")
    with pytest.raises(ValueError, match="shapes differ"):
        quality.psnr(x, y[:10])


def test_tiled_ssim_measures_a_small_image_whole() -> None:
    """Tiles that would overlap (together larger than the image) give way to the whole image."""
    x, y = _pair((200, 200), 8)
    assert quality.tiled_ssim(x, y, 128, 2) == pytest.approx(_reference_ssim(x, y), abs=1e-5)
    big_x, big_y = _pair((600, 600), 8)
    tiles = quality.tiles(big_x, 128, 2)
    expected = np.mean([_reference_ssim(big_x[t], big_y[t]) for t in tiles])
    assert quality.tiled_ssim(big_x, big_y, 128, 2) == pytest.approx(expected, abs=1e-5)
