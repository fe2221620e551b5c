"""Steps 2-4 of a study: centre files (upload, drag and drop, a folder), the column mapping, and the
validation table (server-paged) with one record and the CONSORT flow figure."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from .render import render, settings_of, study_dir

router = APIRouter()


def _info(request: Request, sid: str):
    from .studies import info

    study_dir(request, sid)  # 404 for an unknown id
    return info(settings_of(request), sid)


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# -- step 2: files -----------------------------------------------------------------------------------

def _files_page(request: Request, sid: str, error: str | None = None, done: str | None = None, status: int = 200,
                fresh: list[str] | None = None):
    from ..schema.fields import RECORD_TYPES
    from .checks import cached
    from .files import centre_files
    from .studies import warm

    s = _info(request, sid)
    if cached(s.folder) is None:  # validate in the background while the user looks at the files
        warm(settings_of(request), s.folder)
    files = centre_files(s.folder)
    centres = sorted({f.centre for f in files})
    tdir = s.folder / "templates"
    templates = ([p.relative_to(tdir).as_posix() for p in sorted(tdir.rglob("*")) if p.is_file() and not p.is_symlink()]
                 if tdir.is_dir() and not tdir.is_symlink() else [])
    return render(request, "files.html", status_code=status, title="Centre files", sid=sid, step="files", study=s,
                  files=files, centres=centres, templates=templates, human=_human, fresh=set(fresh or ()), record_types=list(RECORD_TYPES), error=error, done=done,
                  max_mb=settings_of(request).max_upload_bytes // (1 << 20))


@router.get("/s/{sid}/files")
def files_page(request: Request, sid: str):
    return _files_page(request, sid)


@router.get("/s/{sid}/files/template")
def template_file(request: Request, sid: str):
    """One of the study's `hccstudy init` templates (``?name=centre_template.xlsx``), to fill in."""
    from starlette.responses import FileResponse

    from .security import UnsafePath, safe_child

    s = _info(request, sid)
    name = request.query_params.get("name", "")
    try:
        path = safe_child(s.folder / "templates", name)
    except UnsafePath as exc:
        raise HTTPException(400, str(exc)) from None
    if not path.is_file():
        raise HTTPException(404, f"no template {name!r} in this study")
    return FileResponse(path, filename=path.name)


@router.post("/s/{sid}/files/upload")
async def upload(request: Request, sid: str):
    from .files import content_problem, target_name, write_into
    from .security import BadUpload, UnsafePath, check_upload
    from .studies import warm

    s = _info(request, sid)
    form = await request.form()
    centre = str(form.get("centre") or "").strip()
    record_type = str(form.get("record_type") or "").strip() or None
    replace = form.get("replace") == "on"
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if not centre:
        return _files_page(request, sid, "name the centre these files come from", status=400)
    if not uploads:
        return _files_page(request, sid, "choose at least one file (CSV, Excel .xlsx or Parquet)", status=400)
    written, replaced = [], []
    try:
        planned = []
        for f in uploads:
            data = await f.read()
            await f.seek(0)
            check_upload(f.filename, data[:4096])
            if problem := await run_in_threadpool(content_problem, f.filename, data):  # off the event loop
                raise BadUpload(problem)
            planned.append((f, target_name(centre, f.filename, record_type if len(uploads) == 1 else None)))
        if len({rel for _, rel in planned}) < len(planned):
            raise BadUpload("two of the files would be saved under the same name: upload one file per record type")
        for f, rel in planned:
            existed = (s.folder / rel).exists()
            await run_in_threadpool(write_into, s.folder, rel, f.file, replace)
            (replaced if existed else written).append(rel)
    except (BadUpload, UnsafePath) as exc:
        done = f" (saved before the problem: {', '.join(written + replaced)})" if written or replaced else ""
        return _files_page(request, sid, str(exc) + done, status=400)
    warm(settings_of(request), s.folder)
    said = ([f"Added {', '.join(written)}"] if written else []) + ([f"Replaced {', '.join(replaced)}"] if replaced else [])
    return _files_page(request, sid, done="; ".join(said) + ". Your original files were not changed.",
                       fresh=written + replaced)


