"""Write the results of :func:`hccstudy.analysis.analyze` into a folder."""

from __future__ import annotations

from pathlib import Path

from ..report.figures import love_plot, ps_plot
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
    return paths
