"""``analyze(config) -> Results``: Table 1, propensity score, matching and balance on an analysis-ready
table, and ``results.json``.

Steps: read the table -> check the config against it -> drop rows with a missing value in an analysed
column (counted and listed, never silently) -> Table 1 before matching -> logistic propensity score
(R glm) -> nearest-neighbour matching (MatchIt) -> balance (MatchIt summary) -> Table 1 after matching.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import InputFileError, read_regular_file
from ..cohort.config import ConfigError
from ..schema.readers import MAX_FILE_BYTES, parquet_problem, workbook_problem
from ..stats.balance import balance_table, balance_terms, matching_weights, sample_sizes
from ..stats.matching import MatchResult, nearest_neighbor
from ..stats.propensity import LogisticFit, design_matrix, logistic_irls
from ..stats.table1 import table1
from .config import AnalysisConfig, load_analysis_config
from .survival import endpoint_results, outcome_tables


@dataclass(frozen=True)
class Results:
    """Everything ``analyze`` computed; ``to_dict()`` is the ``results.json`` contract."""

    config: AnalysisConfig
    data: pd.DataFrame               # analysed rows, with arm label, treated flag, distance, pair
    excluded_missing: pd.DataFrame   # id and the missing columns of each excluded row
    table1_before: pd.DataFrame
    table1_after: pd.DataFrame | None
    propensity: LogisticFit | None
    matching: MatchResult | None
    balance: pd.DataFrame | None
    sample_sizes: pd.DataFrame | None
    labels: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    endpoints: dict = field(default_factory=dict)
    response: dict | None = None
    adverse_events: dict | None = None

    @property
    def matched(self) -> pd.DataFrame:
        return self.data[self.data["pair"].notna()] if "pair" in self.data else self.data.iloc[0:0]

    def to_dict(self) -> dict:
        cfg = self.config
        arm = self.data["arm_label"]
        out: dict = {
            "cohort": {
                "n": int(len(self.data)),
                "n_by_arm": {lab: int((arm == lab).sum()) for lab in self.labels.values()},
                "excluded_missing": {"n": int(len(self.excluded_missing)),
                                     "rows": _records(self.excluded_missing)},
            },
            "table1": {"before": _table_rows(self.table1_before),
                       "after": None if self.table1_after is None else _table_rows(self.table1_after)},
        }
        if self.propensity is not None and self.matching is not None:
            ids = self.data[cfg.id].to_numpy(dtype=object)
            pairs = self.matching.pairs
            out["propensity"] = {
                "coefficients": {k: float(v) for k, v in self.propensity.coefficients.items()},
                "link": cfg.matching.link, "iterations": self.propensity.iterations,
                "converged": self.propensity.converged,
                "caliper_width": self.matching.caliper_width,
            }
            units = self.matching.units
            out["matching"] = {
                "n_pairs": self.matching.n_pairs,
                "pairs": [[_native(ids[a]), _native(ids[b])] for a, b in zip(pairs["treated"], pairs["control"], strict=True)],
                "pair_id": [int(p) for p in pairs["pair"]],
                "unmatched": [{"id": _native(ids[i]), "arm": "treated" if units["treated"].iat[i] else "control",
                               "reason": units["status"].iat[i]} for i in np.flatnonzero(~units["matched"].to_numpy())],
                "sample_sizes": _records(self.sample_sizes),
            }
            out["balance"] = _records(self.balance)
        if self.endpoints:
            out["endpoints"] = self.endpoints
        if self.response is not None:
            out["response"] = self.response
        if self.adverse_events is not None:
            out["adverse_events"] = self.adverse_events
        out["warnings"] = list(self.warnings)
        return _clean(out)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def _native(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _clean(o):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if o is pd.NA or o is pd.NaT:
        return None
    return o


def _records(df: pd.DataFrame | None) -> list[dict]:
    if df is None:
        return []
    return [{k: _native(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


def _table_rows(t: pd.DataFrame) -> list[dict]:
    rows = []
    for r in t.to_dict(orient="records"):
        rows.append({"variable": r["variable"], "level": r["level"], "statistic": r["statistic"],
                     "summaries": r["summary"], "text": {k: r[k] for k in t.columns
                                                         if k not in ("variable", "level", "statistic", "test", "p", "p_text", "smd", "summary")},
                     "test": r["test"], "p": r["p"], "p_text": r["p_text"], "smd": r["smd"]})
    return rows


def load_table(path: Path) -> pd.DataFrame:
    """CSV, Excel (first sheet) or Parquet: a regular file (not a FIFO or device) within the study
    readers' limits (:mod:`hccstudy.schema.readers`), so a bad path cannot hang or fill memory."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm", ".parquet"):
        if not path.exists():
            raise ConfigError(f"data: file not found: {path}")
        raise ConfigError(f"data: unsupported file type {suffix!r} (use .csv, .xlsx or .parquet)")
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except InputFileError as exc:
        raise ConfigError(f"data: {exc}: {path}") from exc
    problem = workbook_problem(data) if suffix in (".xlsx", ".xlsm") else parquet_problem(data) if suffix == ".parquet" else None
    if problem:
        raise ConfigError(f"data: cannot read {path}: {problem}")
    try:
        if suffix == ".csv":
            return pd.read_csv(io.BytesIO(data))
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(io.BytesIO(data))
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # a file we cannot parse is a user error, not a crash
        raise ConfigError(f"data: cannot read {path}: {str(exc)[:500]}") from exc