@router.post("/s/{sid}/files/folder")
async def add_folder(request: Request, sid: str):
    from .files import copy_folder
    from .security import BadUpload, UnsafePath
    from .studies import warm

    s = _info(request, sid)
    form = await request.form()
    path = str(form.get("path") or "").strip()
    centre = str(form.get("centre") or "").strip() or None
    if not path:
        return _files_page(request, sid, "give the full path of a folder on this computer", status=400)
    try:
        written = await run_in_threadpool(copy_folder, s.folder, Path(path), centre, form.get("replace") == "on")
    except (BadUpload, UnsafePath) as exc:
        return _files_page(request, sid, str(exc), status=400)
    except OSError as exc:
        return _files_page(request, sid, f"cannot read {path}: {exc.strerror or exc}", status=400)
    warm(settings_of(request), s.folder)
    return _files_page(request, sid, done=f"Copied {len(written)} file(s): {', '.join(written)}. The folder itself was not changed.",
                       fresh=written)


# -- step 3: mapping ---------------------------------------------------------------------------------

def _mapping_page(request: Request, sid: str, error: str | None = None, done: str | None = None, status: int = 200):
    from .._yaml import ConfigError
    from .mapform import HOW, cached_model

    s = _info(request, sid)
    try:
        blocks, values, units = cached_model(s.folder)
    except ConfigError as exc:
        blocks, values, units = [], [], []
        error = error or f"study.yaml: {exc}"
    return render(request, "mapping.html", status_code=status, title="Mapping", sid=sid, step="mapping", study=s,
                  blocks=blocks, values=values, units=units, how=HOW, error=error, done=done)


@router.get("/s/{sid}/mapping")
def mapping_page(request: Request, sid: str):
    return _mapping_page(request, sid)


@router.post("/s/{sid}/mapping")
async def save_mapping(request: Request, sid: str):
    form = await request.form()
    return await run_in_threadpool(_save_mapping, request, sid, form)  # reads every file: off the event loop


def _save_mapping(request: Request, sid: str, form):
    from .._yaml import ConfigError
    from ..config import load_config
    from .files import centre_files
    from .mapform import centres_from_form, centres_yaml
    from .studies import save_key, warm

    s = _info(request, sid)
    try:
        old = load_config(s.config).centres
    except ConfigError as exc:
        return _mapping_page(request, sid, f"study.yaml: {exc}", status=400)
    present = {f.centre for f in centre_files(s.folder)}
    try:
        centres = centres_from_form(form, old, present)
    except ValueError as exc:
        return _mapping_page(request, sid, f"not saved: {exc}", status=400)
    try:
        save_key(s.folder, "centres", centres_yaml(centres))
    except ConfigError as exc:
        return _mapping_page(request, sid, f"not saved: {exc}", status=400)
    warm(settings_of(request), s.folder)
    if form.get("next") == "validate":
        return RedirectResponse(f"/s/{sid}/validation", status_code=303)
    return _mapping_page(request, sid, done="Saved into study.yaml (centres:).")


# -- step 4: validation ------------------------------------------------------------------------------

_FILTERS = ("severity", "centre", "rule", "column", "q")


