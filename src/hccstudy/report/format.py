"""How a value is shown to a reader: the one place the report turns numbers into text.

Every table of report.html and tables.docx shows these texts; tables.xlsx keeps numbers as numbers
and gives each column the number format of the same rule (:func:`excel_format`).  The options are the
analysis plan's ``report:`` key (:class:`~hccstudy.analysis.config.ReportSpec`); the rules, documented
in docs/report.md ("Formatting"):

* P: ``p_digits`` decimals (3); below ``p_small`` (0.001) "<0.001"; a P that would round to 1
  (P >= 1 - 0.5 x 10^-p_digits, i.e. >= 0.9995) ">0.999" -- never "1.000", which reads as certainty.
* HR (95% CI): ``hr_digits`` decimals (2), the limits joined by an en dash: "0.64 (0.49–0.84)";
  "NE" (not estimable) when the HR or a limit is not finite.
* A percentage: ``pct_digits`` decimals (1); n (%) as "31 (44.9)".
* Means, SDs, medians, quantiles and survival times: ``digits`` decimals (1).
* A median (or a confidence limit of one) not reached: "NR".
* A count is an integer: 375, never "375.0" (numpy and pandas integers alike).
* A yes/no value: "Yes" / "No"; a missing value (None, NaN, pandas NA): an empty cell (:data:`MISSING`);
  an infinite value: "∞" / "−∞".  A displayed table never shows True/False, nan, None or inf.
* Ranges and confidence intervals use an en dash ("32.9–57.4"); negative numbers a minus sign as
  Python writes it ("-0.5").
"""

from __future__ import annotations

import math
import numbers
from typing import Literal

import numpy as np
import pandas as pd

from ..analysis.config import ReportSpec

#: the rules when no plan is given (the ``report:`` key's defaults)
DEFAULT = ReportSpec()
#: a missing value in a displayed table
MISSING = ""
#: between the limits of a confidence interval or a range
DASH = "\u2013"
NOT_REACHED = "NR"
NOT_ESTIMABLE = "NE"


def _missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _finite(v) -> bool:
    if _missing(v) or isinstance(v, (bool, np.bool_, str)):
        return False
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _fixed(v: float, digits: int) -> str:
    """``digits`` decimals, without a "-0.0"."""
    s = f"{float(v):.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def number(v, digits: int = 2) -> str:
    """A number with ``digits`` decimals; an integer (int, numpy or pandas integer) as an integer; a
    bool as Yes/No; text as it is; missing as :data:`MISSING`; infinity as "∞"."""
    if isinstance(v, (bool, np.bool_)):
        return "Yes" if v else "No"
    if isinstance(v, str):
        return v
    if _missing(v):
        return MISSING
    if isinstance(v, numbers.Integral):
        return str(int(v))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    return _fixed(f, digits)


def integer(v) -> str:
    """A count: "375" for 375, 375.0 or numpy.int64(375); missing as :data:`MISSING`."""
    if not _finite(v):
        return number(v)
    f = float(v)
    return str(int(round(f))) if f.is_integer() else number(f, 2)


def p_value(p, rules: ReportSpec = DEFAULT) -> str:
    """P by the rule: ``p_digits`` decimals, "<0.001" below ``p_small``, ">0.999" where it would round
    to 1; missing (not estimated) as :data:`MISSING`."""
    if not _finite(p):
        return MISSING
    p = float(p)
    d = rules.p_digits
    if p < rules.p_small:
        return "<" + np.format_float_positional(rules.p_small, trim="-")
    if p >= 1 - 0.5 * 10 ** -d:
        return ">0." + "9" * d
    return _fixed(p, d)


def p_pattern(rules: ReportSpec = DEFAULT) -> str:
    """A regular expression every displayed P matches (for tests and readers): the rule's texts,
    optionally followed by a superscript footnote marker."""
    small = np.format_float_positional(rules.p_small, trim="-").replace(".", r"\.")
    return rf"(?:<{small}|>0\.{'9' * rules.p_digits}|0\.\d{{{rules.p_digits}}})[{''.join(MARKERS)}]?"


