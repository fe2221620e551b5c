"""Output folders and files (hccstudy.output, docs/reliability.md "Output folders"): never over an input,
--force only over our own folders, checked before computing, atomic, locked, stale temps cleaned."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hccstudy
import hccstudy.cli as cli
from hccstudy import output
from hccstudy.cli import app
from hccstudy.output import (
    MARKER,
    OutputError,
    OutputFile,
    OutputFolder,
    is_hccstudy_output,
    remove_stale_temps,
)

runner = CliRunner()
SRC = Path(hccstudy.__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"


def _write_ours(folder: Path, text: str = "old") -> Path:
    """A folder as hccstudy writes it (what --force may replace)."""
    with OutputFolder(folder, force=True, command="test") as o, o.writing():
        (o.path / "result.txt").write_text(text)
    return folder


def _no_temps(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".hccstudy-" in p.name or p.name.endswith(".hccstudy.lock")]


# hccstudy.output needs nothing of the package but its version: a stub package keeps the child processes
# of the concurrency tests from importing pandas, scipy and matplotlib (seconds each on a busy machine)
LIGHT_IMPORT = f"""
import sys, types
pkg = types.ModuleType("hccstudy")
pkg.__path__, pkg.__version__ = [{str(SRC / "hccstudy")!r}], "test"
sys.modules["hccstudy"] = pkg
"""


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    code = LIGHT_IMPORT + textwrap.dedent(code)
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a command starts reading or computing (the output must be refused first)."""
    def boom(*a, **k):
        raise AssertionError("computed before the output place was checked")
    for name in ("load_study", "ingest", "generate", "run_analysis"):
        monkeypatch.setattr(cli, name, boom)


# -- 1. never over an input; --force only over our own folders ------------------------------------------

@pytest.mark.parametrize("where, force, says", [
    (".", True, "is the input folder"),
    ("alpha", True, "lies inside the input folder"),
    ("report", False, "lies inside the input folder"),
    ("alpha/patients.csv", True, "lies inside the input folder"),
    ("..", True, "contains the input folder"),
])
def test_run_refuses_an_output_over_the_study(example_copy, tree_digest, no_compute, where, force, says):
    before = tree_digest(example_copy)
    out = example_copy / where
    r = runner.invoke(app, ["run", str(example_copy), "--out", str(out), *(["--force"] if force else [])])
    assert r.exit_code == 2, r.output
    assert says in r.output and "never writes over its inputs" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert tree_digest(example_copy) == before
    assert not _no_temps(example_copy) and not _no_temps(example_copy.parent)


def test_a_centre_linked_into_the_study_is_an_input_too(tmp_path, example_copy, tree_digest, no_compute):
    elsewhere = tmp_path / "elsewhere"
    (example_copy / "alpha").rename(elsewhere)
    (example_copy / "alpha").symlink_to(elsewhere)
    before = tree_digest(elsewhere)
    r = runner.invoke(app, ["run", str(example_copy), "--out", str(elsewhere), "--force"])
    assert r.exit_code == 2 and f"is the input folder {elsewhere}" in r.output, r.output
    assert tree_digest(elsewhere) == before


def test_run_refuses_an_output_over_its_config(tmp_path, example_copy, tree_digest, no_compute):
    cfg = tmp_path / "cfgdir" / "study.yaml"
    cfg.parent.mkdir()
    cfg.write_text("units:\n  bilirubin_factor: 17.1\n")
    before = tree_digest(cfg.parent)
    for out in (cfg, cfg.parent):
        r = runner.invoke(app, ["run", str(example_copy), "--config", str(cfg), "--out", str(out), "--force"])
        assert r.exit_code == 2 and "never writes over its inputs" in r.output, r.output
    assert tree_digest(cfg.parent) == before


def test_analyze_refuses_an_output_over_its_data_or_config(tmp_path, tree_digest, no_compute):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(REF / "shared" / "veteran.csv", data / "veteran.csv")
    cfg = tmp_path / "conf" / "veteran.yaml"
    cfg.parent.mkdir()
    cfg.write_text((REF / "veteran.yaml").read_text().replace("data: shared/veteran.csv", f"data: {data / 'veteran.csv'}"))
    before = tree_digest(tmp_path)
    for out in (data, data / "veteran.csv", data / "veteran.csv" / "out", cfg, cfg.parent, tmp_path):
        r = runner.invoke(app, ["analyze", str(cfg), "--out", str(out), "--force"])
        assert r.exit_code == 2 and "never writes over its inputs" in r.output, (out, r.output)
    assert tree_digest(tmp_path) == before


