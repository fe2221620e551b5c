"""Issue 10, section B (input side): every class of bad input is a clear error that says where.

Each test checks the exit code (2) or the exception (ConfigError / StudyInputError in-process), that
the message names the file and the key, or the row, column and rule, that there is no traceback, and
that the input files are unchanged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import hccstudy
from hccstudy._ranges import numeric_ranges, range_table
from hccstudy._yaml import ConfigError
from hccstudy.analysis.config import AnalysisConfig, load_analysis_config
from hccstudy.cli import app
from hccstudy.cohort.config import Units
from hccstudy.config import StudyConfig, load_config
from hccstudy.schema import ingest

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _unwrapped(output: str) -> str:
    """The output without white space: a config error is wrapped at the terminal's width (80 columns under
    CliRunner), which may break a long path (pytest-xdist's temporary folders are longer)."""
    return "".join(output.split())


def _cli(args: list[str]):
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


# --------------------------------------------------------------------------- 1. config loader guards
def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


FILE_CASES = [
    # (id, content or None for a folder, expected words in the message)
    ("impossible_day", "study:\n  data_cutoff: 2023-02-30\n", ["study.data_cutoff", "valid date"]),
    ("month_13", "study:\n  start: 2023-13-01\n", ["study.start", "valid date"]),
    ("year_0", "study:\n  end: 0000-01-01\n", ["study.end"]),
    ("latin1", "name: 'Hôpital'\n".encode("latin-1"), ["line 1", "UTF-8"]),
    ("folder", None, ["is a folder"]),
    ("deep", "a: " + "[" * 2000 + "]" * 2000 + "\n", ["nested"]),
    ("deep_block", "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n", ["nested"]),
    ("alias_bomb", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)), ["aliases"]),
    ("not_mapping", "- 1\n- 2\n", ["mapping"]),
    ("duplicate_key", "dosing:\n  cycle_days: 14\ndosing:\n  cycle_days: 21\n", ["line 3", "'dosing' given twice"]),
    ("bad_yaml", "study: [unclosed\n", ["not valid YAML"]),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_config_file_problems_are_config_errors_naming_the_file(tmp_path: Path, case):
    _id, content, words = case
    path = tmp_path / "study.yaml"
    if content is None:
        path.mkdir()
    else:
        _write(path, content)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    msg = str(exc.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg
    result = _cli(["validate", str(hccstudy.example_study_path()), "--config", str(path)])
    assert result.exit_code == 2
    assert "config error" in result.output
    if before is not None:
        assert path.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_config_fifo_and_device_are_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "study.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)
    dev = tmp_path / "dev.yaml"
    dev.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(dev)


def test_config_too_large(tmp_path: Path):
    path = _write(tmp_path / "study.yaml", "name: x\n" + "# " + "x" * (2 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)


# Values that pass the type check but are impossible or implausible: one per class of field.
VALUE_CASES = [
    ("dosing.cycle_days", {"dosing": {"cycle_days": 0}}),
    ("dosing.cycle_days", {"dosing": {"cycle_days": True}}),
    ("dosing.oxaliplatin_mg_m2", {"dosing": {"oxaliplatin_mg_m2": -85}}),
    ("dosing.bsa_cap", {"dosing": {"bsa_cap": float("inf")}}),
    ("dosing.bsa_round", {"dosing": {"bsa_round": 1e-12}}),
    ("dosing.fluorouracil_mg_m2", {"dosing": {"fluorouracil_mg_m2": 1e-12}}),
    ("arm.si_window_days", {"arm": {"si_window_days": 10**23}}),
    ("arm.pre_haic_tolerance_days", {"arm": {"pre_haic_tolerance_days": -1}}),
    ("arm.first_cycle_days", {"arm": {"first_cycle_days": True}}),
    ("eligibility.order", {"eligibility": {"order": []}}),
    ("eligibility.ecog_max", {"eligibility": {"ecog_max": -1}}),
    ("eligibility.ecog_max", {"eligibility": {"ecog_max": 6}}),
    ("eligibility.child_pugh_classes", {"eligibility": {"child_pugh_classes": []}}),
    ("endpoints.days_per_month", {"endpoints": {"days_per_month": 0}}),
    ("endpoints.days_per_month", {"endpoints": {"days_per_month": float("nan")}}),
    ("units.bilirubin_factor", {"units": {"bilirubin_factor": -17.1}}),
    ("units.bilirubin_factor", {"units": {"bilirubin_factor": 1.0}}),
    ("albi.coefficient", {"albi": {"coefficient": 0.085}}),
    ("albi.coefficient", {"albi": {"coefficient": float("-inf")}}),
    ("mrecist.confirm_days", {"mrecist": {"confirm_days": 0}}),
    ("mrecist.sd_min_days", {"mrecist": {"sd_min_days": -42}}),
    ("mrecist.new_lesion_min_mm", {"mrecist": {"new_lesion_min_mm": True}}),
    ("mrecist.pd_absolute_mm", {"mrecist": {"pd_absolute_mm": 0}}),
    ("ctcae.window_days_after_last_haic", {"ctcae": {"window_days_after_last_haic": 10**23}}),
    ("ctcae.limits", {"ctcae": {"limits": {"gamma_gt": {"uln": 50}}}}),
    ("ctcae.limits.alt.uln", {"ctcae": {"limits": {"alt": {"uln": -40}}}}),
    ("ctcae.limits.platelets.lln", {"ctcae": {"limits": {"platelets": {"lln": 0}}}}),
    ("ctcae.limits", {"ctcae": {"limits": {"alt": {"lln": 10}}}}),
    ("ctcae.limits", {"ctcae": {"limits": {"alt": {}}}}),
    ("ctcae.limits", {"ctcae": {"limits": {"bilirubin": {"uln": 1e300}}}}),
    ("study.start", {"study": {"start": "1850-01-01"}}),
    ("study.data_cutoff", {"study": {"data_cutoff": "2263-01-01"}}),
    ("name", {"name": "x" * (2 << 20)}),
]


@pytest.mark.parametrize("key,override", VALUE_CASES, ids=[f"{k}={list(v.values())[0]}" for k, v in VALUE_CASES])
def test_config_values_outside_their_range_name_the_key(key: str, override: dict):
    with pytest.raises(ConfigError) as exc:
        load_config(None, override)
    assert str(exc.value).startswith(key), str(exc.value)


def test_config_value_errors_exit_2_naming_file_and_key(tmp_path: Path, tree_digest):
    cfg = _write(tmp_path / "study.yaml", "dosing:\n  cycle_days: 0\nendpoints:\n  days_per_month: .nan\n")
    study = hccstudy.example_study_path()
    before = tree_digest(study)
    for cmd in (["validate", str(study)], ["flow", str(study)], ["run", str(study), "--out", str(tmp_path / "out")]):
        result = _cli([*cmd, "--config", str(cfg)])
        assert result.exit_code == 2
        assert str(cfg) in _unwrapped(result.output) and "dosing.cycle_days" in result.output
        assert "endpoints.days_per_month" in result.output
    assert not (tmp_path / "out").exists()
    assert tree_digest(study) == before


def test_defaults_and_documented_values_are_accepted():
    cfg = load_config(None, {"units": {"bilirubin_factor": 17.104}, "albi": {"coefficient": -0.0852},
                             "ctcae": {"limits": {"alt": {"uln": 50}, "haemoglobin": {"lln": 120}}},
                             "dosing": {"bsa_cap": 2.0, "bsa_round": 0.01}, "mrecist": {"pd_absolute_mm": 5}})
    assert cfg.ctcae.limits["alt"]["uln"] == 50


ANALYSIS_BASE = {"data": "x.csv", "id": "id", "arm": {"column": "a", "treated": 1, "control": 0}, "covariates": ["x"]}
ANALYSIS_CASES = [
    ("matching.caliper", {"matching": {"on": ["x"], "caliper": 0}}),
    ("matching.caliper", {"matching": {"on": ["x"], "caliper": float("inf")}}),
    ("matching.ratio", {"matching": {"on": ["x"], "ratio": 0}}),
    ("matching.ratio", {"matching": {"on": ["x"], "ratio": True}}),
    ("matching.seed", {"matching": {"on": ["x"], "seed": -1}}),
    ("table1.digits", {"table1": {"digits": -1}}),
    ("table1.p_digits", {"table1": {"p_digits": 0}}),
    ("table1.fisher_expected_below", {"table1": {"fisher_expected_below": 0}}),
    ("table1.fisher_expected_below", {"table1": {"fisher_expected_below": float("nan")}}),
    ("endpoints.0.landmarks.1", {"endpoints": [{"name": "os", "time": "t", "event": "e", "landmarks": [6, float("inf")]}]}),
    ("endpoints.0.landmarks.0", {"endpoints": [{"name": "os", "time": "t", "event": "e", "landmarks": [-6]}]}),
    ("subgroups.0", {"subgroups": [{"variable": "x", "cut": float("nan")}]}),
    ("cox.select_p", {"cox": {"select_p": True}}),
    ("km.conf_level", {"km": {"conf_level": 1.0}}),
    ("km.conf_level", {"km": {"conf_level": 1e-12}}),
    ("matching.on", {"matching": {"on": []}}),
    ("matching.on", {"matching": {"on": ["x", "x"]}}),
]


@pytest.mark.parametrize("key,override", ANALYSIS_CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(ANALYSIS_CASES)])
def test_analysis_config_values_outside_their_range_name_the_key(key: str, override: dict):
    with pytest.raises(ConfigError) as exc:
        load_analysis_config({**ANALYSIS_BASE, **override})
    assert str(exc.value).startswith(key), str(exc.value)


def test_analyze_cli_bad_value_and_folder_config_exit_2(tmp_path: Path):
    cfg = _write(tmp_path / "a.yaml", "data: x.csv\nid: id\narm: {column: a, treated: 1, control: 0}\n"
                                      "covariates: [x]\ntable1: {digits: -1}\n")
    result = _cli(["analyze", str(cfg), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert str(cfg) in _unwrapped(result.output) and "table1.digits" in result.output
    result = _cli(["analyze", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "folder" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", [StudyConfig, AnalysisConfig])
def test_every_config_number_has_a_range(model):
    rows = numeric_ranges(model)
    assert rows
    unbounded = [k for k, _t, r in rows if r == "any" or not r.startswith(("[", "("))]
    assert not unbounded, f"config numbers without a documented range: {unbounded}"


@pytest.mark.parametrize("model,doc", [(StudyConfig, "docs/config.md"), (AnalysisConfig, "docs/analyze.md")])
def test_range_tables_in_the_docs_match_the_models(model, doc: str):
    text = (ROOT / doc).read_text(encoding="utf-8")
    m = re.search(r"<!-- ranges:start[^>]*-->\n(.*?)<!-- ranges:end -->", text, re.S)
    assert m, f"{doc} has no ranges table"
    assert m.group(1) == range_table(model)


# --------------------------------------------------------------------------- 2-4. data files: shapes, locations, hangs
def _ingest_errors(study: Path) -> pd.DataFrame:
    return ingest(study).report.errors


def _validate_cli(study: Path):
    """``hccstudy validate --csv``: exit 2, no traceback; returns (errors as written to the CSV, output).
    One ingest per check keeps these tests fast (the in-process API is the same function)."""
    issues_csv = study.parent / "issues.csv"
    result = _cli(["validate", str(study), "--all", "--csv", str(issues_csv)])
    assert result.exit_code == 2, result.output
    issues = pd.read_csv(issues_csv, dtype=str, keep_default_na=False).astype({"row": "int64"})
    return issues[issues["severity"] == "error"], result.output


def _assert_refused(study: Path, tree_digest, before: dict, rule: str, file: str, words=()) -> pd.Series:
    """validate reports ``rule`` on ``file`` and exits 2 without a traceback; inputs unchanged."""
    err, output = _validate_cli(study)
    hits = err[(err["rule"] == rule) & (err["file"] == file)]
    assert len(hits) >= 1, err.to_string()
    hit = hits.iloc[0]
    for w in words:
        assert w in hit["message"], hit["message"]
    assert rule in output
    assert tree_digest(study) == before
    return hit


def _csv_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("header_change", [
    lambda h: h.replace("sex", "sex,SEX", 1),
    lambda h: h + ", Patient_ID ",
    lambda h: h.replace("ecog", "ecog,ecog", 1),
], ids=["case", "spaces", "conflicting_copy"])
def test_duplicate_columns_after_folding_are_an_error_naming_both(example_copy: Path, tree_digest, header_change):
    path = example_copy / "alpha/patients.csv"
    lines = _csv_text(path).splitlines()
    header = header_change(lines[0])
    added = header.count(",") - lines[0].count(",")
    if "ecog,ecog" in header:  # a second ecog column that disagrees with the first
        i = lines[0].split(",").index("ecog")
        body = []
        for line in lines[1:]:
            cells = line.split(",")
            body.append(",".join([*cells[: i + 1], "4", *cells[i + 1:]]))
    elif header.endswith("Patient_ID "):
        body = [line + ",X" for line in lines[1:]]
    else:
        i = lines[0].split(",").index("sex")
        body = [",".join([*line.split(",")[: i + 1], line.split(",")[i], *line.split(",")[i + 1:]]) for line in lines[1:]]
    assert added == 1
    path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "duplicate_column", "alpha/patients.csv")
    assert hit["message"].count("column ") >= 2  # both columns named, with their positions
    with pytest.raises(hccstudy.StudyInputError):  # and the study is not loaded with the first copy
        hccstudy.load_study(example_copy)


def test_duplicate_column_in_a_workbook_sheet(example_copy: Path, tree_digest):
    path = example_copy / "gamma.xlsx"
    sheets = pd.read_excel(path, sheet_name=None)
    sheets["patients"]["ECOG "] = 3
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "duplicate_column", "gamma.xlsx[patients]")
    assert "'ECOG '" in hit["message"] and "'ecog'" in hit["message"]


def test_row_after_a_quoted_newline_is_the_file_line(example_copy: Path, tree_digest):
    path = example_copy / "alpha/patients.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["note"] = ["first line\nsecond line", "", "a\nb\nc", *[""] * (len(df) - 3)]
    df.loc[3, "albumin"] = "forty"  # record 5 in the file; lines 1 + 2 + 1 + 3 before it -> line 8
    df.to_csv(path, index=False, lineterminator="\n")
    before = tree_digest(example_copy)
    err = _ingest_errors(example_copy)
    hit = err[(err["rule"] == "type") & (err["column"] == "albumin")].iloc[0]
    assert hit["row"] == 8
    assert _csv_text(path).splitlines()[7].split(",")[0] == df.loc[3, "patient_id"]
    assert tree_digest(example_copy) == before


def test_encoding_error_gives_the_line(example_copy: Path, tree_digest):
    path = example_copy / "alpha/labs.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3] + b",\xe9"  # latin-1 e-acute on line 4
    path.write_bytes(b"\n".join(lines))
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "unreadable_file", "alpha/labs.csv", ["line 4", "UTF-8"])
    assert hit["row"] == 4
    assert "position" not in hit["message"]


def test_duplicate_centre_names_both_files(example_copy: Path, tree_digest):
    (example_copy / "alpha.xlsx").write_bytes((example_copy / "gamma.xlsx").read_bytes())
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "duplicate_centre", "alpha/ and alpha.xlsx")
    assert "alpha/" in hit["message"] and "alpha.xlsx" in hit["message"]


def test_long_values_are_cut_in_messages(example_copy: Path, tree_digest):
    path = example_copy / "alpha/patients.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[0, "albumin"] = "9" * 100 + "x" * (2 << 20)
    df.to_csv(path, index=False, lineterminator="\n")
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "type", "alpha/patients.csv")
    assert len(hit["value"]) < 300 and "characters" in hit["value"]
    assert len(_validate_cli(example_copy)[1]) < 20000


