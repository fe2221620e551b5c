"""Step 1: the studies page (recent studies; create a study or open a folder)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse

from .render import render, settings_of

router = APIRouter()


def _page(request: Request, error: str | None = None, form: dict | None = None, status: int = 200):
    from .studies import STARTS, default_parent, recent

    settings = settings_of(request)
    return render(request, "studies.html", status_code=status, title="Studies", recent=recent(settings),
                  starts=STARTS, parent=str(default_parent(settings)), error=error, form=form or {})


@router.get("/")
def studies_page(request: Request):
    return _page(request)


@router.post("/studies/new")
def new_study(request: Request, name: str = Form(""), parent: str = Form(""), start: str = Form("synthetic")):
    from .security import UnsafePath, clean_name
    from .studies import StudyError, create, default_parent, warm

    settings = settings_of(request)
    form = {"name": name, "parent": parent, "start": start}
    try:
        folder_name = clean_name(name.strip())
    except UnsafePath:
        return _page(request, "give the new study a name (letters, digits, spaces, - and _)", form, 400)
    where = Path(parent.strip()).expanduser() if parent.strip() else default_parent(settings)
    if not parent.strip():
        where.mkdir(parents=True, exist_ok=True)
    try:
        info = create(settings, where / folder_name, start, title=name.strip())
    except StudyError as exc:
        return _page(request, str(exc), form, 400)
    warm(settings, info.folder)
    return RedirectResponse(f"/s/{info.sid}/files", status_code=303)


@router.post("/studies/open")
def open_study(request: Request, folder: str = Form("")):
    from .studies import StudyError, open_folder, warm

    settings = settings_of(request)
    try:
        info = open_folder(settings, Path(folder.strip()))
    except StudyError as exc:
        return _page(request, str(exc), {"folder": folder}, 400)
    warm(settings, info.folder)
    return RedirectResponse(f"/s/{info.sid}/files", status_code=303)
