"""mRECIST derived from lesion-level imaging records (assess_responses)."""

from __future__ import annotations

import pandas as pd
import pytest

from hccstudy.clinical import MrecistOptions, assess_responses, response_rates

ORIGIN = pd.Timestamp("2020-01-01")


def _rows(pid, week, lesions):
    d = ORIGIN + pd.Timedelta(weeks=week)
    return [{"patient_id": pid, "date": d, "lesion_id": lid, "lesion_type": kind,
             "viable_diameter_mm": dia, "non_target_status": status} for lid, kind, dia, status in lesions]


def _assess(rows, pids, **opts):
    a = pd.DataFrame(rows)
    a["viable_diameter_mm"] = a["viable_diameter_mm"].astype("Int64")
    origin = pd.Series([ORIGIN] * len(pids), index=pd.Index(pids, name="patient_id"))
    return assess_responses(a, origin, ["patient_id"], MrecistOptions(**opts))


def test_new_lesion_backdated_to_first_scan_when_it_grows_past_10mm():
    rows = []
    rows += _rows("p1", -1, [("T1", "target", 50, None), ("T2", "target", 30, None)])
    rows += _rows("p1", 6, [("T1", "target", 48, None), ("T2", "target", 30, None), ("N1", "new", 6, None)])
    rows += _rows("p1", 12, [("T1", "target", 47, None), ("T2", "target", 29, None), ("N1", "new", 15, None)])
    tp, per = _assess(rows, ["p1"])
    assert tp["response"].tolist() == ["PD", "PD"]  # the equivocal 6-mm lesion counts from week 6
    assert per.loc["p1", "first_pd_date"] == ORIGIN + pd.Timedelta(weeks=6)
    assert per.loc["p1", "bor"] == "PD"


def test_small_new_lesion_that_never_grows_is_not_pd():
    rows = _rows("p1", -1, [("T1", "target", 50, None)]) + _rows("p1", 8, [("T1", "target", 48, None), ("N1", "new", 6, None)])
    tp, _ = _assess(rows, ["p1"])
    assert tp["response"].tolist() == ["SD"]


def test_non_target_and_missing_target_measurements():
    rows = []
    rows += _rows("p1", -1, [("T1", "target", 40, None), ("T2", "target", 20, None), ("V1", "non_target", None, "IR_SD")])
    rows += _rows("p1", 6, [("T1", "target", 0, None), ("T2", "target", 0, None), ("V1", "non_target", None, "IR_SD")])
    rows += _rows("p1", 12, [("T1", "target", 0, None), ("V1", "non_target", None, "CR")])  # T2 not measured
    rows += _rows("p1", 18, [("T1", "target", 0, None), ("T2", "target", 0, None), ("V1", "non_target", None, "PD")])
    tp, per = _assess(rows, ["p1"])
    assert tp["target"].tolist() == ["CR", "NE", "CR"]
    assert tp["response"].tolist() == ["PR", "NE", "PD"]  # CR targets + persisting non-target = PR
    # PR at 6 weeks is never confirmed (NE, then PD): SD with confirmation, PR without
    assert per.loc["p1", "bor"] == "SD" and per.loc["p1", "bor_unconfirmed"] == "PR"
    assert per.loc["p1", "last_assessment_date"] == ORIGIN + pd.Timedelta(weeks=18)


def test_unmeasurable_baseline_and_no_scans_are_ne():
    rows = _rows("p1", -1, [("T1", "target", 8, None)]) + _rows("p1", 8, [("T1", "target", 4, None)])
    _, per = _assess(rows, ["p1", "p2"])
    assert not per.loc["p1", "measurable"]
    assert per.loc["p1", "bor"] == "NE" and per.loc["p2", "bor"] == "NE"
    assert per.loc["p1", "bor_unconfirmed"] == "NE"  # 8 -> 4 mm would be PR if the baseline were measurable
    rates = response_rates(per["bor"], per["measurable"]).set_index("denominator")
    assert rates.loc["measurable", "n"] == 0 and rates.loc["itt", "n"] == 2


def test_orr_dcr_denominators():
    bor = pd.Series(["CR", "PR", "SD", "PD", "NE"])
    measurable = pd.Series([True, True, True, True, False])
    r = response_rates(bor, measurable).set_index("denominator")
    assert r.loc["measurable", "orr"] == pytest.approx(2 / 4) and r.loc["measurable", "dcr"] == pytest.approx(3 / 4)
    assert r.loc["itt", "orr"] == pytest.approx(2 / 5) and r.loc["itt", "dcr"] == pytest.approx(3 / 5)
