"""``analyze`` on any table (issue 10, A1/A3/B): every optional setting is a tested path through the
analysis and the report; the user's columns are never overwritten, whatever their names (``weight``,
``distance``, ``pair``, ``match_status``, ``treated``, ``arm_label``...); data that cannot support the
analysis give a clear exit-2 error in the study's terms, and a part that cannot be estimated is
reported as skipped, with the reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hccstudy.analysis import AnalysisError, analyze, load_analysis_config
from hccstudy.cli import app
from hccstudy.cohort.config import ConfigError
from hccstudy.report.build import build_report

SHARED = Path(__file__).parent / "reference" / "shared"
runner = CliRunner()
#: the names analyze used to write into the user's table before issue 10
CLASHING = ["weight", "distance", "pair", "match_status", "treated", "arm_label"]


def _user_columns(df: pd.DataFrame, seed: int, names=CLASHING) -> pd.DataFrame:
    """Covariates that happen to carry the names of hccstudy's former internal columns."""
    rng = np.random.default_rng(seed)
    n = len(df)
    extra = {"weight": rng.normal(70, 12, n).round(1),           # body weight, kg
             "distance": rng.gamma(2.0, 15.0, n).round(1),       # km to the hospital
             "pair": rng.integers(0, 2, n),                      # e.g. a paired-organ flag, 0/1
             "match_status": rng.choice(["donor", "none", "recipient"], n),
             "treated": rng.integers(0, 2, n),                   # prior treatment, 0/1
             "arm_label": rng.choice(["x", "y"], n)}
    return df.assign(**{k: extra[k] for k in names})


def _lalonde():
    df = _user_columns(pd.read_csv(SHARED / "lalonde.csv"), 1)
    cov = ["age", "educ", "race", "married", "nodegree", "re74", "re75", *CLASHING]
    cfg = {"data": "lalonde.csv", "id": "id", "arm": {"column": "treat", "treated": 1, "control": 0},
           "covariates": cov, "categorical": ["race", "match_status", "arm_label"],
           "matching": {"on": cov, "caliper": 0.2}}
    return df, cfg


def _veteran():
    df = _user_columns(pd.read_csv(SHARED / "veteran.csv"), 2, ["weight", "distance", "pair"])
    cov = ["karno", "age", "prior", "celltype", "weight", "distance", "pair"]
    cfg = {"data": "veteran.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1,
                                                        "labels": {2: "Test", 1: "Standard"}},
           "covariates": cov, "categorical": ["celltype"], "matching": {"on": cov, "caliper": 0.2},
           "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days", "landmarks": [90, 180]}],
           "cox": {"variables": ["trt", "karno", "weight", "distance", "pair"]},
           "subgroups": ["pair", {"variable": "weight", "cut": 70}]}
    return df, cfg


def _lung():
    df = pd.read_csv(SHARED / "lung.csv")
    df.insert(0, "id", np.arange(1, len(df) + 1))
    df = _user_columns(df, 3, ["weight", "distance", "pair"])
    cov = ["age", "ph.ecog", "ph.karno", "wt.loss", "weight", "distance", "pair"]
    cfg = {"data": "lung.csv", "id": "id", "arm": {"column": "sex", "treated": 2, "control": 1,
                                                  "labels": {2: "female", 1: "male"}},
           "covariates": cov, "matching": {"on": cov, "caliper": 0.2},
           "endpoints": [{"name": "os", "time": "time", "event": "status", "event_value": 2, "unit": "days"}],
           "cox": {"variables": ["sex", "age", "weight", "pair"]}, "subgroups": ["pair"]}
    return df, cfg


DATASETS = {"lalonde": _lalonde, "veteran": _veteran, "lung": _lung}

#: every optional setting (matching ones apply only where the config matches)
PATHS = {
    "default": {},
    "no_caliper": {"matching": {"caliper": None}},
    "no_endpoints": {"endpoints": [], "cox": {"variables": []}, "subgroups": []},
    "no_cox": {"cox": {"variables": []}},
    "no_subgroups": {"subgroups": []},
    "ratio_2": {"matching": {"ratio": 2}},
    "ratio_3_no_caliper": {"matching": {"ratio": 3, "caliper": None}},
    "replace": {"matching": {"replace": True, "caliper": None}},
    "replace_ratio_2": {"matching": {"replace": True, "ratio": 2}},
    "discard_both": {"matching": {"discard": "both"}},
    "order_smallest_linear_logit": {"matching": {"order": "smallest", "link": "linear.logit"}},
    "no_matching": {"matching": None},
}


