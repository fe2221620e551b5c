"""Write the results of :func:`hccstudy.analysis.analyze` into a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..report.figures import forest_plot, km_plot, love_plot, ps_plot
from ..stats.km import kaplan_meier
from .run import Results


def write_results(results: Results, out: str | Path) -> list[Path]:
    """results.json, Table 1 (before/after), balance, pairs, unmatched and excluded rows as CSV, and the
    Love and propensity-score plots (PNG, SVG) under figures/."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json"]
    paths[0].write_text(results.to_json(), encoding="utf-8")
    drop = ["summary"]
    t = results.table1_before.drop(columns=drop)
    t.to_csv(out / "table1_before.csv", index=False)
    paths.append(out / "table1_before.csv")
    results.excluded_missing.to_csv(out / "excluded_missing.csv", index=False)
    paths.append(out / "excluded_missing.csv")
    if results.matching is not None:
        results.table1_after.drop(columns=drop).to_csv(out / "table1_after.csv", index=False)
        results.balance.to_csv(out / "balance.csv", index=False)
        cfg = results.config
        ids = results.data[cfg.id].to_numpy(dtype=object)
        pairs = results.matching.pairs.assign(treated_id=lambda d: ids[d["treated"]], control_id=lambda d: ids[d["control"]])
        pairs[["pair", "treated_id", "control_id", "distance_treated", "distance_control", "round"]].to_csv(out / "pairs.csv", index=False)
        units = results.data[[cfg.id, "arm_label", "distance", "pair", "match_status"]]
        units[results.data["pair"].isna().to_numpy()].to_csv(out / "unmatched.csv", index=False)
        paths += [out / n for n in ("table1_after.csv", "balance.csv", "pairs.csv", "unmatched.csv")]
        fig = out / "figures"
        paths += love_plot(results.balance, fig / "love_plot")
        d = results.data
        paths += ps_plot(d["distance"].to_numpy(), d["treated"].to_numpy(), d["pair"].notna().to_numpy(),
                         (results.labels["control"], results.labels["treated"]), fig / "ps_distribution",
                         "Propensity score" if cfg.matching.link == "logit" else "Linear propensity score (logit)")
    paths += _outcome_outputs(results, out)
    return paths


def _outcome_outputs(results: Results, out: Path) -> list[Path]:
    """KM plots per endpoint and sample, Cox and subgroup tables and forest plots, response and AE tables."""
    cfg = results.config
    paths: list[Path] = []
    fig = out / "figures"
    samples = {"full": results.data}
    if results.matching is not None:
        samples["matched"] = results.matched
    arms = [results.labels["control"], results.labels["treated"]]
    for ep in cfg.endpoints:
        res = results.endpoints[ep.name]
        for sname, d in samples.items():
            curves = {}
            for lab in arms:
                sub = d[d["arm_label"] == lab]
                if len(sub):
                    curves[lab] = kaplan_meier(sub[ep.time], sub[ep.event] == ep.event_value, cfg.km.conf_level, cfg.km.conf_type)
            block = res[sname]
            title = f"{ep.name.upper()}, {'matched' if sname == 'matched' else 'all'} patients"
            paths += km_plot(curves, fig / f"km_{ep.name}_{sname}", p_value=block["logrank"]["p"],
                             xlabel=ep.unit.capitalize(), title=title)
            for key in ("cox_univariate", "cox_multivariate", "subgroups"):
                rows = block.get(key)
                if rows:
                    table = out / f"{key}_{ep.name}_{sname}.csv"
                    pd.DataFrame(rows).to_csv(table, index=False)
                    paths.append(table)
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
    if results.response is not None:
        for sname, r in results.response.items():
            rows = [{"response": x["response"], **{f"{a} n": x[a]["n"] for a in arms}, **{f"{a} %": x[a]["pct"] for a in arms}}
                    for x in r["best_response"]]
            path = out / f"response_{sname}.csv"
            pd.DataFrame(rows).to_csv(path, index=False)
            paths.append(path)
    if results.adverse_events is not None:
        for sname, rows in results.adverse_events.items():
            flat = [{"term": x["term"], **{f"{a} {k}": v for a in arms for k, v in x[a].items()},
                     "test_any": x["test_any"], "p_any": x["p_any"], "test_grade_3plus": x["test_grade_3plus"],
                     "p_grade_3plus": x["p_grade_3plus"]} for x in rows]
            path = out / f"adverse_events_{sname}.csv"
            pd.DataFrame(flat).to_csv(path, index=False)
            paths.append(path)
    return paths
