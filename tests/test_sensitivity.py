"""Sensitivity analyses (issue 14; hccstudy.analysis.sensitivity): the arm HR by every method agrees with
R (tests/reference/sensitivity.R on survival's veteran and lung, each with a made-up site and exposure
start), results.json carries every method and block in the contract's shape, and every method whose
input is absent is skipped with its reason instead of crashing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy._yaml import ConfigError
from hccstudy.analysis import analyze
from hccstudy.analysis.sensitivity import landmark_times, sensitivity_table

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "sensitivity.json").read_text())
METHOD_KEYS = ["hr", "lcl", "ucl", "p", "n", "events", "e_value", "e_value_ci", "note"]


def veteran_table() -> pd.DataFrame:
    df = pd.read_csv(REF / "shared" / "veteran.csv")
    return df.assign(site=np.array(["a", "b", "c"])[df["rowid"] % 3],
                     expo=np.where(df["trt"] == 2, (df["rowid"] % 7) * 15 + 1, (df["rowid"] % 3) * 2 + 0.5))


def lung_table() -> pd.DataFrame:
    df = pd.read_csv(REF / "shared" / "lung.csv")
    df.insert(0, "id", np.arange(1, len(df) + 1))
    return df.assign(site=np.array(["p", "q", "r", "s"])[df["id"] % 4],
                     expo=np.where(df["sex"] == 2, (df["id"] % 5) * 20 + 5, (df["id"] % 4) * 3 + 1))


def veteran_config(**sensitivity) -> dict:
    sens = {"exposure_start": "expo", "centre": "site", "landmarks": [30], "methods": None,
            "weighting": {"estimands": ["ATE"], "stabilize": True},
            "bootstrap": {"replicates": 20}, "imputation": {"m": 2}, "workers": 1,  # small and in-process: fast
            **sensitivity}
    return {"data": "veteran.csv", "id": "rowid",
            "arm": {"column": "trt", "treated": 2, "control": 1, "labels": {2: "Test", 1: "Standard"}},
            "covariates": ["karno", "diagtime", "age", "prior", "celltype"], "categorical": ["celltype"],
            "matching": {"on": ["karno", "diagtime", "age", "prior", "celltype"], "caliper": 0.2},
            "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days", "landmarks": [90, 180, 1200]}],
            "sensitivity": sens}


def lung_config() -> dict:
    covs = ["age", "ph.ecog", "ph.karno", "wt.loss"]
    return {"data": "lung.csv", "id": "id", "arm": {"column": "sex", "treated": 2, "control": 1, "labels": {2: "F", 1: "M"}},
            "covariates": covs, "matching": {"on": covs, "caliper": 0.2},
            "endpoints": [{"name": "os", "time": "time", "event": "status", "event_value": 2, "unit": "days",
                           "landmarks": [180, 365, 730]}],
            "cox": {"arm_reference": "treated"},
            "sensitivity": {"exposure_start": "expo", "centre": "site", "landmarks": [60],
                            "weighting": {"estimands": ["ATE", "ATT", "ATO"], "stabilize": False, "trim": [0.05, 0.95]},
                            "methods": [m for m in ("unadjusted", "multivariable", "psm_robust", "psm_stratified",
                                                    "iptw_ate", "iptw_att", "overlap", "doubly_robust", "landmark",
                                                    "time_dependent", "centre_stratified", "rmst", "centres")]}}


@pytest.fixture(scope="module")
def runs():
    return {"veteran": analyze(veteran_config(methods=[
                "unadjusted", "multivariable", "psm_robust", "psm_stratified", "psm_centre_ps", "iptw_ate",
                "doubly_robust", "landmark", "time_dependent", "centre_stratified", "rmst", "centres"]), veteran_table()),
            "lung": analyze(lung_config(), lung_table())}


def _close(got: float, want: float, what: str) -> None:
    assert got == pytest.approx(want, rel=1e-6, abs=0), what


@pytest.mark.parametrize("name", ["veteran", "lung"])
def test_hazard_ratios_agree_with_r(runs, name):
    """Every R-computable method: the HR, its CI to 1e-6 relative, the P to 1e-6 absolute."""
    ref = R[name]
    got = runs[name].to_dict()["endpoints"]["os"]["sensitivity"]
    methods = [m for m in ("unadjusted", "multivariable", "iptw_ate", "iptw_att", "overlap", "doubly_robust",
                           "time_dependent", "centre_stratified") if m in ref]
    lm = f"landmark_{ref['landmark']['time']:g}"
    for m, want in [(m, ref[m]) for m in methods] + [(lm, ref["landmark"])]:
        for k in ("hr", "lcl", "ucl"):
            _close(got[m][k], want[k], f"{name} {m} {k}")
        assert abs(got[m]["p"] - want["p"]) < 1e-6, f"{name} {m} p"
        if "n" in want:
            assert got[m]["n"] == want["n"], f"{name} {m} n"
    assert set(methods) | {lm} <= set(got)


@pytest.mark.parametrize("name", ["veteran", "lung"])
def test_centres_and_rmst_agree_with_r(runs, name):
    ref = R[name]
    block = runs[name].to_dict()["endpoints"]["os"]
    c, want = block["centres"], ref["centres"]
    assert [r["centre"] for r in c["per_centre"]] == [r["centre"] for r in want["per_centre"]]
    for r, w in zip(c["per_centre"], want["per_centre"], strict=True):
        _close(np.log(r["hr"]), w["log_hr"], f"{name} centre {w['centre']} log HR")
        _close(r["se"], w["se"], f"{name} centre {w['centre']} se")
    for key in ("fixed", "random"):
        _close(c[key]["log_hr"], want[key]["log_hr"], f"{name} {key}")
        _close(c[key]["se"], want[key]["se"], f"{name} {key} se")
    for key in ("q", "i2", "tau2"):
        _close(c[key], want[key], f"{name} {key}")
    _close(c["interaction"]["chisq"], want["interaction"]["chisq"], f"{name} interaction chisq")
    assert c["interaction"]["df"] == want["interaction"]["df"]
    assert abs(c["interaction"]["p"] - want["interaction"]["p"]) < 1e-6
    rm, wr = block["rmst"], ref["rmst"]
    _close(rm["tau"], wr["tau"], "tau")
    a1, a0 = list(rm["arms"])  # the reported arm first (HR's numerator), then the reference
    _close(rm["arms"][a1]["rmst"], wr["rmst_a1"], "rmst a1")
    _close(rm["arms"][a0]["rmst"], wr["rmst_a0"], "rmst a0")
    _close(rm["arms"][a1]["se"], wr["se_a1"], "se a1")
    _close(rm["difference"]["diff"], wr["rmst_a1"] - wr["rmst_a0"], "diff")


def test_time_dependent_without_events_before_exposure():
    """No event before any exposure starts (as in the built-in study, where SE patients are alive when
    their systemic therapy starts): the model reduces to late entry at the exposure start, as R's
    coxph(Surv(tstart, tstop, ev) ~ a, subset = exposed, cluster = id)."""
    df = veteran_table()
    df["expo"] = np.minimum(df["expo"], df["time"] / 2)
    got = analyze(veteran_config(methods=["time_dependent"]), df).to_dict()["endpoints"]["os"]["sensitivity"]
    want = R["veteran_late_entry"]["time_dependent"]
    for k in ("hr", "lcl", "ucl"):
        _close(got["time_dependent"][k], want[k], k)
    assert abs(got["time_dependent"]["p"] - want["p"]) < 1e-6
    assert "late entry" in got["time_dependent"]["note"]


def test_results_json_contract(runs):
    """Each method is exactly {hr, lcl, ucl, p, n, events, e_value, e_value_ci, note}; the matched and
    unadjusted HRs are the main analysis's own; every HR carries its E-value."""
    r = runs["veteran"]
    ep = r.to_dict()["endpoints"]["os"]
    sens = ep["sensitivity"]
    assert list(sens) == ["unadjusted", "multivariable", "psm_robust", "psm_stratified", "psm_centre_ps", "iptw_ate",
                          "doubly_robust", "landmark_30", "time_dependent", "centre_stratified"]
    for m, v in sens.items():
        assert list(v) == METHOD_KEYS, m
        assert v["e_value"] >= 1 and 1 <= v["e_value_ci"] <= v["e_value"], m
        assert v["note"], m
    for k in ("hr", "lcl", "ucl", "p"):
        assert sens["psm_robust"][k] == ep["matched"]["cox_arm_robust"][k]
        assert sens["psm_stratified"][k] == ep["matched"]["cox_arm_stratified"][k]
        assert sens["unadjusted"][k] == ep["full"]["cox_arm"][k]
    assert sens["psm_robust"]["n"] == ep["matched"]["n"]
    assert ep["evalue"]["outcome_common"] is True and ep["evalue"]["transform"].startswith("common outcome")
    assert ep["landmarks"]["landmark_30"]["analysed"] == sens["landmark_30"]["n"]
    assert {"centres", "rmst"} <= set(ep)
    table = sensitivity_table(r.sensitivity)
    assert table["method"].tolist() == list(sens)


