"""subgroup_analysis shares sorts and works on slim frames: its numbers must equal fitting every model on
its own (the pre-sharing definition), including subgroups with missing values and three levels."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from hccstudy.stats.subgroup import fit_cox, subgroup_analysis, subgroup_levels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 600
    d = pd.DataFrame({"t": np.round(rng.exponential(20, n), 1), "e": rng.random(n) < 0.7,
                      "arm": (rng.random(n) < 0.45).astype(int), "age": rng.normal(60, 10, n).round(),
                      "stage": rng.choice(["A", "B", "C"], n), "flag": pd.array(rng.random(n) < 0.4, dtype="boolean"),
                      "_sub": 1.0})  # a user column with the internal name: never overwritten
    d.loc[rng.random(n) < 0.1, "flag"] = pd.NA
    d.loc[rng.random(n) < 0.05, "stage"] = None
    return d


def _separately(data, spec):
    """The P for interaction by fitting base and full models on their own (no shared risk sets)."""
    var, level = subgroup_levels(data, spec)
    d = data.assign(__s=level).dropna(subset=["__s"]).copy()
    levels = sorted(d["__s"].unique().tolist())
    base = fit_cox(d, "t", "e", ["arm", "__s"], ["__s"])
    cols = []
    for lev in levels[1:]:
        d[f"__i{lev}"] = d["arm"] * (d["__s"] == lev).astype(float)
        cols.append(f"__i{lev}")
    full = fit_cox(d, "t", "e", ["arm", "__s", *cols], ["__s"])
    if len(levels) == 2:
        return float(full.fit.table.set_index("term").loc[cols[0], "p"])
    return float(chi2.sf(2 * (full.fit.loglik[1] - base.fit.loglik[1]), len(cols)))


@pytest.mark.parametrize("spec", ["stage", "flag", {"variable": "age", "cut": 60}])
def test_interaction_p_equals_separate_fits(data, spec):
    before = data.copy()
    rows = subgroup_analysis(data, "t", "e", "arm", [spec])
    pd.testing.assert_frame_equal(data, before)  # the input is not modified
    assert len({r["p_interaction"] for r in rows}) == 1
    assert rows[0]["p_interaction"] == _separately(data, spec)
    var, level = subgroup_levels(data, spec)
    for r in rows:  # each level's HR is the fit on that level alone
        sub = data[(level == r["level"]).to_numpy()]
        m = fit_cox(sub, "t", "e", ["arm"])
        assert r["hr"] == float(m.fit.table["hr"].iloc[0])
        assert r["n_treated"] == int(sub["arm"].sum())
        assert r["events_control"] == int(sub.loc[sub["arm"] == 0, "e"].sum())


def test_levels_are_str_of_each_value():
    s = pd.DataFrame({"b": pd.array([True, None, False], dtype="boolean"), "f": [1.0, np.nan, 2.5],
                      "o": ["x", None, "y"]})
    assert subgroup_levels(s, "b")[1].tolist() == ["True", None, "False"]
    assert subgroup_levels(s, "f")[1].tolist() == ["1.0", None, "2.5"]
    assert subgroup_levels(s, "o")[1].tolist() == ["x", None, "y"]


def test_ties_reach_every_fit(data):
    """``ties``: the per-level HRs, the interaction P and the univariable / multivariable tables all use
    the tie method asked for (Breslow differs from Efron on these heavily tied times)."""
    from hccstudy.stats.subgroup import univariable_then_multivariable

    rows = {t: subgroup_analysis(data, "t", "e", "arm", ["stage"], ties=t) for t in ("efron", "breslow")}
    for r in rows["breslow"]:
        sub = data[data["stage"] == r["level"]]
        hr = float(fit_cox(sub, "t", "e", ["arm"], ties="breslow").fit.table.iloc[0]["hr"])
        assert r["hr"] == pytest.approx(hr, rel=1e-12)
    assert rows["breslow"][0]["hr"] != pytest.approx(rows["efron"][0]["hr"], rel=1e-6)
    d = data.dropna(subset=["stage"])
    uni, multi, sel = univariable_then_multivariable(d, "t", "e", ["arm", "age"], select_p=1.0, ties="breslow")
    want = fit_cox(d, "t", "e", ["arm", "age"], ties="breslow").fit.table.set_index("term")["hr"]
    assert sel == ["arm", "age"]
    assert {r["term"]: r["hr"] for r in multi} == pytest.approx(want.to_dict(), rel=1e-12)
    want_uni = float(fit_cox(d, "t", "e", ["age"], ties="breslow").fit.table.iloc[0]["hr"])
    assert [r["hr"] for r in uni if r["variable"] == "age"][0] == pytest.approx(want_uni, rel=1e-12)
