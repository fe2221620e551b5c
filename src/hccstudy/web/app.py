"""``create_app(settings)``: the FastAPI application of ``hccstudy serve``.

Order of the layers around each request: the body limit (413), the host/token gate (403/401), the CSRF
cookie (set on the first page), our own access log line (method, path, status, milliseconds - never the
query string, where record numbers go, and never a patient identifier: no patient id is ever put in
a path), then the routers.  Every error the user can meet is shown as a page with one plain line;
an unexpected one is logged with its traceback on the server and shown as "internal error" only.
"""

from __future__ import annotations

import logging
import time
import traceback

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.responses import PlainTextResponse, Response

from .. import __version__
from . import routes_data, routes_plan, routes_runs, routes_studies
from .render import STATIC, render
from .security import (
    CSRF_COOKIE,
    TOKEN_COOKIE,
    BodyLimit,
    csrf_protect,
    host_allowed,
    new_csrf_token,
    token_ok,
)
from .settings import WebSettings

log = logging.getLogger("hccstudy.web")

_TITLES = {400: "Bad request", 401: "Token required", 403: "Not allowed", 404: "Not found",
           405: "Not allowed", 413: "File too large", 422: "Bad request", 500: "Internal error"}


def _error(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request"):  # an htmx swap: a fragment with the one line
        return render(request, "_error_fragment.html", status_code=status, status=status, message=message,
                      title=_TITLES.get(status, "Error"))
    return render(request, "error.html", status_code=status, status=status, message=message,
                  title=_TITLES.get(status, "Error"))


def create_app(settings: WebSettings) -> FastAPI:
    """The app: every page and action of the issue's steps 1-7, for the studies under ``settings``."""
    app = FastAPI(title="hccstudy", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_protect)])
    app.state.settings = settings

    @app.middleware("http")
    async def gate(request: Request, call_next):
        t0 = time.perf_counter()
        if not host_allowed(settings, request.headers.get("host", "")):
            response: Response = PlainTextResponse("host not allowed: open the app at http://127.0.0.1", 403)
        elif not token_ok(settings, request):
            response = PlainTextResponse("this app needs its access token: open the address printed by "
                                         "`hccstudy serve` (it ends with ?token=...)", 401)
        else:
            # the CSRF cookie is set by pages, not by their assets (a page and its stylesheet asked for
            # at once on a first visit must not race to set two tokens)
            fresh = CSRF_COOKIE not in request.cookies and not request.url.path.startswith("/static/")
            if fresh:
                request.state.csrf = new_csrf_token()
            response = await call_next(request)
            if fresh:
                response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=False, samesite="strict", path="/")
            if settings.token and request.query_params.get("token") and TOKEN_COOKIE not in request.cookies:
                response.set_cookie(TOKEN_COOKIE, settings.token, httponly=True, samesite="strict", path="/")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        # our access log: the path only (study ids and run ids, never a patient's), no query string
        if response.status_code != 204:  # not the validation page's "anything changed?" polls
            log.info("%s %s %d %.0f ms", request.method, request.url.path, response.status_code,
                     1000 * (time.perf_counter() - t0))
        return response

    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        where = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
                          for e in exc.errors()[:3])
        return _error(request, 422, f"the request is not complete ({where})")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        # where it failed (file, line, function) and the exception's type: never its message or the source
        # lines, which may quote a cell of the data
        frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
        log.error("internal error on %s %s: %s\n%s", request.method, request.url.path, type(exc).__name__, frames)
        return _error(request, 500, "internal error: the server log has the details; nothing was changed")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in (routes_studies, routes_data, routes_plan, routes_runs):
        app.include_router(module.router)
    return app