def test_force_replaces_only_folders_hccstudy_wrote(tmp_path, no_compute):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.docx").write_text("years of work")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    for out, says in ((user, "was not written by hccstudy"), (a_file, "is a file, not a folder")):
        for force in ([], ["--force"]):
            r = runner.invoke(app, ["synth", "--out", str(out), *force])
            assert r.exit_code == 2 and says in r.output, r.output
    assert (user / "thesis.docx").read_text() == "years of work" and a_file.read_text() == "keep"
    link = tmp_path / "link"
    link.symlink_to(_write_ours(tmp_path / "real"))
    with pytest.raises(OutputError, match="symbolic link"):
        OutputFolder(link, force=True).__enter__()
    # ours: refused without --force, replaced with it
    ours = _write_ours(tmp_path / "ours")
    assert is_hccstudy_output(ours) and json.loads((ours / MARKER).read_text())["tool"] == "hccstudy"
    with pytest.raises(OutputError, match="exists: use --force"):
        OutputFolder(ours).__enter__()
    _write_ours(ours, "new")
    assert (ours / "result.txt").read_text() == "new"
    # a report of an earlier hccstudy (manifest.json, no marker) and an empty folder may be replaced too
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "manifest.json").write_text(json.dumps({"hccstudy": "0.0.9", "versions": {"python": "3.11"}}))
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (legacy, empty):
        _write_ours(folder, "new")
        assert (folder / "result.txt").read_text() == "new" and not (folder / "manifest.json").exists()
    # a manifest.json that is not ours does not count
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"name": "some other tool"}))
    assert not is_hccstudy_output(other)
    assert not _no_temps(tmp_path)


def test_every_command_leaves_the_marker(tmp_path, monkeypatch):
    r = runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), "--patients", "100", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "s" / MARKER).read_text())["command"] == "synth"
    import hccstudy.report.build as build  # the figures in four formats are not what is tested here
    monkeypatch.setattr(build, "build_report", lambda results, out, **kw: (Path(out) / "results.json").write_text("{}"))
    r = runner.invoke(app, ["analyze", str(REF / "veteran.yaml"), "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "a" / MARKER).read_text())["command"] == "analyze"
    # replaced with --force; refused when the synthetic study is the input of run
    assert runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), "--patients", "100", "--force"]).exit_code == 0
    r = runner.invoke(app, ["run", str(tmp_path / "s"), "--out", str(tmp_path / "s"), "--force"])
    assert r.exit_code == 2 and "is the input folder" in r.output
    assert not _no_temps(tmp_path)
    # (run: tests/test_study.py::test_cli_run_writes_outputs_atomically)


# -- 2. the output place is checked before computing -----------------------------------------------------

