"""Read a study folder: one sub-folder (CSV / Parquet files) or one Excel workbook per centre.

Layout::

    STUDY_DIR/
      centre_a/patients.csv, haic_cycles.csv, systemic.csv, labs.csv, assessments.csv, adverse_events.csv
      centre_b/patients.parquet, ...
      centre_c.xlsx            (one sheet per record type, sheet name = record type)
      templates/               (the empty templates of `hccstudy init`; not a centre, never read)
      study.yaml, *.yml        (configs, e.g. the stub `hccstudy map --write` writes; not read here)

The centre code is the folder or workbook name.  Every record keeps its provenance: ``centre``,
``source_file`` (relative to STUDY_DIR; ``workbook.xlsx[sheet]`` for Excel) and ``source_row`` (the
1-based row in that file: header = row 1 for CSV/Excel, so the first record is row 2; Parquet rows
count from 1).  In a CSV file whose quoted values span lines, ``source_row`` is the line the record
starts on, so that the row in a message is the line an editor shows.  Values are read as they are (CSV
as text) and typed later by the validator, so that a bad value can be reported exactly as the user
wrote it.

Files are opened read-only and read with limits: only regular files (a FIFO or a link to a device is
refused, never read), at most :data:`MAX_FILE_BYTES`; CSV must be UTF-8 (an encoding error names the
line); a workbook is checked before openpyxl parses it (:func:`workbook_problem`).  Column names are
matched after stripping spaces and ignoring case, so two columns that differ only in case or spaces
(``sex`` and ``SEX``, ``ecog`` twice) are an error naming both, and only the first is read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import InputFileError, NotUtf8Error, decode_utf8, read_regular_file
from .fields import RECORD_TYPES
from .mapping import CentreMapping, FileMapping, apply_values, file_mapping, rename_columns
from .report import IssueLog
from .validate import closest

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
EXCEL = {".xlsx", ".xlsm"}
#: largest input file read (CSV, Parquet or workbook as stored)
MAX_FILE_BYTES = 512 << 20
#: largest total uncompressed size of a workbook's parts.  openpyxl parses about 1-3 MB of sheet XML
#: per second, so this also bounds the time a workbook can take (under a minute on a busy machine);
#: larger tables belong in CSV or Parquet (a 60,000-row lab sheet unpacks to about 20 MB).
MAX_WORKBOOK_BYTES = 64 << 20
#: largest uncompressed size of a Parquet file's data (from its footer, checked before reading)
MAX_PARQUET_BYTES = 1 << 30
#: a workbook part over 1 MiB that deflates more than this is a decompression bomb, not a table
MAX_COMPRESSION_RATIO = 200
NA_VALUES = ["", "NA", "NaN", "na", "N/A", "."]
#: a folder of this name in a study folder holds the empty templates of `hccstudy init`: not a centre
TEMPLATES_FOLDER = "templates"
#: a sheet of this name in a workbook holds the template's lists of allowed values: not a record type
LISTS_SHEET = "_lists"


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


class _Unreadable(Exception):
    """A file we refuse or cannot parse; ``row`` is the line when known."""

    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.row = row


# --------------------------------------------------------------------------- columns and provenance
def _column_names(header: list) -> list[str]:
    """Names as matched (stripped, lower case); an empty header cell is ``unnamed: <position>``."""
    out = []
    for i, c in enumerate(header):
        name = "" if c is None or (isinstance(c, float) and np.isnan(c)) else str(c).strip().lower()
        out.append(name or f"unnamed: {i}")
    return out


def _drop_duplicate_columns(df: pd.DataFrame, written: list, centre: str, source: str, log: IssueLog) -> pd.DataFrame:
    """Two columns with one name after stripping and case-folding: an error naming both; keep the first."""
    names = pd.Index(df.columns)
    dup = names.duplicated(keep=False)
    if not dup.any():
        return df
    for name in dict.fromkeys(names[dup]):
        pos = np.flatnonzero(names == name)
        shown = " and ".join(f"{str(written[i])!r} (column {i + 1})" for i in pos)
        log.add(rule="duplicate_column", centre=centre, file=source, column=name, value=name,
                message=f"columns {shown} are the same column once case and spaces are ignored; "
                        "remove or rename one (only the first was read)")
    return df.loc[:, ~names.duplicated(keep="first")]


def _apply_column_map(df: pd.DataFrame, written: list, fm: FileMapping, source: str, log: IssueLog) -> pd.DataFrame:
    """Rename the centre's columns to data-model fields (config ``centres.<centre>.columns``).  A file that
    also has a column under the field's own name is an error naming both; the mapped column is read.
    Issues on a renamed column name it as the file does: ``ECOG_PS (ecog)``."""
    as_written = dict(zip(_column_names(written), (str(w).strip() for w in written), strict=False))
    orig = list(df.columns)
    new, renamed = rename_columns(orig, fm)
    mapped = np.array([c in fm.rename for c in orig], dtype=bool)
    names = pd.Index(new)
    clash = names.duplicated(keep=False) & ~mapped  # an unmapped column under a mapped column's new name
    for target, src in renamed.items():
        log.column_labels[(source, target)] = f"{as_written.get(src, src)} ({target})"
    for i in np.flatnonzero(clash):
        target = new[i]
        src = renamed[target]
        log.add(rule="duplicate_column", centre=fm.centre, file=source, column=target, value=target,
                message=f"column {as_written.get(src, src)!r} is mapped to {target!r} ({fm.config_key}) but the "
                        f"file also has a column {as_written.get(orig[i], orig[i])!r}; remove one or map it "
                        "elsewhere (the mapped column was read)")
    return df.set_axis(new, axis=1).loc[:, ~clash]


def _with_provenance(df: pd.DataFrame, centre: str, source: str, rows: np.ndarray, log: IssueLog,
                     written: list | None = None, fm: FileMapping | None = None) -> pd.DataFrame:
    """``df`` with matched column names, provenance columns and blank rows dropped (counted), and the
    centre's mapping applied (``fm``).  ``rows``: the source row of each record; ``written``: the
    column names as in the file."""
    written = list(df.columns) if written is None else written
    df = df.set_axis(_column_names(written), axis=1)
    df = _drop_duplicate_columns(df, written, centre, source, log)
    if fm is not None:
        df = _apply_column_map(df, written, fm, source, log)
    cols = list(df.columns)
    df = df.copy()
    df["source_row"] = np.asarray(rows, dtype="int64")
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
    if fm is not None:  # after the blank-row check: a declared unit must not make an empty row look filled
        df = apply_values(df, fm)
    df = df.reset_index(drop=True)
    as_written = {n: str(w).strip() for n, w in zip(_column_names(written), written, strict=False)}
    df.attrs = {"source_file": source, "centre": centre, "columns": cols, "written": as_written}
    return df


# --------------------------------------------------------------------------- CSV
def _decode(data: bytes) -> str:
    try:
        return decode_utf8(data)
    except NotUtf8Error as exc:
        raise _Unreadable(f"{exc}; save the file as UTF-8", row=exc.line) from exc


def record_lines(data: bytes, n_records: int) -> np.ndarray:
    """The line on which each of the first ``n_records`` CSV records (header included) starts.

    Without quotes every record is one line.  Otherwise a newline ends a record only outside quotes,
    i.e. after an even number of quote characters (vectorised).  If that does not give the number of
    records pandas read (a stray quote inside an unquoted value), the csv module counts them.
    """
    if b'"' not in data:
        return np.arange(1, n_records + 1, dtype=np.int64)
    b = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)
    quotes = np.cumsum(b == 34)
    ends = np.flatnonzero(quotes[newlines] % 2 == 0)  # k: the (k+1)-th newline ends a record
    starts = np.concatenate([[1], ends + 2]).astype(np.int64)
    if len(newlines) and ends.size and ends[-1] == len(newlines) - 1 and newlines[-1] == len(b) - 1:
        starts = starts[:-1]  # the file's final newline starts no record
    if len(starts) == n_records:
        return starts
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    lines, line = [], 1
    for _rec in reader:  # rare fallback: only for files with unbalanced quotes
        lines.append(line)
        line = reader.line_num + 1
    return np.asarray((lines + [line] * n_records)[:n_records], dtype=np.int64)


#: a CSV file this big or bigger is parsed by pyarrow (multi-threaded); smaller ones by pandas
ARROW_CSV_MIN_BYTES = 1 << 16


def _csv_text_dtype():
    """The dtype pandas' ``read_csv(dtype=str)`` gives text columns (``str``, Arrow-backed, in pandas 3)."""
    global _CSV_TEXT
    if _CSV_TEXT is None:
        _CSV_TEXT = pd.read_csv(io.StringIO("a\n"), header=None, dtype=str).dtypes.iloc[0]
    return _CSV_TEXT


