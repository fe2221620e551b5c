"""Runs: /s/{sid}/runs, /s/{sid}/runs/{rid}, /s/{sid}/compare (helper W2)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
