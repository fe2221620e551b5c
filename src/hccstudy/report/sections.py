"""The report as one ordered list of sections, built once from the results.

A :class:`Section` has a title, tables (:class:`TableItem`: a DataFrame of display labels and display
text, plus the same table with numbers as numbers for the spreadsheet), figures (:class:`FigureItem`:
a drawing function over the fitted objects, never a refit) and notes.  Three renderers draw the list:
:mod:`.render_html`, :mod:`.render_docx`, :mod:`.render_xlsx`.  Adding a section means writing one
function and listing it in :func:`build_sections`; nothing decides what to show by looking for a file.

Every text a reader sees goes through the variable dictionary (:class:`~hccstudy.analysis.labels.Dictionary`,
config key ``labels:``): variable labels with units, level labels, arm names, endpoint names, model
terms ("Sex: Female").  A name without a label is shown as its code name and listed in the last
section's note.  The reference arm comes first everywhere: the arm's dictionary ``order``, else the
Cox reference arm (``cox.arm_reference``).  Values become text in one place, :mod:`.format`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.columns import DISTANCE, TREATED, WEIGHT
from ..analysis.labels import Dictionary, same_level
from ..analysis.records import EndpointResult, SurvivalComparison
from ..analysis.run import Results
from . import figures as F
from . import format as F_
from .format import count, count_pct, count_rate_ci, hr_ci, median, median_ci, number, p_value, percent_ci


# ---------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class TableItem:
    """A table: ``frame`` as a reader sees it (display labels and text: report.html, tables.docx),
    ``data`` the same rows with numbers as numbers (tables.xlsx; None: ``frame``).  ``highlight``: rows
    to flag (an imbalance, a reproduction target missed)."""

    key: str
    caption: str
    frame: pd.DataFrame
    footnote: str = ""
    data: pd.DataFrame | None = None
    highlight: tuple[bool, ...] | None = None


@dataclass(frozen=True)
class FigureItem:
    """A figure: ``draw()`` returns the matplotlib Figure (its texts already labels); ``key`` is the
    file stem under figures/; ``path`` (the PNG) is set once the figure is drawn and written."""

    key: str
    caption: str
    draw: Callable = field(repr=False, compare=False)
    path: Path | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    tables: list[TableItem] = field(default_factory=list)
    figures: list[FigureItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def with_figures(self, figures: list[FigureItem]) -> Section:
        return replace(self, figures=figures)


# ---------------------------------------------------------------------------------------------- context
@dataclass(frozen=True)
class Arms:
    """The two arms as the report shows them: ``order`` (arm labels as in the analysed rows, the
    reference first), ``names`` (label -> display name), ``reference`` (the Cox reference arm)."""

    order: list[str]
    names: dict[str, str]
    reference: str
    other: str

    def shown(self) -> list[str]:
        return [self.names[a] for a in self.order]


def arms_of(results: Results, d: Dictionary) -> Arms:
    cfg = results.config
    col = cfg.arm.column
    raw = {results.labels["control"]: cfg.arm.control, results.labels["treated"]: cfg.arm.treated}
    spec = cfg.labels.get(col)
    given = cfg.arm.labels
    names = {}
    for lab, value in raw.items():
        if spec is not None and any(same_level(k, value) for k in spec.levels):
            names[lab] = d.level(col, value)
        elif any(same_level(k, value) for k in given):
            names[lab] = lab                      # the config's own arm label (arm.labels)
        else:
            names[lab] = d.level(col, value)
    ref = results.labels[cfg.cox.arm_reference]
    other = results.labels["treated" if cfg.cox.arm_reference == "control" else "control"]
    if spec is not None and spec.order:
        by_value = d.order(col, list(raw.values()))
        order = [next(lab for lab, v in raw.items() if v is value) for value in by_value]
    else:
        order = [ref, other]
    return Arms(order, names, ref, other)


@dataclass(frozen=True)
class _Ctx:
    results: Results
    d: Dictionary
    arms: Arms
    flow: pd.DataFrame | None
    calibration: pd.DataFrame | None
    software: dict[str, str]


SAMPLE_WORDS = {"full": "all patients", "matched": "matched patients"}


def _sample(name: str) -> str:
    return SAMPLE_WORDS.get(name, name)


def term_label(ctx: _Ctx, variable: str | None, term: str, arm_term: str | None = None) -> str:
    """A model term as a reader reads it: "Sex: Female", "Age, years", "Treatment: SI vs SE"."""
    if arm_term is not None and term == arm_term:
        a = ctx.arms
        return f"{ctx.d.label(ctx.results.config.arm.column)}: {a.names[a.other]} vs {a.names[a.reference]}"
    var, level = ctx.d.term(variable, term)
    return var if level is None else f"{var}: {level}"


def _ordered_levels(d: Dictionary, frame: pd.DataFrame, var_col: str, level_col: str) -> pd.DataFrame:
    """Rows grouped by variable (first appearance), header rows (no level) first, levels in the
    dictionary's order."""
    idx: list = []
    for var in dict.fromkeys(frame[var_col]):
        rows = frame[frame[var_col] == var]
        head = rows[rows[level_col].isna() | (rows[level_col].astype(str) == "")]
        lev = rows.drop(index=head.index)
        order = d.order(var, list(lev[level_col]))
        idx += list(head.index) + [lev.index[list(lev[level_col]).index(v)] for v in order]
    return frame.loc[idx]


