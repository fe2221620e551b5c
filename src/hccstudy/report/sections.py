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
                   f"(width used: {width:.5f})")
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


def patient_flow(ctx: _Ctx) -> Section | None:
    flow = ctx.flow
    if flow is None:
        return None
    f = flow.set_index(["step", "criterion"])["n"]
    excl = flow[flow["step"] == "excluded"]
    arms = flow[flow["step"] == "arm"]
    r = ctx.results
    matched = (f"Propensity-score matched: {r.matching.n_pairs} treated patients ({len(r.matching.pairs)} matches)"
               if r.matching is not None else None)
    draw = partial(F.flow_figure, int(f[("screened", "")]), [(x.label, int(x.n)) for x in excl.itertuples()],
                   int(f[("included", "")]), [(x.label, int(x.n)) for x in arms.itertuples()], matched)
    table = pd.DataFrame({"Step": flow["step"].str.capitalize().to_numpy(), "Criterion": flow["label"].to_numpy(),
                          "n": flow["n"].to_numpy()})
    return Section("flow", "Patient flow",
                   tables=[TableItem("flow", "Patient flow: screened, excluded by criterion, included by group",
                                     table.astype({"n": object}).map(number), data=table)],
                   figures=[FigureItem("patient_flow", "Patient flow", draw)])


def _table1_characteristic(ctx: _Ctx, t: pd.DataFrame) -> list[str]:
    d = ctx.d
    level_rows = t[t["level"].astype(str) != ""].groupby("variable")["level"].size()
    heads = set(t.loc[t["level"].astype(str) == "", "variable"])
    out = []
    for r in t.itertuples(index=False):
        if r.variable == "n":
            out.append("Patients, n")
        elif str(r.level) == "" or (level_rows.get(r.variable, 0) == 1 and r.variable not in heads):
            out.append(f"{d.variable(r.variable)}, {r.statistic}")   # a continuous variable, a header, a 0/1's "yes" row
        else:
            out.append("\u2003" + d.level(r.variable, r.level))
    return out