class _Alarm:
    """Fail instead of hanging: SIGALRM after ``seconds``."""

    def __init__(self, seconds: int):
        self.seconds = seconds

    def __enter__(self):
        import signal

        def boom(*_):
            raise TimeoutError("input reading hung")
        self.old = signal.signal(signal.SIGALRM, boom)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        import signal
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)
        return False


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
def test_fifo_and_device_inputs_are_refused_not_read(example_copy: Path):
    (example_copy / "alpha/patients.csv").unlink()
    os.mkfifo(example_copy / "alpha/patients.csv")
    (example_copy / "beta/labs.csv").unlink()
    (example_copy / "beta/labs.csv").symlink_to("/dev/zero")
    with _Alarm(20):
        err = _ingest_errors(example_copy)
        result = _cli(["validate", str(example_copy)])
    fifo = err[(err["rule"] == "unreadable_file") & (err["file"] == "alpha/patients.csv")]
    dev = err[(err["rule"] == "unreadable_file") & (err["file"] == "beta/labs.csv")]
    assert "FIFO" in fifo.iloc[0]["message"] and "device" in dev.iloc[0]["message"]
    assert result.exit_code == 2


def _rewrite_xlsx(path: Path, change) -> None:
    import zipfile
    data = {}
    with zipfile.ZipFile(path) as zin:
        infos = zin.infolist()
        for i in infos:
            data[i.filename] = change(i.filename, zin.read(i.filename))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for i in infos:
            zout.writestr(i.filename, data[i.filename])