# ---------------------------------------------------------------------------------------------- sections
def methods(ctx: _Ctx) -> Section:
    r, d = ctx.results, ctx.d
    cfg = r.config
    t1 = cfg.table1
    notes = [f"Continuous variables: mean (SD) and median [min, max]; compared with the "
             f"{'Student (pooled-variance)' if t1.t_test == 'student' else 'Welch'} t-test, or the "
             f"{'Wilcoxon rank-sum' if t1.nonnormal_test == 'wilcoxon' else 'Kruskal–Wallis'} test for non-normal ones. "
             f"Categorical variables: n (%); chi-square test with Yates' correction on 2×2 tables"
             + (f", Fisher's exact test when an expected count was below {t1.fisher_expected_below:g}" if t1.fisher_expected_below else "")
             + ". Standardised mean differences: absolute, with the pooled standard deviation (tableone)."]
    if r.matching is not None:
        m = cfg.matching
        width = r.matching.caliper_width
        caliper = ("no caliper" if width is None else
                   f"caliper {m.caliper:g} {'standard deviations of the ' if m.std_caliper else ''}"
                   f"{'propensity score' if m.link == 'logit' else 'logit of the propensity score'} "
                   f"(width used: {width:.4f}; exact value in results.json)")
        design = (f"1:{m.ratio} nearest-neighbour matching {'with' if m.replace else 'without'} replacement, "
                  f"{m.order if not m.replace else 'data'} order")
        if m.discard != "none":
            design += f", units outside the common support discarded ({m.discard})"
        notes.append(f"Propensity score: unpenalised logistic regression of the group "
                     f"({ctx.arms.names[r.labels['treated']]} = treated) on {', '.join(d.variable(v) for v in m.on)}; "
                     f"{design}, {caliper}, as R MatchIt (≥ 4.5.4); {r.matching.n_pairs} treated units matched with "
                     f"{len(r.matching.pairs)} control match(es). Balance: MatchIt's standardised mean differences "
                     f"(by the treated group's standard deviation) with its matching weights, |SMD| > 0.1 flagged.")
    if cfg.endpoints:
        notes.append(f"Survival: Kaplan–Meier with Greenwood variance and {cfg.km.conf_type} confidence intervals "
                     f"(R survfit), log-rank test; Cox regression with {cfg.cox.ties.capitalize()} ties; hazard ratios "
                     f"of {ctx.arms.names[ctx.arms.other]} vs {ctx.arms.names[ctx.arms.reference]}. On the matched "
                     "sample the primary HR uses a robust variance clustered on the matched pair, and the "
                     "pair-stratified Cox model gives a conditional HR. Variables with univariable P < "
                     f"{cfg.cox.select_p:g} entered the multivariable model. Proportional hazards: cox.zph (km "
                     "transform). Median follow-up: reverse Kaplan–Meier.")
    notes.append("Software: " + ", ".join(f"{k} {v}" for k, v in ctx.software.items()) + ".")
    return Section("methods", "Methods", notes=notes)


def _flow_figure_args(ctx: _Ctx, flow: pd.DataFrame) -> dict:
    """The CONSORT figure's boxes from the flow table (screened, exclusions, included per arm, and per
    centre where the flow has ``centre_screened`` / ``centre_included`` rows) and the matching
    (matched and unmatched per arm, the matched pairs)."""
    f = flow.set_index(["step", "criterion"])["n"]
    r, arms = ctx.results, ctx.arms
    excl = flow[flow["step"] == "excluded"]
    shown_arms = [(ctx.d.level(r.config.arm.column, x.criterion) if r.config.arm.column in ctx.d.specs else x.label,
                   int(x.n)) for x in flow[flow["step"] == "arm"].itertuples()]
    cs = flow[flow["step"] == "centre_screened"]
    ci = flow[flow["step"] == "centre_included"].set_index("criterion")["n"]
    centres = [(str(x.label), int(x.n), int(ci.get(x.criterion, 0))) for x in cs.itertuples()] or None
    args = {"screened": int(f[("screened", "")]), "excluded": [(x.label, int(x.n)) for x in excl.itertuples()],
            "included": int(f[("included", "")]), "arms": shown_arms, "centres": centres}
    m = r.matching
    if m is not None:
        # the analysed arms in the report's order (reference first), matched / not matched from the matching
        u = m.units
        is_t = u["treated"].to_numpy(dtype=bool)
        done = u["matched"].to_numpy(dtype=bool)
        per = {r.labels["treated"]: (int((is_t & done).sum()), int((is_t & ~done).sum())),
               r.labels["control"]: (int((~is_t & done).sum()), int((~is_t & ~done).sum()))}
        args["arms"] = [(arms.names[a], per[a][0] + per[a][1]) for a in arms.order]
        args["matched"] = [(arms.names[a], *per[a]) for a in arms.order]
        ratio = r.config.matching.ratio
        args["pairs"] = (f"Propensity-score matched: {m.n_pairs} pairs" if ratio == 1 and not m.replace else
                         f"Propensity-score matched: {m.n_pairs} matched sets (1:{ratio})")
    return args


def patient_flow(ctx: _Ctx) -> Section | None:
    flow = ctx.flow
    if flow is None:
        return None
    draw = partial(F.flow_figure, **_flow_figure_args(ctx, flow))
    rows = flow[~flow["step"].isin(["centre_screened", "centre_included"])]
    table = pd.DataFrame({"Step": rows["step"].str.capitalize().to_numpy(), "Criterion": rows["label"].to_numpy(),
                          "n": rows["n"].to_numpy()})
    tables = [TableItem("flow", "Patient flow: screened, excluded by criterion, included by group",
                        table.assign(n=[F_.integer(v) for v in table["n"]]), data=table)]
    return Section("flow", "Patient flow", tables=tables,
                   figures=[FigureItem("patient_flow", "Patient flow (CONSORT diagram)", draw)])


_T1_KINDS = {"mean_sd": ("mean (SD)",), "median_iqr": ("median [IQR]",), "median_range": ("median [min, max]",),
             "both": ("mean (SD)", "median [min, max]")}


def _t1_values(t: pd.DataFrame, rules) -> tuple[dict, dict]:
    """A stats.table1 frame as display cells: (key -> {arm column: text}, variable -> (P, test, SMD)).
    Keys: ("n",); (variable, statistic) for a continuous variable (every statistic, from the
    summaries); (variable, level text) for a level of a categorical one, with the level 0 of a 0/1
    variable (which stats.table1 does not list) as the arm's n minus the level 1."""
    arms = [c for c in t.columns if c not in ("variable", "level", "statistic", "overall", "test", "p", "p_text",
                                               "smd", "summary")]
    cells: dict = {}
    stats: dict = {}
    n_arm = {}
    for v, rows in t.groupby("variable", sort=False):
        if v == "n":
            n_arm = {a: rows["summary"].iat[0][a]["n"] for a in arms}
            cells[("n",)] = {a: F_.integer(n_arm[a]) for a in arms}
            continue
        tested = rows[rows["test"].astype(str) != ""]
        first = tested.iloc[0] if len(tested) else rows.iloc[0]
        stats[v] = (first["p"], first["test"], first["smd"])
        if rows["statistic"].iat[0] != "n (%)":
            sums = rows["summary"].iat[0]
            for kind in ("mean (SD)", "median [IQR]", "median [min, max]"):
                cells[(v, kind)] = {a: _t1_continuous(kind, sums.get(a, {}), rules) for a in arms}
            continue
        levels = rows[rows["level"].astype(str) != ""]
        for r in levels.itertuples(index=False):
            cells[(v, str(r.level))] = {a: F_.count_pct(r.summary[a]["n"], n_arm.get(a, 0), rules) if a in r.summary
                                        else "" for a in arms}
        if len(levels) == 1 and len(rows) == 1:  # a 0/1 variable: stats.table1 lists the 1s only
            r = levels.iloc[0]
            cells[(v, "0")] = {a: F_.count_pct(n_arm[a] - r["summary"][a]["n"], n_arm[a], rules) for a in arms}
    return cells, stats