def hr_ci(hr, lcl, ucl, rules: ReportSpec = DEFAULT) -> str:
    """HR (95% CI): "0.64 (0.49–0.84)" with ``hr_digits`` decimals; "NE" when not estimable."""
    if not (_finite(hr) and _finite(lcl) and _finite(ucl)):
        return NOT_ESTIMABLE
    d = rules.hr_digits
    return f"{_fixed(hr, d)} ({_fixed(lcl, d)}{DASH}{_fixed(ucl, d)})"


def estimate(v, rules: ReportSpec = DEFAULT) -> str:
    """A median, mean, SD or time with ``digits`` decimals; "NR" where not reached (missing)."""
    return _fixed(v, rules.digits) if _finite(v) else NOT_REACHED


def median(m, rules: ReportSpec = DEFAULT) -> str:
    """A median, "NR" where not reached."""
    return estimate(m, rules)


def median_ci(m, lo, hi, rules: ReportSpec = DEFAULT) -> str:
    """Median (95% CI): "32.8 (25.1–NR)"; "NR" for the median or a limit not reached."""
    return f"{estimate(m, rules)} ({estimate(lo, rules)}{DASH}{estimate(hi, rules)})"


def pct(x, rules: ReportSpec = DEFAULT) -> str:
    """A percentage (``x`` already in %) with ``pct_digits`` decimals."""
    return _fixed(x, rules.pct_digits) if _finite(x) else number(x)


def count_pct(n, of, rules: ReportSpec = DEFAULT) -> str:
    """n (%) of ``of``: "31 (44.9)"; without a denominator the count alone."""
    if not _finite(n):
        return MISSING
    if not _finite(of) or float(of) == 0:
        return integer(n)
    return f"{integer(n)} ({pct(100 * float(n) / float(of), rules)})"


def count(v) -> str:
    """A count or an effective sample size: an integer as an integer, else 2 decimals."""
    return integer(v)


def percent_ci(rate, lcl, ucl, rules: ReportSpec = DEFAULT) -> str:
    """A proportion as a percentage with its CI: "45.2 (38.1–52.4)"."""
    if not _finite(rate):
        return MISSING
    if not (_finite(lcl) and _finite(ucl)):
        return pct(100 * float(rate), rules)
    return f"{pct(100 * float(rate), rules)} ({pct(100 * float(lcl), rules)}{DASH}{pct(100 * float(ucl), rules)})"


def count_rate_ci(n, rate, lcl, ucl, rules: ReportSpec = DEFAULT) -> str:
    """n (%; 95% CI of the %): "31 (44.9; 32.9–57.4)"."""
    if not _finite(rate):
        return integer(n)
    ci = f"; {pct(100 * lcl, rules)}{DASH}{pct(100 * ucl, rules)}" if _finite(lcl) and _finite(ucl) else ""
    return f"{integer(n)} ({pct(100 * rate, rules)}{ci})"


def mean_sd(mean, sd, rules: ReportSpec = DEFAULT) -> str:
    """"52.3 (10.1)"; an SD that is not defined (one patient) as :data:`MISSING` inside the brackets."""
    if not _finite(mean):
        return MISSING
    return f"{_fixed(mean, rules.digits)} ({_fixed(sd, rules.digits) if _finite(sd) else MISSING})"


def median_bracket(med, lo, hi, rules: ReportSpec = DEFAULT) -> str:
    """Median [IQR] or median [min, max]: "54.0 [47.0, 61.0]" (tableone's and gtsummary's form)."""
    if not _finite(med):
        return MISSING
    d = rules.digits
    return f"{_fixed(med, d)} [{_fixed(lo, d)}, {_fixed(hi, d)}]"


def km_break(last_time: float, rules: ReportSpec = DEFAULT) -> float:
    """The Kaplan–Meier x-axis and risk-table interval (months): ``km_break_months`` when set, else 6,
    or 12 when the follow-up runs beyond 48 months (ticks every 6 months to 48, every 12 beyond)."""
    if rules.km_break_months is not None:
        return float(rules.km_break_months)
    return 12.0 if _finite(last_time) and float(last_time) > 48 else 6.0


#: footnote markers, in order: a, b, c, ... as superscript letters
MARKERS = ("ᵃ", "ᵇ", "ᶜ", "ᵈ", "ᵉ", "ᶠ", "ᵍ", "ʰ", "ⁱ", "ʲ", "ᵏ", "ˡ", "ᵐ", "ⁿ", "ᵒ", "ᵖ")


