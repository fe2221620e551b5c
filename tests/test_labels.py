"""The variable dictionary (issue 11 section 3): label semantics and fallbacks, config validation, the
built-in dictionary's coverage of the built-in plan and of every AE column, and the report-text oracle
(tests/report_text.py) on small hand-made documents."""

from __future__ import annotations

import dataclasses
import fnmatch
import tomllib
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

import hccstudy
from hccstudy._yaml import ConfigError, load_yaml
from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.analysis.config import AnalysisPlan
from hccstudy.analysis.labels import (
    Dictionary,
    VariableLabelSpec,
    builtin_dictionary,
    merge_labels,
    parse_labels,
    same_level,
)
from report_text import code_names, code_names_in, docx_text, html_text, report_texts, xlsx_text

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).parent / "reference" / "shared"


def _dict(labels: dict) -> Dictionary:
    return Dictionary.from_config(parse_labels(labels))


PAPER = {
    "age": {"label": "Age", "unit": "years"},
    "age_gt_60": {"label": "Age > 60 years", "levels": {0: "No", 1: "Yes"}},
    "max_diameter_cm": {"label": "Maximum tumour diameter", "unit": "cm"},
    "afp_gt_400": {"label": "AFP > 400 ng/mL", "levels": {1: "Yes", 0: "No"}, "order": [0, 1]},
    "sex": {"label": "Sex", "levels": {"male": "Male", "female": "Female"}, "order": ["male", "female"]},
    "arm": {"label": "Treatment", "levels": {"SE": "Sequential (SE)", "SI": "Simultaneous (SI)"}, "order": ["SE", "SI"]},
    "ecog": {"label": "ECOG PS", "levels": {0: "0", 1: "1", 2: "2"}},
    "hbv": {"label": "HBV infection", "levels": {True: "Yes", False: "No"}},
    "os": {"label": "Overall survival"},
    "dose": {"unit": "mg"},
}


# ------------------------------------------------------------------------------------ semantics
def test_variable_label_unit_and_fallback_recorded():
    d = _dict(PAPER)
    assert d.variable("max_diameter_cm") == "Maximum tumour diameter, cm"
    assert d.label("max_diameter_cm") == "Maximum tumour diameter"
    assert d.unit("max_diameter_cm") == "cm"
    assert d.variable("sex") == "Sex" and d.unit("sex") is None
    assert d.fallbacks() == []
    assert d.variable("bmi") == "bmi" and d.unit("bmi") is None
    assert d.variable("dose") == "dose, mg"  # a unit without a label: the name, with the unit
    assert d.label("bmi") == "bmi"
    assert d.fallbacks() == ["bmi", "dose"]  # first asked first, each once


def test_level_keys_are_values_not_types():
    d = _dict({"x": {"levels": {1: "one", "b": "bee", 2.5: "two and a half"}}, "t": {"levels": {True: "yes"}}})
    for v in (1, 1.0, "1", "1.0"):
        assert d.level("x", v) == "one", v
    assert d.level("x", "b") == "bee"
    assert d.level("x", 2.5) == "two and a half" and d.level("x", "2.5") == "two and a half"
    assert d.level("t", "TRUE") == "yes" and d.level("t", True) == "yes" and d.level("t", 1.0) == "yes"
    # different texts stay different levels
    assert d.level("x", "01") == "01"
    assert d.fallbacks() == ["x = 01"]
    assert same_level(1, 1.0) and same_level("1", 1) and same_level(1.0, "1.0") and same_level(True, "TRUE")
    assert not same_level("01", 1) and not same_level(2, 1) and not same_level("a", "A")