def test_weighting_block(runs):
    w = runs["lung"].to_dict()["endpoints"]["os"]["weighting"]
    assert list(w) == ["ATE", "ATT", "ATO"]
    for est, b in w.items():
        assert b["n_trimmed"] > 0 and b["trim"] == [0.05, 0.95]
        assert set(b["ess"]) == {"F", "M"} and all(0 < x <= b["n"][a] for a, x in b["ess"].items()), est
        assert b["balance"][0]["term"] == "distance" and "smd_after" in b["balance"][0]


@pytest.mark.parametrize("name", ["veteran", "lung"])
def test_weighted_km_agrees_with_r(runs, name):
    """The weighted KM per arm of every estimand (weighting.<estimand>.km) is R's survfit(Surv(time, status)
    ~ arm, weights = w): median and CI, survival and CI at the endpoint's landmarks (1e-6 relative; a
    band R leaves NA, where S = 0 beyond the last event, is null).  The variance is the robust one, chosen
    once over both arms' weights: lung's ATT treated arm (weights all 1) alone would get Greenwood."""
    run = runs[name]
    weighting = run.to_dict()["endpoints"]["os"]["weighting"]
    labels = run.labels
    assert set(weighting) == set(R[name]["weighted_km"])
    for est, want in R[name]["weighted_km"].items():
        km = weighting[est]["km"]
        assert km["variance"] == "robust" and km["conf_type"] == "log" and km["conf_level"] == 0.95, est
        assert list(km["arms"]) == [labels["treated"], labels["control"]]
        for arm in ("treated", "control"):
            got, w = km["arms"][labels[arm]], want[arm]
            for k, rk in (("median", "median"), ("median_lcl", "lcl"), ("median_ucl", "ucl")):
                _close(got[k], w[rk], f"{name} {est} {arm} {k}")
            assert [x["time"] for x in got["landmarks"]] == w["time"]
            for k in ("surv", "lower", "upper"):
                for x, y in zip([x[k] for x in got["landmarks"]], w[k], strict=True):
                    assert (x is None) if y is None else x == pytest.approx(y, rel=1e-6, abs=0), f"{name} {est} {arm} {k}"


