"""Write a synthetic cohort in the study-folder layout (``STUDY_DIR/<centre>/<record>.csv`` or
``STUDY_DIR/<centre>.xlsx``), byte-identical for the same cohort."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema.csvout import write_csv
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
    """Write one table as CSV: pandas' ``to_csv`` bytes (dates as YYYY-MM-DD, floats as pandas writes
    them), laid out from Arrow text columns (:func:`hccstudy.schema.csvout.write_csv`; pandas itself
    for a table with text it would quote)."""
    write_csv(df, path, date_format="%Y-%m-%d")


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (f'<styleSheet xmlns="{_NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
           '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
           '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
_CORE = ('<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
         'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>hccstudy synth</dc:creator>'
         '<dcterms:created xsi:type="dcterms:W3CDTF">2024-01-01T00:00:00Z</dcterms:created>'
         '<dcterms:modified xsi:type="dcterms:W3CDTF">2024-01-01T00:00:00Z</dcterms:modified></cp:coreProperties>')
#: characters XML 1.0 cannot hold (openpyxl refuses them too)
_ILLEGAL_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _column_letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _cells(col: pd.Series, letter: str, rows: pd.Series) -> pd.Series:
    """The ``<c>`` element of every value of one column ("" where missing), built column-wise.  Numbers
    are written as openpyxl writes them (``%.16g``; integers in full), so a reader gets the same cell
    values; text (dates included) as inline strings."""
    present = col.notna().to_numpy().copy()
    ref = '<c r="' + letter + rows
    if pd.api.types.is_bool_dtype(col):
        v = np.where(present, col.fillna(False).to_numpy(dtype=bool).astype(np.int8), 0).astype(str)
        cell = ref + '" t="b"><v>' + pd.Series(v, index=col.index, dtype="string") + "</v></c>"
    elif pd.api.types.is_integer_dtype(col):
        v = np.where(present, col.to_numpy(dtype="float64", na_value=0), 0).astype(np.int64).astype(str)
        cell = ref + '" t="n"><v>' + pd.Series(v, index=col.index, dtype="string") + "</v></c>"
    elif pd.api.types.is_float_dtype(col):
        x = col.to_numpy(dtype="float64", na_value=np.nan)
        present &= np.isfinite(x)
        v = np.char.mod("%.16g", np.where(present, x, 0.0))
        cell = ref + '" t="n"><v>' + pd.Series(v, index=col.index, dtype="string") + "</v></c>"
    else:
        text = col.astype("string").fillna("")
        if text.str.contains(_ILLEGAL_XML, regex=True).any():
            raise ValueError(f"column {col.name!r} holds a control character that a workbook cannot hold")
        text = text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
        cell = ref + '" t="inlineStr"><is><t xml:space="preserve">' + text + "</t></is></c>"
    return cell.where(present, "")


def _sheet_xml(df: pd.DataFrame) -> bytes:
    """One worksheet: a header row of column names, then one row per record (vectorised by column)."""
    n, k = df.shape
    letters = [_column_letter(j) for j in range(k)]
    header = "".join(f'<c r="{letter}1" t="inlineStr"><is><t xml:space="preserve">{_escape(str(c))}</t></is></c>'
                     for letter, c in zip(letters, df.columns, strict=True))
    rows = pd.Series(np.arange(2, n + 2).astype(str), dtype="string")
    body = '<row r="' + rows + '">'
    for j, c in enumerate(df.columns):
        body = body + _cells(df[c].reset_index(drop=True), letters[j], rows)
    body = body + "</row>"
    last = f"{letters[-1]}{n + 1}" if k else "A1"
    xml = (f'{_HEAD}<worksheet xmlns="{_NS}"><dimension ref="A1:{last}"/><sheetData><row r="1">{header}</row>'
           + "".join(body.tolist()) + "</sheetData></worksheet>")
    return xml.encode("utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """An Excel workbook with one sheet per record type, written directly as SpreadsheetML (inline
    strings, no styles): column-wise string building instead of openpyxl's per-cell objects, ~20x
    faster; the cells read back (openpyxl or calamine) are the values openpyxl would have written.
    Fixed member timestamps and creation date, so that the same cohort gives the same bytes."""
    names = list(tables)
    sheets = "".join(f'<sheet name="{_escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1))
    rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                   for i in range(1, len(names) + 1))
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
                        for i in range(1, len(names) + 1))
    parts = {
        "[Content_Types].xml": f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>{overrides}'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        "</Types>",
        "_rels/.rels": f'{_HEAD}<Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_PKG}/metadata/core-properties" Target="docProps/core.xml"/></Relationships>',
        "docProps/core.xml": _HEAD + _CORE,
        "xl/workbook.xml": f'{_HEAD}<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'{_HEAD}<Relationships xmlns="{_PKG}">{rels}'
        f'<Relationship Id="rId{len(names) + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": _HEAD + _STYLES,
    }
    data = {k: v.encode("utf-8") for k, v in parts.items()}
    for i, name in enumerate(names, 1):
        data[f"xl/worksheets/sheet{i}.xml"] = _sheet_xml(_as_text_dates(tables[name]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(data):
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data[name])
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
