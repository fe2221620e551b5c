"""Every worked example of docs/spec/clinical-rules.md, sections 1-7."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccstudy.clinical import (
    MrecistOptions,
    albi,
    bclc_stage,
    best_overall_response,
    bevacizumab_dose,
    bsa,
    child_pugh,
    dosing_bsa,
    grade_lab,
    overall_response,
    planned_haic_doses,
    target_response,
)
from hccstudy.schema.units import to_canonical

MG = 17.1


# ---------------------------------------------------------------- 1. Child-Pugh
@pytest.mark.parametrize(
    "case,bili,bili_unit,alb,alb_unit,inr,ascites,he,points,score,cls",
    [
        ("C1", 2.5, "mg/dL", 3.0, "g/dL", 1.8, "mild", "none", [2, 2, 2, 2, 1], 9, "B"),
        ("C2", 1.2, "mg/dL", 3.8, "g/dL", 1.1, "none", "none", [1, 1, 1, 1, 1], 5, "A"),
        ("C3", 3.2, "mg/dL", 2.6, "g/dL", 2.0, "mild", "grade_1_2", [3, 3, 2, 2, 2], 12, "C"),
        ("C4", 2.0, "mg/dL", 3.5, "g/dL", 1.7, "none", "none", [2, 2, 2, 1, 1], 8, "B"),
        ("C5", 3.0, "mg/dL", 2.8, "g/dL", 2.3, "none", "none", [2, 2, 2, 1, 1], 8, "B"),
        ("C6", 51, "µmol/L", 28, "g/L", 1.0, "none", "none", [2, 2, 1, 1, 1], 7, "B"),
    ],
)
def test_child_pugh_worked_examples(case, bili, bili_unit, alb, alb_unit, inr, ascites, he, points, score, cls):
    b = to_canonical([bili], bili_unit, "bilirubin")
    a = to_canonical([alb], alb_unit, "albumin")
    out = child_pugh(b, a, [inr], [ascites], [he]).iloc[0]
    got = [out[c] for c in ("cp_bilirubin", "cp_albumin", "cp_coagulation", "cp_ascites", "cp_encephalopathy")]
    assert got == points, case
    assert out["child_pugh_score"] == score
    assert out["child_pugh_class"] == cls


def test_child_pugh_albumin_exactly_35_scores_two_not_one():
    # the graph-toucan cross-check code gives 3.5 g/dL one point; the table says > 3.5
    assert child_pugh([10], [35.0], [1.0], ["none"], ["none"]).iloc[0]["cp_albumin"] == 2


def test_child_pugh_harrison_variant_and_pt_fallback():
    assert child_pugh([10], [29], [1.0], ["none"], ["none"]).iloc[0]["cp_albumin"] == 2
    assert child_pugh([10], [29], [1.0], ["none"], ["none"], albumin_variant="harrison").iloc[0]["cp_albumin"] == 3
    # INR missing -> PT seconds used; INR present -> PT ignored
    out = child_pugh([10, 10], [40, 40], [np.nan, 1.0], ["none"] * 2, ["none"] * 2, [5.0, 7.0])
    assert out["cp_coagulation"].tolist() == [2, 1]


def test_child_pugh_missing_component_gives_missing_class():
    out = child_pugh([10], [np.nan], [1.0], ["none"], ["none"]).iloc[0]
    assert pd.isna(out["child_pugh_score"]) and pd.isna(out["child_pugh_class"])


# ---------------------------------------------------------------- 2. ALBI
@pytest.mark.parametrize(
    "case,bili,alb,score,grade,malbi",
    [
        ("A1", 2.5 * MG, 30, -1.4736, 2, "2b"),
        ("A2", 0.8 * MG, 42, -2.8202, 1, "1"),
        ("A3", 12, 38, -2.5177, 2, "2a"),
        ("A4", 17, 36, -2.2479, 2, "2b"),
        ("A5", 60, 28, -1.2064, 3, "3"),
        ("A6", 10, 38.3, -2.5955, 2, "2a"),
    ],
)
def test_albi_worked_examples(case, bili, alb, score, grade, malbi):
    out = albi([bili], [alb]).iloc[0]
    assert out["albi_score"] == pytest.approx(score, abs=5e-5), case
    assert out["albi_grade"] == grade
    assert out["malbi_grade"] == malbi


def test_albi_coefficient_option_a6():
    out = albi([10], [38.3], coefficient=-0.0852).iloc[0]
    assert out["albi_score"] == pytest.approx(-2.6032, abs=5e-5)
    assert out["albi_grade"] == 1


# ---------------------------------------------------------------- 3. BCLC 2022
@pytest.mark.parametrize(
    "case,n,d,mvi,ehs,ps,cp,stage",
    [
        ("B1", 1, 1.8, False, False, 0, "A", "0"),
        ("B2", 1, 8, False, False, 0, "A", "A"),
        ("B3", 3, 2.5, False, False, 0, "A", "A"),
        ("B4", 3, 4, False, False, 0, "A", "B"),
        ("B5", 5, 2, False, False, 0, "A", "B"),
        ("B6", 1, 6, True, False, 0, "A", "C"),
        ("B7", 2, 5, False, True, 0, "A", "C"),
        ("B8", 2, 5, False, False, 1, "A", "C"),
        ("B9", 4, 9, True, False, 3, "A", "D"),
        ("B10", 1, 3, False, False, 1, "C", "D"),
    ],
)
def test_bclc_worked_examples(case, n, d, mvi, ehs, ps, cp, stage):
    assert bclc_stage([n], [d], [mvi], [ehs], [ps], [cp]).iloc[0] == stage, case


def test_bclc_comorbidity_override_and_unknowns():
    # PS 1 due to comorbidity does not move a patient up a stage
    assert bclc_stage([2], [5], [False], [False], [1], ["A"], [False]).iloc[0] == "B"
    # MVI known to be present decides C even when tumour size is missing; unknown MVI cannot
    assert bclc_stage([np.nan], [np.nan], [True], [False], [0], ["A"]).iloc[0] == "C"
    assert pd.isna(bclc_stage([1], [3], [None], [False], [0], ["A"]).iloc[0])


# ---------------------------------------------------------------- 5. mRECIST
@pytest.mark.parametrize(
    "case,sods,expected",
    [("M1", [55], "PR"), ("M2", [56], "PR"), ("M3", [60], "SD"), ("M4", [40, 49], "PD"),
     ("M5", [40, 48], "PD"), ("M6", [0], "CR")],
)
def test_mrecist_target_worked_examples(case, sods, expected):
    baseline = 80
    nadir = baseline
    resp = None
    for sod in sods:
        resp = target_response([sod], [baseline], [nadir])[0]
        nadir = min(nadir, sod)
    assert resp == expected, case


def test_mrecist_absolute_growth_option():
    # 40 -> 48 is +20 % but only +8 mm: PD either way; 10 -> 12 is +20 % and +2 mm
    assert target_response([12], [80], [10])[0] == "PD"
    assert target_response([12], [80], [10], pd_absolute_mm=5)[0] == "PR"


def _weeks(ws):
    o = pd.Timestamp("2020-01-01")
    return o, [o + pd.Timedelta(weeks=w) for w in ws]


@pytest.mark.parametrize(
    "seq,confirmed,unconfirmed",
    [(["PR", "PR", "PD"], "PR", "PR"), (["PR", "SD"], "SD", "PR"), (["CR", "PR"], "PR", "CR")],
)
def test_best_overall_response_examples(seq, confirmed, unconfirmed):
    o, dates = _weeks([6, 12, 18][: len(seq)])
    assert best_overall_response(dates, seq, o) == confirmed
    assert best_overall_response(dates, seq, o, MrecistOptions(confirm=False)) == unconfirmed


def test_bor_ignores_time_points_after_first_pd_and_sd_minimum_duration():
    o, dates = _weeks([6, 12, 18])
    assert best_overall_response(dates, ["PD", "PR", "PR"], o) == "PD"
    o, dates = _weeks([4])
    assert best_overall_response(dates, ["SD"], o) == "NE"  # SD before 6 weeks does not count


def test_overall_response_table_and_new_lesion():
    got = overall_response(
        ["CR", "CR", "PR", "SD", "NE", "PD", "SD", "SD"],
        ["CR", "IR_SD", "IR_SD", "none", "IR_SD", "CR", "PD", "IR_SD"],
        [False, False, False, False, False, False, False, True],
    )
    assert got.tolist() == ["CR", "PR", "PR", "SD", "NE", "PD", "PD", "PD"]


# ---------------------------------------------------------------- 6. CTCAE v5.0
@pytest.mark.parametrize(
    "case,test,kw,values,grades",
    [
        ("L1", "alt", {"uln": 40, "baseline": 30}, [100, 120, 121, 250, 900], [1, 1, 2, 3, 4]),
        ("L2", "alt", {"uln": 40, "baseline": 80}, [100, 120, 300, 500, 1700], [0, 1, 2, 3, 4]),
        ("L3", "bilirubin", {"uln": 21, "baseline": 15}, [30, 40, 70, 250], [1, 2, 3, 4]),
        ("L4", "bilirubin", {"uln": 21, "baseline": 30}, [28, 33, 50, 100], [0, 1, 2, 3]),
        ("L5", "haemoglobin", {"lln": 130}, [120, 100, 99, 80, 79], [1, 1, 2, 2, 3]),
        ("L6", "neutrophils", {"lln": 2.0}, [1.8, 1.5, 1.2, 1.0, 0.7, 0.4], [1, 1, 2, 2, 3, 4]),
        ("L7", "platelets", {"lln": 125}, [100, 75, 60, 50, 30, 20], [1, 1, 2, 2, 3, 4]),
        ("L8", "albumin", {"lln": 35}, [32, 30, 25, 18], [1, 1, 2, 3]),
    ],
)
def test_ctcae_worked_examples(case, test, kw, values, grades):
    assert grade_lab(test, values, **kw).tolist() == grades, case


def test_ctcae_normal_values_are_grade_zero_and_ast_behaves_as_alt():
    assert grade_lab("ast", [30, 40], uln=40, baseline=30).tolist() == [0, 0]
    assert grade_lab("platelets", [125, 200], lln=125).tolist() == [0, 0]
    assert np.isnan(grade_lab("alt", [np.nan], uln=40)[0])


def test_ctcae_haemoglobin_in_gdl_and_mmol_converted_first():
    g = to_canonical([10.0], "g/dL", "haemoglobin")
    assert grade_lab("haemoglobin", g, lln=130).tolist() == [1]
    m = to_canonical([6.2], "mmol/L", "haemoglobin")  # 6.2 mmol/L ~ 99.9 g/L: grade 2
    assert grade_lab("haemoglobin", m, lln=130).tolist() == [2]


# ---------------------------------------------------------------- 7. BSA and doses
@pytest.mark.parametrize(
    "h,w,mosteller,dubois",
    [(170, 65, 1.7520, 1.7536), (160, 50, 1.4907, 1.5011), (185, 110, 2.3776, 2.3316)],
)
def test_bsa_worked_examples(h, w, mosteller, dubois):
    assert bsa([h], [w])[0] == pytest.approx(mosteller, abs=5e-5)
    assert bsa([h], [w], "dubois")[0] == pytest.approx(dubois, abs=5e-5)


def test_haic_doses_bsa_1752():
    d = planned_haic_doses([1.752]).iloc[0]
    assert d["oxaliplatin_mg"] == pytest.approx(148.9, abs=0.05)
    assert d["folinate_mg"] == pytest.approx(350.4, abs=0.05)
    assert d["fluorouracil_mg"] == pytest.approx(4380, abs=0.05)


def test_dose_cap_and_bevacizumab():
    uncapped = planned_haic_doses(dosing_bsa([185], [110]))["oxaliplatin_mg"].iloc[0]
    capped = planned_haic_doses(dosing_bsa([185], [110], cap=2.0))["oxaliplatin_mg"].iloc[0]
    assert uncapped == pytest.approx(202.1, abs=0.05)
    assert capped == pytest.approx(170.0, abs=1e-9)
    assert bevacizumab_dose([65], 7.5)[0] == 487.5
    assert bevacizumab_dose([65], 15)[0] == 975.0
    assert dosing_bsa([170], [65], round_to=0.01)[0] == pytest.approx(1.75)