def _config(base: dict, change: dict) -> dict:
    cfg = json.loads(json.dumps(base))
    for k, v in change.items():
        if v is None:
            cfg.pop(k, None)
        elif isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {kk: vv for kk, vv in {**cfg[k], **v}.items() if vv is not None}
        else:
            cfg[k] = v
    return cfg


def _check_results(res, cfg: dict, df: pd.DataFrame) -> None:
    d = json.loads(res.to_json())  # JSON-safe (no NaN) and complete
    assert d["cohort"]["n"] + d["cohort"]["excluded_missing"]["n"] == len(df)
    cols = ["weight", "distance", "pair"]  # the user's columns come back untouched
    orig = df.set_index(cfg["id"]).loc[res.data[cfg["id"]], cols]
    np.testing.assert_array_equal(res.data[cols].to_numpy(), orig.to_numpy())
    m = cfg.get("matching")
    if m is None:
        assert "matching" not in d
        return
    mt = d["matching"]
    assert mt["ratio"] == m.get("ratio", 1) and mt["replace"] == m.get("replace", False)
    assert (d["propensity"]["caliper_width"] is None) == (m.get("caliper") is None)
    w = res.data[".hcc_weight"].to_numpy()
    t = res.data[".hcc_treated"].to_numpy()
    assert (w[t & (w > 0)] == 1).all() and (w[~t] > 0).sum() == pytest.approx(w[~t].sum())
    if not m.get("replace"):
        assert len(set(res.matching.pairs["control"])) == len(res.matching.pairs)
    if d["skipped"]:
        assert all(set(s) == {"part", "reason"} and s["reason"] for s in d["skipped"])
    if cfg.get("endpoints") and d["table1"]["after"] is not None:
        assert "matched" in d["endpoints"]["os"]


@pytest.mark.parametrize(("dataset", "path"), [(d, p) for d in DATASETS for p in PATHS
                                               if not (d == "lalonde" and p in ("no_endpoints", "no_cox", "no_subgroups"))])
def test_every_optional_path_on_the_shared_data(dataset, path):
    """lalonde (no endpoint), veteran and lung, with user columns named weight, distance and pair among
    the covariates (and the Cox variables and subgroups)."""
    df, base = DATASETS[dataset]()
    cfg = _config(base, PATHS[path])
    original = df.copy()
    res = analyze(load_analysis_config(cfg), df)
    pd.testing.assert_frame_equal(df, original)  # the input table is never modified
    _check_results(res, cfg, df)


def _renamed(df: pd.DataFrame, cfg: dict, names: list[str]) -> tuple[pd.DataFrame, dict]:
    new = {c: f"zz{c}" for c in names}
    cfg = json.loads(json.dumps(cfg))

    def ren(v):
        return {**v, "variable": new.get(v["variable"], v["variable"])} if isinstance(v, dict) else new.get(v, v)

    for key in ("covariates", "categorical", "nonnormal", "subgroups"):
        cfg[key] = [ren(v) for v in cfg.get(key, [])]
    cfg["matching"]["on"] = [ren(v) for v in cfg["matching"]["on"]]
    if "cox" in cfg:
        cfg["cox"]["variables"] = [ren(v) for v in cfg["cox"]["variables"]]
    return df.rename(columns=new), cfg


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_user_columns_with_internal_names_give_the_same_results_as_renamed(dataset):
    """A covariate called weight (etc.) is analysed as that covariate: renaming every such column
    changes nothing but the names in the results (issue 10 A3: HR 0.115 instead of 0.997)."""
    df, cfg = DATASETS[dataset]()
    names = [c for c in CLASHING if c in df.columns]
    a = analyze(load_analysis_config(cfg), df).to_json()
    df2, cfg2 = _renamed(df, cfg, names)
    b = analyze(load_analysis_config(cfg2), df2).to_json()
    for c in names:
        b = b.replace(f"zz{c}", c)
    assert json.loads(a) == json.loads(b)


def test_covariate_called_weight_is_the_covariate_not_the_matching_weight():
    df, cfg = _veteran()
    res = analyze(load_analysis_config(cfg), df)
    t1 = res.table1_before.set_index("variable")
    assert "weight" in t1.index and ".hcc_weight" not in t1.index
    bal = res.balance.set_index("term")
    w = res.data["weight"].to_numpy()
    t = res.data[".hcc_treated"].to_numpy()
    assert bal.loc["weight", "mean_treated_before"] == pytest.approx(w[t].mean())
    uni = res.endpoints["os"].samples["full"].univariable.set_index("term")
    assert uni.loc["weight", "n"] == len(res.data)  # fitted on body weight (all rows), not on the 0/1 matching weights