def _t1_continuous(kind: str, s: dict, rules) -> str:
    if not s or not s.get("n"):
        return ""
    if kind == "mean (SD)":
        return F_.mean_sd(s["mean"], s["sd"], rules)
    if kind == "median [IQR]":
        return F_.median_bracket(s["median"], s["q1"], s["q3"], rules)
    return F_.median_bracket(s["median"], s["min"], s["max"], rules)


def _t1_layout(ctx: _Ctx, t: pd.DataFrame) -> list[tuple[str, tuple | None, str | None]]:
    """Table 1's rows as the paper shows them: (label, cells key, variable whose P and SMD the row
    carries).  Continuous: one row "Age, years, mean (SD)" (``report.continuous``; nonnormal
    variables median [IQR]), or a header and one indented row per statistic.  A two-level variable:
    one row for its non-reference level ("HBV infection, n (%)" for a yes/no; "Sex: Female, n (%)"),
    unless ``report.binary_levels: both`` or listed in ``report.both_levels``.  Otherwise a header
    row "Child–Pugh class, n (%)" and the levels indented, in the dictionary's order."""
    d, rules = ctx.d, ctx.results.config.report
    out: list = [("Patients, n", ("n",), None)]
    for v, rows in t.groupby("variable", sort=False):
        if v == "n":
            continue
        var = d.variable(v)
        if rows["statistic"].iat[0] != "n (%)":
            nonnormal = rows["statistic"].iat[0] == "median [IQR]"
            kinds = [("median [IQR]" if nonnormal and k == "mean (SD)" else k) for k in _T1_KINDS[rules.continuous]]
            if len(kinds) == 1:
                out.append((f"{var}, {kinds[0]}", (v, kinds[0]), v))
            else:
                out.append((var, None, v))
                out += [("\u2003" + k, (v, k), None) for k in kinds]
            continue
        levels = [str(x) for x in rows["level"] if str(x) != ""]
        if len(levels) == 1 and len(rows) == 1:
            levels = ["0", *levels]
        levels = d.order(v, levels)
        both = rules.binary_levels == "both" or v in rules.both_levels or len(levels) != 2
        if not both:
            lev = levels[-1]
            yes = same_level(lev, 1) or d.level(v, lev) == "Yes"
            out.append((f"{var}, n (%)" if yes else f"{var}: {d.level(v, lev)}, n (%)", (v, lev), v))
            continue
        out.append((f"{var}, n (%)", None, v))
        out += [("\u2003" + d.level(v, lev), (v, lev), None) for lev in levels]
    return out


def table1(ctx: _Ctx) -> Section:
    """Table 1 as the paper's: the reference arm first, before and after matching side by side, P with
    its test as a footnote marker, the SMD; labels from the dictionary (:func:`_t1_layout`)."""
    r = ctx.results
    arms = ctx.arms
    rules = r.config.report
    before, after = r.table1_before.reset_index(drop=True), r.table1_after
    layout = _t1_layout(ctx, before)
    marks = F_.Markers()
    parts = [("before", before)] + ([("after", after.reset_index(drop=True))] if after is not None else [])
    shown = pd.DataFrame({"Characteristic": [lab for lab, _, _ in layout]})
    data = shown.copy()
    for name, t in parts:
        suffix = f" ({name})" if after is not None else ""
        cells, stats = _t1_values(t, rules)
        for a in arms.order:
            col = [cells.get(key, {}).get(a, "") if key is not None else "" for _, key, _ in layout]
            shown[arms.names[a] + suffix] = data[arms.names[a] + suffix] = col
        st = [stats.get(v) if v is not None else None for _, _, v in layout]
        shown["P" + suffix] = [F_.with_marker(F_.p_value(x[0], rules), marks.mark(x[1])) if x else "" for x in st]
        data["P" + suffix] = [float(x[0]) if x else np.nan for x in st]
        shown["SMD" + suffix] = [number(x[2], 3) if x else "" for x in st]
        data["SMD" + suffix] = [float(x[2]) if x else np.nan for x in st]
        data["Statistical test" + suffix] = [F_.test_name(str(x[1])) if x and x[1] else "" for x in st]
    caption = ("Baseline characteristics before and after propensity-score matching" if after is not None
               else "Baseline characteristics")
    skewed = " (median [IQR] for the variables listed as nonnormal)" if r.config.nonnormal else ""
    cont = {"mean_sd": f"mean (SD){skewed}", "median_iqr": "median [IQR]",
            "median_range": "median [min, max]", "both": "mean (SD) and median [min, max]"}[rules.continuous]
    foot = (f"Continuous variables: {cont}; categorical variables: n (%). P: {marks.footnote()} "
            "SMD: absolute standardised mean difference.")
    return Section("table1", "Baseline characteristics (Table 1)", tables=[TableItem("table1", caption, shown, foot, data)])


def balance(ctx: _Ctx) -> Section | None:
    r = ctx.results
    if r.balance is None:
        return None
    cfg = r.config
    on = cfg.matching.on
    b = r.balance
    names = []
    for i, term in enumerate(b["term"]):
        if i == 0:
            names.append("Propensity score" if cfg.matching.link == "logit" else "Linear propensity score (logit)")
            continue
        var = max((v for v in on if str(term).startswith(v)), key=len, default=None)
        names.append(term_label(ctx, var, str(term)))
    cols = {"smd_before": "SMD before", "smd_after": "SMD after", "var_ratio_before": "Variance ratio before",
            "var_ratio_after": "Variance ratio after", "ecdf_max_before": "eCDF max before",
            "ecdf_max_after": "eCDF max after"}
    data = pd.DataFrame({"Term": names, **{v: b[k].to_numpy() for k, v in cols.items()},
                         "|SMD| > 0.1 after matching": b["flag"].map({True: "Yes", False: ""}).to_numpy()})
    shown = data.copy()
    for v in cols.values():
        shown[v] = [number(x, 3) for x in data[v]]
    d = r.data
    treated_name, control_name = ctx.arms.names[r.labels["treated"]], ctx.arms.names[r.labels["control"]]
    size_shown = r.sample_sizes.rename(columns={"sample": "Sample", "control": control_name, "treated": treated_name})
    size_shown = size_shown[["Sample", *ctx.arms.shown()]]
    xlabel = "Propensity score" if cfg.matching.link == "logit" else "Linear propensity score (logit)"
    figs = [FigureItem("love_plot", "Love plot: standardised mean differences before and after matching",
                       partial(F.love_figure, names, b["smd_before"].to_numpy(), b["smd_after"].to_numpy())),
            FigureItem("ps_distribution", "Propensity score distribution by group, all and matched patients",
                       partial(F.ps_figure, d[DISTANCE].to_numpy(), d[TREATED].to_numpy(), d[WEIGHT].to_numpy() > 0,
                               (control_name, treated_name), xlabel, tuple(ctx.arms.shown())))]
    return Section("balance", "Balance", tables=[
        TableItem("balance", "Covariate balance before and after matching (MatchIt summary)", shown,
                  "Rows with |SMD| > 0.1 after matching are flagged.", data, tuple(bool(x) for x in b["flag"])),
        TableItem("sample_sizes", "Sample sizes (MatchIt)", size_shown.astype(object).map(count),
                  "matched (ESS): effective sample size with the matching weights.", size_shown)],
        figures=figs)


