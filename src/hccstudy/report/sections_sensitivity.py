"""The report's "Sensitivity analyses" sections (issue 14; docs/sensitivity.md), built from
``Results.sensitivity``: they open with the summary forest of the arm HR by method with its E-value,
then the HR table by method (with the RMST), the weighted balance (effective sample sizes, weighted
SMDs, a weighted Love plot) and the weighted Kaplan–Meier per arm (medians and landmark survival per
estimand, the IPTW-adjusted (ATE) curves per endpoint), the per-centre forest with the pooled diamonds and the interaction P, the
design grid and bootstrap, and the immortal-time paragraph with the landmark counts.  A part that was
not computed is simply absent (its reason is in the "Not estimated" section)."""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import pandas as pd

from ..analysis.sensitivity import EndpointSensitivity, method_label
from . import figures_sensitivity as FS
from .format import count, hr_ci, integer, median_ci, number, p_value, percent_ci
from .sections import FigureItem, Section, TableItem, _Ctx, term_label

#: the primary analysis leads the summary forest and table
PRIMARY = "psm_robust"


def _relabel(ctx: _Ctx, text: str) -> str:
    """An analysis note with each column the plan names (covariates, exposure start, centre) shown as its
    label when the variable dictionary has one (the notes are written with the column names)."""
    cfg = ctx.results.config
    spec = cfg.sensitivity
    names = [*cfg.covariates, *(cfg.matching.on if cfg.matching else []),
             *([] if spec is None else [spec.exposure_start, spec.centre])]
    for name in dict.fromkeys(n for n in names if n):
        known = ctx.d.specs.get(name)
        if known is not None and known.label:
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", ctx.d.label(name), text)
    return text


#: the report's order of the methods: the primary analysis, the other matched analyses, weighting,
#: regression, then the immortal-time analyses (landmarks in time order)
DISPLAY_ORDER = ("psm_robust", "psm_stratified", "psm_centre_ps", "bootstrap_psm", "mi_psm", "iptw_ate", "iptw_att",
                 "iptw_atc", "overlap", "doubly_robust", "unadjusted", "multivariable", "centre_stratified", "landmark",
                 "time_dependent")


def _order(s: EndpointSensitivity) -> list[str]:
    def key(m: str) -> tuple[int, float]:
        if m.startswith("landmark_"):
            return DISPLAY_ORDER.index("landmark"), float(m[len("landmark_"):])
        return (DISPLAY_ORDER.index(m) if m in DISPLAY_ORDER else len(DISPLAY_ORDER)), 0.0
    return sorted(s.methods, key=key)


def _evalue_text(e, e_ci) -> str:
    if e is None or not np.isfinite(e):
        return ""
    return f"{e:.2f} ({e_ci:.2f})" if e_ci is not None and np.isfinite(e_ci) else f"{e:.2f}"


def _contrast(ctx: _Ctx) -> tuple[str, str, tuple[str, str]]:
    a = ctx.arms
    ref, other = a.names[a.reference], a.names[a.other]
    return ref, other, (f"Favours {other}", f"Favours {ref}")


def _label(ctx: _Ctx, name: str, method: str) -> str:
    """A method's name in the report; a landmark with the endpoint's time unit ("Landmark at 3 months")."""
    text = method_label(method)
    return f"{text} {ctx.results.endpoints[name].unit}" if method.startswith("landmark_") else text


def _summary_figure(ctx: _Ctx, name: str, s: EndpointSensitivity) -> FigureItem:
    ref, other, favours = _contrast(ctx)
    order = _order(s)
    m = [s.methods[k] for k in order]
    return FigureItem(f"sensitivity_forest_{name}",
                      f"Hazard ratio of {other} vs {ref} by analysis method, {ctx.d.endpoint(name)}, with the E-value "
                      "of the estimate (and of the confidence limit closer to 1)",
                      partial(FS.summary_forest_figure, [_label(ctx, name, k) for k in order], [integer(x.n) for x in m],
                              [integer(x.events) for x in m], [x.hr for x in m], [x.lcl for x in m], [x.ucl for x in m],
                              [_evalue_text(x.e_value, x.e_value_ci) for x in m], favours))


