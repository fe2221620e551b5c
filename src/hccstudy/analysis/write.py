"""Write the results of :func:`hccstudy.analysis.analyze` into a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..report.figures import forest_plot, km_plot, love_plot, ps_plot
from ..stats.km import kaplan_meier
from .columns import ARM, DISTANCE, STATUS, TREATED, WEIGHT
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
        if results.table1_after is not None:
            results.table1_after.drop(columns=drop).to_csv(out / "table1_after.csv", index=False)
            paths.append(out / "table1_after.csv")
        results.balance.to_csv(out / "balance.csv", index=False)
        cfg = results.config
        d = results.data
        ids = d[cfg.id].to_numpy(dtype=object)
        w = d[WEIGHT].to_numpy()
        pairs = results.matching.pairs.assign(treated_id=lambda p: ids[p["treated"]], control_id=lambda p: ids[p["control"]],
                                              control_weight=lambda p: w[p["control"]])
        pairs[["pair", "treated_id", "control_id", "distance_treated", "distance_control", "round",
               "control_weight"]].to_csv(out / "pairs.csv", index=False)
        unmatched = w == 0
        pd.DataFrame({cfg.id: ids[unmatched], "arm": d[ARM].to_numpy()[unmatched],
                      "distance": d[DISTANCE].to_numpy()[unmatched],
                      "match_status": d[STATUS].to_numpy()[unmatched]}).to_csv(out / "unmatched.csv", index=False)
        paths += [out / n for n in ("balance.csv", "pairs.csv", "unmatched.csv")]
        fig = out / "figures"
        paths += love_plot(results.balance, fig / "love_plot")
        paths += ps_plot(d[DISTANCE].to_numpy(), d[TREATED].to_numpy(), w > 0,
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
            paths += km_plot(curves, fig / f"km_{ep.name}_{sname}", p_value=_p_or_none(block["logrank"]["p"]),
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


def _p_or_none(p):
    """The log-rank P for the plot; None when it was not estimated (no events)."""
    return None if p is None or p != p else p
