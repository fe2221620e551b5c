"""The app's runs (issue 16, steps 6-7): a run in a separate process with progress per stage, cancel,
the report and downloads, past runs and the comparison of two runs; the app's output is byte-identical
to ``hccstudy run --config study.yaml``.

Cost: one small study (the shipped 20-patient example, sensitivity and subgroup analyses and figures
off in its plan) run once by the app and once by the CLI, at the same time, shared by the module's tests; a
second app run with another caliper for the comparison; one run cancelled as soon as it starts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from hccstudy.cli import app as cli_app  # noqa: E402
from hccstudy.examples import copy_example  # noqa: E402
from hccstudy.web import runner  # noqa: E402
from hccstudy.web.app import create_app  # noqa: E402
from hccstudy.web.security import CSRF_COOKIE, CSRF_FIELD  # noqa: E402
from hccstudy.web.settings import WebSettings  # noqa: E402
from hccstudy.web.studies import remember  # noqa: E402

pytestmark = [pytest.mark.xdist_group("web_runs"), pytest.mark.costly]

#: the small study's plan: the costly parts off (the sensitivity analyses, the subgroup analyses and
#: the figure files); matching, survival, Cox, response and AEs stay on
PLAN = """# a user's comment, kept when the app saves the plan
analysis:
  sensitivity: null
  subgroups: []
  report:
    formats: []
"""


def _client(home: Path) -> TestClient:
    c = TestClient(create_app(WebSettings(home=home, background_checks=False)), base_url="http://127.0.0.1")
    c.get("/")  # the CSRF cookie
    return c


def _csrf(c: TestClient) -> dict:
    return {CSRF_FIELD: c.cookies.get(CSRF_COOKIE)}


def _wait(folder: Path, timeout: float = 180) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        status = runner.read_status(folder)
        if status.get("state") not in ("starting", "running"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {folder.name} did not end in {timeout} s: {runner.read_status(folder)}")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A study, the app's home, a finished app run and the CLI's run of the same study.yaml."""
    base = tmp_path_factory.mktemp("webruns")
    study = base / "study"
    study.mkdir()
    copy_example("study", study)
    (study / "study.yaml").write_text(PLAN, encoding="utf-8")
    home = base / "home"
    info = remember(WebSettings(home=home, background_checks=False), study)
    c = _client(home)
    r = c.post(f"/s/{info.sid}/runs", data=_csrf(c), follow_redirects=False)
    assert r.status_code == 303, r.text
    rid = r.headers["location"].rsplit("/", 1)[-1]
    # the CLI's run of the same study, meanwhile (this process; the app's run is another process)
    cli_out = base / "cli-out"
    res = CliRunner().invoke(cli_app, ["run", str(study), "--config", str(study / "study.yaml"), "--out", str(cli_out),
                                       "--quiet"])
    assert res.exit_code == 0, res.output
    folder = runner.runs_root(study.resolve()) / rid
    status = _wait(folder)
    assert status["state"] == "done", (status, (folder / "log.txt").read_text())
    assert "Traceback" not in (folder / "log.txt").read_text()
    yield {"study": study, "home": home, "sid": info.sid, "client": c, "rid": rid, "folder": folder,
           "cli_out": cli_out, "base": base}
    runner.wait_children()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_app_run_is_byte_identical_to_the_cli(site):
    """The app's output folder and `hccstudy run STUDY --config study.yaml` have the same files, byte for
    byte, manifest.json too but for its stage timings."""
    app_out, cli_out = site["folder"] / "output", site["cli_out"]
    assert _files(app_out) == _files(cli_out)
    assert {"report.html", "tables.docx", "tables.xlsx", "results.json", "manifest.json"} <= set(_files(app_out))
    differ = [n for n in _files(app_out) if n != "manifest.json" and (app_out / n).read_bytes() != (cli_out / n).read_bytes()]
    assert not differ, differ
    mine, theirs = (json.loads((f / "manifest.json").read_text()) for f in (app_out, cli_out))
    assert set(mine.pop("timings_s")) == set(theirs.pop("timings_s")) == {"ingest", "analyze", "report"}
    assert mine == theirs


def test_run_folder_holds_snapshot_status_and_nothing_else(site):
    folder = site["folder"]
    assert (folder / "study.yaml").read_text() == PLAN  # the config snapshot, byte for byte
    status = json.loads((folder / "status.json").read_text())
    assert [s["name"] for s in status["stages"]] == list(runner.STAGES)
    assert all(s["state"] == "done" and s["seconds"] is not None for s in status["stages"])
    # no temporary folder left in the run, the study or the app's work folder
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".output.hccstudy.lock")) == \
        ["log.txt", "output", "status.json", "study.yaml"]
    assert not any((site["home"] / "work").iterdir())
    # the study reader never sees the runs: they live in a dot-folder
    assert (site["study"] / ".hccstudy" / "runs" / site["rid"]).is_dir()


