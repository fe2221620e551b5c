"""The plan form: GET/POST /s/{sid}/plan (helper W2)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