_CSV_TEXT = None


def _read_csv_arrow(data: bytes) -> pd.DataFrame | None:
    """The records of a plain CSV file (no quotes, NUL bytes or lone carriage returns; every record with
    the header's number of fields; at least two columns) parsed by pyarrow's multi-threaded reader into
    the same text columns pandas gives (``str`` dtype, :data:`NA_VALUES` missing), or None: anything
    else goes to pandas, whose messages (``Expected 5 fields in line 7, saw 6``) name the line, and
    whose treatment of blank lines, quotes and ragged rows is the reference."""
    if b'"' in data or b"\x00" in data or data.count(b"\r") != data.count(b"\r\n"):
        return None
    import pyarrow as pa
    import pyarrow.csv as pv

    first = data.split(b"\n", 1)[0]
    n_cols = first.count(b",") + 1
    if n_cols < 2:
        return None
    try:
        table = pv.read_csv(
            io.BytesIO(data),
            read_options=pv.ReadOptions(autogenerate_column_names=True, use_threads=True, block_size=1 << 22),
            parse_options=pv.ParseOptions(ignore_empty_lines=False, newlines_in_values=False),
            convert_options=pv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(n_cols)},
                                              null_values=NA_VALUES, strings_can_be_null=True,
                                              quoted_strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_columns != n_cols:
        return None
    text = _csv_text_dtype()
    if not (isinstance(text, pd.StringDtype) and text.storage == "pyarrow"):
        return None  # pandas < 3 reads text as object columns: read by pandas itself
    df = table.to_pandas(types_mapper={pa.string(): text}.get)
    return df.set_axis(range(n_cols), axis=1)