def _survival_rows(ctx: _Ctx, ep: EndpointResult, sname: str, c: SurvivalComparison) -> tuple[list[dict], list[dict]]:
    arms = ctx.arms
    unit = ep.unit
    shown, data = [], []
    rules = ctx.results.config.report
    hr = c.primary_hr if c.estimable else None
    hr_type = "robust, clustered on pair" if c.paired else "Cox"
    for a in arms.order:
        km = c.km.get(a)
        med = km.median if km is not None else (np.nan, np.nan, np.nan)
        at = km.surv_at(list(c.landmarks)) if km is not None and c.landmarks else None
        fu = c.median_followup[a]
        row_s = {"Sample": _sample(sname), "Group": arms.names[a], "n": F_.integer(km.n if km else 0),
                 "Events": F_.integer(km.events if km else 0), f"Median, {unit} (95% CI)": median_ci(*med, rules)}
        row_d = {"Sample": _sample(sname), "Group": arms.names[a], "n": km.n if km else 0, "Events": km.events if km else 0,
                 "Median": med[0], "Median lower 95% CI": med[1], "Median upper 95% CI": med[2]}
        for k, lm in enumerate(c.landmarks):
            head = f"{lm:g} {unit}"
            if at is not None:
                s, lo, hi = at["surv"].iat[k], at["lower"].iat[k], at["upper"].iat[k]
            else:
                s = lo = hi = np.nan
            row_s[f"Survival at {head}, % (95% CI)"] = percent_ci(s, lo, hi, rules)
            row_d[f"Survival at {head}"] = s
            row_d[f"Survival at {head}, lower 95% CI"] = lo
            row_d[f"Survival at {head}, upper 95% CI"] = hi
        row_s[f"Median follow-up, {unit}"] = median(fu[0], rules)
        row_d["Median follow-up"] = fu[0]
        ref = a == arms.reference
        row_s["HR (95% CI)"] = "1 (reference)" if ref else (hr_ci(hr.hr, hr.lcl, hr.ucl, rules) if hr else "NE")
        row_s["P"] = "" if ref or hr is None else p_value(hr.p, rules)
        row_s["Log-rank P"] = "" if ref or c.logrank is None else p_value(c.logrank.p, rules)
        nan = np.nan
        row_d.update({"HR": 1.0 if ref else (hr.hr if hr else nan), "HR lower 95% CI": nan if ref or not hr else hr.lcl,
                      "HR upper 95% CI": nan if ref or not hr else hr.ucl, "HR P": nan if ref or not hr else hr.p,
                      "Log-rank P": nan if ref or c.logrank is None else c.logrank.p,
                      "HR type": "reference" if ref else hr_type})
        shown.append(row_s)
        data.append(row_d)
    return shown, data


def _km_panel_args(ctx: _Ctx, ep: EndpointResult, sname: str, c: SurvivalComparison) -> dict:
    """One KM panel: the arms' curves (reference first), the log-rank P and the sample's primary HR
    (robust, clustered on the pair, on the matched sample: as the tables), the endpoint's label on the
    y axis, the tick interval (config ``report.km_break_months`` when the plan has it; auto otherwise)."""
    label = ctx.d.endpoint(ep.name)
    curves = {ctx.arms.names[a]: c.km[a] for a in ctx.arms.order if c.km.get(a) is not None}
    p = c.logrank.p if c.logrank is not None else None
    h = c.primary_hr if c.estimable else None
    step = getattr(getattr(ctx.results.config, "report", None), "km_break_months", None)
    unit = ep.unit
    return {"curves": curves, "p_value": p if p is not None and np.isfinite(p) else None,
            "hr": (h.hr, h.lcl, h.ucl) if h is not None and not h.infinite else None,
            "xlabel": unit.capitalize(),
            "ylabel": f"{label} (%)", "unit": unit, "step": step if unit.lower().startswith("month") else None,
            "title": f"{label}, {_sample(sname)}"}


def km_composite(ctx: _Ctx, eps: list[EndpointResult]) -> FigureItem | None:
    """The KM panels of every endpoint and sample in one figure lettered A, B, C, ... (endpoints as
    rows, samples as columns: the paper's Figure 2); None when there is only one panel."""
    panels = [(ep, sname, c) for ep in eps for sname, c in ep.samples.items()
              if any(c.km.get(a) is not None for a in ctx.arms.order)]
    if len(panels) < 2:
        return None
    ncols = max(len(ep.samples) for ep in eps)
    args = [_km_panel_args(ctx, ep, sname, c) for ep, sname, c in panels]
    for a, (_, sname, _) in zip(args, panels, strict=True):  # the endpoint is on the y axis
        a["title"] = _sample(sname).capitalize()
    what = "; ".join(f"{chr(ord('A') + i)}, {ctx.d.endpoint(ep.name)}, {_sample(sname)}"
                     for i, (ep, sname, _) in enumerate(panels))
    return FigureItem("km_composite", f"Kaplan–Meier estimates: {what}", partial(F.km_composite, args, ncols))


def survival(ctx: _Ctx, ep: EndpointResult) -> Section:
    label = ctx.d.endpoint(ep.name)
    shown, data, figs = [], [], []
    for sname, c in ep.samples.items():
        s, dd = _survival_rows(ctx, ep, sname, c)
        shown += s
        data += dd
        figs.append(FigureItem(f"km_{ep.name}_{sname}", f"Kaplan–Meier estimates, {label}, {_sample(sname)}",
                               partial(F.km_figure, **_km_panel_args(ctx, ep, sname, c))))
    a = ctx.arms
    cells = " ".join(str(v) for r in shown for v in r.values())
    foot = (f"HR of {a.names[a.other]} vs {a.names[a.reference]}: on the matched sample with a robust variance "
            "clustered on the matched pair, on all patients a Cox model; P: Wald test of the HR. CI: confidence "
            "interval."
            + (" NR: not reached." if "NR" in cells else "") + (" NE: not estimable." if "NE" in cells else ""))
    return Section(f"survival_{ep.name}", f"Survival: {label}",
                   tables=[TableItem(f"survival_{ep.name}", f"{label} by group", pd.DataFrame(shown), foot,
                                     pd.DataFrame(data))], figures=figs)


#: marks an HR whose coefficient diverged (monotone likelihood), explained in the table's footnote
INFINITE = "\u2020"


