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