def _method_table(ctx: _Ctx, name: str, s: EndpointSensitivity) -> TableItem:
    rules = ctx.results.config.report
    ref, other, _ = _contrast(ctx)
    order = _order(s)
    m = [s.methods[k] for k in order]
    data = pd.DataFrame({"Method": [_label(ctx, name, k) for k in order], "n": [x.n for x in m], "Events": [x.events for x in m],
                         "HR": [x.hr for x in m], "Lower 95% CI": [x.lcl for x in m], "Upper 95% CI": [x.ucl for x in m],
                         "P": [x.p for x in m], "E-value": [x.e_value for x in m],
                         "E-value (CI limit)": [x.e_value_ci for x in m], "Note": [_relabel(ctx, x.note) for x in m]})
    shown = pd.DataFrame({"Method": data["Method"], "n": [integer(x) for x in data["n"]],
                          "Events": [integer(x) for x in data["Events"]],
                          "HR (95% CI)": [hr_ci(x.hr, x.lcl, x.ucl, rules) for x in m],
                          "P": [p_value(x.p, rules) for x in m],
                          "E-value (CI limit)": [_evalue_text(x.e_value, x.e_value_ci) for x in m],
                          "Note": data["Note"]})
    how = (f"The outcome is {'common' if s.outcome_common else 'rare'} (Kaplan–Meier cumulative incidence "
           f"{100 * s.event_proportion:.1f}% at the end of follow-up; the threshold is 15%)")
    foot = (f"HR of {other} vs {ref}. E-value (VanderWeele & Ding 2017): the minimum strength of association, on "
            "the risk-ratio scale, that an unmeasured confounder would need with both the treatment and the outcome to "
            f"explain the HR away; in brackets for the confidence limit closer to 1. {how}: "
            f"{s.evalue_transform or 'no E-values'}." + (" The bootstrap row has no P (its CI is the BCa interval)."
                                                          if "bootstrap_psm" in s.methods else ""))
    return TableItem(f"sensitivity_{name}", f"Hazard ratio by analysis method, {ctx.d.endpoint(name)}", shown, foot, data)


def _rmst_table(ctx: _Ctx, rows: list[tuple[str, EndpointSensitivity]]) -> TableItem | None:
    rules = ctx.results.config.report
    rows = [(n, s) for n, s in rows if s.rmst is not None]
    if not rows:
        return None
    ref, other, _ = _contrast(ctx)
    recs = []
    for name, s in rows:
        r = s.rmst
        by = dict(zip(r.arms, zip(r.rmst, r.se, strict=True), strict=True))
        unit = ctx.results.endpoints[name].unit
        recs.append({"Endpoint": ctx.d.endpoint(name), "tau": r.tau, "Unit": unit,
                     f"RMST {ref}": by[ctx.arms.reference][0], f"SE {ref}": by[ctx.arms.reference][1],
                     f"RMST {other}": by[ctx.arms.other][0], f"SE {other}": by[ctx.arms.other][1],
                     "Difference": r.diff, "Lower 95% CI": r.lcl, "Upper 95% CI": r.ucl, "P": r.p})
    data = pd.DataFrame(recs)
    d = rules.digits
    shown = pd.DataFrame({"Endpoint": data["Endpoint"], "τ": [f"{number(t, d)} {u}" for t, u in zip(data["tau"], data["Unit"], strict=True)],
                          f"RMST {ref} [standard error]": [f"{number(a, d)} [{number(b, d)}]" for a, b in
                                                           zip(data[f"RMST {ref}"], data[f"SE {ref}"], strict=True)],
                          f"RMST {other} [standard error]": [f"{number(a, d)} [{number(b, d)}]" for a, b in
                                                             zip(data[f"RMST {other}"], data[f"SE {other}"], strict=True)],
                          f"Difference, {other} − {ref} (95% CI)": [
                              f"{number(a, d)} ({number(b, d)} to {number(c, d)})"
                              for a, b, c in zip(data["Difference"], data["Lower 95% CI"], data["Upper 95% CI"], strict=True)],
                          "P": [p_value(p, rules) for p in data["P"]]})
    taus = {s.rmst.tau_source for _, s in rows}
    return TableItem("sensitivity_rmst", "Restricted mean survival time up to τ by group", shown,
                     f"τ: {'; '.join(sorted(taus))}. RMST: area under the Kaplan–Meier curve up to τ (R's "
                     "print(survfit(...), rmean = τ)); the difference's SE is sqrt(SE1² + SE0²), normal CI.", data)