class Markers:
    """Footnote markers for the tests of one table: the first test named gets "ᵃ", the next "ᵇ", ...;
    :meth:`footnote` lists them ("ᵃ t-test (Student); ᵇ chi-square (Yates)")."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def mark(self, test: str | None) -> str:
        if not test or _missing(test):
            return ""
        test = test_name(str(test))
        if test not in self.names:
            self.names.append(test)
        k = self.names.index(test)
        return MARKERS[k] if k < len(MARKERS) else f"[{k + 1}]"

    def footnote(self) -> str:
        return "; ".join(f"{self.mark(n)} {n}" for n in self.names) + ("." if self.names else "")


#: the tests as a reader names them (stats.tests' short names -> words)
TEST_NAMES = {"t-test (Student)": "Student's t-test", "t-test (Welch)": "Welch's t-test",
              "Wilcoxon rank-sum": "Wilcoxon rank-sum test", "Wilcoxon rank-sum (exact)": "Wilcoxon rank-sum test (exact)",
              "Kruskal-Wallis": "Kruskal–Wallis test", "chi-square": "chi-square test",
              "chi-square (Yates)": "chi-square test with Yates' continuity correction",
              "Fisher's exact": "Fisher's exact test", "Fisher's exact (Monte Carlo)": "Fisher's exact test (Monte Carlo)"}


def test_name(test: str) -> str:
    return TEST_NAMES.get(test, test)


def with_marker(p_text: str, marker: str) -> str:
    """A P text with its test's footnote marker (none on an empty cell)."""
    return p_text + marker if p_text else p_text


Kind = Literal["p", "hr", "pct", "proportion", "count", "estimate", "smd", "text"]


def excel_format(kind: Kind, rules: ReportSpec = DEFAULT) -> str:
    """The Excel number format of a column of ``kind`` with the same digits as the displayed text
    (tables.xlsx keeps numbers numeric): "0.000" for a P (with "<0.001" and ">0.999" sections), "0.00"
    for an HR or its CI limit, "0.0" for a percentage, "0" for a count, "0.0" for a mean, median or
    time, "0.000" for an SMD or a proportion (0-1), "General" for text."""
    def fixed(d: int) -> str:
        return "0" if d == 0 else "0." + "0" * d
    if kind == "p":
        small = np.format_float_positional(rules.p_small, trim="-")
        top = 1 - 0.5 * 10 ** -rules.p_digits
        return f'[<{small}]"<{small}";[>={top:g}]">0.{"9" * rules.p_digits}";{fixed(rules.p_digits)}'
    return {"hr": fixed(rules.hr_digits), "pct": fixed(rules.pct_digits), "count": "0",
            "estimate": fixed(rules.digits), "smd": "0.000", "proportion": "0.000"}.get(kind, "General")


def column_kind(header: str) -> Kind:
    """The kind of a ``TableItem.data`` column from its header, for :func:`excel_format` (first rule
    that applies): a P ("P", "P (after)", "Log-rank P", "P for interaction", "HR P"); an SMD, variance
    ratio or eCDF statistic; a survival probability ("Survival at ..."); a mean, median or follow-up
    time; an HR or a CI limit ("HR", "Lower 95% CI"); a percentage ("... %", "... lower 95% CI" of
    one); a count ("n", "Events", "n, SE")."""
    h = str(header).strip()
    low = h.lower()
    if h == "P" or h.startswith("P ") or low.endswith(" p") or low.startswith("p for") or low.startswith("p ("):
        return "p"
    if "smd" in low or "ratio" in low or "ecdf" in low:
        return "smd"
    if low.startswith("survival at"):
        return "proportion"
    if any(w in low for w in ("median", "mean", "follow-up")):
        return "estimate"
    if low.endswith("%") or "% " in low.replace("95% ci", ""):
        return "pct"
    if low.startswith("hr") or low in ("lower 95% ci", "upper 95% ci"):
        return "hr"
    if low.endswith(("lower 95% ci", "upper 95% ci")):
        return "pct"
    if low in ("n", "events") or "grade" in low or low.startswith(("n,", "events,", "n (")) or low.endswith((" n", ", n")):
        return "count"
    return "text"


def display_frame(df: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Every cell as display text (numbers with ``digits`` decimals, missing as :data:`MISSING`)."""
    return df.astype(object).apply(lambda c: c.map(lambda v: number(v, digits)))
