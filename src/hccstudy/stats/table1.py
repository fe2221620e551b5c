"""Table 1: baseline characteristics by arm, with tests and standardised mean differences, following
R tableone's conventions (``docs/spec/r-parity-notes.md`` section 4; hccstudy's choices in section 6).

Per variable (rows of the returned tidy DataFrame, one per variable level / statistic):

* continuous: "mean (SD)" (SD with n - 1) and "median [min, max]"; variables listed as non-normal show
  "median [IQR]" (quantile type 7) first.  Test: Student t (pooled; ``t_test = "welch"`` for Welch) or,
  for non-normal ones, Wilcoxon rank-sum (``nonnormal_test = "kruskal"`` for tableone's Kruskal–Wallis).
* categorical (strings, declared categorical, booleans, and numerics with two distinct values): one
  row per level, "n (%)"; a 0/1 (or boolean) variable shows the level 1 / true only.  Test: chi-square
  with Yates' correction on 2 x 2 tables (R ``chisq.test``); Fisher's exact test for variables listed in
  ``exact``, and automatically when an expected count is < ``fisher_expected_below`` (None: never).
* SMD (tableone's, absolute): continuous |m1 - m2| / sqrt((s1^2 + s2^2) / 2); categorical Yang & Dalton's
  multinomial form sqrt(T' S^-1 T), T = p1 - p2 and S = (S1 + S2) / 2 over the non-reference levels
  (binary: |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)).
* The ``test`` column names the test used for each variable; ``p_text`` is R tableone's "<0.001" format.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .propensity import factor_levels
from .table1_options import Table1Options
from .tests import categorical_test, format_p, kruskal_test, t_test, wilcoxon_test


def is_categorical(s: pd.Series, declared: bool = False) -> bool:
    """Categorical for Table 1: declared, text / categorical / boolean dtype, or numeric with <= 2 values."""
    if declared or s.dtype == bool or isinstance(s.dtype, (pd.BooleanDtype, pd.CategoricalDtype, pd.StringDtype)):
        return True
    if s.dtype == object:
        return True
    return s.dropna().nunique() <= 2


def _binary01(s: pd.Series) -> bool:
    vals = set(pd.unique(s.dropna()).tolist())
    return vals <= {0, 1} and len(vals) > 0 and not isinstance(s.dtype, pd.StringDtype) and s.dtype != object


def smd_continuous(x1: np.ndarray, x2: np.ndarray) -> float:
    v = (np.var(x1, ddof=1) + np.var(x2, ddof=1)) / 2
    return float(abs(np.mean(x1) - np.mean(x2)) / np.sqrt(v)) if v > 0 else (0.0 if np.mean(x1) == np.mean(x2) else float("inf"))


def smd_categorical(p1: np.ndarray, p2: np.ndarray) -> float:
    """Yang & Dalton multinomial SMD from level proportions (first level = reference)."""
    t = (p1 - p2)[1:]
    if len(t) == 0:
        return 0.0
    s1 = np.diag(p1[1:]) - np.outer(p1[1:], p1[1:])
    s2 = np.diag(p2[1:]) - np.outer(p2[1:], p2[1:])
    s = (s1 + s2) / 2
    val = float(t @ np.linalg.pinv(s) @ t)
    return float(np.sqrt(max(val, 0.0)))


def _fmt(v: float, digits: int) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def table1(data: pd.DataFrame, group: str, covariates: list[str], *, groups: list | None = None,
           labels: dict | None = None, categorical: list[str] | tuple[str, ...] = (),
           nonnormal: list[str] | tuple[str, ...] = (), options: Table1Options | None = None) -> pd.DataFrame:
    """Table 1 of ``covariates`` by the two levels of ``data[group]`` (order: ``groups``; display names:
    ``labels``).  Returns one row per (variable, level, statistic); see module docstring."""
    opt = options or Table1Options()
    g_all = data[group]
    groups = list(groups) if groups is not None else factor_levels(g_all)
    if len(groups) != 2:
        raise ValueError(f"Table 1 needs two groups, got {groups}")
    labels = labels or {}
    names = [str(labels.get(g, g)) for g in groups]
    masks = [(g_all == g).to_numpy() for g in groups]
    rows: list[dict] = []
    n_row = {"variable": "n", "level": "", "statistic": "n", "overall": str(int(sum(m.sum() for m in masks))),
             "test": "", "p": np.nan, "p_text": "", "smd": np.nan, "summary": {}}
    for nm, m in zip(names, masks, strict=True):
        n_row[nm] = str(int(m.sum()))
        n_row["summary"][nm] = {"n": int(m.sum())}
    n_row["summary"]["overall"] = {"n": int(sum(m.sum() for m in masks))}
    rows.append(n_row)
    in_groups = masks[0] | masks[1]
    for v in covariates:
        s = data[v]
        if is_categorical(s, v in categorical):
            rows += _categorical_rows(v, s, masks, in_groups, names, opt)
        else:
            rows += _continuous_rows(v, s, masks, in_groups, names, opt, v in nonnormal)
    cols = ["variable", "level", "statistic", "overall", *names, "test", "p", "p_text", "smd", "summary"]
    return pd.DataFrame(rows)[cols]


def _continuous_rows(v, s, masks, in_groups, names, opt: Table1Options, nonnormal: bool) -> list[dict]:
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    parts = [x[m & ~np.isnan(x)] for m in masks]
    allx = x[in_groups & ~np.isnan(x)]
    if nonnormal:
        res = wilcoxon_test(*parts) if opt.nonnormal_test == "wilcoxon" else kruskal_test(*parts)
    else:
        res = t_test(*parts, equal_var=opt.t_test == "student")
    d = opt.digits

    def summary(a):
        if len(a) == 0:
            return {"n": 0}
        q1, med, q3 = np.percentile(a, [25, 50, 75])
        return {"n": int(len(a)), "mean": float(a.mean()), "sd": float(a.std(ddof=1)) if len(a) > 1 else float("nan"),
                "median": float(med), "q1": float(q1), "q3": float(q3), "min": float(a.min()), "max": float(a.max())}

    sums = {"overall": summary(allx), **{nm: summary(a) for nm, a in zip(names, parts, strict=True)}}
    stat_rows = []
    kinds = (["median [IQR]"] if nonnormal else ["mean (SD)"]) + ["median [min, max]"]
    for k, kind in enumerate(kinds):
        row = {"variable": v, "level": "", "statistic": kind, "test": res.test if k == 0 else "",
               "p": res.p if k == 0 else np.nan, "p_text": format_p(res.p, opt.p_digits) if k == 0 else "",
               "smd": smd_continuous(*parts) if k == 0 and all(len(a) > 1 for a in parts) else np.nan,
               "summary": sums if k == 0 else {}}
        for key, sm in sums.items():
            if sm["n"] == 0:
                row[key] = ""
            elif kind == "mean (SD)":
                row[key] = f"{_fmt(sm['mean'], d)} ({_fmt(sm['sd'], d)})"
            elif kind == "median [IQR]":
                row[key] = f"{_fmt(sm['median'], d)} [{_fmt(sm['q1'], d)}, {_fmt(sm['q3'], d)}]"
            else:
                row[key] = f"{_fmt(sm['median'], d)} [{_fmt(sm['min'], d)}, {_fmt(sm['max'], d)}]"
        stat_rows.append(row)
    return stat_rows


def _level_masks(s: pd.Series, levels: list) -> list[np.ndarray]:
    """``s == level`` for each level as numpy booleans (missing: False): numeric columns compare in numpy,
    text ones in pandas (Arrow strings compare in C; an object array would compare value by value)."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iufb":
        x = s.to_numpy()
        return [x == lev for lev in levels]
    return [(s == lev).to_numpy(dtype=bool, na_value=False) for lev in levels]


