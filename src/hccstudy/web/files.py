"""A study's centre files: list them, add uploads, copy a folder from this computer, read one record.

Uploads and copies are written into the study folder (``STUDY/<centre>/<record type>.csv|.parquet`` or
``STUDY/<centre>.xlsx``) through a temporary file renamed into place; the original file is only read.
Every name goes through :func:`~hccstudy.web.security.safe_child`, every file's content is checked
against its extension (:func:`~hccstudy.web.security.check_upload`), and a symlink is never followed
when copying a folder.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..schema.fields import RECORD_TYPES
from .security import BadUpload, UnsafePath, check_upload, clean_name, safe_child

#: largest single file copied from a folder (the readers' own limit)
MAX_COPY_BYTES = 512 << 20


@dataclass(frozen=True)
class CentreFile:
    centre: str
    name: str       # relative to the study folder, as issues name it
    kind: str       # csv / parquet / xlsx
    size: int
    record_type: str | None


def centre_files(folder: Path) -> list[CentreFile]:
    """Every centre file of the study: the files of each centre sub-folder and each workbook."""
    root = Path(folder)
    out = []
    for e in sorted(root.iterdir()):
        if e.name.startswith((".", "~$")) or e.is_symlink():
            continue
        if e.is_dir() and e.name.lower() != "templates":
            for f in sorted(e.iterdir()):
                if f.is_file() and not f.name.startswith((".", "~$")) and not f.is_symlink():
                    rt = f.stem.lower() if f.stem.lower() in RECORD_TYPES else None
                    out.append(CentreFile(e.name, f"{e.name}/{f.name}", f.suffix.lower().lstrip("."), f.stat().st_size, rt))
        elif e.is_file() and e.suffix.lower() == ".xlsx":
            out.append(CentreFile(e.stem, e.name, "xlsx", e.stat().st_size, None))
    return out


def target_name(centre: str, filename: str, record_type: str | None) -> str:
    """Where an uploaded file goes, relative to the study folder: a workbook is a whole centre
    (``<centre>.xlsx``); a CSV/Parquet file is one record type (``<centre>/<record type>.<ext>``),
    taken from ``record_type`` or from the file's own name."""
    centre = clean_name(centre)
    ext = Path(filename).suffix.lower()
    if ext == ".xlsx":
        return f"{centre}.xlsx"
    rt = (record_type or Path(clean_name(filename)).stem).strip().lower()
    if rt not in RECORD_TYPES:
        raise BadUpload(f"{filename}: choose what the file holds ({', '.join(RECORD_TYPES)}), or name it "
                        "after its record type, e.g. patients.csv")
    return f"{centre}/{rt}{ext}"


def content_problem(name: str, data: bytes) -> str | None:
    """Why a whole uploaded file cannot be a centre file, beyond its first bytes (:func:`check_upload`):
    a workbook is checked by the readers' own :func:`~hccstudy.schema.readers.workbook_problem` and must
    hold ``xl/workbook.xml`` (a Word file is a zip too), a Parquet file by
    :func:`~hccstudy.schema.readers.parquet_problem` (its footer)."""
    import io
    import zipfile

    from ..schema.readers import parquet_problem, workbook_problem

    ext = Path(name).suffix.lower()
    if ext == ".xlsx":
        problem = workbook_problem(data)
        if problem is None:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "xl/workbook.xml" not in zf.namelist():
                    problem = "not an Excel workbook (a zip archive without xl/workbook.xml)"
        return f"{name}: {problem}" if problem else None
    if ext == ".parquet":
        problem = parquet_problem(data)
        return f"{name}: {problem}" if problem else None
    return None


