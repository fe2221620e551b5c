"""Assemble the report folder of ``hccstudy run`` / ``hccstudy analyze``:

report.html (self-contained), tables.xlsx, tables.docx, figures/ (PNG 300 dpi, SVG, PDF, TIFF 600 dpi
LZW), results.json, analysis_table.parquet, manifest.json, plus the CSV tables of
:func:`hccstudy.analysis.write_results`.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from ..analysis.columns import ARM, DISTANCE, TREATED, WEIGHT
from ..analysis.run import Results
from ..analysis.write import write_results
from ..stats.km import kaplan_meier
from ..stats.tests import format_p
from . import html as H
from .export import write_docx, write_xlsx
from .figures import figure_formats, forest_plot, km_plot, love_plot, ps_plot

PACKAGES = ["hccstudy", "numpy", "pandas", "scipy", "matplotlib", "pyarrow", "openpyxl", "python-docx", "pydantic",
            "PyYAML", "typer", "rich"]


class _DictView:
    """TEMPORARY (replaced by the section model in the next commit): the typed results seen through
    results.json's dicts, for the report code that still reads them."""

    def __init__(self, results: Results):
        self._r = results
        d = results.to_dict()
        self.endpoints = d.get("endpoints", {})
        self.response = d.get("response")
        self.adverse_events = d.get("adverse_events")

    def __getattr__(self, name):
        return getattr(self._r, name)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


# ---------------------------------------------------------------------------------------- tables
def _main_sample(endpoint: dict) -> str:
    """The sample the paper's tables use: matched when its outcomes were estimated, else all patients."""
    return "matched" if "matched" in endpoint else "full"


def skipped_frame(results: Results) -> pd.DataFrame:
    """What could not be estimated, and why (results.json ``skipped``)."""
    return pd.DataFrame(results.skipped, columns=["part", "reason"])


def _blank(df: pd.DataFrame) -> pd.DataFrame:
    """Missing values as empty text (for display)."""
    return df.astype(object).where(df.notna(), "")


def survival_summary(results: Results) -> pd.DataFrame:
    rows = []
    arms = [results.labels["control"], results.labels["treated"]]
    for name, ep in results.endpoints.items():
        for sample in ("full", "matched"):
            b = ep.get(sample)
            if not b:
                continue
            for a in arms:
                k = b["km"][a]
                row = {"endpoint": name.upper(), "sample": sample, "arm": a, "n": k["n"], "events": k["events"],
                       "median": k.get("median"), "median_lcl": k.get("median_lcl"), "median_ucl": k.get("median_ucl")}
                for lm in k.get("landmarks", []):
                    row[f"rate_{lm['time']:g}"] = lm["surv"]
                fu = b["median_followup"][a]
                row["median_followup"] = fu["median"]
                rows.append(row)
            hr = b.get("cox_arm_robust") or b.get("cox_arm") or {}
            rows.append({"endpoint": name.upper(), "sample": sample, "arm": "comparison",
                         "logrank_p": b["logrank"]["p"], "hr": hr.get("hr"), "hr_lcl": hr.get("lcl"),
                         "hr_ucl": hr.get("ucl"), "hr_p": hr.get("p"),
                         "hr_type": "robust, clustered on pair" if "cox_arm_robust" in b else "Cox"})
    return pd.DataFrame(rows)


def cox_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{k: r.get(k) for k in ("variable", "term", "hr", "lcl", "ucl", "p")} for r in rows])


def response_frame(resp: dict, arms: list[str]) -> pd.DataFrame:
    rows = []
    for r in resp["best_response"]:
        rows.append({"measure": r["response"], **{f"{a} n": r[a]["n"] for a in arms},
                     **{f"{a} %": r[a]["pct"] for a in arms}})
    for r in resp["rates"]:
        rows.append({"measure": r["measure"], **{f"{a} n": r[a]["n"] for a in arms},
                     **{f"{a} %": 100 * r[a]["rate"] for a in arms},
                     **{f"{a} 95% CI": f"{100 * r[a]['lcl']:.1f}-{100 * r[a]['ucl']:.1f}" for a in arms},
                     "test": r["test"], "p": r["p"]})
    return pd.DataFrame(rows)


