"""Imaging suite: rendition formats, the default rendition set, lossless archive codecs, pipeline throughput.

Everything runs in this one process on one core (codecs pinned to one thread). Per-core pipeline figures
are CPU seconds of this process (`time.process_time`), so other work on a shared machine does not inflate
them; wall-clock seconds are reported beside them. Images are the synthetic corpus of
`bitewing.core.imaging.synthetic` (device sizes and bit depths, plausible content, detector-like noise) and,
for comparison, the real CR radiographs of pydicom-data. The naive peer is what a straightforward
pydicom + Pillow implementation does, measured in the same run on the same machine.
"""

from __future__ import annotations

import io
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import (
    UID,
    HTJ2KLossless,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from bench import report
from bitewing.core.imaging import codecs, quality, render, synthetic
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.part10 import replace, shallow_copy
from bitewing.core.imaging.pipeline import (
    ArchivedInstance,
    RenderedInstance,
    archive_instance,
    render_instance,
)
from bitewing.core.imaging.validate import expected_native_length
from bitewing.core.imaging.window import display_frames
from tests.support import Orthanc

FORMAT_GRID = {"jpeg": (80, 85, 90, 92, 95), "webp": (80, 90, 95), "avif": (60, 75, 90)}
LOSSLESS_CODECS = {
    "HTJ2K lossless (OpenJPH)": HTJ2KLossless,
    "JPEG-LS lossless (CharLS)": JPEGLSLossless,
    "JPEG 2000 lossless (OpenJPEG)": JPEG2000Lossless,
    "JPEG lossless SV1 (libjpeg-turbo)": JPEGLosslessSV1,
    "RLE lossless (pydicom)": RLELossless,
}
TARGETS = {
    "rendition_share_max": 0.10,
    "rendition_share_median": 0.05,
    "full_ssim": 0.97,
    "full_psnr": 45.0,
    "archive_size_vs_best": 1.10,
    "archive_encode_mps": 70.0,
    "intraoral_images_per_s": 25.0,
    "intraoral_speedup_vs_naive": 25.0 / 13.5,
    "intraoral_speedup_vs_orthanc": 1.0,
    "cbct_s_per_100mp": 2.0,
}
TARGET_INTRAORAL = "intraoral 2.0 MP (1667x1200, 12-bit)"
"""The pipeline case of the target's size (2 MP, 12-bit)."""


def _timed(
    fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, object]:
    """Median seconds of `repeat` calls (after one warm-up call) by `clock`, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = clock()
        result = fn()
        times.append(clock() - start)
    return statistics.median(times), result


REAL_RADIOGRAPHS = {
    "RG1 CR chest (1841x1955, 15-bit, real)": "RG1_UNCI.dcm",
    "RG3 CR (1760x1760, 10-bit, real)": "RG3_UNCI.dcm",
}
"""Real computed radiographs shipped with pydicom-data: reference for noise and rendition size."""


def _real() -> dict[str, pydicom.Dataset]:
    out = {}
    for name, file in REAL_RADIOGRAPHS.items():
        path = get_testdata_file(file, download=False)
        if path:
            out[name] = pydicom.dcmread(path)
    return out


def _corpus(quick: bool) -> dict[str, pydicom.Dataset]:
    images = {
        "intraoral size 2 (1300x1700, 12-bit)": synthetic.make_instance("intraoral", seed=0),
        "bitewing size 2 (1700x1300, 12-bit)": synthetic.make_instance("bitewing", seed=1),
        "panoramic (2900x1500, 14-bit)": synthetic.make_instance("panoramic", seed=0),
    }
    if not quick:
        images["periapical size 1 (1000x1500, 12-bit)"] = synthetic.make_instance(
            "periapical", sensor_size=1, seed=2
        )
        images["intraoral MONOCHROME1 (1300x1700)"] = synthetic.make_instance(
            "intraoral", seed=3, monochrome1=True
        )
        images["cephalometric (3000x2400, 12-bit)"] = synthetic.make_instance("cephalometric", seed=0)
    return images


def _decode(data: bytes, grey: bool) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L" if grey else "RGB"))


def bench_formats(corpus: dict[str, pydicom.Dataset], quick: bool) -> list[dict[str, object]]:
    """Full-resolution rendition of two images per format and quality: size, fidelity, encode time."""
    rows = []
    names = (
        list(corpus)[:1] if quick else [n for n in corpus if n.startswith(("intraoral size 2", "panoramic"))]
    )
    for name in names:
        ds = corpus[name]
        display = display_frames(ds)[0]
        original = expected_native_length(ds)
        image = Image.fromarray(display)
        for fmt, levels in FORMAT_GRID.items():
            if not render.format_available(fmt):
                continue
            for level in levels:
                seconds, data = _timed(
                    lambda i=image, f=fmt, q=level: render.encode(i, f, q), 1 if quick else 3
                )
                decoded = _decode(data, grey=True)
                rows.append(
                    {
                        "image": name,
                        "format": fmt,
                        "quality": level,
                        "share_of_original": len(data) / original,
                        "psnr_db": quality.psnr(display, decoded),
                        "ssim": quality.ssim(display, decoded),
                        "encode_ms": seconds * 1000,
                    }
                )
    return rows


def bench_rendition_sets(corpus: dict[str, pydicom.Dataset]) -> list[dict[str, object]]:
    """The default rendition set of every corpus image: bytes vs original, chosen full quality, fidelity
    measured on the whole image, and the tile estimate the quality was chosen from."""
    rows = []
    for name, ds in corpus.items():
        display = display_frames(ds)[0]
        seconds, renditions = _timed(lambda d=display: render.render_renditions(d), 1)
        full = next(r for r in renditions if r.name == "full")
        decoded = _decode(full.data, grey=True)
        sample = render.TileSample(display)
        rows.append(
            {
                "image": name,
                "share_of_original": sum(len(r.data) for r in renditions) / expected_native_length(ds),
                "bytes": {r.name: len(r.data) for r in renditions},
                "full_quality": full.quality,
                "full_psnr_db": quality.psnr(display, decoded),
                "full_ssim": quality.ssim(display, decoded),
                "estimate_psnr_db": sample.psnr("jpeg", full.quality),
                "estimate_ssim": sample.ssim("jpeg", full.quality),
                "render_ms": seconds * 1000,
            }
        )
    return rows


def _noise_character(ds: pydicom.Dataset, block: int = 64) -> dict[str, float]:
    """Noise of the flattest tenth of 64x64 blocks (quadratic trend removed, unsaturated display): the
    correlation of horizontal / vertical neighbours and the noise power near Nyquist (0.45-0.55 cycles
    per pixel) relative to 0.05-0.15 (1.0 for white noise), and its SD in display grey levels."""
    stored = stored_frames(ds)[0][0].astype(np.float64)
    display = display_frames(ds)[0]
    rows, cols = stored.shape[0] // block * block, stored.shape[1] // block * block

    def blocks(a: np.ndarray) -> np.ndarray:
        return a[:rows, :cols].reshape(rows // block, block, cols // block, block).swapaxes(1, 2)

    values = blocks(stored).reshape(-1, block, block)
    usable = ((blocks(display) > 10) & (blocks(display) < 245)).all(axis=(2, 3)).ravel()
    values = values[usable]
    yy, xx = np.mgrid[0:block, 0:block]
    basis = np.stack([np.ones(block * block), *(v.ravel() for v in (yy, xx, yy * xx, yy**2, xx**2))], 1)
    coef, *_ = np.linalg.lstsq(basis, values.reshape(len(values), -1).T, rcond=None)
    residual = values - (basis @ coef).T.reshape(-1, block, block)
    flat = residual[np.argsort(residual.var(axis=(1, 2)))[: max(4, len(residual) // 10)]]
    power = (np.abs(np.fft.fft2(flat)) ** 2).mean(0)
    f = np.fft.fftfreq(block)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    slope = np.polyfit(stored[:rows, :cols][::7, ::7].ravel(), display[:rows, :cols][::7, ::7].ravel(), 1)[0]
    return {
        "neighbour_correlation_h": float((flat[:, :, 1:] * flat[:, :, :-1]).mean() / flat.var()),
        "neighbour_correlation_v": float((flat[:, 1:] * flat[:, :-1]).mean() / flat.var()),
        "nps_nyquist_vs_low": float(
            power[(radius >= 0.45) & (radius < 0.55)].mean()
            / power[(radius >= 0.05) & (radius < 0.15)].mean()
        ),
        "noise_sd_display_grey": float(flat.std() * abs(slope)),
    }


def bench_noise(
    corpus: dict[str, pydicom.Dataset], real: dict[str, pydicom.Dataset]
) -> list[dict[str, object]]:
    """Noise character of the real radiographs and the synthetic projection images."""
    names = [
        n for n in corpus if n.startswith(("intraoral size 2", "bitewing", "panoramic", "cephalometric"))
    ]
    images = {**real, **{n: corpus[n] for n in names}}
    return [{"image": name, **_noise_character(ds)} for name, ds in images.items()]


def bench_jpeg_options(corpus: dict[str, pydicom.Dataset], quick: bool) -> list[dict[str, object]]:
    """Pillow JPEG options that change size but not pixels (optimize: Huffman tables fitted to the image;
    progressive): bytes and encode time vs the plain baseline encode, full-resolution intraoral."""
    ds = corpus["intraoral size 2 (1300x1700, 12-bit)"]
    image = Image.fromarray(display_frames(ds)[0])
    rows = []
    for level in (80, 85, 90):
        plain_s, plain = _timed(
            lambda q=level: render.encode(image, "jpeg", q), 3 if quick else 9, time.process_time
        )
        for option in ("optimize", "progressive"):

            def save(q: int = level, o: str = option) -> bytes:
                out = io.BytesIO()
                image.save(out, "JPEG", quality=q, **{o: True})
                return out.getvalue()

            seconds, data = _timed(save, 3 if quick else 9, time.process_time)
            rows.append(
                {
                    "quality": level,
                    "option": option,
                    "bytes_vs_plain": len(data) / len(plain),
                    "encode_ms": seconds * 1000,
                    "plain_encode_ms": plain_s * 1000,
                }
            )
    return rows


def _archive_dataset(ds: pydicom.Dataset, frames: np.ndarray, syntax: UID) -> pydicom.Dataset:
    out = shallow_copy(ds)
    replace(out.file_meta, "TransferSyntaxUID", syntax)
    fragments = [codecs.encode_frame(frame, syntax, out) for frame in frames]
    replace(out, "PixelData", encapsulate(fragments, has_bot=True))
    return out


def bench_lossless(quick: bool) -> list[dict[str, object]]:
    """Each lossless codec on an intraoral, a panoramic and a CBCT volume: ratio, MP/s, bit-exactness."""
    images = {
        "intraoral 12-bit": synthetic.make_instance("intraoral", seed=0),
        "panoramic 14-bit": synthetic.make_instance("panoramic", seed=0),
        "CBCT 160x200x200 signed": synthetic.make_instance("cbct", frames=40 if quick else None),
    }
    rows = []
    for name, ds in images.items():
        frames, _ = stored_frames(ds)
        megapixels = frames.shape[0] * frames.shape[1] * frames.shape[2] / 1e6
        for codec, syntax in LOSSLESS_CODECS.items():
            frame_encoder = codecs.ENCODERS[syntax]
            encode_s, fragments = _timed(
                lambda f=frame_encoder, d=ds, fs=frames: [f(x, d) for x in fs],
                1 if quick else 3,
                time.process_time,
            )
            archived = _archive_dataset(ds, frames, syntax)
            decode_s, decoded = _timed(
                lambda a=archived: stored_frames(a)[0], 1 if quick else 3, time.process_time
            )
            size = sum(len(f) for f in fragments)
            rows.append(
                {
                    "image": name,
                    "codec": codec,
                    "syntax": str(syntax),
                    "ratio": frames.nbytes / size,
                    "bytes": size,
                    "encode_mp_per_s": megapixels / encode_s,
                    "decode_mp_per_s": megapixels / decode_s,
                    "bit_exact": bool(np.array_equal(decoded, frames)),
                }
            )
    return rows


def naive_peer(data: bytes) -> list[bytes]:
    """The straightforward implementation: pydicom pixel_array, float Modality/VOI LUT, Pillow LANCZOS
    from the full image for every size, and pydicom's `compress()` for the lossless copy."""
    ds = pydicom.dcmread(io.BytesIO(data))
    pixels = ds.pixel_array
    frame = pixels[len(pixels) // 2] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels
    values = apply_voi_lut(apply_modality_lut(frame, ds), ds).astype(np.float64)
    scaled = (values - values.min()) / max(float(np.ptp(values)), 1.0) * 255.0
    if ds.PhotometricInterpretation == "MONOCHROME1":
        scaled = 255.0 - scaled
    image = Image.fromarray(scaled.astype(np.uint8))
    outputs = []
    for side in (200, 800, None):
        size = render.fit(image.width, image.height, side)
        out = io.BytesIO()
        (image.resize(size, Image.Resampling.LANCZOS) if side else image).save(out, "JPEG", quality=90)
        outputs.append(out.getvalue())
    ds.compress(JPEGLSLossless)
    archive = io.BytesIO()
    ds.save_as(archive, enforce_file_format=True)
    outputs.append(archive.getvalue())
    return outputs


def _taking_turns(calls: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """CPU seconds of every call in each of `rounds` rounds (after one warm-up call each); each call returns
    the CPU seconds it cost. The calls take turns, so a spell of interference from other tenants of this
    shared machine falls on all of them alike instead of on whichever was being measured at the time."""
    for call in calls.values():
        call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            seconds[name].append(call())
    return seconds


def _own_cpu(call: Callable[[], object]) -> Callable[[], float]:
    """`call` returning the CPU seconds this process spent in it."""

    def measured() -> float:
        start = time.process_time()
        call()
        return time.process_time() - start

    return measured


def _process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process `pid` so far (/proc, clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _orthanc_preview(orthanc: Orthanc, instance_id: str) -> Callable[[], float]:
    """``GET /instances/{id}/preview`` (Orthanc renders the PNG on demand), returning the CPU seconds
    Orthanc's process spent per request. A cheap picture is requested several times per call (as many as
    take ~0.2 s), so that its cost rises above /proc's 10 ms clock tick."""
    path = f"/instances/{instance_id}/preview"
    started = time.perf_counter()
    if not orthanc.request("GET", path, timeout=300).startswith(b"\x89PNG"):
        raise RuntimeError(f"Orthanc's preview of {instance_id} is not a PNG")
    repeat = max(1, math.ceil(0.2 / (time.perf_counter() - started)))

    def measured() -> float:
        before = _process_cpu_seconds(orthanc.process.pid)
        for _ in range(repeat):
            orthanc.request("GET", path, timeout=300)
        return (_process_cpu_seconds(orthanc.process.pid) - before) / repeat

    return measured


def both_steps(data: bytes) -> tuple[RenderedInstance, ArchivedInstance]:
    """What the two processing jobs compute for one instance: renditions, then the archive copy."""
    return render_instance(data), archive_instance(data)


def bench_pipeline(quick: bool) -> list[dict[str, object]]:
    """The render and archive steps, the naive peer and Orthanc's on-demand preview of the same received
    Part-10 bytes, one core each.

    Every round runs every case, ours and the peers', so a slow spell of this shared machine falls on a
    round of every case instead of on every round of one case; the medians over the rounds are reported.
    Orthanc's CPU seconds are its process's, read from /proc around each request.
    """
    cases = {
        TARGET_INTRAORAL: synthetic.make_instance("intraoral", shape=(1667, 1200), seed=0),
        "intraoral size 2 (2.2 MP, 12-bit)": synthetic.make_instance("intraoral", seed=0),
        "intraoral size 1 (1.5 MP, 12-bit)": synthetic.make_instance("intraoral", sensor_size=1, seed=0),
        "panoramic (4.35 MP, 14-bit)": synthetic.make_instance("panoramic", seed=0),
        "CBCT (160x200x200, 6.4 MP)": synthetic.make_instance("cbct"),
    }
    received = {name: synthetic.to_bytes(ds) for name, ds in cases.items()}
    calls: dict[str, Callable[[], float]] = {}
    with Orthanc(aet="ORTHANC") as orthanc:
        for name, data in received.items():
            calls[f"ours: {name}"] = _own_cpu(lambda d=data: both_steps(d))
            calls[f"naive: {name}"] = _own_cpu(lambda d=data: naive_peer(d))
            calls[f"orthanc: {name}"] = _orthanc_preview(orthanc, orthanc.upload(data)["ID"])
        cpu = _taking_turns(calls, 3 if quick else 20)
    rows = []
    for name, ds in cases.items():
        data = received[name]
        megapixels = expected_native_length(ds) / ds.BitsAllocated * 8 / 1e6
        ours, naive = cpu[f"ours: {name}"], cpu[f"naive: {name}"]
        ours_s, peer_s = statistics.median(ours), statistics.median(naive)
        orthanc_s = statistics.median(cpu[f"orthanc: {name}"])
        wall_s, (rendered, archived) = _timed(lambda d=data: both_steps(d), 2 if quick else 5)
        steps = {
            **{f"render: {k}": round(v * 1000, 2) for k, v in rendered.timings.items()},
            **{f"archive: {k}": round(v * 1000, 2) for k, v in archived.timings.items()},
        }
        rows.append(
            {
                "image": name,
                "megapixels": megapixels,
                "seconds": ours_s,
                "best_seconds": min(ours),
                "wall_seconds": wall_s,
                "images_per_s": 1 / ours_s,
                "best_images_per_s": 1 / min(ours),
                "s_per_100_mp": ours_s / megapixels * 100,
                "last_run_steps_ms": steps,
                "naive_seconds": peer_s,
                "naive_images_per_s": 1 / peer_s,
                "speedup_vs_naive": peer_s / ours_s,
                "orthanc_preview_seconds": orthanc_s,
                "orthanc_preview_images_per_s": 1 / orthanc_s,
                "speedup_vs_orthanc_preview": orthanc_s / ours_s,
            }
        )
    return rows


def _display_speed(quick: bool) -> dict[str, float]:
    ds = synthetic.make_instance("intraoral", seed=0)
    frames = stored_frames(ds)
    ours, _ = _timed(lambda: display_frames(ds, frames), 5 if quick else 30)
    pixels = frames[0][0]
    reference, _ = _timed(lambda: apply_voi_lut(apply_modality_lut(pixels, ds), ds), 3 if quick else 10)
    return {"megapixels": pixels.size / 1e6, "lut_ms": ours * 1000, "pydicom_float_ms": reference * 1000}


def _targets(results: dict[str, object]) -> list[dict[str, object]]:
    sets = results["rendition_sets"]
    shares = [r["share_of_original"] for r in sets]
    lossless = results["lossless"]
    checks = [
        ("rendition set <= 10% of original, every image", max(shares), "<=", TARGETS["rendition_share_max"]),
        ("rendition set median <= 5%", statistics.median(shares), "<=", TARGETS["rendition_share_median"]),
        (
            "full rendition SSIM >= 0.97, every image",
            min(r["full_ssim"] for r in sets),
            ">=",
            TARGETS["full_ssim"],
        ),
        (
            "full rendition PSNR >= 45 dB, every image",
            min(r["full_psnr_db"] for r in sets),
            ">=",
            TARGETS["full_psnr"],
        ),
    ]
    estimates = [*sets, *results["real_rendition_sets"]]
    checks.append(
        (
            "full rendition, tile estimate - whole image PSNR (dB), worst",
            max(r["estimate_psnr_db"] - r["full_psnr_db"] for r in estimates),
            "<=",
            render.SAMPLE_MARGIN_PSNR,
        )
    )
    checks.append(
        (
            "full rendition, tile estimate - whole image SSIM, worst",
            max(r["estimate_ssim"] - r["full_ssim"] for r in estimates),
            "<=",
            render.SAMPLE_MARGIN_SSIM,
        )
    )
    for image in dict.fromkeys(r["image"] for r in lossless):
        rows = [r for r in lossless if r["image"] == image]
        best = min(r["bytes"] for r in rows if r["syntax"] in (str(JPEGLSLossless), str(JPEG2000Lossless)))
        chosen = next(r for r in rows if r["syntax"] == str(HTJ2KLossless))
        checks.append((f"archive size / best JPEG-LS|J2K, {image}", chosen["bytes"] / best, "<=", 1.10))
        checks.append((f"archive encode MP/s per core, {image}", chosen["encode_mp_per_s"], ">=", 70.0))
        checks.append((f"archive bit-exact, {image}", float(chosen["bit_exact"]), ">=", 1.0))
    pipeline = {r["image"]: r for r in results["pipeline"]}
    cbct = pipeline["CBCT (160x200x200, 6.4 MP)"]
    for size in (TARGET_INTRAORAL, "intraoral size 2 (2.2 MP, 12-bit)"):
        checks.append(
            (
                f"pipeline images/s per core, {size}",
                pipeline[size]["images_per_s"],
                ">=",
                TARGETS["intraoral_images_per_s"],
            )
        )
    target_size = pipeline[TARGET_INTRAORAL]
    checks.append(
        (
            "pipeline speed-up over the naive peer, 2.0 MP (the issue's 25 images/s over the 12-15 it "
            "measured for the naive path: the same bar on a host of another speed)",
            target_size["speedup_vs_naive"],
            ">=",
            round(TARGETS["intraoral_speedup_vs_naive"], 2),
        )
    )
    checks.append(
        (
            "pipeline (3 renditions + verified archive) vs Orthanc's on-demand /preview of the same "
            "instance, CPU per image, 2.0 MP",
            target_size["speedup_vs_orthanc_preview"],
            ">=",
            TARGETS["intraoral_speedup_vs_orthanc"],
        )
    )
    checks.append(("CBCT s per 100 MP", cbct["s_per_100_mp"], "<=", 2.0))
    return [
        {"target": t, "measured": m, "op": op, "bound": b, "met": bool(m <= b if op == "<=" else m >= b)}
        for t, m, op, b in checks
    ]


def run(quick: bool = False) -> dict[str, object]:
    """All imaging measurements; `quick` trims images and repeats for a smoke run."""
    corpus = _corpus(quick)
    real = _real()
    results: dict[str, object] = {
        "formats": bench_formats(corpus, quick),
        "rendition_sets": bench_rendition_sets(corpus),
        "real_rendition_sets": bench_rendition_sets(real),
        "noise": bench_noise(corpus, real),
        "jpeg_options": bench_jpeg_options(corpus, quick),
        "default_renditions": [
            {"name": s.name, "max_side": s.max_side, "format": s.format, "quality": s.quality}
            for s in render.DEFAULT_RENDITIONS
        ],
        "lossless": bench_lossless(quick),
        "pipeline": bench_pipeline(quick),
        "display": _display_speed(quick),
    }
    results["targets"] = _targets(results)
    return results


def _cell(value: object) -> str:
    """Floats to four significant-ish places for the report; everything else as `str`."""
    if isinstance(value, float):
        if abs(value) < 1:
            return f"{value:.4f}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _table(headers: list[str], rows: list[list[object]]) -> str:
    return report.table(headers, rows, cell=_cell)


def markdown(results: dict[str, object]) -> str:
    """The human report of `run()`'s results."""
    env = results["environment"]
    parts = [
        *report.header(
            "Imaging benchmark",
            env,
            "One process, codecs single-threaded: every rate is per core. Synthetic corpus "
            "(`bitewing.core.imaging.synthetic`). Regenerate: `uv run python -m bench --suite imaging`.",
        ),
        *report.targets_section(results["targets"], _cell),
        "## Default rendition set per image",
        "",
        "Defaults: "
        + ", ".join(
            f"{d['name']} {d['max_side'] or 'full'} {d['format']} q{d['quality']}"
            for d in results["default_renditions"]
        )
        + " (full raised adaptively).",
        "",
        _table(
            [
                "image",
                "set / original",
                "thumb B",
                "preview B",
                "full B",
                "full q",
                "full PSNR dB",
                "full SSIM",
                "tile est. PSNR / SSIM",
                "render ms",
            ],
            [
                [
                    r["image"],
                    f"{r['share_of_original']:.2%}",
                    r["bytes"]["thumbnail"],
                    r["bytes"]["preview"],
                    r["bytes"]["full"],
                    r["full_quality"],
                    r["full_psnr_db"],
                    r["full_ssim"],
                    f"{r['estimate_psnr_db']:.2f} / {r['estimate_ssim']:.4f}",
                    r["render_ms"],
                ]
                for r in [*results["rendition_sets"], *results["real_rendition_sets"]]
            ],
        ),
        "",
        "Rows marked real are pydicom-data's CR radiographs (not part of the size targets). Fidelity is measured "
        "on the whole image; the quality was chosen from the tile estimate (25 block-aligned 64x64 tiles, "
        f"margins {render.SAMPLE_MARGIN_PSNR} dB / {render.SAMPLE_MARGIN_SSIM}).",
        "",
        "## Noise: synthetic vs real radiographs",
        "",
        "Flattest tenth of 64x64 blocks, quadratic trend removed. White noise has neighbour correlation 0 and "
        "NPS ratio 1; detectors blur their quantum noise (scintillator, storage phosphor), so neighbours "
        "correlate and the noise power falls towards Nyquist.",
        "",
        _table(
            ["image", "neighbour corr. h / v", "NPS Nyquist / low", "noise SD (display grey)"],
            [
                [
                    r["image"],
                    f"{r['neighbour_correlation_h']:.2f} / {r['neighbour_correlation_v']:.2f}",
                    r["nps_nyquist_vs_low"],
                    r["noise_sd_display_grey"],
                ]
                for r in results["noise"]
            ],
        ),
        "",
        "## Pillow JPEG options (full-resolution intraoral, pixels unchanged)",
        "",
        _table(
            ["quality", "option", "bytes vs plain", "encode ms (CPU)", "plain encode ms (CPU)"],
            [
                [r["quality"], r["option"], r["bytes_vs_plain"], r["encode_ms"], r["plain_encode_ms"]]
                for r in results["jpeg_options"]
            ],
        ),
        "",
        "## Full-resolution rendition by format and quality",
        "",
        _table(
            ["image", "format", "quality", "bytes / original", "PSNR dB", "SSIM", "encode ms"],
            [
                [
                    r["image"],
                    r["format"],
                    r["quality"],
                    f"{r['share_of_original']:.2%}",
                    r["psnr_db"],
                    r["ssim"],
                    r["encode_ms"],
                ]
                for r in results["formats"]
            ],
        ),
        "",
        "## Lossless archive codecs",
        "",
        "Encode: frame encoders called directly. Decode: pydicom's decoder path, as a receiver reads the file. "
        "CPU time of this process.",
        "",
        _table(
            ["image", "codec", "ratio", "encode MP/s", "decode MP/s", "bit-exact"],
            [
                [
                    r["image"],
                    r["codec"],
                    r["ratio"],
                    r["encode_mp_per_s"],
                    r["decode_mp_per_s"],
                    r["bit_exact"],
                ]
                for r in results["lossless"]
            ],
        ),
        "",
        "## Pipeline (render_instance + archive_instance) vs a naive peer and Orthanc, one core",
        "",
        "Ours: both processing steps on the received bytes, as the two jobs run them (the archive step parses "
        "the instance again). Naive peer: pydicom `pixel_array`, `apply_modality_lut` + `apply_voi_lut` in float, Pillow LANCZOS from the "
        "full image for each size, JPEG q90, pydicom `compress(JPEGLSLossless)` (no verification). Seconds are "
        "CPU seconds of this process (per core), ours and the peer taking turns round by round; the targets are "
        "checked against the median round. Best-of is the fastest round (timeit's statistic: interference "
        "from other tenants of the machine only adds time). Wall seconds include waiting for a shared CPU. "
        "Orthanc: Orthanc 1.10's own on-demand rendering of the same instance, `GET /instances/{id}/preview` "
        "(one full-size PNG; a volume's first frame), its process's CPU seconds per request (read from /proc; "
        "a picture cheaper than ~0.2 s is requested several times per round and the time divided), taking "
        "turns with ours; it makes one picture where ours makes three renditions and a verified lossless "
        "archive.",
        "",
        _table(
            [
                "image",
                "ours CPU s",
                "ours wall s",
                "ours img/s",
                "ours img/s, best-of",
                "s per 100 MP",
                "naive s",
                "naive img/s",
                "speed-up",
                "Orthanc /preview s",
                "Orthanc img/s",
                "speed-up vs Orthanc",
            ],
            [
                [
                    r["image"],
                    r["seconds"],
                    r["wall_seconds"],
                    r["images_per_s"],
                    r["best_images_per_s"],
                    r["s_per_100_mp"],
                    r["naive_seconds"],
                    r["naive_images_per_s"],
                    r["speedup_vs_naive"],
                    r["orthanc_preview_seconds"],
                    r["orthanc_preview_images_per_s"],
                    r["speedup_vs_orthanc_preview"],
                ]
                for r in results["pipeline"]
            ],
        ),
        "",
        "Steps of the last run (wall ms): "
        + "; ".join(
            f"{r['image']}: " + ", ".join(f"{k} {v}" for k, v in r["last_run_steps_ms"].items())
            for r in results["pipeline"]
        ),
        "",
        "## Display (window) speed",
        "",
        f"{results['display']['megapixels']:.2f} MP 12-bit frame: LUT path {results['display']['lut_ms']:.2f} ms; "
        f"pydicom float apply_modality_lut + apply_voi_lut {results['display']['pydicom_float_ms']:.2f} ms.",
        "",
    ]
    return "\n".join(parts)