def test_level_fallback_is_recorded_for_codes_not_plain_numbers():
    d = _dict(PAPER)
    assert d.level("sex", "female") == "Female"
    assert d.level("haic_cycles", 5) == "5"              # a count of a variable without levels: as it is
    assert d.level("centre", "alpha") == "alpha"         # a text code without a label: recorded
    assert d.level("afp_gt_400", 2) == "2"               # a levels map that lacks the value: recorded
    assert d.level("sex", "other") == "other"
    assert d.fallbacks() == ["centre = alpha", "afp_gt_400 = 2", "sex = other"]
    # a value that is already a level label (an arm labelled upstream; R's term arm + label)
    assert d.level("arm", "Simultaneous (SI)") == "Simultaneous (SI)"
    assert d.term("arm", "armSimultaneous (SI)") == ("Treatment", "Simultaneous (SI)")
    assert d.fallbacks() == ["centre = alpha", "afp_gt_400 = 2", "sex = other"]


def test_order_puts_listed_values_first_and_keeps_the_rest_in_their_order():
    d = _dict(PAPER)
    assert d.order("arm", ["SI", "SE"]) == ["SE", "SI"]
    assert d.order("afp_gt_400", [1.0, 0.0]) == [0.0, 1.0]      # order [0, 1] matches the table's floats
    assert d.order("sex", ["x", "female", "y", "male"]) == ["male", "female", "x", "y"]
    assert d.order("age", [3, 1, 2]) == [3, 1, 2]               # no order: as given
    assert d.order("unknown", ("b", "a")) == ["b", "a"]
    assert d.fallbacks() == []  # ordering asks for no label


def test_term_parsing_treatment_contrasts():
    d = _dict(PAPER)
    assert d.term("sex", "sexfemale") == ("Sex", "Female")
    assert d.term(None, "sexfemale") == ("Sex", "Female")
    assert d.term(None, "armSI") == ("Treatment", "Simultaneous (SI)")
    assert d.term(None, "max_diameter_cm") == ("Maximum tumour diameter, cm", None)   # numeric: no level
    assert d.term(None, "afp_gt_400") == ("AFP > 400 ng/mL", "Yes")                 # 0/1 with levels: label of 1
    assert d.term(None, "ecog") == ("ECOG PS", None)                                # levels, but not 0/1
    assert d.term(None, "ecog2") == ("ECOG PS", "2")
    assert d.term(None, "hbvTRUE") == ("HBV infection", "Yes")                      # R's logical term
    assert d.fallbacks() == []


def test_term_longest_known_variable_wins():
    d = _dict(PAPER)
    assert d.term(None, "age") == ("Age, years", None)
    assert d.term(None, "age_gt_60") == ("Age > 60 years", "Yes")  # not 'age' + level '_gt_60'
    assert d.term("age_gt_60", "age_gt_60") == ("Age > 60 years", "Yes")
    only_age = _dict({"age": PAPER["age"]})
    assert only_age.term(None, "age_gt_60") == ("Age, years", "_gt_60")  # what the dictionary can know
    assert only_age.fallbacks() == ["age = _gt_60"]


def test_term_of_an_unknown_variable_is_its_code_recorded():
    d = _dict(PAPER)
    assert d.term(None, "celltypesmallcell") == ("celltypesmallcell", None)
    assert d.term("celltype", "celltypesmallcell") == ("celltype", "smallcell")
    assert d.term("sex", "sexother") == ("Sex", "other")
    assert d.fallbacks() == ["celltypesmallcell", "celltype", "celltype = smallcell", "sex = other"]


def test_endpoint_label_and_fallback():
    d = _dict(PAPER)
    assert d.endpoint("os") == "Overall survival"
    assert d.endpoint("pfs") == "PFS"
    assert d.endpoint("pfs") == "PFS"
    assert d.fallbacks() == ["pfs"]


def test_dictionary_is_frozen_and_fallbacks_do_not_change_equality():
    a, b = _dict(PAPER), _dict(PAPER)
    a.label("nothing")
    assert a == b and a.fallbacks() != b.fallbacks()
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.specs = {}
    returned = a.fallbacks()
    returned.append("x")
    assert a.fallbacks() == ["nothing"]  # a copy
    assert Dictionary.from_config(None).variable("x") == "x"


