"""Write a synthetic cohort in the study-folder layout (``STUDY_DIR/<centre>/<record>.csv`` or
``STUDY_DIR/<centre>.xlsx``), byte-identical for the same cohort."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from .generate import SyntheticCohort

#: Excel holds at most 1,048,576 rows a sheet; bigger centres are written as CSV instead (with a note).
EXCEL_MAX_ROWS = 1_048_575


def _as_text_dates(df: pd.DataFrame) -> pd.DataFrame:
    """Dates as YYYY-MM-DD text (missing -> empty), as a centre's export would have them."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d").astype(object).where(out[c].notna(), None)
    return out


def _csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d", encoding="utf-8")


def _xlsx(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """An Excel workbook with one sheet per record type.  openpyxl stamps the creation time into
    docProps/core.xml; it is fixed so that the same cohort gives the same bytes."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in tables.items():
            _as_text_dates(df).to_excel(xw, sheet_name=name, index=False)
        xw.book.properties.creator = "hccstudy synth"
    # rewrite the zip with fixed member timestamps
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # creation/modification stamps -> fixed
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms)", rb"\g<1>2024-01-01T00:00:00Z\g<3>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data)
    path.write_bytes(out.getvalue())


def write_cohort(cohort: SyntheticCohort, out: str | Path, excel: bool = True) -> list[Path]:
    """Write every centre; returns the files written.  ``excel=False`` writes all centres as CSV."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for centre, tables in cohort.tables.items():
        fmt = cohort.formats[centre]
        too_big = max(len(df) for df in tables.values()) > EXCEL_MAX_ROWS
        if fmt == "xlsx" and excel and not too_big:
            path = out / f"{centre}.xlsx"
            _xlsx(tables, path)
            written.append(path)
            continue
        folder = out / centre
        folder.mkdir(exist_ok=True)
        for name, df in tables.items():
            path = folder / f"{name}.csv"
            _csv(df, path)
            written.append(path)
    return written