def test_table_columns_with_the_reserved_prefix_are_refused(tmp_path):
    df, cfg = _veteran()
    df = df.assign(**{".hcc_weight": 1.0})
    with pytest.raises(ConfigError, match=r"data: column\(s\) \['.hcc_weight'\] start with '.hcc_'"):
        analyze(load_analysis_config(cfg), df)


# ------------------------------------------------------------------------------- through the report
REPORT_PATHS = {  # settings combined to keep the suite fast: each one is a path through the report
    "no_caliper_no_cox_no_subgroups": {"matching": {"caliper": None}, "cox": {"variables": []}, "subgroups": []},
    "ratio_2_discard_both": {"matching": {"ratio": 2, "discard": "both"}},
    "replace": {"matching": {"replace": True, "caliper": None}},
    "no_endpoints": {"endpoints": [], "cox": {"variables": []}, "subgroups": []},
    "no_matching": {"matching": None},
}


@pytest.mark.parametrize("path", list(REPORT_PATHS))
def test_every_optional_path_writes_the_report(tmp_path, path):
    df, base = _veteran()
    cfg = _config(base, REPORT_PATHS[path])
    res = analyze(load_analysis_config(cfg), df)
    build_report(res, tmp_path, formats=("png",))
    for name in ("report.html", "results.json", "tables.xlsx", "tables.docx", "manifest.json",
                 "analysis_table.parquet", "table1_before.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    html = (tmp_path / "report.html").read_text()
    table = pd.read_parquet(tmp_path / "analysis_table.parquet")
    assert {"weight", "distance", "pair"} <= set(table.columns)
    np.testing.assert_array_equal(table["weight"], res.data["weight"])
    m = cfg.get("matching")
    if m is not None:
        assert {".hcc_weight", ".hcc_distance", ".hcc_pair", ".hcc_match_status"} <= set(table.columns)
        assert (tmp_path / "balance.csv").exists() and (tmp_path / "pairs.csv").exists()
        assert ("no caliper" in html) == (m.get("caliper") is None)
        assert ("with replacement" in html) == bool(m.get("replace"))
        if m.get("discard"):
            assert "discarded (both)" in html and res.sample_sizes.set_index("sample").loc["discarded"].sum() > 0
    if res.skipped:
        assert "Not estimated" in html
        for s in res.skipped:
            assert s["reason"].split(":")[0] in html
    if cfg.get("endpoints"):
        assert (tmp_path / "figures" / "km_os_full.png").exists()


def test_analyze_cli_without_a_caliper_writes_the_full_report(tmp_path):
    """The reported crash: no caliper -> TypeError formatting caliper_width, nothing written."""
    df, cfg = _lalonde()
    df.to_csv(tmp_path / "lalonde.csv", index=False)
    cfg = _config(cfg, {"matching": {"caliper": None}})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = runner.invoke(app, ["analyze", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "out" / "results.json").read_text())
    assert d["propensity"]["caliper_width"] is None and d["matching"]["n_pairs"] == 185
    figs = {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    assert {f"love_plot.{e}" for e in ("png", "svg", "pdf", "tiff")} <= figs
    assert "no caliper" in (tmp_path / "out" / "report.html").read_text()


# ------------------------------------------------------------------------------- nothing to compare
def _vet_small(rows_per_arm: int) -> pd.DataFrame:
    v = pd.read_csv(SHARED / "veteran.csv")
    return pd.concat([v[v["trt"] == 1].head(rows_per_arm), v[v["trt"] == 2].head(rows_per_arm)])


def _base_cfg(**change) -> dict:
    cfg = {"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
           "covariates": ["karno", "age"], "matching": {"on": ["karno", "age"], "caliper": 0.2},
           "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days"}],
           "cox": {"variables": ["trt", "karno"]}}
    return _config(cfg, change)


V = pd.read_csv(SHARED / "veteran.csv")