def _weighted_km_table(ctx: _Ctx, name: str, s: EndpointSensitivity) -> TableItem | None:
    """Per estimand and arm: n, events, the weighted median (CI) and the weighted survival (CI) at the
    endpoint's landmarks."""
    if not s.weighted_km:
        return None
    rules = ctx.results.config.report
    unit = ctx.results.endpoints[name].unit
    label = ctx.d.endpoint(name)
    shown, data = [], []
    for est, wk in s.weighted_km.items():
        for a in ctx.arms.order:
            km = wk.curves.get(a)
            if km is None:
                continue
            med = km.median
            at = km.surv_at(list(wk.landmarks))
            rs = {"Estimand": est, "Group": ctx.arms.names[a], "n": integer(km.n), "Events": integer(km.events),
                  f"Weighted median, {unit} (95% CI)": median_ci(*med, rules)}
            rd = {"Estimand": est, "Group": ctx.arms.names[a], "n": km.n, "Events": km.events, "Variance": wk.variance,
                  "Median": med[0], "Median lower 95% CI": med[1], "Median upper 95% CI": med[2]}
            for t, sv, lo, hi in zip(wk.landmarks, at["surv"], at["lower"], at["upper"], strict=True):
                head = f"{t:g} {unit}"
                rs[f"Survival at {head}, % (95% CI)"] = percent_ci(sv, lo, hi, rules)
                rd.update({f"Survival at {head}": sv, f"Survival at {head}, lower 95% CI": lo,
                           f"Survival at {head}, upper 95% CI": hi})
            shown.append(rs)
            data.append(rd)
    variances = sorted({wk.variance for wk in s.weighted_km.values()})
    how = {"robust": "infinitesimal-jackknife (robust) variance", "greenwood": "Greenwood variance"}
    first = next(iter(s.weighted_km.values()))
    return TableItem(f"sensitivity_weighted_km_{name}", f"Weighted Kaplan–Meier estimates by group, {label}",
                     pd.DataFrame(shown),
                     "Kaplan–Meier with the inverse probability of treatment weights (n, events: patients with a "
                     f"weight > 0); {' / '.join(how[v] for v in variances)}, {first.conf_type} "
                     f"{100 * first.conf_level:g}% CI (R's survfit(..., weights = w)). NR: not reached.",
                     pd.DataFrame(data))


def _weighted_km_figure(ctx: _Ctx, name: str, s: EndpointSensitivity) -> FigureItem | None:
    """The IPTW-adjusted (ATE) survival curves of the endpoint with the ATE-weighted Cox HR."""
    wk = s.weighted_km.get("ATE")
    if wk is None or not wk.curves:
        return None
    unit = ctx.results.endpoints[name].unit
    label = ctx.d.endpoint(name)
    ref, other, _ = _contrast(ctx)
    curves = {ctx.arms.names[a]: wk.curves[a] for a in ctx.arms.order if a in wk.curves}
    est = s.methods.get("iptw_ate")
    hr = None if est is None else (est.hr, est.lcl, est.ucl)
    step = getattr(ctx.results.config.report, "km_break_months", None) if unit.lower().startswith("month") else None
    return FigureItem(f"sensitivity_km_weighted_{name}",
                      f"IPTW-adjusted survival, {label}: Kaplan–Meier curves weighted by the inverse probability of "
                      f"treatment (ATE weights), with pointwise {100 * wk.conf_level:g}% CIs; HR of {other} vs {ref} from the weighted "
                      "Cox model with robust SE. The curves are weighted, so no numbers at risk are shown.",
                      partial(FS.weighted_km_figure, curves, hr, hr_name="IPTW", xlabel=unit.capitalize(),
                              ylabel=f"{label} (%)", unit=unit, step=step))


