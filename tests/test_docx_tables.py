"""tables.docx body rows are written as one XML fragment (render_docx._body_rows) instead of python-docx's
per-cell calls; the XML must be the same as python-docx's own API writes, cell for cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lxml import etree

from hccstudy.report import render_docx
from hccstudy.report.sections import TableItem

docx = pytest.importorskip("docx")


def _reference_table(doc, item: TableItem, number: int) -> None:
    """The table through python-docx's public API only (the writer before the fragment path)."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    cap = doc.add_paragraph()
    cap.paragraph_format.keep_with_next = True
    cap.add_run(f"Table {number}. ").bold = True
    cap.add_run(item.caption)
    df = item.frame
    t = doc.add_table(rows=1, cols=len(df.columns))
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, c in enumerate(df.columns):
        cell = t.rows[0].cells[j]
        cell.text = str(c)
        cell.paragraphs[0].runs[0].bold = True
        render_docx._border(cell, top=12, bottom=6)
    render_docx._repeat_header(t.rows[0])
    for row in df.itertuples(index=False):
        cells = t.add_row().cells
        for j, v in enumerate(row):
            cells[j].text = render_docx._text(v)
    for r in t.rows:
        for j, cell in enumerate(r.cells):
            p = cell.paragraphs[0]
            p.paragraph_format.space_after = Pt(0)
            if j:
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for run in p.runs:
                run.font.size = Pt(8)
    for cell in t.rows[-1].cells:
        render_docx._border(cell, bottom=12)
    if item.footnote:
        note = doc.add_paragraph()
        run = note.add_run(item.footnote)
        run.italic = True
        run.font.size = Pt(8)


FRAMES = {
    "plain": pd.DataFrame({"Var & x": ["a<b", None, "c"], "SE": [1.5, np.nan, 3], "SI": ["x", "y", "z"]}),
    "awkward text": pd.DataFrame({"a": ["tab\there", "line\nbreak", " lead", "trail ", "\r", "µ ≥ 5 — ü", "",
                                        "x>y & 'q' \"d\"", "a\t\tb\n"], "": range(9)}),
    "no rows": pd.DataFrame({"only": [], "other": []}),
    "one row": pd.DataFrame({"one": ["v"], "two": [pd.NA]}),
    "wide": pd.DataFrame({f"c{j}": [f"{i * j / 7:.2f}" for i in range(40)] for j in range(9)}),
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_table_xml_same_as_python_docx(name):
    item = TableItem(key="k", frame=FRAMES[name], caption="Caption", footnote="Note.")
    got, want = docx.Document(), docx.Document()
    render_docx._table(got, item, 3)
    _reference_table(want, item, 3)
    assert etree.tostring(got.element) == etree.tostring(want.element)
    assert len(got.tables[-1].rows) == len(FRAMES[name]) + 1  # python-docx still reads the table back
