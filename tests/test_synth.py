"""The calibrated synthetic cohort: determinism, exact flow, exclusions for the right reason, units and
formats, and the calibration check on several seeds (it runs the real pipeline)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hccstudy import load_study
from hccstudy.cli import app
from hccstudy.synth import DEFAULT_SEED, Calibration, generate, write_cohort
from hccstudy.synth.calibration import calibration_table, median_ci
from hccstudy.synth.generate import EXCLUSION_SHARES

runner = CliRunner()


@pytest.fixture(scope="module")
def default_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "study"
    cohort = generate(DEFAULT_SEED)
    write_cohort(cohort, root)
    return cohort, root, load_study(root)


def test_same_seed_gives_byte_identical_files(tmp_path, tree_digest):
    write_cohort(generate(11), tmp_path / "a")
    write_cohort(generate(11), tmp_path / "b")
    a, b = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert a == b
    assert "central.xlsx" in a and "east/labs.csv" in a
    write_cohort(generate(12), tmp_path / "c")
    c = tree_digest(tmp_path / "c")
    assert set(c) == set(a)
    assert all(c[k] != a[k] for k in a)  # a different seed changes every file


def test_flow_is_exact_and_every_reason_fires(default_study):
    cohort, _, study = default_study
    flow = study.flow.set_index(["step", "criterion"])["n"]
    assert flow[("screened", "")] == 3923
    assert flow[("included", "")] == 575
    assert (flow[("arm", "SE")], flow[("arm", "SI")]) == (200, 375)
    excluded = {c: int(flow[("excluded", c)]) for c in EXCLUSION_SHARES}
    assert sum(excluded.values()) == 3923 - 575
    assert all(n >= 50 for n in excluded.values()), excluded  # each reason fires for a plausible number


def test_each_patient_is_excluded_for_the_intended_reason(default_study):
    cohort, _, study = default_study
    got = study.patients[["centre", "patient_id", "exclusion_reason"]].merge(
        cohort.truth[["centre", "patient_id", "reason"]], on=["centre", "patient_id"], validate="one_to_one")
    assert len(got) == 3923
    reason = got["exclusion_reason"].astype(object).where(got["exclusion_reason"].notna(), "")
    assert (reason.to_numpy() == got["reason"].to_numpy()).all()
    # nobody fails a second criterion by accident, except what follows from the rules: Child-Pugh C and
    # ECOG >= 3 make the stage BCLC D, and incomplete data may leave a criterion undecidable
    p = study.patients
    fails = p.filter(like="fails_").drop(columns="fails_bclc_c").sum(axis=1).to_numpy()
    first = p["exclusion_reason"].astype(object).to_numpy()
    assert (fails[first != "complete_data"] <= 1).all()
    bclc_d = p["fails_bclc_c"].to_numpy() & np.isin(first, ["child_pugh_ab", "ecog_0_1"])
    assert (p.loc[bclc_d, "bclc_stage"] == "D").all()
    assert not (p["fails_bclc_c"].to_numpy() & ~np.isin(first, ["bclc_c", "child_pugh_ab", "ecog_0_1", "complete_data"])).any()


def test_centres_units_and_formats(default_study):
    _, root, study = default_study
    assert sorted(p.name for p in root.iterdir()) == ["central.xlsx", "east", "north", "south", "west"]
    east = pd.read_csv(root / "east" / "patients.csv")
    assert set(east["bilirubin_unit"]) == {"mg/dL"} and set(east["albumin_unit"]) == {"g/dL"}
    assert east["bilirubin"].median() < 5  # mg/dL, not µmol/L
    # after conversion the pipeline sees the same distribution in every centre
    p = study.patients
    med = p.groupby("centre")["bilirubin"].median()
    assert med.max() / med.min() < 1.3
    assert study.validation.n_errors == 0
    assert set(study.validation.issues["rule"]) == {"missing_value"}  # only the incomplete-data patients


def test_derived_values_match_the_generator(default_study):
    cohort, _, study = default_study
    a = study.analysis.merge(cohort.truth, on=["centre", "patient_id"], suffixes=("", "_truth"))
    assert len(a) == 575
    assert (a["arm"] == a["arm_truth"]).all()
    assert (a["haic_cycles"] == a["n_cycles"]).all()
    assert (a["bclc_stage"] == "C").all()
    assert set(a["child_pugh_class"]) == {"A", "B"}
    # ALBI follows Child-Pugh (the correlation the generator builds through the components)
    assert a.loc[a["child_pugh_class"] == "B", "albi_score"].mean() > a.loc[a["child_pugh_class"] == "A", "albi_score"].mean() + 0.3
    # death recorded <-> OS event, within rounding of days
    dead = a["died"].to_numpy()
    assert (a["os_event"].to_numpy() == dead).all()
    np.testing.assert_allclose(a.loc[dead, "os_months"], a.loc[dead, "t_os"], atol=1 / 30)


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 1, 2, 3, 5])
def test_calibration_check_passes(seed, tmp_path, default_study):
    """Every published target within its documented tolerance.  Seeds: the default and the first
    integers; over seeds 1-30, 27 pass every target and 3 miss only a 6-month OS rate (see the module
    docstring of hccstudy.synth.calibration)."""
    if seed == DEFAULT_SEED:
        study = default_study[2]
    else:
        write_cohort(generate(seed), tmp_path, excel=False)
        study = load_study(tmp_path)
    table = calibration_table(study)
    assert len(table) > 140
    bad = table[~table["ok"]]
    assert bad.empty, bad.to_string()


def test_calibration_check_detects_a_miscalibrated_cohort(tmp_path):
    """The check can fail: without the SI effect the OS log-rank test and the SI survival rates leave
    their tolerance (the arm HR's 3-SE band, 0.40-1.03, is too wide to exclude 1 on its own: the
    paper's own SE)."""
    cal = Calibration()
    no_effect = replace(cal, os_log_hr={**cal.os_log_hr, "si": 0.0}, pfs_log_hr={**cal.pfs_log_hr, "si": 0.0})
    write_cohort(generate(1, calibration=no_effect), tmp_path, excel=False)
    table = calibration_table(load_study(tmp_path)).set_index(["group", "target"])
    assert not table.loc[("os", "log-rank P"), "ok"]
    assert not table.loc[("os", "24-month rate (SI)"), "ok"]
    assert table.loc[("cox", "OS HR arm_si"), "recovered"] > 0.8


def test_size_scales_the_counts():
    c = generate(1, n_screened=39230)
    p = pd.concat([t["patients"] for t in c.tables.values()])
    assert len(p) == 39230
    t = c.truth
    assert int(t["eligible"].sum()) == 5750
    assert int((t["eligible"] & (t["arm"] == "SE")).sum()) == 2000


def test_median_ci_order_statistics():
    x = np.arange(1, 101, dtype=float)
    med, lo, hi = median_ci(x, 0.95)
    assert med == 50.5 and lo < med < hi
    assert (lo, hi) == (40.0, 61.0)  # ranks n/2 - 1.96 sqrt(n)/2 = 40.2 -> 40, n/2 + 1.96 sqrt(n)/2 + 1 = 60.8 -> 61


def test_cli_synth_check_and_errors(tmp_path):
    r = runner.invoke(app, ["synth", "--check", "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert "148 of 148 targets within tolerance" in r.output
    assert runner.invoke(app, ["synth"]).exit_code == 2  # nothing to do
    assert runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), "--patients", "10"]).exit_code == 2
    out = tmp_path / "cohort"
    assert runner.invoke(app, ["synth", "--out", str(out), "--seed", "4"]).exit_code == 0
    assert (out / "central.xlsx").exists()
    assert runner.invoke(app, ["synth", "--out", str(out)]).exit_code == 2  # exists, no --force


