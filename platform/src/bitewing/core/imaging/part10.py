"""Write a dataset as DICOM Part-10 bytes."""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID

IMPLEMENTATION_CLASS_UID = UID("1.2.826.0.1.3680043.10.1406.1")
IMPLEMENTATION_VERSION = "BITEWING_1"


def shallow_copy(ds: Dataset) -> Dataset:
    """A new dataset holding the same element objects: deleting or adding elements leaves `ds` untouched.

    (`Dataset(ds)` and `copy.copy(ds)` share the element dict itself, so they do not give that guarantee.)
    To change an element of the copy, delete it and set it anew (`replace`).
    """
    kind = FileMetaDataset if isinstance(ds, FileMetaDataset) else Dataset
    out = kind({tag: ds.get_item(tag) for tag in ds.keys()})  # noqa: SIM118 (iterating yields elements)
    if "file_meta" in ds.__dict__ and ds.file_meta is not None and kind is Dataset:
        out.file_meta = shallow_copy(ds.file_meta)
    return out


def without_pixel_data(ds: Dataset) -> Dataset:
    """A `shallow_copy` of `ds` without its pixel data and the elements after it (group 7FE0 onwards)."""
    header = shallow_copy(ds)
    for tag in [t for t in header.keys() if t >= 0x7FE00000]:  # noqa: SIM118 (keys are tags)
        del header[tag]
    return header


def replace(ds: Dataset, keyword: str, value: object) -> None:
    """Set `keyword` with a new element, never writing into an element object shared with another dataset."""
    if keyword in ds:
        del ds[keyword]
    setattr(ds, keyword, value)


def file_meta_for(ds: Dataset, syntax: str | None = None) -> FileMetaDataset:
    """A copy of `ds.file_meta` whose media storage SOP class / instance UIDs match the dataset, in
    `syntax` when given, with Bitewing's implementation class UID when it had none."""
    meta = shallow_copy(ds.file_meta) if ds.get("file_meta") is not None else FileMetaDataset()
    replace(meta, "MediaStorageSOPClassUID", ds.SOPClassUID)
    replace(meta, "MediaStorageSOPInstanceUID", ds.SOPInstanceUID)
    if syntax is not None:
        replace(meta, "TransferSyntaxUID", UID(syntax))
    if "ImplementationClassUID" not in meta:
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta


def to_bytes(ds: Dataset) -> bytes:
    """`ds` as a Part-10 file (preamble, file meta, dataset) in `ds.file_meta.TransferSyntaxUID`.

    `ds.file_meta` is replaced by a copy whose media storage SOP class / instance UIDs match the dataset.
    """
    ds.file_meta = file_meta_for(ds)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
