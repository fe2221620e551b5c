"""The examples of docs/config.md (Centres) and docs/data-model.md (Your own study) run as written."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import hccstudy
from hccstudy._yaml import load_yaml
from hccstudy.cli import app
from hccstudy.config import load_config

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _section(doc: str, heading: str) -> str:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    start = text.index(heading)
    nxt = text.find("\n## ", start + len(heading))
    return text[start: nxt if nxt >= 0 else len(text)]


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


def test_config_md_centres_example_maps_a_renamed_centre(tmp_path: Path):
    """The YAML of docs/config.md, Centres, on a centre east written with those names, codes and units."""
    (block,) = _blocks(_section("config.md", "## Centres"), "yaml")
    cfg = load_config(overrides=load_yaml(block))
    study = tmp_path / "study"
    shutil.copytree(hccstudy.example_study_path(), study)
    shutil.rmtree(study / "alpha")
    (study / "gamma.xlsx").unlink()
    (study / "beta").rename(study / "east")
    p = pd.read_csv(study / "east/patients.csv", dtype=str, keep_default_na=False)
    p = p.rename(columns={"patient_id": "PatientID", "ecog": "ECOG_PS", "sex": "Gender"})
    p["Gender"] = p["Gender"].map({"male": "M", "female": "2"})
    p["hbv"] = p["hbv"].map({"yes": "pos", "no": "neg"})
    p.drop(columns=["bilirubin_unit", "albumin_unit"]).to_csv(study / "east/patients.csv", index=False)
    labs = pd.read_csv(study / "east/labs.csv", dtype=str, keep_default_na=False).rename(columns={"test": "Analyte"})
    labs["Analyte"] = labs["Analyte"].replace({"bilirubin": "TBIL"})
    labs.to_csv(study / "east/labs.csv", index=False)
    mapped = hccstudy.load_study(study, cfg)
    plain = hccstudy.load_study(hccstudy.example_study_path())
    beta = plain.analysis[plain.analysis["centre"] == "beta"].reset_index(drop=True)
    got = mapped.analysis.drop(columns=["centre", "source_file"])
    pd.testing.assert_frame_equal(got, beta.drop(columns=["centre", "source_file"]))


def test_data_model_own_study_commands_run_as_written(tmp_path: Path, monkeypatch):
    """Each line of the section's bash blocks, in order: `hccstudy ...` in process (exit 0), others in bash."""
    section = _section("data-model.md", "## Your own study")
    blocks = _blocks(section, "bash")
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    for line in "\n".join(blocks).splitlines():
        if line.startswith("hccstudy "):
            result = runner.invoke(app, shlex.split(line)[1:])
            assert result.exit_code == 0, f"{line}: {result.output}"
        elif line.strip() and not line.startswith("#"):
            done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{line}: {done.stderr}"
    assert (tmp_path / "mystudy/study-mapped.yaml").is_file()
    assert runner.invoke(app, ["validate", str(tmp_path / "mystudy")]).exit_code == 0
