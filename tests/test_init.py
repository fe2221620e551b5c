"""`hccstudy init`: the skeleton, and templates that `validate` accepts once filled (CSV and Excel)."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import hccstudy
from hccstudy.cli import app
from hccstudy.cohort.skeleton import study_yaml
from hccstudy.config import StudyConfig, load_config
from hccstudy.schema import RECORD_TYPES, ingest
from hccstudy.schema.templates import template_columns

runner = CliRunner()


def _example_tables() -> dict[str, dict[str, pd.DataFrame]]:
    """The shipped example's records per centre and record type, as text (empty = missing)."""
    root = hccstudy.example_study_path()
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        out[folder.name] = {}
        for f in folder.iterdir():
            df = pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f, dtype=str, keep_default_na=False)
            out[folder.name][f.stem] = df
    for wb in root.glob("*.xlsx"):
        out[wb.stem] = pd.read_excel(wb, sheet_name=None)
    return out


@pytest.fixture(scope="module")
def example_counts() -> dict[str, int]:
    return ingest(hccstudy.example_study_path()).report.counts


def _init(tmp_path: Path) -> Path:
    study = tmp_path / "mystudy"
    result = runner.invoke(app, ["init", str(study)])
    assert result.exit_code == 0, result.output
    return study


def _validate(study: Path, counts: dict[str, int]) -> None:
    result = runner.invoke(app, ["validate", str(study), "--config", str(study / "study.yaml"), "--all"])
    assert result.exit_code == 0, result.output
    assert ingest(study).report.counts == counts
    assert "unknown_sheet" not in result.output and "unknown_column" not in result.output


def test_init_writes_the_skeleton(tmp_path: Path):
    study = _init(tmp_path)
    assert (study / "study.yaml").is_file()
    assert sorted(p.name for p in (study / "templates" / "csv").iterdir()) == sorted(f"{n}.csv" for n in RECORD_TYPES)
    header = (study / "templates/csv/patients.csv").read_text(encoding="utf-8").strip().split(",")
    assert header == template_columns(RECORD_TYPES["patients"])
    assert {"ecog", "bilirubin", "bilirubin_unit"} <= set(header)
    assert load_config(study / "study.yaml") == StudyConfig()  # all commented: the defaults
    again = tmp_path / "again"
    assert runner.invoke(app, ["init", str(again)]).exit_code == 0
    for rel in ("study.yaml", "templates/centre_template.xlsx", "templates/csv/labs.csv"):
        assert filecmp.cmp(study / rel, again / rel, shallow=False), rel  # deterministic


def test_init_refuses_a_non_empty_folder_and_never_replaces_data(tmp_path: Path):
    study = _init(tmp_path)
    result = runner.invoke(app, ["init", str(study)])
    assert result.exit_code == 2 and "not empty" in result.output
    (study / "study.yaml").write_text("name: mine\n", encoding="utf-8")
    assert runner.invoke(app, ["init", str(study), "--force"]).exit_code == 0
    assert (study / "study.yaml").read_text(encoding="utf-8") == study_yaml()
    (study / "alpha").mkdir()
    (study / "alpha/patients.csv").write_text("patient_id\nA1\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(study), "--force"])
    assert result.exit_code == 2 and "alpha/" in result.output
    assert (study / "alpha/patients.csv").read_text(encoding="utf-8") == "patient_id\nA1\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(app, ["init", str(empty)]).exit_code == 0  # an empty folder needs no --force
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x", encoding="utf-8")
    assert runner.invoke(app, ["init", str(other), "--force"]).exit_code == 2
    assert (other / "notes.txt").exists()


def test_study_yaml_uncommented_loads_to_the_defaults(tmp_path: Path):
    """Every key line of the skeleton, uncommented, is valid config and gives the defaults (centres: the example)."""
    lines = study_yaml().splitlines()
    keys = [ln[2:] for ln in lines if ln.startswith("# ") and not ln.startswith(("# hccstudy", "# Uncomment",
                                                                                "#   hccstudy", "# analysis"))]
    data = yaml.safe_load("\n".join(keys))
    assert data["centres"]["east"]["columns"]["patients"]["ECOG_PS"] == "ecog"
    cfg = load_config(overrides=data)
    assert cfg.model_dump(exclude={"centres"}) == StudyConfig().model_dump(exclude={"centres"})
    assert '# analysis: see "hccstudy plan --show"' in lines
    top = set(StudyConfig.model_fields) - {"analysis"}  # analysis: a pointer to plan --show (the plan is long)
    assert top <= set(data)  # every key of the model is in the skeleton


def test_filled_csv_templates_validate(tmp_path: Path, example_counts):
    study = _init(tmp_path)
    for centre, tables in _example_tables().items():
        (study / centre).mkdir()
        for name, df in tables.items():
            template = study / "templates/csv" / f"{name}.csv"
            shutil.copy(template, study / centre / f"{name}.csv")
            cols = pd.read_csv(study / centre / f"{name}.csv").columns
            with open(study / centre / f"{name}.csv", "a", encoding="utf-8", newline="") as fh:
                df.reindex(columns=cols).to_csv(fh, header=False, index=False, lineterminator="\n", date_format="%Y-%m-%d")
    _validate(study, example_counts)


def test_filled_excel_template_validates(tmp_path: Path, example_counts):
    study = _init(tmp_path)
    template = study / "templates/centre_template.xlsx"
    wb = openpyxl.load_workbook(template)
    ws = wb["patients"]
    assert "Allowed: male, female" in ws["C1"].comment.text and ws["C1"].value == "sex"
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert {"list", "date", "whole", "decimal"} <= kinds
    ae = wb["adverse_events"].data_validations.dataValidation
    assert any(dv.formula1.startswith("'_lists'!") for dv in ae)  # the long term list on the hidden sheet
    for centre, tables in _example_tables().items():
        wb = openpyxl.load_workbook(template)
        for name, df in tables.items():
            ws = wb[name]
            header = [c.value for c in ws[1]]
            rows = df.reindex(columns=header).astype(object).where(df.reindex(columns=header).notna(), None)
            for r in rows.itertuples(index=False):
                ws.append([None if v == "" else v for v in r])
        wb.save(study / f"{centre}.xlsx")
    _validate(study, example_counts)
