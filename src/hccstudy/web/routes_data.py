"""Steps 2-4 of a study: centre files, column mapping, validation (and one record)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
