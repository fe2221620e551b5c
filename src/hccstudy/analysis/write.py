"""Write the results of :func:`hccstudy.analysis.analyze` into a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .columns import ARM, DISTANCE, STATUS, WEIGHT
from .csvtext import write_csv
from .run import Results


def write_results(results: Results, out: str | Path) -> list[Path]:
    """results.json, and Table 1 (before/after), balance, pairs, unmatched and excluded rows, Cox,
    subgroup, response, adverse-event and sensitivity tables as CSV.  Figures are the report's
    (:mod:`hccstudy.report`): the analysis layer draws nothing."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json"]
    paths[0].write_text(results.to_json(), encoding="utf-8")
    drop = ["summary"]
    t = results.table1_before.drop(columns=drop)
    t.to_csv(out / "table1_before.csv", index=False)
    paths.append(out / "table1_before.csv")
    write_csv(results.excluded_missing, out / "excluded_missing.csv")  # per patient: from columns
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
        write_csv(pairs[["pair", "treated_id", "control_id", "distance_treated", "distance_control", "round",
                         "control_weight"]], out / "pairs.csv")
        unmatched = w == 0
        write_csv(pd.DataFrame({cfg.id: ids[unmatched], "arm": d[ARM].to_numpy()[unmatched],
                                "distance": d[DISTANCE].to_numpy()[unmatched],
                                "match_status": d[STATUS].to_numpy()[unmatched]}), out / "unmatched.csv")
        paths += [out / n for n in ("balance.csv", "pairs.csv", "unmatched.csv")]
    paths += _outcome_outputs(results, out)
    paths += _sensitivity_outputs(results, out)
    return paths


def _sensitivity_outputs(results: Results, out: Path) -> list[Path]:
    """sensitivity.csv (the arm HR by endpoint and method, with E-values), and per endpoint the centres'
    HRs, the design grid and the weighted Kaplan–Meier (every estimand) when they were estimated."""
    if not results.sensitivity:
        return []
    from .sensitivity import sensitivity_table

    paths = [out / "sensitivity.csv"]
    sensitivity_table(results.sensitivity).to_csv(paths[0], index=False)
    for name, s in results.sensitivity.items():
        for key, table in (("sensitivity_centres", None if s.centres is None else s.centres.table),
                           ("sensitivity_design_grid", s.design_grid),
                           ("sensitivity_weighted_km", pd.concat([k.table() for k in s.weighted_km.values()],
                                                                 ignore_index=True) if s.weighted_km else None)):
            if table is not None and len(table):
                path = out / f"{key}_{name}.csv"
                table.to_csv(path, index=False)
                paths.append(path)
    return paths


def _outcome_outputs(results: Results, out: Path) -> list[Path]:
    """Cox and subgroup tables per endpoint and sample, response and AE tables (CSV)."""
    paths: list[Path] = []
    arms = [results.labels["control"], results.labels["treated"]]
    for name, res in results.endpoints.items():
        for sname, c in res.samples.items():
            for key, table in (("cox_univariate", c.univariable), ("cox_multivariate", c.multivariable),
                               ("subgroups", c.subgroups)):
                if table is not None and len(table):
                    path = out / f"{key}_{name}_{sname}.csv"
                    table.to_csv(path, index=False)
                    paths.append(path)
    for sname, r in (results.response or {}).items():
        b = r.best_response
        table = pd.DataFrame({"response": b[("response", "")], **{f"{a} n": b[(a, "n")] for a in arms},
                              **{f"{a} %": b[(a, "pct")] for a in arms}})
        path = out / f"response_{sname}.csv"
        table.to_csv(path, index=False)
        paths.append(path)
    for sname, ae in (results.adverse_events or {}).items():
        path = out / f"adverse_events_{sname}.csv"
        flat_columns(ae.table).to_csv(path, index=False)
        paths.append(path)
    return paths


def flat_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A by-arm table (two-level columns) with one-level names: "term", "<arm> <statistic>"."""
    return df.set_axis([" ".join(p for p in c if p) for c in df.columns], axis=1)