@pytest.mark.parametrize("bomb", ["comment", "ratio"])
def test_workbook_bombs_are_refused_before_parsing(example_copy: Path, tree_digest, bomb: str):
    path = example_copy / "gamma.xlsx"

    def change(name: str, b: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return b
        if bomb == "comment":
            return b.replace(b"<sheetData>", b"<!--" + b"x" * 1000 + b"--><sheetData>")
        return b.replace(b"</worksheet>", b"<extLst>" + b" " * (8 << 20) + b"</extLst></worksheet>")

    _rewrite_xlsx(path, change)
    before = tree_digest(example_copy)
    with _Alarm(30):
        hit = _assert_refused(example_copy, tree_digest, before, "unreadable_file", "gamma.xlsx")
    assert ("XML comment" if bomb == "comment" else "decompression bomb") in hit["message"]


# --------------------------------------------------------------------------- 2. values: non-finite, ranges, dates
def _edit(path: Path, fn) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df)
    df.to_csv(path, index=False, lineterminator="\n")


def _set(row: int, col: str, value: str):
    def fn(df):
        df.loc[row, col] = value
    return fn


def _check_hit(study: Path, tree_digest, rule: str, file: str, row: int, column: str, words=()) -> pd.Series:
    before = tree_digest(study)
    err, output = _validate_cli(study)
    hits = err[(err["rule"] == rule) & (err["file"] == file) & (err["row"] == row) & (err["column"] == column)]
    assert len(hits) >= 1, err.to_string()
    for w in words:
        assert any(w in m for m in hits["message"]), hits["message"].tolist()
    assert f"{file}:{row}" in output and rule in output
    assert tree_digest(study) == before
    return hits.iloc[0]


