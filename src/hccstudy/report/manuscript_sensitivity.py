"""Manuscript sentences of the sensitivity analyses (docs/sensitivity.md): one Methods sentence per
method run, and one Results sentence per method giving its HR for every endpoint with the E-value;
then the RMST, the centres' heterogeneity and interaction, and the bootstrap.  Every number comes from
``Results.sensitivity``; methods not run are not mentioned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.labels import Dictionary
from ..analysis.run import Results
from ..analysis.sensitivity import ESTIMAND_METHOD, method_label

if TYPE_CHECKING:
    from .sections import Arms

DASH = "\u2013"


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _methods_run(results: Results) -> list[str]:
    seen: dict[str, None] = {}
    for s in results.sensitivity.values():
        for m in s.methods:
            seen["landmark" if m.startswith("landmark_") else m] = None
    return list(seen)


def sensitivity_methods(results: Results, d: Dictionary, arms: Arms) -> list[str]:
    """One Methods sentence per sensitivity method run (none when there are none)."""
    spec = results.config.sensitivity
    if spec is None or not results.sensitivity:
        return []
    cfg = results.config
    run = _methods_run(results)
    covs = _join([d.label(v) for v in (cfg.matching.on if cfg.matching else cfg.covariates)])
    w = spec.weighting
    how = ("stabilised " if w.stabilize else "") + "{} weights" + (
        f", the propensity score trimmed outside its {w.trim[0]:g}{DASH}{w.trim[1]:g} quantiles" if w.trim else "")
    centre = _name(d, spec.centre, "centre")
    expo = _name(d, spec.exposure_start, "the exposure start")
    unit = next(iter(results.endpoints.values())).unit if results.endpoints else ""
    landmarks = sorted({v["time"] for s in results.sensitivity.values() for v in s.landmarks.values()})
    arm = d.label(cfg.arm.column)
    est = {v: k for k, v in ESTIMAND_METHOD.items()}
    text = {
        "unadjusted": "As sensitivity analyses, the HR was also estimated by an unadjusted Cox model in all patients.",
        "multivariable": f"A multivariable Cox model in all patients adjusted for {covs}.",
        "psm_stratified": "In the matched cohort, a Cox model stratified on the matched pair estimated the conditional HR.",
        "psm_centre_ps": f"The propensity score was re-estimated with {_lower(centre)} as a fixed effect and the matching repeated.",
        "doubly_robust": f"A doubly robust estimate combined ATE weights with adjustment for {covs}.",
        "landmark": (f"To address immortal time, landmark analyses at {_join([f'{t:g}' for t in landmarks])} {unit} included "
                     "patients alive and event-free at the landmark whose exposure had started by then (exposure start: "
                     f"{_lower(expo)}), with time measured from the landmark."),
        "time_dependent": ("A Cox model with the exposure as time-dependent ((start, stop] data: pre-exposure from time "
                           f"zero until the exposure start, {_lower(expo)}) compared the groups after the exposure started, "
                           "with a robust variance clustered on the patient."),
        "centre_stratified": (f"A Cox model stratified by {_lower(centre)} was fitted; centre-specific HRs were pooled by "
                              "inverse-variance fixed-effect and DerSimonian–Laird random-effects meta-analysis "
                              f"(Cochran's Q, I²), and a {_lower(arm)} × {_lower(centre)} interaction was tested by the "
                              "likelihood-ratio test."),
        "mi_psm": (f"Missing baseline covariates were multiply imputed by chained equations (m = {spec.imputation.m}); "
                   "the propensity score, matching and Cox model were repeated in each imputed data set and pooled by "
                   "Rubin's rules."),
        "bootstrap_psm": (f"The matched HR was bootstrapped ({spec.bootstrap.replicates} replicates), the propensity score "
                          "re-estimated and the matching repeated in each replicate (percentile and BCa intervals)."),
    }
    s = []
    for m in run:
        if m in est:
            s.append(f"{method_label(m)}: a Cox model weighted by {how.format(est[m])}, with a robust (sandwich) variance.")
        elif m in text:
            s.append(text[m])
    if any(x.rmst is not None for x in results.sensitivity.values()):
        s.append("Restricted mean survival times up to τ were compared between the groups.")
    s.append("E-values (VanderWeele and Ding, 2017) gave the strength of unmeasured confounding needed to explain "
             "each HR away.")
    return s


def _name(d: Dictionary, column: str | None, default: str) -> str:
    """A column's label when the dictionary has one, else ``default`` (a generic word, not the code)."""
    spec = d.specs.get(column) if column else None
    return d.label(column) if spec is not None and spec.label else default


def _lower(label: str) -> str:
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _hr(x) -> str:
    return f"HR {x.hr:.2f} (95% CI {x.lcl:.2f}{DASH}{x.ucl:.2f}" + (
        f"; E-value {x.e_value:.2f}" if x.e_value is not None else "") + ")"


def sensitivity_results(results: Results, d: Dictionary, arms: Arms) -> list[str]:
    """One Results sentence per method with its HR for each endpoint, then RMST, centres, bootstrap."""
    if not results.sensitivity:
        return []
    eps = list(results.sensitivity.items())
    methods: dict[str, None] = {}
    for _, s in eps:
        methods.update(dict.fromkeys(s.methods))
    out = []
    for m in methods:
        parts = [f"{_lower(d.endpoint(name))} {_hr(s.methods[m])}" for name, s in eps if m in s.methods]
        unit = results.endpoints[eps[0][0]].unit
        label = method_label(m) + (f" {unit}" if m.startswith("landmark_") else "")
        out.append(f"{label}: {_join(parts)}.")
    for name, s in eps:
        r = s.rmst
        if r is not None:
            unit = results.endpoints[name].unit
            out.append(f"The restricted mean {_lower(d.endpoint(name))} up to {r.tau:.1f} {unit} was {r.rmst[0]:.1f} "
                       f"{unit} with {arms.names[r.arms[0]] if r.arms[0] in arms.names else r.arms[0]} and {r.rmst[1]:.1f} "
                       f"with {arms.names[r.arms[1]] if r.arms[1] in arms.names else r.arms[1]} (difference {r.diff:.1f}, "
                       f"95% CI {r.lcl:.1f}{DASH}{r.ucl:.1f}).")
        c = s.centres
        if c is not None and c.meta is not None:
            i = c.interaction
            out.append(f"Across centres ({_lower(d.endpoint(name))}), heterogeneity was I² = {c.meta.i2:.1f}% "
                       f"(Cochran's Q P = {c.meta.p_q:.3f})"
                       + (f" and the interaction P was {i['p']:.3f}" if i is not None else "") + ".")
    return out


__all__ = ["sensitivity_methods", "sensitivity_results"]