def _weighting(ctx: _Ctx, rows: list[tuple[str, EndpointSensitivity]]) -> Section | None:
    s = rows[0][1]  # the weights and their balance are the same for every endpoint
    w = s.weighting
    if not w:
        return None
    cfg = ctx.results.config
    on = cfg.matching.on
    first = next(iter(w.values()))
    names = []
    for i, term in enumerate(first.balance["term"]):
        if i == 0:
            names.append("Propensity score")
            continue
        var = max((v for v in on if str(term).startswith(v)), key=len, default=None)
        names.append(term_label(ctx, var, str(term)))
    tr, co = ctx.results.labels["treated"], ctx.results.labels["control"]
    ess = pd.DataFrame({"Estimand": list(w), "Method": [method_label(v.method) for v in w.values()],
                        f"n {ctx.arms.names[tr]}": [v.n[tr] for v in w.values()],
                        f"ESS {ctx.arms.names[tr]}": [v.ess[tr] for v in w.values()],
                        f"n {ctx.arms.names[co]}": [v.n[co] for v in w.values()],
                        f"ESS {ctx.arms.names[co]}": [v.ess[co] for v in w.values()],
                        "Trimmed": [v.n_trimmed for v in w.values()]})
    ess_shown = ess.astype(object).map(lambda v: number(v, 1) if isinstance(v, float) else count(v) if not isinstance(v, str) else v)
    bal = pd.DataFrame({"Term": names, "SMD unweighted": first.balance["smd_before"].to_numpy(),
                        **{f"SMD {k}": v.balance["smd_after"].to_numpy() for k, v in w.items()},
                        **{f"Variance ratio {k}": v.balance["var_ratio_after"].to_numpy() for k, v in w.items()}})
    bal_shown = bal.copy()
    for c in bal.columns[1:]:
        bal_shown[c] = [number(x, 3) for x in bal[c]]
    flag = np.zeros(len(bal), dtype=bool)
    for k in w:
        flag |= np.abs(bal[f"SMD {k}"].to_numpy(dtype=float)) > 0.1
    stab = "stabilised " if first.stabilize else ""
    trim = f"; PS trimmed outside its {first.trim[0]:g}–{first.trim[1]:g} quantiles (weight 0)" if first.trim else ""
    fig = FigureItem("sensitivity_love_weighted", "Love plot: standardised mean differences, unweighted and after "
                     "each weighting", partial(FS.weighted_love_figure, names, bal["SMD unweighted"].to_numpy(),
                                              {method_label(v.method): bal[f"SMD {k}"].to_numpy() for k, v in w.items()}))
    km_tables = [t for t in (_weighted_km_table(ctx, n, x) for n, x in rows) if t is not None]
    km_figs = [f for f in (_weighted_km_figure(ctx, n, x) for n, x in rows) if f is not None]
    return Section("sensitivity_weighting", "Sensitivity analyses: weighting", tables=[
        TableItem("sensitivity_ess", "Inverse probability of treatment weighting: patients and effective sample size",
                  ess_shown, f"{stab.capitalize() or 'Unstabilised '}weights from the propensity score{trim}. ESS: Kish's effective sample size "
                  "(Σw)²/Σw², per group.", ess),
        TableItem("sensitivity_weighted_balance", "Covariate balance after weighting", bal_shown,
                  "SMD with cobalt's default standard-deviation denominators (ATE, ATO: pooled over the unweighted "
                  "groups; ATT: the treated group's); weighted means and variances. Rows with |SMD| > 0.1 after a weighting are "
                  "flagged.", bal, tuple(bool(x) for x in flag)), *km_tables], figures=[fig, *km_figs])