def test_tables_are_raw_records_only(default_study):
    cohort, _, _ = default_study
    derived = {"child_pugh_class", "child_pugh_score", "albi_score", "bclc_stage", "arm", "os_months", "pfs_months",
               "bor", "os_event"}
    for tables in cohort.tables.values():
        for name, df in tables.items():
            assert not derived & set(df.columns), (name, derived & set(df.columns))


def test_run_without_data_uses_the_synthetic_cohort(builtin_cli_run, tmp_path: Path):
    """`hccstudy run` without a study folder says so, and runs on the synthetic cohort it writes (the
    session's one fresh CLI run of the built-in study, tests/conftest.py)."""
    taken = tmp_path / "taken"
    taken.write_text("x")  # refused before computing: the notice comes first
    r = runner.invoke(app, ["run", "--out", str(taken)])
    assert r.exit_code == 2 and "synthetic" in r.output and "is a file" in r.output, r.output
    out, r = builtin_cli_run.out, builtin_cli_run
    assert r.exit_code == 0, r.output
    assert (out / "synthetic-data" / "central.xlsx").exists()
    assert len(pd.read_parquet(out / "analysis_table.parquet")) == 575
    cal = pd.read_csv(out / "calibration.csv")
    assert cal["ok"].all()


def test_no_endpoint_from_a_sentinel_date(default_study):
    """OS and PFS of every screened patient lie within the data's own span (first HAIC to the last date
    in any record); a patient alive with no last follow-up date has no OS at all (issue 17)."""
    _, _, study = default_study
    p = study.patients
    dates = [t[c] for t in study.tables.values() for c in t.columns if pd.api.types.is_datetime64_any_dtype(t[c])]
    last = max(d.max() for d in dates if d.notna().any())
    span = (last - p["first_haic_date"].min()).days / 30.4375
    for ep in ("os", "pfs"):
        t = p[f"{ep}_months"]
        assert (t.dropna() <= span).all() and (t.dropna() >= 0).all(), ep
        assert p.loc[t.isna(), f"{ep}_event"].isna().all()
    no_followup = p["death_date"].isna() & p["last_followup_date"].isna()
    assert no_followup.sum() > 0  # the generator writes such patients (excluded as incomplete)
    assert p.loc[no_followup, "os_months"].isna().all()
    assert not p.loc[no_followup, "included"].any()