def test_run_pages(site):
    c, sid, rid = site["client"], site["sid"], site["rid"]
    page = c.get(f"/s/{sid}/runs")
    assert page.status_code == 200 and rid in page.text and "Run the study" in page.text
    run = c.get(f"/s/{sid}/runs/{rid}")
    assert run.status_code == 200
    for text in ("Key results", "Matched pairs", "HR (95% CI)", "tables.docx", "tables.xlsx", "report.html",
                 "Everything (zip)", "analysis:"):
        assert text in run.text, text
    status = c.get(f"/s/{sid}/runs/{rid}/status", headers={"HX-Request": "true"})
    assert status.status_code == 200 and status.headers.get("HX-Refresh") == "true"  # ended: reload the page
    assert "hx-trigger" not in status.text  # no more polling


def test_report_and_downloads(site):
    c, sid, rid, out = site["client"], site["sid"], site["rid"], site["folder"] / "output"
    rep = c.get(f"/s/{sid}/runs/{rid}/files/report.html")
    assert rep.status_code == 200 and rep.content == (out / "report.html").read_bytes()
    assert rep.headers["x-frame-options"] == "SAMEORIGIN" and "sandbox" in rep.headers["content-security-policy"]
    for name in ("report.html", "tables.docx", "tables.xlsx"):
        r = c.get(f"/s/{sid}/runs/{rid}/files/{name}?download=1")
        assert r.status_code == 200 and r.content == (out / name).read_bytes()
        assert r.headers["content-disposition"].startswith("attachment") and name in r.headers["content-disposition"]
    docx = c.get(f"/s/{sid}/runs/{rid}/files/tables.docx").content
    assert zipfile.ZipFile(io.BytesIO(docx)).testzip() is None  # a real docx (a zip), not a page
    config = c.get(f"/s/{sid}/runs/{rid}/config")
    assert config.status_code == 200 and config.text == PLAN


def test_zip_is_whole_and_deterministic(site):
    c, sid, rid, out = site["client"], site["sid"], site["rid"], site["folder"] / "output"
    a = c.get(f"/s/{sid}/runs/{rid}/zip")
    b = c.get(f"/s/{sid}/runs/{rid}/zip")
    assert a.status_code == 200 and a.headers["content-type"] == "application/zip"
    assert a.content == b.content  # made on request, byte-identical each time
    z = zipfile.ZipFile(io.BytesIO(a.content))
    names = z.namelist()
    prefix = f"hccstudy-run-{rid}/"
    visible = [n for n in _files(out) if not n.split("/")[-1].startswith(".")]
    assert names == [prefix + n for n in visible]  # sorted, every file but the hidden marker
    assert all(z.read(prefix + n) == (out / n).read_bytes() for n in visible)
    assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    # this run wrote no figures (report.formats: []): no figures zip
    assert c.get(f"/s/{sid}/runs/{rid}/zip?part=figures").status_code == 404
    assert c.get(f"/s/{sid}/runs/{rid}/zip?part=..").status_code == 404


@pytest.mark.parametrize("rid", ["..", "../..", "20261129-0000", "x" * 40, "%2e%2e", "20261129-000000"])
def test_bad_run_ids_are_404(site, rid):
    c, sid = site["client"], site["sid"]
    for path in (f"/s/{sid}/runs/{rid}", f"/s/{sid}/runs/{rid}/zip", f"/s/{sid}/runs/{rid}/files/report.html"):
        r = c.get(path)
        assert r.status_code == 404, (path, r.status_code)


@pytest.mark.parametrize("name", ["../study.yaml", "../../../study.yaml", "/etc/passwd", "figures/../../status.json",
                                  ".hccstudy-output.json", "nothing.csv", "..%2fstudy.yaml"])
def test_download_names_cannot_escape(site, name):
    c, sid, rid = site["client"], site["sid"], site["rid"]
    r = c.get(f"/s/{sid}/runs/{rid}/files/{name}")
    assert r.status_code == 404, (name, r.status_code)


def test_symlink_in_output_is_not_followed(site):
    c, sid, rid, out = site["client"], site["sid"], site["rid"], site["folder"] / "output"
    link = out / "escape.yaml"
    link.symlink_to(site["study"] / "study.yaml")
    try:
        assert c.get(f"/s/{sid}/runs/{rid}/files/escape.yaml").status_code == 404
        names = zipfile.ZipFile(io.BytesIO(c.get(f"/s/{sid}/runs/{rid}/zip").content)).namelist()
        assert not any(n.endswith("escape.yaml") for n in names)
    finally:
        link.unlink()


