"""The generic analysis (``hccstudy analyze``): R parity through the whole entry point, the
results.json contract, bad configs and data, determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import hccstudy
from hccstudy._yaml import load_yaml
from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.cli import app
from hccstudy.cohort.config import ConfigError

REF = Path(__file__).parent / "reference"
SHARED = REF / "shared"
runner = CliRunner()
REL = 1e-6


def _ref(name):
    result = {"lalonde": "lalonde.matchit.json", "veteran": "veteran.matchit_survival.json"}[name]
    return json.loads((SHARED / result).read_text())


@pytest.fixture(scope="module", params=["lalonde", "veteran"])
def case(request):
    name = request.param
    return name, analyze(REF / f"{name}.yaml"), _ref(name)


def test_pairs_coefficients_and_smds_match_matchit(case):
    name, res, ref = case
    d = res.to_dict()
    assert d["matching"]["n_pairs"] == ref["n_pairs"]
    assert {tuple(map(str, p)) for p in d["matching"]["pairs"]} == {tuple(map(str, p)) for p in ref["pairs"]}
    coef = d["propensity"]["coefficients"]
    for k, v in ref["ps_coef"].items():
        assert coef[k] == pytest.approx(v, rel=REL)
    bal = {r["term"]: r for r in d["balance"]}
    for key in ("smd_before", "smd_after"):
        for term, v in ref[key].items():
            assert bal[term][key] == pytest.approx(v, rel=REL, abs=1e-12), (term, key)


def test_table1_p_values_match_r(case):
    name, res, ref = case
    rows = res.table1_before
    first = rows[rows["test"] != ""].drop_duplicates("variable").set_index("variable")
    for var, t in ref["tests"].items():
        r = first.loc[var]
        if t["kind"] == "categorical":
            assert r["test"].startswith("chi-square"), (var, r["test"])
            assert r["p"] == pytest.approx(t["chisq_yates_p"], abs=1e-6)
        elif r["test"].startswith("Wilcoxon"):
            assert r["p"] == pytest.approx(t["wilcox_p"], abs=1e-6)
        else:
            assert r["test"] == "t-test (Student)"
            assert r["p"] == pytest.approx(t["student_p"], abs=1e-6)


def test_results_json_contract(tmp_path):
    r = runner.invoke(app, ["analyze", str(REF / "lalonde.yaml"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "out" / "results.json").read_text())
    assert list(d) == ["cohort", "table1", "propensity", "matching", "balance", "skipped", "warnings"]
    assert d["skipped"] == []
    assert d["cohort"]["n"] == 614 and d["cohort"]["n_by_arm"] == {"NSW": 185, "Control": 429}
    assert d["cohort"]["excluded_missing"] == {"n": 0, "rows": []}
    assert d["propensity"]["caliper_width"] > 0
    assert isinstance(d["matching"]["pairs"][0][0], str) and d["matching"]["pairs"][0][0].startswith("NSW")
    row = d["table1"]["before"][1]
    assert set(row) >= {"variable", "level", "summaries", "test", "p", "smd"}
    assert set(row["summaries"]) == {"overall", "NSW", "Control"}
    b = d["balance"][0]
    assert b["term"] == "distance"
    assert set(b) >= {"smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_mean_before",
                      "ecdf_max_after", "flag"}
    figs = {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    assert {f"{s}.{e}" for s in ("love_plot", "ps_distribution") for e in ("png", "svg", "pdf", "tiff")} == figs
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "tables.xlsx").exists()


def test_results_json_ids_as_written_in_the_data(veteran_analyze):
    assert veteran_analyze.exit_code == 0, veteran_analyze.output
    dv = json.loads((veteran_analyze.out / "results.json").read_text())
    assert isinstance(dv["matching"]["pairs"][0][0], int)  # ids as written in the data


def test_same_input_gives_byte_identical_outputs(veteran_analyze, tmp_path, tree_digest):
    """A fresh run against the session's shared one (tests/conftest.py)."""
    assert veteran_analyze.exit_code == 0, veteran_analyze.output
    assert runner.invoke(app, ["analyze", str(REF / "veteran.yaml"), "--out", str(tmp_path / "b")]).exit_code == 0
    assert tree_digest(veteran_analyze.out) == tree_digest(tmp_path / "b")


def test_column_order_does_not_change_results(tmp_path):
    df = pd.read_csv(SHARED / "veteran.csv")
    df[df.columns[::-1]].to_csv(tmp_path / "rev.csv", index=False)
    cfg = load_yaml((REF / "veteran.yaml").read_text())
    cfg["data"] = str(tmp_path / "rev.csv")
    a = analyze(REF / "veteran.yaml").to_dict()
    b = analyze(cfg).to_dict()
    assert a == b