def table1(ctx: _Ctx) -> Section:
    r = ctx.results
    arms = ctx.arms
    before = _ordered_levels(ctx.d, r.table1_before.reset_index(drop=True), "variable", "level").reset_index(drop=True)
    after = r.table1_after
    suffix = " (before)" if after is not None else ""
    shown = pd.DataFrame({"Characteristic": _table1_characteristic(ctx, before)})
    data = shown.copy()
    for a in arms.order:
        shown[arms.names[a] + suffix] = data[arms.names[a] + suffix] = before[a].to_numpy()
    shown["P" + suffix] = before["p_text"].to_numpy()
    data["P" + suffix] = before["p"].to_numpy()
    shown["SMD" + suffix] = [number(v, 3) for v in before["smd"]]
    data["SMD" + suffix] = before["smd"].to_numpy()
    data["Test" + suffix] = before["test"].to_numpy()
    if after is not None:  # aligned on the row's identity: a level may be absent after matching
        key = ["variable", "level", "statistic"]
        a2 = before[key].merge(after[key + [*arms.order, "p", "p_text", "smd"]].drop_duplicates(key), on=key,
                               how="left", sort=False)
        for a in arms.order:
            shown[arms.names[a] + " (after)"] = data[arms.names[a] + " (after)"] = a2[a].fillna("").to_numpy()
        shown["P (after)"] = a2["p_text"].fillna("").to_numpy()
        data["P (after)"] = a2["p"].to_numpy()
        shown["SMD (after)"] = [number(v, 3) for v in a2["smd"]]
        data["SMD (after)"] = a2["smd"].to_numpy()
    caption = ("Baseline characteristics before and after propensity-score matching" if after is not None
               else "Baseline characteristics")
    foot = ("Continuous: mean (SD), median [min, max]; categorical: n (%). SMD: absolute standardised mean "
            "difference.")
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
                         "|SMD| > 0.1 after matching": b["flag"].map({True: "yes", False: ""}).to_numpy()})
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
                               (control_name, treated_name), xlabel))]
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
    hr = c.primary_hr if c.estimable else None
    hr_type = "robust, clustered on pair" if c.paired else "Cox"
    for a in arms.order:
        km = c.km.get(a)
        med = km.median if km is not None else (np.nan, np.nan, np.nan)
        at = km.surv_at(list(c.landmarks)) if km is not None and c.landmarks else None
        fu = c.median_followup[a]
        row_s = {"Sample": _sample(sname), "Group": arms.names[a], "n": str(km.n if km else 0),
                 "Events": str(km.events if km else 0), f"Median, {unit} (95% CI)": median_ci(*med)}
        row_d = {"Sample": _sample(sname), "Group": arms.names[a], "n": km.n if km else 0, "Events": km.events if km else 0,
                 "Median": med[0], "Median lower 95% CI": med[1], "Median upper 95% CI": med[2]}
        for k, lm in enumerate(c.landmarks):
            head = f"{lm:g} {unit}"
            if at is not None:
                s, lo, hi = at["surv"].iat[k], at["lower"].iat[k], at["upper"].iat[k]
            else:
                s = lo = hi = np.nan
            row_s[f"Survival at {head}, % (95% CI)"] = percent_ci(s, lo, hi)
            row_d[f"Survival at {head}"] = s
            row_d[f"Survival at {head}, lower 95% CI"] = lo
            row_d[f"Survival at {head}, upper 95% CI"] = hi
        row_s[f"Median follow-up, {unit}"] = median(fu[0])
        row_d["Median follow-up"] = fu[0]
        ref = a == arms.reference
        row_s["HR (95% CI)"] = "1 (reference)" if ref else (hr_ci(hr.hr, hr.lcl, hr.ucl) if hr else "NE")
        row_s["P"] = "" if ref or hr is None else p_value(hr.p)
        row_s["Log-rank P"] = "" if ref or c.logrank is None else p_value(c.logrank.p)
        nan = np.nan
        row_d.update({"HR": 1.0 if ref else (hr.hr if hr else nan), "HR lower 95% CI": nan if ref or not hr else hr.lcl,
                      "HR upper 95% CI": nan if ref or not hr else hr.ucl, "HR P": nan if ref or not hr else hr.p,
                      "Log-rank P": nan if ref or c.logrank is None else c.logrank.p,
                      "HR type": "reference" if ref else hr_type})
        shown.append(row_s)
        data.append(row_d)
    return shown, data


def survival(ctx: _Ctx, ep: EndpointResult) -> Section:
    label = ctx.d.endpoint(ep.name)
    shown, data, figs = [], [], []
    for sname, c in ep.samples.items():
        s, dd = _survival_rows(ctx, ep, sname, c)
        shown += s
        data += dd
        curves = {ctx.arms.names[a]: c.km[a] for a in ctx.arms.order if c.km.get(a) is not None}
        p = c.logrank.p if c.logrank is not None else None
        figs.append(FigureItem(f"km_{ep.name}_{sname}", f"Kaplan–Meier estimates, {label}, {_sample(sname)}",
                               partial(F.km_figure, curves, p_value=p if p is not None and np.isfinite(p) else None,
                                       xlabel=ep.unit.capitalize(), title=f"{label}, {_sample(sname)}")))
    a = ctx.arms
    cells = " ".join(str(v) for r in shown for v in r.values())
    foot = (f"HR of {a.names[a.other]} vs {a.names[a.reference]}: on the matched sample with a robust variance "
            "clustered on the matched pair, on all patients a Cox model."
            + (" NR: not reached." if "NR" in cells else "") + (" NE: not estimable." if "NE" in cells else ""))
    return Section(f"survival_{ep.name}", f"Survival: {label}",
                   tables=[TableItem(f"survival_{ep.name}", f"{label} by group", pd.DataFrame(shown), foot,
                                     pd.DataFrame(data))], figures=figs)


