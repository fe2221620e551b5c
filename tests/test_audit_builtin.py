"""hccstudy.audit on the built-in study's published tables (TABLES.yaml shipped in the package), its
recomputed tests against R (tests/reference/audit_tests.json, from audit_tests.R), audit.html and
audit.csv, and the ``hccstudy audit`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hccstudy import cli
from hccstudy.audit import BUILTIN, audit_file, write_audit
from hccstudy.audit.checks_categorical import categorical_ps
from hccstudy.audit.checks_continuous import t_p

REF = json.loads((Path(__file__).parent / "reference" / "audit_tests.json").read_text(encoding="utf-8"))
R_NAMES = {"chisq_yates": "chi-square (Yates)", "chisq": "chi-square", "fisher": "Fisher's exact"}


@pytest.mark.parametrize("case", REF["categorical"], ids=lambda c: c["name"])
def test_categorical_ps_agree_with_r(case):
    got = categorical_ps(case["table"])
    for key, name in R_NAMES.items():
        if case[key] is None:
            assert name not in got
        else:
            assert got[name] == pytest.approx(case[key], abs=1e-6, rel=1e-6), name


@pytest.mark.parametrize("case", REF["t"], ids=lambda c: c["name"])
def test_t_tests_from_summaries_agree_with_r(case):
    (m1, m2), (s1, s2), (n1, n2) = case["mean"], case["sd"], case["n"]
    assert t_p(m1, s1, n1, m2, s2, n2, True) == pytest.approx(case["student"], abs=1e-6, rel=1e-6)
    assert t_p(m1, s1, n1, m2, s2, n2, False) == pytest.approx(case["welch"], abs=1e-6, rel=1e-6)


# ------------------------------------------------------------------------------------------ built-in paper
#: what the paper's own numbers let anyone find (docs/audit.md, "The built-in study")
EXPECTED_INCONSISTENT = {
    ("counts vs group sizes", "Best overall response", "levels"),        # Table 2 sums to 200 / 375, not 182
    ("count vs percentage", "Objective response rate", "% SI"),  # 207 / 375 = 55.2 %, not 58 %
    ("categorical P", "Any adverse event", "P"),                        # < 0.001 printed; ~0.003
    ("categorical P", "Any grade 3-4 event", "P"),                      # < 0.001 printed; ~0.08
    ("mean vs share above a cut-off", "mean", "SE"),                    # 88 % > 4 cycles, mean 4.01 (x2)
    ("mean vs share above a cut-off", "mean", "SI"),
    *(("repeated number", what, where) for what, where in [
        ("Univariable HR, SI vs SE", "text, Figure 3A"), ("Multivariable HR, SI vs SE", "text, Figure 3B"),
        ("Multivariable HR, Child-Pugh B", "text, Figure 3B"), ("Multivariable HR, multiple tumours", "text, Figure 3B"),
        ("Complete responses, SI", "Table 2, text"), ("ORR, SI (%)", "results, discussion"),
        ("Median PFS, SI (months)", "results, discussion"), ("Median OS, SI (months)", "results, discussion")]),
}
EXPECTED_ROUNDING = {
    ("count vs percentage", "Any adverse event", "% SI"),               # 90.66 printed 90.6
    ("count vs percentage", "Any grade 3-4 event", "% SE"),             # 60.99 printed 60.9
    *(("continuous P", row, "P") for row in ("Age, years, mean (SD)", "Maximum tumour diameter, cm, mean (SD)")),
}


@pytest.fixture(scope="module")
def builtin():
    return audit_file()


def test_builtin_flags_what_the_papers_numbers_show(builtin):
    f = builtin.frame
    key = lambda d: set(zip(d["check"], d["row"], d["column"], strict=True))  # noqa: E731
    assert key(f[f["severity"] == "inconsistent"]) == EXPECTED_INCONSISTENT
    assert key(f[f["severity"] == "rounding"]) == EXPECTED_ROUNDING
    ae = f[(f["check"] == "categorical P") & f["row"].str.startswith("Any")]
    assert ae["recomputed"].str.contains("chi-square \\(Yates\\) 0.0034").any()
    assert ae["recomputed"].str.contains("chi-square \\(Yates\\) 0.0774").any()
    # every categorical P of Table 1 is reproduced by R's default chisq.test (study.md)
    t1 = f[(f["check"] == "categorical P") & f["table"].str.startswith("Table 1")]
    ecog = t1["row"] == "ECOG PS 0-1"                                   # everyone 0-1: no test is defined
    assert (t1.loc[ecog, "severity"] == "not checkable").all() and ecog.sum() == 2
    t1 = t1[~ecog]
    assert len(t1) == 16 and (t1["severity"] == "consistent").all() and t1["matches"].str.contains("Yates").all()
    # the KM medians of OS sit where the landmark rates put them
    km = f[(f["check"] == "KM median vs rates") & f["table"].str.startswith("Overall")]
    assert list(km["severity"]) == ["consistent", "consistent"]


def test_builtin_file_ships_with_the_package():
    assert BUILTIN.name == "TABLES.yaml" and BUILTIN.is_file()
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"audit/TABLES.yaml"' in text


def test_writers(builtin, tmp_path):
    paths = write_audit(builtin, tmp_path, "TABLES.yaml")
    assert [p.name for p in paths] == ["audit.html", "audit.csv"]
    csv = pd.read_csv(tmp_path / "audit.csv", keep_default_na=False)
    assert len(csv) == len(builtin.findings) and list(csv.columns)[:3] == ["check", "table", "row"]
    assert csv["severity"].tolist() == [x.severity for x in builtin.findings]
    html = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "Consistency of the published tables" in html and "Findings to look at" in html
    assert html.count("<tr style=") == len(builtin.findings) + len(builtin.flagged())
    again = tmp_path / "again"
    again.mkdir()
    write_audit(builtin, again, "TABLES.yaml")
    assert (again / "audit.html").read_bytes() == (tmp_path / "audit.html").read_bytes()  # deterministic


# ------------------------------------------------------------------------------------------ command line
def test_cli_audit_builtin_and_own_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli.app, ["audit"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "audit" / "audit.html").is_file() and (tmp_path / "audit" / "audit.csv").is_file()
    assert "inconsistent: Adverse events" in r.output
    mine = tmp_path / "my.yaml"
    mine.write_text("paper: mine\narms: [a, b]\nsamples:\n  s: {a: 10, b: 10}\n"
                    "repeats:\n  - {what: x, values: {text: 1.0, table: 1.0}}\n", encoding="utf-8")
    r = CliRunner().invoke(cli.app, ["audit", str(mine), "--out", str(tmp_path / "mine")])
    assert r.exit_code == 0, r.output
    assert "1 consistent" in r.output and (tmp_path / "mine" / "audit.csv").is_file()
    r = CliRunner().invoke(cli.app, ["audit", str(mine), "--out", str(tmp_path / "mine")])
    assert r.exit_code == 2 and "--force" in r.output                   # an existing output is not replaced
    assert CliRunner().invoke(cli.app, ["audit", str(mine), "--out", str(tmp_path / "mine"), "--force"]).exit_code == 0


def test_cli_audit_bad_file_is_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("paper: p\narms: [a, b]\nsamples:\n  s: {a: 10, b: 10}\ntables:\n  t:\n    title: T\n"
                   "    sample: s\n    rows:\n      r: {n: {a: 3}}\n", encoding="utf-8")
    r = CliRunner().invoke(cli.app, ["audit", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "bad.yaml: line 10: tables.t.rows.r.n: give a value for each arm" in lines[0], r.output
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(cli.app, ["audit", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not found" in r.output and not (tmp_path / "o").exists()


def test_docs_show_the_builtin_file_as_it_ships():
    """docs/audit.md's example is the built-in TABLES.yaml, character for character."""
    from test_doc_examples import blocks
    doc = Path(__file__).parent.parent / "docs" / "audit.md"
    shown = [body for _, _, attrs, body in blocks(doc) if attrs.get("file") == "TABLES.yaml"]
    assert shown == [BUILTIN.read_text(encoding="utf-8")]


