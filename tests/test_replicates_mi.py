"""Multiple imputation -> PS -> matching -> Cox, pooled by Rubin's rules (analysis.resampling.mi_psm), and
the patients the cohort's imputation brings back (cohort.missing_supplement)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest

from hccstudy.analysis import load_analysis_config
from hccstudy.analysis import resampling as RS
from hccstudy.cohort.eligibility import ANALYSIS_FIELDS
from hccstudy.cohort.missing_supplement import STEP, flow_with_imputed, imputable_fields, mi_supplement
from hccstudy.stats.pooling import dfcom_cox, rubin_pool

VETERAN = "src/hccstudy/data/veteran/veteran.yaml"


def _spec(m=5, seed=2, iterations=5):
    return NS(imputation=NS(m=m, seed=seed, iterations=iterations), scheduler=None, workers=1, endpoints=None)


@pytest.fixture(scope="module")
def veteran_missing():
    """veteran with karno missing in 12 rows, celltype in 6 (both PS covariates) and prior -- a Table 1
    and PS covariate too -- in 3 others; plus 2 rows missing only diagtime *and* the endpoint time."""
    cfg = load_analysis_config(VETERAN)
    df = pd.read_csv(cfg.data_path)
    rng = np.random.default_rng(4)
    rows = rng.choice(len(df), 23, replace=False)
    df.loc[rows[:12], "karno"] = np.nan
    df.loc[rows[12:18], "celltype"] = np.nan
    df.loc[rows[18:21], "prior"] = np.nan
    df.loc[rows[21:], ["diagtime", "time"]] = np.nan
    return cfg, df, rows


def test_mi_brings_back_the_rows_missing_only_imputed_covariates(veteran_missing):
    cfg, df, rows = veteran_missing
    r = RS.mi_psm(df, cfg, "os", _spec())
    assert RS.mi_columns(cfg) == ["karno", "diagtime", "age", "prior", "celltype"]
    assert r.n_recovered == 21                     # not the two without an endpoint time
    assert r.n_complete == len(df) - 23
    assert r.imputed == {"karno": 12, "prior": 3, "celltype": 6}
    assert r.m == 5 and len(r.per_imputation) == 5
    # the pooled row is Rubin's rules on the per-imputation log HRs and robust variances
    per = r.per_imputation
    rub = rubin_pool(per["log_hr"], per["variance"], df_complete=dfcom_cox(int(per["events"].iloc[0]), 1))
    row = rub.iloc[0]
    assert r.pooled["hr"] == pytest.approx(np.exp(row["estimate"]), rel=1e-12)
    assert (r.pooled["lcl"], r.pooled["ucl"]) == pytest.approx((np.exp(row["lcl"]), np.exp(row["ucl"])), rel=1e-12)
    assert r.pooled["p"] == pytest.approx(row["p.value"], abs=1e-15)
    assert per["log_hr"].std() > 0                 # the imputations differ
    assert "5 imputations" in r.pooled["note"] and "21 patients brought back" in r.pooled["note"]


def test_mi_is_seeded_and_repeatable(veteran_missing):
    cfg, df, _ = veteran_missing
    a = RS.mi_psm(df, cfg, "os", _spec())
    b = RS.mi_psm(df, cfg, "os", _spec())
    c = RS.mi_psm(df, cfg, "os", _spec(seed=3))
    assert a.per_imputation["log_hr"].to_numpy().tobytes() == b.per_imputation["log_hr"].to_numpy().tobytes()
    assert not np.array_equal(a.per_imputation["log_hr"], c.per_imputation["log_hr"])
    # imputation i depends on its own seed only: the first 3 of m = 5 are the sets of m = 3
    d = RS.mi_psm(df, cfg, "os", _spec(m=3))
    assert np.array_equal(d.per_imputation["log_hr"], a.per_imputation["log_hr"][:3])


def test_mi_without_missing_values_is_the_complete_case_analysis():
    cfg = load_analysis_config(VETERAN)
    df = pd.read_csv(cfg.data_path)
    r = RS.mi_psm(df, cfg, "os", _spec())
    assert r.m == 0 and r.n_recovered == 0 and r.rubin is None
    assert "nothing to impute" in r.pooled["note"]
    from hccstudy.analysis import analyze

    rob = analyze(cfg, df).endpoints["os"].samples["matched"].cox_arm_robust
    assert (r.pooled["hr"], r.pooled["lcl"], r.pooled["ucl"]) == pytest.approx((rob.hr, rob.lcl, rob.ucl), rel=1e-10)


def test_nelson_aalen_by_hand():
    t = np.array([2.0, 1, 3, 2, 5])
    e = np.array([1, 1, 0, 0, 1])
    # times 1, 2, 3, 5 with 5, 4, 2, 1 at risk and 1, 1, 0, 1 events
    H = np.cumsum([1 / 5, 1 / 4, 0, 1 / 1])
    assert RS.nelson_aalen(t, e) == pytest.approx([H[1], H[0], H[2], H[1], H[3]])


def _patients() -> pd.DataFrame:
    """Six screened patients: complete and included; missing afp only; missing mvi and failing ECOG too;
    missing the follow-up date; missing afp and albumin (Child-Pugh decided); missing height only."""
    n = 6
    p = pd.DataFrame({f: np.ones(n) for f in ANALYSIS_FIELDS})
    p["afp"] = [10.0, np.nan, 5, 5, np.nan, 5]
    p["mvi"] = [1.0, 1, np.nan, 1, 1, 1]
    p["last_followup_date"] = [1.0, 1, 1, np.nan, 1, 1]
    p["albumin"] = [1.0, 1, 1, 1, np.nan, 1]
    p["height_cm"] = [1.0, 1, 1, 1, 1, np.nan]
    p["afp_gt_400"] = pd.array([False] * n, dtype="boolean")      # the derivation's NaN > 400 -> False
    p["tumour_number"] = 1.0
    p["multiple_tumours"] = pd.array([False] * n, dtype="boolean")
    p["fails_complete_data"] = [False, True, True, True, True, True]
    p["fails_ecog_0_1"] = [False, False, True, False, False, False]
    p["missing_fields"] = ""
    p["exclusion_reason"] = [None, "complete_data", "complete_data", "complete_data", "complete_data", "complete_data"]
    p["included"] = [True, False, False, False, False, False]
    p["pid"] = np.arange(n)
    return p


def test_supplement_takes_only_patients_whose_gap_the_imputation_fills():
    cols = ["age", "mvi", "afp_gt_400", "child_pugh_b", "multiple_tumours"]
    assert {"afp", "mvi", "bilirubin", "albumin", "tumour_number"} <= imputable_fields(cols)
    assert "last_followup_date" not in imputable_fields(cols) and "height_cm" not in imputable_fields(cols)
    s = mi_supplement(_patients(), cols)
    assert s["pid"].tolist() == [1, 4]            # afp only; afp + albumin (Child-Pugh decided)
    assert s["afp_gt_400"].isna().all()           # set missing where afp is, to be imputed
    assert not any(c.startswith("fails_") for c in s.columns) and "included" not in s.columns
    # without the afp covariate in the plan: patient 1's gap is not the analysis' concern
    assert mi_supplement(_patients(), ["age", "mvi"]).empty


def test_flow_row_after_the_arms_before_the_centres():
    flow = pd.DataFrame({"step": ["screened", "excluded", "included", "arm", "arm", "centre_screened"],
                         "criterion": ["", "complete_data", "", "SE", "SI", "a"],
                         "label": ["Screened", "x", "Included", "Arm SE", "Arm SI", "a"], "n": [10, 3, 7, 3, 4, 10]})
    out = flow_with_imputed(flow, 2)
    assert out["step"].tolist() == ["screened", "excluded", "included", "arm", "arm", STEP, "centre_screened"]
    assert out.loc[out["step"] == STEP, "n"].item() == 2
    assert flow_with_imputed(out, 5)["step"].tolist().count(STEP) == 1    # replaced, not repeated
    assert flow_with_imputed(flow.iloc[:5], 1)["step"].iloc[-1] == STEP
