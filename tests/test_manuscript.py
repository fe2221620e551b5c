"""Issue 12: the generated manuscript text (Methods and Results paragraphs), the STROBE checklist, and
the renderers' submission-quality details (docx landscape sections, xlsx number formats, HTML CSV
downloads, print stylesheet, lightbox)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.analysis.labels import Dictionary
from hccstudy.report.manuscript import manuscript_text
from hccstudy.report.sections import arms_of
from hccstudy.report.strobe import ITEMS, NOT_ADDRESSED

V = pd.read_csv(Path(__file__).parent / "reference" / "shared" / "veteran.csv")
_rng = np.random.default_rng(12)
VV = V.assign(bor=_rng.choice(["CR", "PR", "SD", "PD"], len(V)), ae_rash_grade=_rng.integers(0, 5, len(V)))
CONFIG = {"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
          "covariates": ["karno", "age", "prior"], "matching": {"on": ["karno", "age"], "caliper": 0.2},
          "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days", "landmarks": [90]}],
          "cox": {"variables": ["trt", "karno", "prior"]}, "response": {"column": "bor"},
          "adverse_events": {"prefix": "ae_", "suffix": "_grade"},
          "labels": {"trt": {"label": "Treatment", "levels": {1: "Standard", 2: "Test"}, "order": [1, 2]},
                     "os": {"label": "Overall survival"}, "karno": {"label": "Karnofsky score"}}}
#: numbers the templates write that are not results: "95% CI", "grade 3–4", "P < 0.001" (the P rule)
TEMPLATE_NUMBERS = re.compile(r"95% CI|grade 3\u20134|Grade 3\u20134|P < 0\.001")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def _text(res):
    d = Dictionary.from_config(res.config.labels)
    return manuscript_text(res, d, arms_of(res, d))


def _medians(res, sample: str) -> list[str]:
    km = res.endpoints["os"].samples[sample].km
    return [f"{k.median[0]:.1f} days" for k in km.values()]


def test_the_results_text_follows_the_data():
    """The same plan on the data and on the data with some deaths turned into censorings: the text
    changes, and each version carries its own results' medians, HR and log-rank P."""
    cfg = load_analysis_config(CONFIG)
    first = analyze(cfg, VV)
    flipped = VV.copy()
    flipped.loc[flipped.index[::3], "status"] = 0
    second = analyze(cfg, flipped)
    t1, t2 = _text(first).results, _text(second).results
    assert t1 != t2
    for res, text in ((first, t1), (second, t2)):
        c = res.endpoints["os"].samples["matched"]
        hr = c.cox_arm_robust
        assert f"HR {hr.hr:.2f} (95% CI {hr.lcl:.2f}\u2013{hr.ucl:.2f})" in text
        assert all(m in text for m in _medians(res, "matched") + _medians(res, "full"))
        n = res.matching.n_pairs
        assert f"{n} pairs were matched" in text
    events = [int(r.endpoints["os"].samples["full"].events) for r in (first, second)]
    assert events[0] > events[1]


def test_optional_parts_are_left_out():
    """No matching, no endpoint, no response, no adverse events: the text says what was estimated and
    nothing else; the Methods name no propensity score."""
    cfg = {k: v for k, v in CONFIG.items() if k not in ("matching", "endpoints", "cox", "response", "adverse_events")}
    res = analyze(load_analysis_config(cfg), VV)
    m = _text(res)
    assert m.results == "A total of 137 patients were included: 69 in the Standard group and 68 in the Test group."
    assert "propensity" not in m.methods and "Kaplan" not in m.methods and "Cox" not in m.methods
    # an endpoint without events: medians not reached, the comparison not made
    res = analyze(load_analysis_config(CONFIG), VV.assign(status=0))
    text = _text(res).results
    assert "not reached" in text and "could not be compared" in text and "log-rank" not in text


def _numbers_in(obj) -> list[float]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers_in(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers_in(v)]
    return [float(obj)] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


def _ratios(obj) -> list[float]:
    """n / of of every by-arm count of the adverse-event rows (the text's grade 3–4 percentages)."""
    out = []
    for rows in obj.get("adverse_events", {}).values():
        for r in rows:
            for v in r.values():
                if isinstance(v, dict) and v.get("n"):
                    out += [x / v["n"] for k, x in v.items() if k != "n" and isinstance(x, (int, float))]
    return out


def _label_texts(specs) -> set[str]:
    return {t for spec in specs.values() for t in [spec.label, *spec.levels.values()] if t}