def test_unusable_places_fail_before_computing(tmp_path, example_copy, tree_digest, no_compute):
    before = tree_digest(example_copy)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (["run", str(example_copy), "--out", "/proc/hccstudy-out"], "cannot create anything in /proc"),
        (["run", str(example_copy), "--out", "/proc", "--force"], "not written by hccstudy"),
        (["run", str(example_copy), "--out", str(a_file / "report")], "is a file, not a folder"),
        (["run", str(example_copy), "--out", str(a_file / "a" / "b")], "is a file, not a folder"),
        (["run", str(example_copy), "--out", str(a_file), "--force"], "is a file, not a folder hccstudy wrote"),
        (["analyze", str(REF / "veteran.yaml"), "--out", str(a_file), "--force"], "is a file"),
        (["synth", "--out", str(a_file), "--force"], "is a file"),
    ]
    if Path("/sys").is_dir():  # a read-only location even for root
        cases.append((["synth", "--out", "/sys/hccstudy-out"], "cannot create anything in /sys"))
    for args, says in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert says in r.output and len(r.output.strip().splitlines()) == 1, (args, r.output)
    assert a_file.read_text() == "x" and tree_digest(example_copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "study"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_folder_fails_before_computing(tmp_path, no_compute):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = runner.invoke(app, ["synth", "--out", str(ro / "out")])
        assert r.exit_code == 2 and "cannot create anything in" in r.output, r.output
    finally:
        ro.chmod(0o755)


def test_missing_parents_are_created_and_removed_again_on_failure(tmp_path, example_copy):
    out = tmp_path / "a" / "b" / "report"
    r = runner.invoke(app, ["run", str(example_copy / "nothing-here"), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "a").exists()


def test_validate_csv_place_is_checked_and_written_atomically(tmp_path, example_copy, tree_digest):
    before = tree_digest(example_copy)
    folder = tmp_path / "folder"
    folder.mkdir()
    for csv, says in ((tmp_path / "missing" / "issues.csv", "does not exist"),
                      (folder, "is a folder"),
                      (example_copy / "alpha" / "patients.csv", "never writes over its inputs"),
                      (example_copy / "issues.csv", "never writes over its inputs"),
                      (tmp_path / "f.txt" / "issues.csv", "is a file")):
        if csv.parent.name == "f.txt":
            csv.parent.write_text("x")
        r = runner.invoke(app, ["validate", str(example_copy), "--csv", str(csv)])
        assert r.exit_code == 2 and says in r.output and "Records read" not in r.output, (csv, r.output)
    assert tree_digest(example_copy) == before
    good = tmp_path / "issues.csv"
    good.write_text("old\n")
    r = runner.invoke(app, ["validate", str(example_copy), "--csv", str(good)])
    assert r.exit_code in (0, 2) and "Records read" in r.output, r.output
    assert good.read_text().startswith("severity,") and good.stat().st_mode & 0o044  # not mkstemp's 0600
    assert not _no_temps(tmp_path) and tree_digest(example_copy) == before


# -- 2b. a real I/O failure while writing: one line, exit 1, nothing left ---------------------------------

@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   OSError("encoder error -2 when writing image file")])
def test_io_failure_while_writing_is_exit_1_and_leaves_nothing(tmp_path, monkeypatch, error):
    def write_cohort(cohort, folder, excel=True):
        (Path(folder) / "central.xlsx").write_text("half")
        if error.errno:
            error.filename = str(Path(folder) / "east" / "labs.csv")
        raise error
    monkeypatch.setattr(cli, "generate", lambda seed, n: None)
    monkeypatch.setattr(cli, "write_cohort", write_cohort)
    out = tmp_path / "new" / "cohort"
    r = runner.invoke(app, ["synth", "--out", str(out)])
    assert r.exit_code == 1, r.output
    line = r.output.strip()
    assert len(line.splitlines()) == 1 and str(out) in line and "nothing was written" in line
    assert ("[Errno 28] No space left on device" in line and str(out / "east" / "labs.csv") in line
            if error.errno else "encoder error -2" in line)
    assert not (tmp_path / "new").exists()  # no output, no temp folder, no lock, no created parent
    # replacing: the previous output stays as it was
    ours = _write_ours(tmp_path / "ours")
    r = runner.invoke(app, ["synth", "--out", str(ours), "--force"])
    assert r.exit_code == 1 and (ours / "result.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours"]


# -- 3. concurrency: a lock, and renames that never replace by surprise -----------------------------------

HOLD = """
    import sys
    from pathlib import Path
    from hccstudy.output import OutputFolder, OutputError
    try:
        with OutputFolder(sys.argv[1], force=sys.argv[2] == "force", command="test") as o:
            print(o.path, flush=True)
            sys.stdin.readline()  # hold the output until told to finish
            (o.path / "result.txt").write_text(sys.argv[3])
    except OutputError as exc:
        print("refused:", exc, flush=True)
        sys.exit(exc.exit_code)
"""


def test_second_writer_is_refused_while_the_first_holds_the_output(tmp_path):
    out = tmp_path / "out"
    first = _python(HOLD, str(out), "no", "first")
    assert ".hccstudy-tmp." in first.stdout.readline()
    with pytest.raises(OutputError, match="being written by another hccstudy process .pid"):
        OutputFolder(out, force=True).__enter__()
    first.communicate("\n", timeout=60)
    assert first.returncode == 0 and (out / "result.txt").read_text() == "first"
    with pytest.raises(OutputError, match="exists: use --force"):  # and later, without --force
        OutputFolder(out).__enter__()
    assert not _no_temps(tmp_path)


