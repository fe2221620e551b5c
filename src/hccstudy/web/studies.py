"""A study is a folder with study.yaml (the same file the CLI reads) and one sub-folder or workbook per
centre.  The app remembers the studies it opened (``HOME/recent.json``); a study's id in URLs is the
first 12 hex digits of the SHA-256 of its resolved folder path, so a URL never shows a folder name.

The app's own files for a study (validation cache, runs) go under ``STUDY/.hccstudy/``: a dot-folder,
which the study reader skips (it is not a centre).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .settings import WebSettings

STATE = ".hccstudy"
RECENT = "recent.json"
MAX_RECENT = 20


class UnknownStudy(LookupError):
    """A study id the app has not opened."""


@dataclass(frozen=True)
class StudyInfo:
    sid: str
    folder: Path
    title: str
    opened: str

    @property
    def config(self) -> Path:
        return self.folder / "study.yaml"


def study_id(folder: Path) -> str:
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:12]


def state_dir(folder: Path) -> Path:
    """The app's own folder inside a study (runs, caches): ``STUDY/.hccstudy``."""
    return Path(folder) / STATE


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def recent(settings: WebSettings) -> list[StudyInfo]:
    """The studies opened before, newest first (those whose folder is gone are left out)."""
    path = settings.home / RECENT
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for r in rows if isinstance(rows, list) else []:
        folder = Path(str(r.get("folder", "")))
        if folder.is_dir():
            out.append(StudyInfo(study_id(folder), folder, str(r.get("title") or folder.name), str(r.get("opened", ""))))
    return out


def remember(settings: WebSettings, folder: Path, title: str | None = None) -> StudyInfo:
    """Put ``folder`` first in the recent list; returns its :class:`StudyInfo`."""
    folder = Path(folder).resolve()
    info = StudyInfo(study_id(folder), folder, title or folder.name,
                     datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    rows = [r for r in recent(settings) if r.sid != info.sid]
    rows = [info, *rows][:MAX_RECENT]
    _write_json(settings.home / RECENT, [{"folder": str(r.folder), "title": r.title, "opened": r.opened} for r in rows])
    return info


def resolve(settings: WebSettings, sid: str) -> Path:
    """The folder of study ``sid``, which must be in the recent list."""
    return info(settings, sid).folder


def info(settings: WebSettings, sid: str) -> StudyInfo:
    for r in recent(settings):
        if r.sid == sid:
            return r
    raise UnknownStudy(f"no study with id {sid!r}: open it from the Studies page")