def test_merge_overrides_field_by_field():
    base = builtin_dictionary()
    mine = parse_labels({"arm": {"label": "Group"}, "bmi": {"label": "BMI", "unit": "kg/m²"},
                         "sex": {"levels": {"male": "Men", "female": "Women"}}})
    merged = merge_labels(base, mine)
    assert merged["arm"].label == "Group"
    assert merged["arm"].levels == base["arm"].levels and merged["arm"].order == ["SE", "SI"]
    assert merged["sex"].label == "Sex" and merged["sex"].levels == {"male": "Men", "female": "Women"}
    assert merged["bmi"].unit == "kg/m²"
    assert base["arm"].label == "Treatment"  # the base is not changed
    assert merge_labels({}, {}) == {}


# ------------------------------------------------------------------------------------ validation
BASE = {"data": "x.csv", "id": "id", "arm": {"column": "a", "treated": 1, "control": 0}, "covariates": ["x"]}


@pytest.mark.parametrize(("labels", "message"), [
    ({"x": {"colour": "red"}}, "labels.x.colour: Extra inputs are not permitted"),
    ({"x": {"label": "X", "levels": {None: "none"}}}, "labels.x.levels: Value error, level key None (NoneType) is not a level"),
    ({"x": {"levels": {1: "a", "1": "b"}}}, "labels.x.levels: Value error, levels 1 and '1' are the same level, given twice"),
    ({"x": {"levels": {1: 2}}}, "labels.x.levels.1: Input should be a valid string"),
    ({"x": {"levels": {float("nan"): "a"}}}, "NaN and infinity are not values of a column"),
    ({"x": {"order": [[1]]}}, "labels.x.order: Value error, order item [1] (list) is not a level"),
    ({"x": {"order": [1, 1.0]}}, "order: 1.0 is listed twice"),
    ({"x": {"label": ""}}, "labels.x.label: String should have at least 1 character"),
    ({"x": "Age"}, "labels.x"),
    ({1: {"label": "a"}}, "labels.1.[key]: Input should be a valid string"),
])
def test_bad_labels_are_config_errors_naming_the_key(labels, message):
    with pytest.raises(ConfigError) as exc:
        load_analysis_config({**BASE, "labels": labels})
    assert message in str(exc.value)
    with pytest.raises(ConfigError) as exc2:  # the same rule for a study's labels read on their own
        parse_labels(labels)
    assert str(exc2.value).startswith("labels")


def test_dates_from_yaml_are_not_levels():
    with pytest.raises(ConfigError, match=r"labels.x.levels: .*level key datetime.date\(2020, 1, 1\) \(date\)"):
        parse_labels(load_yaml("x: {levels: {2020-01-01: New year}}"))


def test_labels_default_empty_and_yaml_keys_are_kept_as_written():
    assert load_analysis_config(BASE).labels == {}
    labels = load_yaml('sex: {levels: {1: "Male", 2: "Female"}, order: [2, 1]}\non: {label: "On"}')
    cfg = load_analysis_config({**BASE, "labels": labels})
    assert cfg.labels["sex"].levels == {1: "Male", 2: "Female"} and cfg.labels["sex"].order == [2, 1]
    assert cfg.labels["on"].label == "On"  # YAML 1.2: `on` is a name, not true


def test_labels_for_variables_absent_from_the_table_are_fine():
    v = pd.read_csv(SHARED / "veteran.csv")
    cfg = load_analysis_config({"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
                                "covariates": ["karno", "age"],
                                "labels": {"karno": {"label": "Karnofsky score"}, "not_a_column": {"label": "Nothing"}}})
    res = analyze(cfg, v)
    assert res.table1_before is not None


