"""Issue 11 section 1: the analysis plan is data.

The built-in plan (hccstudy/data/study_plan.yaml) against the plan that used to be code; study.yaml's
``analysis:`` deep-merged onto it; ``--set KEY=VALUE`` on run / analyze / plan, validated like the file;
``hccstudy plan --show`` round trip; ``eligibility.extra`` criteria in the flow; the synthetic
calibration matching with the config's plan.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import hccstudy
from hccstudy import ConfigError, builtin_plan, load_config, load_study
from hccstudy._overrides import deep_merge, parse_assignment
from hccstudy.analysis import analyze
from hccstudy.analysis.config import AnalysisPlan, load_analysis_config, load_plan
from hccstudy.cli import app
from hccstudy.cohort.analysis_table import study_table
from hccstudy.cohort.config import CRITERIA
from hccstudy.synth import generate, write_cohort
from hccstudy.synth.calibration import calibration_table, match_reference

ROOT = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"
runner = CliRunner()


def _cli(args: list[str]):
    return runner.invoke(app, [str(a) for a in args])


# --------------------------------------------------------------------------- the built-in plan
#: the plan as it was written in code before it became data (cohort/analysis.py, study_analysis_config)
#: issue 12: Table 1 rows as the paper's (display only: ECOG, HAIC cycles > 4, Child–Pugh class A/B)
TABLE1 = ["age", "sex", "ecog", "haic_cycles", "haic_cycles_gt4", "hbv", "child_pugh_class", "afp_gt_400",
          "max_diameter_cm", "multiple_tumours", "mvi", "ehs"]
OLD_PS = ["age", "sex", "max_diameter_cm", "multiple_tumours", "mvi", "ehs"]
OLD_COX = ["arm", "age", "sex", "haic_cycles_gt4", "child_pugh_b", "afp_gt_400", "max_diameter_cm",
           "multiple_tumours", "mvi", "ehs"]


def test_builtin_plan_is_the_plan_that_was_code():
    p = builtin_plan()
    assert p.name == "HAIC + targeted + PD-(L)1: sequential (SE) vs simultaneous (SI)"
    assert p.id == "id"
    assert (p.arm.column, p.arm.treated, p.arm.control, p.arm.labels) == ("arm", "SE", "SI", {"SE": "SE", "SI": "SI"})
    assert p.covariates == TABLE1 and p.categorical == ["sex"] and p.nonnormal == []
    assert p.matching.on == OLD_PS and p.matching.caliper == 0.03
    m = p.matching  # everything else at the analyze defaults, as before
    assert (m.std_caliper, m.ratio, m.replace, m.order, m.link, m.discard, m.ties, m.seed) == \
        (True, 1, False, "largest", "logit", "none", "matchit", 1)
    assert [(e.name, e.time, e.event, e.event_value, e.unit, e.landmarks) for e in p.endpoints] == [
        ("os", "os_months", "os_event", 1, "months", [6, 12, 24]),
        ("pfs", "pfs_months", "pfs_event", 1, "months", [6, 12, 24])]
    assert (p.cox.variables, p.cox.select_p, p.cox.arm_reference, p.cox.ties) == (OLD_COX, 0.05, "treated", "efron")
    assert [s if isinstance(s, str) else (s.variable, s.cut) for s in p.subgroups] == [
        "sex", ("age", 60), "haic_cycles_gt4", "afp_gt_400", "child_pugh_b", "multiple_tumours", "mvi", "ehs"]
    assert p.response.column == "bor"
    assert (p.adverse_events.prefix, p.adverse_events.suffix, p.adverse_events.columns) == ("ae_", "_grade", None)
    assert load_config().analysis == p  # the default of study.yaml's analysis:


def test_plan_ships_and_no_second_caliper_or_covariate_list_in_the_source():
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["hccstudy"]
    assert any(fnmatch.fnmatch("data/study_plan.yaml", g) for g in globs), "study_plan.yaml is not in the wheel"
    src = ROOT / "src" / "hccstudy"
    for py in src.rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        assert "caliper: float = 0.03" not in text and "caliper=0.03" not in text, py
        assert "PS_COVARIATES" not in text, py
    assert not (src / "cohort" / "analysis.py").exists()


def test_plan_with_data_is_an_analysis_config():
    cfg = builtin_plan().with_data("t.parquet", base_dir="/x")
    assert str(cfg.data_path) == "/x/t.parquet" and cfg.plan == builtin_plan()
    assert list(type(cfg).model_fields)[:2] == ["data", "id"]  # analyze's key order kept


# --------------------------------------------------------------------------- merge semantics
def test_deep_merge_rules():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 1}, "f": 1}
    out = deep_merge(base, {"a": {"c": [3]}, "d": None, "g": {"h": 2}})
    assert out == {"a": {"b": 1, "c": [3]}, "d": None, "f": 1, "g": {"h": 2}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 1}, "f": 1}  # inputs untouched


def test_analysis_mapping_merges_onto_the_builtin_plan(tmp_path):
    f = tmp_path / "study.yaml"
    f.write_text("analysis:\n  matching: {caliper: 0.1, on: [age, sex]}\n"
                 "  endpoints:\n    - {name: os, time: os_months, event: os_event, landmarks: [6, 12, 36]}\n"
                 "  response: null\n")
    p = load_config(f).analysis
    b = builtin_plan()
    assert p.matching.caliper == 0.1 and p.matching.on == ["age", "sex"]      # mapping merged, list replaced
    assert p.matching.ratio == b.matching.ratio and p.covariates == b.covariates  # untouched keys kept
    assert [e.name for e in p.endpoints] == ["os"] and p.endpoints[0].landmarks == [6, 12, 36]
    assert p.response is None and p.adverse_events == b.adverse_events        # null removes a section
    f.write_text("analysis:\n  matching: null\n")
    assert load_config(f).analysis.matching is None


@pytest.mark.parametrize("text,words", [
    ("analysis:\n  matching: {caliper: -1}\n", ["analysis.matching.caliper"]),
    ("analysis:\n  covariates: null\n", ["analysis.covariates"]),
    ("analysis:\n  cox: {variabels: [age]}\n", ["analysis.cox.variabels", "Extra inputs"]),
    ("analysis:\n  id: age\n", ["analysis", "covariates: 'age' is the id column"]),
    ("analysis: [1, 2]\n", ["analysis"]),
])
def test_analysis_errors_name_the_file_and_the_key(tmp_path, text, words):
    f = tmp_path / "study.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: ") and all(w in msg for w in words), msg


def test_cohort_layer_leaves_the_analysis_key_to_the_root(tmp_path):
    f = tmp_path / "study.yaml"
    f.write_text("eligibility: {ecog_max: 2}\nanalysis: {matching: {caliper: 0.2}}\n")
    from hccstudy.cohort.config import load_cohort_config
    assert load_cohort_config(f).eligibility.ecog_max == 2
    cfg = load_config(f)
    assert isinstance(cfg, hccstudy.StudyConfig) and cfg.analysis.matching.caliper == 0.2
    import hccstudy.cohort.config as cc
    import hccstudy.cohort.eligibility as ce
    for mod in (cc, ce):  # cohort never imports analysis (layering)
        assert "from ..analysis" not in Path(mod.__file__).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- --set
def test_parse_assignment_reads_yaml_values():
    assert parse_assignment("matching.caliper=0.1") == ("matching.caliper", {"matching": {"caliper": 0.1}})
    assert parse_assignment("a.b=[6,12,36]")[1] == {"a": {"b": [6, 12, 36]}}
    assert parse_assignment("a=null")[1] == {"a": None}
    assert parse_assignment("a={x: 1}")[1] == {"a": {"x": 1}}
    assert parse_assignment("a=on")[1] == {"a": "on"}  # YAML 1.2 booleans, as config files
    for bad in ("caliper", "=1", "a..b=1", "a=[1,"):
        with pytest.raises(ConfigError, match="--set"):
            parse_assignment(bad)


def test_set_is_validated_like_the_file():
    cfg = load_config(None, assignments=["analysis.matching.caliper=0.1", "eligibility.ecog_max=2"])
    assert cfg.analysis.matching.caliper == 0.1 and cfg.eligibility.ecog_max == 2
    with pytest.raises(ConfigError, match=r"^--set eligibility\.ecog_max=9: eligibility\.ecog_max"):
        load_config(None, assignments=["analysis.matching.caliper=0.1", "eligibility.ecog_max=9"])
    with pytest.raises(ConfigError, match=r"--set analysis\.matching\.calipr=0\.1: .*Extra inputs"):
        load_config(None, assignments=["analysis.matching.calipr=0.1"])


def test_run_set_bad_key_or_value_exits_2_and_writes_nothing(tmp_path):
    study = hccstudy.example_study_path()
    for arg, words in (("analysis.matching.calipr=0.1", ["--set analysis.matching.calipr=0.1", "calipr"]),
                       ("analysis.matching.caliper=wide", ["--set analysis.matching.caliper=wide", "number"]),
                       ("eligibility.extra=[{name: x, keep: 'age >'}]", ["--set eligibility.extra", "[0] (x) keep"])):
        r = _cli(["run", study, "--out", tmp_path / "out", "--set", arg])
        assert r.exit_code == 2, r.output
        assert all(w in r.output for w in words), r.output
        assert "Traceback" not in r.output
        assert not (tmp_path / "out").exists()


def test_analyze_set(tmp_path):
    r = _cli(["analyze", REF / "veteran.yaml", "--out", tmp_path / "a", "--set", "matching.caliper=0.1",
              "--set", "subgroups=[celltype]"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["analysis_config"]["matching"]["caliper"] == 0.1 and m["analysis_config"]["subgroups"] == ["celltype"]
    cfg = load_analysis_config(REF / "veteran.yaml", overrides=["matching.caliper=0.1"])
    assert cfg.matching.caliper == 0.1 and cfg.matching.on == load_analysis_config(REF / "veteran.yaml").matching.on
    for arg, word in (("matching.calipr=1", "--set matching.calipr=1"), ("matching.caliper=[1]", "--set matching.caliper=[1]"),
                      ("analysis.matching.caliper=0.1", "--set analysis.matching.caliper=0.1")):
        r = _cli(["analyze", REF / "veteran.yaml", "--out", tmp_path / "b", "--set", arg])
        assert r.exit_code == 2 and word in r.output, r.output
        assert not (tmp_path / "b").exists()


# --------------------------------------------------------------------------- plan --show
def test_plan_show_round_trips(tmp_path):
    r = _cli(["plan", "--show"])
    assert r.exit_code == 0, r.output
    shown = tmp_path / "plan.yaml"
    shown.write_text(r.stdout)
    assert load_plan(shown) == builtin_plan()
    # as study.yaml's analysis: it gives the same plan again
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({"analysis": yaml.safe_load(r.stdout)}))
    assert load_config(tmp_path / "study.yaml").analysis == builtin_plan()
    # a changed plan, shown and read back
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("analysis: {matching: null, subgroups: [sex, {variable: age, cut: 65}], km: {conf_type: log-log}}\n")
    r = _cli(["plan", "--show", "--config", cfg, "--set", "analysis.cox.select_p=0.1"])
    assert r.exit_code == 0, r.output
    shown.write_text(r.stdout)
    want = load_config(cfg, assignments=["analysis.cox.select_p=0.1"]).analysis
    assert load_plan(shown) == want and want.matching is None and want.cox.select_p == 0.1
    assert _cli(["plan", "--check", "--file", shown]).exit_code == 0
    r = _cli(["plan", "--show", "--file", shown, "--set", "matching={on: [age]}"])
    assert r.exit_code == 0 and load_plan(yaml.safe_load(r.stdout)).matching.on == ["age"]
    r = _cli(["plan", "--check", "--set", "analysis.km.conf_level=2"])
    assert r.exit_code == 2 and "analysis.km.conf_level" in r.output


# --------------------------------------------------------------------------- eligibility.extra
@pytest.fixture(scope="module")
def example_study():
    return load_study(hccstudy.example_study_path())


def _extra(*criteria, order=None) -> hccstudy.StudyConfig:
    el = {"extra": [dict(zip(("name", "keep"), c, strict=True)) for c in criteria]}
    if order is not None:
        el["order"] = order
    return load_config(None, {"eligibility": el})


def test_extra_criterion_counts_in_the_flow(example_study):
    base = example_study.patients
    passed = base["included"].to_numpy()
    age = base["age"].to_numpy(dtype=float)
    expected = int((passed & ~(age <= 60)).sum())  # included today, older than 60
    assert 0 < expected < passed.sum()
    study = load_study(hccstudy.example_study_path(), _extra(("age_60", "age <= 60"),
                                                              ("female", "sex == 'female'")))
    flow = study.flow.set_index(["step", "criterion"])["n"]
    assert list(study.flow.loc[study.flow["step"] == "excluded", "criterion"]) == list(CRITERIA) + ["age_60", "female"]
    assert flow[("excluded", "age_60")] == expected
    left = passed & (age <= 60)
    assert flow[("excluded", "female")] == int((left & (base["sex"] != "female").to_numpy(dtype=bool)).sum())
    assert flow[("included", "")] == int((left & (base["sex"] == "female").to_numpy(dtype=bool)).sum())
    assert study.flow.set_index("criterion").loc["age_60", "label"] == "age_60"
    ex = study.exclusions.set_index("criterion")
    assert ex.loc["age_60", "n_failing"] == int((~(age <= 60)).sum())


def test_extra_criterion_in_order_and_missing_values_fail(example_study):
    base = example_study.patients
    passed = base["included"].to_numpy()
    alive = base["death_date"].isna().to_numpy()
    assert 0 < (passed & alive).sum() < passed.sum()
    study = load_study(hccstudy.example_study_path(),
                       _extra(("died", "death_date >= '2000-01-01'"), ("any_age", "isna(age) or age > 0"),
                              order=["died", *CRITERIA]))
    flow = study.flow.set_index(["step", "criterion"])["n"]
    assert study.flow["criterion"].iloc[1] == "died"  # first in order
    assert flow[("excluded", "died")] == int(alive.sum())  # a missing death date: unknown, so not kept
    assert flow[("excluded", "any_age")] == 0
    assert flow[("included", "")] == int((passed & ~alive).sum())


@pytest.mark.parametrize("keep,words", [
    ("agee >= 18", ["eligibility.extra[0] (age_ok)", "unknown column 'agee'", "did you mean 'age'"]),
    ("age + 1", ["eligibility.extra[0] (age_ok)", "not true/false"]),
    ("sex > 1", ["eligibility.extra[0] (age_ok)", "compares text with a number"]),
])
def test_extra_criterion_errors_on_the_table(keep, words):
    with pytest.raises(ConfigError) as e:
        load_study(hccstudy.example_study_path(), _extra(("age_ok", keep)))
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("criterion,words", [
    ({"name": "age_ok", "keep": "age >="}, ["[0] (age_ok) keep", "not a valid expression"]),
    ({"name": "age_ok", "keep": "age.__class__ == 1"}, ["attribute access"]),
    ({"name": "age_ok", "keep": "__import__('os')"}, ["isna(column) and notna(column)"]),
    ({"name": "age_ok", "keep": "age > 1 & sex == 'male'"}, ["use 'and'"]),
    ({"name": "age_ok", "keep": "@x > 1"}, ["not a valid expression"]),
    ({"name": "bclc_c", "keep": "age > 1"}, ["built-in criterion"]),
    ({"name": "age ok", "keep": "age > 1"}, ["letters, digits and _"]),
])
def test_extra_criterion_checked_at_config_load(criterion, words):
    with pytest.raises(ConfigError) as e:
        load_config(None, {"eligibility": {"extra": [criterion]}})
    assert "eligibility.extra" in str(e.value) and all(w in str(e.value) for w in words), str(e.value)
    with pytest.raises(ConfigError, match="given twice"):
        load_config(None, {"eligibility": {"extra": [{"name": "a", "keep": "age > 1"}] * 2}})
    with pytest.raises(ConfigError, match="unknown criteria"):
        load_config(None, {"eligibility": {"order": ["nope"]}})


def test_flow_cli_with_a_bad_column_exits_2(tmp_path):
    r = _cli(["flow", hccstudy.example_study_path(), "--set", "eligibility.extra=[{name: x, keep: 'nope > 1'}]"])
    assert r.exit_code == 2 and "eligibility.extra[0] (x)" in r.output and "Traceback" not in r.output


def test_expression_three_valued_logic():
    from hccstudy.cohort.expressions import evaluate
    df = pd.DataFrame({"age": [17, 30, np.nan, 90], "cp": pd.array(["A", "B", None, "C"], dtype="string"),
                       "d": pd.to_datetime(["2019-01-01", "2020-01-01", None, "2021-01-01"])})
    met, unknown = evaluate("18 <= age <= 80 and cp in ['A', 'B']", df)
    assert met.tolist() == [False, True, False, False] and unknown.tolist() == [False, False, True, False]
    assert evaluate("age > 50 or cp == 'B'", df)[0].tolist() == [False, True, False, True]
    assert evaluate("not (age < 18)", df)[1].tolist() == [False, False, True, False]
    assert evaluate("isna(age) or age > 20", df)[0].tolist() == [False, True, True, True]
    assert evaluate("d >= '2019-06-01'", df)[0].tolist() == [False, True, False, True]
    xy = pd.DataFrame({"x": [np.nan, np.nan, 1.0], "y": [0.0, 5.0, np.nan]})
    met, unknown = evaluate("x > 0 and y > 1", xy)  # unknown and false = false; unknown and true = unknown
    assert met.tolist() == [False, False, False] and unknown.tolist() == [False, True, True]
    met, unknown = evaluate("x > 0 or y > 1", xy)  # unknown or false = unknown; unknown or true = true
    assert met.tolist() == [False, True, True] and unknown.tolist() == [True, False, False]


# --------------------------------------------------------------------------- calibration follows the plan
@pytest.mark.costly  # a cohort, three ingests and two analyses: queued early (conftest)
@pytest.mark.filterwarnings("ignore:Loglik converged")  # a small cohort: a Cox term may diverge
def test_calibration_matches_with_the_plans_caliper(tmp_path):
    write_cohort(generate(3, 700), tmp_path, excel=False)
    base = load_study(tmp_path)
    pairs = {}
    for caliper in (0.03, 0.005):
        cfg = load_config(None, assignments=[f"analysis.matching.caliper={caliper}"])
        study = load_study(tmp_path, cfg)
        table = calibration_table(study).set_index(["group", "target"])
        pairs[caliper] = table.loc[("matching", "matched pairs"), "recovered"]
        # the matching is what is compared: analyze without the sensitivity analyses (the same matching;
        # they were most of this test's time, and are the built-in study's tests)
        plan = cfg.analysis.with_data("t.parquet").model_copy(update={"sensitivity": None})
        res = analyze(plan, study_table(study.analysis))
        assert pairs[caliper] == res.matching.n_pairs == match_reference(study.analysis, cfg.analysis).n_pairs
    assert pairs[0.005] < pairs[0.03]
    # the default: the built-in plan, caliper 0.03
    assert calibration_table(base).set_index(["group", "target"]).loc[("matching", "matched pairs"), "recovered"] \
        == pairs[0.03]
    no_match = calibration_table(replace(base, config=load_config(None, {"analysis": {"matching": None}})))
    row = no_match.set_index(["group", "target"]).loc[("matching", "matched pairs")]
    assert pd.isna(row["recovered"]) and not row["ok"]
    assert isinstance(builtin_plan(), AnalysisPlan)
