"""Each validation rule, triggered by a bad file: clear message, exit code 2, input unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import hccstudy
from hccstudy.cli import app
from hccstudy.schema import StudyInputError, ingest

runner = CliRunner()


def _edit_csv(path: Path, fn) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = fn(df)
    df.to_csv(path, index=False, lineterminator="\n")


def _set(row: int, col: str, value):
    def fn(df):
        df.loc[row, col] = value
        return df
    return fn


CASES = [
    # (id, file, edit, expected rule, expected column, expected row)
    ("type_number", "alpha/patients.csv", _set(0, "albumin", "forty"), "type", "albumin", 2),
    ("type_date", "alpha/patients.csv", _set(1, "first_haic_date", "15/07/2019"), "type", "first_haic_date", 3),
    ("type_bool", "alpha/patients.csv", _set(2, "hbv", "maybe"), "type", "hbv", 4),
    ("type_category", "alpha/patients.csv", _set(0, "ascites", "lots"), "type", "ascites", 2),
    ("type_int", "alpha/patients.csv", _set(0, "ecog", "1.5"), "type", "ecog", 2),
    ("range", "alpha/patients.csv", _set(0, "height_cm", "17"), "range", "height_cm", 2),
    ("unit", "beta/patients.csv", _set(0, "bilirubin_unit", "mmol/dL"), "unit", "bilirubin_unit", 2),
    ("lab_unit", "alpha/labs.csv", _set(0, "unit", "furlongs"), "unit", "unit", 2),
    ("required", "alpha/haic_cycles.csv", _set(0, "date", ""), "required", "date", 2),
    ("duplicate", "alpha/patients.csv", _set(1, "patient_id", "A01"), "duplicate", "patient_id", 3),
    ("orphan", "alpha/systemic.csv", _set(0, "patient_id", "Z99"), "orphan", "patient_id", 2),
    ("centre_mismatch", "alpha/patients.csv", lambda df: df.assign(centre="beta"), "centre_mismatch", "centre", 2),
    ("death_before_haic", "alpha/patients.csv", _set(0, "death_date", "2019-01-01"), "date_order", "death_date", 2),
    ("followup_after_death", "alpha/patients.csv", _set(0, "last_followup_date", "2030-01-01"), "date_order", "last_followup_date", 2),
    ("cycle_before_diagnosis", "alpha/patients.csv", _set(0, "diagnosis_date", "2019-03-20"), "date_order", "first_haic_date", 2),
    ("first_haic_mismatch", "alpha/patients.csv", _set(0, "first_haic_date", "2019-03-01"), "first_haic_mismatch", "first_haic_date", 2),
    ("cycle_order", "alpha/haic_cycles.csv", _set(1, "date", "2019-03-04"), "cycle_order", "date", 3),
    ("stop_before_start", "alpha/systemic.csv", _set(0, "stop_date", "2019-01-01"), "date_order", "stop_date", 2),
    ("agent_class", "alpha/systemic.csv", _set(0, "drug_class", "pd1"), "agent_class", "drug_class", 2),
    ("lab_after_death", "alpha/labs.csv", _set(0, "date", "2030-01-01"), "date_order", "date", 2),
    ("lesion_measure", "alpha/assessments.csv", _set(0, "viable_diameter_mm", ""), "lesion_measure", "viable_diameter_mm", 2),
    ("missing_column", "alpha/haic_cycles.csv", lambda df: df.drop(columns=["cycle"]), "missing_column", "cycle", -1),
]


def _spy(monkeypatch, module, name: str, real) -> list:
    """Replace ``module.name`` by ``real`` wrapped to record what each call returned or raised: a test
    reads what a command's own call computed instead of computing it again (each ingest of the example
    costs about a CPU-second)."""
    seen = []

    def spy(*args, **kwargs):
        try:
            seen.append(real(*args, **kwargs))
        except Exception as exc:
            seen.append(exc)
            raise
        return seen[-1]

    monkeypatch.setattr(module, name, spy, raising=False)
    return seen


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule_fires_with_location_and_exit_code(example_copy: Path, case, tree_digest, monkeypatch):
    """The rule's issue names file, centre, row and column; `hccstudy validate` exits 2 naming the rule (its
    issues are the report of its own :func:`ingest` call, read here); :func:`hccstudy.load_study` refuses
    (the call that `hccstudy run` makes, which exits 2 and writes nothing); the input is unchanged."""
    import hccstudy.cli
    import hccstudy.pipeline

    _id, rel, edit, rule, column, row = case
    _edit_csv(example_copy / rel, edit)
    before = tree_digest(example_copy)
    ingested = _spy(monkeypatch, hccstudy.cli, "ingest", ingest)  # `validate` takes it from the cli module
    result = runner.invoke(app, ["validate", str(example_copy)])
    assert result.exit_code == 2, result.output
    assert rule in result.output
    assert len(ingested) == 1 and not isinstance(ingested[0], Exception), ingested
    report = ingested[0].report
    hits = report.errors[(report.errors["rule"] == rule) & (report.errors["column"] == column)]
    assert len(hits) >= 1, report.errors.to_string()
    hit = hits[hits["row"] == row].iloc[0]  # a duplicate is reported on each of its rows
    assert hit["file"] == rel
    assert hit["centre"] == rel.split("/")[0]
    assert hit["message"]
    if rule == "date_order":  # typed dates are reported as the user wrote them: YYYY-MM-DD
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", hit["value"]), hit["value"]
    # load_study refuses and the CLI run writes nothing
    loaded = _spy(monkeypatch, hccstudy.pipeline, "load_study", hccstudy.pipeline.load_study)
    out = example_copy.parent / "out"
    result = runner.invoke(app, ["run", str(example_copy), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()
    assert len(loaded) == 1 and isinstance(loaded[0], hccstudy.StudyInputError), loaded
    assert loaded[0].report.n_errors >= 1
    assert tree_digest(example_copy) == before  # input files never modified


def test_clean_example_has_no_errors_and_validate_exits_zero():
    report = ingest(hccstudy.example_study_path()).report
    assert report.ok
    assert set(report.warnings["rule"]) == {"missing_value"}
    result = runner.invoke(app, ["validate", str(hccstudy.example_study_path())])
    assert result.exit_code == 0, result.output


def test_warnings_only_exit_zero(example_copy: Path):
    _edit_csv(example_copy / "alpha/patients.csv", lambda df: df.assign(favourite_colour="blue"))
    report = ingest(example_copy).report
    w = report.warnings
    assert ((w["rule"] == "unknown_column") & (w["column"] == "favourite_colour")).any()
    assert runner.invoke(app, ["validate", str(example_copy)]).exit_code == 0


def test_unknown_agent_is_a_warning_and_empty_rows_are_counted(example_copy: Path):
    _edit_csv(example_copy / "alpha/systemic.csv", _set(0, "agent", "newmab"))
    p = example_copy / "alpha/patients.csv"
    p.write_text(p.read_text() + ",,,,\n")
    report = ingest(example_copy).report
    assert report.ok
    assert ((report.warnings["rule"] == "agent_class") & (report.warnings["column"] == "agent")).any()
    assert (report.warnings["rule"] == "empty_row").sum() == 1


def test_missing_patients_file_and_unreadable_file(example_copy: Path):
    (example_copy / "alpha/patients.csv").unlink()
    (example_copy / "beta/labs.csv").write_bytes(b"\xff\xfe\x00garbage")
    report = ingest(example_copy).report
    assert "missing_patients" in set(report.errors["rule"])
    assert "unreadable_file" in set(report.errors["rule"])


def test_excel_rows_are_reported_with_sheet_and_row(example_copy: Path):
    path = example_copy / "gamma.xlsx"
    sheets = pd.read_excel(path, sheet_name=None)
    sheets["patients"].loc[2, "ecog"] = 9
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    err = ingest(example_copy).report.errors
    hit = err[err["rule"] == "range"].iloc[0]
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == ("gamma.xlsx[patients]", 4, "ecog", "9")


def test_parquet_file_is_read_with_provenance(example_copy: Path):
    res = ingest(example_copy)
    cyc = res.tables["haic_cycles"]
    beta = cyc[cyc["centre"] == "beta"]
    assert (beta["source_file"] == "beta/haic_cycles.parquet").all()
    assert beta["source_row"].min() == 1


def test_not_a_study_folder(tmp_path: Path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "study folder not found" in result.output


def test_missing_analysis_column_is_an_error_not_a_silent_exclusion(example_copy: Path, tree_digest):
    """A column the analysis needs, absent from a whole file, would exclude every patient of the file as
    "incomplete"; it is an error naming centre, file and column, with nothing written."""
    _edit_csv(example_copy / "beta/patients.csv", lambda df: df.drop(columns=["hbv"]))
    with pytest.raises(StudyInputError) as exc:
        hccstudy.load_study(example_copy)
    e = exc.value.report.errors
    hit = e[(e["rule"] == "missing_column") & (e["column"] == "hbv")]
    assert len(hit) == 1 and hit.iloc[0]["file"] == "beta/patients.csv" and hit.iloc[0]["centre"] == "beta"
    assert "did you mean" not in hit.iloc[0]["message"]  # no header of the file is close to hbv


def test_misnamed_required_column_suggests_the_files_own_header(example_copy: Path, tree_digest, tmp_path: Path):
    _edit_csv(example_copy / "alpha/patients.csv", lambda df: df.rename(columns={"ecog": "ECOG_PS"}))
    before = tree_digest(example_copy)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(example_copy), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "missing_column" in text and "'ecog'" in text and "did you mean 'ecog_ps'" in text.casefold()
    assert "alpha/patients.csv" in text
    assert not out.exists() and tree_digest(example_copy) == before