NONFINITE = [
    ("alpha/patients.csv", "ecog", "inf"),
    ("alpha/patients.csv", "albumin", "Infinity"),
    ("alpha/patients.csv", "weight_kg", "-inf"),
    ("alpha/haic_cycles.csv", "cycle", "inf"),
    ("alpha/haic_cycles.csv", "oxaliplatin_mg", "1e400"),
    ("alpha/adverse_events.csv", "grade", "Infinity"),
    ("alpha/labs.csv", "value", "inf"),
    ("alpha/assessments.csv", "viable_diameter_mm", "inf"),
    ("alpha/systemic.csv", "dose", "NaN"),  # NaN is missing by the data model's rules, not an error
]


@pytest.mark.parametrize("value", ["2020", "2020-05", "15/07/2019", "2019-02-30"])
def test_partial_or_impossible_dates_are_type_errors(example_copy: Path, tree_digest, value: str):
    _edit(example_copy / "alpha/labs.csv", _set(0, "date", value))  # "2020" was read as 2020-01-01
    hit = _check_hit(example_copy, tree_digest, "type", "alpha/labs.csv", 2, "date", ["YYYY-MM-DD"])
    assert hit["value"] == value


@pytest.mark.parametrize("rel,col,value", NONFINITE, ids=[f"{c}={v}" for _r, c, v in NONFINITE])
def test_non_finite_numbers_are_type_errors_with_location(example_copy: Path, tree_digest, rel, col, value):
    _edit(example_copy / rel, _set(0, col, value))
    if value == "NaN":
        err = _ingest_errors(example_copy)
        assert not ((err["column"] == col) & (err["file"] == rel)).any()
        return
    hit = _check_hit(example_copy, tree_digest, "type", rel, 2, col, ["finite"])
    assert hit["value"] == value