def _centres(ctx: _Ctx, name: str, s: EndpointSensitivity) -> Section | None:
    c = s.centres
    if c is None or not len(c.table):
        return None
    rules = ctx.results.config.report
    ref, other, favours = _contrast(ctx)
    t = c.table
    label = ctx.d.endpoint(name)
    data = t.drop(columns=["log_hr"]).rename(columns={"centre": "Centre", "hr": "HR", "lcl": "Lower 95% CI",
                                                      "ucl": "Upper 95% CI", "p": "P", "se": "SE (log HR)",
                                                      "weight_fixed": "Weight fixed (%)", "weight_random": "Weight random (%)",
                                                      "events": "Events"})
    rows = [{"Centre": r.centre, "n": integer(r.n), "Events": integer(r.events), "HR (95% CI)": hr_ci(r.hr, r.lcl, r.ucl, rules),
             "P": p_value(r.p, rules)} for r in t.itertuples(index=False)]
    pooled = []
    notes = []
    m = c.meta
    if m is not None:
        for key, p in (("Fixed effect", m.fixed), ("Random effects (DerSimonian–Laird)", m.random)):
            pooled.append((key, float(np.exp(p.estimate)), float(np.exp(p.lcl)), float(np.exp(p.ucl))))
            rows.append({"Centre": key, "n": "", "Events": "", "HR (95% CI)": hr_ci(*pooled[-1][1:], rules),
                         "P": p_value(p.p, rules)})
        notes.append(f"Heterogeneity: Cochran's Q = {m.q:.2f} (df {m.df}), P = {p_value(m.p_q, rules)}; "
                     f"I² = {m.i2:.1f}%; τ² = {m.tau2:.3f}.")
    if c.interaction is not None:
        i = c.interaction
        notes.append(f"{ctx.d.label(ctx.results.config.arm.column)} × centre interaction: likelihood-ratio "
                     f"χ² = {i['chisq']:.2f} (df {i['df']}), P = {p_value(i['p'], rules)}.")
    for e in c.excluded:
        notes.append(f"Centre {e['centre']} not shown: {e['reason']}.")
    weights = [number(x, 1) for x in t["weight_random"]] if "weight_random" in t else [""] * len(t)
    title = "; ".join(x for x in (
        f"I² = {m.i2:.1f}%, τ² = {m.tau2:.3f}, heterogeneity P = {p_value(m.p_q, rules)}" if m is not None else "",
        f"interaction P = {p_value(c.interaction['p'], rules)}" if c.interaction is not None else "") if x)
    fig = FigureItem(f"sensitivity_centres_{name}", f"Hazard ratio of {other} vs {ref} by centre, {label}, with the "
                     "fixed- and random-effects pooled estimates" + (f" ({title})" if title else ""),
                     partial(FS.centre_forest_figure, t["centre"].tolist(), [integer(x) for x in t["n"]],
                             [integer(x) for x in t["events"]], t["hr"].to_numpy(), t["lcl"].to_numpy(), t["ucl"].to_numpy(),
                             [f"{w}%" if w else "" for w in weights], pooled, favours))
    return Section(f"sensitivity_centres_{name}", f"Sensitivity analyses: centres, {label}", tables=[
        TableItem(f"sensitivity_centres_{name}", f"Hazard ratio by centre, {label}", pd.DataFrame(rows),
                  "Cox of the treatment group within each centre; inverse-variance meta-analysis of the log HRs.", data)],
        figures=[fig], notes=notes)


