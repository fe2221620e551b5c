"""rubin_pool against mice::pool + summary(pool(.), conf.int = TRUE) (pooling.json, made by pooling.R).

lung and pbc (survival): mice's completed data sets are refitted with OUR coxph and pooled, so the test
covers the Cox fits and Rubin's rules with mice's coxph dfcom (events - coefficients).  nhanes (mice): the
per-imputation lm estimates and variances are given, pure Rubin with dfcom = df.residual."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.cox import coxph
from hccstudy.stats.pooling import barnard_rubin, dfcom_cox, rubin_pool

REF = json.loads((Path(__file__).parent / "reference" / "pooling.json").read_text())
COLUMNS = ["estimate", "std.error", "statistic", "df", "lcl", "ucl", "riv", "lambda", "fmi", "ubar", "b", "t"]


def _compare(ours: pd.DataFrame, theirs: dict):
    assert list(ours["term"]) == theirs["term"]
    for col in COLUMNS:
        np.testing.assert_allclose(ours[col].to_numpy(), theirs[col], rtol=1e-6, err_msg=col)
    np.testing.assert_allclose(ours["p.value"].to_numpy(), theirs["p.value"], rtol=0, atol=1e-6)
    assert (ours["dfcom"] == theirs["dfcom"]).all()


def _design(case: str, data: pd.DataFrame) -> np.ndarray:
    if case == "pbc":
        data = data.assign(bili=np.log(data["bili"]))
    return data[REF[case]["covariates"]].to_numpy(dtype=float)


@pytest.mark.parametrize("case", ["lung", "pbc"])
def test_cox_on_mice_imputations_matches_mice_pool(case):
    d = REF[case]
    est, cov = [], []
    for i, s in enumerate(d["sets"]):
        data = pd.DataFrame(s)
        fit = coxph(data["time"], data["status"], _design(case, data))
        np.testing.assert_allclose(fit.coefficients, d["estimates"][i], rtol=1e-6)  # locate a failure
        est.append(fit.coefficients)
        cov.append(fit.var)
    assert fit.n_events == d["nevent"]
    pooled = rubin_pool(np.array(est), np.array(cov), dfcom_cox(fit.n_events, len(fit.coefficients)),
                        names=d["pooled"]["term"])
    _compare(pooled, d["pooled"])
    hr = rubin_pool(np.array(est), np.array(cov), dfcom_cox(fit.n_events, len(fit.coefficients)), exponentiate=True)
    for col in ("estimate", "std.error", "lcl", "ucl"):
        np.testing.assert_allclose(hr[col].to_numpy(), d["pooled"]["exponentiated"][col], rtol=1e-6, err_msg=col)


def test_given_estimates_and_variances_nhanes_lm():
    d = REF["nhanes_lm"]
    pooled = rubin_pool(d["estimates"], d["variances"], d["df_residual"], names=d["pooled"]["term"])
    _compare(pooled, d["pooled"])


def test_one_parameter_infinite_dfcom_and_floor():
    # identical estimates: b = 0, lambda floored at 1e-4 -> df = (m - 1) / 1e-8 with infinite dfcom
    res = rubin_pool([0.3, 0.3, 0.3], [0.04, 0.05, 0.06])
    assert res["b"].iloc[0] == 0 and res["t"].iloc[0] == pytest.approx(0.05)
    assert res["df"].iloc[0] == pytest.approx(2 / 1e-8)
    assert np.isinf(res["dfcom"].iloc[0])
    assert barnard_rubin(3, [0.0], [0.05], 10.0)[0] < 10  # dfcom caps the df


def test_bad_shapes():
    with pytest.raises(ValueError, match="at least 2 imputations"):
        rubin_pool([[0.1, 0.2]], [[0.01, 0.01]])
    with pytest.raises(ValueError, match="variances must be 2 x 2"):
        rubin_pool([[0.1, 0.2], [0.1, 0.3]], [0.01, 0.01])
