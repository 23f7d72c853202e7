"""Image fidelity metrics for 8-bit images: PSNR and SSIM (numpy only).

SSIM follows Wang et al. 2004 with a 7x7 uniform window and the usual constants (K1 0.01, K2 0.03,
L 255), the defaults of scikit-image's `structural_similarity` with `gaussian_weights=False`.
"""

from __future__ import annotations

import numpy as np

_WINDOW = 7
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images (inf when identical)."""
    diff = np.subtract(reference, test, dtype=np.int16).ravel().astype(np.float32)
    mse = float(np.dot(diff, diff)) / max(1, diff.size)
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0 * 255.0 / mse))


def _box_means(planes: np.ndarray) -> np.ndarray:
    """Mean over every full 7x7 window (valid region) of each plane of (n, rows, cols), via integral images."""
    n, rows, cols = planes.shape
    c = np.zeros((n, rows + 1, cols + 1))
    np.cumsum(planes, axis=1, out=c[:, 1:, 1:])
    np.cumsum(c[:, 1:, 1:], axis=2, out=c[:, 1:, 1:])
    w = _WINDOW
    total = c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]
    return total / (w * w)


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    mx, my, mxx, myy, mxy = _box_means(np.stack([x, y, x * x, y * y, x * y]))
    n = _WINDOW * _WINDOW
    unbias = n / (n - 1)
    vx = (mxx - mx * mx) * unbias
    vy = (myy - my * my) * unbias
    cxy = (mxy - mx * my) * unbias
    num = (2 * mx * my + _C1) * (2 * cxy + _C2)
    den = (mx * mx + my * my + _C1) * (vx + vy + _C2)
    return float(np.mean(num / den))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean structural similarity of two 8-bit images (greyscale, or RGB averaged over channels)."""
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {test.shape}")
    if min(reference.shape[:2]) < _WINDOW:
        return 1.0 if np.array_equal(reference, test) else 0.0
    if reference.ndim == 3:
        return float(
            np.mean([_ssim_plane(reference[..., c], test[..., c]) for c in range(reference.shape[2])])
        )
    return _ssim_plane(reference, test)


def tiles(image: np.ndarray, size: int = 256, grid: int = 3) -> list[tuple[slice, slice]]:
    """A grid x grid set of size x size tiles spread evenly over the image (fewer if it is small)."""
    rows, cols = image.shape[:2]
    th, tw = min(size, rows), min(size, cols)
    ys = np.linspace(0, rows - th, grid).astype(int) if rows > th else np.array([0])
    xs = np.linspace(0, cols - tw, grid).astype(int) if cols > tw else np.array([0])
    return [(slice(y, y + th), slice(x, x + tw)) for y in sorted(set(ys)) for x in sorted(set(xs))]


def tiled_ssim(reference: np.ndarray, test: np.ndarray, size: int = 256, grid: int = 3) -> float:
    """SSIM over a grid of full-resolution tiles: a cheap estimate of the whole image's SSIM that, unlike
    SSIM on a downsample, still sees compression artefacts at their own scale."""
    return float(np.mean([ssim(reference[t], test[t]) for t in tiles(reference, size, grid)]))
