"""Replay one R ``coxph`` case of tests/reference/cox_weighted.json / cox_counting.json (written by
tests/reference/cox_case.R: the data, the arguments and R's results) with hccstudy's coxph and compare
to 1e-6 (relative for estimates and statistics, absolute for P values)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hccstudy.stats.cox import CoxFit, coxph

REF = Path(__file__).parent / "reference"
REL = 1e-6


def load_cases(name: str) -> dict:
    return json.loads((REF / name).read_text())["cases"]


def _list(v) -> list:
    return [] if v is None else [v] if not isinstance(v, list) else v


def fit_case(case: dict, **extra) -> CoxFit:
    d = {k: np.asarray(v, dtype=float) for k, v in case["data"].items()}
    col = lambda key: None if case[key] is None else d[case[key]]  # noqa: E731
    x = _list(case["x"])
    return coxph(d[case["time"]], d[case["event"]] == 1, np.column_stack([d[v] for v in x]), x,
                 start=col("start"), weights=col("weights"), strata=col("strata"), cluster=col("cluster"),
                 ties=case["ties"], robust=case["robust"], **extra)


def check_case(fit: CoxFit, r: dict) -> None:
    a = lambda v: np.atleast_1d(np.asarray(v, dtype=float))  # noqa: E731
    np.testing.assert_allclose(fit.coefficients, a(r["coef"]), rtol=REL)
    np.testing.assert_allclose(fit.se, a(r["se"]), rtol=REL)
    assert (fit.robust_var is not None) == ("robust_se" in r)
    if "robust_se" in r:
        np.testing.assert_allclose(np.sqrt(np.diag(fit.robust_var)), a(r["robust_se"]), rtol=REL)
        assert fit.robust_score == pytest.approx(r["rscore"], rel=REL)
    np.testing.assert_allclose(fit.loglik, a(r["loglik"]), rtol=REL)
    assert (fit.n, fit.n_events) == (r["n"], r["nevent"])
    assert fit.iterations == r["iter"]
    # LR = 2 (loglik1 - loglik0) is a difference of two numbers of size |loglik|: its rounding error is
    # ~ eps |loglik| in R as here (an arm with a null effect, e.g. veteran's randomised trt under ATE
    # weights, gives LR ~ 3e-8, known to only ~1e-5 relative in either program).  Relative 1e-6, or
    # absolute 1e-12 |loglik| (~ 4500 ulps of the logliks, which are checked to 1e-6 relative above).
    assert fit.lr_test[0] == pytest.approx(r["lr"], rel=REL, abs=1e-12 * abs(fit.loglik[0]))
    assert fit.wald_test[0] == pytest.approx(r["wald"], rel=REL)
    assert fit.score_test == pytest.approx(r["score"], rel=REL)
    assert fit.lr_test[2] == pytest.approx(r["lr_p"], abs=1e-6)
    assert fit.wald_test[2] == pytest.approx(r["wald_p"], abs=1e-6)
    assert fit.logrank_score_test[2] == pytest.approx(r["score_p"], abs=1e-6)
    tb = fit.table  # summary.coxph: z, P and the CI from the robust SE when robust
    np.testing.assert_allclose(tb["z"], a(r["z"]), rtol=REL)
    np.testing.assert_allclose(tb["p"], a(r["p"]), atol=1e-6)
    np.testing.assert_allclose(tb["lcl"], a(r["lcl"]), rtol=REL)
    np.testing.assert_allclose(tb["ucl"], a(r["ucl"]), rtol=REL)
