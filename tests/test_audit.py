"""hccstudy.audit on small hand-made tables with known answers: each check family, the severity rules,
the audit file's validation (errors name the file, line and key), and one consistent paper in which
the audit flags nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy import stats

from hccstudy._yaml import ConfigError
from hccstudy.audit import audit, load_tables
from hccstudy.audit.checks_categorical import categorical_ps, match_p
from hccstudy.audit.checks_continuous import t_p
from hccstudy.audit.checks_counts import counts_for_pct, pct_severity
from hccstudy.audit.checks_hr import implied_p, symmetric_within
from hccstudy.audit.checks_repeats import compare
from hccstudy.audit.numbers import Num, to_num, to_p

HEAD = """paper: hand-made
arms: [A, B]
samples:
  all: {A: 100, B: 100}
  other: {A: 80, B: 90}
"""


def _paper(tmp_path: Path, body: str):
    p = tmp_path / "t.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    return load_tables(p)


def _one(tmp_path, body, check=None):
    found = [f for f in audit(_paper(tmp_path, body)).findings if check is None or f.check == check]
    return found


# ------------------------------------------------------------------------------------------ numbers
def test_printed_decimals_survive_yaml(tmp_path):
    paper = _paper(tmp_path, "tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
                             "      r: {n: {A: 10, B: 20}, pct: {A: 10.0, B: 20.00}, p: 0.70}\n")
    row = paper.tables["t"].rows["r"]
    assert row.pct["A"].decimals == 1 and row.pct["B"].decimals == 2 and row.p.num.decimals == 2
    assert to_num("0.70").interval() == pytest.approx((0.695, 0.705))


def test_reported_p_forms():
    assert to_p("< 0.001").op == "<" and to_p("P<0.001").num.value == 0.001 and to_p(0.616).op == "="
    assert to_p("< 0.001").admits(0.0009) and not to_p("< 0.001").admits(0.0012)
    assert to_p("< 0.001").admits(0.0012, 1.0) and not to_p("< 0.001").admits(0.0034, 1.0)
    assert to_p("0.616").admits(0.6164) and not to_p("0.616").admits(0.6166)
    assert to_p("2e-3").num.decimals == 3 and to_p("2e-3").admits(0.0024) and not to_p("2e-3").admits(0.0026)
    with pytest.raises(ValueError):
        to_p("NS")
    with pytest.raises(ValueError):
        to_p(1.5)


# ------------------------------------------------------------------------------------------ counts
def test_percentage_rules():
    assert pct_severity(20, 200, to_num("10.0")) == "consistent"
    assert pct_severity(165, 182, to_num("90.6")) == "rounding"        # 90.66: truncated, not rounded
    assert pct_severity(207, 375, to_num("58")) == "inconsistent"      # 55.2
    assert counts_for_pct(to_num("58"), 375) == [216, 217, 218, 219]   # 57.5..58.5 % of 375
    assert counts_for_pct(to_num("33.3"), 10) == []                    # no whole count of 10 gives 33.3 %


def test_a_table_on_another_sample_is_named(tmp_path):
    body = ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
            "      grade: {levels: {x: {A: 30, B: 40}, y: {A: 50, B: 50}}}\n"
            "      yes: {n: {A: 40, B: 45}, pct: {A: 50.0, B: 50.0}}\n")
    sizes, *_ = _one(tmp_path, body, "counts vs group sizes")
    assert sizes.severity == "inconsistent" and sizes.recomputed == "other"
    assert "fit the group sizes other instead" in sizes.arithmetic
    pct = _one(tmp_path, body, "count vs percentage")
    assert [f.severity for f in pct] == ["inconsistent", "inconsistent"]
    assert "fits the group sizes other instead" in pct[0].arithmetic


def test_levels_that_need_not_cover_everyone_and_bounds(tmp_path):
    body = ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
            "      any: {n: {A: 30, B: 40}}\n"
            "      ev: {complete: false, within: any, levels: {g1: {A: 20, B: 35}, g3: {A: 5, B: 10}}}\n")
    found = _one(tmp_path, body, "counts vs group sizes")
    within = [f for f in found if f.column.startswith("n ")]
    assert [f.severity for f in within] == ["consistent", "inconsistent"]  # B: 45 with the event > 40 with any
    assert [f.severity for f in found if f.column == "levels"] == ["consistent"]


# ------------------------------------------------------------------------------------------ categorical P
def test_categorical_p_known_answer():
    t = [[10, 20], [20, 10]]
    ps = categorical_ps(t)
    x2 = 60 * (10 * 10 - 20 * 20) ** 2 / (30 * 30 * 30 * 30)              # N (ad - bc)^2 / (r1 r2 c1 c2)
    x2_yates = 60 * (abs(10 * 10 - 20 * 20) - 30) ** 2 / (30 * 30 * 30 * 30)
    assert ps["chi-square"] == pytest.approx(stats.chi2.sf(x2, 1), abs=1e-12)
    assert ps["chi-square (Yates)"] == pytest.approx(stats.chi2.sf(x2_yates, 1), abs=1e-12)
    assert "chi-square (Yates)" not in categorical_ps([[1, 2], [3, 4], [5, 6]])  # Yates: 2 x 2 only


def test_which_test_matches(tmp_path):
    ps = categorical_ps([[10, 20], [90, 80]])                           # 10 and 20 of 100 per arm
    body = ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
            "      r: {n: {A: 10, B: 20}, p: %s}\n")
    yates = f"{ps['chi-square (Yates)']:.3f}"
    (f,) = _one(tmp_path, body % yates, "categorical P")
    assert f.severity == "consistent" and "chi-square (Yates)" in f.matches
    (f,) = _one(tmp_path, body % '"< 0.001"', "categorical P")
    assert f.severity == "inconsistent" and f.matches == ""
    assert match_p(to_p("0.09"), {"x": 0.0985})[0] == "rounding"       # one unit of the last decimal
    (f,) = _one(tmp_path, body % "NS", "categorical P")
    assert f.severity == "not checkable"
    everyone = body.replace("{A: 10, B: 20}", "{A: 100, B: 100}")      # one level holds every patient
    (f,) = _one(tmp_path, everyone % "1", "categorical P")
    assert f.severity == "not checkable" and "no test" in f.arithmetic


def test_percentages_without_counts_are_tested_at_every_count_they_allow(tmp_path):
    body = ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
            "      r: {pct: {A: 10, B: 30}, p: %s}\n")
    p = categorical_ps([[10, 30], [90, 70]])["chi-square (Yates)"]
    found = _one(tmp_path, body % f"{p:.4f}")
    assert {f.check: f.severity for f in found} == {"count vs percentage": "consistent", "categorical P": "consistent"}


# ------------------------------------------------------------------------------------------ continuous P
def test_t_tests_known_answer(tmp_path):
    t = 2 / (2 * math.sqrt(1 / 10 + 1 / 10))                            # pooled SD 2, n 10 + 10
    assert t_p(10, 2, 10, 12, 2, 10, True) == pytest.approx(2 * stats.t.sf(t, 18), abs=1e-12)
    se2 = 4 / 10 + 9 / 20
    df = se2**2 / ((4 / 10) ** 2 / 9 + (9 / 20) ** 2 / 19)
    assert t_p(10, 2, 10, 12, 3, 20, False) == pytest.approx(2 * stats.t.sf(2 / math.sqrt(se2), df), abs=1e-12)
    body = ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
            "      x: {mean: {A: 50.0, B: 52.0}, sd: {A: 10.0, B: 10.0}, p: %s}\n")
    exact = t_p(50, 10, 100, 52, 10, 100, True)
    (f,) = _one(tmp_path, body % f"{exact:.3f}", "continuous P")
    assert f.severity == "consistent" and f.matches == "Student t, Welch t"
    (f,) = _one(tmp_path, body % f"{t_p(50.04, 9.96, 100, 51.96, 9.96, 100, True):.3f}", "continuous P")
    assert f.severity == "rounding"                                     # reachable within the printed rounding
    (f,) = _one(tmp_path, body % '"< 0.001"', "continuous P")
    assert f.severity == "inconsistent"


# ------------------------------------------------------------------------------------------ hazard ratios
def test_hr_implied_p_and_symmetry(tmp_path):
    se = (math.log(0.84) - math.log(0.44)) / (2 * stats.norm.ppf(0.975))
    assert implied_p(0.61, 0.44, 0.84) == pytest.approx(2 * stats.norm.sf(abs(math.log(0.61)) / se), rel=1e-12)
    n = to_num
    assert symmetric_within(n("0.61"), n("0.44"), n("0.84"), 0.5)
    assert not symmetric_within(n("1.50"), n("1.00"), n("3.00"), 1.0)  # sqrt(1 x 3) = 1.73
    body = "hazard_ratios:\n  h:\n    title: Cox\n    rows:\n      x: {hr: %s, ci: [%s, %s], p: %s}\n"
    found = _one(tmp_path, body % ("0.61", "0.44", "0.84", "0.003"))
    assert [f.severity for f in found] == ["consistent", "consistent"]
    found = _one(tmp_path, body % ("1.50", "1.00", "3.00", "0.5"))
    assert [f.severity for f in found] == ["inconsistent", "inconsistent"]
    found = _one(tmp_path, body % ("0.61", "0.44", "0.84", "0.002"))    # P over the rounding box: 0.0017..0.0041
    assert found[1].severity == "rounding"
    (sym, p) = _one(tmp_path, "hazard_ratios:\n  h:\n    title: Cox\n    rows:\n      x: {hr: 0.61, ci: [0.44, 0.84]}\n")
    assert p.severity == "not checkable" and p.recomputed == "0.0027"


# ------------------------------------------------------------------------------------------ KM medians
@pytest.mark.parametrize(("arm", "severity"), [
    ("{median: 16.1, ci: [14.1, 25.8], rates: {6: 80.8, 12: 62.3, 24: 42.1}}", "consistent"),
    ("{median: 10.0, rates: {12: 60.0}}", "inconsistent"),              # S(12) > 50 %: median >= 12
    ("{median: 30.0, rates: {24: 40.0}}", "inconsistent"),              # S(24) < 50 %: median <= 24
    ("{median: NR, rates: {12: 70.0, 24: 55.0}}", "consistent"),
    ("{median: NR, rates: {24: 45.0}}", "inconsistent"),
    ("{median: 20.0, rates: {6: 80.0, 12: 85.0}}", "inconsistent"),     # the rates rise
    ("{median: 20.0, ci: [22.0, 30.0], rates: {12: 60.0}}", "inconsistent"),
    ("{median: 20.0}", "not checkable"),
])
def test_km_median_against_rates(tmp_path, arm, severity):
    body = f"survival:\n  os:\n    title: OS\n    arms:\n      A: {arm}\n      B: {{median: 9.0, rates: {{12: 40.0}}}}\n"
    found = _one(tmp_path, body)
    assert [f.severity for f in found] == [severity, "consistent"]


def test_km_piecewise_exponential_median():
    from hccstudy.audit.checks_survival import check_arm
    from hccstudy.audit.model import SurvivalArm
    (f,) = check_arm("OS", "months", "SE", SurvivalArm(median=to_num("16.1"), rates={12: to_num("62.3"),
                                                                                      24: to_num("42.1")}))
    assert f.recomputed == f"{12 + 12 * math.log(62.3 / 50) / math.log(62.3 / 42.1):.1f}"


# ------------------------------------------------------------------------------------------ repeats
def test_repeated_numbers():
    assert compare([Num(0.64, "0.64"), Num(0.641, "0.641")]) == "consistent"
    assert compare([Num(0.64, "0.64"), Num(0.65, "0.65")]) == "rounding"
    assert compare([Num(0.61, "0.61"), Num(0.64, "0.64")]) == "inconsistent"
    assert compare([Num(28.8, "28.8"), Num(28.8, "28.8"), Num(25.4, "25.4")]) == "inconsistent"


# ------------------------------------------------------------------------------------------ a consistent paper
CONSISTENT_PAPER = """paper: A consistent hand-made paper
arms: [control, treated]
samples:
  full: {control: 120, treated: 80}