def ae_frame(rows: list[dict], arms: list[str]) -> pd.DataFrame:
    out = []
    for r in rows:
        row = {"term": r["term"]}
        for a in arms:
            for k in ("grade_1_2", "grade_3_4", "grade_5", "any"):
                row[f"{a} {k}"] = r[a][k]
        row.update(p_any=r["p_any"], p_grade_3plus=r["p_grade_3plus"])
        out.append(row)
    return pd.DataFrame(out)


def _sheets(results: Results, flow: pd.DataFrame | None, calibration: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    arms = [results.labels["control"], results.labels["treated"]]
    sheets: dict[str, pd.DataFrame] = {}
    if flow is not None:
        sheets["Flow"] = flow
    sheets["Table1"] = H.table1_frame(results.table1_before, results.table1_after, arms)
    num_cols = ["variable", "level", "statistic", "test", "p", "smd"]
    sheets["Table1 before (numbers)"] = results.table1_before[num_cols]
    if results.table1_after is not None:
        sheets["Table1 after (numbers)"] = results.table1_after[num_cols]
    if results.balance is not None:
        sheets["Balance"] = results.balance
        sheets["Sample sizes"] = results.sample_sizes
    if results.endpoints:
        sheets["Survival"] = survival_summary(results)
    for name, ep in results.endpoints.items():
        main = _main_sample(ep)
        b = ep[main]
        if b.get("cox_univariate"):
            sheets[f"{name.upper()} Cox univariable"] = cox_table(b["cox_univariate"])
        if b.get("cox_multivariate"):
            sheets[f"{name.upper()} Cox multivariable"] = cox_table(b["cox_multivariate"])
        if b.get("subgroups"):
            sheets[f"{name.upper()} subgroups"] = pd.DataFrame(b["subgroups"])
    if results.response:
        for s, r in results.response.items():
            sheets[f"Response ({s})"] = response_frame(r, arms)
    if results.adverse_events:
        for s, r in results.adverse_events.items():
            sheets[f"Adverse events ({s})"] = ae_frame(r, arms)
    if results.skipped:
        sheets["Not estimated"] = skipped_frame(results)
    if calibration is not None:
        sheets["Reproduction"] = calibration
    return sheets


def _docx_tables(results: Results, flow: pd.DataFrame | None) -> list[tuple[str, pd.DataFrame, str]]:
    arms = [results.labels["control"], results.labels["treated"]]
    out = []
    t1 = H.table1_frame(results.table1_before, results.table1_after, arms).drop(columns=["Test"])
    out.append(("Table 1. Baseline characteristics before and after propensity-score matching", t1,
                "Continuous: mean (SD), median [min, max]; categorical: n (%). SMD: absolute standardised mean difference."))
    for name, ep in results.endpoints.items():
        main = _main_sample(ep)
        b = ep[main]
        for key, label in (("cox_univariate", "Univariable"), ("cox_multivariate", "Multivariable")):
            if b.get(key):
                df = pd.DataFrame([{"Variable": r["variable"], "Term": r["term"], "HR (95% CI)": H.hr_text(r),
                                    "P": format_p(r["p"])} for r in b[key]])
                out.append((f"{label} Cox regression for {name.upper()} ({main} sample)", df, ""))
        if b.get("subgroups"):
            df = pd.DataFrame([{"Subgroup": r["variable"], "Level": r["level"],
                                "n": f"{r['n_treated']}/{r['n_control']}", "HR (95% CI)": H.hr_text(r),
                                "P for interaction": format_p(r["p_interaction"])} for r in b["subgroups"]])
            out.append((f"Subgroup analysis for {name.upper()} ({main} sample)", df, ""))
    if results.response:
        r = results.response["full"]
        rows = [{"Response": x["response"], **{a: f"{x[a]['n']} ({x[a]['pct']:.1f})" for a in arms}} for x in r["best_response"]]
        rows += [{"Response": x["measure"], **{a: f"{x[a]['n']} ({100 * x[a]['rate']:.1f}; {100 * x[a]['lcl']:.1f}-{100 * x[a]['ucl']:.1f})"
                                                for a in arms}, "P": format_p(x["p"])} for x in r["rates"]]
        out.append(("Tumour response (mRECIST), all patients", pd.DataFrame(rows), "n (%); ORR/DCR: n (%; exact 95% CI)."))
    if results.adverse_events:
        rows = results.adverse_events.get("matched") or results.adverse_events["full"]
        df = pd.DataFrame([{"Adverse event": x["term"], **{f"{a} grade 1-2": x[a]["grade_1_2"] for a in arms},
                            **{f"{a} grade 3-4": x[a]["grade_3_4"] for a in arms}, "P (any grade)": format_p(x["p_any"])}
                           for x in rows])
        out.append(("Adverse events (CTCAE v5.0)", df, ""))
    return out


# ---------------------------------------------------------------------------------------- figures
def _figures(results: Results, out: Path) -> list[Path]:
    """Love and propensity-score plots, KM plots per endpoint and sample, forest plots."""
    cfg = results.config
    fig = out / "figures"
    paths: list[Path] = []
    d = results.data
    if results.matching is not None:
        paths += love_plot(results.balance, fig / "love_plot")
        paths += ps_plot(d[DISTANCE].to_numpy(), d[TREATED].to_numpy(), d[WEIGHT].to_numpy() > 0,
                         (results.labels["control"], results.labels["treated"]), fig / "ps_distribution",
                         "Propensity score" if cfg.matching.link == "logit" else "Linear propensity score (logit)")
    samples = {"full": results.data}
    if results.matching is not None and results.table1_after is not None:  # matched outcomes not skipped
        samples["matched"] = results.matched
    arms = [results.labels["control"], results.labels["treated"]]
    for ep in cfg.endpoints:
        res = results.endpoints[ep.name]
        for sname, d in samples.items():
            curves = {}
            for lab in arms:
                sub = d[d[ARM] == lab]
                if len(sub):
                    curves[lab] = kaplan_meier(sub[ep.time], sub[ep.event] == ep.event_value, cfg.km.conf_level, cfg.km.conf_type)
            block = res.get(sname)
            if block is None:
                continue
            title = f"{ep.name.upper()}, {'matched' if sname == 'matched' else 'all'} patients"
            p = block["logrank"]["p"]
            paths += km_plot(curves, fig / f"km_{ep.name}_{sname}", p_value=None if p is None or p != p else p,
                             xlabel=ep.unit.capitalize(), title=title)
            forest = sname == ("matched" if "matched" in samples else "full")  # the paper's: matched sample
            if block.get("cox_univariate") and forest:
                paths += forest_plot(block["cox_univariate"], fig / f"forest_univariable_{ep.name}_{sname}",
                                     title=f"Univariable Cox, {title}")
            if block.get("cox_multivariate") and forest:
                paths += forest_plot(block["cox_multivariate"], fig / f"forest_multivariable_{ep.name}_{sname}",
                                     title=f"Multivariable Cox, {title}")
            if block.get("subgroups") and forest:
                rows = [{**r, "n_arms": f"{r['n_treated']}/{r['n_control']}"} for r in block["subgroups"]]
                paths += forest_plot(rows, fig / f"forest_subgroups_{ep.name}_{sname}", label_cols=("variable", "level"),
                                     extra=(("n (arm/ref)", "n_arms"),), p_key="p_interaction",
                                     title=f"Subgroups, {title} (P for interaction)")
    return paths


# ---------------------------------------------------------------------------------------- html
def _html(results: Results, out: Path, flow: pd.DataFrame | None, calibration: pd.DataFrame | None,
          methods: str, title: str) -> str:
    fig = out / "figures"
    arms = [results.labels["control"], results.labels["treated"]]
    sec: list[tuple[str, str]] = [("Methods", methods)]
    if flow is not None:
        sec.append(("Patient flow", _flow_html(flow, results)))
    sec.append(("Table 1", H.table(H.table1_frame(results.table1_before, results.table1_after, arms))))
    if results.balance is not None:
        b = results.balance[["term", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_max_before",
                              "ecdf_max_after", "flag"]]
        content = H.table(b, numeric=tuple(c for c in b.columns if c not in ("term", "flag")), bad_rows=b["flag"])
        content += H.figure(fig / "love_plot.png", "Love plot: standardised mean differences before and after matching")
        content += H.figure(fig / "ps_distribution.png", "Propensity score distribution by arm, all and matched")
        sec.append(("Balance", content))
    if results.endpoints:
        content = H.table(_blank(survival_summary(results)), numeric=())
        for name in results.endpoints:
            for sample in ("full", "matched"):
                p = fig / f"km_{name}_{sample}.png"
                if p.exists():
                    content += H.figure(p, f"Kaplan–Meier, {name.upper()}, {'matched' if sample == 'matched' else 'all'} patients")
        sec.append(("Survival", content))
    if results.response:
        sec.append(("Tumour response", "".join(
            f"<h3>{s}</h3>" + H.table(_blank(response_frame(r, arms)), numeric=()) for s, r in results.response.items())))
    if results.adverse_events:
        rows = results.adverse_events.get("matched") or results.adverse_events["full"]
        sec.append(("Adverse events", H.table(_blank(ae_frame(rows, arms)), numeric=())))
    content = ""
    for name, ep in results.endpoints.items():
        main = _main_sample(ep)
        b = ep[main]
        for key, label in (("cox_univariate", "univariable"), ("cox_multivariate", "multivariable")):
            if b.get(key):
                content += f"<h3>{name.upper()}: {label} Cox ({main})</h3>" + H.table(H.cox_frame(b[key]))
                p = fig / f"forest_{label}_{name}_{main}.png"
                if p.exists():
                    content += H.figure(p, f"Forest plot, {label} Cox, {name.upper()}")
        if "ph_test" in b:
            content += f"<p class='note'>Proportional hazards (cox.zph, km transform) global P = {format_p(b['ph_test']['global_p'])}.</p>"
        if b.get("subgroups"):
            p = fig / f"forest_subgroups_{name}_{main}.png"
            if p.exists():
                content += H.figure(p, f"Subgroup analysis, {name.upper()}")
    if content:
        sec.append(("Cox regression and subgroups", content))
    if results.skipped:
        sec.append(("Not estimated", "<p class='note'>These parts of the analysis could not be estimated on these data "
                    "and were left out; the reason is given for each.</p>" + H.table(skipped_frame(results), numeric=())))
    if calibration is not None:
        sec.append(("Reproduction of the published study", H.table(_blank(calibration), numeric=(),
                                                                    bad_rows=~calibration["ok"])))
    return H.render(title, sec, "Generated by hccstudy " + versions()["hccstudy"])


def _flow_html(flow: pd.DataFrame, results: Results) -> str:
    f = flow.set_index(["step", "criterion"])["n"]
    excl = flow[flow["step"] == "excluded"]
    items = "".join(f"<li>{H.esc(r.label)}: {r.n}</li>" for r in excl.itertuples() if r.n > 0)
    arms = flow[flow["step"] == "arm"]
    arm_boxes = "".join(f'<div class="box">{H.esc(r.label)}: {r.n}</div>' for r in arms.itertuples())
    matched = (f'<div class="arrow">↓</div><div class="box">Propensity-score matched: {results.matching.n_pairs} treated '
               f'units ({len(results.matching.pairs)} matches)</div>'
               if results.matching is not None else "")
    return (f'<div class="flow"><div class="box">Screened: {int(f[("screened", "")])}</div><div class="arrow">↓</div>'
            f'<div class="box excl">Excluded: {int(excl["n"].sum())}<ul>{items}</ul></div><div class="arrow">↓</div>'
            f'<div class="box">Included: {int(f[("included", "")])}</div><div class="arrow">↓</div>'
            f'<div class="row">{arm_boxes}</div>{matched}</div>')


def methods_text(results: Results) -> str:
    cfg = results.config
    t1 = cfg.table1
    parts = [f"<p>Continuous variables: mean (SD) and median [min, max]; compared with the "
             f"{'Student (pooled-variance)' if t1.t_test == 'student' else 'Welch'} t-test, or the "
             f"{'Wilcoxon rank-sum' if t1.nonnormal_test == 'wilcoxon' else 'Kruskal–Wallis'} test for non-normal ones. "
             f"Categorical variables: n (%); chi-square test with Yates' correction on 2×2 tables"
             + (f", Fisher's exact test when an expected count was below {t1.fisher_expected_below:g}" if t1.fisher_expected_below else "")
             + ". Standardised mean differences: absolute, pooled SD (tableone).</p>"]
    if results.matching is not None:
        m = cfg.matching
        width = results.matching.caliper_width
        caliper = ("no caliper" if width is None else
                   f"caliper {m.caliper:g} {'SD of the ' if m.std_caliper else ''}"
                   f"{'propensity score' if m.link == 'logit' else 'logit of the propensity score'} "
                   f"(width used: {width:.5f})")
        design = (f"1:{m.ratio} nearest-neighbour matching {'with' if m.replace else 'without'} replacement, "
                  f"{m.order if not m.replace else 'data'} order")
        if m.discard != "none":
            design += f", units outside the common support discarded ({m.discard})"
        parts.append(f"<p>Propensity score: unpenalised logistic regression of arm ({results.labels['treated']} = treated) on "
                     f"{', '.join(m.on)}; {design}, {caliper}, as R MatchIt (≥ 4.5.4); "
                     f"{results.matching.n_pairs} treated units matched with {len(results.matching.pairs)} control "
                     f"match(es). Balance: MatchIt's standardised mean differences (treated SD) with its matching "
                     f"weights, |SMD| > 0.1 flagged.</p>")
    if cfg.endpoints:
        parts.append(f"<p>Survival: Kaplan–Meier with Greenwood variance and {cfg.km.conf_type} confidence intervals "
                     f"(R survfit), log-rank test; Cox regression with {cfg.cox.ties.capitalize()} ties; on the matched sample "
                     "the primary HR uses a robust variance clustered on the matched pair, and the pair-stratified Cox "
                     f"model gives a conditional HR. Variables with univariable P &lt; {cfg.cox.select_p:g} entered the "
                     "multivariable model. Proportional hazards: cox.zph (km transform). Median follow-up: reverse "
                     "Kaplan–Meier.</p>")
    v = versions()
    parts.append("<p class='note'>Software: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".</p>")
    return "".join(parts)


def build_report(results: Results, out: Path, *, flow: pd.DataFrame | None = None,
                 calibration: pd.DataFrame | None = None, inputs: list[dict] | None = None,
                 seed: int | None = None, timings: dict | None = None, warnings: list[str] | None = None,
                 study_config: dict | None = None, title: str | None = None, write_table: bool = True,
                 formats: tuple[str, ...] = ("png", "svg", "pdf", "tiff")) -> list[Path]:
    """Write the whole report folder (see module docstring) into ``out``; ``write_table=False`` when
    the caller writes ``analysis_table.parquet`` itself (``hccstudy run``, with the study's CSV);
    ``formats``: of the figures (the HTML embeds the PNGs, so PNG is always written)."""
    out = Path(out)
    paths = write_results(results, out)
    results = _DictView(results)
    with figure_formats(*dict.fromkeys(("png", *formats))):
        paths += _figures(results, out)
    if write_table:
        results.data.to_parquet(out / "analysis_table.parquet", index=False)
    sheets = _sheets(results, flow, calibration)
    write_xlsx(sheets, out / "tables.xlsx")
    title = title or results.config.name
    write_docx(_docx_tables(results, flow), out / "tables.docx", title)
    (out / "report.html").write_text(_html(results, out, flow, calibration, methods_text(results), title), encoding="utf-8")
    manifest = {
        "hccstudy": versions()["hccstudy"], "versions": versions(),
        "analysis_config": json.loads(results.config.model_dump_json(exclude={"base_dir"})),
        "study_config": study_config, "inputs": inputs or [], "seed": seed,
        "timings_s": {k: round(v, 3) for k, v in (timings or {}).items()},
        "warnings": list(warnings or []) + list(results.warnings),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8")
    return [*paths, *([out / "analysis_table.parquet"] if write_table else []), out / "tables.xlsx", out / "tables.docx", out / "report.html",
            out / "manifest.json"]
