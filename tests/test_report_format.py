"""Issue 12: one formatting rule set (report/format.py, config key ``report:``) used by every table, and
Table 1, response and adverse-event tables laid out as the paper's."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy._yaml import ConfigError
from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.analysis.config import ReportSpec, builtin_plan
from hccstudy.report import format as F
from hccstudy.report.sections import build_sections

V = pd.read_csv(Path(__file__).parent / "reference" / "shared" / "veteran.csv")


# ------------------------------------------------------------------------------------ the rules
@pytest.mark.parametrize("p,text", [
    (0.0004999, "<0.001"), (0.0005, "<0.001"), (0.000999, "<0.001"), (0.001, "0.001"), (0.0012, "0.001"),
    (0.0499, "0.050"), (0.61649, "0.616"), (0.9994, "0.999"), (0.9995, ">0.999"), (1.0, ">0.999"),
    (1.0 + 1e-12, ">0.999"), (np.float64(0.25), "0.250"), (float("nan"), ""), (float("inf"), ""), (None, ""),
    (pd.NA, ""), (np.nan, "")])
def test_p_value_rule(p, text):
    assert F.p_value(p) == text
    if text:
        assert re.fullmatch(F.p_pattern(), text)


def test_p_value_follows_the_config():
    rules = ReportSpec(p_digits=4, p_small=0.0001)
    assert [F.p_value(p, rules) for p in (0.00005, 0.00012, 0.99994, 0.99995)] == ["<0.0001", "0.0001", "0.9999",
                                                                                ">0.9999"]
    assert re.fullmatch(F.p_pattern(rules), "<0.0001ᵃ") and not re.fullmatch(F.p_pattern(rules), "0.001")
    assert F.p_value(0.02, ReportSpec(p_digits=2, p_small=0.01)) == "0.02"
    assert F.p_value(0.004, ReportSpec(p_digits=2, p_small=0.01)) == "<0.01"


def test_hr_ci_two_decimals_with_an_en_dash():
    assert F.hr_ci(0.6412, 0.4899, 0.8412) == "0.64 (0.49\u20130.84)"
    assert F.hr_ci(np.float64(1.005), 0.5, 2.0) in ("1.00 (0.50\u20132.00)", "1.01 (0.50\u20132.00)")
    assert F.hr_ci(2.0, 1.0, float("inf")) == "NE" and F.hr_ci(float("nan"), 1, 2) == "NE" and F.hr_ci(None, 1, 2) == "NE"
    assert F.hr_ci(0.6412, 0.4899, 0.8412, ReportSpec(hr_digits=3)) == "0.641 (0.490\u20130.841)"


def test_medians_not_reached_are_nr():
    assert F.median(32.84) == "32.8" and F.median(float("nan")) == "NR" and F.median(None) == "NR"
    assert F.median_ci(32.84, 23.61, float("nan")) == "32.8 (23.6\u2013NR)"
    assert F.median_ci(np.nan, np.nan, np.nan) == "NR (NR\u2013NR)"


@pytest.mark.parametrize("v,text", [
    (375, "375"), (375.0, "375"), (np.int64(375), "375"), (np.float64(375.0), "375"), (pd.array([3], dtype="Int64")[0], "3"),
    (pd.NA, ""), (None, ""), (float("nan"), ""), (183.4, "183.40")])
def test_counts_are_integers(v, text):
    assert F.integer(v) == text


@pytest.mark.parametrize("v,text", [
    (True, "Yes"), (False, "No"), (np.bool_(True), "Yes"), (None, ""), (float("nan"), ""), (pd.NA, ""),
    (float("inf"), "∞"), (float("-inf"), "−∞"), (np.int64(7), "7"), (0.123456, "0.12"), (-0.0001, "0.00"), ("text", "text")])
def test_number_never_shows_true_false_nan_none(v, text):
    assert F.number(v) == text


def test_percentages_one_decimal():
    assert F.count_pct(31, 69) == "31 (44.9)" and F.count_pct(np.int64(0), 183) == "0 (0.0)"
    assert F.count_pct(0, 0) == "0" and F.count_pct(pd.NA, 10) == ""
    assert F.count_rate_ci(31, 0.4493, 0.3290, 0.5740) == "31 (44.9; 32.9\u201357.4)"
    assert F.percent_ci(0.862, 0.814, 0.913) == "86.2 (81.4\u201391.3)" and F.percent_ci(np.nan, 0, 1) == ""
    assert F.count_pct(1, 3, ReportSpec(pct_digits=0)) == "1 (33)"


def test_continuous_summaries():
    assert F.mean_sd(50.84, 11.76) == "50.8 (11.8)" and F.mean_sd(50.0, float("nan")) == "50.0 ()"
    assert F.median_bracket(54, 47.25, 61) == "54.0 [47.2, 61.0]" or F.median_bracket(54, 47.25, 61) == "54.0 [47.3, 61.0]"
    assert F.mean_sd(50.84, 11.76, ReportSpec(digits=2)) == "50.84 (11.76)"


def test_markers_name_each_test_once():
    m = F.Markers()
    assert [m.mark(t) for t in ("t-test (Student)", "chi-square (Yates)", "t-test (Student)", "", None)] == [
        "ᵃ", "ᵇ", "ᵃ", "", ""]
    assert m.footnote() == "ᵃ Student's t-test; ᵇ chi-square test with Yates' continuity correction."
    assert F.with_marker("0.123", "ᵃ") == "0.123ᵃ" and F.with_marker("", "ᵃ") == ""


def test_excel_formats_use_the_same_digits():
    assert F.excel_format("p") == '[<0.001]"<0.001";[>=0.9995]">0.999";0.000'
    assert F.excel_format("hr") == "0.00" and F.excel_format("pct") == "0.0" and F.excel_format("count") == "0"
    assert F.excel_format("hr", ReportSpec(hr_digits=3)) == "0.000" and F.excel_format("text") == "General"
    kinds = {h: F.column_kind(h) for h in ("P", "P (after)", "Log-rank P", "HR P", "P for interaction", "SMD before",
                                           "Survival at 12 months", "Median", "HR", "Lower 95% CI", "SE %", "n",
                                           "Events", "SE, grade 1–2", "Variable")}
    assert kinds == {"P": "p", "P (after)": "p", "Log-rank P": "p", "HR P": "p", "P for interaction": "p",
                     "SMD before": "smd", "Survival at 12 months": "proportion", "Median": "estimate", "HR": "hr",
                     "Lower 95% CI": "hr", "SE %": "pct", "n": "count", "Events": "count", "SE, grade 1–2": "count",
                     "Variable": "text"}


def test_km_break_interval():
    assert F.km_break(30) == 6 and F.km_break(48) == 6 and F.km_break(63.2) == 12 and F.km_break(float("nan")) == 6
    assert F.km_break(63.2, ReportSpec(km_break_months=3)) == 3


def test_report_key_in_the_plan_and_analyze_configs():
    assert builtin_plan().report.p_digits == 3 and builtin_plan().report.both_levels == ["ecog", "child_pugh_class"]
    cfg = load_analysis_config({"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
                                "covariates": ["age"], "report": {"p_digits": 4, "p_small": 0.0001,
                                                                  "continuous": "median_iqr", "km_break_months": 12}})
    assert (cfg.report.p_digits, cfg.report.continuous, cfg.report.km_break_months) == (4, "median_iqr", 12)
    base = {"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1}, "covariates": ["age"]}
    for bad, key in (({"p_small": 0.0001}, "p_small"), ({"p_digits": 9}, "report.p_digits"),
                     ({"continuous": "mean"}, "report.continuous"), ({"hr_digit": 2}, "report.hr_digit"),
                     ({"pct_digits": True}, "report.pct_digits")):
        with pytest.raises(ConfigError, match=re.escape(key)):
            load_analysis_config({**base, "report": bad})


# ------------------------------------------------------------------------------------ Table 1 layout
LABELS = {"trt": {"label": "Treatment", "levels": {1: "Standard", 2: "Test"}, "order": [1, 2]},
          "age": {"label": "Age", "unit": "years"}, "karno": {"label": "Karnofsky score"},
          "prior": {"label": "Prior therapy", "levels": {0: "No", 10: "Yes"}, "order": [0, 10]},
          "adeno": {"label": "Adenocarcinoma", "levels": {0: "No", 1: "Yes"}, "order": [0, 1]},
          "celltype": {"label": "Cell type", "levels": {"squamous": "Squamous", "smallcell": "Small cell",
                                                         "adeno": "Adeno", "large": "Large"},
                       "order": ["squamous", "smallcell", "adeno", "large"]},
          "os": {"label": "Overall survival"}}
CFG = {"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
       "covariates": ["age", "karno", "prior", "adeno", "celltype"], "nonnormal": ["karno"],
       "matching": {"on": ["age", "karno"], "caliper": 0.5},
       "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days", "landmarks": [90]}],
       "labels": LABELS}
VA = V.assign(adeno=(V["celltype"] == "adeno").astype(int))


def _table(sections, key):
    return next(t for s in sections for t in s.tables if t.key == key)


def _analyze(data: pd.DataFrame = VA, **changes):
    return analyze(load_analysis_config({**CFG, **changes}), data)


@pytest.fixture(scope="module")
def t1_sections():
    return build_sections(_analyze())


def test_table1_binary_one_row_categorical_header_and_levels(t1_sections):
    t = _table(t1_sections, "table1")
    rows = list(t.frame["Characteristic"])
    assert rows == ["Patients, n", "Age, years, mean (SD)", "Karnofsky score, median [IQR]", "Prior therapy, n (%)",
                    "Adenocarcinoma, n (%)", "Cell type, n (%)", "\u2003Squamous", "\u2003Small cell", "\u2003Adeno",
                    "\u2003Large"]
    assert list(t.frame.columns) == ["Characteristic", "Standard (before)", "Test (before)", "P (before)",
                                     "SMD (before)", "Standard (after)", "Test (after)", "P (after)", "SMD (after)"]
    f = t.frame.set_index("Characteristic")
    n_std, n_test = (V["trt"] == 1).sum(), (V["trt"] == 2).sum()
    assert f.loc["Patients, n", "Standard (before)"] == str(n_std)
    yes = ((V["trt"] == 1) & (V["prior"] == 10)).sum()
    assert f.loc["Prior therapy, n (%)", "Standard (before)"] == f"{yes} ({100 * yes / n_std:.1f})"
    ad = ((V["trt"] == 2) & (V["celltype"] == "adeno")).sum()
    assert f.loc["Adenocarcinoma, n (%)", "Test (before)"] == f"{ad} ({100 * ad / n_test:.1f})"
    assert f.loc["\u2003Adeno", "Test (before)"] == f"{ad} ({100 * ad / n_test:.1f})"
    # P (with its test's marker) and SMD on the variable's row only; the test named in the footnote
    assert f.loc["\u2003Adeno", "P (before)"] == "" and f.loc["Cell type, n (%)", "P (before)"] != ""
    pat = F.p_pattern()
    ps = [x for x in t.frame["P (before)"] if x]
    assert len(ps) == 5 and all(re.fullmatch(pat, x) and x[-1] in F.MARKERS for x in ps)
    marks = {x[-1] for x in ps}
    assert all(m in t.footnote for m in marks)
    assert "Student's t-test" in t.footnote and "Wilcoxon rank-sum test" in t.footnote
    assert not any(c.startswith("Statistical test") for c in t.frame.columns)  # a footnote marker, not a column
    assert set(t.data["Statistical test (before)"]) == {"", "Student's t-test", "Wilcoxon rank-sum test",
                                                        "chi-square test with Yates' continuity correction",
                                                        "chi-square test"}  # 4 cell types: no Yates
    assert list(t.data["Test (before)"]) == list(t.frame["Test (before)"])  # the arm called "Test" is kept
    assert t.data["P (before)"].notna().sum() == 5


def test_table1_both_levels_and_continuous_options():
    secs = build_sections(_analyze(report={"binary_levels": "both", "continuous": "both"}))
    rows = list(_table(secs, "table1").frame["Characteristic"])
    assert rows[:9] == ["Patients, n", "Age, years", "\u2003mean (SD)", "\u2003median [min, max]", "Karnofsky score",
                        "\u2003median [IQR]", "\u2003median [min, max]", "Prior therapy, n (%)", "\u2003No"]
    f = _table(secs, "table1").frame.set_index("Characteristic")
    no = ((V["trt"] == 1) & (V["prior"] == 0)).sum()
    n_std = (V["trt"] == 1).sum()
    assert f.loc["\u2003No", "Standard (before)"].iloc[0] == f"{no} ({100 * no / n_std:.1f})"
    rows = list(_table(build_sections(_analyze(report={"both_levels": ["adeno"], "continuous": "median_range"})),
                       "table1").frame["Characteristic"])
    assert "Adenocarcinoma, n (%)" in rows and rows[rows.index("Adenocarcinoma, n (%)") + 1] == "\u2003No"
    assert "Age, years, median [min, max]" in rows and "Prior therapy, n (%)" in rows


# ------------------------------------------------------------------------------------ NR, response, AEs
def test_a_median_not_reached_is_nr():
    few = VA.assign(status=np.where((V["trt"] == 2) & (V.index % 5 != 0), 0, V["status"]))
    secs = build_sections(_analyze(few, matching=None))
    t = _table(secs, "survival_os")
    test = t.frame[t.frame["Group"] == "Test"].iloc[0]
    assert test["Median, days (95% CI)"].startswith("NR (") and "NR: not reached." in t.footnote
    assert np.isnan(t.data[t.data["Group"] == "Test"]["Median"].iloc[0])


def test_response_and_adverse_event_tables():
    rng = np.random.default_rng(5)
    data = VA.assign(bor=rng.choice(["CR", "PR", "SD", "PD", "NE"], len(V)), ae_rash_grade=rng.integers(0, 4, len(V)))
    secs = build_sections(_analyze(data, response={"column": "bor"}, adverse_events={"columns": ["ae_rash_grade"]},
                                   labels={**LABELS, "ae_rash_grade": {"label": "Rash"}}))
    resp = _table(secs, "response_matched")
    orr = resp.frame[resp.frame["Response"] == "Objective response rate"].iloc[0]
    assert re.fullmatch(r"\d+ \(\d+\.\d; \d+\.\d\u2013\d+\.\d\)", orr["Standard"])
    assert re.fullmatch(F.p_pattern(), orr["P"]) and orr["P"][-1] in F.MARKERS and "P: ᵃ" in resp.footnote
    ae = _table(secs, "adverse_events_matched")
    assert list(ae.frame["Adverse event"]) == ["Rash", "Any adverse event", "Any grade 3–4"]
    assert [c for c in ae.frame.columns if c.startswith("Standard")] == [
        "Standard, grade 1–2", "Standard, grade 3–4", "Standard, any grade"]  # no grade 5 column without one
    assert all(re.fullmatch(r"\d+ \(\d+\.\d\)", x) for x in ae.frame["Standard, any grade"])
    assert "no grade 5 event" in ae.footnote and "P: ᵃ" in ae.footnote


# ------------------------------------------------------------------------------------ the built-in report
class _Tables(HTMLParser):
    """Rows of cell texts per <table> of report.html."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.cell, self.depth = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _p_column(header: str) -> bool:
    return F.column_kind(header) == "p"


