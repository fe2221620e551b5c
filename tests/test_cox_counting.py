"""Counting-process (start, stop] Cox regression against R ``coxph(Surv(tstart, tstop, event) ~ ...)``
(agreg.fit) on survival's heart, cgd, lung with late entry and tmerge'd veteran/lung, and
``split_at`` against ``tmerge`` (fixtures: tests/reference/cox_counting.R); ``landmark``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cox_cases import REF, check_case, fit_case, load_cases
from hccstudy.stats.counting import landmark, split_at
from hccstudy.stats.cox import coxph, risk_sets

CASES = load_cases("cox_counting.json")
SPLITS = json.loads((REF / "cox_counting.json").read_text())["splits"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_counting_process_cox_matches_r(name):
    check_case(fit_case(CASES[name]), CASES[name]["r"])


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_at_is_tmerge(name):
    s = SPLITS[name]
    change = np.array([np.nan if c is None else c for c in s["change"]], dtype=float)
    cd = split_at(s["time"], np.asarray(s["event"]) == 1, change)
    np.testing.assert_array_equal(cd.row + 1, s["id"])     # R's id is the 1-based row
    np.testing.assert_array_equal(cd.tstart, s["tstart"])
    np.testing.assert_array_equal(cd.tstop, s["tstop"])
    np.testing.assert_array_equal(cd.event, np.asarray(s["death"]) == 1)
    np.testing.assert_array_equal(cd.exposed, s["exposed"])


def test_split_at_fit_is_the_r_fit():
    """The time-dependent Cox model fitted on split_at's rows is R's on tmerge's."""
    s, case = SPLITS["veteran_tmerge"], CASES["veteran_tmerge"]
    change = np.array([np.nan if c is None else c for c in s["change"]], dtype=float)
    cd = split_at(s["time"], np.asarray(s["event"]) == 1, change)
    karno = np.asarray(s["covariates"]["karno"])[cd.row]         # baseline covariates carried to every split row
    age = np.asarray(s["covariates"]["age"])[cd.row]
    fit = coxph(cd.tstop, cd.event, np.column_stack([cd.exposed, karno, age]), ["exposed", "karno", "age"],
                start=cd.tstart, cluster=cd.row)
    check_case(fit, case["r"])


def test_split_at_edges_and_errors():
    cd = split_at([10, 10, 10, 10, 5], [1, 0, 1, 1, 1], [np.nan, 0, 10, 4, 4.5])
    assert cd.row.tolist() == [0, 1, 2, 3, 3, 4, 4]
    assert cd.tstart.tolist() == [0, 0, 0, 0, 4, 0, 4.5]
    assert cd.tstop.tolist() == [10, 10, 10, 4, 10, 4.5, 5]
    assert cd.event.tolist() == [True, False, True, False, True, False, True]
    assert cd.exposed.tolist() == [0, 1, 0, 0, 1, 0, 1]
    with pytest.raises(ValueError, match=r"row 1\).*time > 0"):
        split_at([3, 0], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="differ in length"):
        split_at([3, 2], [1, 1], [1])


def test_landmark():
    keep, t, e = landmark([1, 3, 3, 7, 2], [1, 0, 1, 1, 0], 3)
    assert keep.tolist() == [False, False, False, True, False]
    assert t.tolist() == [4.0] and e.tolist() == [True]
    keep, t, e = landmark([1, 3.5, 7], [1, 0, 1], 3)
    assert keep.tolist() == [False, True, True] and t.tolist() == [0.5, 4.0] and e.tolist() == [False, True]
    with pytest.raises(ValueError, match="finite"):
        landmark([1], [1], np.nan)


def test_start_zero_is_the_right_censored_fit():
    rng = np.random.default_rng(5)
    n = 300
    X = rng.normal(size=(n, 2))
    time = np.round(rng.exponential(1, n), 1) + 0.1
    event = rng.random(n) < 0.7
    s = rng.integers(0, 3, n)
    w = rng.uniform(0.5, 2, n)
    for ties in ("efron", "breslow"):
        a = coxph(time, event, X, strata=s, weights=w, cluster=s, ties=ties)
        b = coxph(time, event, X, strata=s, weights=w, cluster=s, ties=ties, start=np.zeros(n))
        np.testing.assert_allclose(b.coefficients, a.coefficients, rtol=1e-10)
        np.testing.assert_allclose(b.var, a.var, rtol=1e-9)
        np.testing.assert_allclose(b.robust_var, a.robust_var, rtol=1e-9)
        rs = risk_sets(time, event, s, ties, start=np.zeros(n))
        c = coxph(time, event, X, strata=s, weights=w, cluster=s, ties=ties, start=np.zeros(n), risk_sets=rs)
        np.testing.assert_array_equal(c.coefficients, b.coefficients)
    with pytest.raises(ValueError, match="risk_sets"):
        coxph(time, event, X, start=np.zeros(n), risk_sets=risk_sets(time, event))


def test_counting_input_errors():
    t = np.array([2.0, 3, 4])
    with pytest.raises(ValueError, match=r"1 row\(s\) \(first: row 1\) have start >= stop"):
        coxph(t, [1, 1, 0], [0.0, 1, 2], start=[0, 3, 1])
    with pytest.raises(ValueError, match="needs cluster="):
        coxph(t, [1, 1, 0], [0.0, 1, 2], start=[0, 1, 1], robust=True)
