"""The report's section model (issue 11 sections 3-4): one ordered list built once from the results,
drawn by three renderers; every optional part a tested path; labels from the variable dictionary in
every table, figure, the docx and the xlsx, the reference arm first, code names without a label listed
in a note."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.analysis.labels import Dictionary
from hccstudy.report.build import ReportBuild, build_report
from hccstudy.report.sections import build_sections

V = pd.read_csv(Path(__file__).parent / "reference" / "shared" / "veteran.csv")
_rng = np.random.default_rng(5)
VV = V.assign(bor=_rng.choice(["CR", "PR", "SD", "PD", "NE"], len(V)), ae_rash_grade=_rng.integers(0, 5, len(V)),
              ae_fever_grade=_rng.integers(0, 3, len(V)))

FULL = {"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
        "covariates": ["karno", "age", "prior"], "matching": {"on": ["karno", "age"], "caliper": 0.2},
        "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days", "landmarks": [90]}],
        "cox": {"variables": ["trt", "karno", "prior"]}, "subgroups": ["prior", {"variable": "age", "cut": 60}],
        "response": {"column": "bor"}, "adverse_events": {"prefix": "ae_", "suffix": "_grade"}}

LABELS = {"trt": {"label": "Treatment group", "levels": {1: "Standard chemotherapy", 2: "Test chemotherapy"},
                  "order": [1, 2]},
          "karno": {"label": "Karnofsky performance score"},
          "age": {"label": "Age", "unit": "years"},
          "prior": {"label": "Prior therapy", "levels": {0: "None", 10: "Any"}, "order": [10, 0]},
          "os": {"label": "Overall survival"},
          "bor": {"label": "Best overall response", "levels": {"CR": "Complete response", "PR": "Partial response",
                                                               "SD": "Stable disease", "PD": "Progressive disease",
                                                               "NE": "Not evaluable"}},
          "ae_rash_grade": {"label": "Skin rash"}}          # ae_fever_grade: no label (a fallback)

#: code name -> its label, for every labelled name (the oracle: the code name must not be shown)
CODES = {"trt": "Treatment group", "karno": "Karnofsky performance score", "age": "Age, years",
         "prior": "Prior therapy", "os": "Overall survival", "OS": "Overall survival", "bor": "Best overall response",
         "ae_rash_grade": "Skin rash", "CR": "Complete response", "PD": "Progressive disease"}

#: each a path through the report (kept few: every build draws figures)
PATHS = {
    "labelled": {**FULL, "labels": LABELS},
    "everything_unlabelled": FULL,
    "no_matching_no_endpoints_no_outcomes": {k: v for k, v in FULL.items() if k not in (
        "matching", "endpoints", "cox", "subgroups", "response", "adverse_events")},
    "no_events_replace": {**FULL, "matching": {"on": ["karno", "age"], "replace": True}, "cox": {"variables": []},
                          "subgroups": [], "response": None, "adverse_events": None},
}


def _data(path: str) -> pd.DataFrame:
    return VV.assign(status=0) if path == "no_events_replace" else VV


def _config(path: str):
    return load_analysis_config({k: v for k, v in PATHS[path].items() if v is not None})


class _Builds(dict):
    """path -> (build, folder): each path's report built on first use, once per process (PNG only: the
    formats are test_report's).  Built lazily, so that an xdist worker builds only the paths of the tests
    it was given, not every path of the module (both workers did, each ~30 s under load)."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self.tmp_path_factory = tmp_path_factory

    def __missing__(self, path: str) -> tuple[ReportBuild, Path]:
        folder = self.tmp_path_factory.mktemp(path)
        self[path] = (build_report(analyze(_config(path), _data(path)), folder, formats=("png",)), folder)
        return self[path]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, tuple[ReportBuild, Path]]:
    """One report per path, built once for the module, when a test first asks for it."""
    return _Builds(tmp_path_factory)


def _html_text(folder: Path) -> str:
    s = (folder / "report.html").read_text()
    s = re.sub(r"<script>.*?</script>|<style>.*?</style>", " ", s, flags=re.S)
    s = re.sub(r"data:image/png;base64,[^\"]+", "", s)
    return html.unescape(re.sub(r"<[^>]+>", " ", s))


def _docx_text(folder: Path) -> str:
    from docx import Document
    doc = Document(folder / "tables.docx")
    return "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])


def _xlsx_text(folder: Path) -> str:
    wb = load_workbook(folder / "tables.xlsx")
    return "\n".join(str(v) for ws in wb for r in ws.iter_rows(values_only=True) for v in r if v is not None)


TEXT = {"html": _html_text, "docx": _docx_text, "xlsx": _xlsx_text}


def _without_note(text: str) -> str:
    """The text without the note that lists the code names shown (it names them on purpose)."""
    return re.sub(r"Shown under their code names[^\n]*", "", text)