RANGE = [
    ("alpha/labs.csv", "value", "1e300", "alt"),
    ("alpha/labs.csv", "uln", "0", "alt"),
    ("alpha/labs.csv", "uln", "-40", "alt"),
    ("alpha/patients.csv", "tumour_number", "1e300", "[1, 100]"),
    ("alpha/haic_cycles.csv", "cycle", "99999999999999999999999", "[1, 50]"),
    ("alpha/patients.csv", "first_haic_date", "2300-01-01", "plausible dates"),
    ("alpha/labs.csv", "date", "9999-12-31", "plausible dates"),
    ("alpha/systemic.csv", "start_date", "1970-01-01", "plausible dates"),
    ("alpha/patients.csv", "birth_date", "1850-06-01", "[1900-01-01"),
]


@pytest.mark.parametrize("rel,col,value,word", RANGE, ids=[f"{c}={v}" for _r, c, v, _w in RANGE])
def test_values_outside_plausible_ranges_are_range_errors(example_copy: Path, tree_digest, rel, col, value, word):
    _edit(example_copy / rel, _set(0, col, value))
    hit = _check_hit(example_copy, tree_digest, "range", rel, 2, col, [word])
    assert hit["value"]  # the value as written (numbers as read, e.g. 1e+300)


def test_birth_date_giving_an_implausible_age_is_an_error(example_copy: Path, tree_digest):
    def fn(df):
        df["birth_date"] = ""
        df.loc[0, ["birth_date", "age"]] = ["1905-01-01", ""]  # 114 at first HAIC in 2019
    _edit(example_copy / "alpha/patients.csv", fn)
    _check_hit(example_copy, tree_digest, "range", "alpha/patients.csv", 2, "birth_date", ["age at first HAIC"])


def _birth(df, value: str = "1960-01-01"):
    df["birth_date"] = ""
    df.loc[df["patient_id"] == "A01", "birth_date"] = value


