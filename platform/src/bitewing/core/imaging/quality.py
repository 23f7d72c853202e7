"""Image fidelity metrics for 8-bit images: PSNR and SSIM (numpy only).

SSIM follows Wang et al. 2004 with a 7x7 uniform window and the usual constants (K1 0.01, K2 0.03,
L 255), the defaults of scikit-image's `structural_similarity` with `gaussian_weights=False`.
"""

from __future__ import annotations

import numpy as np

_WINDOW = 7
_C1 = np.float32((0.01 * 255) ** 2)
_C2 = np.float32((0.03 * 255) ** 2)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images (inf when identical)."""
    diff = np.subtract(reference, test, dtype=np.int64).ravel()
    mse = float(np.dot(diff, diff)) / max(1, diff.size)  # integer dot: exact, and no BLAS thread pool
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0 * 255.0 / mse))


def _window_sums(planes: np.ndarray, axis: int) -> np.ndarray:
    """Sums of _WINDOW consecutive values along `axis` (valid region), as _WINDOW shifted slice adds: on
    short tile rows this is several times faster than a running sum (numpy accumulates along the last
    axis row by row)."""
    count = planes.shape[axis] - _WINDOW + 1
    window = [slice(None)] * planes.ndim
    window[axis] = slice(0, count)
    total = planes[tuple(window)].copy()
    for k in range(1, _WINDOW):
        window[axis] = slice(k, k + count)
        total += planes[tuple(window)]
    return total


def _box_means(planes: np.ndarray) -> np.ndarray:
    """Mean over every full 7x7 window (valid region) of each plane of (n, rows, cols) integer planes.

    The sums are taken in int32, exact for 8-bit values and their products (49 x 255² < 2³¹); the means
    are float32, which holds them to 1e-7 relative (an SSIM changes in the sixth decimal at most).
    """
    sums = _window_sums(_window_sums(planes.astype(np.int32, copy=False), 2), 1)
    return sums.astype(np.float32) * np.float32(1.0 / (_WINDOW * _WINDOW))


def _ssim_planes(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM over every 7x7 window of (n, rows, cols) stacks of 8-bit planes (windows never cross
    planes)."""
    x = x.astype(np.int32)
    y = y.astype(np.int32)
    k = len(x)
    means = _box_means(np.concatenate([x, y, x * x, y * y, x * y]))
    mx, my, mxx, myy, mxy = (means[i * k : (i + 1) * k] for i in range(5))
    n = _WINDOW * _WINDOW
    unbias = np.float32(n / (n - 1))
    vx = (mxx - mx * mx) * unbias
    vy = (myy - my * my) * unbias
    cxy = (mxy - mx * my) * unbias
    num = (2 * mx * my + _C1) * (2 * cxy + _C2)
    den = (mx * mx + my * my + _C1) * (vx + vy + _C2)
    return float(np.mean(num / den, dtype=np.float64))


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    return _ssim_planes(x[np.newaxis], y[np.newaxis])


def ssim_stack(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM of (n, rows, cols) stacks of equal-size greyscale tiles, in one vectorised pass."""
    if reference.shape != test.shape or reference.ndim != 3:
        raise ValueError(f"expected two equal (n, rows, cols) stacks, got {reference.shape} and {test.shape}")
    return _ssim_planes(reference, test)


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