def write_into(root: Path, rel: str, source, replace: bool = False) -> Path:
    """Copy the binary stream ``source`` to ``root/rel`` (temporary file, then rename); refuses to
    replace an existing file unless ``replace``."""
    dest = safe_child(root, rel)
    if dest.exists() and not replace:
        raise BadUpload(f"{rel} already exists in the study: tick 'replace' to replace it")
    if dest.is_symlink():
        raise UnsafePath(f"{rel} is a link: not replaced")
    dest.parent.mkdir(parents=True, exist_ok=True)
    safe_child(root, rel)  # again, now that the centre folder exists
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def copy_folder(root: Path, source: Path, centre: str | None = None, replace: bool = False) -> list[str]:
    """Copy centre files from a folder on this computer into the study: either a centre folder (record
    files directly inside: copied as centre ``centre`` or the folder's name) or a study-like folder (one
    sub-folder or workbook per centre).  Links are skipped, every file is checked by content; returns
    the names written.  Nothing in ``source`` is changed."""
    source = Path(source).expanduser()
    if not source.is_absolute():
        raise BadUpload(f"give the full path of the folder (got {str(source)!r})")
    if not source.is_dir() or source.is_symlink():
        raise BadUpload(f"{source} is not a folder on this computer")
    if source.resolve() == Path(root).resolve() or Path(root).resolve() in source.resolve().parents:
        raise BadUpload("that folder is the study folder itself")
    plan: list[tuple[Path, str]] = []

    def centre_dir(d: Path, name: str) -> None:
        for f in sorted(d.iterdir()):
            if f.is_symlink() or not f.is_file() or f.name.startswith((".", "~$")):
                continue
            if f.suffix.lower() in (".csv", ".parquet") and f.stem.lower() in RECORD_TYPES:
                plan.append((f, f"{clean_name(name)}/{f.stem.lower()}{f.suffix.lower()}"))

    if any(f.stem.lower() in RECORD_TYPES and f.suffix.lower() in (".csv", ".parquet") for f in source.iterdir()):
        centre_dir(source, centre or source.name)
    else:
        for e in sorted(source.iterdir()):
            if e.is_symlink() or e.name.startswith((".", "~$")) or e.name.lower() == "templates":
                continue
            if e.is_dir():
                centre_dir(e, e.name)
            elif e.is_file() and e.suffix.lower() == ".xlsx":
                plan.append((e, f"{clean_name(e.stem)}.xlsx"))
    if not plan:
        raise BadUpload(f"no centre files found in {source}: expected patients.csv (and the other record "
                        "files) in it or in one sub-folder per centre, or one .xlsx workbook per centre")
    for f, rel in plan:
        if f.stat().st_size > MAX_COPY_BYTES:
            raise BadUpload(f"{f.name} is larger than {MAX_COPY_BYTES >> 20} MiB")
        data = f.read_bytes()
        check_upload(f.name, data[:4096])
        if problem := content_problem(f.name, data):
            raise BadUpload(problem)
        if safe_child(root, rel).exists() and not replace:
            raise BadUpload(f"{rel} already exists in the study: tick 'replace' to replace it")
    for f, rel in plan:
        with open(f, "rb") as fh:
            write_into(root, rel, fh, replace=True)
    return [rel for _, rel in plan]


def read_record(folder: Path, file: str, row: int) -> tuple[list[str], list[str]] | None:
    """The header and the values of row ``row`` (1-based, header = row 1, as issues count; Parquet from
    1) of the study's ``file`` (``centre/x.csv`` or ``book.xlsx[sheet]``), read by the library's readers
    (the parsed file is cached while the study's inputs are unchanged, so paging through records of
    one file reads it once)."""
    import pandas as pd

    from .checks import memo

    sheet = None
    if file.endswith("]") and "[" in file:
        file, sheet = file[:-1].split("[", 1)
    path = safe_child(folder, file)
    if not path.is_file() or row < 1:
        return None
    ext = path.suffix.lower()
    parsed = memo(folder, f"file:{file}", lambda: _parse(path))
    if parsed is None:
        return None

    def cells(values) -> list[str]:
        return ["" if pd.isna(v) else str(v) for v in values]

    if ext == ".csv":
        df, header, rows = parsed
        hit = (rows == row).nonzero()[0]
        return ([str(h) for h in header], cells(df.iloc[int(hit[0])].tolist())) if len(hit) else None
    if ext in (".parquet", ".pq"):
        return ([str(c) for c in parsed.columns], cells(parsed.iloc[row - 1].tolist())) if row <= len(parsed) else None
    sh = parsed.get(sheet) if sheet is not None else None
    if sh is None or row > len(sh) or row < 2:
        return None
    return cells(sh.iloc[0].tolist()), cells(sh.iloc[row - 1].tolist())


def _parse(path: Path):
    """A centre file parsed by the library's readers: CSV -> (frame, header, source rows), Parquet ->
    frame, workbook -> {sheet: frame with the header as its first row}; None for another kind."""
    import io

    import pandas as pd

    from ..schema.readers import _read_csv, _read_workbook_sheets

    data = path.read_bytes()
    ext = path.suffix.lower()
    if ext == ".csv":
        return _read_csv(data)
    if ext in (".parquet", ".pq"):
        return pd.read_parquet(io.BytesIO(data))
    if ext in (".xlsx", ".xlsm"):
        return _read_workbook_sheets(data)
    return None