def test_weighted_km_in_the_report(runs):
    """The weighting section has the weighted KM table of each endpoint (its numbers those of results.json)
    and the IPTW-adjusted (ATE) curves: both arms, reference first, the iptw_ate HR on the plot."""
    import matplotlib.pyplot as plt

    from hccstudy.report.sections import build_sections

    run = runs["lung"]
    sec = next(s for s in build_sections(run) if s.key == "sensitivity_weighting")
    table = next(t for t in sec.tables if t.key == "sensitivity_weighted_km_os")
    km = run.to_dict()["endpoints"]["os"]["weighting"]
    assert table.data["Estimand"].tolist() == ["ATE", "ATE", "ATT", "ATT", "ATO", "ATO"]
    assert table.data["Group"].tolist()[:2] == ["F", "M"]  # cox.arm_reference: treated (F) first
    for row in table.data.to_dict("records"):
        arm = km[row["Estimand"]]["km"]["arms"][row["Group"]]  # lung's display names are its labels
        assert row["Median"] == arm["median"] and row["n"] == arm["n"]
        assert row["Survival at 180 days"] == arm["landmarks"][0]["surv"]
    assert "Survival at 730 days, % (95% CI)" in table.frame.columns
    csv = pd.concat([k.table() for k in run.sensitivity["os"].weighted_km.values()], ignore_index=True)
    assert csv[["estimand", "arm"]].values.tolist() == [[e, a] for e in ("ATE", "ATT", "ATO") for a in ("F", "M")]
    assert csv["surv_180"].tolist() == table.data["Survival at 180 days"].tolist()
    fig_item = next(f for f in sec.figures if f.key == "sensitivity_km_weighted_os")
    assert "weighted" in fig_item.caption and "no numbers at risk" in fig_item.caption
    fig = fig_item.draw()
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and [t.get_text() for t in ax.get_legend().get_texts()] == ["F", "M"]
    est = run.sensitivity["os"].methods["iptw_ate"]
    assert any(t.get_text() == f"IPTW HR {est.hr:.2f} (95% CI {est.lcl:.2f}\u2013{est.ucl:.2f})" for t in ax.texts)
    assert ax.get_xlabel() == "Days"
    plt.close(fig)


