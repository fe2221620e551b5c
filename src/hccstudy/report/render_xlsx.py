"""tables.xlsx from the report's sections: a "Contents" sheet (table number, caption, section; then the
sections' notes), then one sheet per table ("Table 1", "Table 2", ... numbered as in report.html and
tables.docx) with its caption in the first row, the header in the second (frozen, so it stays in view),
numbers as numbers (HR, CI limits, P as floats) shown with a number format per column (:func:`number_format`:
counts "0", P "0.000", HR "0.00", percentages "0.0"; never "General"), columns as wide as their content,
and the footnote as a notes row under the table."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .sections import Section

#: a P column: "P", "P (after)", "Log-rank P", "HR P", "P for interaction", "P (any grade)"
_P = re.compile(r"(^|\s)P(\s|$)")


def number_format(header: str, values: pd.Series) -> str | None:
    """The Excel number format of a table column, from its header and values (None: a text column).

    P values "0.000" (the report's three decimals); SMD, variance ratios and eCDF statistics "0.000";
    survival probabilities (0-1) "0.0%"; percentages, rates and medians "0.0"; counts (every value a
    whole number) "0"; any other number (HR and its CI limits, ...) "0.00".  A local rule: the display
    texts of report.html and tables.docx come from :mod:`.format`."""
    if pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_numeric_dtype(values):
        v = values
    else:  # object or string cells: numeric only when every value is a number (not text such as "200")
        if not all(isinstance(x, (int, float, np.number)) and not isinstance(x, bool)
                   for x in values if x is not None and not (isinstance(x, float) and np.isnan(x))):
            return None
        v = pd.to_numeric(values, errors="coerce")
        if not v.notna().any():
            return None
    h = str(header)
    finite = v[np.isfinite(v.astype(float))]
    if _P.search(h):
        return "0.000"
    if any(w in h for w in ("SMD", "Variance ratio", "eCDF", "Difference", "difference")):
        return "0.000"
    if h.startswith("Survival at"):
        return "0.0%"
    if "%" in h or "rate" in h.lower() or "Median" in h:
        return "0.0"
    if len(finite) and bool((finite == finite.round()).all()):
        return "0"
    return "0.00"


def _width(header, values: pd.Series, fmt: str | None) -> float:
    """A column width (characters) that fits the header and the widest cell as shown."""
    shown = [str(header)]
    for x in values:
        if x is None or (isinstance(x, float) and not np.isfinite(x)):
            continue
        if fmt is not None and isinstance(x, (int, float, np.number)):
            decimals = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else 0
            shown.append(f"{float(x) * (100 if fmt.endswith('%') else 1):.{decimals}f}")
        else:
            shown.append(str(x))
    return float(min(60, max(8, max(len(t) for t in shown) + 2)))


def render_xlsx(sections: list[Section], path: Path) -> None:
    """Write tables.xlsx (see module docstring); fixed document timestamps so the same tables give the
    same bytes."""
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    rule = Side(style="thin", color="000000")
    items = [(s, t) for s in sections for t in s.tables]
    contents = pd.DataFrame({"Table": [f"Table {k}" for k in range(1, len(items) + 1)],
                             "Caption": [t.caption for _, t in items], "Section": [s.title for s, _ in items]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        contents.to_excel(xw, sheet_name="Contents", index=False)
        ws = xw.book["Contents"]
        for col, width in (("A", 10), ("B", 90), ("C", 40)):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A2"
        notes = [(s.title, n) for s in sections for n in s.notes]
        if notes:  # the sections' notes (methods, the code names shown, ...) under the list of tables
            row = len(contents) + 3
            ws.cell(row=row, column=1, value="Notes").font = Font(bold=True)
            for k, (title, note) in enumerate(notes, start=row + 1):
                ws.cell(row=k, column=1, value=title)
                ws.cell(row=k, column=2, value=note).alignment = Alignment(wrap_text=True, vertical="top")
        for k, (_, t) in enumerate(items, start=1):
            df = t.data if t.data is not None else t.frame
            name = f"Table {k}"
            df.to_excel(xw, sheet_name=name, index=False, startrow=1)
            ws = xw.book[name]
            ws.cell(row=1, column=1, value=f"Table {k}. {t.caption}").font = Font(bold=True)
            for j, c in enumerate(df.columns, start=1):
                fmt = number_format(c, df[c])
                head = ws.cell(row=2, column=j)
                head.font = Font(bold=True)
                head.border = Border(top=rule, bottom=rule)
                head.alignment = Alignment(wrap_text=True, vertical="bottom")
                if fmt is not None:
                    for (cell,) in ws.iter_rows(min_row=3, max_row=2 + len(df), min_col=j, max_col=j):
                        cell.number_format = fmt
                if len(df):
                    ws.cell(row=2 + len(df), column=j).border = Border(bottom=rule)
                ws.column_dimensions[get_column_letter(j)].width = _width(c, df[c], fmt)
            ws.freeze_panes = "A3"   # caption and header stay in view
            if t.footnote:
                ws.cell(row=len(df) + 4, column=1, value="Note: " + t.footnote).font = Font(italic=True)
        xw.book.properties.creator = "hccstudy"
    stable_zip(buf.getvalue(), path)


def stable_zip(data: bytes, path: Path) -> None:
    """Rewrite an Office file (a zip) with fixed entry dates and document timestamps: same content,
    same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms)", rb"\g<1>2024-01-01T00:00:00Z\g<3>", body)
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, body)
    path.write_bytes(out.getvalue())