@pytest.mark.parametrize(("df", "change", "message"), [
    (V.head(0), {}, "nothing to analyse"),
    (V[V["trt"] == 1], {}, "arm.treated: cannot compare the arms: all 69 patient(s) are in arm 1; no patient has 'trt' = 2"),
    (V.head(1), {}, "cannot compare the arms: all 1 patient(s) are in arm 1"),
    (V.assign(karno=np.where(V["trt"] == 2, np.nan, V["karno"])), {},
     "arm: cannot compare the arms: arm '2' has no patients after excluding 68 patient(s) with a missing value"),
    (V.assign(time=np.where(V.index == 3, np.inf, V["time"])), {},
     "endpoints.os.time: column 'time' has infinite times (1 row(s), rowid [4])"),
    (_vet_small(2), {"covariates": ["karno", "age", "diagtime", "prior"],
                     "matching": {"on": ["karno", "age", "diagtime", "prior"]}},
     "matching.on: the propensity score cannot be estimated: 5 coefficients"),
    (V, {"covariates": ["karno", "diagtime", "age", "prior", "celltype"], "categorical": ["celltype"],
         "matching": {"on": ["karno", "diagtime", "age", "prior", "celltype"], "caliper": 1e-12}},
     "matching.caliper: no treated unit has a control within the caliper (width 1.27e-13"),
    (V, {"covariates": ["karno", "rowid"], "categorical": ["rowid"]}, "covariates: 'rowid' is the id column"),
])
def test_data_that_cannot_be_compared_are_a_clear_exit_2(tmp_path, df, change, message):
    cfg = _base_cfg(**change)
    with pytest.raises(ConfigError) as exc:
        analyze(load_analysis_config(cfg), df.reset_index(drop=True))
    assert message in str(exc.value)
    df.to_csv(tmp_path / "v.csv", index=False)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = runner.invoke(app, ["analyze", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and message in " ".join(r.output.split())  # rich wraps long lines
    assert not (tmp_path / "out").exists()


def test_a_tiny_caliper_matching_only_exact_ties_still_reports(tmp_path):
    """caliper 1e-12 keeps only controls with the very same score: few pairs, levels missing after
    matching in Table 1 (was a length mismatch while writing the report)."""
    cfg = load_analysis_config(_base_cfg(covariates=["karno", "age", "celltype"], categorical=["celltype"],
                                         matching={"caliper": 1e-12}, endpoints=[], cox={"variables": []}))
    first = analyze(cfg, V)
    unmatched = first.data.loc[first.data[".hcc_weight"] == 0, "rowid"].head(2)
    res = analyze(cfg, V.assign(celltype=np.where(V["rowid"].isin(unmatched), "rare", V["celltype"])))
    p = res.matching.pairs
    assert 0 < res.matching.n_pairs < 30
    assert ((p["distance_treated"] - p["distance_control"]).abs() <= res.matching.caliper_width).all()
    assert len(res.table1_after) < len(res.table1_before)  # a celltype level has no matched patient
    build_report(res, tmp_path, formats=("png",))
    assert "(after)" in (tmp_path / "report.html").read_text()


def test_an_aliased_propensity_term_is_na_as_in_r():
    """A constant (or collinear) matching variable: R's glm gives it an NA coefficient and fits the
    rest (MatchIt proceeds); so do we, with a warning naming it."""
    res = analyze(load_analysis_config(_base_cfg(matching={"on": ["karno", "prior", "age"]})), V.assign(prior=0))
    coef = json.loads(res.to_json())["propensity"]["coefficients"]
    assert coef["prior"] is None and coef["karno"] is not None and coef["age"] is not None
    assert any("not defined because of singularities" in w and "prior" in w for w in res.warnings)
    ref = analyze(load_analysis_config(_base_cfg(matching={"on": ["karno", "age"]})), V)
    np.testing.assert_allclose(res.propensity.fitted, ref.propensity.fitted, rtol=1e-12)


def test_no_arm_left_is_an_analysis_error():
    with pytest.raises(AnalysisError):
        analyze(load_analysis_config(_base_cfg()), V[V["trt"] == 2])


def test_two_patients_per_arm_still_analyse():
    res = analyze(load_analysis_config(_base_cfg(covariates=["karno"], matching={"on": ["karno"], "caliper": None})),
                  _vet_small(2).reset_index(drop=True))
    assert res.matching.n_pairs == 2 and json.loads(res.to_json())["endpoints"]["os"]["matched"]["n"] == 4


def test_an_endpoint_without_events_is_reported_as_skipped_with_the_rest():
    res = analyze(load_analysis_config(_base_cfg()), V.assign(status=0))
    d = json.loads(res.to_json())
    full = d["endpoints"]["os"]["full"]
    assert full["events"] == 0 and full["km"]["1"]["n"] == 69          # KM and follow-up still reported
    assert full["logrank"]["p"] is None and full["cox_arm"] is None
    assert {s["part"] for s in d["skipped"]} == {
        "endpoint os (full sample): log-rank test, Cox models, proportional-hazards test, subgroups",
        "endpoint os (matched sample): log-rank test, Cox models, proportional-hazards test, subgroups"}
    assert all("no OS events" in s["reason"] for s in d["skipped"])
    assert d["balance"] and d["matching"]["n_pairs"] > 0                 # the rest of the analysis is there


def test_a_cox_variable_that_cannot_be_estimated_is_skipped():
    res = analyze(load_analysis_config(_base_cfg(cox={"variables": ["trt", "prior"]})), V.assign(prior=0))
    parts = [s["part"] for s in res.skipped]
    assert "endpoint os (full sample): univariable Cox for prior" in parts
    assert res.endpoints["os"].samples["full"].cox_arm.hr > 0


def test_matched_outcomes_with_unequal_weights_are_skipped_not_unweighted():
    """1:2 with a caliper leaves sets of unequal size: weights differ, so the matched-sample outcomes
    (which would be unweighted) are skipped with the reason, and balance is weighted."""
    res = analyze(load_analysis_config(_base_cfg(matching={"ratio": 2})), V)
    d = json.loads(res.to_json())
    assert not d["matching"]["weights_uniform"] and d["table1"]["after"] is None
    assert "matched" not in d["endpoints"]["os"]
    assert d["skipped"][0]["part"].startswith("matched sample") and "unequal matching weights" in d["skipped"][0]["reason"]


def _stats_calls():
    from hccstudy.stats.cox import coxph
    from hccstudy.stats.km import kaplan_meier
    from hccstudy.stats.logrank import logrank_test
    from hccstudy.stats.propensity import logistic_irls
    rng = np.random.default_rng(0)
    t = rng.exponential(size=20)
    t_inf = np.where(np.arange(20) == 2, np.inf, t)  # e.g. days / days_per_month with days_per_month 0
    e = rng.random(20) < 0.7
    x = rng.normal(size=20)
    x_inf = np.where(np.arange(20) == 3, np.inf, x)
    y = (np.arange(20) % 2).astype(float)
    return [
        ("logistic, infinite term", lambda: logistic_irls(np.c_[np.ones(20), x_inf], y, ["(Intercept)", "x"]),
         "term(s) ['x'] have missing or infinite values"),
        ("logistic, 2 rows", lambda: logistic_irls(np.c_[np.ones(2), [0.0, 1.0]], np.array([0.0, 1.0]), ["a", "b"]),
         "cannot be estimated from 2 rows"),
        ("Cox, infinite time", lambda: coxph(t_inf, e, x[:, None], ["x"]), "time has 1 missing or infinite value(s)"),
        ("Cox, infinite covariate", lambda: coxph(t, e, x_inf[:, None], ["x"]), "covariate(s) ['x'] have missing or infinite"),
        ("Kaplan-Meier, infinite time", lambda: kaplan_meier(t_inf, e), "time has 1 infinite value(s)"),
        ("log-rank, infinite time", lambda: logrank_test(t_inf, e, x > 0), "time has 1 missing or infinite value(s)"),
    ]


@pytest.mark.parametrize(("name", "call", "message"), _stats_calls(), ids=[c[0] for c in _stats_calls()])
def test_stats_functions_refuse_non_finite_or_inestimable_input_clearly(name, call, message):
    """Infinities that reach the statistics (a config guard missed them) give a ValueError that says
    what is wrong, not NaN results or a LinAlgError."""
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_balance_of_a_term_constant_within_each_arm_is_infinite_not_a_crash():
    """Both arm SDs 0 (2 patients per arm with equal values): R divides by 0 and prints -Inf; we did a
    ZeroDivisionError."""
    from hccstudy.stats.balance import balance_table
    b = balance_table(pd.DataFrame({"x": [70.0, 70.0, 90.0, 90.0]}), np.array([True, True, False, False]),
                      np.ones(4)).iloc[0]
    assert b["smd_before"] == -np.inf and b["smd_after"] == -np.inf


@pytest.mark.parametrize(("classes", "message"), [
    (["C"], "cannot analyse the study: no patient was included: every screened patient failed an eligibility criterion"),
    (["B"], "cannot analyse the study: arm.treated: cannot compare the arms: all 2 patient(s) are in arm 'SI'; "
            "no patient has 'arm' = 'SE'"),
])
def test_run_with_nothing_left_to_compare_explains_and_exits_2(tmp_path, example_copy, classes, message):
    """hccstudy run on the example study when eligibility leaves nobody, or one arm only."""
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump({"eligibility": {"child_pugh_classes": classes}}))
    r = runner.invoke(app, ["run", str(example_copy), "--config", str(cfg), "--out", str(tmp_path / "out"), "--quiet"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and message in " ".join(r.output.split())
    assert not (tmp_path / "out").exists()