def _cox_table(ctx: _Ctx, rows: pd.DataFrame, arm_term: str, uni: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    names = [term_label(ctx, r.variable, r.term, arm_term) for r in rows.itertuples(index=False)]
    shown = pd.DataFrame({"Variable": names,
                          "HR (95% CI)": [hr_ci(r.hr, r.lcl, r.ucl) for r in rows.itertuples(index=False)],
                          "P": [p_value(r.p) + (" (HR may be infinite)" if r.infinite else "")
                                for r in rows.itertuples(index=False)]})
    data = pd.DataFrame({"Variable": names, "HR": rows["hr"].to_numpy(), "Lower 95% CI": rows["lcl"].to_numpy(),
                         "Upper 95% CI": rows["ucl"].to_numpy(), "P": rows["p"].to_numpy()})
    if uni and "p_variable" in rows:
        data["P (variable, likelihood ratio)"] = rows["p_variable"].to_numpy()
    return shown, data


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
        tables.append(TableItem(f"cox_{kind}_{ep.name}", f"{kind.capitalize()} Cox regression for {where}", shown,
                                "" if kind == "multivariable" else
                                f"Variables with a univariable P < {ctx.results.config.cox.select_p:g} (likelihood "
                                "ratio) entered the multivariable model.", data))
        figs.append(FigureItem(f"forest_{kind}_{ep.name}_{ep.main_sample}", f"Forest plot, {kind} Cox, {where}",
                               partial(F.forest_figure, shown[["Variable"]], data["HR"], data["Lower 95% CI"],
                                       data["Upper 95% CI"], data["P"], title=f"{kind.capitalize()} Cox, {where}")))
    if c.ph_test is not None:
        notes.append(f"Proportional hazards (cox.zph, {c.ph_test.transform} transform) global P = "
                     f"{p_value(c.ph_test.global_p) or 'not defined'}.")
    return Section(f"cox_{ep.name}", f"Cox regression: {label}", tables=tables, figures=figs, notes=notes)


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
    shown = pd.DataFrame({"Subgroup": var, "Level": lev,
                          f"n ({ref}/{other})": [f"{a}/{b}" for a, b in zip(sg["n_control"], sg["n_treated"], strict=True)],
                          "HR (95% CI)": [hr_ci(*x) for x in zip(sg["hr"], sg["lcl"], sg["ucl"], strict=True)],
                          "P": [p_value(x) for x in sg["p"]],
                          "P for interaction": [p_value(x) for x in sg["p_interaction"]], "Note": sg["note"].to_numpy()})
    label = ctx.d.endpoint(ep.name)
    where = f"{label}, {_sample(ep.main_sample)}"
    fig = FigureItem(f"forest_subgroups_{ep.name}_{ep.main_sample}", f"Subgroup analysis, {where}",
                     partial(F.forest_figure, shown[["Subgroup", "Level", f"n ({ref}/{other})"]], data["HR"],
                             data["Lower 95% CI"], data["Upper 95% CI"], data["P for interaction"],
                             p_header="P for interaction", title=f"Subgroups, {where} (P for interaction)"))
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
    tables = []
    for sname, s in r.response.items():
        br = s.best_response
        cats = d.order(col, list(br[("response", "")]))
        br = br.set_index(("response", "")).loc[cats]
        shown_rows, data_rows = [], []
        for cat, row in br.iterrows():
            shown_rows.append({"Response": d.level(col, cat),
                               **{arms.names[a]: count_pct(row[(a, "n")], s.n[a]) for a in arms.order}, "P": ""})
            data_rows.append({"Response": d.level(col, cat), **{f"{arms.names[a]} n": row[(a, "n")] for a in arms.order},
                              **{f"{arms.names[a]} %": row[(a, "pct")] for a in arms.order}})
        names = {"ORR": "Objective response rate", "DCR": "Disease control rate"}
        for _, row in s.rates.iterrows():
            m = row[("measure", "")]
            shown_rows.append({"Response": names.get(m, m), **{
                arms.names[a]: count_rate_ci(row[(a, "n")], row[(a, "rate")], row[(a, "lcl")], row[(a, "ucl")])
                for a in arms.order}, "P": p_value(row[("p", "")])})
            data_rows.append({"Response": names.get(m, m), **{f"{arms.names[a]} n": row[(a, "n")] for a in arms.order},
                              **{f"{arms.names[a]} %": 100 * row[(a, "rate")] for a in arms.order},
                              **{f"{arms.names[a]} lower 95% CI": 100 * row[(a, "lcl")] for a in arms.order},
                              **{f"{arms.names[a]} upper 95% CI": 100 * row[(a, "ucl")] for a in arms.order},
                              "Test": row[("test", "")], "P": row[("p", "")]})
        lv = {k: d.level(col, k) for k in ("CR", "PR", "SD")}
        foot = (f"n (%); rates: n (%; exact 95% CI). Objective response: {lv['CR']} or {lv['PR']}; disease control: "
                f"{lv['CR']}, {lv['PR']} or {lv['SD']}.")
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
    grades = (("grade_1_2", "grade 1–2"), ("grade_3_4", "grade 3–4"), ("grade_5", "grade 5"), ("any", "any grade"))
    tables = []
    for sname, ae in r.adverse_events.items():
        t = ae.table
        terms = [_ae_term(d, c, str(term)) for c, term in zip(ae.columns, t[("term", "")], strict=True)]
        shown = pd.DataFrame({"Adverse event": terms})
        data = shown.copy()
        for a in arms.order:
            n = t[(a, "n")].to_numpy()
            for k, text in grades:
                shown[f"{arms.names[a]}, {text}"] = [count_pct(x, of) for x, of in zip(t[(a, k)], n, strict=True)]
                data[f"{arms.names[a]}, {text}"] = t[(a, k)].to_numpy()
        shown["P (any grade)"] = [p_value(x) for x in t[("p_any", "")]]
        shown["P (grade ≥ 3)"] = [p_value(x) for x in t[("p_grade_3plus", "")]]
        data["P (any grade)"] = t[("p_any", "")].to_numpy()
        data["P (grade ≥ 3)"] = t[("p_grade_3plus", "")].to_numpy()
        tables.append(TableItem(f"adverse_events_{sname}", f"Adverse events (CTCAE v5.0) by group, {_sample(sname)}",
                                shown, "Patients by worst grade, n (%).", data))
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
_GROUPS = {"flow": "Patient flow", "table1": "Table 1", "treatment": "Treatment", "response": "Tumour response",
           "matching": "Matching", "cox": "Cox regression", "adverse events": "Adverse events"}


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
    return " ".join(word(w) for w in text.split(" "))


def reproduction(ctx: _Ctx) -> Section | None:
    cal = ctx.calibration
    if cal is None:
        return None
    cal = cal.assign(group=[_GROUPS.get(g, ctx.d.endpoint(g) if g in ctx.results.endpoints else g) for g in cal["group"]],
                     target=[_relabel_words(ctx.d, t) for t in cal["target"]])
    shown = cal.astype(object).map(lambda v: number(v, 3))
    return Section("reproduction", "Reproduction of the published study", tables=[TableItem(
        "reproduction", "Published vs recovered estimates (synthetic cohort)", shown,
        "Rows outside the tolerance are flagged.", cal, tuple(bool(not x) for x in cal["ok"]))])


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
    d = dictionary if dictionary is not None else Dictionary.from_config(results.config.labels)
    ctx = _Ctx(results, d, arms_of(results, d), flow, calibration, software or {})
    eps = list(results.endpoints.values())
    parts = [methods(ctx), patient_flow(ctx), table1(ctx), balance(ctx),
             *[survival(ctx, ep) for ep in eps], *[cox(ctx, ep) for ep in eps], *[subgroups(ctx, ep) for ep in eps],
             response(ctx), adverse_events(ctx), not_estimated(ctx), reproduction(ctx), manuscript(ctx)]
    parts.append(strobe(ctx, [s for s in parts if s is not None]))
    parts.append(labels_note(ctx))
    return [s for s in parts if s is not None]
