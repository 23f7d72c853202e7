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


@dataclass
class ImportSummary:
    """Counts of what an import did, with the reasons of rejections."""

    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """A few human lines: totals, then each rejection reason with one example file."""
        lines = [f"imported {self.imported}, duplicates {self.duplicates}, rejected {self.rejected}"]
        for reason, count in self.reasons.most_common():
            lines.append(f"  {count} rejected as {reason} (e.g. {self.examples[reason]})")
        return "\n".join(lines)


def _zip_sources(path: Path) -> Iterator[Source]:
    with zipfile.ZipFile(path) as archive:
        members = [
            m for m in archive.infolist() if not m.is_dir() and Path(m.filename).name not in SKIPPED_NAMES
        ]
    for member in members:
        if member.file_size > MAX_MEMBER_BYTES:
            continue

        def read(name: str = member.filename) -> bytes:
            with zipfile.ZipFile(path) as archive:
                return archive.read(name)

        yield Source(f"{path.name}:{member.filename}", read)


def iter_sources(paths: Iterable[Path]) -> Iterator[Source]:
    """Every file below `paths` (recursively), zip members included, in a stable order."""
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
    sources: Iterable[Source],
    *,
    location_id: uuid.UUID | None = None,
    progress: Callable[[int], None] = lambda _n: None,
) -> ImportSummary:
    """Receive every source for the tenant; re-running is safe (identical instances are duplicates).

    With in-process jobs, waits for processing to finish before returning.
    """
    summary = ImportSummary()
    for source in sources:
        origin = Origin(source=IngestSource.IMPORT, location_id=location_id, filename=source.name)
        receipt = receive_instance(runtime, tenant_id, source.read(), origin)
        if receipt.status == IngestStatus.RECEIVED:
            summary.imported += 1
        elif receipt.status == IngestStatus.DUPLICATE:
            summary.duplicates += 1
        else:
            summary.rejected += 1
            reason = receipt.reason or "rejected"
            summary.reasons[reason] += 1
            summary.examples.setdefault(reason, f"{source.name}: {receipt.message}")
        progress(1)
    if isinstance(runtime.jobs, InProcessRunner):
        runtime.jobs.drain()
    return summary