def test_every_number_of_the_results_text_is_in_results_json(builtin_run):
    """Each number of manuscript.md's Results paragraph is a value of results.json (or of the patient
    flow) as the formatting rules round it: counts, 1-decimal medians and percentages, 2-decimal HRs,
    3-decimal P."""
    out = builtin_run.out
    md = (out / "manuscript.md").read_text(encoding="utf-8")
    text = md.split("## Results", 1)[1]
    paragraph = text.strip()
    res = json.loads((out / "results.json").read_text())
    values = _numbers_in(res) + [float(x) for x in pd.read_csv(out / "flow.csv")["n"]]
    shown = set()
    for v in values:
        shown |= {f"{v:.1f}", f"{v:.2f}", f"{v:.3f}", f"{100 * v:.1f}"} | ({f"{v:.0f}"} if v == int(v) else set())
    shown |= {f"{100 * r:.1f}" for r in _ratios(res)}
    for label in sorted(_label_texts(builtin_run.results.config.labels), key=len, reverse=True):
        if len(label) >= 3:  # a label's own numbers ("AFP > 400 ng/mL") are not results; level labels such
            text = text.replace(label, " ")  # as "A", "0" or "1" would cut numbers apart

    numbers = NUMBER.findall(TEMPLATE_NUMBERS.sub(" ", text))
    assert len(numbers) >= 30
    assert [n for n in numbers if n not in shown] == []
    assert "182 pairs were matched" in paragraph  # the paper's example sentence (the generator builds 182 pairs)
    from report_text import html_text
    assert paragraph in html_text(out / "report.html")  # the report shows the same paragraph


@pytest.fixture(scope="module")
def built_sections(builtin_run):
    """The built-in report's sections as build_report made them (figures: the PNGs it wrote)."""
    from dataclasses import replace

    from hccstudy.report.build import versions
    from hccstudy.report.sections import build_sections

    r = builtin_run
    sections = build_sections(r.results, flow=r.study.flow, calibration=r.calibration, software=versions())
    return [s.with_figures([replace(f, path=r.out / "figures" / f"{f.key}.png") for f in s.figures]) for s in sections]


def test_strobe_checklist_has_the_cohort_items():
    items = [i for i, _, _ in ITEMS]
    assert items == ["1a", "1b", "2", "3", "4", "5", "6a", "6b", "7", "8", "9", "10", "11", "12a", "12b", "12c", "12d",
                     "12e", "13a", "13b", "13c", "14a", "14b", "14c", "15", "16a", "16b", "16c", "17", "18", "19",
                     "20", "21", "22"]
    assert {re.match(r"\d+", i).group() for i in items} == {str(k) for k in range(1, 23)}


def test_strobe_points_at_the_right_tables_and_figures(builtin_run):
    """Each table or figure number the checklist names is the one that addresses the item (the docx's
    captions are the oracle); items only the author can address say so."""
    from docx import Document

    doc = Document(builtin_run.out / "tables.docx")
    caps = {m.group(1) + " " + m.group(2): p.text for p in doc.paragraphs
            if (m := re.match(r"(Table|Figure) (\d+)\. ", p.text))}
    strobe = [t for t in doc.tables if t.rows[0].cells[0].text == "Item"]
    assert len(strobe) == 1
    rows = {r.cells[0].text: r.cells[2].text for r in strobe[0].rows[1:]}
    assert len(rows) == 34 and rows["22"] == NOT_ADDRESSED and rows["19"] == NOT_ADDRESSED
    where = re.compile(r"section \d+; (Table) (\d+)")  # a section title may name the paper's table ("Table 1")
    t14a = " ".join(where.search(rows["14a"]).groups())
    assert "Baseline characteristics" in caps[t14a]
    f13c = re.search(r"Figure (\d+)", rows["13c"]).group(0)
    assert "Patient flow" in caps[f13c]
    assert "Subgroup analysis" in caps[" ".join(where.search(rows["12b"]).groups())]
    assert caps.get("Table " + str(len(doc.tables)), "").startswith(f"Table {len(doc.tables)}. STROBE checklist")


def test_manuscript_section_is_in_every_format(builtin_run):
    from report_text import report_texts

    md = (builtin_run.out / "manuscript.md").read_text(encoding="utf-8")
    results = md.split("## Results", 1)[1].strip()
    first = results.split(". ")[0]
    for name, text in report_texts(builtin_run.out).items():
        assert "Manuscript text" in text and first in text, name