# (id, file edits, file of the error, row, column, words)
DATE_ORDER = [
    ("lab_before_birth", [("alpha/labs.csv", _set(0, "date", "1959-06-01"))], "alpha/labs.csv", "date", "before the patient's birth"),
    ("systemic_before_birth", [("alpha/systemic.csv", _set(0, "start_date", "1959-06-01"))], "alpha/systemic.csv", "start_date",
     "before the patient's birth"),
    ("ae_before_birth", [("alpha/adverse_events.csv", _set(0, "onset_date", "1959-06-01"))], "alpha/adverse_events.csv",
     "onset_date", "before the patient's birth"),
    ("diagnosis_before_birth", [("alpha/patients.csv", _set(0, "diagnosis_date", "1959-06-01"))], "alpha/patients.csv",
     "birth_date", "born after the diagnosis"),
    ("scan_after_followup", [("alpha/assessments.csv", _set(0, "date", "2020-05-01"))], "alpha/assessments.csv", "date",
     "after the patient's last follow-up"),
    ("progression_after_followup", [("alpha/patients.csv", _set(1, "progression_date", "2021-07-01"))], "alpha/patients.csv",
     "progression_date", "after the last follow-up"),
    ("systemic_before_diagnosis", [("alpha/systemic.csv", _set(0, "start_date", "2019-01-01"))], "alpha/systemic.csv",
     "start_date", "before the diagnosis date"),
    ("stop_after_death", [("alpha/systemic.csv", lambda df: df.insert(len(df.columns), "stop_date", ["2021-01-01", *[""] * (len(df) - 1)]))],
     "alpha/systemic.csv", "stop_date", "after the patient's death"),
    ("diagnosis_after_death", [("alpha/patients.csv", _set(0, "diagnosis_date", "2020-05-01"))], "alpha/patients.csv",
     "diagnosis_date", "diagnosis after death"),
]


@pytest.mark.parametrize("case", DATE_ORDER, ids=[c[0] for c in DATE_ORDER])
def test_dates_out_of_clinical_order_name_the_rule(example_copy: Path, tree_digest, case):
    _id, edits, rel, col, words = case
    _edit(example_copy / "alpha/patients.csv", _birth)
    for file, fn in edits:
        _edit(example_copy / file, fn)
    row = 3 if _id == "progression_after_followup" else 2
    hit = _check_hit(example_copy, tree_digest, "date_order", rel, row, col, [words])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", hit["value"])


def test_parquet_and_excel_dates_beyond_2262_and_inf_are_errors_not_crashes(example_copy: Path, tree_digest):
    import datetime as dt

    pq = example_copy / "beta/haic_cycles.parquet"
    df = pd.read_parquet(pq)
    df["date"] = [dt.date.fromisoformat(x) for x in df["date"]]
    df.loc[0, "date"] = dt.date(2300, 1, 1)
    df.loc[1, "oxaliplatin_mg"] = float("inf")
    df.to_parquet(pq, index=False)
    xl = example_copy / "gamma.xlsx"
    sheets = pd.read_excel(xl, sheet_name=None)
    sheets["patients"]["death_date"] = sheets["patients"]["death_date"].astype(object)
    sheets["patients"].loc[0, "death_date"] = dt.datetime(2300, 1, 1)
    with pd.ExcelWriter(xl, engine="openpyxl") as xw:
        for name, d in sheets.items():
            d.to_excel(xw, sheet_name=name, index=False)
    before = tree_digest(example_copy)
    err = _ingest_errors(example_copy)
    got = set(zip(err["file"], err["row"], err["column"], err["rule"], strict=True))
    assert ("beta/haic_cycles.parquet", 1, "date", "range") in got
    assert ("beta/haic_cycles.parquet", 2, "oxaliplatin_mg", "type") in got
    assert ("gamma.xlsx[patients]", 2, "death_date", "range") in got
    result = _cli(["validate", str(example_copy)])
    assert result.exit_code == 2 and "2300-01-01" in result.output
    assert tree_digest(example_copy) == before


def test_every_numeric_and_date_field_has_a_plausible_range():
    from hccstudy.schema.fields import LAB_RANGES, LAB_TEST, RECORD_TYPES

    assert set(LAB_RANGES) == set(LAB_TEST)
    for rt in RECORD_TYPES.values():
        for f in rt.fields:
            if f.kind not in ("int", "float", "date"):
                continue
            if rt.name == "labs" and f.name in ("value", "uln", "lln"):
                continue  # per test: LAB_RANGES
            assert f.lo is not None and f.hi is not None, f"{rt.name}.{f.name} has no plausible range"


