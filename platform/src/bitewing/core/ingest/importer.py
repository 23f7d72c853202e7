"""Bulk import of existing DICOM files, folders and zip archives (a practice moving in)."""

from __future__ import annotations

import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bitewing.core.ingest.models import IngestSource, IngestStatus
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.jobs.runners import InProcessRunner
from bitewing.core.runtime import Runtime

SKIPPED_NAMES = {"DICOMDIR"}
MAX_MEMBER_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Source:
    """One candidate file: a display name and a way to read its bytes."""

    name: str
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Refused:
    """A candidate file refused without being read (an oversized zip member, an unreadable archive)."""

    name: str
    reason: str
    message: str


@dataclass
class ImportSummary:
    """Counts of what an import did, with the reasons of rejections."""

    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def refuse(self, name: str, reason: str, message: str) -> None:
        """Count one file rejected for `reason`, keeping the first one of each reason as its example."""
        self.rejected += 1
        self.reasons[reason] += 1
        self.examples.setdefault(reason, f"{name}: {message}")

    def describe(self) -> str:
        """A few human lines: totals, then each rejection reason with one example file."""
        lines = [f"imported {self.imported}, duplicates {self.duplicates}, rejected {self.rejected}"]
        for reason, count in self.reasons.most_common():
            lines.append(f"  {count} rejected as {reason} (e.g. {self.examples[reason]})")
        return "\n".join(lines)


def _zip_sources(path: Path) -> Iterator[Source | Refused]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                m for m in archive.infolist() if not m.is_dir() and Path(m.filename).name not in SKIPPED_NAMES
            ]
    except (zipfile.BadZipFile, OSError) as exc:
        yield Refused(path.name, "bad_archive", f"the zip archive cannot be read: {exc}")
        return
    for member in members:
        if member.file_size > MAX_MEMBER_BYTES:
            limit = f"{member.file_size} bytes unpacked, more than {MAX_MEMBER_BYTES} allowed"
            yield Refused(f"{path.name}:{member.filename}", "too_large", limit)
            continue

        def read(name: str = member.filename) -> bytes:
            with zipfile.ZipFile(path) as archive:
                return archive.read(name)

        yield Source(f"{path.name}:{member.filename}", read)


def iter_sources(paths: Iterable[Path]) -> Iterator[Source | Refused]:
    """Every file below `paths` (recursively), zip members included, in a stable order; what cannot be
    read from an archive comes as `Refused`."""
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.name in SKIPPED_NAMES or file.name.startswith("."):
                continue
            if zipfile.is_zipfile(file):
                yield from _zip_sources(file)
            else:
                yield Source(str(file), file.read_bytes)


def import_paths(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    sources: Iterable[Source | Refused],
    *,
    location_id: uuid.UUID | None = None,
    progress: Callable[[int], None] = lambda _n: None,
) -> ImportSummary:
    """Receive every source for the tenant; re-running is safe (identical instances are duplicates).

    Refused and unreadable sources are counted as rejected with their reason (nothing of them is stored).

    With in-process jobs, waits for processing to finish before returning.
    """
    summary = ImportSummary()
    for source in sources:
        _import_one(runtime, tenant_id, source, location_id, summary)
        progress(1)
    if isinstance(runtime.jobs, InProcessRunner):
        runtime.jobs.drain()
    return summary


def _import_one(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    source: Source | Refused,
    location_id: uuid.UUID | None,
    summary: ImportSummary,
) -> None:
    if isinstance(source, Refused):
        summary.refuse(source.name, source.reason, source.message)
        return
    try:
        data = source.read()
    except (OSError, zipfile.BadZipFile) as exc:
        summary.refuse(source.name, "unreadable", str(exc))
        return
    origin = Origin(source=IngestSource.IMPORT, location_id=location_id, filename=source.name)
    receipt = receive_instance(runtime, tenant_id, data, origin)
    if receipt.status == IngestStatus.RECEIVED:
        summary.imported += 1
    elif receipt.status == IngestStatus.DUPLICATE:
        summary.duplicates += 1
    else:
        summary.refuse(source.name, receipt.reason or "rejected", receipt.message or "")