def _skips(results) -> dict[str, str]:
    return {s["part"]: s["reason"] for s in results.skipped if " sensitivity" in s["part"]}


def test_absent_inputs_are_skipped_with_reasons():
    """No centre, no exposure start: the methods needing them are skipped with the reason, the rest run."""
    r = analyze(veteran_config(exposure_start=None, centre=None), veteran_table())
    sens = r.to_dict()["endpoints"]["os"]
    skips = _skips(r)
    for m in ("landmark", "time_dependent", "centre_stratified", "psm_centre_ps", "centres"):
        assert f"endpoint os sensitivity: {m}" in skips, m
    assert "sensitivity.centre is null" in skips["endpoint os sensitivity: centres"]
    assert "sensitivity.exposure_start is null" in skips["endpoint os sensitivity: time_dependent"]
    assert {"unadjusted", "psm_robust", "iptw_ate", "doubly_robust"} <= set(sens["sensitivity"])
    assert "centres" not in sens and not any(m.startswith("landmark_") for m in sens["sensitivity"])


def test_centre_with_one_arm_and_late_landmark():
    """A centre where one arm is empty is left out of the per-centre forest (and of the interaction);
    a landmark after every follow-up has no events and is skipped; nothing crashes."""
    df = veteran_table()
    df.loc[df["trt"] == 2, "site"] = np.where(df.loc[df["trt"] == 2, "site"] == "c", "a", df.loc[df["trt"] == 2, "site"])
    r = analyze(veteran_config(methods=["centres", "centre_stratified", "landmark"], landmarks=[30, 5000]), df)
    ep = r.to_dict()["endpoints"]["os"]
    assert ep["centres"]["excluded"] == [{"centre": "c", "reason": "only one treatment group"}]
    assert [c["centre"] for c in ep["centres"]["per_centre"]] == ["a", "b"]
    assert ep["centres"]["interaction"]["centres"] == ["a", "b"] and ep["centres"]["interaction"]["df"] == 1
    skips = _skips(r)
    assert skips["endpoint os sensitivity: centre c"] == "only one treatment group"
    assert skips["endpoint os sensitivity: landmark_5000"] == "at the landmark 5000: no patients"
    assert list(ep["sensitivity"]) == ["landmark_30", "centre_stratified"]