# ------------------------------------------------------------------------------------ built-in dictionary
def test_builtin_dictionary_ships_as_package_data():
    res = files("hccstudy") / "data" / "dictionary.yaml"
    assert res.is_file()
    text = res.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#")  # a commented file
    assert parse_labels(load_yaml(text)) == builtin_dictionary()
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["hccstudy"]
    assert any(fnmatch.fnmatch("data/dictionary.yaml", g) for g in globs), "dictionary.yaml is not in the wheel"


def builtin_plan() -> AnalysisPlan:
    """The built-in study's analysis plan (data/study_plan.yaml)."""
    import hccstudy

    return hccstudy.builtin_plan()


def plan_variables(plan: AnalysisPlan) -> set[str]:
    """Every name a report of this plan can show: the arm, Table 1 rows, matching covariates, Cox
    variables, subgroup variables, endpoints and their columns, the response column."""
    names = {plan.arm.column, *plan.covariates, *plan.categorical, *plan.nonnormal, *plan.cox.variables}
    names |= set(plan.matching.on) if plan.matching else set()
    names |= {sg if isinstance(sg, str) else sg.variable for sg in plan.subgroups}
    names |= {n for ep in plan.endpoints for n in (ep.name, ep.time, ep.event)}
    names |= {plan.response.column} if plan.response else set()
    return names


def test_builtin_dictionary_labels_every_variable_of_the_builtin_plan():
    plan, labels = builtin_plan(), builtin_dictionary()
    names = plan_variables(plan)
    assert {"arm", "age", "sex", "haic_cycles_gt4", "os", "pfs", "bor"} <= names  # the plan is read
    missing = sorted(n for n in names if n not in labels or labels[n].label is None)
    assert missing == []
    d = Dictionary.from_config(labels)
    assert d.variable("age") == "Age, years" and d.variable("max_diameter_cm") == "Maximum tumour diameter, cm"
    assert d.label("child_pugh_b") == "Child–Pugh class B" and d.label("afp_gt_400") == "AFP > 400 ng/mL"
    assert d.endpoint("os") == "Overall survival" and d.endpoint("pfs") == "Progression-free survival"
    # the reference arm first: HRs are SI vs SE (cox.arm_reference "treated" = SE)
    ref = plan.arm.treated if plan.cox.arm_reference == "treated" else plan.arm.control
    assert d.order(plan.arm.column, ["SI", "SE"])[0] == ref
    assert d.term(plan.arm.column, "armSI") == ("Treatment", "Simultaneous (SI)")
    assert d.fallbacks() == []


@pytest.fixture(scope="module")
def example_table() -> pd.DataFrame:
    from hccstudy.cohort.analysis_table import study_table

    return study_table(hccstudy.load_study(hccstudy.example_study_path()).analysis)


def test_builtin_dictionary_labels_every_level_of_the_example_study(example_table):
    d = Dictionary.from_config(builtin_dictionary())
    plan = builtin_plan()
    coded = [plan.arm.column, *plan.categorical, plan.response.column]
    coded += [v for v in plan_variables(plan) if v in example_table and set(example_table[v].dropna()) <= {0, 1}]
    for col in coded:
        for value in pd.unique(example_table[col].dropna()):
            d.level(col, value)
    for value in ("CR", "PR", "SD", "PD", "NE"):  # every mRECIST response, not only those the example has
        d.level("bor", value)
    assert d.fallbacks() == []


def test_builtin_dictionary_labels_every_adverse_event_column(example_table):
    from hccstudy.clinical.ctcae import LAB_TERMS
    from hccstudy.schema.fields import AE_TERM

    labels = builtin_dictionary()
    derived = {c for c in example_table.columns if c.startswith("ae_") and c.endswith("_grade")}
    assert derived, "the example study derives no AE column"
    every = {f"ae_{t}_grade" for t in [*AE_TERM, *LAB_TERMS.values()]}
    assert derived <= every  # the full list below covers what a study derives
    assert sorted(c for c in every if c not in labels or not labels[c].label) == []


