"""Steps 6 and 7: run the study, follow it, read the report, download the outputs, compare two runs.

    GET  /s/{sid}/runs                         past runs (config, state, key results) and "Run the study"
    POST /s/{sid}/runs                         start a run (a separate process; :mod:`.runner`)
    GET  /s/{sid}/runs/{rid}                   one run: progress and cancel, or its report and downloads
    GET  /s/{sid}/runs/{rid}/status            the progress fragment htmx polls every second while it runs
    POST /s/{sid}/runs/{rid}/cancel            stop it (nothing of its output is kept)
    GET  /s/{sid}/runs/{rid}/files/{path}      a file of the output folder (report.html shown in the page)
    GET  /s/{sid}/runs/{rid}/config            the run's config snapshot (study.yaml as it was)
    GET  /s/{sid}/runs/{rid}/zip[?part=figures] the whole output (or its figures) as a zip, made on request
    GET  /s/{sid}/compare?a=RID&b=RID          two runs side by side: key results and config differences

Run ids and file names are checked (:data:`.runner.RUN_ID`, :func:`.security.safe_child`) before they
name anything on disk; every POST is CSRF-checked by the app.
"""

from __future__ import annotations

import io
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import FileResponse, RedirectResponse, StreamingResponse

from . import runner
from .render import render, settings_of, study_dir
from .security import UnsafePath, safe_child

router = APIRouter()

#: the downloads offered on a finished run's page: (file under output/, what it is)
DOWNLOADS = (("report.html", "Report (HTML)"), ("tables.docx", "Tables (Word)"), ("tables.xlsx", "Tables (Excel)"),
             ("results.json", "All results (JSON)"), ("manuscript.md", "Methods and results text (Markdown)"),
             ("manifest.json", "Manifest (versions, inputs, timings)"))
#: how a file is served inline (anything else is a download)
INLINE = {".html": "text/html; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
          ".json": "application/json", ".csv": "text/csv; charset=utf-8", ".md": "text/plain; charset=utf-8",
          ".txt": "text/plain; charset=utf-8", ".yaml": "text/plain; charset=utf-8"}
#: fixed time stamp of every zip member (1980-01-01, the zip format's epoch): same output -> same bytes
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _study(request: Request, sid: str):
    from .studies import info

    folder = study_dir(request, sid)  # 404 for an unknown study
    return folder, info(settings_of(request), sid)


def _run(folder: Path, rid: str) -> runner.RunInfo:
    try:
        run_folder = runner.run_dir(folder, rid)
        safe_child(runner.runs_root(folder), rid)  # not a symlink out of the study
    except (LookupError, UnsafePath) as exc:
        raise HTTPException(404, f"no run {rid!r} in this study") from exc
    return runner.RunInfo(rid, run_folder, runner.read_status(run_folder))


def _work_root(request: Request) -> Path:
    return settings_of(request).home / "work"


def _summary(run: runner.RunInfo) -> dict:
    """What the runs table shows of a run: caliper and matching from its snapshot, pairs and the first
    endpoint's HR from its results."""
    from .compare import key_results

    out: dict = {"caliper": "—", "hr": "—", "pairs": "—", "endpoint": ""}
    try:
        from .compare import config_mapping

        plan = config_mapping(run.config)["analysis"]
        m = plan.get("matching")
        out["caliper"] = "no matching" if m is None else ("none" if m.get("caliper") is None else f"{m['caliper']:g}")
        out["sensitivity"] = "off" if plan.get("sensitivity") is None else "on"
    except Exception:  # noqa: BLE001 -- a snapshot that no longer validates is shown without its settings
        out["caliper"] = "?"
    if run.output is not None:
        rows = key_results(run.output).rows
        for r in rows:
            if r.what.startswith("Matched"):
                out["pairs"] = r.text
        hr = next((r for r in rows if r.what.startswith("HR")), None)
        if hr is not None:
            out["hr"], out["endpoint"] = hr.text, f"{hr.endpoint} ({hr.sample.lower()})"
    return out


