"""Table 1 and its tests: R parity (fixtures from tests/reference/table1_tests.R) and formatting rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.table1 import Table1Options, smd_categorical, table1
from hccstudy.stats.tests import chisq_test, fisher_test, format_p, kruskal_test, t_test, wilcoxon_test

REF = Path(__file__).parent / "reference"
FIX = json.loads((REF / "table1_tests.json").read_text())
DATA = {"lalonde": REF / "shared" / "lalonde.csv", "veteran": REF / "shared" / "veteran.csv",
        "lung": REF / "shared" / "lung.csv", "small": REF / "small.csv"}


def _case_id(c):
    return f"{c['data']}-{c['variable']}"


@pytest.mark.parametrize("case", FIX["cases"], ids=_case_id)
def test_tests_match_r(case):
    df = pd.read_csv(DATA[case["data"]]).dropna(subset=[case["variable"], case["group"]])
    g, x = df[case["group"]], df[case["variable"]]
    if "chisq_p" in case:
        tab = pd.crosstab(x, g).to_numpy()
        assert chisq_test(tab).p == pytest.approx(case["chisq_p"], abs=1e-6, rel=1e-6)
        assert chisq_test(tab, correct=False).p == pytest.approx(case["chisq_nocorrect_p"], abs=1e-6, rel=1e-6)
        f = fisher_test(tab)
        if f.test == "Fisher's exact":
            assert f.p == pytest.approx(case["fisher_p"], abs=1e-6, rel=1e-6)
        else:  # Monte Carlo (100,000 tables): within 4 binomial SE of R's exact p
            se = np.sqrt(case["fisher_p"] * (1 - case["fisher_p"]) / 100_000)
            assert abs(f.p - case["fisher_p"]) < 4 * se
    else:
        lv = sorted(g.unique())
        a, b = x[g == lv[0]], x[g == lv[1]]
        assert t_test(a, b).p == pytest.approx(case["student_p"], abs=1e-6, rel=1e-6)
        assert t_test(a, b, equal_var=False).p == pytest.approx(case["welch_p"], abs=1e-6, rel=1e-6)
        w = wilcoxon_test(a, b)
        assert w.p == pytest.approx(case["wilcox_p"], abs=1e-6, rel=1e-6)
        assert ("exact" in w.test) == case["wilcox_exact_used"]
        assert kruskal_test(a, b).p == pytest.approx(case["kruskal_p"], abs=1e-6, rel=1e-6)


def test_format_p_as_tableone():
    assert [format_p(p) for p in (0.61649, 0.0004, 0.001, 1.0, float("nan"))] == ["0.616", "<0.001", "0.001", "1.000", ""]


def test_categorical_smd_is_yang_dalton():
    p1, p2 = np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2])
    t = (p1 - p2)[1:]
    s = (np.diag(p1[1:]) - np.outer(p1[1:], p1[1:]) + np.diag(p2[1:]) - np.outer(p2[1:], p2[1:])) / 2
    assert smd_categorical(p1, p2) == pytest.approx(float(np.sqrt(t @ np.linalg.solve(s, t))))
    # binary reduces to |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)
    assert smd_categorical(np.array([0.7, 0.3]), np.array([0.5, 0.5])) == pytest.approx(0.2 / np.sqrt((0.21 + 0.25) / 2))


def _demo():
    rng = np.random.default_rng(0)
    n = 80
    return pd.DataFrame({"arm": np.where(np.arange(n) < 30, "B", "A"), "age": rng.normal(50, 10, n).round(),
                         "female": (rng.random(n) < 0.3).astype(int), "stage": rng.choice(["I", "II", "III"], n),
                         "rare": np.where(np.arange(n) % 20 == 0, "yes", "no"), "afp": rng.lognormal(4, 2, n)})


def test_rows_statistics_and_tests():
    t = table1(_demo(), "arm", ["age", "female", "stage", "rare", "afp"], groups=["A", "B"],
               labels={"A": "Arm A", "B": "Arm B"}, categorical=["stage"], nonnormal=["afp"])
    assert t.loc[0, ["variable", "Arm A", "Arm B", "overall"]].tolist() == ["n", "50", "30", "80"]
    age = t[t["variable"] == "age"]
    assert age["statistic"].tolist() == ["mean (SD)", "median [min, max]"]
    assert age.iloc[0]["test"] == "t-test (Student)"
    fem = t[t["variable"] == "female"]
    assert len(fem) == 1 and fem.iloc[0]["level"] == "1"  # a 0/1 variable shows level 1 only
    stage = t[t["variable"] == "stage"]
    assert stage["level"].tolist() == ["", "I", "II", "III"] and stage.iloc[0]["test"] == "chi-square"
    rare = t[t["variable"] == "rare"]  # expected counts < 5 -> Fisher, and the row says so
    assert rare.iloc[0]["test"] == "Fisher's exact"
    afp = t[t["variable"] == "afp"]
    assert afp["statistic"].tolist() == ["median [IQR]", "median [min, max]"]
    assert afp.iloc[0]["test"].startswith("Wilcoxon")
    # 'never Fisher' option and Welch / Kruskal choices
    opt = Table1Options(fisher_expected_below=None, t_test="welch", nonnormal_test="kruskal", digits=2)
    t2 = table1(_demo(), "arm", ["age", "rare", "afp"], groups=["A", "B"], nonnormal=["afp"], options=opt)
    tests = t2.loc[t2["test"] != "", "test"].tolist()
    assert tests == ["t-test (Welch)", "chi-square (Yates)", "Kruskal-Wallis"]
    assert t2.loc[t2["variable"] == "age", "A"].iloc[0].count(".") == 2  # two decimals


def test_exact_on_request():
    opt = Table1Options(exact=["stage"], fisher_expected_below=None)
    t = table1(_demo(), "arm", ["stage"], groups=["A", "B"], categorical=["stage"], options=opt)
    assert t.iloc[1]["test"] == "Fisher's exact"


def test_balance_variance_ratio_and_ecdf_by_hand():
    from hccstudy.stats.balance import balance_table, sample_sizes
    from hccstudy.stats.matching import matchit_weights
    rng = np.random.default_rng(4)
    n = 60
    x = rng.integers(0, 8, n).astype(float)
    x[40:] += 0.5  # values held only by unmatched units: still eCDF evaluation points (MatchIt)
    t = np.arange(n) < 20
    w = matchit_weights(n, np.arange(20), np.arange(20, 40))  # 20 pairs
    b = balance_table(pd.DataFrame({"x": x}), t, w).set_index("term").loc["x"]
    assert b["var_ratio_before"] == pytest.approx(np.var(x[t], ddof=1) / np.var(x[~t], ddof=1))
    m = w > 0
    assert b["var_ratio_after"] == pytest.approx(np.var(x[t & m], ddof=1) / np.var(x[~t & m], ddof=1))
    pts = np.unique(x)  # every distinct value of the whole sample, unmatched units included
    diff = [abs((x[t & m] <= p).mean() - (x[~t & m] <= p).mean()) for p in pts]
    assert (b["ecdf_mean_after"], b["ecdf_max_after"]) == pytest.approx((np.mean(diff), np.max(diff)))
    assert b["smd_after"] == pytest.approx((x[t & m].mean() - x[~t & m].mean()) / np.std(x[t], ddof=1))
    sizes = sample_sizes(t, m, np.zeros(n, bool)).set_index("sample")
    assert sizes.loc["matched"].tolist() == [20, 20] and sizes.loc["unmatched"].tolist() == [20, 0]