def test_builtin_dictionary_shows_no_code_name_of_itself():
    """Each label is words: no label text is a code name of the dictionary."""
    labels = builtin_dictionary()
    texts = [s.label for s in labels.values() if s.label] + [t for s in labels.values() for t in s.levels.values()]
    codes = code_names(labels)
    assert [t for t in texts if t in codes] == []


# ------------------------------------------------------------------------------------ the oracle
def test_html_text_drops_tags_script_style_and_decodes_entities(tmp_path):
    p = tmp_path / "r.html"
    p.write_text("<html><head><title>Report</title><style>td {color: sex}</style>"
                 "<script>var afp_gt_400 = 1;</script></head><body><h1>AFP &gt; 400 ng/mL</h1>"
                 "<table><tr><td>Sex</td><td>Fe<b>male</b></td></tr></table>"
                 "<!-- armSI --><p>Child&#8211;Pugh &amp; <img alt='x' src='data:image/png;base64,c2V4'/>age</p>"
                 "</body></html>", encoding="utf-8")
    text = html_text(p)
    assert "AFP > 400 ng/mL" in text and "Child–Pugh & " in text and "Female" in text
    assert "afp_gt_400" not in text and "color" not in text and "armSI" not in text and "base64" not in text
    assert "Sex\nFemale" in text  # cells are separate words
    assert text.splitlines()[-1] == "age"


def test_docx_text_reads_paragraphs_tables_and_headers(tmp_path):
    import docx

    doc = docx.Document()
    doc.add_paragraph("Table 1. Baseline characteristics")
    t = doc.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "Variable"
    t.cell(1, 0).text = "sexfemale"
    t.cell(1, 1).add_table(rows=1, cols=1).cell(0, 0).text = "nested ehs"
    doc.sections[0].header.paragraphs[0].text = "header armSI"
    doc.save(str(tmp_path / "t.docx"))
    text = docx_text(tmp_path / "t.docx")
    for s in ("Table 1. Baseline characteristics", "Variable", "sexfemale", "nested ehs", "header armSI"):
        assert s in text


def test_xlsx_text_reads_sheet_names_cells_and_comments(tmp_path):
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    wb = Workbook()
    ws = wb.active
    ws.title = "cox_os"
    ws["A1"] = "Term"
    ws["B2"] = 0.25
    ws["C3"] = "mvi"
    ws["A1"].comment = Comment("see haic_cycles_gt4", "t")
    wb.create_sheet("Table 1")["A1"] = "Sex"
    wb.save(tmp_path / "t.xlsx")
    text = xlsx_text(tmp_path / "t.xlsx")
    for s in ("cox_os", "Term", "0.25", "mvi", "see haic_cycles_gt4", "Table 1", "Sex"):
        assert s in text


def test_report_texts_reads_all_three_files_and_refuses_a_missing_one(tmp_path):
    import docx
    from openpyxl import Workbook

    (tmp_path / "report.html").write_text("<p>armSI</p>", encoding="utf-8")
    doc = docx.Document()
    doc.add_paragraph("sexfemale")
    doc.save(str(tmp_path / "tables.docx"))
    with pytest.raises(FileNotFoundError):
        report_texts(tmp_path)
    wb = Workbook()
    wb.active["A1"] = "rccep"
    wb.save(tmp_path / "tables.xlsx")
    texts = report_texts(tmp_path)
    labels = builtin_dictionary()
    found = {name: set(code_names_in(text, labels)) for name, text in texts.items()}
    assert found == {"report.html": {"armSI"}, "tables.docx": {"sexfemale"}, "tables.xlsx": {"rccep"}}


