"""docs/config.md's examples run as written: its YAML blocks are valid study configs (the defaults block
gives the defaults), and the example study.yaml with its shell commands runs on the example study."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import hccstudy
from hccstudy import load_config
from hccstudy.analysis.config import load_plan
from hccstudy.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def _blocks(lang: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(DOC) if m.group(1) == lang]


def test_every_yaml_block_is_a_valid_study_config(tmp_path):
    blocks = _blocks("yaml")
    assert len(blocks) >= 2
    for i, text in enumerate(blocks):
        f = tmp_path / f"{i}.yaml"
        f.write_text(text, encoding="utf-8")
        load_config(f)
    defaults = tmp_path / "0.yaml"
    assert load_config(defaults) == load_config()  # the first block shows the defaults


@pytest.mark.costly  # a whole run with every figure: queued early (conftest)
def test_example_study_yaml_and_commands_run_as_written(tmp_path, monkeypatch):
    start = DOC.index("<!-- example study.yaml")
    study_yaml, = [m.group(2) for m in BLOCK.finditer(DOC, start) if m.group(1) == "yaml"][:1]
    commands = next(m.group(2) for m in BLOCK.finditer(DOC, start) if m.group(1) == "sh")
    monkeypatch.chdir(tmp_path)
    Path("study.yaml").write_text(study_yaml, encoding="utf-8")
    example = str(hccstudy.example_study_path())
    runner = CliRunner()
    ran = []
    for line in commands.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].startswith("EXAMPLE="):
            continue
        assert words[0] == "hccstudy", line
        words = [example if w == "$EXAMPLE" else w for w in words[1:]]
        target = None
        if ">" in words:
            words, target = words[:words.index(">")], words[words.index(">") + 1]
        r = runner.invoke(app, words)
        assert r.exit_code == 0, (line, r.output)
        if target:
            Path(target).write_text(r.stdout, encoding="utf-8")
        ran.append((words, r))
    assert [w[0] for w, _ in ran] == ["plan", "plan", "flow", "run"]
    assert load_plan("plan.yaml") == hccstudy.builtin_plan()
    shown = load_plan(yaml.safe_load(ran[1][1].stdout))
    assert shown.matching.caliper == 0.2 and shown.endpoints[0].landmarks == [6, 12, 24, 36] and shown.response is None
    assert "age_18_80" in ran[2][1].output
    out = Path("report-caliper-0.5")
    flow = pd.read_csv(out / "flow.csv", keep_default_na=False).set_index(["step", "criterion"])["n"]
    assert flow[("excluded", "age_18_80")] == 0 and flow[("included", "")] == 11  # the example: ages 39-70
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["analysis_config"]["matching"]["caliper"] == 0.5  # --set over the file's 0.2
    assert manifest["analysis_config"]["endpoints"][0]["landmarks"] == [6, 12, 24, 36]
    assert manifest["study_config"]["eligibility"]["extra"] == [{"name": "age_18_80", "keep": "18 <= age <= 80"}]
    results = json.loads((out / "results.json").read_text())
    assert "36" in json.dumps(results["endpoints"]["os"])  # the third landmark is estimated