def test_bad_bilirubin_factor_is_a_config_error_not_data_errors(example_copy: Path):
    with pytest.raises(ConfigError, match=r"^units\.bilirubin_factor"):
        ingest(example_copy, bilirubin_factor=-17.1)
    with pytest.raises(ConfigError, match=r"^units\.bilirubin_factor"):
        ingest(example_copy, bilirubin_factor=float("nan"))
    with pytest.raises(ConfigError, match="units.bilirubin_factor"):
        # a config built without validation (model_construct) still cannot reach the data
        hccstudy.load_study(example_copy, StudyConfig().model_copy(update={"units": Units.model_construct(bilirubin_factor=-1)}))


def test_synthetic_and_example_studies_stay_clean(tmp_path: Path):
    from hccstudy.synth import generate, write_cohort

    assert ingest(hccstudy.example_study_path()).report.ok
    write_cohort(generate(n_screened=120), tmp_path / "synth")
    report = ingest(tmp_path / "synth").report
    assert report.ok, report.errors.head(20).to_string()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_analysis_data_that_is_not_a_regular_file_is_a_config_error(tmp_path: Path, kind: str):
    data = tmp_path / "table.csv"
    if kind == "fifo":
        os.mkfifo(data)
    elif kind == "device":
        data.symlink_to("/dev/zero")
    else:
        data.mkdir()
    cfg = dict(ANALYSIS_BASE, data=str(data))
    with _Alarm(20), pytest.raises(ConfigError, match=r"^data: .*table\.csv"):
        hccstudy.analyze(load_analysis_config(cfg))


def test_size_limits_refuse_files_before_parsing(example_copy: Path, monkeypatch):
    from hccstudy.schema import readers

    monkeypatch.setattr(readers, "MAX_PARQUET_BYTES", 100)  # the example's Parquet unpacks to more
    err = _ingest_errors(example_copy)
    hit = err[(err["rule"] == "unreadable_file") & (err["file"] == "beta/haic_cycles.parquet")]
    assert "unpack" in hit.iloc[0]["message"]
    monkeypatch.setattr(readers, "MAX_FILE_BYTES", 300)
    err = _ingest_errors(example_copy)
    hit = err[(err["rule"] == "unreadable_file") & (err["file"] == "alpha/labs.csv")]
    assert "larger than the limit" in hit.iloc[0]["message"]


@pytest.mark.parametrize("override,key", [
    ({"covariates": ["x", "id"], "categorical": ["id"]}, "covariates"),
    ({"matching": {"on": ["x", "a"]}}, "matching.on"),
])
def test_id_or_arm_as_covariate_is_a_config_error(override: dict, key: str):
    with pytest.raises(ConfigError) as exc:
        load_analysis_config({**ANALYSIS_BASE, **override})
    assert str(exc.value).startswith(key), str(exc.value)


def test_csv_with_a_ragged_row_names_the_line(example_copy: Path, tree_digest):
    path = example_copy / "alpha/systemic.csv"
    lines = _csv_text(path).splitlines()
    lines[2] += ",extra,cells"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "unreadable_file", "alpha/systemic.csv", ["line 3"])
    assert hit["row"] == 3


def test_unlistable_centre_folder_is_reported(example_copy: Path, monkeypatch):
    real = Path.iterdir

    def iterdir(self):
        if self.name == "alpha":  # as for a folder without read permission (root ignores chmod)
            raise PermissionError(13, "Permission denied")
        return real(self)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    err = _ingest_errors(example_copy)
    hit = err[(err["rule"] == "unreadable_file") & (err["file"] == "alpha")]
    assert "Permission denied" in hit.iloc[0]["message"]


def test_markup_like_text_in_keys_and_values_is_printed_not_parsed(tmp_path: Path, example_copy: Path):
    import io

    from rich.console import Console

    from hccstudy.cli import print_issues

    cfg = _write(tmp_path / "study.yaml", '"[/x]": 1\n')
    result = _cli(["validate", str(hccstudy.example_study_path()), "--config", str(cfg)])
    assert result.exit_code == 2 and "[/x]" in result.output
    _edit(example_copy / "alpha/patients.csv", _set(0, "albumin", "[/bold]"))
    buf = io.StringIO()
    print_issues(ingest(example_copy).report, out=Console(file=buf, force_terminal=True, width=200))
    assert "[/bold]" in buf.getvalue()


def test_workbook_unpacking_beyond_the_limit_is_refused(example_copy: Path, monkeypatch):
    from hccstudy.schema import readers

    monkeypatch.setattr(readers, "MAX_WORKBOOK_BYTES", 1000)
    err = _ingest_errors(example_copy)
    hit = err[(err["rule"] == "unreadable_file") & (err["file"] == "gamma.xlsx")]
    assert "unpack" in hit.iloc[0]["message"] and "CSV or Parquet" in hit.iloc[0]["message"]