def test_code_names_in_finds_codes_terms_levels_and_ae_stems():
    labels = {**parse_labels(PAPER), **parse_labels({"ae_rccep_grade": {"label": "RCCEP"},
                                                     "bor": {"label": "Response", "levels": {"PD": "Progressive disease"}}})}
    clean = ("Age, years | Sex: Female, Male | Treatment: Sequential (SE) vs Simultaneous (SI) | AFP > 400 ng/mL\n"
             "RCCEP | Progressive disease | 1 (25.0) | percentage | Age > 60 years")
    assert code_names_in(clean, labels) == {}
    dirty = ("age 61 | sexfemale | female | SE vs SI | afp_gt_400 | ae_rccep_grade | rccep | PD | armSI | hbvTRUE | "
             "age_gt_60")
    assert set(code_names_in(dirty, labels)) == {"age", "sexfemale", "female", "afp_gt_400",
                                                 "ae_rccep_grade", "rccep", "PD", "armSI", "hbvTRUE", "age_gt_60"}
    # whole tokens, _ a word character, case-sensitive
    assert code_names_in("ages sex_ratio Female AGE Age", labels) == {}
    assert code_names_in("x_age age_y", labels) == {}
    assert set(code_names_in("(age)", labels)) == {"age"}
    # a name whose label is itself, a name without a label and number levels are not codes
    same = parse_labels({"HBV": {"label": "HBV"}, "bmi": {"unit": "kg"}, "ecog": {"levels": {0: "zero"}}})
    assert code_names_in("HBV bmi ecog 0", same) == {}
    # a hyphen joins a token: PD-(L)1 is a drug class, not the response code PD
    assert set(code_names_in("HAIC + PD-(L)1 | PD", labels)) == {"PD"}
    # an abbreviation its own label defines ("Sequential (SE)") may stand alone, as the paper's "SE group"
    assert code_names_in("SE vs SI", labels) == {}
    assert "SE" not in code_names(labels) and "SI" not in code_names(labels) and "armSE" in code_names(labels)
    # statistical phrases and the caller's own prose are not codes
    sd = parse_labels({"bor": {"levels": {"SD": "Stable disease"}}})
    assert code_names_in("age, mean (SD)", sd) == {} and set(code_names_in("SD | 3 (SD)", sd)) == {"SD"}
    assert set(code_names_in("each arm | arm", labels)) == {"arm"}
    assert code_names_in("each arm", labels, ignore=["each arm"]) == {}
    # the result says where
    assert "sexfemale" in code_names_in("Table 2: sexfemale 0.8", labels)["sexfemale"]
    # a Dictionary works as the oracle too
    assert set(code_names_in("armSI", Dictionary.from_config(labels))) == {"armSI"}


def test_label_text_is_taken_out_only_as_whole_words():
    labels = parse_labels({"ne": {"label": "No"}, "bor": {"levels": {"NE": "Not evaluable"}}})
    # "No" removed from "None" would leave "ne"; it is not removed there
    assert set(code_names_in("None", labels)) == set()
    assert set(code_names_in("Not evaluable | No | NE", labels)) == {"NE"}


def test_variable_label_spec_is_frozen():
    s = VariableLabelSpec(label="Age")
    with pytest.raises(Exception):  # noqa: B017 -- pydantic's frozen-instance error
        s.label = "x"


# ------------------------------------------------------------------------------------ the docs
def _doc_section() -> str:
    text = (ROOT / "docs" / "analyze.md").read_text(encoding="utf-8")
    start = text.index("## Labels: the variable dictionary")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_docs_labels_example_runs_as_written():
    import ast

    section = _doc_section()
    yaml_block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    labels = parse_labels(load_yaml(yaml_block)["labels"])
    assert load_analysis_config({**BASE, "labels": load_yaml(yaml_block)["labels"]}).labels == labels
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    checked = 0
    for line in code.splitlines():
        stmt, _, expected = line.partition("# -> ")
        if expected:
            assert eval(stmt, scope) == ast.literal_eval(expected.strip()), line  # noqa: S307 -- our own docs
            checked += 1
        else:
            exec(line, scope)  # noqa: S102 -- our own docs
    assert checked >= 5
