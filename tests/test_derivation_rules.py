"""Derivation rules of docs/spec/derivation-rules.md (issue 17): endpoints without follow-up, missing
inputs that cannot matter, units at the edges, the baseline grade of an abnormal baseline lab, and
mRECIST target lesions under 10 mm."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import hccstudy
from hccstudy.clinical import (
    assess_responses,
    bclc_stage,
    child_pugh,
    grade_lab,
    lab_toxicity,
    target_response,
)
from hccstudy.clinical.mrecist import MrecistOptions
from hccstudy.cohort.config import Endpoints
from hccstudy.cohort.endpoints import derive_endpoints
from hccstudy.config import load_config
from hccstudy.schema import StudyInputError
from hccstudy.schema.units import to_canonical

ORIGIN = pd.Timestamp("2020-01-01")
DPM = 30.4375


# ---------------------------------------------------------------- 1. OS without a last follow-up date
def _endpoints(death, followup, cutoff=None, **opts):
    p = pd.DataFrame({
        "first_haic_date": pd.to_datetime([ORIGIN] * len(death)),
        "death_date": pd.to_datetime(death), "last_followup_date": pd.to_datetime(followup),
        "progression_date": pd.to_datetime([None] * len(death)),
    })
    none = pd.Series(pd.to_datetime([None] * len(death)), index=p.index)
    return derive_endpoints(p, none, none, Endpoints(**opts), cutoff)


def test_alive_without_followup_has_missing_os_not_a_sentinel_time():
    ep = _endpoints([None, "2020-07-01", None], [None, None, "2021-01-01"])
    assert np.isnan(ep.loc[0, "os_months"]) and pd.isna(ep.loc[0, "os_event"])
    # a death date gives OS whatever the follow-up date
    assert ep.loc[1, "os_months"] == pytest.approx(182 / DPM) and ep.loc[1, "os_event"] == 1
    assert ep.loc[2, "os_months"] == pytest.approx(366 / DPM) and ep.loc[2, "os_event"] == 0
    # with a cut-off: still missing; a death after the cut-off means alive at the cut-off
    ep = _endpoints([None, "2021-06-01"], [None, None], cutoff=pd.Timestamp("2021-01-01"))
    assert np.isnan(ep.loc[0, "os_months"])
    assert ep.loc[1, "os_months"] == pytest.approx(366 / DPM) and ep.loc[1, "os_event"] == 0
    # PFS censored at last follow-up has no follow-up to censor at either
    ep = _endpoints([None], [None], pfs_censor="last_followup")
    assert np.isnan(ep.loc[0, "pfs_months"]) and pd.isna(ep.loc[0, "pfs_event"])


def test_patient_without_followup_never_enters_the_analysis_silently():
    """Example patient A08 (alive, no last follow-up date) is excluded as incomplete by default; with
    complete_data dropped from the criteria it would enter the analysis, so loading is an error that
    names its record."""
    study = hccstudy.load_study(hccstudy.example_study_path())
    a08 = study.patients.set_index("patient_id").loc["A08"]
    assert np.isnan(a08["os_months"]) and a08["exclusion_reason"] == "complete_data"
    order = [c for c in load_config().eligibility.order if c != "complete_data"]
    with pytest.raises(StudyInputError) as exc:
        hccstudy.load_study(hccstudy.example_study_path(), load_config(overrides={"eligibility": {"order": order}}))
    err = exc.value.report.errors
    row = err[err["rule"] == "no_endpoint"]
    assert len(row) >= 1
    hit = row[row["value"] == ""].iloc[0]
    assert hit["column"] == "last_followup_date" and hit["file"] and hit["row"] >= 2
    assert "A08" in set(study.patients.loc[
        (study.patients["source_file"] == hit["file"]) & (study.patients["source_row"] == hit["row"]), "patient_id"])


# ---------------------------------------------------------------- 2. BCLC with a missing MVI value
def test_bclc_ecog_1_is_c_whatever_mvi():
    assert bclc_stage([1], [3.0], [None], [False], [1], ["A"]).iloc[0] == "C"
    assert bclc_stage([1], [3.0], [None], [None], [2], ["B"]).iloc[0] == "C"
    assert pd.isna(bclc_stage([1], [3.0], [None], [False], [0], ["A"]).iloc[0])  # PS 0: MVI decides
    assert bclc_stage([1], [3.0], [None], [None], [3], [None]).iloc[0] == "D"  # PS 3: D whatever else
    assert bclc_stage([5], [np.nan], [False], [False], [0], ["A"]).iloc[0] == "B"  # >= 4 nodules: B


# ---------------------------------------------------------------- 3. mRECIST targets under 10 mm
def _lesions(week, rows):
    d = ORIGIN + pd.Timedelta(weeks=week)
    return [{"patient_id": "p1", "date": d, "lesion_id": lid, "lesion_type": kind, "viable_diameter_mm": dia,
             "non_target_status": status} for lid, kind, dia, status in rows]


def _assess(rows, **opts):
    a = pd.DataFrame(rows)
    a["viable_diameter_mm"] = a["viable_diameter_mm"].astype("Int64")
    origin = pd.Series([ORIGIN], index=pd.Index(["p1"], name="patient_id"))
    return assess_responses(a, origin, ["patient_id"], MrecistOptions(**opts))


def test_mrecist_target_under_10mm_is_non_target():
    rows = _lesions(-1, [("T1", "target", 50, None), ("T2", "target", 8, None)])
    rows += _lesions(8, [("T1", "target", 34, None), ("T2", "target", 8, None)])
    tp, per = _assess(rows)
    assert per.loc["p1", "baseline_sod"] == 50  # not 58
    assert tp["sod"].tolist() == [34]
    assert tp["target"].tolist() == ["PR"]  # 50 -> 34 = -32 %; 58 -> 42 would be -27.6 % (SD)
    assert tp["non_target"].tolist() == ["IR_SD"] and tp["response"].tolist() == ["PR"]
    # the small lesion's enhancement gone: non-target CR, and CR overall once the target is gone too
    rows = _lesions(-1, [("T1", "target", 50, None), ("T2", "target", 8, None)])
    rows += _lesions(8, [("T1", "target", 0, None), ("T2", "target", 0, None)])
    tp, _ = _assess(rows)
    assert tp["non_target"].tolist() == ["CR"] and tp["response"].tolist() == ["CR"]


def test_mrecist_missing_target_cannot_undo_progression():
    rows = _lesions(-1, [("T1", "target", 50, None), ("T2", "target", 30, None)])
    rows += _lesions(8, [("T1", "target", 96, None)])  # T2 not measured; 96 >= 1.2 x 80 already
    rows += _lesions(9, [("T1", "target", 90, None)])  # 90 < 96: T2 could be 0, so not known
    tp, _ = _assess(rows)
    assert tp["target"].tolist() == ["PD", "NE"]


# ---------------------------------------------------------------- 4. units at the edges
@pytest.mark.parametrize("umol,points", [(34.1, 1), (34.2, 2), (51.3, 2), (51.4, 3)])
def test_child_pugh_bilirubin_umol_edges(umol, points):
    b = to_canonical([umol], "µmol/L", "bilirubin")
    assert child_pugh(b, [40], [1.0], ["none"], ["none"]).iloc[0]["cp_bilirubin"] == points


@pytest.mark.parametrize("mgdl,points", [(1.99, 1), (2.0, 2), (3.0, 2), (3.01, 3)])
def test_child_pugh_bilirubin_mgdl_edges_agree(mgdl, points):
    for factor in (17.1, 17.104):
        b = np.asarray(to_canonical([mgdl], "mg/dL", "bilirubin")) / 17.1 * factor
        out = child_pugh(b, [40], [1.0], ["none"], ["none"], bilirubin_factor=factor).iloc[0]
        assert out["cp_bilirubin"] == points, factor


@pytest.mark.parametrize("mmol,grade", [(6.2, 2), (6.206, 1), (4.965, 2), (4.9, 3)])
def test_haemoglobin_mmol_graded_after_conversion(mmol, grade):
    g = to_canonical([mmol], "mmol/L", "haemoglobin")
    assert grade_lab("haemoglobin", g, lln=130).tolist() == [grade]


# ---------------------------------------------------------------- 5. baseline grade of an abnormal baseline
def _alt(baseline, after, **kw):
    labs = pd.DataFrame({
        "patient_id": ["p1", "p1"], "date": [ORIGIN - pd.Timedelta(days=3), ORIGIN + pd.Timedelta(days=21)],
        "test": ["alt", "alt"], "value": [baseline, after], "uln": [40.0, 40.0], "lln": [np.nan, np.nan],
    })
    origin = pd.Series([ORIGIN], index=pd.Index(["p1"], name="patient_id"))
    return lab_toxicity(labs, origin, ["patient_id"], **kw).iloc[0]


def test_abnormal_baseline_grade_option():
    zero = _alt(80.0, 130.0)
    assert (zero["baseline_grade"], zero["worst_grade"], bool(zero["emergent"])) == (0, 1, True)
    uln = _alt(80.0, 130.0, abnormal_baseline_grade="uln")
    assert (uln["baseline_grade"], uln["worst_grade"], bool(uln["emergent"])) == (1, 1, False)
    normal = _alt(30.0, 130.0, abnormal_baseline_grade="uln")  # a normal baseline is the same either way
    assert (normal["baseline_grade"], normal["worst_grade"]) == (0, 2)
    assert load_config(overrides={"ctcae": {"abnormal_baseline_grade": "uln"}}).ctcae.abnormal_baseline_grade == "uln"


def test_abnormal_baseline_grade_option_reaches_the_study():
    default = hccstudy.load_study(hccstudy.example_study_path())
    uln = hccstudy.load_study(hccstudy.example_study_path(),
                              load_config(overrides={"ctcae": {"abnormal_baseline_grade": "uln"}}))
    key = ["centre", "patient_id", "term"]
    a, b = default.lab_toxicity.set_index(key), uln.lab_toxicity.set_index(key)
    assert (b["baseline_grade"].fillna(0) >= a["baseline_grade"].fillna(0)).all()
    assert (a["worst_grade"].fillna(-1) == b["worst_grade"].fillna(-1)).all()
    assert (b["baseline_grade"].fillna(0) > a["baseline_grade"].fillna(0)).any()


# ---------------------------------------------------------------- property: missing inputs that cannot matter
# Every patient of a grid that covers each band of each input is derived with a subset of its inputs
# missing.  The result must be the common value of every completion of the missing inputs, or missing
# when the completions disagree.  Each derivation is called once per subset, on the whole grid.
def _check_missing_inputs(domain: dict[str, list], derive, missing_value: dict[str, object], max_missing: int):
    names = list(domain)
    grid = pd.DataFrame(list(itertools.product(*domain.values())), columns=names)
    full = pd.Series(derive(grid).to_numpy(dtype=object), index=pd.MultiIndex.from_frame(grid))
    checked = 0
    for k in range(1, max_missing + 1):
        for missing in itertools.combinations(names, k):
            masked = grid.copy()
            for m in missing:
                masked[m] = pd.Series([missing_value[m]] * len(grid), dtype=object)
            got = derive(masked).to_numpy(dtype=object)
            kept = [n for n in names if n not in missing]
            # completions: every full-grid result sharing the known inputs
            spread = full.groupby(level=kept).agg(lambda v: set(v.dropna()) | ({None} if v.isna().any() else set()))
            expect = spread.reindex(pd.MultiIndex.from_frame(grid[kept])).to_numpy()
            for g, values in zip(got, expect, strict=True):
                if len(values) == 1 and None not in values:
                    assert g == next(iter(values)), (missing, g, values)
                else:
                    assert pd.isna(g), (missing, g, values)
            checked += len(grid)
    return checked


def test_missing_input_that_cannot_matter_bclc():
    domain = {"n": [1, 2, 3, 4, 5], "d": [1.5, 2.0, 2.5, 3.0, 4.0], "mvi": [True, False], "ehs": [True, False],
              "ps": [0, 1, 2, 3, 4], "cp": ["A", "B", "C"]}
    missing = {"n": np.nan, "d": np.nan, "mvi": None, "ehs": None, "ps": np.nan, "cp": None}

    def derive(g):
        return bclc_stage(g["n"], g["d"].astype(float), g["mvi"], g["ehs"], g["ps"], g["cp"])

    assert _check_missing_inputs(domain, derive, missing, 3) == 1500 * 41
    # known cases the grid must contain: ECOG 1 with MVI missing is C
    assert derive(pd.DataFrame({"n": [1], "d": [3.0], "mvi": [None], "ehs": [False], "ps": [1], "cp": ["A"]})).iloc[0] == "C"


def test_missing_input_that_cannot_matter_child_pugh():
    domain = {"bili": [20.0, 34.2, 40.0, 51.3, 60.0], "alb": [40.0, 35.0, 30.0, 28.0, 25.0], "inr": [1.0, 1.7, 2.0, 2.5],
              "ascites": ["none", "mild", "moderate_severe"], "he": ["none", "grade_1_2", "grade_3_4"]}
    missing = {"bili": np.nan, "alb": np.nan, "inr": np.nan, "ascites": None, "he": None}

    def cls(g):
        return child_pugh(g["bili"].astype(float), g["alb"].astype(float), g["inr"].astype(float),
                          g["ascites"], g["he"])["child_pugh_class"]

    assert _check_missing_inputs(domain, cls, missing, 4) == 900 * 30
    score = child_pugh([20.0], [np.nan], [1.0], ["none"], ["none"])["child_pugh_score"]
    assert pd.isna(score.iloc[0])  # the score itself needs every component


def test_missing_input_that_cannot_matter_mrecist_target():
    """One of two targets not measured at a scan: PD when every possible diameter of the missing one
    gives PD, otherwise NE (a diameter of 0 or a large one gives another response)."""
    rows, expect = [], {}
    for i, (t1, t2, f1) in enumerate(itertools.product([10, 25, 50, 120], [10, 40, 120], range(0, 260, 3))):
        pid = f"p{i}"
        for week, lesions in ((-1, [("T1", t1), ("T2", t2)]), (8, [("T1", f1)])):
            rows += [{"patient_id": pid, "date": ORIGIN + pd.Timedelta(weeks=week), "lesion_id": lid,
                      "lesion_type": "target", "viable_diameter_mm": dia, "non_target_status": None}
                     for lid, dia in lesions]
        base = t1 + t2
        others = np.arange(0, 10 * base + 1)
        values = set(target_response(f1 + others, np.full(len(others), base), np.full(len(others), base)).tolist())
        expect[pid] = values.pop() if len(values) == 1 else "NE"
    a = pd.DataFrame(rows)
    a["viable_diameter_mm"] = a["viable_diameter_mm"].astype("Int64")
    origin = pd.Series([ORIGIN] * len(expect), index=pd.Index(list(expect), name="patient_id"))
    tp, _ = assess_responses(a, origin, ["patient_id"])
    got = dict(zip(tp["patient_id"], tp["target"], strict=True))
    assert got == expect
    assert {"PD", "NE"} <= set(got.values())


def test_pfs_with_a_data_cutoff_censors_at_the_last_scan_before_it():
    """A progression-free patient whose last scan is after the cut-off is censored at the last adequate
    scan on or before the cut-off (not at day 0); scans after the cut-off are not data."""
    cutoff = pd.Timestamp("2020-01-01")
    cfg = load_config(overrides={"study": {"data_cutoff": cutoff.date(), "end": cutoff.date()}})
    study = hccstudy.load_study(hccstudy.example_study_path(), cfg)
    a = study.analysis.set_index("patient_id")
    tp = study.timepoints
    assert (tp["date"] <= cutoff).all()
    censored = a[a["pfs_event"] == 0]
    assert len(censored) > 0
    for pid, row in censored.iterrows():
        scans = tp[(tp["patient_id"] == pid) & (tp["response"] != "NE")]
        last = scans["date"].max() if len(scans) else row["first_haic_date"]
        assert row["pfs_months"] == pytest.approx((last - row["first_haic_date"]).days / DPM), pid
    # at least one censored patient has scans on both sides of the cut-off in the raw data
    raw = study.tables["assessments"]
    both = [pid for pid in censored.index
            if (raw.loc[raw["patient_id"] == pid, "date"] > cutoff).any()
            and ((raw["patient_id"] == pid) & (raw["date"] <= cutoff) & (raw["date"] > a.loc[pid, "first_haic_date"])).any()]
    assert both and (censored.loc[both, "pfs_months"] > 0).all()


# ---------------------------------------------------------------- a missing AFP / tumour count is missing, not "no"
def test_missing_afp_or_tumour_number_gives_a_missing_flag_not_no(tmp_path):
    """AFP > 400 and multiple tumours are derived flags: with the AFP (or the tumour count) blank the
    flag is missing, so the patient is handled as incomplete (excluded, or brought back by multiple
    imputation), never counted as 'AFP <= 400' / 'single tumour' (a float NaN compares False)."""
    import shutil

    src = hccstudy.example_study_path()
    root = tmp_path / "study"
    shutil.copytree(src, root)
    f = root / "alpha" / "patients.csv"
    p = pd.read_csv(f, dtype=str, keep_default_na=False)
    p.loc[p["patient_id"] == "A01", "afp"] = ""
    p.loc[p["patient_id"] == "A02", "tumour_number"] = ""
    p.to_csv(f, index=False)
    before = hccstudy.load_study(src).patients.set_index("patient_id")
    after = hccstudy.load_study(root).patients.set_index("patient_id")
    assert before.loc["A01", "afp_gt_400"] == 1 and before.loc["A02", "multiple_tumours"] == 0
    assert pd.isna(after.loc["A01", "afp_gt_400"]) and pd.isna(after.loc["A02", "multiple_tumours"])
    assert after.loc["A01", "multiple_tumours"] == 1 and after.loc["A02", "afp_gt_400"] == 0  # the other flag stays
