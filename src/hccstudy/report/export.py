"""Word and Excel tables.

* ``tables.xlsx``: one sheet per table, numbers as numbers (HR, CI limits, P as floats), text as text.
* ``tables.docx``: journal-style three-line tables (rule above and below the header, rule at the
  bottom, no vertical lines), P as "<0.001", HR (95% CI) with 2 decimals.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """One sheet per table (names cut to Excel's 31 characters); fixed document timestamps so the same
    tables give the same bytes."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name[:31], index=False)
        xw.book.properties.creator = "hccstudy"
    _fix_zip(buf.getvalue(), path)


def _fix_zip(data: bytes, path: Path) -> None:
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


def _border(cell, **edges) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge, size in edges.items():
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:color"), "000000")
        borders.append(el)


def write_docx(tables: list[tuple[str, pd.DataFrame, str]], path: Path, title: str) -> None:
    """``tables``: (caption, table of text, footnote).  Three-line tables in Arial 9 pt."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.core_properties.author = "hccstudy"
    import datetime as dt
    doc.core_properties.created = doc.core_properties.modified = dt.datetime(2024, 1, 1)
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    doc.add_heading(title, level=1)
    for caption, df, note in tables:
        doc.add_paragraph().add_run(caption).bold = True
        t = doc.add_table(rows=1, cols=len(df.columns))
        for j, c in enumerate(df.columns):
            cell = t.rows[0].cells[j]
            cell.text = str(c)
            cell.paragraphs[0].runs[0].bold = True
            _border(cell, top=12, bottom=6)
        for row in df.itertuples(index=False):
            cells = t.add_row().cells
            for j, v in enumerate(row):
                cells[j].text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
        for cell in t.rows[-1].cells:
            _border(cell, bottom=12)
        if note:
            doc.add_paragraph(note).runs[0].italic = True
    buf = io.BytesIO()
    doc.save(buf)
    _fix_zip(buf.getvalue(), path)