def test_a_symlinked_run_folder_is_refused(site, tmp_path):
    c, sid = site["client"], site["sid"]
    fake = runner.runs_root(site["study"].resolve()) / "20200101-000000"
    shutil.copytree(site["folder"], tmp_path / "elsewhere")
    fake.symlink_to(tmp_path / "elsewhere")
    try:
        assert c.get(f"/s/{sid}/runs/20200101-000000").status_code == 404
        assert "20200101-000000" not in c.get(f"/s/{sid}/runs").text
    finally:
        fake.unlink()


def test_posts_need_csrf(site):
    c, sid, rid = site["client"], site["sid"], site["rid"]
    assert c.post(f"/s/{sid}/runs").status_code == 403
    assert c.post(f"/s/{sid}/runs", data={CSRF_FIELD: "wrong"}).status_code == 403
    assert c.post(f"/s/{sid}/runs/{rid}/cancel").status_code == 403
    assert len(runner.list_runs(site["study"].resolve())) >= 1 and runner.running(site["study"].resolve()) is None


def test_unknown_study_is_404(site):
    c = site["client"]
    assert c.get("/s/000000000000/runs").status_code == 404
    assert c.get("/s/000000000000/compare?a=x&b=y").status_code == 404


def test_bad_plan_is_refused_before_any_run(site, tmp_path):
    study = tmp_path / "bad"
    study.mkdir()
    (study / "study.yaml").write_text("analysis:\n  matching:\n    caliper: -1\n", encoding="utf-8")
    info = remember(WebSettings(home=site["home"]), study)
    c = site["client"]
    r = c.post(f"/s/{info.sid}/runs", data=_csrf(c), follow_redirects=False)
    assert r.status_code == 409 and "analysis.matching.caliper" in r.text
    assert runner.list_runs(study.resolve()) == []  # no run folder left


def test_cancel_leaves_no_output(site):
    """A run cancelled while it works: the process group is ended, the run is marked cancelled, and
    neither an output folder nor a temporary folder is left (in the run, the study or the work folder)."""
    c, sid, study = site["client"], site["sid"], site["study"].resolve()
    r = c.post(f"/s/{sid}/runs", data=_csrf(c), follow_redirects=False)
    assert r.status_code == 303, r.text
    rid = r.headers["location"].rsplit("/", 1)[-1]
    folder = runner.runs_root(study) / rid
    t0 = time.monotonic()
    while runner.read_status(folder).get("state") == "starting" and time.monotonic() - t0 < 60:
        time.sleep(0.1)  # let it reach run_study (it then has a temporary output folder to clean)
    page = c.get(f"/s/{sid}/runs/{rid}")
    assert "Cancel the run" in page.text and "hx-trigger=\"every 1s\"" in page.text
    second = c.post(f"/s/{sid}/runs", data=_csrf(c), follow_redirects=False)  # one run at a time per study
    assert second.status_code == 409 and "still in progress" in second.text
    assert c.post(f"/s/{sid}/runs/{rid}/cancel", data=_csrf(c), follow_redirects=False).status_code == 303
    status = _wait(folder, 60)
    deadline = time.monotonic() + 30
    while runner._CHILDREN and time.monotonic() < deadline:  # the cancel thread reaps and cleans up
        time.sleep(0.1)
        runner.read_status(folder)
    assert status["state"] == "cancelled", status
    assert not (folder / "output").exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".output.hccstudy.lock")) == \
        ["cancel-requested", "log.txt", "status.json", "study.yaml"]
    work = site["home"] / "work"
    assert not work.exists() or not any(work.iterdir())
    assert "cancelled" in c.get(f"/s/{sid}/runs/{rid}").text
    assert not runner.cancel_run(folder)  # nothing left to cancel


def test_compare_two_runs(site):
    """A second run with caliper 0.1: the comparison shows both runs' key results and the caliper as the
    config difference.  (The run process's own function, in this process: a second process start
    would cost seconds of imports and prove nothing more than the first run did.)"""
    c, sid, study = site["client"], site["sid"], site["study"].resolve()
    (study / "study.yaml").write_text(PLAN + "  matching:\n    caliper: 0.1\n", encoding="utf-8")
    try:
        run = runner.prepare_run(study)
    finally:
        (study / "study.yaml").write_text(PLAN, encoding="utf-8")
    rid = run.rid
    assert runner.run_in_process(run.folder, study, runner.work_folder(site["home"] / "work", study, rid)) == 0
    assert runner.read_status(run.folder)["state"] == "done"
    page = c.get(f"/s/{sid}/compare", params={"a": site["rid"], "b": rid})
    assert page.status_code == 200
    assert "analysis.matching.caliper" in page.text and "0.03" in page.text and "0.1" in page.text
    for text in ("Matched pairs", "HR (95% CI)", "P (Cox)", "Median (95% CI), Sequential (SE)", "Medians in months", "OS · Matched", "PFS · All patients"):
        assert text in page.text, text
    assert c.get(f"/s/{sid}/compare", params={"a": site["rid"]}).status_code == 400
    assert "Compare two runs" in c.get(f"/s/{sid}/runs").text