def _cox_table(ctx: _Ctx, rows: pd.DataFrame, arm_term: str, uni: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    rules = ctx.results.config.report
    names = [term_label(ctx, r.variable, r.term, arm_term) for r in rows.itertuples(index=False)]
    shown = pd.DataFrame({"Variable": names,
                          "HR (95% CI)": [hr_ci(r.hr, r.lcl, r.ucl, rules) + (INFINITE if r.infinite else "")
                                          for r in rows.itertuples(index=False)],
                          "P": [p_value(r.p, rules) for r in rows.itertuples(index=False)]})
    data = pd.DataFrame({"Variable": names, "HR": rows["hr"].to_numpy(), "Lower 95% CI": rows["lcl"].to_numpy(),
                         "Upper 95% CI": rows["ucl"].to_numpy(), "P": rows["p"].to_numpy()})
    if uni and "p_variable" in rows:
        data["P (variable, likelihood ratio)"] = rows["p_variable"].to_numpy()
    return shown, data


def _reference_level(ctx: _Ctx, variable: str, levels: list[str]) -> str | None:
    """The reference level of a factor in a Cox model (R's treatment contrast: the first level in
    sorted order that has no term), as its label; None when the data do not show it."""
    data = ctx.results.data
    if variable not in data:
        return None
    values = sorted(pd.unique(data[variable].dropna()), key=lambda v: (str(type(v)), v))
    named = {str(v).upper() if isinstance(v, bool | np.bool_) else str(v) for v in values}
    rest = [v for v in values if (str(v).upper() if isinstance(v, bool | np.bool_) else str(v)) not in levels]
    if not rest or not named:
        return None
    return ctx.d.level(variable, rest[0])


def _cox_forest_args(ctx: _Ctx, rows: pd.DataFrame, arm_term: str) -> dict:
    """Forest rows of a Cox table: a continuous variable as one row; a factor (and the arm) as a
    header row, its reference level ("Reference") and one row per other level; all labels from the
    dictionary."""
    d, a = ctx.d, ctx.arms
    label, kinds, hr, lo, hi, p = [], [], [], [], [], []

    def add(text, kind, r=None):
        label.append(text)
        kinds.append(kind)
        hr.append(r.hr if r is not None else np.nan)
        lo.append(r.lcl if r is not None else np.nan)
        hi.append(r.ucl if r is not None else np.nan)
        p.append(p_value(r.p) if r is not None else "")

    indent = "\u2003"
    for var, grp in rows.groupby("variable", sort=False, dropna=False):
        grp = list(grp.itertuples(index=False))
        if grp[0].term == arm_term:
            add(d.label(ctx.results.config.arm.column), "header")
            add(indent + a.names[a.reference], "reference")
            add(indent + a.names[a.other], "estimate", grp[0])
            continue
        if not isinstance(var, str):                     # terms without a variable: one row each
            for r in grp:
                add(term_label(ctx, None, r.term, arm_term), "estimate", r)
            continue
        parts = [d.term(r.variable, r.term) for r in grp]
        if len(grp) == 1 and parts[0][1] is None:
            add(parts[0][0], "estimate", grp[0])
            continue
        add(parts[0][0], "header")
        if len(grp) == 1 and grp[0].term == var:        # a 0/1 variable: the reference is 0
            ref = d.level(var, 0)
        else:
            raw = [r.term[len(var):] if r.term.startswith(var) else r.term for r in grp]
            ref = _reference_level(ctx, var, raw)
        if ref is not None:
            add(indent + ref, "reference")
        for r, (_, level) in zip(grp, parts, strict=True):
            add(indent + (level or r.term), "estimate", r)
    return {"labels": pd.DataFrame({"Variable": label}), "hr": hr, "lcl": lo, "ucl": hi, "p": p, "kinds": kinds,
            "xlabel": "Hazard ratio (95% CI)", "favours": ("Lower hazard", "Higher hazard")}


def cox(ctx: _Ctx, ep: EndpointResult) -> Section | None:
    c = ep.main
    if c.univariable is None and c.ph_test is None:
        return None
    label = ctx.d.endpoint(ep.name)
    where = f"{label}, {_sample(ep.main_sample)}"
    tables, figs, notes = [], [], []
    for kind, rows in (("univariable", c.univariable), ("multivariable", c.multivariable)):
        if rows is None or not len(rows):
            continue
        shown, data = _cox_table(ctx, rows, c.arm_term, kind == "univariable")
        foot = ("HR, hazard ratio; CI, confidence interval; P, Wald test."
                + ("" if kind == "multivariable" else
                   f" Variables with a univariable P < {ctx.results.config.cox.select_p:g} (likelihood ratio) entered "
                   "the multivariable model.")
                + (f" {INFINITE} The coefficient diverged (monotone likelihood): the HR may be infinite."
                   if rows["infinite"].any() else "")
                + (" NE: not estimable." if (shown["HR (95% CI)"] == "NE").any() else ""))
        tables.append(TableItem(f"cox_{kind}_{ep.name}", f"{kind.capitalize()} Cox regression for {where}", shown,
                                foot, data))
        figs.append(FigureItem(f"forest_{kind}_{ep.name}_{ep.main_sample}", f"Forest plot, {kind} Cox, {where}",
                               partial(F.forest_figure, **_cox_forest_args(ctx, rows, c.arm_term))))
    if c.ph_test is not None:
        notes.append(f"Proportional hazards (cox.zph, {c.ph_test.transform} transform) global P = "
                     f"{p_value(c.ph_test.global_p, ctx.results.config.report) or 'not defined'}.")
    return Section(f"cox_{ep.name}", f"Cox regression: {label}", tables=tables, figures=figs, notes=notes)


def _subgroup_forest_args(ctx: _Ctx, c: SurvivalComparison, sg: pd.DataFrame, levels: list[str]) -> dict:
    """The paper's Figure 4: an overall row (the sample's primary HR), then per subgrouping variable a
    header row with its P for interaction and one row per level: n per arm, events, HR (95% CI)."""
    d, arms = ctx.d, ctx.arms
    ref, other = arms.names[arms.reference], arms.names[arms.other]
    kms = [c.km.get(a) for a in arms.order]
    h = c.primary_hr if c.estimable else None
    rows = [{"Subgroup": "Overall", "n_ref": str(kms[0].n if kms[0] else 0), "n_oth": str(kms[1].n if kms[1] else 0),
             "ev": str(sum(k.events for k in kms if k is not None)), "kind": "overall",
             "hr": h.hr if h else np.nan, "lcl": h.lcl if h else np.nan, "ucl": h.ucl if h else np.nan, "p": ""}]
    for var, grp in sg.assign(shown_level=levels).groupby("variable", sort=False):
        pi = grp["p_interaction"].dropna()
        rows.append({"Subgroup": d.variable(var), "n_ref": "", "n_oth": "", "ev": "", "kind": "header",
                     "hr": np.nan, "lcl": np.nan, "ucl": np.nan, "p": p_value(pi.iat[0]) if len(pi) else ""})
        for r in grp.itertuples(index=False):
            rows.append({"Subgroup": "\u2003" + str(r.shown_level), "n_ref": str(int(r.n_control)),
                         "n_oth": str(int(r.n_treated)), "ev": str(int(r.events_control + r.events_treated)),
                         "kind": "estimate", "hr": r.hr, "lcl": r.lcl, "ucl": r.ucl, "p": ""})
    t = pd.DataFrame(rows)
    labels = pd.DataFrame({"Subgroup": t["Subgroup"], f"{ref}\nn": t["n_ref"], f"{other}\nn": t["n_oth"],
                           "Events": t["ev"]})
    return {"labels": labels, "hr": t["hr"], "lcl": t["lcl"], "ucl": t["ucl"], "p": list(t["p"]),
            "kinds": list(t["kind"]), "p_header": "P for\ninteraction", "xlabel": "Hazard ratio (95% CI)",
            "favours": (f"Favours {other}", f"Favours {ref}")}


def subgroups(ctx: _Ctx, ep: EndpointResult) -> Section | None:
    c = ep.main
    sg = c.subgroups
    if sg is None or not len(sg):
        return None
    d, arms = ctx.d, ctx.arms
    cuts = {s.variable for s in ctx.results.config.subgroups if not isinstance(s, str)}
    sg = _ordered_levels(d, sg.reset_index(drop=True), "variable", "level")
    # the subgroup's arm indicator marks the non-reference arm ("treated" in subgroup_analysis's words)
    ref, other = arms.names[arms.reference], arms.names[arms.other]
    var = [d.variable(v) for v in sg["variable"]]
    lev = [str(lv) if v in cuts else d.level(v, lv) for v, lv in zip(sg["variable"], sg["level"], strict=True)]
    data = pd.DataFrame({"Subgroup": var, "Level": lev, f"n, {ref}": sg["n_control"].to_numpy(),
                         f"n, {other}": sg["n_treated"].to_numpy(), f"Events, {ref}": sg["events_control"].to_numpy(),
                         f"Events, {other}": sg["events_treated"].to_numpy(), "HR": sg["hr"].to_numpy(),
                         "Lower 95% CI": sg["lcl"].to_numpy(), "Upper 95% CI": sg["ucl"].to_numpy(),
                         "P": sg["p"].to_numpy(), "P for interaction": sg["p_interaction"].to_numpy(),
                         "Note": sg["note"].to_numpy()})
    rules = ctx.results.config.report
    p_int = [p_value(x, rules) for x in sg["p_interaction"]]
    p_int = [x if k == 0 or sg["variable"].iat[k] != sg["variable"].iat[k - 1] else "" for k, x in enumerate(p_int)]
    shown = pd.DataFrame({"Subgroup": var, "Level": lev,
                          f"n ({ref}/{other})": [f"{F_.integer(a)}/{F_.integer(b)}"
                                                 for a, b in zip(sg["n_control"], sg["n_treated"], strict=True)],
                          f"Events ({ref}/{other})": [f"{F_.integer(a)}/{F_.integer(b)}" for a, b in
                                                      zip(sg["events_control"], sg["events_treated"], strict=True)],
                          "HR (95% CI)": [hr_ci(*x, rules) for x in zip(sg["hr"], sg["lcl"], sg["ucl"], strict=True)],
                          "P": [p_value(x, rules) for x in sg["p"]],
                          "P for interaction": p_int, "Note": [number(x) for x in sg["note"]]})
    label = ctx.d.endpoint(ep.name)
    where = f"{label}, {_sample(ep.main_sample)}"
    fig = FigureItem(f"forest_subgroups_{ep.name}_{ep.main_sample}", f"Subgroup analysis, {where}",
                     partial(F.forest_figure, **_subgroup_forest_args(ctx, c, sg, lev)))
    return Section(f"subgroups_{ep.name}", f"Subgroups: {label}",
                   tables=[TableItem(f"subgroups_{ep.name}", f"Subgroup analysis for {where}", shown,
                                     f"HR of {other} vs {ref} within each subgroup; P for interaction: group × subgroup.",
                                     data)], figures=[fig])


def response(ctx: _Ctx) -> Section | None:
    r = ctx.results
    if not r.response:
        return None
    d, arms = ctx.d, ctx.arms
    col = r.config.response.column
    rules = r.config.report
    tables = []
    for sname, s in r.response.items():
        marks = F_.Markers()
        br = s.best_response
        cats = d.order(col, list(br[("response", "")]))
        br = br.set_index(("response", "")).loc[cats]
        shown_rows, data_rows = [], []
        for cat, row in br.iterrows():
            shown_rows.append({"Response": d.level(col, cat),
                               **{arms.names[a]: count_pct(row[(a, "n")], s.n[a], rules) for a in arms.order}, "P": ""})
            data_rows.append({"Response": d.level(col, cat), **{f"{arms.names[a]} n": row[(a, "n")] for a in arms.order},
                              **{f"{arms.names[a]} %": row[(a, "pct")] for a in arms.order}})
        names = {"ORR": "Objective response rate", "DCR": "Disease control rate"}
        for _, row in s.rates.iterrows():
            m = row[("measure", "")]
            shown_rows.append({"Response": names.get(m, m), **{
                arms.names[a]: count_rate_ci(row[(a, "n")], row[(a, "rate")], row[(a, "lcl")], row[(a, "ucl")], rules)
                for a in arms.order}, "P": F_.with_marker(p_value(row[("p", "")], rules), marks.mark(row[("test", "")]))})
            data_rows.append({"Response": names.get(m, m), **{f"{arms.names[a]} n": row[(a, "n")] for a in arms.order},
                              **{f"{arms.names[a]} %": 100 * row[(a, "rate")] for a in arms.order},
                              **{f"{arms.names[a]} lower 95% CI": 100 * row[(a, "lcl")] for a in arms.order},
                              **{f"{arms.names[a]} upper 95% CI": 100 * row[(a, "ucl")] for a in arms.order},
                              "Test": row[("test", "")], "P": row[("p", "")]})
        lv = {k: d.level(col, k) for k in ("CR", "PR", "SD")}
        per_arm = "; ".join(f"{arms.names[a]}, n = {F_.integer(s.n[a])}" for a in arms.order)
        foot = (f"n (%) of the patients of each group ({per_arm}). Rates: n (%; exact Clopper–Pearson 95% CI). "
                f"Objective response: {lv['CR']} or {lv['PR']}; disease control: {lv['CR']}, {lv['PR']} or {lv['SD']}. "
                f"P: {marks.footnote()}")
        tables.append(TableItem(f"response_{sname}", f"{d.label(col)} by group, {_sample(sname)}",
                                pd.DataFrame(shown_rows), foot, pd.DataFrame(data_rows)))
    return Section("response", "Tumour response", tables=tables)


def _ae_term(d: Dictionary, column: str | None, term: str) -> str:
    """An AE row's label: the column's dictionary label; without one the term as the column names it
    ("rash" of ae_rash_grade; the column is listed among the code names); the summary rows as they are."""
    if column is None:
        return term
    spec = d.specs.get(column)
    if spec is not None and spec.label is not None:
        return d.label(column)
    d.label(column)  # recorded: shown under its code name
    return term


def adverse_events(ctx: _Ctx) -> Section | None:
    r = ctx.results
    if not r.adverse_events:
        return None
    d, arms = ctx.d, ctx.arms
    rules = r.config.report
    tables = []
    for sname, ae in r.adverse_events.items():
        t = ae.table
        marks = F_.Markers()
        grade5 = any(t[(a, "grade_5")].fillna(0).astype(float).sum() > 0 for a in arms.order)
        grades = (("grade_1_2", "grade 1–2"), ("grade_3_4", "grade 3–4"), *((("grade_5", "grade 5"),) if grade5 else ()),
                  ("any", "any grade"))
        terms = [_ae_term(d, c, str(term)).replace("grade 3-4", "grade 3–4")
                 for c, term in zip(ae.columns, t[("term", "")], strict=True)]
        shown = pd.DataFrame({"Adverse event": terms})
        data = shown.copy()
        for a in arms.order:
            n = t[(a, "n")].to_numpy()
            for k, text in grades:
                shown[f"{arms.names[a]}, {text}"] = [count_pct(x, of, rules) for x, of in zip(t[(a, k)], n, strict=True)]
                data[f"{arms.names[a]}, {text}"] = t[(a, k)].to_numpy()
        shown["P (any grade)"] = [F_.with_marker(p_value(x, rules), marks.mark(tst))
                                  for x, tst in zip(t[("p_any", "")], t[("test_any", "")], strict=True)]
        shown["P (grade ≥ 3)"] = [F_.with_marker(p_value(x, rules), marks.mark(tst))
                                  for x, tst in zip(t[("p_grade_3plus", "")], t[("test_grade_3plus", "")], strict=True)]
        data["P (any grade)"] = t[("p_any", "")].to_numpy()
        data["P (grade ≥ 3)"] = t[("p_grade_3plus", "")].to_numpy()
        tables.append(TableItem(f"adverse_events_{sname}", f"Adverse events (CTCAE v5.0) by group, {_sample(sname)}",
                                shown, "Patients by their worst grade of each adverse event (CTCAE v5.0 terms), n (%)"
                                + ("" if grade5 else "; no grade 5 event") + f". P: {marks.footnote()}", data))
    return Section("adverse_events", "Adverse events", tables=tables)


def not_estimated(ctx: _Ctx) -> Section | None:
    r = ctx.results
    if not r.skipped:
        return None
    rows = [{"Part": s["part"], "Reason": s["reason"]} for s in r.skipped if not s["part"].startswith("endpoint ")]
    for ep in r.endpoints.values():
        label = ctx.d.endpoint(ep.name)
        for sname, c in ep.samples.items():
            for s in c.skipped:
                part = (f"univariable Cox for {term_label(ctx, s.variable, s.variable, c.arm_term)}"
                        if s.variable is not None else s.part)
                rows.append({"Part": f"{label}, {_sample(sname)}: {part}",
                             "Reason": s.reason.replace(f"no {ep.name.upper()} events", f"no {label} events")})
    table = pd.DataFrame(rows, columns=["Part", "Reason"])
    return Section("not_estimated", "Not estimated", tables=[TableItem(
        "not_estimated", "Parts of the analysis not estimated on these data", table,
        "These parts could not be estimated on these data and were left out; the reason is given for each.")])


#: the reproduction table's groups as a reader reads them (synth/calibration.py's own group names)
_GROUPS = {"flow": "Patient flow", "table1": "Table 1", "table1 after": "Table 1 after matching",
           "treatment": "Treatment", "response": "Tumour response", "matching": "Matching", "cox": "Cox regression",
           "subgroups": "Subgroups (Figure 4)", "adverse events": "Adverse events"}


def _relabel_words(d: Dictionary, text: str) -> str:
    """The reproduction targets ("afp_gt_400 n (SE)", "OS HR arm_si", "rccep grade 1-2 (SI)") with each
    word that the dictionary knows shown as its label: a variable, an endpoint, an AE term
    (``ae_<word>_grade``), a level of a variable (``female``, ``CR``) or ``<variable>_<level>``."""
    def word(w: str) -> str:
        if w in d.specs and d.specs[w].label:
            return d.endpoint(w) if w.lower() in ("os", "pfs") else d.label(w)
        if w.lower() in d.specs and w.lower() in ("os", "pfs"):
            return d.endpoint(w.lower())
        ae = f"ae_{w}_grade"
        if ae in d.specs and d.specs[ae].label:
            return d.label(ae)
        for name, spec in d.specs.items():
            for key, lab in spec.levels.items():
                if w == str(key) and not w.isdigit():
                    return lab
                if w.lower() == f"{name}_{key}".lower():
                    return lab
        return w
    left, sep, right = text.partition(" = ")  # "... in afp_gt_400 = 1": a coded level shown by its label
    spec = d.specs.get(left.rsplit(" ", 1)[-1]) if sep else None
    coded = next((lab for key, lab in spec.levels.items() if str(key) == right), None) if spec is not None else None
    if coded is not None:
        return f"{_relabel_words(d, left)} = {coded}"
    return " ".join(word(w) for w in text.split(" "))


#: the reproduction table's columns as a reader reads them (synth/calibration.py's names)
_REPRO_COLUMNS = {"group": "Group", "target": "Target", "published": "Published", "recovered": "Recovered",
                  "tolerance": "Band", "lower": "Lower", "upper": "Upper", "within": "Within band", "note": "Note"}


def _within(ok: bool, checked: bool) -> str:
    return "dropped" if not checked else ("yes" if ok else "no")


def _printed_decimals(v) -> int:
    """The decimals a published number was printed with (its shortest exact form: 50.8 -> 1, 0.616 -> 3,
    182 -> 0), at most 4."""
    if not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(float(v)):
        return 0
    for d in range(5):
        if abs(round(float(v), d) - float(v)) < 1e-9:
            return d
    return 4


def _repro_shown(cal: pd.DataFrame) -> pd.DataFrame:
    """The reproduction table as printed: each published value with the decimals the paper printed it
    with (its shortest form, or the band's "equal at N decimals"); the recovered value and the band's limits of that row with one decimal more (a count stays a
    count): 50.8 beside 50.83, 0.616 beside 0.6160 with its band 0.5160 - 0.7160, 182 beside 182."""
    out = cal.astype(object).copy()
    n = len(cal)
    pubs = cal["published"].tolist() if "published" in cal else [None] * n
    bands = cal["tolerance"].tolist() if "tolerance" in cal else [None] * n
    digits = []
    for pub, tol in zip(pubs, bands, strict=True):
        d = _printed_decimals(pub)
        band = re.match(r"equal at (\d+) decimal", str(tol))   # no tolerance column: None, no match
        if band:   # "equal at 2 decimals": the paper printed 4.10, which the number 4.1 does not say
            d = max(d, int(band.group(1)))
        digits.append(d)
    for c in ("published", "recovered", "lower", "upper"):
        if c not in cal:
            continue
        shown = []
        for v, d in zip(cal[c].tolist(), digits, strict=True):
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, (bool, np.bool_)):
                shown.append(number(v))
            elif c == "published":
                shown.append(number(float(v), d))
            elif d == 0 and float(v).is_integer():
                shown.append(F_.integer(v))
            else:
                shown.append(number(float(v), d + 1))
        out[c] = pd.Series(shown, index=out.index, dtype=object)
    return out


