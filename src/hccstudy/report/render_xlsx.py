"""tables.xlsx from the report's sections: a "Contents" sheet (table number, caption, section; then the
sections' notes), then one
sheet per table ("Table 1", "Table 2", ... numbered as in report.html and tables.docx) with its caption
in the first row, the header in the second, numbers as numbers (HR, CI limits, P as floats) and the
footnote under the table."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from .sections import Section


def render_xlsx(sections: list[Section], path: Path) -> None:
    """Write tables.xlsx (see module docstring); fixed document timestamps so the same tables give the
    same bytes."""
    from openpyxl.styles import Font

    items = [(s, t) for s in sections for t in s.tables]
    contents = pd.DataFrame({"Table": [f"Table {k}" for k in range(1, len(items) + 1)],
                             "Caption": [t.caption for _, t in items], "Section": [s.title for s, _ in items]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        contents.to_excel(xw, sheet_name="Contents", index=False)
        notes = [(s.title, n) for s in sections for n in s.notes]
        if notes:  # the sections' notes (methods, the code names shown, ...) under the list of tables
            ws = xw.book["Contents"]
            row = len(contents) + 3
            ws.cell(row=row, column=1, value="Notes").font = Font(bold=True)
            for k, (title, note) in enumerate(notes, start=row + 1):
                ws.cell(row=k, column=1, value=title)
                ws.cell(row=k, column=2, value=note)
        for k, (_, t) in enumerate(items, start=1):
            df = t.data if t.data is not None else t.frame
            name = f"Table {k}"
            df.to_excel(xw, sheet_name=name, index=False, startrow=1)
            ws = xw.book[name]
            ws.cell(row=1, column=1, value=f"Table {k}. {t.caption}").font = Font(bold=True)
            if t.footnote:
                ws.cell(row=len(df) + 4, column=1, value=t.footnote).font = Font(italic=True)
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