def test_without_matching_the_ps_methods_are_skipped():
    cfg = veteran_config(methods=["unadjusted", "psm_robust", "iptw_ate", "doubly_robust", "bootstrap_psm"])
    del cfg["matching"]
    r = analyze(cfg, veteran_table())
    assert list(r.to_dict()["endpoints"]["os"]["sensitivity"]) == ["unadjusted"]
    skips = _skips(r)
    for m in ("psm_robust", "iptw_ate", "doubly_robust", "bootstrap_psm"):
        assert "no propensity score" in skips[f"endpoint os sensitivity: {m}"], m


def test_no_sensitivity_block():
    """``sensitivity`` absent or null: no sensitivity analyses, no key in results.json."""
    for cfg in (veteran_config(), veteran_config()):
        cfg["sensitivity"] = None
        r = analyze(cfg, veteran_table())
        assert r.sensitivity == {}
        ep = r.to_dict()["endpoints"]["os"]
        assert "sensitivity" not in ep and "centres" not in ep
        assert not _skips(r)
        del cfg["sensitivity"]


def test_covariates_named_weight_and_distance_are_safe(runs):
    """A covariate called ``weight`` or ``distance`` is analysed as the covariate it is."""
    df = veteran_table().rename(columns={"karno": "weight", "age": "distance"})
    cfg = veteran_config(methods=["multivariable", "iptw_ate", "doubly_robust", "psm_robust"])
    for key in ("covariates", ):
        cfg[key] = ["weight" if c == "karno" else "distance" if c == "age" else c for c in cfg[key]]
    cfg["matching"]["on"] = cfg["covariates"]
    got = analyze(cfg, df).to_dict()["endpoints"]["os"]["sensitivity"]
    want = runs["veteran"].to_dict()["endpoints"]["os"]["sensitivity"]
    for m in ("multivariable", "iptw_ate", "doubly_robust", "psm_robust"):
        assert {k: got[m][k] for k in ("hr", "lcl", "ucl", "p", "n")} == {k: want[m][k] for k in ("hr", "lcl", "ucl", "p", "n")}
        assert got[m]["note"] == want[m]["note"].replace("karno", "weight").replace("age", "distance")


@pytest.mark.parametrize(("change", "message"), [
    ({"centre": "hospital"}, "sensitivity.centre: unknown column 'hospital'"),
    ({"exposure_start": "celltype"}, "sensitivity.exposure_start: column 'celltype' is not numeric"),
])
def test_bad_columns_are_config_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        analyze(veteran_config(**change), veteran_table())


def test_landmark_percentile_rounds_up():
    from hccstudy.analysis.config import SensitivitySpec

    spec = SensitivitySpec(exposure_start="x", landmarks=["p95", 2])
    x = np.array([0.5, 1.0, 1.5, 4.11, np.nan, 9.0])
    treated = np.array([True, True, True, True, True, False])
    (t, how), (t2, _) = landmark_times(spec, x, treated)
    assert np.quantile([0.5, 1.0, 1.5, 4.11], 0.95) == pytest.approx(3.7185)  # type 7: 1.5 + 0.85 * (4.11 - 1.5)
    assert t == 3.8 and "3.718" in how and t2 == 2.0


