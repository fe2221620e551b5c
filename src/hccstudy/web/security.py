"""The app's defences: CSRF (double submit), host and token checks, safe file names inside a study
folder, and upload checks by content and size.

* CSRF: a random token in the cookie ``hccstudy_csrf``; every state-changing request (POST, PUT,
  PATCH, DELETE) must repeat it in the header ``X-CSRF-Token`` (htmx: ``hx-headers`` on <body>) or
  the form field ``csrf_token``; otherwise 403.  A page from another site can make the browser send
  the cookie but cannot read it, so it cannot repeat it.
* Host: bound to loopback without a token, a request whose ``Host`` header is not a loopback name is
  refused (403) - a DNS-rebinding page cannot talk to the app.  With a token, every request must carry
  it (``?token=`` once, then the cookie ``hccstudy_token``, or ``Authorization: Bearer``).
* Paths: :func:`safe_child` refuses ``..``, absolute paths, drive letters and symlinks out of the root.
* Uploads: :func:`sniff` reads the first bytes (CSV text, XLSX zip, Parquet magic); the request body is
  counted as it arrives and refused above ``max_upload_bytes`` (413).
"""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path, PurePosixPath, PureWindowsPath

from fastapi import HTTPException, Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import LOOPBACK, WebSettings

CSRF_COOKIE = "hccstudy_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
TOKEN_COOKIE = "hccstudy_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class UnsafePath(ValueError):
    """A file name that would leave its folder."""


class BadUpload(ValueError):
    """An upload whose content is not what its name says, or of a kind the app does not read."""


# -- paths -------------------------------------------------------------------------------------------

_NAME_OK = re.compile(r"[^A-Za-z0-9._\- ]")


def clean_name(name: str) -> str:
    """A plain file name from an uploaded one: its last part only, other characters as ``_``.

    >>> clean_name("C:\\\\data\\\\centre A.csv")
    'centre A.csv'
    """
    base = PureWindowsPath(PurePosixPath(name).name).name.strip()
    base = _NAME_OK.sub("_", base).lstrip(".")
    if not base or base in {".", ".."}:
        raise UnsafePath(f"not a usable file name: {name!r}")
    return base[:200]


def safe_child(root: Path, name: str) -> Path:
    """``root / name`` if it stays inside ``root`` once resolved, else :class:`UnsafePath`.

    ``name`` may have sub-folders (``alpha/patients.csv``) but no ``..`` part, no absolute path or
    drive, no backslash, and must not resolve (through a symlink) outside ``root``."""
    if not name or "\x00" in name or "\\" in name:
        raise UnsafePath(f"not a usable file name: {name!r}")
    p = PurePosixPath(name)
    if p.is_absolute() or PureWindowsPath(name).drive or any(part in ("..", "") for part in p.parts):
        raise UnsafePath(f"{name!r} leaves the study folder")
    root_r = Path(root).resolve()
    target = (root_r / p).resolve()
    if target != root_r and root_r not in target.parents:
        raise UnsafePath(f"{name!r} leaves the study folder")
    return root_r / p


# -- uploads -----------------------------------------------------------------------------------------

#: the kinds of file a centre's records may come in, by extension
KINDS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}


def sniff(head: bytes) -> str | None:
    """The kind of file from its first bytes: ``xlsx`` (a zip), ``parquet`` (``PAR1``), ``csv``
    (UTF-8 or Latin-1 text without NUL bytes), or None."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if not head or b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end is still UTF-8
            try:
                head.decode("latin-1")
            except UnicodeDecodeError:
                return None
    printable = sum(b >= 32 or b in (9, 10, 13) for b in head)
    return "csv" if printable >= 0.98 * len(head) else None


def check_upload(name: str, head: bytes) -> str:
    """The kind of an uploaded file, after checking that its content matches its extension."""
    ext = Path(name).suffix.lower()
    kind = KINDS.get(ext)
    if kind is None:
        raise BadUpload(f"{name}: only CSV, Excel (.xlsx) and Parquet files are accepted")
    found = sniff(head)
    if found != kind:
        raise BadUpload(f"{name}: the content is not a {ext[1:].upper()} file"
                        + (f" (it looks like {found.upper()})" if found else ""))
    return kind


class BodyLimit:
    """ASGI middleware: refuse a request body above ``limit`` bytes with 413, by Content-Length when
    given and by counting the chunks otherwise (nothing above the limit is buffered)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_big(self.limit)(scope, receive, send)
            return
        seen, exceeded, started = 0, False, False

        async def counted() -> Message:
            # past the limit the app is told the client went away (it stops reading: nothing more is
            # buffered or written), and its own response is replaced by the 413 below
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return msg

        async def guarded(msg: Message) -> None:
            nonlocal started
            if exceeded:
                return
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_big(self.limit)(scope, receive, send)


def _too_big_text(limit: int) -> str:
    size = f"{limit / 1024 / 1024:.0f} MB" if limit >= 1 << 20 else f"{limit / 1024:.0f} KB"
    return f"the upload is larger than the limit of {size}: split it, or save it as Parquet or CSV"


def _too_big(limit: int):
    """The 413 page (the app's error page; plain text if the template cannot be rendered)."""
    from starlette.responses import HTMLResponse

    try:
        from .render import templates

        html = templates.get_template("error.html").render(
            title="File too large", status=413, message=_too_big_text(limit), csrf_token="", sid=None, step=None,
            study=None)
    except Exception:  # noqa: BLE001 - never fail the refusal itself
        return PlainTextResponse(_too_big_text(limit), status_code=413)
    return HTMLResponse(html, status_code=413)


# -- host, token, CSRF -------------------------------------------------------------------------------

def host_allowed(settings: WebSettings, host_header: str) -> bool:
    """Without a token, only loopback names may be in the Host header (DNS rebinding)."""
    if settings.token:
        return True
    host = host_header.rsplit(":", 1)[0] if not host_header.startswith("[") else host_header[1:].split("]")[0]
    return host in LOOPBACK


def token_ok(settings: WebSettings, request: Request) -> bool:
    """The request carries the token (query, cookie or bearer header), compared in constant time."""
    if not settings.token:
        return True
    auth = request.headers.get("authorization", "")
    given = (request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)
             or (auth[7:] if auth.lower().startswith("bearer ") else ""))
    return bool(given) and hmac.compare_digest(given.encode(), settings.token.encode())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (the cookie's, or the one the middleware is about to set)."""
    return getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE) or ""


async def csrf_protect(request: Request) -> None:
    """FastAPI dependency on every route: a state-changing request must repeat the cookie's token."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached by Starlette: the route reads the same form
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else ""
    if not cookie or not given or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise HTTPException(403, "the form is out of date or came from another site (CSRF check failed): "
                                 "reload the page and try again")