def reproduction(ctx: _Ctx) -> Section | None:
    """Every published target beside the value recovered from the raw records, its band and whether it
    is within; a target that contradicts other published numbers is shown as dropped, with the
    arithmetic in its note (hccstudy.synth.calibration)."""
    cal = ctx.calibration
    if cal is None:
        return None
    checked = cal["checked"] if "checked" in cal else pd.Series(True, index=cal.index)
    note = cal["note"] if "note" in cal else pd.Series("", index=cal.index)
    def words(v):   # a text value (the selected variables: "arm_si, child_pugh_b, ...") in labels
        return ", ".join(_relabel_words(ctx.d, w) for w in v.split(", ")) if isinstance(v, str) else v

    cal = cal.assign(group=[_GROUPS.get(g, ctx.d.endpoint(g) if g in ctx.results.endpoints else g) for g in cal["group"]],
                     target=[_relabel_words(ctx.d, t) for t in cal["target"]],
                     published=[words(v) for v in cal["published"]], recovered=[words(v) for v in cal["recovered"]],
                     within=[_within(bool(o), bool(c)) for o, c in zip(cal["ok"], checked, strict=True)],
                     note=note.fillna("").astype(str))
    cal = cal[[c for c in _REPRO_COLUMNS if c in cal]]
    shown = _repro_shown(cal).rename(columns=_REPRO_COLUMNS)
    # the spreadsheet keeps its number columns numeric: a text value ("not reached", a list of selected
    # variables) moves into the note
    data = cal.copy()
    for c in ("published", "recovered"):
        num = pd.to_numeric(data[c], errors="coerce")
        text = data[c].notna() & num.isna()
        data.loc[text, "note"] = [f"{n}{'; ' if n else ''}{c}: {v}" for n, v in zip(data.loc[text, "note"],
                                                                                data.loc[text, c], strict=True)]
        data[c] = num
    data = data.rename(columns=_REPRO_COLUMNS)
    n_out = int((cal["within"] == "no").sum())
    n_dropped = int((cal["within"] == "dropped").sum())
    caption = (f"{len(cal) - n_dropped - n_out} of {len(cal) - n_dropped} targets within their band"
               + (f"; {n_out} outside (flagged)" if n_out else "")
               + (f"; {n_dropped} dropped: they contradict other published numbers (the note gives the arithmetic)"
                  if n_dropped else "") + ".")
    return Section("reproduction", "Reproduction of the published study", tables=[TableItem(
        "reproduction", "Published vs recovered estimates (synthetic cohort)", shown, caption, data,
        tuple(w == "no" for w in cal["within"]))])


