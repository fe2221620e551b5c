"""Read a study folder: one sub-folder (CSV / Parquet files) or one Excel workbook per centre.

Layout::

    STUDY_DIR/
      centre_a/patients.csv, haic_cycles.csv, systemic.csv, labs.csv, assessments.csv, adverse_events.csv
      centre_b/patients.parquet, ...
      centre_c.xlsx            (one sheet per record type, sheet name = record type)

The centre code is the folder or workbook name.  Every record keeps its provenance: ``centre``,
``source_file`` (relative to STUDY_DIR; ``workbook.xlsx[sheet]`` for Excel) and ``source_row`` (the
1-based row in that file: header = row 1 for CSV/Excel, so the first record is row 2; Parquet rows
count from 1).  Values are read as they are (CSV as text) and typed later by the validator, so that a
bad value can be reported exactly as the user wrote it.  Files are opened read-only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .fields import RECORD_TYPES
from .report import IssueLog

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
EXCEL = {".xlsx", ".xlsm"}


@dataclass(frozen=True)
class InputFile:
    path: Path
    centre: str
    sha256: str


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _with_provenance(df: pd.DataFrame, centre: str, source: str, first_row: int, log: IssueLog) -> pd.DataFrame:
    df = df.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    cols = list(df.columns)
    df["source_row"] = pd.RangeIndex(first_row, first_row + len(df), dtype="int64")
    if "centre" in df.columns:
        df = df.rename(columns={"centre": "centre_reported"})
    df["centre"] = centre
    df["source_file"] = source
    data_cols = [c for c in df.columns if c not in ("centre", "source_file", "source_row")]
    blank = df[data_cols].isna().all(axis=1) if data_cols else pd.Series(False, index=df.index)
    if blank.any():
        log.add_rows(df, blank, column=None, rule="empty_row", severity="warning",
                     message="empty row ignored (counted, not analysed)")
        df = df.loc[~blank]
    df = df.reset_index(drop=True)
    df.attrs = {"source_file": source, "centre": centre, "columns": cols}
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, skip_blank_lines=False, encoding="utf-8-sig", na_values=["", "NA", "NaN", "na", "N/A", "."], keep_default_na=False)


@dataclass(frozen=True)
class RawStudy:
    """What was read: raw tables by record type (all centres stacked), the input files with their
    SHA-256 (for the run manifest) and the columns each source file had (record type -> source ->
    (centre, columns))."""

    tables: dict[str, pd.DataFrame]
    inputs: list[InputFile]
    columns: dict[str, dict[str, tuple[str, list[str]]]]


def read_study(study_dir: str | Path, log: IssueLog) -> RawStudy:
    """Read every centre of ``study_dir`` (see the module docstring for the layout)."""
    root = Path(study_dir)
    columns: dict[str, dict[str, tuple[str, list[str]]]] = {name: {} for name in RECORD_TYPES}
    if not root.is_dir():
        log.add(rule="study_dir", message=f"study folder not found: {root}", file=str(root))
        return RawStudy({}, [], columns)
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in RECORD_TYPES}
    inputs: list[InputFile] = []
    centres: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "~$")):
            continue
        if entry.is_dir():
            centres.append(entry.name)
            _read_centre_folder(root, entry, frames, inputs, log)
        elif entry.suffix.lower() in EXCEL:
            centres.append(entry.stem)
            _read_workbook(root, entry, frames, inputs, log)
        elif entry.name.lower() not in {"study.yaml", "study.yml", "readme.md", "readme.txt"}:
            log.add(rule="unknown_file", severity="warning", file=entry.name,
                    message="not a centre folder or workbook; ignored")
    if not centres:
        log.add(rule="no_centres", file=str(root),
                message="no centre found: expected one sub-folder or .xlsx workbook per centre")
    dup = {c for c in centres if centres.count(c) > 1}
    for c in sorted(dup):
        log.add(rule="duplicate_centre", centre=c, message=f"centre {c!r} appears both as a folder and a workbook")
    tables = {}
    for name, parts in frames.items():
        for part in parts:
            src = str(part.attrs["source_file"])
            columns[name][src] = (part.attrs["centre"], part.attrs["columns"])
        if parts:
            tables[name] = pd.concat(parts, ignore_index=True)
    return RawStudy(tables, inputs, columns)


def _read_centre_folder(root, folder, frames, inputs, log) -> None:
    centre = folder.name
    seen: set[str] = set()
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "~$")) or path.is_dir():
            continue
        rel = str(path.relative_to(root))
        kind = SUFFIXES.get(path.suffix.lower())
        name = path.stem.lower()
        if kind is None or name not in RECORD_TYPES:
            log.add(rule="unknown_file", severity="warning", centre=centre, file=rel,
                    message=f"not a record file ({', '.join(RECORD_TYPES)} as .csv/.parquet); ignored")
            continue
        if name in seen:
            log.add(rule="duplicate_file", centre=centre, file=rel,
                    message=f"record type {name!r} given twice in centre {centre!r}")
            continue
        seen.add(name)
        try:
            if kind == "csv":
                df, first = _read_csv(path), 2
            else:
                df, first = pd.read_parquet(path), 1
        except Exception as exc:  # a user's file we cannot parse: report, do not crash
            log.add(rule="unreadable_file", centre=centre, file=rel, message=f"cannot read file: {exc}")
            continue
        inputs.append(InputFile(path, centre, sha256(path)))
        frames[name].append(_with_provenance(df, centre, rel, first, log))
    if "patients" not in seen:
        log.add(rule="missing_patients", centre=centre, file=str(folder.relative_to(root)),
                message="centre has no patients file")


def _read_workbook(root, path, frames, inputs, log) -> None:
    centre = path.stem
    rel = str(path.relative_to(root))
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as exc:
        log.add(rule="unreadable_file", centre=centre, file=rel, message=f"cannot read workbook: {exc}")
        return
    inputs.append(InputFile(path, centre, sha256(path)))
    seen = set()
    for sheet, df in sheets.items():
        name = str(sheet).strip().lower()
        if name not in RECORD_TYPES:
            log.add(rule="unknown_sheet", severity="warning", centre=centre, file=f"{rel}[{sheet}]",
                    message="sheet is not a record type; ignored")
            continue
        seen.add(name)
        frames[name].append(_with_provenance(df, centre, f"{rel}[{sheet}]", 2, log))
    if "patients" not in seen:
        log.add(rule="missing_patients", centre=centre, file=rel, message="workbook has no 'patients' sheet")