def test_docx_sets_wide_tables_landscape(builtin_run, built_sections):
    from docx import Document
    from docx.enum.section import WD_ORIENT

    from hccstudy.report.render_docx import is_wide

    doc = Document(builtin_run.out / "tables.docx")
    orient = [s.orientation for s in doc.sections]
    assert WD_ORIENT.LANDSCAPE in orient and orient[0] == WD_ORIENT.PORTRAIT
    for s in doc.sections:  # page sizes agree with the orientation
        assert (s.page_width > s.page_height) == (s.orientation == WD_ORIENT.LANDSCAPE)
    sections = built_sections
    wide = [t for s in sections for t in s.tables if is_wide(t.frame)]
    assert wide and any(t.key.startswith("adverse_events") for t in wide)
    # the header row repeats on each page; no vertical rules
    t = doc.tables[0]
    assert "w:tblHeader" in t.rows[0]._tr.xml
    assert not re.search(r"<w:(left|right|insideV) ", t._tbl.xml)


def test_xlsx_number_formats_widths_frozen_header(builtin_run):
    from openpyxl import load_workbook

    wb = load_workbook(builtin_run.out / "tables.xlsx")
    numeric = 0
    for ws in wb.worksheets[1:]:
        assert ws.freeze_panes == "A3", ws.title
        for row in ws.iter_rows(min_row=3):
            for cell in row:
                if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    numeric += 1
                    assert cell.number_format != "General", (ws.title, cell.coordinate, cell.value)
        assert all(ws.column_dimensions[c].width and ws.column_dimensions[c].width >= 8
                   for c in [ws.cell(row=2, column=j).column_letter for j in range(1, ws.max_column + 1)])
    assert numeric > 300
    contents = {r[1]: r[0] for r in wb["Contents"].iter_rows(min_row=2, values_only=True) if str(r[0]).startswith("Table")}
    ws = wb[next(v for k, v in contents.items() if k.startswith("Overall survival by group"))]
    header = [c.value for c in ws[2]]
    fmt = {h: ws.cell(row=3, column=j + 1).number_format for j, h in enumerate(header)}
    assert fmt["n"] == "0" and fmt["HR"] == "0.00" and fmt["Log-rank P"] == "0.000" and fmt["Median"] == "0.0"
    assert fmt["Survival at 12 months"] == "0.0%"
    assert fmt["Sample"] == fmt["Group"] == "General"  # text stays text
    notes = [c.value for c in ws["A"] if isinstance(c.value, str) and c.value.startswith("Note: ")]
    assert len(notes) == 1


def test_html_csv_downloads_print_and_lightbox(builtin_run, built_sections):
    page = (builtin_run.out / "report.html").read_text(encoding="utf-8")
    links = re.findall(r'<a download="table-(\d+)\.csv" href="data:text/csv;charset=utf-8;base64,([^"]+)"', page)
    tables = [t for s in built_sections for t in s.tables]
    assert [int(k) for k, _ in links] == list(range(1, len(tables) + 1))
    for (_, data), item in zip(links, tables, strict=True):
        csv = base64.b64decode(data).decode("utf-8")
        expected = item.data if item.data is not None else item.frame
        assert csv.splitlines()[0] == ",".join(f'"{c}"' if "," in str(c) else str(c) for c in expected.columns)
        assert len(pd.read_csv(pd.io.common.StringIO(csv))) == len(expected)
    assert "@media print" in page and "break-before:page" in page and 'id="lightbox"' in page
    assert page.count('class="tablebox"') == len(tables)


@pytest.mark.parametrize("name", ["tables.docx", "tables.xlsx", "manuscript.md"])
def test_outputs_are_byte_stable(builtin_run, built_sections, tmp_path, name):
    """The renderers and the text are functions of the sections: drawn again, the same bytes."""
    from hccstudy.report.manuscript import Manuscript
    from hccstudy.report.render_docx import render_docx
    from hccstudy.report.render_xlsx import render_xlsx

    sections, title = built_sections, builtin_run.results.config.name
    if name == "tables.docx":
        render_docx(sections, tmp_path / name, title)
    elif name == "tables.xlsx":
        render_xlsx(sections, tmp_path / name)
    else:
        text = next(s for s in sections if s.key == "manuscript")
        (tmp_path / name).write_text(Manuscript(*text.notes).markdown(title), encoding="utf-8")
    assert (tmp_path / name).read_bytes() == (builtin_run.out / name).read_bytes()
