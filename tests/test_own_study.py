"""Issue 11, end to end: a study in the centres' own column names and codes, with its own plan.

Two centres of the synthetic cohort rename columns and recode values; study.yaml maps them back,
changes the plan (caliper 0.1, another propensity-score covariate set, a fourth landmark) and adds an
eligibility criterion.  ``hccstudy run`` must then give the same ``results.json`` as the analysis of
``hccstudy analyze`` (``hccstudy.analyze``) on the derived table it wrote, with the same plan, and the
flow must count the criterion.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hccstudy.analysis import analyze
from hccstudy.cli import app
from hccstudy.synth import DEFAULT_SEED, generate, write_cohort

runner = CliRunner()
pytestmark = pytest.mark.costly  # a 1,500-patient cohort and a whole run: queued early (conftest)

PS = ["age", "sex", "afp_gt_400", "mvi", "ehs"]  # the built-in plan matches on age, sex, diameter, number, MVI, EHS
STUDY_YAML = {
    "centres": {
        "east": {"columns": {"patients": {"PatientID": "patient_id", "ECOG_PS": "ecog", "Gender": "sex", "HBV": "hbv"},
                             "labs": {"PatientID": "patient_id"}},
                 "values": {"sex": {"M": "male", "F": "female"}, "hbv": {"Y": "yes", "N": "no"}}},
        "north": {"columns": {"patients": {"Max diameter (cm)": "max_diameter_cm", "Macrovascular invasion": "mvi"}},
                  "values": {"mvi": {"present": "yes", "absent": "no"}}},
    },
    "eligibility": {"extra": [{"name": "age_18_75", "keep": "age >= 18 and age <= 75"}]},
    "analysis": {
        "matching": {"caliper": 0.1, "on": PS},
        "endpoints": [
            {"name": "os", "time": "os_months", "event": "os_event", "unit": "months", "landmarks": [6, 12, 24, 36]},
            {"name": "pfs", "time": "pfs_months", "event": "pfs_event", "unit": "months", "landmarks": [6, 12, 24, 36]},
        ],
        # every sensitivity method still runs (in run and in analyze, compared byte for byte), with fewer
        # replicates than the built-in 1,000 bootstrap samples and 20 imputations: the same code paths,
        # a fraction of the time (the built-in numbers: the built-in study's tests)
        "sensitivity": {"bootstrap": {"replicates": 100}, "imputation": {"m": 5}},
    },
}


def _rewrite(path: Path, columns: dict[str, str], values: dict[str, dict[str, str]]) -> None:
    """The centre's own names and codes: rename columns (field -> theirs) and recode values."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col, codes in values.items():
        df[col] = df[col].replace(codes)
    df.rename(columns=columns).to_csv(path, index=False, lineterminator="\n")


@pytest.fixture(scope="module")
def own_study(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("own")
    study = root / "study"
    write_cohort(generate(DEFAULT_SEED, 1500), study)
    _rewrite(study / "east" / "patients.csv",
             {"patient_id": "PatientID", "ecog": "ECOG_PS", "sex": "Gender", "hbv": "HBV"},
             {"sex": {"male": "M", "female": "F"}, "hbv": {"yes": "Y", "no": "N"}})
    _rewrite(study / "east" / "labs.csv", {"patient_id": "PatientID"}, {})
    _rewrite(study / "north" / "patients.csv", {"max_diameter_cm": "Max diameter (cm)", "mvi": "Macrovascular invasion"},
             {"mvi": {"yes": "present", "no": "absent"}})
    config = root / "study.yaml"
    config.write_text(yaml.safe_dump(STUDY_YAML, sort_keys=False), encoding="utf-8")
    return study, config


def test_without_the_mapping_the_study_is_refused_with_a_suggestion(own_study, tmp_path):
    study, _ = own_study
    r = runner.invoke(app, ["run", str(study), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert "ECOG_PS" in r.output and "ecog" in r.output
    assert not (tmp_path / "out").exists()


def test_run_equals_analyze_on_its_derived_table_with_the_same_plan(own_study, tmp_path):
    study, config = own_study
    out = tmp_path / "run"
    r = runner.invoke(app, ["run", str(study), "--config", str(config), "--out", str(out), "--quiet",
                            "--no-figures"])  # the figures are the built-in run's tests
    assert r.exit_code == 0, r.output
    res_run = json.loads((out / "results.json").read_text())

    # the flow counts the extra criterion under its name, after the built-in ones
    flow = pd.read_csv(out / "flow.csv")
    assert "age_18_75" in flow["label"].tolist(), flow
    n_failing = pd.read_csv(out / "exclusions.csv").set_index("label").loc["age_18_75", "n_failing"]
    assert n_failing > 0  # the criterion really excluded patients (ages in the cohort reach beyond 75)
    # the plan was the study's: its covariate set, caliper and landmarks
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["analysis_config"]["matching"]["caliper"] == 0.1
    assert manifest["analysis_config"]["matching"]["on"] == PS
    coefs = set(res_run["propensity"]["coefficients"])
    assert coefs - {"(Intercept)"} == {"age", "sexmale", "afp_gt_400", "mvi", "ehs"}, coefs
    assert [lm["time"] for lm in res_run["endpoints"]["os"]["matched"]["km"]["SE"]["landmarks"]] == [6, 12, 24, 36]

    # the same plan and the derived table that run wrote (without hccstudy's own .hcc_ columns) -> analyze
    table = pd.read_parquet(out / "analysis_table.parquet")
    table = table[[c for c in table.columns if not c.startswith(".hcc_")]]
    table.to_parquet(tmp_path / "derived.parquet", index=False)
    plan = yaml.safe_load(json.dumps(manifest["analysis_config"]))
    plan["data"] = "derived.parquet"
    (tmp_path / "analyze.yaml").write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    # results.json of `hccstudy analyze` is Results.to_json() of this call (analysis/write.py); the call
    # skips the report's figures, which this comparison does not need (the CLI's analyze: test_analysis).
    # `run` also hands the multiple-imputation analysis the patients the cohort excluded only for a
    # missing baseline covariate (supplement=): give analyze the same rows
    from hccstudy.cohort.study import load_study
    from hccstudy.config import load_config
    from hccstudy.pipeline import _mi_supplement

    cfg = load_config(config)
    _, supplement = _mi_supplement(load_study(study, cfg), cfg.analysis)
    assert supplement is not None and len(supplement) > 0  # the plan runs mi_psm and some patients come back
    assert analyze(tmp_path / "analyze.yaml", supplement=supplement).to_json().encode("utf-8") == \
        (out / "results.json").read_bytes()