def test_two_racing_writers_without_force_one_wins(tmp_path):
    out = tmp_path / "out"
    go = tmp_path / "go"
    racer = """
        import os, sys, time
        from pathlib import Path
        from hccstudy.output import OutputFolder, OutputError
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.001)
        try:
            with OutputFolder(sys.argv[1], command="test") as o:
                time.sleep(0.2)
                (o.path / "result.txt").write_text(sys.argv[3])
        except OutputError as exc:
            print(exc)
            sys.exit(exc.exit_code)
    """
    procs = [_python(racer, str(out), str(go), name) for name in ("a", "b")]
    time.sleep(1.0)  # let both import and wait on the start line
    go.touch()
    results = [(p.wait(timeout=60), p.communicate()[0]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(text for code, text in results if code == 2)
    assert "being written by another hccstudy process" in loser or "exists" in loser
    winner = "ab"[[code for code, _ in results].index(0)]
    assert (out / "result.txt").read_text() == winner
    assert not _no_temps(tmp_path)


def test_two_concurrent_synth_commands_to_one_out(tmp_path):
    """End to end through the command: two `synth --out X` at once, without --force: one wins."""
    out = tmp_path / "cohort"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "hccstudy.cli", "synth", "--out", str(out), "--patients", "100"]
    procs = [subprocess.Popen([*cmd, "--seed", seed], env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for seed in ("1", "2")]
    results = [(p.wait(timeout=300), p.communicate()[0]) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    # rich wraps at 80 columns in a pipe, which may break a long path (pytest-xdist's temporary folders)
    loser = " ".join(next(text for code, text in results if code == 2).split())
    assert "being written by another hccstudy process" in loser or "exists: use --force" in loser, loser
    winner = next(text for code, text in results if code == 0)
    assert f"Wrote{out}" in "".join(winner.split()) and (out / "central.xlsx").is_file(), winner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "fallback"])
def test_an_output_that_appears_meanwhile_is_never_replaced(tmp_path, monkeypatch, renameat2):
    if not renameat2:
        monkeypatch.setattr(output, "_renameat2_fn", None)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="appeared"), OutputFolder(out, command="test") as o:
        (o.path / "result.txt").write_text("mine")
        _write_ours_without_lock(out)  # another program (not holding our lock) wrote OUT meanwhile
    assert (out / "result.txt").read_text() == "theirs"
    # with --force, a folder that turned into someone else's data meanwhile is not replaced either
    shutil.rmtree(out)
    with pytest.raises(OutputError, match="appeared or changed"), OutputFolder(out, force=True) as o:
        out.mkdir()
        (out / "data.csv").write_text("theirs")
    assert (out / "data.csv").read_text() == "theirs"
    assert not _no_temps(tmp_path)


def _write_ours_without_lock(out: Path) -> None:
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"tool": "hccstudy"}))
    (out / "result.txt").write_text("theirs")


WATCH = """
    import os, sys
    out, stop = sys.argv[1], sys.argv[2]
    checks = missing = 0
    print("ready", flush=True)
    while not os.path.exists(stop):
        checks += 1
        missing += not os.path.isfile(os.path.join(out, "result.txt"))
    print(checks, missing)
"""


def test_force_replacement_leaves_no_moment_without_out(tmp_path):
    if output._renameat2_fn is None:
        pytest.skip("no renameat2 here: the documented fallback has a moment without OUT")
    out = _write_ours(tmp_path / "out", "0")
    stop = tmp_path / "stop"
    watcher = _python(WATCH, str(out), str(stop))
    assert watcher.stdout.readline().strip() == "ready"
    i, t0 = 0, time.monotonic()
    while i < 40 or time.monotonic() - t0 < 1.0:  # give the watcher time to run, even on a busy machine
        i += 1
        _write_ours(out, str(i))
    stop.touch()
    checks, missing = map(int, watcher.communicate(timeout=60)[0].split())
    assert checks > 0 and missing == 0, (checks, missing)
    assert (out / "result.txt").read_text() == str(i)
    assert not _no_temps(tmp_path)


