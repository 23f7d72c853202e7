"""The workspace layout: PEP 420 namespaces that shadow nothing, and the import-linter contracts."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

NAMESPACE_FOLDERS = [
    "platform",
    "platform/src",
    "platform/src/bitewing",
    "admin/src/bitewing",
    "portal/src/bitewing",
    "alembic",
]


def connector_namespace_folders() -> list[str]:
    folders = []
    for connector in sorted((ROOT / "connectors").iterdir()):
        if (connector / "pyproject.toml").is_file():
            folders += [
                str((connector / "src/bitewing").relative_to(ROOT)),
                str((connector / "src/bitewing/connectors").relative_to(ROOT)),
            ]
    return folders


def run_python(code: str) -> str:
    """Run `code` with this interpreter from the repository root, where stray packages would shadow."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_the_connectors_are_where_the_layout_says() -> None:
    assert {Path(p).parts[1] for p in connector_namespace_folders()} >= {"orthanc", "dicomweb", "s3"}


@pytest.mark.parametrize("folder", NAMESPACE_FOLDERS + connector_namespace_folders())
def test_namespace_folder_has_no_init_file(folder: str) -> None:
    assert (ROOT / folder).is_dir(), f"{folder} is missing"
    assert not (ROOT / folder / "__init__.py").exists(), (
        f"{folder}/__init__.py must not exist: it would shadow a module or break the bitewing namespace"
    )


def test_platform_from_the_repository_root_is_the_standard_library_module() -> None:
    location = Path(run_python("import platform; print(platform.__file__)"))
    assert location.parent == Path(sysconfig.get_paths()["stdlib"])
    assert location.name == "platform.py"


def test_alembic_from_the_repository_root_is_the_installed_package() -> None:
    location = Path(run_python("import alembic; print(alembic.__file__)"))
    assert location.name == "__init__.py"
    assert Path(sysconfig.get_paths()["purelib"]) in location.parents


def test_bitewing_is_one_namespace_over_every_member() -> None:
    paths = run_python("import bitewing; print('\\n'.join(bitewing.__path__))").splitlines()
    assert getattr(__import__("bitewing"), "__file__", None) is None
    expected = {"platform", "admin", "portal", "connectors/orthanc", "connectors/dicomweb", "connectors/s3"}
    found = {str(Path(p).resolve().parent.parent.relative_to(ROOT)) for p in paths if ROOT in Path(p).parents}
    assert expected <= found


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_connector_contract_forbids_every_core_module_but_plugins() -> None:
    """A new core module must be added to the contract, or connectors could start importing it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["bitewing.connectors"]
    ]
    core = ROOT / "platform" / "src" / "bitewing" / "core"
    modules = {
        p.stem for p in core.iterdir() if (p.suffix == ".py" or p.is_dir()) and not p.name.startswith("__")
    }
    forbidden = {
        m.removeprefix("bitewing.core.")
        for m in contract["forbidden_modules"]
        if m.startswith("bitewing.core")
    }
    assert modules - {"plugins"} == forbidden