@router.get("/s/{sid}/runs")
def runs_page(request: Request, sid: str, error: str | None = None, status_code: int = 200):
    folder, study = _study(request, sid)
    runs = runner.list_runs(folder)
    rows = [(r, _summary(r)) for r in runs]
    return render(request, "runs.html", status_code=status_code, title="Runs", step="runs", sid=sid, study=study,
                  rows=rows, error=error, busy=next((r for r in runs if r.state in ("starting", "running")), None),
                  done=[r for r in runs if r.output is not None])


@router.post("/s/{sid}/runs")
def start(request: Request, sid: str):
    folder, _study_info = _study(request, sid)
    try:
        run = runner.start_run(folder, _work_root(request))
    except runner.RunError as exc:
        return runs_page(request, sid, error=str(exc), status_code=409)
    return RedirectResponse(f"/s/{sid}/runs/{run.rid}", status_code=303)


@router.get("/s/{sid}/runs/{rid}")
def run_page(request: Request, sid: str, rid: str):
    from .compare import key_results

    folder, study = _study(request, sid)
    run = _run(folder, rid)
    out = run.output
    manifest = _manifest(out) if out is not None else {}
    figures = sorted(p.name for p in (out / "figures").glob("*.png")) if out is not None else []
    return render(request, "run.html", title=f"Run {rid}", step="runs", sid=sid, study=study, run=run,
                  status=run.status, downloads=[(f, what) for f, what in DOWNLOADS if out is not None and (out / f).is_file()],
                  figures=figures, key=key_results(out) if out is not None else None, manifest=manifest,
                  config_text=_text(run.config))


def _manifest(out: Path) -> dict:
    from .compare import _read_json

    try:
        return _read_json(out / "manifest.json")
    except (OSError, ValueError):
        return {}


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


@router.get("/s/{sid}/runs/{rid}/status")
def run_status(request: Request, sid: str, rid: str):
    """The progress fragment; when the run has ended, htmx is told to reload the page (report or error)."""
    folder, _study_info = _study(request, sid)
    run = _run(folder, rid)
    response = render(request, "_run_status.html", sid=sid, run=run, status=run.status)
    if run.state not in ("starting", "running") and request.headers.get("hx-request"):
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/s/{sid}/runs/{rid}/cancel")
def cancel(request: Request, sid: str, rid: str):
    folder, _study_info = _study(request, sid)
    run = _run(folder, rid)
    runner.cancel_run(run.folder)
    return RedirectResponse(f"/s/{sid}/runs/{rid}", status_code=303)


def _output_of(folder: Path, rid: str) -> Path:
    run = _run(folder, rid)
    if run.output is None:
        raise HTTPException(404, f"run {rid} has no output: it is {run.state}")
    return run.output


@router.get("/s/{sid}/runs/{rid}/files/{name:path}")
def output_file(request: Request, sid: str, rid: str, name: str, download: int = 0):
    folder, _study_info = _study(request, sid)
    out = _output_of(folder, rid)
    try:
        path = safe_child(out, name)
    except UnsafePath as exc:
        raise HTTPException(404, f"no file {name!r} in this run's output") from exc
    try:
        st = path.lstat()
    except OSError as exc:
        raise HTTPException(404, f"no file {name!r} in this run's output") from exc
    if not stat.S_ISREG(st.st_mode) or path.name.startswith("."):
        raise HTTPException(404, f"no file {name!r} in this run's output")
    kind = INLINE.get(path.suffix.lower())
    if download or kind is None:
        return FileResponse(path, filename=path.name, media_type=kind or "application/octet-stream",
                            content_disposition_type="attachment")
    response = FileResponse(path, media_type=kind)
    if path.suffix.lower() in (".html", ".svg"):
        # our report, shown inside the app's page: framing by this origin only, and its scripts run in a
        # sandbox with no access to the app (no cookies, no requests as the user)
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        allow = "allow-scripts allow-popups allow-downloads" if path.suffix.lower() == ".html" else ""  # a figure runs nothing
        response.headers["Content-Security-Policy"] = f"sandbox {allow}; frame-ancestors 'self'".replace("  ", " ")
    return response


