from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
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


#: the xdist group of the tests that use the built-in study's session run (see pytest_collection_modifyitems)
BUILTIN_GROUP = "builtin-study"


def _shared_root(tmp_path_factory) -> Path:
    """The folder every xdist worker of this session shares (each worker's basetemp is a sub-folder of
    it); without xdist, the session's own basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _once_per_session(root: Path, name: str, build):
    """``build(folder)`` run once per test session, whichever xdist worker asks first; the others wait
    for it and read its pickled result.  An exclusive ``flock`` on ``root/name.lock`` is held only while
    building, so nothing ever waits on a worker that is itself waiting (no deadlock, any grouping, -n0)."""
    folder, done = root / name, root / f"{name}.pickle"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                value = build(folder)
                tmp = done.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(pickle.dumps(value))
                tmp.replace(done)
                return value
            return pickle.loads(done.read_bytes())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _builtin_cli_run(folder: Path):
    """``hccstudy run --out FOLDER/report --log-json`` (the README's first command, with one JSON line per
    stage) through the CLI in this process, and the :class:`hccstudy.StudyRun` that the command's own
    call of :func:`hccstudy.run_study` returned (captured on its way out, not recomputed): the files the
    user gets and the objects the library gives, from one run.  That the CLI and the library call agree
    byte for byte is a test of its own on a small study (tests/test_report.py)."""
    from typer.testing import CliRunner

    import hccstudy.pipeline
    from hccstudy.cli import app

    got = []
    real = hccstudy.pipeline.run_study

    def capture(*args, **kwargs):
        got.append(real(*args, **kwargs))
        return got[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hccstudy.pipeline, "run_study", capture)  # cli.run imports it from the module when called
        r = CliRunner().invoke(app, ["run", "--out", str(folder / "report"), "--log-json"])
    cli = SimpleNamespace(out=folder / "report", exit_code=r.exit_code, output=r.output)
    return (got[0] if len(got) == 1 else None), cli


def _builtin(tmp_path_factory):
    return _once_per_session(_shared_root(tmp_path_factory), "builtin", _builtin_cli_run)


@pytest.fixture(scope="session")
def builtin_run(tmp_path_factory):
    """The :class:`hccstudy.StudyRun` of the session's one whole run of the built-in synthetic study (see
    :func:`_builtin_cli_run`), shared by every test that only reads its output (it takes tens of
    seconds).  It runs once per session: the tests that use it run on one xdist worker (group
    ``builtin-study``), which builds it, and a test of another worker that needs it too waits for it and
    reads the same run."""
    run, cli = _builtin(tmp_path_factory)
    assert run is not None, f"hccstudy run failed (exit {cli.exit_code}):\n{cli.output[-3000:]}"
    return run


@pytest.fixture(scope="session")
def builtin_cli_run(tmp_path_factory):
    """The same run seen from the command line: ``out``, ``exit_code`` and ``output`` (the JSON lines of
    ``--log-json``) of ``hccstudy run --out DIR --log-json``."""
    return _builtin(tmp_path_factory)[1]


@pytest.fixture(scope="session")
def veteran_analyze(tmp_path_factory):
    """One ``hccstudy analyze tests/reference/veteran.yaml`` through the CLI, with its whole report
    (``out``, ``exit_code``, ``output``), shared by the tests that read its output."""
    from typer.testing import CliRunner

    from hccstudy.cli import app

    out = tmp_path_factory.mktemp("veteran") / "out"
    r = CliRunner().invoke(app, ["analyze", str(Path(__file__).parent / "reference" / "veteran.yaml"), "--out", str(out)])
    return SimpleNamespace(out=out, exit_code=r.exit_code, output=r.output)


#: session fixture -> the xdist group of the tests that use it (see pytest_collection_modifyitems), in
#: the order the groups are queued, before every other test
GROUPS = {"builtin_run": BUILTIN_GROUP, "builtin_cli_run": BUILTIN_GROUP, "veteran_analyze": "veteran-analyze",
          # module fixtures that generate a cohort (seconds each): their tests on one worker, so that the
          # cohort is built once, not once on each worker that got one of them
          "own_study": "own-study",  # test_own_study.py: 1,500 screened
          "small_study": "derive-small-study",  # test_derive_speed_paths.py: 400 screened, ingested
          "centre_tables": "ingest-centre-tables"}  # test_ingest_speed_paths.py: 400 screened
#: fixtures that any worker may share (built once per session, see _once_per_session): a test that uses
#: one of them and a fixture of another group goes to the other group
SHAREABLE = {"builtin_run", "builtin_cli_run"}


def pytest_configure(config):
    """Keep the order that :func:`pytest_collection_modifyitems` gives.  xdist >= 3.8 otherwise re-sorts the
    work units by their number of tests (``--loadscope-reorder``, its default), which queued the 25 quick
    tests of the web_runs group before a group of 2 tests that made a whole run of the built-in study, so that
    whole run started late instead of at once beside the first."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Put every test that uses a costly session fixture (a whole run of a study) into that fixture's
    xdist group (``--dist loadgroup`` in pyproject.toml), so that it is built by one worker, once, while
    the other workers take the rest of the suite, and queue the groups first (xdist hands out work in
    collection order), so that the built-in run starts at once on one worker and the next group on the
    other, then the tests marked ``costly``, and the short tests fill in around them (no long test left for
    the end).  Without xdist the marks are inert (only the order changes).  ``tryfirst``:
    xdist reads the marks in its own hook (it appends ``@group`` to the node ids), which must run after
    this."""
    order = {g: i for i, g in enumerate(dict.fromkeys(GROUPS.values()))}
    rank = {}
    for item in items:
        used = [f for f in getattr(item, "fixturenames", ()) if f in GROUPS]
        groups = {GROUPS[f] for f in used if f not in SHAREABLE} or {GROUPS[f] for f in used}
        if len(groups) > 1:
            raise pytest.UsageError(f"{item.nodeid} uses fixtures of two xdist groups {sorted(groups)}: one group a test")
        if groups:
            group = groups.pop()
            item.add_marker(pytest.mark.xdist_group(group))
            rank[item.nodeid] = order[group]
    # then the costly ungrouped tests, so that none of them is left for the end of the run
    costly = len(order)
    items.sort(key=lambda item: rank.get(item.nodeid, costly if item.get_closest_marker("costly") else costly + 1))