def test_fallback_replacement_without_renameat2(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "_renameat2_fn", None)
    out = _write_ours(tmp_path / "new", "1")  # plain rename of a new output
    _write_ours(out, "2")  # rename aside, rename in
    assert (out / "result.txt").read_text() == "2" and not _no_temps(tmp_path)


# -- 4. stale temporary folders of dead processes ------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path):
    host, dead = output._host(), _dead_pid()

    def temp(name: str, marker: bool = True, files: bool = True) -> Path:
        d = tmp_path / name
        d.mkdir()
        if marker:
            (d / MARKER).write_text(json.dumps({"tool": "hccstudy"}))
        if files:
            (d / "half.png").write_text("x")
        return d

    stale = [temp(f".out.hccstudy-tmp.{host}.{dead}.abc123_x"),
             temp(f".out.hccstudy-old.{host}.{dead}.k9"),
             temp(f".out.hccstudy-tmp.{host}.{dead}.empty", marker=False, files=False)]
    kept = [temp(f".out.hccstudy-tmp.{host}.{os.getppid()}.alive1"),       # its process still runs
            temp(f".out.hccstudy-tmp.otherhost.{dead}.abc"),              # another machine's process
            temp(f".out.hccstudy-tmp.{host}.{dead}.nomark", marker=False),  # not ours: no marker
            temp(f".other.hccstudy-tmp.{host}.{dead}.abc"),              # another output's
            temp(".out.backup"), temp(f".out.tmp.{host}.{dead}.abc")]     # not our naming pattern
    (tmp_path / f".out.hccstudy-tmp.{host}.{dead}.link").symlink_to(kept[0])
    assert sorted(remove_stale_temps(tmp_path, "out")) == sorted(stale)
    assert all(not p.exists() for p in stale) and all(p.exists() for p in kept)
    assert (tmp_path / f".out.hccstudy-tmp.{host}.{dead}.link").is_symlink()


def test_a_removal_cut_short_leaves_a_folder_still_recognisably_ours(tmp_path, monkeypatch):
    """Old outputs and temp folders are removed marker last, so a kill half-way can be finished later."""
    host, dead = output._host(), _dead_pid()
    folder = tmp_path / f".out.hccstudy-old.{host}.{dead}.abc"
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "km.png").write_text("x")
    (folder / "report.html").write_text("x")
    (folder / MARKER).write_text(json.dumps({"tool": "hccstudy"}))

    def killed(*a, **k):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(output.shutil, "rmtree", killed)
        with pytest.raises(KeyboardInterrupt):
            output._remove_folder(folder)
    assert is_hccstudy_output(folder)
    assert remove_stale_temps(tmp_path, "out") == [folder] and not folder.exists()


def test_kill_9_leaves_a_temp_folder_that_the_next_run_removes(tmp_path):
    out = tmp_path / "out"
    victim = _python(HOLD, str(out), "no", "x")
    tmp = Path(victim.stdout.readline().strip())
    assert tmp.is_dir() and (tmp / MARKER).exists()
    victim.kill()
    victim.wait(timeout=60)
    victim.stdin.close()
    victim.stdout.close()
    victim.stderr.close()
    assert tmp.is_dir() and not out.exists()  # kill -9: no output, a temp folder left behind
    _write_ours(out, "next")
    assert not tmp.exists() and (out / "result.txt").read_text() == "next"
    assert not _no_temps(tmp_path)


# -- 5. synth argument errors ------------------------------------------------------------------------

def test_synth_and_run_reject_a_negative_seed(tmp_path, no_compute):
    for args in (["synth", "--out", str(tmp_path / "s"), "--seed", "-1"], ["synth", "--check", "--seed", "-1"],
                 ["run", "--out", str(tmp_path / "r"), "--seed", "-1"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "--seed must be a whole number >= 0" in r.output, r.output
    assert list(tmp_path.iterdir()) == []


def test_output_file_keeps_the_old_file_when_writing_fails(tmp_path):
    f = tmp_path / "issues.csv"
    f.write_text("old")
    with pytest.raises(OutputError, match=r"could not write .*No space left") as e, OutputFile(f):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert e.value.exit_code == 1 and f.read_text() == "old" and not _no_temps(tmp_path)