def _write(tmp_path, df: pd.DataFrame, **overrides) -> Path:
    df.to_csv(tmp_path / "data.csv", index=False)
    cfg = load_yaml((REF / "veteran.yaml").read_text())
    cfg["data"] = "data.csv"
    for k, v in overrides.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


VET = pd.read_csv(SHARED / "veteran.csv")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: ({"covariates": ["karno", "nope"]}, d), "covariates: unknown column(s) ['nope']"),
    (lambda d: ({"arm": {"column": "trt", "treated": 3, "control": 1}}, d), "arm.treated: value 3 not found in column 'trt'"),
    (lambda d: ({}, d.assign(trt=np.where(d.index < 5, 9, d["trt"]))), "arm.column: 'trt' is not binary"),
    (lambda d: ({"categorical": ["celltype"]}, d.assign(celltype="large")), "categorical: 'celltype' has a single level"),
    (lambda d: ({"matching": {"on": ["karno"], "caliper": 1e-9}}, d.assign(karno=np.where(d["trt"] == 2, 90, 30))),
     "matching.caliper: no treated unit has a control within the caliper"),
    (lambda d: ({"matching": {"on": ["karno"], "calipr": 0.1}}, d), "matching.calipr: Extra inputs are not permitted"),
    (lambda d: ({"matching": {"on": ["karno"], "caliper": -1}}, d), "matching.caliper"),
    (lambda d: ({"id": "trt"}, d), "id: column 'trt' must be unique"),
    (lambda d: ({"data": "missing.csv"}, d), "data: file not found"),
])
def test_bad_configs_are_named_errors_with_exit_2(tmp_path, change, message):
    overrides, df = change(VET.copy())
    path = _write(tmp_path, df, **overrides)
    with pytest.raises(ConfigError) as exc:
        analyze(path)
    assert message in str(exc.value)
    r = runner.invoke(app, ["analyze", str(path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert ("config error" in r.output or "cannot analyse" in r.output) and message.split(":")[0] in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_missing_values_are_excluded_counted_and_listed(tmp_path):
    df = VET.copy()
    df.loc[[0, 5], "karno"] = np.nan
    df.loc[7, "celltype"] = np.nan
    res = analyze(_write(tmp_path, df))
    d = res.to_dict()["cohort"]
    assert d["n"] == 134
    assert d["excluded_missing"]["n"] == 3
    assert d["excluded_missing"]["rows"] == [{"rowid": 1, "missing": "karno"}, {"rowid": 6, "missing": "karno"},
                                             {"rowid": 8, "missing": "celltype"}]


def test_yaml_on_key_and_relative_data_path(tmp_path):
    shutil.copy(SHARED / "veteran.csv", tmp_path / "v.csv")
    (tmp_path / "c.yaml").write_text("data: v.csv\nid: rowid\narm: {column: trt, treated: 2, control: 1}\n"
                                     "covariates: [age]\nmatching: {on: [age, karno], caliper: 0.2, std_caliper: yes}\n")
    cfg = load_analysis_config(tmp_path / "c.yaml")
    assert cfg.matching.on == ["age", "karno"] and cfg.matching.std_caliper is True
    assert hccstudy.analyze(cfg).matching.n_pairs > 0


def test_analysis_without_matching_gives_table1_only():
    cfg = load_yaml((REF / "veteran.yaml").read_text())
    cfg.pop("matching")
    res = analyze(load_analysis_config(cfg, base_dir=REF))
    d = res.to_dict()
    assert list(d) == ["cohort", "table1", "endpoints", "skipped", "warnings"] and d["table1"]["after"] is None
    assert list(d["endpoints"]["os"]) == ["time", "event", "unit", "full"]


def test_linear_logit_caliper_and_ratio_two():
    cfg = load_yaml((REF / "lalonde.yaml").read_text())
    cfg["matching"].update(link="linear.logit", caliper=0.2, ratio=2)
    res = analyze(load_analysis_config(cfg, base_dir=REF))
    lp = res.propensity.linear_predictor
    assert res.matching.caliper_width == pytest.approx(0.2 * np.std(lp, ddof=1))
    pairs = res.matching.pairs
    assert (np.abs(pairs["distance_treated"] - pairs["distance_control"]) <= res.matching.caliper_width).all()
    per_t = pairs.groupby("treated").size()
    assert per_t.max() == 2
    # control weights in a 1:2 set are 1/2 before normalisation
    w = res.data[".hcc_weight"].to_numpy()
    t = res.data[".hcc_treated"].to_numpy()
    assert w[t & res.data[".hcc_pair"].notna().to_numpy()].min() == 1.0
    assert w[~t].sum() == pytest.approx((~t & (w > 0)).sum())