# ------------------------------------------------------------------------------------------ the report
def test_section_only_for_the_builtin_study():
    """Another study's report (no calibration: not the reference paper's data) has no such section."""
    from types import SimpleNamespace

    from hccstudy.report.sections_audit import published_consistency
    assert published_consistency(SimpleNamespace(calibration=None)) is None
    s = published_consistency(SimpleNamespace(calibration=pd.DataFrame()))
    assert s.title == "Consistency of the published tables"
    summary, flagged = s.tables
    a = audit_file()
    assert int(summary.frame.drop(columns="Check").to_numpy().sum()) == len(a.findings)
    assert list(flagged.frame["Severity"]) == sorted((f.severity for f in a.flagged()), key=lambda x: x != "inconsistent")
    assert sum(flagged.highlight) == a.counts()["inconsistent"]


def test_builtin_report_shows_the_audit(builtin_run):
    import re
    html = (builtin_run.out / "report.html").read_text(encoding="utf-8")
    m = re.search(r'<section id="published_consistency">(.*?)</section>', html, re.S)
    assert m, "no 'Consistency of the published tables' section in the built-in report"
    body = m.group(1)
    a = audit_file()
    assert body.count('<tr class="bad">') == a.counts()["inconsistent"]
    assert "chi-square (Yates): P 0.0034" in body and "207 / 375 = 55.2%" in body