# ------------------------------------------------------------------------------------------- sections
EXPECTED = {
    "labelled": ["methods", "table1", "balance", "survival_os", "cox_os", "subgroups_os", "response", "adverse_events",
                 "manuscript", "strobe", "labels"],
    "everything_unlabelled": ["methods", "table1", "balance", "survival_os", "cox_os", "subgroups_os", "response",
                              "adverse_events", "manuscript", "strobe", "labels"],
    "no_matching_no_endpoints_no_outcomes": ["methods", "table1", "manuscript", "strobe", "labels"],
    "no_events_replace": ["methods", "table1", "balance", "survival_os", "not_estimated", "manuscript", "strobe",
                          "labels"],
}


@pytest.mark.parametrize("path", list(PATHS))
def test_each_optional_path_gives_its_sections_in_all_three_formats(builds, path):
    build, folder = builds[path]
    assert [s.key for s in build.sections] == EXPECTED[path]
    n_tables = sum(len(s.tables) for s in build.sections)
    n_figures = sum(len(s.figures) for s in build.sections)
    for name in ("report.html", "tables.docx", "tables.xlsx", "manifest.json", "results.json"):
        assert (folder / name) in build.files and (folder / name).stat().st_size > 0
    page = (folder / "report.html").read_text()
    assert page.count("<caption>Table ") == n_tables and page.count("data:image/png;base64,") == n_figures
    assert len(load_workbook(folder / "tables.xlsx").sheetnames) == n_tables + 1   # + Contents
    for s in build.sections:
        assert s.title in _html_text(folder) and s.title in _docx_text(folder)
        for f in s.figures:  # a figure that is in a section was drawn and written; its path is the PNG
            assert f.path == folder / "figures" / f"{f.key}.png" and f.path in build.files


def test_the_sections_are_built_once_from_the_results_without_a_folder():
    """build_sections needs no output folder and no files: what is shown follows from the results."""
    res = analyze(_config("labelled"), VV)
    sections = build_sections(res)
    assert [s.key for s in sections] == EXPECTED["labelled"]
    assert all(f.path is None for s in sections for f in s.figures)
    km = next(f for s in sections for f in s.figures if f.key == "km_os_matched")
    fig = km.draw()  # from the fitted curves of the results: the legend in the dictionary's arm order
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["Standard chemotherapy",
                                                                          "Test chemotherapy"]
    assert fig.axes[0].get_title() == "Overall survival, matched patients"


def test_not_estimated_parts_are_listed_with_the_reason(builds):
    build, folder = builds["no_events_replace"]
    table = next(s for s in build.sections if s.key == "not_estimated").tables[0].frame
    res_skipped = analyze(_config("no_events_replace"), _data("no_events_replace")).skipped
    assert len(table) == len(res_skipped) and "no OS events in this sample" in " ".join(table["Reason"])
    assert "unequal matching weights" in _html_text(folder)


# ------------------------------------------------------------------------------------------- labels
@pytest.mark.parametrize("fmt", list(TEXT))
def test_labels_replace_code_names_in_every_format(builds, fmt):
    text = TEXT[fmt](builds["labelled"][1])
    shown = _without_note(text)
    for code, label in CODES.items():
        assert label in shown, (fmt, label)
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", shown), (fmt, code)
    for expected in ("Treatment group: Test chemotherapy vs Standard chemotherapy", "Skin rash", "Any", "None"):
        assert expected in shown, (fmt, expected)


@pytest.mark.parametrize("fmt", list(TEXT))
def test_code_names_without_a_label_are_shown_and_listed_in_a_note(builds, fmt):
    text = TEXT[fmt](builds["labelled"][1])
    note = re.search(r"Shown under their code names[^\n]*", text).group(0)
    assert "ae_fever_grade" in note and "karno" not in note
    assert "fever" in _without_note(text)  # the unlabelled AE term, as its column names it


def test_the_reference_arm_comes_first_everywhere(builds):
    build, folder = builds["labelled"]
    std, test = "Standard chemotherapy", "Test chemotherapy"
    t1 = next(s for s in build.sections if s.key == "table1").tables[0].frame
    assert list(t1.columns[1:3]) == [f"{std} (before)", f"{test} (before)"]
    surv = next(s for s in build.sections if s.key == "survival_os").tables[0].frame
    assert list(surv["Group"][:2]) == [std, test] and surv["HR (95% CI)"].iat[0] == "1 (reference)"
    resp = next(s for s in build.sections if s.key == "response").tables[0].frame
    assert list(resp.columns[1:3]) == [std, test]
    assert list(resp["Response"][:2]) == ["Complete response", "Partial response"]
    ae = next(s for s in build.sections if s.key == "adverse_events").tables[0].frame
    assert ae.columns[1].startswith(std)
    sub = next(s for s in build.sections if s.key == "subgroups_os").tables[0].frame
    assert list(sub["Level"][:2]) == ["Any", "None"]  # the dictionary's level order (order: [10, 0])


def test_without_a_dictionary_order_the_cox_reference_arm_comes_first():
    cfg = {**FULL, "cox": {"variables": ["trt"], "arm_reference": "treated"}, "response": None,
           "adverse_events": None, "subgroups": []}
    res = analyze(load_analysis_config({k: v for k, v in cfg.items() if v is not None}), VV)
    sections = build_sections(res)
    surv = next(s for s in sections if s.key == "survival_os").tables[0].frame
    assert list(surv["Group"][:2]) == ["2", "1"] and surv["HR (95% CI)"].iat[0] == "1 (reference)"
    t1 = next(s for s in sections if s.key == "table1").tables[0].frame
    assert list(t1.columns[1:3]) == ["2 (before)", "1 (before)"]


