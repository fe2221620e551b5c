from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

import hccstudy


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped example study."""
    dst = tmp_path / "study"
    shutil.copytree(hccstudy.example_study_path(), dst)
    return dst


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def tree_digest():
    """SHA-256 of every file under a folder (to prove inputs are never modified)."""
    return _tree_digest


@pytest.fixture(scope="session")
def builtin_run(tmp_path_factory):
    """One run of the built-in synthetic study (``hccstudy.run_study(None, ...)``), shared by every
    test that only reads its output (it takes tens of seconds)."""
    return hccstudy.run_study(None, out=tmp_path_factory.mktemp("builtin") / "report")