tables:
  t1:
    title: Table 1
    sample: full
    rows:
      female: {n: {control: 30, treated: 36}, pct: {control: 25.0, treated: 45.0}, p: 0.005}
      stage: {levels: {I: {control: 60, treated: 20}, II: {control: 40, treated: 30}, III: {control: 20, treated: 30}},
              p: "< 0.001"}
      age: {mean: {control: 60.0, treated: 63.0}, sd: {control: 10.0, treated: 9.0}, p: 0.032}
      rate: {pct: {control: 50.0, treated: 50.0}, p: 1}
hazard_ratios:
  cox:
    title: Cox for OS
    rows:
      treated: {hr: 0.70, ci: [0.52, 0.94], p: 0.018}
survival:
  os:
    title: OS
    unit: months
    arms:
      control: {median: 14.0, ci: [11.0, 18.0], rates: {6: 80.0, 12: 56.0, 24: 30.0}}
      treated: {median: 20.0, ci: [16.0, 26.0], rates: {6: 88.0, 12: 68.0, 24: 42.0}}
repeats:
  - {what: HR treated, values: {abstract: 0.70, results: 0.70, "Figure 2": 0.7}}
"""


def test_a_consistent_paper_flags_nothing(tmp_path):
    (tmp_path / "c.yaml").write_text(CONSISTENT_PAPER, encoding="utf-8")
    a = audit(load_tables(tmp_path / "c.yaml"))
    assert a.flagged() == [], [(f.location, f.severity, f.arithmetic) for f in a.flagged()]
    counts = a.counts()
    assert counts["consistent"] == len(a.findings) > 12 and counts["not checkable"] == 0


def test_the_consistent_papers_numbers_are_what_the_tests_give():
    """The hand-made paper's P values were printed from these computations (so it can be consistent)."""
    ps = categorical_ps([[30, 36], [90, 44]])
    assert f"{ps['chi-square (Yates)']:.3f}" == "0.005"
    assert categorical_ps([[60, 20], [40, 30], [20, 30]])["chi-square"] < 0.001
    assert f"{t_p(60, 10, 120, 63, 9, 80, True):.3f}" == "0.032"
    assert f"{implied_p(0.70, 0.52, 0.94):.3f}" == "0.018"


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(("body", "needle"), [
    ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n      r: {n: {A: 10}}\n",
     "line 11: tables.t.rows.r.n: give a value for each arm (A, B)"),
    ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n      r:\n        mean: {A: 1, B: 2}\n"
     "        sd: {A: x, B: 2}\n", "line 13: tables.t.rows.r.sd.A: 'x' is not a number"),
    ("tables:\n  t:\n    title: T\n    sample: nowhere\n    rows:\n      r: {n: {A: 1, B: 2}}\n",
     "line 9: tables.t.sample: 'nowhere' is not a sample"),
    ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n      r: {n: {A: 1, B: 2}, mean: {A: 1, B: 2}}\n",
     "line 11: tables.t.rows.r: give one of n (and/or pct), levels, or mean with sd"),
    ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n      r: {n: {A: 1, B: 2}, colour: red}\n",
     "line 11: tables.t.rows.r.colour: Extra inputs are not permitted"),
    ("repeats:\n  - {what: x, values: {a: 1, a: 2}}\n", "key 'a' given twice"),
    ("tables:\n  t:\n    title: T\n    sample: all\n    rows:\n      r: {n: {A: 1, B: 2}, p: \"1.5\"}\n",
     "line 11: tables.t.rows.r.p: P = '1.5' is not between 0 and 1"),
])
def test_bad_audit_files_name_file_line_and_key(tmp_path, body, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_tables(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and needle in msg and "\n" not in msg, msg


# ------------------------------------------------------------------------------------------ bounds
def test_mean_against_share_above_a_cut_off(tmp_path):
    from hccstudy.audit.checks_bounds import mean_range
    assert mean_range(0.88, 4, 2, 6, True) == pytest.approx((0.88 * 5 + 0.12 * 2, 0.88 * 6 + 0.12 * 4))
    assert mean_range(0.5, 4, 2, 6, False) == pytest.approx((0.5 * 4 + 0.5 * 2, 0.5 * 6 + 0.5 * 4))
    body = ("bounds:\n  - {what: cycles, sample: all, range: [2, 6], above: 4, n_above: {A: 88, B: 40},\n"
            "     mean: {A: 4.01, B: 4.50}}\n")
    a, b = _one(tmp_path, body)
    assert (a.severity, b.severity) == ("inconsistent", "consistent")   # A: at least 4.64; B: 2.8..4.8
    assert a.recomputed == "4.64..5.76" and "0.880 x 5 + 0.120 x 2 = 4.640" in a.arithmetic


def test_every_problem_of_a_file_gets_its_own_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(HEAD + "tables:\n  t:\n    title: T\n    sample: all\n    rows:\n"
                 "      r: {n: {A: -1, B: 2}}\n      s: {mean: {A: 1, B: 2}, sd: {A: 0, B: 2}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_tables(p)
    msg = str(e.value)
    for needle in ("line 11: tables.t.rows.r.n.A: a count is >= 0", "line 12: tables.t.rows.s.sd.A: an SD is > 0"):
        assert needle in msg, msg
    p.write_text(HEAD + "repeats:\n  - {what: x, values: {text: 1}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 7: repeats.0.values: Dictionary should have at least 2 items"):
        load_tables(p)


def test_a_count_above_its_arm_size_is_flagged_not_tested(tmp_path):
    body = "tables:\n  t:\n    title: T\n    sample: all\n    rows:\n      r: {n: {A: 120, B: 20}, p: 0.5}\n"
    found = {f.check: f for f in _one(tmp_path, body)}
    assert found["counts vs group sizes"].severity == "inconsistent"
    assert found["categorical P"].severity == "not checkable"
