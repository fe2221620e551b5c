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


# -- creating and opening ----------------------------------------------------------------------------

#: how a new study starts: key -> (label, what it holds)
STARTS = {
    "synthetic": ("Built-in synthetic study", "the calibrated five-centre cohort of the built-in study (3,923 patients)"),
    "example": ("Small example study", "20 patients in three centres, the example shipped with hccstudy"),
    "templates": ("Excel and CSV templates", "study.yaml and empty templates to fill in, as hccstudy init writes them"),
    "empty": ("Empty study", "only study.yaml: add each centre's files next"),
}


class StudyError(ValueError):
    """A study that cannot be created or opened (a one-line message for the page)."""


def _study_yaml() -> str:
    from ..cohort.skeleton import study_yaml
    from ..config import StudyConfig

    return study_yaml(StudyConfig)


def create(settings: WebSettings, folder: Path, start: str, title: str | None = None) -> StudyInfo:
    """Make a new study in ``folder`` (which must not exist, or be empty) from ``start`` (:data:`STARTS`);
    study.yaml is the commented skeleton of ``hccstudy init`` (it loads to the built-in defaults).
    Written into a temporary sibling and renamed into place, so a failure leaves nothing half-made."""
    import shutil

    if start not in STARTS:
        raise StudyError(f"unknown starting point {start!r}; choose one of: {', '.join(STARTS)}")
    folder = Path(folder).expanduser()
    if not folder.is_absolute():
        raise StudyError(f"give the full path of the new study folder (got {str(folder)!r})")
    if folder.is_symlink() or (folder.exists() and (not folder.is_dir() or any(folder.iterdir()))):
        raise StudyError(f"{folder} already exists and is not empty: choose a new folder, or open it instead")
    if not folder.parent.is_dir():
        raise StudyError(f"the folder {folder.parent} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        if start == "templates":
            from ..cohort.skeleton import write_skeleton
            from ..config import StudyConfig

            write_skeleton(tmp, model=StudyConfig)
        else:
            (tmp / "study.yaml").write_text(_study_yaml(), encoding="utf-8")
            if start == "synthetic":
                from ..synth import DEFAULT_SEED, generate, write_cohort

                write_cohort(generate(DEFAULT_SEED), tmp)
            elif start == "example":
                from ..examples import copy_example

                copy_example("study", tmp)
        if folder.exists():
            folder.rmdir()  # empty (checked above)
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StudyError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return remember(settings, folder, title or folder.name)


def open_folder(settings: WebSettings, folder: Path) -> StudyInfo:
    """Open an existing study folder.  A folder without study.yaml gets the commented skeleton (it loads
    to the defaults); nothing else in it is touched."""
    folder = Path(folder).expanduser()
    if not folder.is_absolute():
        raise StudyError(f"give the full path of the study folder (got {str(folder)!r})")
    if not folder.is_dir():
        raise StudyError(f"{folder} is not a folder on this computer")
    cfg = folder / "study.yaml"
    if cfg.is_symlink() or (cfg.exists() and not cfg.is_file()):
        raise StudyError(f"{cfg} is not a regular file")
    if not cfg.exists():
        _write_text(cfg, _study_yaml())
    return remember(settings, folder)


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def default_parent(settings: WebSettings) -> Path:
    """Where new studies go unless the user says otherwise: ``HOME/studies``."""
    return settings.home / "studies"


# -- study.yaml: one top-level key replaced, the rest of the text (comments included) kept ----------

def replace_key(text: str, key: str, block: str) -> str:
    """``text`` (a study.yaml) with the top-level ``key:`` and its indented lines replaced by ``block``
    (YAML text starting with ``key:``); appended when the key is absent.  Comments elsewhere stay."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if not block.endswith("\n"):
        block += "\n"
    if start is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + block
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    # keep trailing blank lines before the next key
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def save_key(folder: Path, key: str, block: str) -> None:
    """Write study.yaml with ``key`` replaced by ``block`` once the whole file loads as a valid config
    (:func:`hccstudy.config.load_config`); raises ConfigError (nothing written) otherwise."""
    from ..config import load_config

    cfg = Path(folder) / "study.yaml"
    old = cfg.read_text(encoding="utf-8") if cfg.exists() else ""
    new = replace_key(old, key, block)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".study.yaml.", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new)
        load_config(Path(tmp))  # the same check as the CLI's --config
        os.replace(tmp, cfg)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_warming: set[Path] = set()
_warming_lock = __import__("threading").Lock()


def warm(settings: WebSettings, folder: Path) -> None:
    """Start validating the study in the background (the check, the flow figure, the mapping page's
    table), so that its pages open at once; does nothing while a warm-up of the same study runs."""
    import threading

    from .checks import check, flow_svg
    from .mapform import cached_model

    if not settings.background_checks:
        return
    folder = Path(folder).resolve()
    with _warming_lock:
        if folder in _warming:
            return
        _warming.add(folder)

    def work():
        try:
            for step in (check, lambda f: flow_svg(check(f)), cached_model):
                step(folder)
        except Exception:  # noqa: BLE001, S110 - the page that needs it runs it again and shows the error
            pass
        finally:
            with _warming_lock:
                _warming.discard(folder)

    threading.Thread(target=work, daemon=True, name="hccstudy-check").start()