def test_runner_ids_are_checked(tmp_path):
    for rid in ("..", "a/b", "", "20261129-054501-1000", "20261129-054501/x"):
        with pytest.raises(LookupError):
            runner.run_dir(tmp_path, rid)
    assert os.sep not in runner.RUN_ID.pattern


def test_a_study_with_validation_errors_fails_cleanly(site, tmp_path):
    """The run process's own function on a study whose input has an error: the run is marked failed
    with one plain line (no traceback), and no output or work folder is left.  (In this process: the
    failure comes at once, before any analysis.)"""
    study = tmp_path / "broken"
    shutil.copytree(site["study"], study, ignore=shutil.ignore_patterns(".hccstudy"))
    p = study / "alpha" / "patients.csv"
    p.write_text(p.read_text().replace("A02,female,61", "A02,female,sixty-one", 1))
    run = runner.prepare_run(study)
    work = runner.work_folder(tmp_path / "work", study.resolve(), run.rid)
    assert runner.run_in_process(run.folder, study.resolve(), work) == 2
    status = runner.read_status(run.folder)
    assert status["state"] == "failed" and "validation error" in status["error"] and "Traceback" not in status["error"]
    assert not (run.folder / "output").exists() and not work.exists()
    assert [s["state"] for s in status["stages"]][:1] == ["stopped"]


def test_key_results_without_matching_or_results(site, tmp_path):
    """A plan without matching (no matched sample, no pairs) and an output with no results.json."""
    from hccstudy.web.compare import config_differences, key_results

    out = tmp_path / "out"
    shutil.copytree(site["folder"] / "output", out)
    res = json.loads((out / "results.json").read_text())
    res["matching"] = None
    for ep in res["endpoints"].values():
        ep.pop("matched", None)
    (out / "results.json").write_text(json.dumps(res))
    key = key_results(out)
    assert not any(r.what.startswith("Matched") for r in key.rows)
    cols, lines = key.matrix()
    assert cols == ["OS · All patients", "PFS · All patients"] and lines[0][0] == "Events / patients"
    assert not any("robust variance" in n for n in key.notes)
    (out / "results.json").unlink()
    assert key_results(out).rows == []
    snap = site["folder"] / "study.yaml"
    assert config_differences(snap, snap) == []


@pytest.mark.parametrize(("cancel", "complete", "state"), [(False, False, "failed"), (True, False, "cancelled"),
                                                           (True, True, "done"), (False, True, "done")])
def test_a_run_whose_process_vanished(tmp_path, cancel, complete, state):
    """A run marked running whose process is gone (killed from outside, the machine restarted): failed,
    or cancelled when a cancel was asked for, or done when its complete output had already been moved in
    (it appears in one rename); a half-copied output and the work folder are removed."""
    import subprocess
    import sys

    from hccstudy.output import MARKER

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = runner.runs_root(tmp_path) / "20260101-000000"
    folder.mkdir(parents=True)
    work = tmp_path / "work" / "x"
    work.mkdir(parents=True)
    status = {**runner.new_status(), "state": "running", "pid": int(dead.stdout), "work": str(work)}
    runner.write_json_atomic(folder / "status.json", status)
    (folder / ".output.partial-1").mkdir()
    if cancel:
        (folder / "cancel-requested").touch()
    if complete:
        (folder / "output").mkdir()
        (folder / "output" / MARKER).write_text(json.dumps({"tool": "hccstudy"}))
    got = runner.read_status(folder)
    assert got["state"] == state
    assert json.loads((folder / "status.json").read_text())["state"] == state  # written back once
    assert not (folder / ".output.partial-1").exists() and not work.exists()
    assert (runner.RunInfo("20260101-000000", folder, got).output is not None) == complete


def test_forked_workers_of_a_run_end_quietly_on_sigterm(capfd):
    """The run process's SIGTERM handler (cancel) is inherited by the processes it forks (the report's
    figure pool); a pool's shutdown sends its workers SIGTERM, which must end them quietly, not raise the
    cancel in them (it printed a traceback into every run's log.txt)."""
    import multiprocessing
    import signal

    previous = runner.install_cancel_handler()
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            pending = pool.apply_async(time.sleep, (30,))
            time.sleep(0.5)
            pool.terminate()
            pool.join()
        assert not pending.ready()
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "_Cancelled" not in err, err
