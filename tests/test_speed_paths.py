"""The vectorised paths of issue 13 give exactly what the simple per-row / per-stratum code gave:
results.json text from columns, CSV from columns, the stratified log-rank as grouped sums and Cox fits
sharing one sort of the sample.  Small inputs: fast, and compared to a direct computation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hccstudy.analysis.csvtext import csv_text, write_csv
from hccstudy.analysis.jsontext import Placeholders, column_values, frame_text, list_text, rows_text
from hccstudy.stats.cox import cox_zph, coxph, risk_sets
from hccstudy.stats.logrank import logrank_test

TRICKY = ["P1", 'q"uote', "com,ma", "new\nline", "é ü", "tab\tx", "", "\u2028", "back\\slash"]


def _dumped(rows, nest: int) -> str:
    """json.dumps(indent=1) of ``rows`` nested ``nest`` dicts deep (what results.json does)."""
    doc = rows
    for k in range(nest):
        doc = {f"k{k}": doc, "after": 1}
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False)


def _filled(render, nest: int) -> str:
    ph = Placeholders()
    doc = ph.mark(render)
    for k in range(nest):
        doc = {f"k{k}": doc, "after": 1}
    return ph.fill(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))


@pytest.mark.parametrize("nest", [0, 1, 2, 3])
def test_rows_text_is_json_dumps(nest):
    ids = TRICKY + [1, 2.5, True, None]
    other = list(range(len(ids)))
    as_lists = [[a, b] for a, b in zip(ids, other, strict=True)]
    assert _filled(lambda d: rows_text([ids, other], d), nest) == _dumped(as_lists, nest)
    as_dicts = [{"id": a, "n": b} for a, b in zip(ids, other, strict=True)]
    assert _filled(lambda d: rows_text([ids, other], d, ("id", "n")), nest) == _dumped(as_dicts, nest)
    assert _filled(lambda d: list_text(ids, d), nest) == _dumped(ids, nest)
    assert _filled(lambda d: rows_text([[], []], d), nest) == _dumped([], nest)
    assert _filled(lambda d: list_text([], d), nest) == _dumped([], nest)


def test_frame_text_cleans_like_the_per_row_records():
    df = pd.DataFrame({"id": pd.Series(["a", None, "c"], dtype=object), "x": [1.5, np.nan, np.inf],
                       "k": [1, 2, 3], "b": [True, False, True],
                       "m": pd.Series([1.0, -np.inf, "s"], dtype=object)})
    expected = [{"id": "a", "x": 1.5, "k": 1, "b": True, "m": 1.0},
                {"id": None, "x": None, "k": 2, "b": False, "m": None},
                {"id": "c", "x": None, "k": 3, "b": True, "m": "s"}]
    assert _filled(lambda d: frame_text(df, d), 1) == _dumped(expected, 1)
    assert column_values(np.array([1, 2], dtype=np.int64)) == [1, 2]


def test_placeholder_order_does_not_matter():
    ph = Placeholders()
    late, early = ph.mark(lambda d: list_text([2], d)), ph.mark(lambda d: list_text([1], d))
    text = ph.fill(json.dumps({"a": early, "b": late}, indent=1))
    assert json.loads(text) == {"a": [1], "b": [2]}


def test_csv_from_columns_is_to_csv(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    df = pd.DataFrame({"pair": np.arange(n), "id": pd.Series([f"P{i}" for i in range(n)], dtype="str"),
                       "obj": np.array([f"é{i}" for i in range(n)], dtype=object),
                       "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n) * 10.0 ** rng.integers(-20, 20, n)),
                       "w": np.ones(n), "flag": rng.random(n) < 0.5, "inf": np.r_[np.inf, -np.inf, np.zeros(n - 2)]})
    assert csv_text(df) == df.to_csv(index=False)
    for plain_not in (df.assign(obj="a,b"), df.assign(obj='say "x"'), df[["pair"]],
                      df.assign(x=df["x"].astype("float32")), df.assign(pair=pd.array(range(n), dtype="Int64"))):
        assert csv_text(plain_not) is None
        p = write_csv(plain_not, tmp_path / "t.csv")
        assert p.read_bytes() == plain_not.to_csv(index=False).encode()
    assert write_csv(df, tmp_path / "u.csv").read_bytes() == df.to_csv(index=False).encode()


def _logrank_by_loop(time, event, group, strata, rho=0.0):
    """Reference: survdiff's sums stratum by stratum, time by time (the definition)."""
    levels = sorted(set(group))
    k = len(levels)
    obs, exp_, V = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for s in sorted(set(strata)):
        m = strata == s
        t, e, g = time[m], event[m], np.searchsorted(levels, group[m])
        surv = 1.0
        for u in np.unique(t):
            at = t >= u
            n_g = np.bincount(g[at], minlength=k).astype(float)
            d_g = np.bincount(g[(t == u) & e], minlength=k).astype(float)
            n, d = n_g.sum(), d_g.sum()
            if d == 0:
                continue
            w = surv ** rho
            obs += w * d_g
            exp_ += w * d * n_g / n
            if n > 1:
                p = n_g / n
                V += w**2 * d * (n - d) / (n - 1) * (np.diag(p) - np.outer(p, p))
            surv *= 1 - d / n
    diff = obs - exp_
    return float(diff[:-1] @ np.linalg.pinv(V[:-1, :-1]) @ diff[:-1]), obs, exp_