def _read_csv(data: bytes) -> tuple[pd.DataFrame, list, np.ndarray]:
    """Records (as text), the header as written and the line of each record."""
    text = _decode(data)
    try:
        body = data.removeprefix(b"\xef\xbb\xbf")
        raw = _read_csv_arrow(body) if len(body) >= ARROW_CSV_MIN_BYTES else None
        if raw is None:
            raw = pd.read_csv(io.StringIO(text), header=None, dtype=str, skip_blank_lines=False,
                              na_values=NA_VALUES, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise _Unreadable("the file is empty (not even a header line)") from exc
    except pd.errors.ParserError as exc:  # "Expected 5 fields in line 7, saw 6": keep the line
        m = re.search(r"line (\d+)", str(exc))
        raise _Unreadable(str(exc).strip(), row=int(m.group(1)) if m else None) from exc
    lines = record_lines(data.removeprefix(b"\xef\xbb\xbf"), len(raw))
    header = list(raw.iloc[0]) if len(raw) else []
    if len(raw) > 1:
        _check_last_record(text, len(header))
    return raw.iloc[1:].reset_index(drop=True), header, lines[1:]


def _check_last_record(text: str, n_fields: int) -> None:
    """A file cut short (an interrupted export or copy) ends in a record with fewer fields than the
    header; pandas would pad it with missing values silently.  Only the last record is parsed again."""
    tail = text.rstrip("\r\n")
    cut = tail.rfind("\n") + 1
    if '"' in tail[cut:]:  # a quoted value may span lines: parse the last record from its own start
        return
    fields = tail[cut:].split(",")  # no quotes on that line: every comma separates two fields
    line = tail.count("\n") + 1
    if any(f.strip() for f in fields) and len(fields) < n_fields:  # an empty row of commas is not a cut
        raise _Unreadable(f"line {line} has {len(fields)} of the header's {n_fields} fields: the file looks "
                          "truncated (cut short); export it again", row=line)


# --------------------------------------------------------------------------- Excel
def workbook_problem(data: bytes) -> str | None:
    """Why a workbook must not be handed to openpyxl, or None.

    An .xlsx file is a zip of XML parts.  Checked from the zip directory and a streaming scan, before
    any XML is parsed: the total uncompressed size (:data:`MAX_WORKBOOK_BYTES`), the compression ratio
    of large parts (:data:`MAX_COMPRESSION_RATIO`), and XML comments or DTDs, which Excel never writes
    and which openpyxl parses in quadratic time (a 20 MB comment takes 20 s, 150 MB several minutes).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return "not an Excel workbook (.xlsx files are zip archives)"
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > MAX_WORKBOOK_BYTES:
            return (f"its parts unpack to {total} bytes, more than the limit of {MAX_WORKBOOK_BYTES}; "
                    "save large tables as CSV or Parquet")
        for i in infos:
            if i.file_size > (1 << 20) and i.file_size > MAX_COMPRESSION_RATIO * max(i.compress_size, 1):
                return (f"part {i.filename} unpacks {i.file_size // max(i.compress_size, 1)}-fold "
                        f"({i.file_size} bytes): a decompression bomb, not a table")
        for i in infos:
            if not i.filename.endswith((".xml", ".rels", ".vml")):
                continue
            tail = b""
            with zf.open(i) as fh:
                while chunk := fh.read(1 << 20):
                    buf = tail + chunk
                    if b"<!--" in buf or b"<!DOCTYPE" in buf or b"<!ENTITY" in buf:
                        return f"part {i.filename} holds an XML comment or DTD, which Excel never writes"
                    tail = buf[-16:]
    return None


def parquet_problem(data: bytes) -> str | None:
    """Why a Parquet file must not be read, or None: its footer's uncompressed size over
    :data:`MAX_PARQUET_BYTES` (a small file can unpack to gigabytes)."""
    import pyarrow.parquet as pq

    if data[:4] != b"PAR1" or data[-4:] != b"PAR1":  # pyarrow reads from the footer and skips the head
        return "not a Parquet file (it must begin and end with the bytes PAR1): damaged or another format"
    try:
        md = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:
        return f"not a readable Parquet file: {str(exc)[:300]}"
    size = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    if size > MAX_PARQUET_BYTES:
        return (f"its data unpack to {size} bytes, more than the limit of {MAX_PARQUET_BYTES}; "
                "split it or save a smaller extract")
    return None


def _read_workbook_sheets(data: bytes) -> dict:
    problem = workbook_problem(data)
    if problem:
        raise _Unreadable(problem)
    try:  # calamine (Rust) parses sheet XML ~10x faster than openpyxl, to the same cell values
        import python_calamine  # noqa: F401
    except ImportError:
        pass
    else:
        try:
            return pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, dtype=object, engine="calamine")
        except Exception:  # noqa: BLE001 - openpyxl reads it again and gives the message users see
            pass
    return pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, dtype=object, engine="openpyxl")


# --------------------------------------------------------------------------- the study folder
@dataclass(frozen=True)
class RawStudy:
    """What was read: raw tables by record type (all centres stacked), the input files with their
    SHA-256 (for the run manifest) and the columns each source file had (record type -> source ->
    (centre, columns))."""

    tables: dict[str, pd.DataFrame]
    inputs: list[InputFile]
    columns: dict[str, dict[str, tuple[str, list[str]]]]
    #: per source file, each matched (lower-case) column name -> the name as written in the file
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def read_study(study_dir: str | Path, log: IssueLog, centres: dict[str, CentreMapping] | None = None) -> RawStudy:
    """Read every centre of ``study_dir`` (see the module docstring for the layout).  ``centres``: each
    centre's own column names, codes and units (config ``centres``; :mod:`hccstudy.schema.mapping`),
    applied to its files as they are read; a centre named there but absent from the folder is an
    error (rule ``unknown_centre``)."""
    root = Path(study_dir)
    mapping = centres
    columns: dict[str, dict[str, tuple[str, list[str]]]] = {name: {} for name in RECORD_TYPES}
    if not root.is_dir():
        log.add(rule="study_dir", message=f"study folder not found: {root}", file=str(root))
        return RawStudy({}, [], columns, {})
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in RECORD_TYPES}
    inputs: list[InputFile] = []
    centres: dict[str, list[str]] = {}
    for entry in _entries(root, root, "", log):
        if entry.name.startswith((".", "~$")):
            continue
        if entry.is_dir() and entry.name.lower() == TEMPLATES_FOLDER:  # `hccstudy init` puts the empty templates there
            continue
        if entry.is_dir():
            centre, shown = entry.name, entry.name + "/"
        elif entry.suffix.lower() in EXCEL:
            centre, shown = entry.stem, entry.name
        else:
            if entry.suffix.lower() not in {".yaml", ".yml"} and entry.name.lower() not in {"readme.md", "readme.txt"}:
                log.add(rule="unknown_file", severity="warning", file=entry.name,
                        message="not a centre folder or workbook; ignored")
            continue
        centres.setdefault(centre, []).append(shown)
        if len(centres[centre]) > 1:
            continue  # reported below, read once
        if entry.is_dir():
            _read_centre_folder(root, entry, frames, inputs, log, mapping)
        else:
            _read_workbook(root, entry, frames, inputs, log, mapping)
    if not centres:
        log.add(rule="no_centres", file=str(root),
                message="no centre found: expected one sub-folder or .xlsx workbook per centre")
    for name in mapping or {}:
        if name not in centres:
            hit = closest(name, list(centres))
            close = f"; did you mean {hit!r}?" if hit is not None else ""
            log.add(rule="unknown_centre", centre=name, file=str(root),
                    message=f"centres.{name} in the config names no centre of the study folder{close}; centres "
                            f"found: {', '.join(sorted(centres)) or 'none'}")
    for c, shown in sorted(centres.items()):
        if len(shown) > 1:
            log.add(rule="duplicate_centre", centre=c, file=" and ".join(shown),
                    message=f"centre {c!r} is given {len(shown)} times ({', '.join(shown)}); only {shown[0]} "
                            "was read: keep one folder or workbook per centre")
    tables, headers = {}, {}
    for name, parts in frames.items():
        for part in parts:
            src = str(part.attrs["source_file"])
            columns[name][src] = (part.attrs["centre"], part.attrs["columns"])
            headers[src] = part.attrs["written"]
        if parts:
            tables[name] = pd.concat(parts, ignore_index=True)
    return RawStudy(tables, inputs, columns, headers)


def _entries(root: Path, folder: Path, centre: str, log: IssueLog) -> list[Path]:
    """The folder's entries, sorted; a folder we may not list is reported, not a crash."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        rel = "." if folder == root else str(folder.relative_to(root))
        log.add(rule="unreadable_file", centre=centre, file=rel, message=f"cannot list the folder: {exc.strerror or exc}")
        return []


def _read_bytes(path: Path, rel: str, centre: str, log: IssueLog) -> bytes | None:
    try:
        return read_regular_file(path, MAX_FILE_BYTES)
    except InputFileError as exc:
        log.add(rule="unreadable_file", centre=centre, file=rel, message=f"cannot read file: {exc}")
        return None


def _read_centre_folder(root, folder, frames, inputs, log, mapping=None) -> None:
    centre = folder.name
    seen: set[str] = set()
    for path in _entries(root, folder, centre, log):
        if path.name.startswith((".", "~$")):
            continue
        rel = str(path.relative_to(root))
        if path.is_dir():  # a folder named like a record file is a mistake, never skipped silently
            if SUFFIXES.get(path.suffix.lower()) and path.stem.lower() in RECORD_TYPES:
                log.add(rule="unreadable_file", centre=centre, file=rel,
                        message="is a folder, not a file: a record file must be a regular file")
            else:
                log.add(rule="unknown_file", severity="warning", centre=centre, file=rel,
                        message="a folder inside a centre folder; ignored")
            continue
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
        data = _read_bytes(path, rel, centre, log)
        if data is None:
            continue
        try:
            if kind == "csv":
                df, header, rows = _read_csv(data)
            else:
                if problem := parquet_problem(data):
                    raise _Unreadable(problem)
                df = pd.read_parquet(io.BytesIO(data))
                header, rows = list(df.columns), np.arange(1, len(df) + 1)
        except _Unreadable as exc:
            log.add(rule="unreadable_file", centre=centre, file=rel, row=exc.row, message=f"cannot read file: {exc}")
            continue
        except Exception as exc:  # a user's file we cannot parse: report, do not crash
            log.add(rule="unreadable_file", centre=centre, file=rel, message=f"cannot read file: {exc}")
            continue
        inputs.append(InputFile(path, centre, hashlib.sha256(data).hexdigest()))
        frames[name].append(_with_provenance(df, centre, rel, rows, log, written=header,
                                             fm=file_mapping(mapping, centre, name)))
    if "patients" not in seen:
        log.add(rule="missing_patients", centre=centre, file=str(folder.relative_to(root)),
                message="centre has no patients file")


def _read_workbook(root, path, frames, inputs, log, mapping=None) -> None:
    centre = path.stem
    rel = str(path.relative_to(root))
    data = _read_bytes(path, rel, centre, log)
    if data is None:
        return
    try:
        sheets = _read_workbook_sheets(data)
    except Exception as exc:
        log.add(rule="unreadable_file", centre=centre, file=rel, message=f"cannot read workbook: {exc}")
        return
    inputs.append(InputFile(path, centre, hashlib.sha256(data).hexdigest()))
    seen: dict[str, str] = {}
    for sheet, raw in sheets.items():
        name = str(sheet).strip().lower()
        if name == LISTS_SHEET:  # the template's lists of allowed values (data validation)
            continue
        if name not in RECORD_TYPES:
            log.add(rule="unknown_sheet", severity="warning", centre=centre, file=f"{rel}[{sheet}]",
                    message="sheet is not a record type; ignored")
            continue
        if name in seen:
            log.add(rule="duplicate_sheet", centre=centre, file=f"{rel}[{sheet}]",
                    message=f"record type {name!r} given twice (sheets {seen[name]!r} and {sheet!r}); "
                            "only the first was read")
            continue
        seen[name] = str(sheet)
        header = list(raw.iloc[0]) if len(raw) else []
        df = raw.iloc[1:].reset_index(drop=True)
        frames[name].append(_with_provenance(df, centre, f"{rel}[{sheet}]", np.arange(2, len(df) + 2), log,
                                             written=header, fm=file_mapping(mapping, centre, name)))
    if "patients" not in seen:
        log.add(rule="missing_patients", centre=centre, file=rel, message="workbook has no 'patients' sheet")
