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


@pytest.fixture(scope="session")
def veteran_analyze(tmp_path_factory):
    """One ``hccstudy analyze tests/reference/veteran.yaml`` through the CLI, with its whole report
    (``out``, ``exit_code``, ``output``), shared by the tests that read its output."""
    from typer.testing import CliRunner

    from hccstudy.cli import app

    out = tmp_path_factory.mktemp("veteran") / "out"
    r = CliRunner().invoke(app, ["analyze", str(Path(__file__).parent / "reference" / "veteran.yaml"), "--out", str(out)])
    return SimpleNamespace(out=out, exit_code=r.exit_code, output=r.output)


#: session fixture -> the xdist group of the tests that use it (see pytest_collection_modifyitems)
GROUPS = {"builtin_run": BUILTIN_GROUP, "builtin_cli_run": BUILTIN_GROUP, "veteran_analyze": "veteran-analyze"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Put every test that uses a costly session fixture (a whole run of a study) into that fixture's
    xdist group (``--dist loadgroup`` in pyproject.toml), so that it is built by one worker, once, while
    the other workers take the rest of the suite.  Without xdist the mark is inert.  ``tryfirst``: xdist
    reads the marks in its own hook (it appends ``@group`` to the node ids), which must run after this."""
    for item in items:
        groups = {GROUPS[f] for f in getattr(item, "fixturenames", ()) if f in GROUPS}
        if len(groups) > 1:
            raise pytest.UsageError(f"{item.nodeid} uses fixtures of two xdist groups {sorted(groups)}: one group a test")
        if groups:
            item.add_marker(pytest.mark.xdist_group(groups.pop()))