def _grid(ctx: _Ctx, name: str, s: EndpointSensitivity) -> Section | None:
    g = s.design_grid
    b = s.bootstrap
    if g is None and b is None:
        return None
    rules = ctx.results.config.report
    label = ctx.d.endpoint(name)
    tables, figs, notes = [], [], []
    if g is not None and len(g):
        cal = ["none" if pd.isna(c) else f"{c:g}" for c in g["caliper"]]
        order = list(dict.fromkeys(sorted({c for c in cal if c != "none"}, key=float) + (["none"] if "none" in cal else [])))
        g = g.assign(caliper_text=cal)
        series = {}
        for (ratio, rep), part in g.groupby(["ratio", "replace"], sort=True):
            part = part.set_index("caliper_text").reindex(order)
            series[f"1:{int(ratio)}, {'with' if rep else 'without'} replacement"] = (
                part["hr"].to_numpy(dtype=float), part["lcl"].to_numpy(dtype=float), part["ucl"].to_numpy(dtype=float))
        primary = s.methods.get(PRIMARY)
        figs.append(FigureItem(f"sensitivity_design_grid_{name}", f"Matched hazard ratio across matching designs, {label}",
                               partial(FS.design_grid_figure, order, series,
                                       None if primary is None else ("Primary analysis", primary.hr))))
        shown = pd.DataFrame({"Caliper": cal, "Ratio": [f"1:{int(r)}" for r in g["ratio"]],
                              "Replacement": ["Yes" if r else "No" for r in g["replace"]],
                              "Pairs": [integer(x) for x in g["n_pairs"]],
                              "HR (95% CI)": [hr_ci(h, lo, hi, rules) for h, lo, hi in zip(g["hr"], g["lcl"], g["ucl"], strict=True)],
                              "P": [p_value(p, rules) for p in g["p"]]})
        tables.append(TableItem(f"sensitivity_design_grid_{name}", f"Matched hazard ratio by matching design, {label}",
                                shown, "Caliper in standard deviations of the propensity score; none: no caliper.",
                                # the workbook's copy: numbers stay numeric, a yes/no is text (never a bare bool)
                                g.drop(columns=["caliper_text"]).assign(
                                    replace=["yes" if r else "no" for r in g["replace"]])))
    if b is not None:
        pct, bca = b.percentile, b.bca
        pairs = np.asarray(b.n_pairs, dtype=float)
        reps = len(np.asarray(b.replicates))
        notes.append(f"Bootstrap of the matched HR ({reps} replicates, propensity score re-fitted and re-matched in "
                     f"each; {int(b.failed)} failed): HR {b.hr:.{rules.hr_digits}f}, percentile 95% CI "
                     f"{pct[0]:.{rules.hr_digits}f}–{pct[1]:.{rules.hr_digits}f}, BCa 95% CI "
                     f"{bca[0]:.{rules.hr_digits}f}–{bca[1]:.{rules.hr_digits}f}; pairs per replicate median "
                     f"{np.median(pairs):.0f} (range {pairs.min():.0f}–{pairs.max():.0f})." if len(pairs) else "")
    return Section(f"sensitivity_design_{name}", f"Sensitivity analyses: matching design and bootstrap, {label}",
                   tables=tables, figures=figs, notes=[n for n in notes if n])