@pytest.mark.parametrize(("n_strata", "rho", "k"), [(1, 0.0, 2), (40, 0.0, 2), (150, 1.0, 2), (7, 0.5, 3)])
def test_stratified_logrank_matches_the_definition(n_strata, rho, k):
    rng = np.random.default_rng(n_strata)
    n = 600
    time = rng.integers(1, 30, n).astype(float)
    event = rng.random(n) < 0.6
    group = rng.integers(0, k, n)
    strata = rng.integers(0, n_strata, n)
    r = logrank_test(time, event, group, strata=strata, rho=rho)
    chisq, obs, exp_ = _logrank_by_loop(time, event, group, strata, rho)
    assert r.chisq == pytest.approx(chisq, rel=1e-10)
    np.testing.assert_allclose(r.groups["observed"], obs, rtol=1e-12)
    np.testing.assert_allclose(r.groups["expected"], exp_, rtol=1e-12)


def test_logrank_pairs_as_strata_scale_linearly():
    """One stratum per matched pair (the paired log-rank): 20,000 strata must not loop per stratum."""
    rng = np.random.default_rng(1)
    n = 40_000
    time, event = rng.exponential(10, n), rng.random(n) < 0.7
    group, pair = np.tile([0, 1], n // 2), np.repeat(np.arange(n // 2), 2)
    r = logrank_test(time, event, group, strata=pair)
    assert np.isfinite(r.chisq) and r.df == 1


@pytest.mark.parametrize(("strata", "ties"), [(None, "efron"), (None, "breslow"), (50, "efron"), (5, "breslow")])
def test_shared_risk_sets_give_the_same_fit(strata, ties):
    rng = np.random.default_rng(7)
    n = 800
    time = rng.integers(1, 25, n).astype(float)
    event = rng.random(n) < 0.6
    X = np.column_stack([rng.normal(size=n), rng.random(n) < 0.4])
    s = None if strata is None else rng.integers(0, strata, n)
    cluster = rng.integers(0, n // 2, n)
    rs = risk_sets(time, event, s, ties)
    for cols in ([0], [1], [0, 1]):
        alone = coxph(time, event, X[:, cols], strata=s, cluster=cluster, ties=ties)
        shared = coxph(time, event, X[:, cols], strata=s, cluster=cluster, ties=ties, risk_sets=rs)
        assert np.array_equal(alone.coefficients, shared.coefficients)
        assert np.array_equal(alone.var, shared.var) and np.array_equal(alone.robust_var, shared.robust_var)
        assert alone.loglik == shared.loglik and alone.score_test == shared.score_test
        assert cox_zph(alone).table.equals(cox_zph(shared).table)
    with pytest.raises(ValueError, match="risk_sets"):
        coxph(time[:-1], event[:-1], X[:-1], ties=ties, risk_sets=rs)
    with pytest.raises(ValueError, match="risk_sets"):
        coxph(time, event, X, ties="breslow" if ties == "efron" else "efron", risk_sets=rs)


def _efron_by_definition(time, event, X, strata, beta, ties):
    """Log partial likelihood, score and information by a loop over strata and event times: the
    textbook definition (Therneau & Grambsch 2000, sec. 3.3) the grouped sums must reproduce."""
    ll, U, H = 0.0, np.zeros(X.shape[1]), np.zeros((X.shape[1],) * 2)
    w = np.exp(X @ beta)
    for s in np.unique(strata):
        ins = strata == s
        for t in np.unique(time[ins & event]):
            risk = ins & (time >= t)
            tied = ins & (time == t) & event
            d = int(tied.sum())
            for r in range(d):
                f = r / d if ties == "efron" else 0.0
                wr = w * (risk - f * tied)            # Efron: the tied events weigh 1 - r/d
                den = wr.sum()
                a = (wr @ X) / den
                ll -= np.log(den)
                U -= a
                H += (X.T * wr) @ X / den - np.outer(a, a)
            ll += (X[tied] @ beta).sum()
            U += X[tied].sum(axis=0)
    return ll, U, H


@pytest.mark.parametrize(("n_strata", "ties"), [(1, "efron"), (1, "breslow"), (4, "efron"), (60, "efron"),
                                                (3, "breslow")])
def test_grouped_cox_sums_equal_the_definition(n_strata, ties):
    """The per-cell (stratum, time, event) sums of the Cox likelihood equal the per-time loop, with
    heavy ties (most events tied, whole risk sets tied at the last time) and strata of one row."""
    from hccstudy.stats.cox import _loglik, _prepare

    rng = np.random.default_rng(11 + n_strata)
    n = 300
    time = rng.integers(1, 12, n).astype(float)
    event = rng.random(n) < 0.75
    X = np.column_stack([rng.normal(size=n), rng.random(n) < 0.3, rng.integers(0, 4, n)]).astype(float)
    strata = rng.integers(0, n_strata, n)
    prep = _prepare(time, event, X, strata, ties)
    beta = np.array([0.4, -0.7, 0.2])
    ll, U, H, _ = _loglik(beta, prep)
    Xc = X - X.mean(axis=0)   # the fit centres X: the likelihood's X beta terms shift, not U or H
    ll0, U0, H0 = _efron_by_definition(time, event, Xc, strata, beta, ties)
    assert ll == pytest.approx(ll0, rel=1e-12)
    np.testing.assert_allclose(U, U0, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(H, H0, rtol=1e-10, atol=1e-10)