@pytest.mark.parametrize(("change", "key"), [
    ({"methods": ["foo"]}, "sensitivity.methods"),
    ({"endpoints": ["dfs"]}, "sensitivity.endpoints"),
    ({"landmarks": [3, "p9x"]}, "sensitivity.landmarks"),
    ({"landmarks": [3, 3.0]}, "sensitivity.landmarks"),
    ({"centre": "arm"}, "sensitivity.centre"),
    ({"weighting": {"trim": [0.9, 0.1]}}, "sensitivity.weighting.trim"),
    ({"weighting": {"estimands": ["ATE", "ATE"]}}, "sensitivity.weighting.estimands"),
    ({"bootstrap": {"replicates": True}}, "sensitivity.bootstrap.replicates"),
    ({"design_grid": {"ratios": []}}, "sensitivity.design_grid"),
    ({"imputation": {"m": 1}}, "sensitivity.imputation.m"),
])
def test_plan_mistakes_name_the_key(change, key):
    from hccstudy.analysis.config import builtin_plan_mapping, load_plan

    plan = builtin_plan_mapping()
    plan["sensitivity"] = {**plan["sensitivity"], **change}
    with pytest.raises(ConfigError) as exc:
        load_plan(plan)
    assert str(exc.value).startswith(key), str(exc.value)


def test_builtin_study_has_every_method_in_results_report_and_text(builtin_run):
    """The built-in study (sensitivity on by default): every method of the issue in results.json for
    both endpoints, nothing skipped, the report's section and figures, the manuscript sentences."""
    out = builtin_run.out
    d = json.loads((out / "results.json").read_text())
    expected = {"unadjusted", "multivariable", "psm_robust", "psm_stratified", "psm_centre_ps", "iptw_ate",
                "iptw_att", "overlap", "doubly_robust", "landmark_3", "time_dependent", "centre_stratified",
                "mi_psm", "bootstrap_psm"}
    for name in ("os", "pfs"):
        ep = d["endpoints"][name]
        assert expected <= set(ep["sensitivity"]), sorted(expected - set(ep["sensitivity"]))
        assert len([m for m in ep["sensitivity"] if m.startswith("landmark_")]) == 2  # 3 months and p95
        assert {"rmst", "centres", "weighting", "design_grid", "bootstrap", "imputation", "evalue"} <= set(ep)
        assert all("km" in ep["weighting"][est] for est in ("ATE", "ATT", "ATO"))
        assert all(list(v) == METHOD_KEYS for v in ep["sensitivity"].values())
    assert [s for s in d["skipped"] if " sensitivity" in s["part"]] == []
    html = (out / "report.html").read_text()
    assert "Sensitivity analyses" in html and "Immortal time" in html
    for key in ("sensitivity_forest_os", "sensitivity_forest_pfs", "sensitivity_centres_os", "sensitivity_love_weighted",
                "sensitivity_design_grid_os", "sensitivity_km_weighted_os", "sensitivity_km_weighted_pfs"):
        assert (out / "figures" / f"{key}.png").is_file(), key
    assert (out / "sensitivity_weighted_km_os.csv").is_file()
    text = (out / "manuscript.md").read_text()
    assert "Landmark at 3 months: overall survival HR" in text and "E-values (VanderWeele and Ding, 2017)" in text


def test_no_events_and_no_exposure_are_skipped_not_crashed():
    """An endpoint without events, an exposure start never recorded: every method is skipped with its
    reason (the Cox models, the centres, the landmarks, the time-dependent model); nothing crashes."""
    df = veteran_table().assign(status=0, expo=np.nan)
    r = analyze(veteran_config(landmarks=[30, "p95"]), df)
    ep = r.to_dict()["endpoints"]["os"]
    assert ep["sensitivity"] == {}
    skips = _skips(r)
    for m in ("unadjusted", "multivariable", "psm_robust", "iptw_ate", "doubly_robust", "centre_stratified"):
        assert skips[f"endpoint os sensitivity: {m}"] == "no events", m
    assert "no patient of the treated group has an exposure start" in skips["endpoint os sensitivity: landmark"]
    assert skips["endpoint os sensitivity: time_dependent"] == "a treatment group has no exposed follow-up"
    assert [e["reason"] for e in ep["centres"]["excluded"]] == ["no events"] * 3
    assert "centre x treatment interaction" in " ".join(skips)