def _html_tables(path: Path) -> list[list[list[str]]]:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return [t for t in p.tables if t]


def _docx_tables(path: Path) -> list[list[list[str]]]:
    import docx
    return [[[c.text for c in r.cells] for r in t.rows] for t in docx.Document(str(path)).tables]


@pytest.fixture(scope="module")
def texts(builtin_run):
    from report_text import report_texts
    return report_texts(builtin_run.out)


def test_builtin_report_has_no_long_decimals_nor_python_words(builtin_run, texts):
    from openpyxl import load_workbook
    for name in ("report.html", "tables.docx"):
        text = texts[name]
        long = re.findall(r"\d+\.\d{5,}", text)
        assert not long, (name, long[:5])
        bad = re.findall(r"(?<![\w-])(True|False|nan|NaN|None|inf)(?![\w-])", text)
        assert not bad, (name, bad[:5])
    wb = load_workbook(builtin_run.out / "tables.xlsx")
    for ws in wb.worksheets:  # numbers stay numeric in the workbook; its texts follow the same rules
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not isinstance(v, bool), (ws.title, row)
                if isinstance(v, str):
                    assert not re.search(r"(?<![\w-])(True|False|nan|NaN|None|inf)(?![\w-])", v), (ws.title, v)
                    assert not re.search(r"\d+\.\d{5,}", v), (ws.title, v)


