"""``hccstudy serve``: the whole study in a local web app (FastAPI + Jinja2 templates + htmx).

A thin layer over the library: pages call the same entry points as the CLI (``load_study``, the column
map of ``hccstudy map``, ``ingest``'s validation, the config models, ``run_study``).  Nothing is fetched
from the network: templates and static assets ship in this package.

Modules: :mod:`.settings` (``WebSettings``), :mod:`.security` (CSRF, host/token, safe paths, upload
checks), :mod:`.studies` (a study = a folder with study.yaml; the recent list), :mod:`.render`
(templates), :mod:`.app` (``create_app``) and the routers ``routes_*``.
"""

from __future__ import annotations

from .settings import WebSettings


def create_app(settings: WebSettings | None = None):
    """:func:`hccstudy.web.app.create_app`, imported on first use (FastAPI is loaded only here)."""
    from .app import create_app as make

    return make(settings or WebSettings())


__all__ = ["WebSettings", "create_app"]
