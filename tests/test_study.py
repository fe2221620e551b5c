"""The example study end to end: flow counts, derived columns, endpoints, config and CLI."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import hccstudy
from hccstudy._yaml import ConfigError
from hccstudy.cli import app
from hccstudy.config import load_config
from hccstudy.data.make_example import write_example
from hccstudy.output import is_hccstudy_output
from hccstudy.schema import StudyInputError
from hccstudy.schema.docs import render_data_model

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study() -> hccstudy.Study:
    return hccstudy.load_study(hccstudy.example_study_path())


def test_flow_counts_by_construction(study):
    flow = study.flow.set_index(["step", "criterion"])["n"]
    assert flow[("screened", "")] == 20
    for criterion in ("complete_data", "study_window", "child_pugh_ab", "ecog_0_1", "bclc_c", "other_malignancy",
                      "prior_systemic", "tace_during_haic", "regimen"):
        assert flow[("excluded", criterion)] == 1, criterion
    assert flow[("included", "")] == 11
    assert (flow[("arm", "SE")], flow[("arm", "SI")]) == (4, 7)
    assert len(study.analysis) == 11
    reasons = study.patients.set_index("patient_id")["exclusion_reason"]
    assert reasons["A08"] == "complete_data" and reasons["C06"] == "child_pugh_ab" and reasons["A07"] == "bclc_c"
    assert reasons["C04"] == "regimen" and reasons["B06"] == "study_window"


def test_all_failing_criteria_counted(study):
    ex = study.exclusions.set_index("criterion")
    # C06 (Child-Pugh C) is BCLC D too: it fails both, but is counted once in the flow
    assert ex.loc["bclc_c", "n_failing"] == 2 and ex.loc["bclc_c", "n_first_failing"] == 1
    assert ex["n_first_failing"].sum() == 9


def test_flow_order_is_configurable():
    order = ["complete_data", "study_window", "bclc_c", "child_pugh_ab", "ecog_0_1", "other_malignancy",
             "prior_systemic", "tace_during_haic", "regimen"]
    cfg = load_config(overrides={"eligibility": {"order": order}})
    s = hccstudy.load_study(hccstudy.example_study_path(), cfg)
    flow = s.flow.set_index(["step", "criterion"])["n"]
    assert flow[("excluded", "bclc_c")] == 2 and flow[("excluded", "child_pugh_ab")] == 0


def test_units_converted_before_scoring(study):
    p = study.patients.set_index("patient_id")
    # B04 reported 3.0 mg/dL bilirubin and 2.8 g/dL albumin: canonical 51.3 µmol/L and 28 g/L, 2 points each
    assert p.loc["B04", "bilirubin"] == pytest.approx(51.3)
    assert p.loc["B04", "bilirubin_unit_reported"] == "mg/dL"
    assert p.loc["B04", "albumin"] == pytest.approx(28.0)
    assert (p.loc["B04", "cp_bilirubin"], p.loc["B04", "cp_albumin"], p.loc["B04", "child_pugh_class"]) == (2, 2, "B")
    assert p.loc["B02", "haemoglobin"] == pytest.approx(131.0)


def test_arm_rule_and_cross_check(study):
    p = study.patients.set_index("patient_id")
    assert p.loc["A01", "arm"] == "SE" and p.loc["A03", "arm"] == "SI"
    assert p.loc["C04", "arm_detail"].startswith("systemic therapy started during HAIC")
    w = study.validation.warnings
    mism = w[w["rule"] == "arm_mismatch"]
    assert mism[["file", "row"]].values.tolist() == [["alpha/patients.csv", 5]]  # A04: recorded SE, dates say SI


def test_endpoints_from_dates(study):
    a = study.analysis.set_index("patient_id")
    # A01 died 420 days after first HAIC
    assert a.loc["A01", "os_months"] == pytest.approx(420 / 30.4375) and a.loc["A01", "os_event"] == 1
    # A02 alive, censored at last follow-up (700 days)
    assert a.loc["A02", "os_months"] == pytest.approx(700 / 30.4375) and a.loc["A02", "os_event"] == 0
    # A01: PR, PR, then PD at the third scan (18 weeks = 126 days)
    assert a.loc["A01", "pfs_months"] == pytest.approx(126 / 30.4375) and a.loc["A01", "pfs_event"] == 1
    # A02: no progression, censored at the last adequate assessment (12 weeks)
    assert a.loc["A02", "pfs_months"] == pytest.approx(84 / 30.4375) and a.loc["A02", "pfs_event"] == 0
    # C03: no radiological progression, died at 420 days -> PFS event at death
    assert a.loc["C03", "pfs_months"] == pytest.approx(420 / 30.4375) and a.loc["C03", "pfs_event"] == 1
    assert a.loc["A01", "bor"] == "PR" and a.loc["A03", "bor"] == "CR" and a.loc["B01", "bor"] == "PD"


def test_data_cutoff_censors_later_deaths():
    cfg = load_config(overrides={"study": {"data_cutoff": "2020-01-01", "end": "2020-01-01"}})
    a = hccstudy.load_study(hccstudy.example_study_path(), cfg).analysis.set_index("patient_id")
    # A01 started 2019-03-04 and died 2020-04-27: censored at the cut-off
    assert a.loc["A01", "os_event"] == 0
    assert a.loc["A01", "os_months"] == pytest.approx((pd.Timestamp("2020-01-01") - pd.Timestamp("2019-03-04")).days / 30.4375)


def test_patients_treated_after_the_data_cutoff_are_an_error_not_negative_times():
    cfg = load_config(overrides={"study": {"data_cutoff": "2020-01-01"}})
    with pytest.raises(StudyInputError) as exc:
        hccstudy.load_study(hccstudy.example_study_path(), cfg)
    err = exc.value.report.errors
    assert set(err["rule"]) == {"after_data_cutoff"}
    assert (err["column"] == "first_haic_date").all() and (err["row"] >= 2).all()
    assert "study.data_cutoff" in err["message"].iloc[0]


def test_pfs_censor_switch_and_recorded_progression():
    cfg = load_config(overrides={"endpoints": {"pfs_censor": "last_followup"}})
    a = hccstudy.load_study(hccstudy.example_study_path(), cfg).analysis.set_index("patient_id")
    assert a.loc["A02", "pfs_months"] == pytest.approx(700 / 30.4375)


def test_derived_columns_present(study):
    cols = set(study.analysis.columns)
    for c in ("age", "bsa_m2", "child_pugh_score", "child_pugh_class", "albi_score", "albi_grade", "malbi_grade",
              "bclc_stage", "arm", "os_months", "os_event", "pfs_months", "pfs_event", "haic_cycles", "rdi_oxaliplatin",
              "bor", "bor_unconfirmed", "measurable", "afp_gt_400", "multiple_tumours", "ae_alt_increased_grade",
              "ae_abdominal_pain_grade", "centre", "source_file", "source_row"):
        assert c in cols, c
    a = study.analysis.set_index("patient_id")
    assert a.loc["A01", "haic_cycles"] == 4
    # A01 ALT 35 -> 91 (2.6x of ULN 40 = 2.275x): grade 1
    assert a.loc["A01", "ae_alt_increased_grade"] == 1
    assert np.allclose(a["rdi_oxaliplatin"], 1.0, atol=1e-3)


def test_lab_toxicity_worst_and_emergent(study):
    t = study.lab_toxicity.set_index(["patient_id", "term"])
    # A01 platelets 160 -> 61.5 (grade 2) from a normal baseline: emergent
    row = t.loc[("A01", "platelet_count_decreased")]
    assert (row["baseline_grade"], row["worst_grade"], bool(row["emergent"])) == (0, 2, True)
    # B04 platelets 80 at baseline (grade 1) -> 30.8 (grade 3)
    row = t.loc[("B04", "platelet_count_decreased")]
    assert (row["baseline_grade"], row["worst_grade"], bool(row["emergent"])) == (1, 3, True)
    ae = study.adverse_events
    assert ae["grade"].between(0, 5).all()
    assert set(ae["source"]) == {"lab", "recorded"}
    assert not ae.duplicated(["centre", "patient_id", "term"]).any()


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "study.yaml"
    bad.write_text("eligibility:\n  order: [complete_data, not_a_criterion]\n")
    with pytest.raises(ConfigError, match="eligibility.order"):
        load_config(bad)
    bad.write_text("units:\n  bilirubin_factr: 17.1\n")
    with pytest.raises(ConfigError, match="units.bilirubin_factr"):
        load_config(bad)
    with pytest.raises(ConfigError, match="mrecist.confirmm"):
        load_config(overrides={"mrecist": {"confirmm": False}})
    r = runner.invoke(app, ["flow", str(hccstudy.example_study_path()), "--config", str(bad)])
    assert r.exit_code == 2 and "config error" in r.output


def test_cli_run_writes_outputs_atomically(builtin_cli_run, tmp_path, monkeypatch, tree_digest):
    """A finished `hccstudy run` leaves a complete folder that it marks as its own and no temporary; an
    existing output is refused without --force; with --force, a run that fails while writing leaves the
    old output exactly as it was and no temporary.  (The session's CLI run of the built-in study is the
    finished run; the failure is injected into the first writing stage on a copy of it, so no second
    whole run is needed.  Replacement itself: tests/test_output.py.)"""
    assert builtin_cli_run.exit_code == 0, builtin_cli_run.output
    names = {p.name for p in builtin_cli_run.out.iterdir()}
    assert {"analysis_table.csv", "analysis_table.parquet", "exclusions.csv", "flow.csv", "validation.csv",
            "report.html", "results.json", "manifest.json", "figures", "synthetic-data"} <= names
    assert len(pd.read_parquet(builtin_cli_run.out / "analysis_table.parquet")) == 575
    assert not [p for p in builtin_cli_run.out.parent.iterdir() if p.name.startswith(".report.")]  # no temp dir left
    assert is_hccstudy_output(builtin_cli_run.out)  # so that --force may replace it (tests/test_output.py)

    out = tmp_path / "report"
    shutil.copytree(builtin_cli_run.out, out)
    before = tree_digest(out)
    r = runner.invoke(app, ["run", "--out", str(out), "--no-figures"])
    assert r.exit_code == 2 and "use --force" in r.output, r.output  # exists, no --force

    import hccstudy.synth

    def disk_full(cohort, folder):
        folder.mkdir(parents=True)
        (folder / "partial.csv").write_text("patient_id\n")
        raise OSError(28, "No space left on device", str(folder / "partial.csv"))

    monkeypatch.setattr(hccstudy.synth, "generate", lambda seed: None)  # not under test here
    monkeypatch.setattr(hccstudy.synth, "write_cohort", disk_full)
    r = runner.invoke(app, ["run", "--out", str(out), "--force", "--no-figures"])
    assert r.exit_code == 1 and "No space left on device" in r.output and "nothing was written" in r.output, r.output
    assert tree_digest(out) == before  # the old output, byte for byte
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.")]  # no temp dir left


def test_flow_command_prints_counts():
    with pytest.raises(ConfigError, match="mrecist.confirmm"):
        load_config(overrides={"mrecist": {"confirmm": False}})
    r = runner.invoke(app, ["flow", str(hccstudy.example_study_path())])
    assert r.exit_code == 0
    assert "Screened" in r.output and "20" in r.output and "11" in r.output


def test_shipped_example_matches_its_generator(tmp_path):
    write_example(tmp_path)
    shipped = hccstudy.example_study_path()
    for centre in ("alpha", "beta"):
        for f in (shipped / centre).glob("*.csv"):
            assert filecmp.cmp(f, tmp_path / centre / f.name, shallow=False), f


def test_data_model_doc_is_in_sync():
    assert (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8") == render_data_model()


def test_centre_with_only_a_patients_file(tmp_path):
    """No cycles, treatment, labs, imaging or AEs at all: no crash, every patient NE and no arm."""
    (tmp_path / "alpha").mkdir()
    src = hccstudy.example_study_path() / "alpha" / "patients.csv"
    (tmp_path / "alpha" / "patients.csv").write_bytes(src.read_bytes())
    s = hccstudy.load_study(tmp_path)
    assert len(s.patients) == 8 and len(s.analysis) == 0
    assert (s.patients["bor"] == "NE").all()
    assert s.patients["haic_cycles"].eq(0).all()
    flow = s.flow.set_index(["step", "criterion"])["n"]
    assert flow[("excluded", "regimen")] == 4  # the others fail an earlier criterion first
    assert s.lab_toxicity.empty and s.timepoints.empty
