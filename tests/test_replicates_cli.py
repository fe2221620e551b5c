"""--scheduler / --workers on `hccstudy run` and `analyze`: they reach the plan's sensitivity settings, a
scheduler that cannot be reached is one line and exit 1 with nothing written, and a plan without
sensitivity analyses ignores them with a note."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hccstudy import cli
from hccstudy.analysis import replicates as R

ROOT = Path(__file__).resolve().parent.parent
SENS = "sensitivity={methods: [bootstrap_psm, design_grid], bootstrap: {replicates: 12}, design_grid: {calipers: [0.2], ratios: [1], replace: [false]}}"


@pytest.fixture
def vet(tmp_path) -> Path:
    for f in ("veteran.csv", "veteran.yaml"):
        shutil.copy(ROOT / "src/hccstudy/data/veteran" / f, tmp_path / f)
    return tmp_path / "veteran.yaml"


def test_run_puts_the_options_into_the_plan(monkeypatch, tmp_path):
    import hccstudy.pipeline as pipeline

    seen = {}

    def spy(study_dir, cfg, out, **kw):
        seen["sens"] = cfg.analysis.sensitivity
        raise R.SchedulerError("sensitivity.scheduler: cannot reach the Dask scheduler at 'tcp://x:1': refused")

    monkeypatch.setattr(pipeline, "run_study", spy)
    got = CliRunner().invoke(cli.app, ["run", "--out", str(tmp_path / "o"), "--workers", "3", "--scheduler", "tcp://x:1"])
    assert (seen["sens"].workers, seen["sens"].scheduler) == (3, "tcp://x:1")
    assert got.exit_code == 1
    assert "cannot reach the Dask scheduler" in got.output and "Traceback" not in got.output
    got = CliRunner().invoke(cli.app, ["run", "--out", str(tmp_path / "o"), "--workers", "0"])
    assert got.exit_code == 2   # typer's range check: a usage error


def test_analyze_with_one_worker_writes_the_bootstrap(vet, tmp_path):
    out = tmp_path / "out"
    got = CliRunner().invoke(cli.app, ["analyze", str(vet), "--out", str(out), "--no-figures", "--workers", "1",
                                       "--set", SENS])
    assert got.exit_code == 0, got.output
    ep = json.loads((out / "results.json").read_text())["endpoints"]["os"]
    assert ep["bootstrap"]["replicates"] == 12 and ep["sensitivity"]["bootstrap_psm"]["hr"] > 0
    assert len(ep["design_grid"]) == 1


def test_analyze_unreachable_scheduler_exits_1_and_writes_nothing(vet, tmp_path, monkeypatch):
    monkeypatch.setattr(R, "CONNECT_TIMEOUT", "1s")

    out = tmp_path / "out"
    got = CliRunner().invoke(cli.app, ["analyze", str(vet), "--out", str(out), "--no-figures",
                                       "--scheduler", "tcp://127.0.0.1:9", "--set", SENS])
    assert got.exit_code == 1, got.output
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in got.output
    assert "Traceback" not in got.output and not out.exists()


def test_a_scheduler_address_with_spaces_is_a_usage_error(vet, tmp_path):
    got = CliRunner().invoke(cli.app, ["analyze", str(vet), "--out", str(tmp_path / "o"), "--scheduler", "tcp://a b:1",
                                       "--set", SENS])
    assert got.exit_code == 2 and "is not an address" in got.output and not (tmp_path / "o").exists()


def test_options_without_sensitivity_analyses_are_ignored_with_a_note(vet, tmp_path, monkeypatch):
    import hccstudy.analysis as analysis

    seen = {}

    def spy(cfg):
        seen["cfg"] = cfg
        raise analysis.AnalysisError("stop here")

    monkeypatch.setattr(cli, "run_analysis", spy, raising=False)
    got = CliRunner().invoke(cli.app, ["analyze", str(vet), "--out", str(tmp_path / "o"), "--workers", "2"])
    assert got.exit_code == 2 and seen["cfg"].sensitivity is None
    assert "--scheduler / --workers ignored" in got.output