def manuscript(ctx: _Ctx) -> Section:
    """The generated Methods and Results paragraphs (:mod:`.manuscript`; also written to manuscript.md)."""
    from .manuscript import manuscript_text
    m = manuscript_text(ctx.results, ctx.d, ctx.arms, flow=ctx.flow, software=ctx.software)
    return Section("manuscript", "Manuscript text", notes=[m.methods, m.results])


def strobe(ctx: _Ctx, before: list[Section]) -> Section:
    """The STROBE cohort checklist, each item mapped to the sections ``before`` it (:mod:`.strobe`)."""
    from .strobe import NOT_ADDRESSED, checklist
    table = checklist(before)
    return Section("strobe", "STROBE checklist", tables=[TableItem(
        "strobe", "STROBE checklist for cohort studies: where this report addresses each item", table,
        f"Item texts paraphrase the STROBE statement (von Elm et al., 2007). \"{NOT_ADDRESSED}\": the report "
        "cannot address the item (title, abstract, introduction, discussion, funding).")])


def labels_note(ctx: _Ctx) -> Section | None:
    """Built last: the names every other section had to show under their code names."""
    codes = ctx.d.fallbacks()
    if not codes:
        return None
    return Section("labels", "Labels", notes=[
        "Shown under their code names (no label in the variable dictionary, config key labels): "
        + ", ".join(codes) + "."])


