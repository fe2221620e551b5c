"""Templates and the per-request helpers every router uses (settings, the study of ``{sid}``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from .security import CSRF_FIELD, csrf_token
from .settings import WebSettings

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD

#: the steps of a study, in order, for the navigation bar: (key, label, path under /s/{sid})
STEPS = (("files", "Files", "files"), ("mapping", "Mapping", "mapping"), ("validation", "Validation", "validation"),
         ("plan", "Plan", "plan"), ("runs", "Runs", "runs"))
templates.env.globals["STEPS"] = STEPS


@lru_cache(maxsize=256)
def _options(values: tuple[str, ...]) -> str:
    return "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)


def options(values, chosen: str = "") -> Markup:
    """The <option> tags of a drop-down with ``chosen`` selected: one string per list of values, built
    once (the mapping page has a drop-down of a file's headers for every field of every file)."""
    html = _options(tuple(values))
    if chosen:
        tag = f'<option value="{escape(chosen)}">'
        html = html.replace(tag, tag[:-1] + " selected>", 1)
    return Markup(html)


templates.env.globals["options"] = options


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def study_dir(request: Request, sid: str) -> Path:
    """The folder of study ``sid`` (404 when the app does not know it)."""
    from .studies import UnknownStudy, resolve

    try:
        return resolve(settings_of(request), sid)
    except UnknownStudy as exc:
        raise HTTPException(404, str(exc)) from exc


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/name`` with the request, its CSRF token and ``context``.

    Every page extending base.html gets ``step`` (the highlighted step), ``sid`` and ``study``
    (title / folder) from ``context``; pass what the page has."""
    context.setdefault("sid", None)
    context.setdefault("step", None)
    context.setdefault("study", None)
    return templates.TemplateResponse(request, name, {"csrf_token": csrf_token(request), **context},
                                      status_code=status_code)