@router.get("/s/{sid}/runs/{rid}/config")
def run_config(request: Request, sid: str, rid: str):
    folder, _study_info = _study(request, sid)
    run = _run(folder, rid)
    return FileResponse(run.config, media_type="text/plain; charset=utf-8", filename=f"study-{rid}.yaml",
                        content_disposition_type="inline")


#: files already compressed: stored in the zip as they are (deflating them again costs seconds, saves nothing)
STORED = {".png", ".docx", ".xlsx", ".parquet", ".pdf", ".zip", ".gz"}


def write_zip(out: Path, dest, prefix: str, part: str | None = None) -> None:
    """Write the output folder (or its ``figures/``) as a zip into the open binary file ``dest``,
    deterministically: members in sorted path order under ``prefix/``, each with a fixed time stamp and
    mode; text deflated, already-compressed files stored; hidden files and links left out."""
    base = out / part if part else out
    files = sorted((p for p in base.rglob("*") if p.is_file() and not p.is_symlink()
                    and not any(x.startswith(".") for x in p.relative_to(out).parts)),
                   key=lambda p: p.relative_to(out).as_posix())
    with zipfile.ZipFile(dest, "w") as z:
        for p in files:
            info = zipfile.ZipInfo(f"{prefix}/{p.relative_to(out).as_posix()}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED if p.suffix.lower() in STORED else zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.create_system = 3  # unix, whatever the server runs on
            with p.open("rb") as src, z.open(info, "w") as member:
                shutil.copyfileobj(src, member, 1 << 20)


def zip_bytes(out: Path, prefix: str, part: str | None = None) -> bytes:
    """:func:`write_zip` into memory (tests, small outputs)."""
    buf = io.BytesIO()
    write_zip(out, buf, prefix, part)
    return buf.getvalue()


@router.get("/s/{sid}/runs/{rid}/zip")
def output_zip(request: Request, sid: str, rid: str, part: str | None = None):
    folder, _study_info = _study(request, sid)
    out = _output_of(folder, rid)
    if part not in (None, "figures"):
        raise HTTPException(404, "part: only figures")
    if part and not (out / part).is_dir():
        raise HTTPException(404, f"run {rid} wrote no figures (report.formats: [])")
    name = f"hccstudy-run-{rid}" + (f"-{part}" if part else "")
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 -- closed when the response has been sent
    try:
        write_zip(out, tmp, name, part)
        size = tmp.tell()
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise

    def chunks():
        with tmp:
            while block := tmp.read(1 << 20):
                yield block

    return StreamingResponse(chunks(), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}.zip"',
                                      "Content-Length": str(size)})


@router.get("/s/{sid}/compare")
def compare(request: Request, sid: str, a: str | None = None, b: str | None = None):
    from .compare import config_differences, key_results, side_by_side

    folder, study = _study(request, sid)
    if not a or not b:
        return runs_page(request, sid, error="choose two finished runs to compare", status_code=400)
    ra, rb = _run(folder, a), _run(folder, b)
    for r in (ra, rb):
        if r.output is None:
            return runs_page(request, sid, error=f"run {r.rid} has no results to compare (it is {r.state})",
                             status_code=400)
    ka, kb = key_results(ra.output), key_results(rb.output)
    return render(request, "compare.html", title=f"Compare {a} and {b}", step="runs", sid=sid, study=study,
                  a=ra, b=rb, rows=side_by_side(ka, kb), notes=list(dict.fromkeys([*ka.notes, *kb.notes])),
                  diffs=config_differences(ra.config, rb.config))


__all__ = ["router", "write_zip", "zip_bytes"]
