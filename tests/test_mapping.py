"""A centre's own column names, codes and units (config ``centres``): applied before validation, the
same derived study as with the data model's names, and every bad mapping a config error naming its key."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import hccstudy
from hccstudy.cli import app
from hccstudy.config import load_config
from hccstudy.schema import ingest

runner = CliRunner()

#: alpha (CSV): its own names for patients and labs columns, and its own codes
ALPHA_COLUMNS = {"patients": {"PatientID": "patient_id", "ECOG_PS": "ecog", "Gender": "sex", "HBsAg": "hbv",
                              "Ascites grade": "ascites"},
                 "labs": {"Pat": "patient_id", "Analyte": "test"}}
ALPHA_VALUES = {"sex": {1: "male", 2: "female"}, "hbv": {"pos": True, "neg": False},
                "ascites": {0: "none", 1: "mild", 2: "moderate_severe"}, "test": {"TBIL": "bilirubin", "ALB": "albumin"}}
#: beta (CSV): no unit columns, the units declared instead (as its files wrote them)
BETA_UNITS = {"bilirubin": "mg/dL", "albumin": "g/dL", "haemoglobin": "g/dL"}


def _edit(path: Path, fn) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df).to_csv(path, index=False, lineterminator="\n")


def _rename_alpha(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns={"patient_id": "PatientID", "ecog": "ECOG_PS", "sex": "Gender", "hbv": "HBsAg",
                            "ascites": "Ascites grade"})
    df["Gender"] = df["Gender"].map({"male": "1", "female": "2"})
    df["HBsAg"] = df["HBsAg"].map({"yes": "POS", "no": "neg"})  # codes ignore case
    df["Ascites grade"] = df["Ascites grade"].map({"none": "0", "mild": "1.0", "moderate_severe": "2"})
    return df


def _rename_labs(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns={"patient_id": "Pat", "test": "Analyte"})
    df["Analyte"] = df["Analyte"].replace({"bilirubin": "TBIL", "albumin": " alb "})
    return df


@pytest.fixture
def renamed(example_copy: Path) -> Path:
    """The example study with alpha's and beta's own column names, codes and units."""
    _edit(example_copy / "alpha/patients.csv", _rename_alpha)
    _edit(example_copy / "alpha/labs.csv", _rename_labs)
    _edit(example_copy / "beta/patients.csv", lambda df: df.drop(columns=[f"{f}_unit" for f in BETA_UNITS]))
    return example_copy


def _mapping() -> dict:
    return {"alpha": {"columns": ALPHA_COLUMNS, "values": ALPHA_VALUES}, "beta": {"units": BETA_UNITS}}


def _write_config(path: Path, centres: dict) -> Path:
    path.write_text(yaml.safe_dump({"centres": centres}, sort_keys=False), encoding="utf-8")
    return path


def test_renamed_study_with_mapping_gives_the_same_study(renamed: Path, tmp_path: Path, tree_digest):
    before = tree_digest(renamed)
    cfg_path = _write_config(tmp_path / "study.yaml", _mapping())
    result = runner.invoke(app, ["validate", str(renamed), "--config", str(cfg_path)])
    assert result.exit_code == 0, result.output
    mapped = hccstudy.load_study(renamed, cfg_path)
    plain = hccstudy.load_study(hccstudy.example_study_path())
    pd.testing.assert_frame_equal(mapped.analysis, plain.analysis)
    pd.testing.assert_frame_equal(mapped.flow, plain.flow)
    for name in ("patients", "labs"):
        pd.testing.assert_frame_equal(mapped.tables[name], plain.tables[name])
    assert tree_digest(renamed) == before  # input files never modified


def test_without_the_mapping_the_renamed_study_is_refused(renamed: Path):
    result = runner.invoke(app, ["validate", str(renamed)])  # the first 50 issues: whole-file ones come first
    assert result.exit_code == 2
    assert "did you mean 'ECOG_PS'?" in " ".join(result.output.split())


def test_issues_name_the_centres_own_column_and_an_unmapped_code_is_reported(renamed: Path):
    _edit(renamed / "alpha/patients.csv", lambda df: df.assign(**{"Gender": ["3", *df["Gender"][1:]],
                                                                  "ECOG_PS": ["0", "7", *df["ECOG_PS"][2:]]}))
    report = ingest(renamed, centres=_mapping()).report
    e = report.errors
    sex = e[e["column"] == "Gender (sex)"]
    assert list(sex[["row", "value", "rule"]].itertuples(index=False, name=None)) == [(2, "3", "type")]
    ecog = e[e["column"] == "ECOG_PS (ecog)"]
    assert list(ecog[["row", "value", "rule"]].itertuples(index=False, name=None)) == [(3, "7", "range")]
    assert set(e["file"]) == {"alpha/patients.csv"}


def test_unmapped_extra_column_stays_a_warning(renamed: Path):
    _edit(renamed / "alpha/patients.csv", lambda df: df.assign(Ward="B3"))
    report = ingest(renamed, centres=_mapping()).report
    assert report.ok
    w = report.warnings
    assert ((w["rule"] == "unknown_column") & (w["column"] == "ward")).any()


def test_mapped_column_and_a_column_under_the_fields_own_name_is_an_error(renamed: Path):
    _edit(renamed / "alpha/patients.csv", lambda df: df.assign(ecog="0"))
    e = ingest(renamed, centres=_mapping()).report.errors
    hit = e[e["rule"] == "duplicate_column"]
    assert len(hit) == 1 and "ECOG_PS" in hit.iloc[0]["message"] and "centres.alpha.columns.patients" in hit.iloc[0]["message"]


def test_declared_unit_fills_only_empty_unit_cells(example_copy: Path):
    """beta writes mg/dL in its bilirubin_unit column; declaring µmol/L changes only rows with an empty cell."""
    _edit(example_copy / "beta/patients.csv", lambda df: df.assign(bilirubin_unit=["", *df["bilirubin_unit"][1:]],
                                                                   bilirubin=["17.1", *df["bilirubin"][1:]]))
    t = ingest(example_copy, centres={"beta": {"units": {"bilirubin": "umol/L"}}}).tables["patients"]
    beta = t[t["centre"] == "beta"].reset_index(drop=True)
    assert beta.loc[0, "bilirubin_unit_reported"] == "umol/L" and beta.loc[0, "bilirubin"] == pytest.approx(17.1)
    assert (beta.loc[1:, "bilirubin_unit_reported"] == "mg/dL").all()


def test_excel_centre_mapping(example_copy: Path):
    path = example_copy / "gamma.xlsx"
    sheets = pd.read_excel(path, sheet_name=None)
    sheets["patients"] = sheets["patients"].rename(columns={"ecog": "PS"})
    sheets["patients"]["sex"] = sheets["patients"]["sex"].map({"male": 1, "female": 2})  # numbers in Excel cells
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    centres = {"gamma": {"columns": {"patients": {"PS": "ecog"}}, "values": {"sex": {"1": "male", "2": "female"}}}}
    res = ingest(example_copy, centres=centres)
    assert res.report.ok, res.report.errors.to_string()
    plain = ingest(hccstudy.example_study_path()).tables["patients"]
    g = res.tables["patients"]
    pd.testing.assert_frame_equal(g[g["centre"] == "gamma"], plain[plain["centre"] == "gamma"])


def test_a_centre_of_the_config_not_in_the_folder_is_an_error(tmp_path: Path):
    cfg = load_config(overrides={"centres": {"delta": {"columns": {"patients": {"ID": "patient_id"}}}}})
    with pytest.raises(hccstudy.StudyInputError) as exc:
        hccstudy.load_study(hccstudy.example_study_path(), cfg)
    hit = exc.value.report.errors
    hit = hit[hit["rule"] == "unknown_centre"].iloc[0]
    assert "centres.delta" in hit["message"] and "alpha, beta, gamma" in hit["message"]
    cfg_path = _write_config(tmp_path / "s.yaml", {"delta": {}})
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(hccstudy.example_study_path()), "--config", str(cfg_path), "--out", str(out)])
    assert result.exit_code == 2 and "unknown_centre" in result.output and not out.exists()


BAD = [
    ("record_type", {"columns": {"patiens": {"A": "patient_id"}}},
     "centres.east.columns.patiens: unknown record type; did you mean 'patients'?"),
    ("target_field", {"columns": {"patients": {"ECOG_PS": "ecg"}}},
     "centres.east.columns.patients.ECOG_PS: 'ecg' is not a field of patients; did you mean 'ecog'?"),
    ("two_to_one", {"columns": {"patients": {"PS": "ecog", "ECOG_PS": "ecog"}}},
     "centres.east.columns.patients.ECOG_PS: columns 'PS' and 'ECOG_PS' are both mapped to 'ecog'"),
    ("same_column_twice", {"columns": {"patients": {"PS": "ecog", "ps ": "sex"}}},
     "centres.east.columns.patients.ps: the same column as 'PS'"),
    ("not_coded", {"values": {"ecog": {"PS0": 0}}}, "centres.east.values.ecog: 'ecog' is not a coded field"),
    ("unknown_coded", {"values": {"gender": {"M": "male"}}}, "centres.east.values.gender: 'gender' is not a field"),
    ("bad_target_value", {"values": {"sex": {"M": "man"}}},
     "centres.east.values.sex.M: 'man' is not a value of sex; allowed: male, female"),
    ("bad_bool_value", {"values": {"hbv": {"+": "positive"}}}, "centres.east.values.hbv.+: 'positive' is not a value of hbv"),
    ("code_twice", {"values": {"sex": {"M": "male", "m": "female"}}}, "centres.east.values.sex.m: the same code as 'M'"),
    ("unit_not_offered", {"units": {"bilirubin": "mmol/L"}},
     "centres.east.units.bilirubin: unit 'mmol/L' is not offered for bilirubin; accepted: mg/dl, umol/l, µmol/L"),
    ("no_unit_choice", {"units": {"height_cm": "m"}}, "centres.east.units.height_cm: 'height_cm' has no unit choice"),
    ("unknown_key", {"colums": {}}, "centres.east.colums"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_mapping_is_a_config_error_naming_the_key(case, tmp_path: Path):
    _id, mapping, expected = case
    with pytest.raises(hccstudy.ConfigError) as exc:
        load_config(overrides={"centres": {"east": mapping}})
    assert expected in str(exc.value)
    with pytest.raises(hccstudy.ConfigError):
        ingest(hccstudy.example_study_path(), centres={"east": mapping})
    cfg = _write_config(tmp_path / "s.yaml", {"east": mapping})
    result = runner.invoke(app, ["validate", str(hccstudy.example_study_path()), "--config", str(cfg)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "centres.east" in " ".join(result.output.split())


def test_misnamed_required_column_is_an_error_with_suggestion_and_nothing_written(example_copy: Path, tmp_path, tree_digest):
    """patient_id (need: always) written PatientID: exit 2 naming centre, file, column and the suggestion."""
    _edit(example_copy / "alpha/haic_cycles.csv", lambda df: df.rename(columns={"patient_id": "PatientID"}))
    before = tree_digest(example_copy)
    e = ingest(example_copy).report.errors
    hit = e[(e["rule"] == "missing_column") & (e["column"] == "patient_id")]
    assert len(hit) == 1
    h = hit.iloc[0]
    assert (h["centre"], h["file"]) == ("alpha", "alpha/haic_cycles.csv")
    assert "required column 'patient_id' is missing; did you mean 'PatientID'?" in h["message"]
    assert "centres: {alpha: {columns: {haic_cycles: {PatientID: patient_id}}}}" in h["message"]
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(example_copy), "--out", str(out)])
    assert result.exit_code == 2 and "missing_column" in result.output and "Traceback" not in result.output
    assert not out.exists() and tree_digest(example_copy) == before


# --------------------------------------------------------------------------- hccstudy map
def test_map_table_and_stub_make_the_renamed_study_validate(example_copy: Path, tmp_path: Path, tree_digest):
    """Close names are suggested; the --write stub, loaded as it is, makes the study validate."""
    _edit(example_copy / "alpha/patients.csv",
          lambda df: df.rename(columns={"patient_id": "PatientID", "ecog": "ECOG_PS", "ascites": "Ascites grade"}))
    _edit(example_copy / "alpha/labs.csv", lambda df: df.rename(columns={"patient_id": "Pat"}))
    _edit(example_copy / "beta/patients.csv", lambda df: df.assign(ward="B3"))
    before = tree_digest(example_copy)
    from hccstudy.schema.columnmap import column_map

    table = column_map(example_copy)
    alpha = table[table["file"] == "alpha/patients.csv"].set_index("field")
    assert alpha.loc["ecog", ["column", "how"]].tolist() == ["ECOG_PS", "suggested"]
    assert alpha.loc["patient_id", ["column", "how"]].tolist() == ["PatientID", "suggested"]
    assert alpha.loc["sex", ["column", "how"]].tolist() == ["sex", "exact"]
    assert alpha.loc["mvi_type", "how"] == "missing" and alpha.loc["mvi_type", "need"] == "optional"
    extra = table[(table["how"] == "extra")]
    assert extra[["file", "column"]].values.tolist() == [["beta/patients.csv", "ward"]]

    cfg = tmp_path / "study.yaml"
    cfg.write_text("eligibility: {ecog_max: 1}\n", encoding="utf-8")
    stub = tmp_path / "stub.yaml"
    result = runner.invoke(app, ["map", str(example_copy), "--config", str(cfg), "--write", str(stub)])
    assert result.exit_code == 2, result.output  # required fields only suggested under the given config
    out = " ".join(result.output.split())
    assert "ecog <- ECOG_PS: suggested" in out and "alpha/patients.ecog" in out
    data = yaml.safe_load(stub.read_text(encoding="utf-8"))
    assert data["eligibility"] == {"ecog_max": 1}  # the given config is kept
    assert data["centres"]["alpha"]["columns"]["labs"] == {"Pat": "patient_id"}
    assert runner.invoke(app, ["validate", str(example_copy), "--config", str(stub)]).exit_code == 0
    result = runner.invoke(app, ["map", str(example_copy), "--config", str(stub)])
    assert result.exit_code == 0 and "ecog <- ECOG_PS: mapped in config" in " ".join(result.output.split())
    from hccstudy.config import load_config as _load

    again = column_map(example_copy, _load(stub).centres)
    assert again.loc[again["how"] == "extra", "column"].tolist() == ["ward"]  # a mapped column is not extra
    # --write never replaces a file without --force, and never the config
    assert runner.invoke(app, ["map", str(example_copy), "--write", str(stub)]).exit_code == 2
    result = runner.invoke(app, ["map", str(example_copy), "--config", str(stub), "--write", str(stub), "--force"])
    assert result.exit_code == 2 and yaml.safe_load(stub.read_text(encoding="utf-8")) == data
    assert tree_digest(example_copy) == before


def test_map_stub_marks_required_fields_without_a_suggestion(renamed: Path, tmp_path: Path):
    stub = tmp_path / "stub.yaml"
    result = runner.invoke(app, ["map", str(renamed), "--write", str(stub)])
    assert result.exit_code == 2
    text = stub.read_text(encoding="utf-8")
    assert "# TODO sex (analysis; alpha/patients.csv)" in text and "# TODO test (always; alpha/labs.csv)" in text
    cfg = load_config(stub)  # loads as written: the TODOs are comments
    assert cfg.centres["alpha"].columns["patients"]["ECOG_PS"] == "ecog"


def test_map_lists_codes_no_value_map_accepts(renamed: Path, tmp_path: Path):
    """With the columns mapped but one code left out of the value map: listed, and a TODO in the stub."""
    mapping = _mapping()
    del mapping["alpha"]["values"]["sex"][2]
    cfg = _write_config(tmp_path / "study.yaml", mapping)
    from hccstudy.schema.columnmap import unmapped_codes

    codes = unmapped_codes(renamed, load_config(cfg).centres)
    assert codes[["centre", "field", "code"]].values.tolist() == [["alpha", "sex", "2"]]
    stub = tmp_path / "stub.yaml"
    result = runner.invoke(app, ["map", str(renamed), "--config", str(cfg), "--write", str(stub)])
    assert result.exit_code == 0 and "patients.sex = '2'" in result.output
    text = stub.read_text(encoding="utf-8")
    assert "# TODO '2': <male, female>" in text
    assert load_config(stub).centres["alpha"].values["sex"] == {"1": "male"}