def test_builtin_report_shows_nr_where_a_median_is_not_reached(builtin_run, texts):
    km = builtin_run.results.endpoints["os"].samples["matched"].km
    assert any(not np.isfinite(v) for k in km.values() for v in k.median)  # the oracle: a limit not reached
    for name in ("report.html", "tables.docx"):
        assert re.search(r"\d+\.\d \(\d+\.\d\u2013NR\)", texts[name]), name
        assert "NR: not reached." in texts[name]


def test_builtin_report_p_values_follow_the_rule_everywhere(builtin_run, texts):
    pat = re.compile(F.p_pattern(builtin_run.results.config.report))
    seen = 0
    for name, tables in (("report.html", _html_tables(builtin_run.out / "report.html")),
                         ("tables.docx", _docx_tables(builtin_run.out / "tables.docx"))):
        for t in tables:
            header = t[0]
            for j, h in enumerate(header):
                if not _p_column(h):
                    continue
                for row in t[1:]:
                    if j < len(row) and row[j]:
                        seen += 1
                        assert pat.fullmatch(row[j]), (name, h, row[j])
        for m in re.finditer(r"\bP = (\S+?)[.,;)]*(?:\s|$)", texts[name]):  # "(log-rank P = 0.002); "
            assert pat.fullmatch(m.group(1)) or m.group(1) == "not", (name, m.group(0))
        assert "1.000" not in texts[name]
    assert seen > 100


def test_builtin_table1_rows(builtin_run):
    t = _table(build_sections(builtin_run.results), "table1")
    rows = list(t.frame["Characteristic"])
    for row in ("Patients, n", "Age, years, mean (SD)", "Sex: Female, n (%)", "ECOG performance status, n (%)",
                "Number of HAIC cycles, mean (SD)", "HAIC cycles > 4, n (%)", "HBV infection, n (%)",
                "Child–Pugh class, n (%)", "AFP > 400 ng/mL, n (%)"):
        assert row in rows, row
    k = rows.index("ECOG performance status, n (%)")
    assert rows[k + 1:k + 3] == ["\u20030", "\u20031"]
    k = rows.index("Child–Pugh class, n (%)")
    assert rows[k + 1:k + 3] == ["\u2003A", "\u2003B"]
    assert list(t.frame.columns[1:3]) == ["Sequential (SE) (before)", "Simultaneous (SI) (before)"]
    assert not any(c.startswith("Statistical test") for c in t.frame.columns)
