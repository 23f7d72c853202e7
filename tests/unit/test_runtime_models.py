"""Every process that builds a runtime knows every table, whichever service modules it imports.

The DICOM listener imports only the ingest path; a foreign key from an ingest record to a table of a module
it never imported (patients) once failed every C-STORE there with NoReferencedTableError.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from bitewing.core.runtime import build_runtime
from bitewing.core.ingest.models import IngestRecord
from bitewing.core.db.base import Base
unresolved = []
for table in Base.metadata.tables.values():
    for key in table.foreign_keys:
        try:
            key.column
        except Exception as exc:
            unresolved.append(f"{table.name}.{key.parent.name}: {exc}")
print("\\n".join(unresolved) or "ok")
"""


def test_a_runtime_process_resolves_every_foreign_key() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "ok"
