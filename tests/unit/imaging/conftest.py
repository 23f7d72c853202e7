"""Fixtures for the imaging unit tests: small synthetic instances and pydicom's test files."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from bitewing.core.imaging import synthetic


def load_testdata(name: str) -> Dataset:
    """A file from pydicom's own test files or the pydicom-data package (both installed, no download)."""
    path = get_testdata_file(name, download=False)
    assert path, f"{name} is not installed"
    return pydicom.dcmread(path)


@pytest.fixture
def intraoral() -> Dataset:
    """A small (300x200) 12-bit intraoral instance: fast enough for any test."""
    return synthetic.make_instance("intraoral", shape=(300, 200), teeth=["36", "37"])


@pytest.fixture
def small_cbct() -> Dataset:
    """A tiny signed 16-bit Enhanced CT volume (12 frames of 48x40)."""
    return synthetic.make_instance("cbct", shape=(48, 40), frames=12)