def test_forest_plot_rows_are_labels():
    res = analyze(_config("labelled"), VV)
    d = Dictionary.from_config(res.config.labels)
    forest = next(f for s in build_sections(res, d) for f in s.figures if f.key == "forest_univariable_os_matched")
    texts = [t.get_text() for t in forest.draw().axes[0].texts]
    assert "Karnofsky performance score" in texts and "karno" not in texts
    assert "Treatment group" in texts and "\u2003Test chemotherapy" in texts and "Reference" in texts  # factor header, levels
    assert not [t for t in texts if re.fullmatch(r"trt\d|prior", t)]


def test_the_report_layer_is_not_imported_by_the_analysis():
    """(The generic layering test is tests/test_layering.py; here: importing the analysis alone does not
    pull in the report or matplotlib.)"""
    import subprocess
    code = ("import sys, hccstudy.analysis; "
            "print(any(m.startswith('hccstudy.report') or m == 'matplotlib' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(Path(__file__).parent.parent / "src"), "PATH": ""})
    assert out.stdout.strip() == "False"


def test_reproduction_targets_show_labels():
    """The synthetic cohort's reproduction table names its targets by code (afp_gt_400, arm_si, rccep):
    the report shows the dictionary's words."""
    from hccstudy.analysis.labels import parse_labels
    from hccstudy.report.sections import _relabel_words
    d = Dictionary.from_config(parse_labels({
        "afp_gt_400": {"label": "AFP > 400 ng/mL"}, "os": {"label": "Overall survival"},
        "arm": {"levels": {"SE": "Sequential (SE)", "SI": "Simultaneous (SI)"}},
        "ae_rccep_grade": {"label": "RCCEP"}, "bor": {"levels": {"CR": "Complete response"}}}))
    assert _relabel_words(d, "afp_gt_400 n (SE)") == "AFP > 400 ng/mL n (SE)"
    assert _relabel_words(d, "OS HR arm_si") == "Overall survival HR Simultaneous (SI)"
    assert _relabel_words(d, "rccep grade 1-2 (SI)") == "RCCEP grade 1-2 (SI)"
    assert _relabel_words(d, "CR (SE)") == "Complete response (SE)"
    assert _relabel_words(d, "matched pairs") == "matched pairs" and d.fallbacks() == []
    # a coded subgroup level (Figure 4's "afp_gt_400 = 1") by its level label; a level without one as it is
    coded = Dictionary.from_config(parse_labels({"afp_gt_400": {"label": "AFP > 400 ng/mL",
                                                                "levels": {1: "Yes", 0: "No"}}}))
    assert _relabel_words(coded, "OS HR SI vs SE in afp_gt_400 = 1") == "OS HR SI vs SE in AFP > 400 ng/mL = Yes"
    assert _relabel_words(coded, "OS HR SI vs SE in afp_gt_400 = 0") == "OS HR SI vs SE in AFP > 400 ng/mL = No"
    assert _relabel_words(coded, "OS HR SI vs SE in age = < 60") == "OS HR SI vs SE in age = < 60"


def test_reproduction_numbers_printed_at_the_papers_decimals():
    """Each published value as the paper printed it; the recovered value and the band one decimal finer
    (a count stays a count; text as it is)."""
    from hccstudy.report.sections import _repro_shown
    cal = pd.DataFrame({"published": [50.8, 0.616, 182.0, 1.0, "not reached", 0.002],
                        "recovered": [50.8312, 0.61601, 182.0, 1.0, "not reached", 0.00181],
                        "lower": [50.75, 0.516, 182.0, 0.9, None, 0.001333],
                        "upper": [50.85, 0.716, 182.0, 1.1, None, 0.003]}, dtype=object)
    shown = _repro_shown(cal)
    assert list(shown.iloc[0]) == ["50.8", "50.83", "50.75", "50.85"]
    assert list(shown.iloc[1]) == ["0.616", "0.6160", "0.5160", "0.7160"]
    assert list(shown.iloc[2]) == ["182", "182", "182", "182"]
    assert list(shown.iloc[3]) == ["1", "1", "0.9", "1.1"]
    assert shown.iloc[4, 0] == "not reached" and shown.iloc[4, 1] == "not reached"
    assert list(shown.iloc[5]) == ["0.002", "0.0018", "0.0013", "0.0030"]
    # the band's "equal at 2 decimals" says the paper printed 4.10, not 4.1
    sd = _repro_shown(pd.DataFrame({"published": [4.1], "recovered": [4.1012], "tolerance": ["equal at 2 decimals"],
                                    "lower": [4.095], "upper": [4.105]}, dtype=object))
    assert list(sd.iloc[0]) == ["4.10", "4.101", "equal at 2 decimals", "4.095", "4.105"]
