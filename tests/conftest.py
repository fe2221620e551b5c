from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

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


#: the xdist group of every test that uses the built-in study's run (see pytest_collection_modifyitems)
BUILTIN_GROUP = "builtin-study"


@pytest.fixture(scope="session")
def builtin_run(tmp_path_factory):
    """One run of the built-in synthetic study (``hccstudy.run_study(None, ...)``), shared by every
    test that only reads its output (it takes tens of seconds).  Under pytest-xdist every test that
    uses it runs on one worker (group ``builtin-study``), so the study runs once per session."""
    return hccstudy.run_study(None, out=tmp_path_factory.mktemp("builtin") / "report")


@pytest.fixture(scope="session")
def builtin_cli_run(tmp_path_factory):
    """One fresh ``hccstudy run --log-json`` of the built-in study through the CLI (``out``, ``exit_code``,
    ``output``): the one second run of the session, which tests compare against :func:`builtin_run`
    (determinism, CLI = library) and read for what only the CLI writes."""
    from typer.testing import CliRunner

    from hccstudy.cli import app

    out = tmp_path_factory.mktemp("builtin-cli") / "report"
    r = CliRunner().invoke(app, ["run", "--out", str(out), "--log-json"])
    return SimpleNamespace(out=out, exit_code=r.exit_code, output=r.output)


def pytest_collection_modifyitems(config, items):
    """Put every test that uses a session fixture of the built-in study into one xdist group
    (``--dist loadgroup`` in pyproject.toml), so that the study is run by one worker, once, while the
    other workers take the rest of the suite.  Without xdist the mark is inert."""
    shared = {"builtin_run", "builtin_cli_run"}
    for item in items:
        if shared & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(BUILTIN_GROUP))
