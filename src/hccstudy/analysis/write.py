"""Write the results of :func:`hccstudy.analysis.analyze` into a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .columns import ARM, DISTANCE, STATUS, WEIGHT
from .run import Results


def write_results(results: Results, out: str | Path) -> list[Path]:
    """results.json, and Table 1 (before/after), balance, pairs, unmatched and excluded rows, Cox,
    subgroup, response and adverse-event tables as CSV.  Figures are the report's
    (:mod:`hccstudy.report`): the analysis layer draws nothing."""
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
    paths += _outcome_outputs(results, out)
    return paths


def _outcome_outputs(results: Results, out: Path) -> list[Path]:
    """Cox and subgroup tables per endpoint and sample, response and AE tables (CSV)."""
    paths: list[Path] = []
    arms = [results.labels["control"], results.labels["treated"]]
    for name, res in results.endpoints.items():
        for sname in ("full", "matched"):
            block = res.get(sname)
            if block is None:
                continue
            for key in ("cox_univariate", "cox_multivariate", "subgroups"):
                rows = block.get(key)
                if rows:
                    table = out / f"{key}_{name}_{sname}.csv"
                    pd.DataFrame(rows).to_csv(table, index=False)
                    paths.append(table)
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

