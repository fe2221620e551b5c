"""Example inputs shipped with the package, for trying each command on real files.

* ``study``: a small hand-made three-centre study of raw records (20 patients; CSV folders and an
  Excel workbook), for ``validate``, ``flow`` and ``run``;
* ``veteran``: the Veterans' Administration lung cancer trial (Kalbfleisch & Prentice 1980; R
  survival's ``veteran``, 137 patients) as an analysis-ready table with its ``analyze`` config.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

EXAMPLES = {
    "study": ("example", "three-centre raw-record study (20 patients) for validate, flow and run"),
    "veteran": ("veteran", "analysis-ready table (R survival's veteran, 137 patients) + veteran.yaml for analyze"),
}


def example_path(name: str) -> Path:
    """The folder of a shipped example (read-only in an installed package: copy it to change it)."""
    if name not in EXAMPLES:
        raise KeyError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    return Path(str(files("hccstudy") / "data" / EXAMPLES[name][0]))


def copy_example(name: str, dest: Path) -> list[Path]:
    """Copy the example's files into the existing folder ``dest``; returns the files written."""
    src = example_path(name)
    shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return sorted(p for p in Path(dest).rglob("*") if p.is_file())
