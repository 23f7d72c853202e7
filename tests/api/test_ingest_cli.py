"""`bitewing ingest PATH...`: a practice moving in imports folders and zip archives of its DICOM files."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from bitewing.core.imaging import synthetic
from bitewing.core.ingest import importer
from tests.api.helpers import invoke_cli
from tests.api.imaging_helpers import register_patient

AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}


def _image(seed: int) -> bytes:
    return synthetic.to_bytes(synthetic.make_instance("periapical", shape=(120, 90), seed=seed, **AMELIA))


def _old_practice(root: Path) -> Path:
    """Three images (one in a sub-folder, one in a zip with a truncated file), a DICOMDIR, a hidden file
    and a stray text file."""
    (root / "2019").mkdir(parents=True)
    (root / "a.dcm").write_bytes(_image(1))
    (root / "2019" / "b.dcm").write_bytes(_image(2))
    with zipfile.ZipFile(root / "2020.zip", "w") as archive:
        archive.writestr("c.dcm", _image(3))
        archive.writestr("broken.dcm", _image(4)[:2000])
        archive.writestr("DICOMDIR", b"an index, not an image")
    (root / "DICOMDIR").write_bytes(b"an index, not an image")
    (root / ".DS_Store").write_bytes(b"finder clutter")
    (root / "readme.txt").write_text("exported by the old imaging software")
    return root


def _images(owner: Any, patient_id: str) -> list[dict[str, Any]]:
    return owner.get(f"/api/v1/patients/{patient_id}/images").get_json()


def _summary(result: Any, exit_code: int) -> tuple[str, list[str], str]:
    """The summary's totals line, its reason counts (sorted) and its whole text, once the exit code checks."""
    assert result.exit_code == exit_code, result.output
    totals, *reasons = result.stdout.splitlines()
    return totals, sorted(line.split(" (e.g. ")[0].strip() for line in reasons), result.stdout


def test_a_folder_with_archives_is_imported_with_a_summary_and_can_be_run_again(
    owner: Any, runtime: Any, tmp_path: Path
) -> None:
    patient = register_patient(owner)
    folder = _old_practice(tmp_path / "export")

    first = invoke_cli(runtime, "ingest", "--tenant", owner.slug, str(folder))
    totals, reasons, text = _summary(first, 0)
    assert totals == "imported 3, duplicates 0, rejected 2"
    assert reasons == ["1 rejected as not_dicom", "1 rejected as truncated"]
    assert "2020.zip:broken.dcm" in text
    assert "importing 5 files" in first.stderr
    images = _images(owner, patient["id"])
    assert len(images) == 3 and all(i["image_type"] == "periapical" for i in images)
    received = owner.get("/api/v1/ingest?page_size=50").get_json()
    assert {r["source"] for r in received} == {"import"}
    assert {r["filename"].rsplit("/", 1)[-1] for r in received if r["status"] == "rejected"} == {
        "2020.zip:broken.dcm",
        "readme.txt",
    }

    again = invoke_cli(runtime, "ingest", "--tenant", owner.slug, str(folder))
    assert _summary(again, 0)[0] == "imported 0, duplicates 3, rejected 2"
    assert [i["id"] for i in _images(owner, patient["id"])] == [i["id"] for i in images]


def test_nothing_importable_fails_and_unknown_tenants_or_paths_are_refused(
    owner: Any, runtime: Any, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    nothing = invoke_cli(runtime, "ingest", "--tenant", owner.slug, str(notes))
    assert _summary(nothing, 1)[0] == "imported 0, duplicates 0, rejected 1"

    unknown_tenant = invoke_cli(runtime, "ingest", "--tenant", "no-such-practice", str(notes))
    assert unknown_tenant.exit_code == 1
    assert "no tenant with slug 'no-such-practice'" in unknown_tenant.output
    missing = invoke_cli(runtime, "ingest", "--tenant", owner.slug, str(tmp_path / "missing"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert owner.get("/api/v1/ingest?status=received").get_json() == []


def test_oversized_or_damaged_archive_members_are_counted_as_rejected_not_skipped(
    owner: Any, runtime: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _image(5)
    folder = tmp_path / "export"
    folder.mkdir()
    with zipfile.ZipFile(folder / "old.zip", "w") as archive:
        archive.writestr("huge.dcm", image + bytes(4096))
        archive.writestr("tiny.txt", b"hi")
    with zipfile.ZipFile(folder / "damaged.zip", "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("rotten.dcm", image)
    damaged = (folder / "damaged.zip").read_bytes()
    middle = damaged.index(image[1000:1040]) + 20
    (folder / "damaged.zip").write_bytes(
        damaged[:middle] + bytes([damaged[middle] ^ 0xFF]) + damaged[middle + 1 :]
    )
    monkeypatch.setattr(importer, "MAX_MEMBER_BYTES", len(image) + 4095)

    totals, reasons, text = _summary(invoke_cli(runtime, "ingest", "--tenant", owner.slug, str(folder)), 1)
    assert totals == "imported 0, duplicates 0, rejected 3"
    assert reasons == ["1 rejected as not_dicom", "1 rejected as too_large", "1 rejected as unreadable"]
    assert "damaged.zip:rotten.dcm: Bad CRC-32" in text
    assert "old.zip:huge.dcm" in text