def _immortal_time(ctx: _Ctx, rows: list[tuple[str, EndpointSensitivity]]) -> Section | None:
    spec = ctx.results.config.sensitivity
    if spec is None or spec.exposure_start is None:
        return None
    rules = ctx.results.config.report
    ref, other, _ = _contrast(ctx)
    recs = []
    for name, s in rows:
        for m, info in s.landmarks.items():
            est = s.methods.get(m)
            recs.append({"Endpoint": ctx.d.endpoint(name), "Landmark": info["time"], "Unit": ctx.results.endpoints[name].unit,
                         "Chosen": _relabel(ctx, info["chosen"]),
                         "At risk": info["at_risk"], "Not yet started (excluded)": info["not_started"],
                         "Analysed": info["analysed"], "HR": est.hr if est else np.nan, "Lower 95% CI": est.lcl if est else np.nan,
                         "Upper 95% CI": est.ucl if est else np.nan, "P": est.p if est else np.nan})
        td = s.methods.get("time_dependent")
        if td is not None:
            recs.append({"Endpoint": ctx.d.endpoint(name), "Landmark": np.nan, "Unit": "", "Chosen": "",
                         "At risk": np.nan, "Not yet started (excluded)": np.nan, "Analysed": td.n, "HR": td.hr,
                         "Lower 95% CI": td.lcl, "Upper 95% CI": td.ucl, "P": td.p})
    col = ctx.d.label(spec.exposure_start)
    text = (f"Immortal time. Membership of a treatment group is defined by the start of the exposure ({col}), which comes after "
            "time zero: a patient who dies or progresses before their exposure starts cannot be counted in a group "
            "whose exposure starts late, so that group's early follow-up is event-free by construction (immortal "
            "time), biasing its hazard downwards (Suissa 2008). Two analyses remove that time. Landmark: only patients "
            "alive and event-free at the landmark whose exposure had started by then are analysed, the group taken as "
            "known at the landmark and time measured from it (Anderson, Cain & Gelber 1983). Time-dependent Cox: every "
            "patient is pre-exposure from time zero until the exposure starts and in their group afterwards "
            f"((start, stop] data as survival::tmerge); the HR of {other} vs {ref} contrasts the two exposed states, "
            "exp(b_A − b_B), with a robust SE clustered on the patient.")
    tables = []
    if recs:
        data = pd.DataFrame(recs)
        shown = pd.DataFrame({"Endpoint": data["Endpoint"],
                              "Analysis": ["Time-dependent exposure" if pd.isna(t) else f"Landmark at {t:g} {u}"
                                           for t, u in zip(data["Landmark"], data["Unit"], strict=True)],
                              "At risk": [integer(x) for x in data["At risk"]],
                              "Not yet started": [integer(x) for x in data["Not yet started (excluded)"]],
                              "Analysed": [integer(x) for x in data["Analysed"]],
                              "HR (95% CI)": [hr_ci(h, lo, hi, rules) for h, lo, hi in
                                              zip(data["HR"], data["Lower 95% CI"], data["Upper 95% CI"], strict=True)],
                              "P": [p_value(p, rules) for p in data["P"]],
                              "Landmark chosen": data["Chosen"]})
        tables.append(TableItem("sensitivity_immortal_time", "Immortal time: landmark and time-dependent analyses",
                                shown, "At risk: alive and event-free at the landmark; not yet started: at risk but the "
                                "exposure had not started by the landmark (excluded).", data))
    return Section("sensitivity_immortal_time", "Sensitivity analyses: immortal time", tables=tables, notes=[text])


def sensitivity_sections(ctx: _Ctx) -> list[Section]:
    """The sensitivity sections, in the order the module docstring gives (none without sensitivity results)."""
    r = ctx.results
    rows = [(n, s) for n, s in r.sensitivity.items() if s.methods]
    if not rows:
        return []
    out = [Section("sensitivity", "Sensitivity analyses", figures=[_summary_figure(ctx, n, s) for n, s in rows])]
    tables = [_method_table(ctx, n, s) for n, s in rows]
    rmst = _rmst_table(ctx, rows)
    out.append(Section("sensitivity_methods", "Sensitivity analyses: hazard ratio by method",
                       tables=tables + ([rmst] if rmst is not None else [])))
    out.append(_weighting(ctx, rows))
    out += [_centres(ctx, n, s) for n, s in rows]
    out += [_grid(ctx, n, s) for n, s in rows]
    out.append(_immortal_time(ctx, rows))
    return [s for s in out if s is not None]


__all__ = ["sensitivity_sections"]