def _categorical_rows(v, s, masks, in_groups, names, opt: Table1Options) -> list[dict]:
    ok = s.notna().to_numpy()
    levels = factor_levels(s[in_groups & ok])
    counts = np.array([[int((eq & m).sum()) for m in [mk & ok for mk in masks]] for eq in _level_masks(s, levels)])
    n = counts.sum(axis=0)
    res = categorical_test(counts, exact=v in opt.exact, fisher_expected_below=opt.fisher_expected_below)
    props = [counts[:, j] / n[j] if n[j] else np.zeros(len(levels)) for j in range(2)]
    smd = smd_categorical(props[0], props[1]) if len(levels) > 1 else 0.0
    binary = _binary01(s) and len(levels) == 2
    shown = levels[1:] if binary else levels
    rows = []
    pd_ = opt.pct_digits
    header = {"variable": v, "level": "", "statistic": "n (%)", "overall": "", names[0]: "", names[1]: "",
              "test": res.test, "p": res.p, "p_text": format_p(res.p, opt.p_digits), "smd": smd, "summary": {}}
    if not binary:
        rows.append(header)
    for lev in shown:
        i = levels.index(lev)
        tot = counts[i].sum()
        label = str(int(lev)) if isinstance(lev, float) and float(lev).is_integer() else str(lev)
        row = {"variable": v, "level": label, "statistic": "n (%)", "test": "", "p": np.nan, "p_text": "",
               "smd": np.nan, "summary": {}}
        row["overall"] = f"{tot} ({_fmt(100 * tot / max(n.sum(), 1), pd_)})"
        row["summary"]["overall"] = {"n": int(tot), "pct": float(100 * tot / max(n.sum(), 1))}
        for j, nm in enumerate(names):
            pct = 100 * counts[i, j] / n[j] if n[j] else float("nan")
            row[nm] = f"{counts[i, j]} ({_fmt(pct, pd_)})"
            row["summary"][nm] = {"n": int(counts[i, j]), "pct": float(pct)}
        if binary:
            row.update(test=res.test, p=res.p, p_text=format_p(res.p, opt.p_digits), smd=smd)
        rows.append(row)
    return rows
