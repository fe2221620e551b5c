"""``hccstudy.run_study``: the whole study as one library call, returning the objects it computed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import hccstudy
from hccstudy.analysis.run import AnalysisError, Results
from hccstudy.cli import app
from hccstudy.output import OutputError
from hccstudy.schema import StudyInputError


def test_builtin_run_returns_typed_results(builtin_run):
    run = builtin_run
    assert isinstance(run, hccstudy.StudyRun) and isinstance(run.results, Results)
    assert run.synthetic and run.seed == hccstudy.synth.DEFAULT_SEED
    assert run.results.matching.n_pairs > 0 and len(run.results.matched) == 2 * run.results.matching.n_pairs
    assert int(run.study.flow["n"].iloc[0]) == 3923  # screened
    assert run.calibration is not None and {"published", "recovered", "ok"} <= set(run.calibration.columns)
    assert list(run.timings) == ["generate", "ingest", "analyze", "report"] and all(t > 0 for t in run.timings.values())
    # results.json is results.to_dict(); the manifest was written once, with every stage's timing
    assert json.loads((run.out / "results.json").read_text()) == json.loads(run.results.to_json())
    manifest = json.loads((run.out / "manifest.json").read_text())
    assert manifest["timings_s"] == {k: round(v, 3) for k, v in run.timings.items()}
    assert run.out / "report.html" in run.files and all(p.is_file() for p in run.files)
    assert not [p for p in run.out.parent.iterdir() if p.name.startswith(".report.")]  # no temporary left


@pytest.mark.costly  # two runs of the example (library and CLI): queued early (conftest)
def test_study_folder_with_config_mapping_and_progress(example_copy, tmp_path, tree_digest):
    """A study folder with a config mapping; the progress callback sees every stage (no generate).  The
    same study and config through `hccstudy run --config` give the same files byte for byte (manifest.json
    too, but for its stage timings): the CLI adds, drops and changes nothing, and a second run of the
    study is byte-identical (determinism; the built-in study runs once per session, tests/conftest.py).
    (One run of the example each way: every whole run draws every figure.)"""
    before = tree_digest(example_copy)
    seen = []
    # no figure files: the stages and the mapping are under test here, figures in test_figures*
    # every sensitivity method still runs, with fewer bootstrap replicates and imputations than the built-in
    # plan's 1,000 and 20 (they are most of this run's time; their numbers: the built-in study's tests)
    plan = {"report": {"formats": []}, "sensitivity": {"bootstrap": {"replicates": 100}, "imputation": {"m": 5}}}
    config = {"name": "Three-centre example", "analysis": plan}
    run = hccstudy.run_study(example_copy, config, tmp_path / "out",
                             progress=lambda s, label, t: seen.append((s, t is None)))
    assert seen == [("ingest", True), ("ingest", False), ("analyze", True), ("analyze", False),
                    ("report", True), ("report", False)]
    assert not run.synthetic and run.seed is None and run.calibration is None
    assert run.config.name == "Three-centre example"
    assert (tmp_path / "out" / "report.html").is_file() and not (tmp_path / "out" / "synthetic-data").exists()
    assert tree_digest(example_copy) == before  # inputs only read

    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    r = CliRunner().invoke(app, ["run", str(example_copy), "--config", str(tmp_path / "study.yaml"),
                                 "--out", str(tmp_path / "cli"), "--quiet"])
    assert r.exit_code == 0, r.output
    lib, cli = (sorted(p.relative_to(d) for p in d.rglob("*") if p.is_file()) for d in (tmp_path / "out", tmp_path / "cli"))
    assert lib == cli and len(lib) > 20, (lib, cli)
    assert set(lib) - {p.relative_to(run.out) for p in run.files} == {Path(".hccstudy-output.json")}  # + the marker
    differ = [str(f) for f in lib if f.name != "manifest.json" and (tmp_path / "out" / f).read_bytes() != (tmp_path / "cli" / f).read_bytes()]
    assert not differ, differ
    mine, theirs = (json.loads((tmp_path / k / "manifest.json").read_text()) for k in ("out", "cli"))
    assert set(mine.pop("timings_s")) == set(theirs.pop("timings_s")) == {"ingest", "analyze", "report"}
    assert mine == theirs
    assert tree_digest(example_copy) == before


def test_errors_are_exceptions_and_nothing_is_written(example_copy, tmp_path):
    p = example_copy / "alpha" / "patients.csv"
    p.write_text(p.read_text().replace("A02,female,61", "A02,female,sixty-one", 1))
    with pytest.raises(StudyInputError) as e:
        hccstudy.run_study(example_copy, out=tmp_path / "out")
    assert e.value.report.n_errors >= 1 and not (tmp_path / "out").exists()
    with pytest.raises(OutputError):
        hccstudy.run_study(example_copy, out=example_copy / "inside")  # never inside an input
    with pytest.raises(ValueError, match="seed applies only"):
        hccstudy.run_study(example_copy, out=tmp_path / "o2", seed=3)
    with pytest.raises(hccstudy.ConfigError, match="eligibility"):
        hccstudy.run_study(None, {"eligibility": {"ecog_max": 9}}, tmp_path / "o3")
    assert not (tmp_path / "o3").exists()


def test_no_patient_included_is_an_analysis_error(example_copy, tmp_path):
    with pytest.raises(AnalysisError, match="no patient was included"):
        hccstudy.run_study(example_copy, {"eligibility": {"child_pugh_classes": ["C"]}}, tmp_path / "out")
    assert not (tmp_path / "out").exists()