def test_record_type_given_twice_in_a_workbook_is_an_error(example_copy: Path, tree_digest):
    path = example_copy / "gamma.xlsx"
    sheets = pd.read_excel(path, sheet_name=None)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
        sheets["labs"].to_excel(xw, sheet_name="Labs ", index=False)
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "duplicate_sheet", "gamma.xlsx[Labs ]")
    assert "'labs'" in hit["message"] and "'Labs '" in hit["message"]


def test_far_apart_dates_and_mixed_time_zones_do_not_crash(example_copy: Path, tree_digest):
    def fn(df):
        df["birth_date"] = ""
        df.loc[0, ["birth_date", "first_haic_date", "age"]] = ["1700-01-01", "2300-01-01", ""]  # 600 years apart
        df.loc[1, "last_followup_date"] = "2021-06-14T10:00:00+02:00"
        df.loc[2, "last_followup_date"] = "2020-09-01T23:30:00Z"
    _edit(example_copy / "alpha/patients.csv", fn)
    before = tree_digest(example_copy)
    err, _out = _validate_cli(example_copy)
    got = set(zip(err["row"], err["column"], err["rule"], strict=True))
    assert {(2, "birth_date", "range"), (2, "first_haic_date", "range")} <= got
    assert not any(r in (3, 4) and c == "last_followup_date" and rule == "type" for r, c, rule in got)
    assert tree_digest(example_copy) == before


def test_lab_range_check_with_an_unknown_test_in_the_same_file(example_copy: Path, tree_digest):
    def fn(df):
        df.loc[4, "test"] = "bogus"  # missing after typing: the range check must skip it, not crash
        df.loc[0, "uln"] = "1e300"
    _edit(example_copy / "alpha/labs.csv", fn)
    _check_hit(example_copy, tree_digest, "range", "alpha/labs.csv", 2, "uln", ["alt"])


def test_truncated_csv_names_the_cut_line(example_copy: Path, tree_digest):
    """A file cut short ends in a record with fewer fields than the header: an error naming the line,
    not a record padded with missing values."""
    path = example_copy / "alpha/haic_cycles.csv"
    text = _csv_text(path)
    lines = text.splitlines()
    cut = "\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2]
    path.write_text(cut, encoding="utf-8")
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "unreadable_file", "alpha/haic_cycles.csv",
                          [f"line {len(lines)}", "truncated"])
    assert hit["row"] == len(lines)


def test_folder_named_like_a_record_file_is_an_error(example_copy: Path, tree_digest):
    (example_copy / "alpha/labs.csv").unlink()
    (example_copy / "alpha/labs.csv").mkdir()
    (example_copy / "alpha/notes").mkdir()
    before = tree_digest(example_copy)
    _assert_refused(example_copy, tree_digest, before, "unreadable_file", "alpha/labs.csv", ["is a folder"])
    warnings = ingest(example_copy).report.warnings
    assert "alpha/notes" in set(warnings.loc[warnings["rule"] == "unknown_file", "file"])


@pytest.mark.parametrize("header,rows,words", [
    ("id,a,x,x\n", "1,1,0.5,0.7\n2,0,0.1,0.2\n", ["'x'", "more than once"]),
    ("id,a,x\n", "", ["no rows", "nothing to analyse"]),
])
def test_analysis_table_with_a_repeated_column_or_no_rows(tmp_path: Path, header: str, rows: str, words):
    from hccstudy.analysis.run import load_table

    path = tmp_path / "table.csv"
    path.write_text(header + rows)
    with pytest.raises(ConfigError) as exc:
        load_table(path)
    for w in [str(path), *words]:
        assert w in str(exc.value)


def test_parquet_with_a_damaged_head_is_refused(example_copy: Path, tree_digest):
    """pyarrow reads a Parquet file from its footer, so a damaged head would be accepted silently."""
    path = next(example_copy.glob("*/*.parquet"))
    data = bytearray(path.read_bytes())
    data[:4] = b"XXXX"
    path.write_bytes(bytes(data))
    before = tree_digest(example_copy)
    rel = str(path.relative_to(example_copy))
    _assert_refused(example_copy, tree_digest, before, "unreadable_file", rel, ["PAR1"])


def test_huge_value_on_the_last_line_is_reported_at_its_cell(example_copy: Path, tree_digest):
    path = example_copy / "alpha/patients.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[len(df) - 1, "albumin"] = "9" * (2 << 20)
    df.to_csv(path, index=False, lineterminator="\n")
    before = tree_digest(example_copy)
    hit = _assert_refused(example_copy, tree_digest, before, "type", "alpha/patients.csv", ["not a finite number"])
    assert hit["row"] == len(df) + 1 and hit["column"] == "albumin"
    assert len(hit["value"]) <= 1000