def build_sections(results: Results, dictionary: Dictionary | None = None, flow: pd.DataFrame | None = None,
                   calibration: pd.DataFrame | None = None, software: dict[str, str] | None = None) -> list[Section]:
    """The report's sections, in order (see the module docstring).  ``dictionary``: default the
    analysis config's ``labels``; ``software``: name -> version, for the methods."""
    from .sections_audit import published_consistency  # it builds on this module's model
    from .sections_sensitivity import sensitivity_sections  # it builds on this module's model

    d = dictionary if dictionary is not None else Dictionary.from_config(results.config.labels)
    ctx = _Ctx(results, d, arms_of(results, d), flow, calibration, software or {})
    eps = list(results.endpoints.values())
    surv = [survival(ctx, ep) for ep in eps]
    composite = km_composite(ctx, eps)
    if composite is not None:  # the lettered composite leads the first survival section
        surv[0] = surv[0].with_figures([composite, *surv[0].figures])
    parts = [methods(ctx), patient_flow(ctx), table1(ctx), balance(ctx), *surv, *[cox(ctx, ep) for ep in eps],
             *[subgroups(ctx, ep) for ep in eps], response(ctx), adverse_events(ctx), *sensitivity_sections(ctx),
             not_estimated(ctx),
             reproduction(ctx), published_consistency(ctx), manuscript(ctx)]
    parts.append(strobe(ctx, [s for s in parts if s is not None]))
    parts.append(labels_note(ctx))
    return [s for s in parts if s is not None]