def _table_context(request: Request, sid: str, c) -> dict:
    from .checks import PAGE_SIZE, SORTABLE, page

    qp = request.query_params
    sort = qp.get("sort", "severity")
    sort = sort if sort in SORTABLE else "severity"
    desc = qp.get("desc") == "1"
    try:
        page_no = max(1, int(qp.get("page", "1")))
    except ValueError:
        page_no = 1
    filters = {k: qp.get(k, "") for k in _FILTERS}
    rows, n = page(c, sort=sort, desc=desc, page_no=page_no, **{k: v for k, v in filters.items()})
    pages = max(1, math.ceil(n / PAGE_SIZE))
    page_no = min(page_no, pages)

    def link(**change) -> str:
        state = {"sort": sort, "desc": "1" if desc else "", "page": str(page_no), **filters, **change}
        return f"/s/{sid}/validation?" + urlencode({k: v for k, v in state.items() if v not in ("", None)})

    if "opts" not in c.orders:  # the filters' choices, once per check
        c.orders["opts"] = {k: sorted(str(x) for x in c.issues[k].unique() if x != "")
                            for k in ("severity", "centre", "rule", "column")}
    opts = c.orders["opts"]
    if "by_rule" not in c.orders:  # the count by rule, as `hccstudy validate` ends with
        g = c.issues.groupby(["severity", "rule"], sort=True).size() if len(c.issues) else {}
        c.orders["by_rule"] = [(sev, rule, int(n)) for (sev, rule), n in (g.items() if len(c.issues) else [])]
    state = {"sort": sort, "desc": "1" if desc else "", "page": str(page_no), **filters}
    state_qs = urlencode({k: v for k, v in state.items() if v not in ("", None)})
    return {"state_qs": state_qs, "rows": rows, "n": n, "page_no": page_no, "pages": pages, "sort": sort, "desc": desc, "filters": filters,
            "link": link, "opts": opts, "by_rule": c.orders["by_rule"], "sortable": SORTABLE, "page_size": PAGE_SIZE}


@router.get("/s/{sid}/validation")
def validation_page(request: Request, sid: str):
    from .checks import check

    s = _info(request, sid)
    c = check(s.folder)
    ctx = _table_context(request, sid, c)
    name = "_issues.html" if request.headers.get("hx-request") and request.headers.get("hx-target") == "issues" else "validation.html"
    return render(request, name, title="Validation", sid=sid, step="validation", study=s, c=c, **ctx)


@router.get("/s/{sid}/validation/changed")
def validation_changed(request: Request, sid: str):
    """Polled by the validation page: 204 while the study's files and study.yaml are as the page showed
    them (``?v=``), else ``HX-Refresh`` so that htmx reloads the page (table and flow figure)."""
    from .checks import input_key, version_of

    s = _info(request, sid)
    if version_of(input_key(s.folder)) == request.query_params.get("v", ""):
        return Response(status_code=204)
    return Response(status_code=200, headers={"HX-Refresh": "true"})


@router.get("/s/{sid}/validation/flow.svg")
def flow_figure(request: Request, sid: str):
    from .checks import check, flow_svg

    s = _info(request, sid)
    svg = flow_svg(check(s.folder))
    if svg is None:
        raise HTTPException(404, "no patient flow yet: the data have errors")
    return Response(svg, media_type="image/svg+xml")


@router.get("/s/{sid}/validation/record")
def record_page(request: Request, sid: str):
    from .checks import check
    from .files import read_record
    from .security import UnsafePath

    s = _info(request, sid)
    c = check(s.folder)
    try:
        i = int(request.query_params.get("i", ""))
    except ValueError:
        raise HTTPException(400, "which issue? (?i=NUMBER from the validation table)") from None
    if i < 0 or i >= len(c.issues):
        raise HTTPException(404, f"no issue number {i}: the validation may have changed; reload the table")
    issue = c.issues.iloc[i]
    record = None
    if int(issue["row"]) > 0:
        try:
            record = read_record(s.folder, str(issue["file"]), int(issue["row"]))
        except (UnsafePath, OSError, ValueError):
            record = None
    col = str(issue["column"])
    wanted = {col.strip().lower(), col.split(" (")[0].strip().lower(), col.split(" (")[-1].rstrip(")").strip().lower()}
    hl = [h.strip().lower() in wanted and bool(col) for h in record[0]] if record else []
    # back to the table as it was (sort, filters, page: carried in the record's query string)
    keep = {k: v for k, v in request.query_params.items() if k in (*_FILTERS, "sort", "desc", "page") and v}
    back = f"/s/{sid}/validation" + (f"?{urlencode(keep)}" if keep else "")
    return render(request, "record.html", title="Record", sid=sid, step="validation", study=s, issue=issue, i=i,
                  record=record, hl=hl, back=back)
