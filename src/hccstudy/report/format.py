"""How a value is shown to a reader: the one place the report turns numbers into text.

Tables in report.html and tables.docx show these texts; tables.xlsx keeps numbers as numbers (a
table's ``data``).  Missing or non-finite values show as empty text, a median not reached as "NR", a
hazard ratio that cannot be estimated as "NE".
"""

from __future__ import annotations

import math

import pandas as pd

from ..stats.tests import format_p


def _finite(v) -> bool:
    try:
        return v is not None and v is not pd.NA and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def number(v, digits: int = 2) -> str:
    """A number with ``digits`` decimals (an integer as it is); "" when missing."""
    if isinstance(v, (bool, str)):
        return str(v)
    if not _finite(v):
        return ""
    if float(v).is_integer() and not isinstance(v, float):
        return str(int(v))
    return f"{float(v):.{digits}f}"


def p_value(p) -> str:
    """P as R tableone prints it ("<0.001", three decimals); "" when not estimated."""
    return format_p(float(p)) if _finite(p) else ""


def hr_ci(hr, lcl, ucl) -> str:
    """HR (95% CI) with 2 decimals; "NE" when not estimable."""
    if not (_finite(hr) and _finite(lcl) and _finite(ucl)):
        return "NE"
    return f"{hr:.2f} ({lcl:.2f}-{ucl:.2f})"


def median(m) -> str:
    """A median (1 decimal), "NR" where not reached."""
    return f"{m:.1f}" if _finite(m) else "NR"


def count(v) -> str:
    """A count or an effective sample size: an integer as it is, else 2 decimals."""
    return number(v, 0 if _finite(v) and float(v).is_integer() else 2)


def count_rate_ci(n, rate, lcl, ucl) -> str:
    """n (%; 95% CI of the %): "31 (44.9; 32.9-57.4)"."""
    if not _finite(rate):
        return f"{int(n)}"
    return f"{int(n)} ({100 * rate:.1f}; {100 * lcl:.1f}-{100 * ucl:.1f})"


def median_ci(m, lo, hi) -> str:
    """Median (95% CI), "NR" where not reached."""
    f = lambda v: f"{v:.1f}" if _finite(v) else "NR"  # noqa: E731
    return f"{f(m)} ({f(lo)}-{f(hi)})"


def percent_ci(rate, lcl, ucl) -> str:
    """A proportion as a percentage with its CI: "45.2 (38.1-52.4)"."""
    if not _finite(rate):
        return ""
    return f"{100 * rate:.1f} ({100 * lcl:.1f}-{100 * ucl:.1f})" if _finite(lcl) and _finite(ucl) else f"{100 * rate:.1f}"


def count_pct(n, of) -> str:
    """n (%) of ``of``."""
    return f"{int(n)} ({100 * n / of:.1f})" if of else f"{int(n)}"


def display_frame(df: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Every cell as display text (numbers with ``digits`` decimals, missing as "")."""
    return df.astype(object).apply(lambda c: c.map(lambda v: number(v, digits)))