def _match_value(col: pd.Series, value, key: str):
    """The value of ``col`` equal to the config's value (YAML may give 2 where the column holds '2')."""
    vals = pd.unique(col.dropna())
    for v in vals:
        if v == value or str(v) == str(value):
            return v
    shown = ", ".join(str(v) for v in sorted(vals.tolist(), key=str)[:10])
    raise ConfigError(f"{key}: value {value!r} not found in column {col.name!r} (values: {shown})")


def prepare(cfg: AnalysisConfig, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Check the config against the table; returns (analysed rows, excluded rows, labels by arm)."""
    cols = set(df.columns)
    for key, names in [("id", [cfg.id]), ("arm.column", [cfg.arm.column]), ("covariates", cfg.covariates),
                       ("categorical", cfg.categorical), ("nonnormal", cfg.nonnormal),
                       ("matching.on", cfg.matching.on if cfg.matching else []),
                       ("table1.exact", cfg.table1.exact)]:
        unknown = [c for c in names if c not in cols]
        if unknown:
            raise ConfigError(f"{key}: unknown column(s) {unknown} (the table has {len(cols)} columns)")
    for key, names in [("categorical", cfg.categorical), ("nonnormal", cfg.nonnormal)]:
        stray = [c for c in names if c not in cfg.covariates and not (cfg.matching and c in cfg.matching.on)]
        if stray:
            raise ConfigError(f"{key}: {stray} not in covariates or matching.on")
    overlap = set(cfg.categorical) & set(cfg.nonnormal)
    if overlap:
        raise ConfigError(f"nonnormal: {sorted(overlap)} declared categorical too")
    if df[cfg.id].isna().any() or df[cfg.id].duplicated().any():
        dup = df[cfg.id][df[cfg.id].duplicated()].head(5).tolist()
        raise ConfigError(f"id: column {cfg.id!r} must be unique and complete (duplicates: {dup})")
    arm = df[cfg.arm.column]
    treated = _match_value(arm, cfg.arm.treated, "arm.treated")
    control = _match_value(arm, cfg.arm.control, "arm.control")
    if treated == control:
        raise ConfigError("arm.control: the same value as arm.treated")
    other = arm.notna() & ~arm.isin([treated, control])
    if other.any():
        vals = sorted({str(v) for v in arm[other]})
        raise ConfigError(f"arm.column: {cfg.arm.column!r} is not binary: values {vals} are neither arm.treated "
                          f"nor arm.control")
    labels = {"treated": str(cfg.arm.labels.get(cfg.arm.treated, cfg.arm.labels.get(treated, treated))),
              "control": str(cfg.arm.labels.get(cfg.arm.control, cfg.arm.labels.get(control, control)))}
    sub_vars = [sg if isinstance(sg, str) else sg.variable for sg in cfg.subgroups]
    ep_cols = [c for ep in cfg.endpoints for c in (ep.time, ep.event)]
    cox_vars = [v for v in cfg.cox.variables if v != cfg.arm.column]
    for key, names in [("endpoints", ep_cols), ("cox.variables", cox_vars), ("subgroups", sub_vars),
                       ("response.column", [cfg.response.column] if cfg.response else []),
                       ("adverse_events.columns", cfg.adverse_events.columns or [] if cfg.adverse_events else [])]:
        unknown = [c for c in names if c not in cols]
        if unknown:
            raise ConfigError(f"{key}: unknown column(s) {unknown}")
    for ep in cfg.endpoints:
        t = pd.to_numeric(df[ep.time], errors="coerce")
        if (t.dropna() < 0).any():
            raise ConfigError(f"endpoints.{ep.name}.time: negative times in column {ep.time!r}")
        if df[ep.time].notna().any() and t.isna().sum() > df[ep.time].isna().sum():
            raise ConfigError(f"endpoints.{ep.name}.time: column {ep.time!r} is not numeric")
    used = list(dict.fromkeys([cfg.arm.column, *cfg.covariates, *(cfg.matching.on if cfg.matching else []),
                               *ep_cols, *cox_vars, *sub_vars]))
    miss = df[used].isna()
    bad = miss.any(axis=1).to_numpy()
    excluded = pd.DataFrame({
        cfg.id: df.loc[bad, cfg.id].to_numpy(),
        "missing": [",".join(np.array(used)[m]) for m in miss.to_numpy()[bad]],
    })
    data = df.loc[~bad].reset_index(drop=True).copy()
    data["treated"] = (data[cfg.arm.column] == treated).to_numpy()
    data["arm_label"] = np.where(data["treated"], labels["treated"], labels["control"])
    if data["treated"].sum() == 0 or (~data["treated"]).sum() == 0:
        raise ConfigError("arm: after excluding rows with missing values one arm is empty")
    for c in cfg.categorical:
        if data[c].nunique() < 2:
            raise ConfigError(f"categorical: {c!r} has a single level ({data[c].iloc[0]!r}) in the analysed rows")
    return data, excluded, labels


def analyze(config: AnalysisConfig | str | Path | dict, data: pd.DataFrame | None = None) -> Results:
    """Run the generic analysis (see module docstring).  ``data``: the table itself (then the config's
    ``data`` path is only a label), e.g. the derived analysis table of a study."""
    cfg = config if isinstance(config, AnalysisConfig) else load_analysis_config(config)
    df = load_table(cfg.data_path) if data is None else data
    data, excluded, labels = prepare(cfg, df)
    order = [labels["control"], labels["treated"]]
    t1_before = table1(data, "arm_label", cfg.covariates, groups=order, categorical=cfg.categorical,
                       nonnormal=cfg.nonnormal, options=cfg.table1)
    if cfg.matching is None:
        samples = {"full": data}
        eps = endpoint_results(cfg, samples, labels)
        resp, ae = outcome_tables(cfg, samples, labels)
        return Results(cfg, data, excluded, t1_before, None, None, None, None, None, labels, [], eps, resp, ae)
    m = cfg.matching
    treated = data["treated"].to_numpy()
    X, names, _ = design_matrix(data, m.on, [c for c in cfg.categorical if c in m.on])
    with warnings.catch_warnings(record=True) as caught:  # glm.fit's warnings go into the results
        warnings.simplefilter("always")
        fit = logistic_irls(X, treated, names)
    notes = [f"propensity score: {w.message}" for w in caught]
    distance = fit.fitted if m.link == "logit" else fit.linear_predictor
    match = nearest_neighbor(distance, treated, caliper=m.caliper, std_caliper=m.std_caliper, ratio=m.ratio,
                             order=m.order, discard=m.discard, ties=m.ties, seed=m.seed)
    if match.n_pairs == 0:
        raise ConfigError(f"matching.caliper: no treated unit has a control within the caliper "
                          f"(width {match.caliper_width:.3g} on the {m.link} scale); widen it or omit it")
    data["distance"] = distance
    data["pair"] = match.units["pair"].to_numpy()
    data["match_status"] = match.units["status"].to_numpy()
    w = matching_weights(treated, data["pair"].to_numpy())
    data["weight"] = w
    terms = balance_terms(data, m.on, [c for c in cfg.categorical if c in m.on])
    bal = balance_table(terms, treated, w, distance)
    sizes = sample_sizes(treated, match.units["matched"].to_numpy(), match.units["discarded"].to_numpy())
    matched = data[match.units["matched"].to_numpy()]
    t1_after = table1(matched, "arm_label", cfg.covariates, groups=order, categorical=cfg.categorical,
                      nonnormal=cfg.nonnormal, options=cfg.table1)
    samples = {"full": data, "matched": matched}
    eps = endpoint_results(cfg, samples, labels)
    resp, ae = outcome_tables(cfg, samples, labels)
    return Results(cfg, data, excluded, t1_before, t1_after, fit, match, bal, sizes, labels, notes, eps, resp, ae)

