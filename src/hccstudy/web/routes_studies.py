"""Step 1: the studies page (recent studies; create or open one)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .render import render, settings_of

router = APIRouter()


@router.get("/")
def studies_page(request: Request):
    from .studies import recent

    return render(request, "studies.html", title="Studies", recent=recent(settings_of(request)))
