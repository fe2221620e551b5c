"""tables.docx from the report's sections, as a manuscript supplement: the title, each section's heading
and notes (the Methods and Results text among them), its tables as journal-style three-line tables (a
rule above and below the header, a rule at the bottom, no vertical lines; the header row repeated on
each page) with a numbered caption above ("Table 3. ...") and the footnote (tests, abbreviations)
below, and its figures (PNG, at the text width) with a numbered caption below ("Figure 2. ...") --
numbered as in report.html and tables.xlsx.  A wide table (more than :data:`WIDE_COLUMNS` columns, or
rows longer than :data:`WIDE_CHARS` characters, a cell counting at most :data:`WRAP_CHARS`) gets a landscape page section of its own.  Fixed core
properties and zip entry dates: the same report gives the same bytes."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from .render_xlsx import stable_zip
from .sections import Section, TableItem

_W_DECL = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

#: a table with more columns than this is set on a landscape page
WIDE_COLUMNS = 7
#: ... and so is one whose widest cells add up to more characters than this (a portrait line of 8-pt text)
WIDE_CHARS = 110
#: a cell longer than this wraps onto more lines: it counts as this wide
WRAP_CHARS = 40


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


def _repeat_header(row) -> None:
    """Word repeats this row at the top of each page the table runs onto."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def is_wide(df: pd.DataFrame) -> bool:
    """Too wide for a portrait page (see the module docstring)."""
    if len(df.columns) > WIDE_COLUMNS:
        return True
    widths = [min(WRAP_CHARS, max([len(str(c)), *(len(_text(v)) for v in df[c])])) for c in df.columns]
    return sum(widths) > WIDE_CHARS


def _orient(doc, landscape: bool) -> None:
    """Start a new page section in this orientation (A4, 2 cm margins)."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Cm
    sec = doc.add_section(WD_SECTION.NEW_PAGE)
    long, short = Cm(29.7), Cm(21.0)
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = (long, short) if landscape else (short, long)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Cm(2))


def _run_content(text: str) -> str:
    """The XML of a run's content for ``text``: one ``<w:t>`` for plain text (none for ""); text with
    tabs, line breaks or edge spaces goes through python-docx's own run writer, so it is the same XML."""
    if not text:
        return ""
    if text == text.strip() and not any(ch < " " for ch in text):
        return "<w:t>" + escape(text) + "</w:t>"
    from docx.oxml import OxmlElement
    from lxml import etree
    r = OxmlElement("w:r")
    r.text = text
    return "".join(etree.tostring(el, encoding="unicode").replace(_W_DECL, "") for el in r)


def _body_rows(t, df: pd.DataFrame) -> None:
    """Append the body rows of a table as one parsed XML fragment: the elements python-docx writes for
    ``add_row()``, ``cell.text = ...``, 8-pt runs, no space after, centred columns after the first and
    a bottom rule on the last row (same XML, tested), without its ~40 element operations per cell."""
    from docx.oxml.ns import qn
    from docx.oxml.parser import parse_xml

    widths = [tc.tcPr.tcW.get(qn("w:w")) if tc.tcPr is not None and tc.tcPr.tcW is not None else None
              for tc in t.rows[0]._tr.tc_lst]
    rule = '<w:tcBorders><w:bottom w:val="single" w:sz="12" w:color="000000"/></w:tcBorders>'

    def head(j: int, last: bool) -> str:
        w = "" if widths[j] is None else f'<w:tcW w:type="dxa" w:w="{widths[j]}"/>'
        pr = w + (rule if last else "")
        jc = '<w:jc w:val="center"/>' if j else ""
        return (("<w:tc><w:tcPr>" + pr + "</w:tcPr>" if pr else "<w:tc>")
                + f'<w:p><w:pPr><w:spacing w:after="0"/>{jc}</w:pPr><w:r><w:rPr><w:sz w:val="16"/></w:rPr>')

    tail = "</w:r></w:p></w:tc>"
    n = len(df)
    parts = []
    for i, row in enumerate(df.itertuples(index=False)):
        last = i == n - 1
        parts.append("<w:tr>" + "".join(head(j, last) + _run_content(_text(v)) + tail for j, v in enumerate(row))
                     + "</w:tr>")
    frag = parse_xml(f'<w:tbl {_W_DECL}>' + "".join(parts) + "</w:tbl>")
    for tr in list(frag):
        t._tbl.append(tr)


def _table(doc, item: TableItem, number: int) -> None:
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
        _border(cell, top=12, bottom=6)
    _repeat_header(t.rows[0])
    for j, cell in enumerate(t.rows[0].cells):
        p = cell.paragraphs[0]
        p.paragraph_format.space_after = Pt(0)
        if j:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for run in p.runs:
            run.font.size = Pt(8)
    if df.empty:
        for cell in t.rows[0].cells:
            _border(cell, bottom=12)
    else:
        _body_rows(t, df)
    if item.footnote:
        note = doc.add_paragraph()
        run = note.add_run(item.footnote)
        run.italic = True
        run.font.size = Pt(8)


def _figure_width(png: Path, width, max_height):
    """The text width, or less for a tall figure so that it fits the page's height."""
    from PIL import Image
    with Image.open(png) as im:
        w, h = im.size
    return width if width * h / w <= max_height else int(max_height * w / h)


def render_docx(sections: list[Section], path: Path, title: str) -> None:
    """Write tables.docx (see module docstring)."""
    import datetime as dt

    from docx import Document
    from docx.shared import Cm, Pt

    doc = Document()
    doc.core_properties.author = "hccstudy"
    doc.core_properties.created = doc.core_properties.modified = dt.datetime(2024, 1, 1)
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    first = doc.sections[0]
    first.page_width, first.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(first, side, Cm(2))
    text_width = Cm(17)
    doc.add_heading(title, level=1)
    landscape = False
    nt = nf = 0
    for s in sections:
        start = False if not s.tables else is_wide(s.tables[0].frame) if not s.notes else landscape
        if start != landscape:  # the heading goes with its first table; text and figures on portrait pages
            landscape = start
            _orient(doc, landscape)
        doc.add_heading(s.title, level=2).paragraph_format.keep_with_next = True
        for note in s.notes:
            doc.add_paragraph(note)
        for item in s.tables:
            nt += 1
            wide = is_wide(item.frame)
            if wide != landscape:
                _orient(doc, wide)
                landscape = wide
            _table(doc, item, nt)
        if s.figures and landscape:
            _orient(doc, False)
            landscape = False
        for fig in s.figures:
            nf += 1
            doc.add_picture(str(fig.path), width=_figure_width(fig.path, text_width, Cm(21)))
            doc.paragraphs[-1].paragraph_format.keep_with_next = True
            cap = doc.add_paragraph()
            cap.add_run(f"Figure {nf}. ").bold = True
            cap.add_run(fig.caption)
    buf = io.BytesIO()
    doc.save(buf)
    stable_zip(buf.getvalue(), path)
