"""tables.docx from the report's sections: the title, each section's heading and notes, its tables as
journal-style three-line tables (rule above and below the header, rule at the bottom, no vertical
lines) with a numbered caption ("Table 3. ...") and footnote, and its figures (PNG, 6 inches wide) with
a numbered caption ("Figure 2. ...") -- numbered as in report.html and tables.xlsx."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from .render_xlsx import stable_zip
from .sections import Section


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


def render_docx(sections: list[Section], path: Path, title: str) -> None:
    """Write tables.docx (see module docstring); fixed document timestamps so the same report gives the
    same bytes."""
    import datetime as dt

    from docx import Document
    from docx.shared import Inches, Pt

    doc = Document()
    doc.core_properties.author = "hccstudy"
    doc.core_properties.created = doc.core_properties.modified = dt.datetime(2024, 1, 1)
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    doc.add_heading(title, level=1)
    nt = nf = 0
    for s in sections:
        doc.add_heading(s.title, level=2)
        for note in s.notes:
            doc.add_paragraph(note)
        for item in s.tables:
            nt += 1
            doc.add_paragraph().add_run(f"Table {nt}. {item.caption}").bold = True
            df = item.frame
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
            if item.footnote:
                doc.add_paragraph(item.footnote).runs[0].italic = True
        for fig in s.figures:
            nf += 1
            doc.add_picture(str(fig.path), width=Inches(6))
            doc.add_paragraph().add_run(f"Figure {nf}. {fig.caption}").italic = True
    buf = io.BytesIO()
    doc.save(buf)
    stable_zip(buf.getvalue(), path)
