"""``analyze(config) -> Results``: Table 1, propensity score, matching and balance on an analysis-ready
table, and ``results.json``.

Steps: read the table -> check the config against it -> drop rows with a missing value in an analysed
column (counted and listed, never silently) -> Table 1 before matching -> logistic propensity score
(R glm) -> nearest-neighbour matching (MatchIt) -> balance (MatchIt summary) -> Table 1 after matching.

What ``analyze`` adds to the rows lives in its own namespace (:mod:`hccstudy.analysis.columns`,
prefix ``.hcc_``): the user's columns are never overwritten, whatever their names.

Data that cannot support the analysis raise :class:`AnalysisError` (a :class:`ConfigError`: exit 2)
saying why in the study's terms.  Where only a part cannot be estimated (an endpoint without events, a
Cox model that cannot be fitted, matched-sample outcomes that would need weights), the rest is
reported and ``Results.skipped`` / ``results.json["skipped"]`` say what was left out and why.
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
import pyarrow.parquet as pq

from .._files import InputFileError, read_regular_file
from .._yaml import ConfigError
from ..schema.readers import MAX_FILE_BYTES, parquet_problem, workbook_problem
from ..stats.balance import balance_table, balance_terms, sample_sizes
from ..stats.matching import MatchResult, match_by_spec
from ..stats.propensity import LogisticFit, design_matrix, logistic_irls
from ..stats.table1 import table1
from .columns import ARM, DISTANCE, PAIR, PREFIX, STATUS, TREATED, WEIGHT
from .config import AnalysisConfig, load_analysis_config
from .jsontext import Placeholders, column_values, frame_text, list_text, rows_text
from .records import AdverseEventSummary, EndpointResult, ResponseSummary, frame_records, native
from .sensitivity import EndpointSensitivity, check_columns, sensitivity_analyses
from .survival import endpoint_results, outcome_tables


class AnalysisError(ConfigError):
    """The data cannot support the analysis asked for (nothing left to compare, an arm empty, a model
    that cannot be estimated on the whole analysis).  A user-data problem: exit 2, no traceback."""


@dataclass(frozen=True)
class Results:
    """Everything ``analyze`` computed; ``to_dict()`` is the ``results.json`` contract."""

    config: AnalysisConfig
    data: pd.DataFrame               # analysed rows: the user's columns + hccstudy's ``.hcc_*`` columns
    excluded_missing: pd.DataFrame   # id and the missing columns of each excluded row
    table1_before: pd.DataFrame
    table1_after: pd.DataFrame | None
    propensity: LogisticFit | None
    matching: MatchResult | None
    balance: pd.DataFrame | None
    sample_sizes: pd.DataFrame | None
    labels: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    endpoints: dict[str, EndpointResult] = field(default_factory=dict)
    response: dict[str, ResponseSummary] | None = None          # by sample
    adverse_events: dict[str, AdverseEventSummary] | None = None  # by sample
    skipped: list[dict] = field(default_factory=list)   # {"part", "reason"}: what was not estimated
    sensitivity: dict[str, EndpointSensitivity] = field(default_factory=dict)  # by endpoint (plan key sensitivity)

    @property
    def matched(self) -> pd.DataFrame:
        """The matched sample: rows with a matching weight > 0."""
        return self.data[self.data[WEIGHT] > 0] if WEIGHT in self.data else self.data.iloc[0:0]

    def to_dict(self) -> dict:
        """``results.json`` as Python objects (exactly what :meth:`to_json` writes, read back)."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """The text of ``results.json``.  The large per-patient tables (matched pairs, pair ids, unmatched
        units, rows excluded for missing values) are written from their columns
        (:mod:`hccstudy.analysis.jsontext`); the rest goes through ``json.dumps`` as before, so the text is
        the same as encoding the whole document with ``json.dumps(indent=1)``."""
        tables = Placeholders()
        text = json.dumps(_clean(self._document(tables)), indent=1, ensure_ascii=False, allow_nan=False)
        return tables.fill(text) + "\n"

    def counts(self) -> dict:
        """n analysed, n by arm label and n excluded for missing values (the CLI's summary line)."""
        arm = self.data[ARM]
        return {"n": int(len(self.data)), "n_by_arm": {lab: int((arm == lab).sum()) for lab in self.labels.values()},
                "n_excluded_missing": int(len(self.excluded_missing))}

    def _document(self, tables: Placeholders) -> dict:
        """The results.json document, each large table a placeholder that ``tables`` renders."""
        cfg = self.config
        c = self.counts()
        excluded = self.excluded_missing
        out: dict = {
            "cohort": {
                "n": c["n"],
                "n_by_arm": c["n_by_arm"],
                "excluded_missing": {"n": c["n_excluded_missing"],
                                     "rows": tables.mark(lambda depth: frame_text(excluded, depth))},
            },
            "table1": {"before": _table_rows(self.table1_before),
                       "after": None if self.table1_after is None else _table_rows(self.table1_after)},
        }
        if self.propensity is not None and self.matching is not None:
            ids = self.data[cfg.id].to_numpy()
            pairs = self.matching.pairs
            out["propensity"] = {
                "coefficients": {k: float(v) for k, v in self.propensity.coefficients.items()},
                "link": cfg.matching.link, "iterations": self.propensity.iterations,
                "converged": self.propensity.converged,
                "caliper_width": self.matching.caliper_width,
            }
            units = self.matching.units
            pair_cols = [column_values(ids[pairs["treated"].to_numpy()]), column_values(ids[pairs["control"].to_numpy()])]
            pair_id = pairs["pair"].to_numpy().astype(np.int64).tolist()
            lone = np.flatnonzero(~units["matched"].to_numpy())
            lone_cols = [column_values(ids[lone]),
                         np.where(units["treated"].to_numpy()[lone], "treated", "control").tolist(),
                         column_values(units["status"].to_numpy()[lone])]
            out["matching"] = {
                "n_pairs": self.matching.n_pairs,
                "ratio": cfg.matching.ratio, "replace": cfg.matching.replace,
                "n_matches": int(len(pairs)),
                "weights_uniform": _uniform(self.matching.weights),
                "pairs": tables.mark(lambda depth: rows_text(pair_cols, depth)),
                "pair_id": tables.mark(lambda depth: list_text(pair_id, depth)),
                "unmatched": tables.mark(lambda depth: rows_text(lone_cols, depth, ("id", "arm", "reason"))),
                "sample_sizes": frame_records(self.sample_sizes),
                "notes": list(self.matching.warnings),
            }
            out["balance"] = frame_records(self.balance)
        if self.endpoints:
            out["endpoints"] = {k: v.to_dict() for k, v in self.endpoints.items()}
            for k, sens in self.sensitivity.items():  # endpoints.<name>.sensitivity.<method>, then its blocks
                out["endpoints"][k].update(sens.to_dict())
        if self.response is not None:
            out["response"] = {k: v.to_dict() for k, v in self.response.items()}
        if self.adverse_events is not None:
            out["adverse_events"] = {k: v.to_dict() for k, v in self.adverse_events.items()}
        out["skipped"] = list(self.skipped)
        out["warnings"] = list(self.warnings)
        return out


def _uniform(w: np.ndarray) -> bool:
    """All matched units weigh 1 (1:1, or 1:k with every set complete, without reuse)."""
    m = w[w > 0]
    return bool(len(m)) and bool(np.allclose(m, 1.0, rtol=1e-12, atol=0))


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


def _missing_lists(miss: np.ndarray, names: list[str]) -> np.ndarray:
    """Per row of the boolean matrix ``miss``, the names of its True columns joined by commas: one join per
    distinct pattern of missing columns (a handful), not per row."""
    if len(miss) == 0:
        return np.array([], dtype=object)
    patterns, inverse = np.unique(miss, axis=0, return_inverse=True)
    text = np.array([",".join(np.array(names)[p]) for p in patterns], dtype=object)
    return text[inverse.reshape(-1)]


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
            header = pd.read_csv(io.BytesIO(data), header=None, nrows=1, dtype=str).iloc[0].tolist()
            table = pd.read_csv(io.BytesIO(data))
        elif suffix in (".xlsx", ".xlsm"):
            header = pd.read_excel(io.BytesIO(data), header=None, nrows=1, dtype=str).iloc[0].tolist()
            table = pd.read_excel(io.BytesIO(data))
        else:
            header = pq.read_schema(io.BytesIO(data)).names
            table = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # a file we cannot parse is a user error, not a crash
        raise ConfigError(f"data: cannot read {path}: {str(exc)[:500]}") from exc
    # pandas renames a repeated header 'x' to 'x.1' silently: a second copy must be an error instead
    names = [str(h) for h in header if not pd.isna(h)]  # blank header cells are pandas' "Unnamed: k"
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"data: {path}: column(s) {', '.join(repr(n) for n in repeated)} appear more than once "
                          "in the header; give each column one name")
    if len(table) == 0:
        raise ConfigError(f"data: {path} has no rows (a header only): nothing to analyse")
    return table


def _match_value(col: pd.Series, value, key: str):
    """The value of ``col`` equal to the config's value (YAML may give 2 where the column holds '2')."""
    vals = pd.unique(col.dropna())
    for v in vals:
        if _same(v, value):
            return v
    shown = ", ".join(str(v) for v in sorted(vals.tolist(), key=str)[:10])
    raise ConfigError(f"{key}: value {value!r} not found in column {col.name!r} (values: {shown})")


def _same(v, value) -> bool:
    return v == value or str(v) == str(value)


def _check_two_arms(cfg: AnalysisConfig, arm: pd.Series) -> None:
    """Both arms present; when the column holds only one of them, say so in the study's terms."""
    vals = pd.unique(arm.dropna()).tolist()
    if not vals:
        raise AnalysisError(f"arm.column: nothing to analyse: column {arm.name!r} has no values ({len(arm)} rows)")
    has_t = any(_same(v, cfg.arm.treated) for v in vals)
    has_c = any(_same(v, cfg.arm.control) for v in vals)
    only_one = all(_same(v, cfg.arm.treated) or _same(v, cfg.arm.control) for v in vals)
    if only_one and not (has_t and has_c):
        present, absent, key = ((cfg.arm.treated, cfg.arm.control, "arm.control") if has_t
                                else (cfg.arm.control, cfg.arm.treated, "arm.treated"))
        raise AnalysisError(f"{key}: cannot compare the arms: all {int(arm.notna().sum())} patient(s) are in arm "
                            f"{present!r}; no patient has {arm.name!r} = {absent!r}")


def _check_endpoints(cfg: AnalysisConfig, df: pd.DataFrame) -> None:
    for ep in cfg.endpoints:
        t = pd.to_numeric(df[ep.time], errors="coerce")
        if df[ep.time].notna().any() and t.isna().sum() > df[ep.time].isna().sum():
            raise ConfigError(f"endpoints.{ep.name}.time: column {ep.time!r} is not numeric")
        bad = t.notna() & ~np.isfinite(t.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            rows = [native(v) for v in df.loc[bad, cfg.id].head(5)]
            raise ConfigError(f"endpoints.{ep.name}.time: column {ep.time!r} has infinite times "
                              f"({int(bad.sum())} row(s), {cfg.id} {rows}); a time must be a finite number")
        if (t.dropna() < 0).any():
            rows = [native(v) for v in df.loc[t < 0, cfg.id].head(5)]
            raise ConfigError(f"endpoints.{ep.name}.time: negative times in column {ep.time!r} ({cfg.id} {rows})")


def prepare(cfg: AnalysisConfig, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Check the config against the table; returns (analysed rows with the ``.hcc_`` columns, excluded
    rows, labels by arm)."""
    reserved = [c for c in df.columns if str(c).startswith(PREFIX)]
    if reserved:
        raise ConfigError(f"data: column(s) {reserved} start with {PREFIX!r}, the prefix of hccstudy's own columns "
                          f"(docs/analyze.md); rename them")
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
    for key, names in [("covariates", cfg.covariates), ("matching.on", cfg.matching.on if cfg.matching else [])]:
        if cfg.id in names:
            raise ConfigError(f"{key}: {cfg.id!r} is the id column (one value per patient): it cannot be a covariate")
        if cfg.arm.column in names:
            raise ConfigError(f"{key}: {cfg.arm.column!r} is the arm column: it cannot be a covariate")
    if len(df) == 0:
        raise AnalysisError("nothing to analyse: the table has no patients (0 rows)")
    if df[cfg.id].isna().any() or df[cfg.id].duplicated().any():
        dup = df[cfg.id][df[cfg.id].duplicated()].head(5).tolist()
        raise ConfigError(f"id: column {cfg.id!r} must be unique and complete (duplicates: {dup})")
    arm = df[cfg.arm.column]
    _check_two_arms(cfg, arm)
    treated = _match_value(arm, cfg.arm.treated, "arm.treated")
    control = _match_value(arm, cfg.arm.control, "arm.control")
    if treated == control:
        raise ConfigError("arm.control: the same value as arm.treated")
    other = arm.notna() & ~arm.isin([treated, control])
    if other.any():
        vals = sorted({str(v) for v in arm[other]})
        raise ConfigError(f"arm.column: {cfg.arm.column!r} is not binary: values {vals} are neither arm.treated "
                          f"nor arm.control")
    def label(value, actual) -> str:  # YAML may key the labels by 2 where the column holds '2', or vice versa
        return next((str(v) for k, v in cfg.arm.labels.items() if _same(k, value) or _same(k, actual)), str(actual))

    labels = {"treated": label(cfg.arm.treated, treated), "control": label(cfg.arm.control, control)}
    if labels["treated"] == labels["control"]:
        raise ConfigError(f"arm.labels: both arms are labelled {labels['treated']!r}")
    sub_vars = [sg if isinstance(sg, str) else sg.variable for sg in cfg.subgroups]
    ep_cols = [c for ep in cfg.endpoints for c in (ep.time, ep.event)]
    cox_vars = [v for v in cfg.cox.variables if v != cfg.arm.column]
    for key, names in [("endpoints", ep_cols), ("cox.variables", cox_vars), ("subgroups", sub_vars),
                       ("response.column", [cfg.response.column] if cfg.response else []),
                       ("adverse_events.columns", cfg.adverse_events.columns or [] if cfg.adverse_events else [])]:
        unknown = [c for c in names if c not in cols]
        if unknown:
            raise ConfigError(f"{key}: unknown column(s) {unknown}")
    _check_endpoints(cfg, df)
    check_columns(cfg, df)
    used = list(dict.fromkeys([cfg.arm.column, *cfg.covariates, *(cfg.matching.on if cfg.matching else []),
                               *ep_cols, *cox_vars, *sub_vars]))
    miss = df[used].isna()
    bad = miss.any(axis=1).to_numpy()
    excluded = pd.DataFrame({
        cfg.id: df.loc[bad, cfg.id].to_numpy(),
        "missing": _missing_lists(miss.to_numpy()[bad], used),
    })
    data = df.loc[~bad].reset_index(drop=True).copy()
    is_treated = (data[cfg.arm.column] == treated).to_numpy()
    data[TREATED] = is_treated
    data[ARM] = np.where(is_treated, labels["treated"], labels["control"])
    n_t, n_c = int(is_treated.sum()), int((~is_treated).sum())
    why = f" after excluding {int(bad.sum())} patient(s) with a missing value (excluded_missing)" if bad.any() else ""
    if n_t + n_c == 0:
        raise AnalysisError(f"nothing to analyse: every patient has a missing value in an analysed column{why}")
    if n_t == 0 or n_c == 0:
        empty = labels["treated"] if n_t == 0 else labels["control"]
        raise AnalysisError(f"arm: cannot compare the arms: arm {empty!r} has no patients{why} "
                            f"({labels['treated']} {n_t}, {labels['control']} {n_c})")
    for c in cfg.categorical:
        if data[c].nunique() < 2:
            raise ConfigError(f"categorical: {c!r} has a single level ({data[c].iloc[0]!r}) in the analysed rows")
    return data, excluded, labels


def _propensity(data: pd.DataFrame, cfg: AnalysisConfig, treated: np.ndarray) -> tuple[LogisticFit, list[str]]:
    """The logistic propensity score, or an :class:`AnalysisError` saying why it cannot be estimated."""
    m = cfg.matching
    X, names, _ = design_matrix(data, m.on, [c for c in cfg.categorical if c in m.on])
    n, p = X.shape
    if n <= p:
        raise AnalysisError(f"matching.on: the propensity score cannot be estimated: {p} coefficients "
                            f"({', '.join(names)}) from {n} patients; use fewer variables or more patients")
    with warnings.catch_warnings(record=True) as caught:  # glm.fit's warnings go into the results
        warnings.simplefilter("always")
        try:
            fit = logistic_irls(X, treated, names)
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. collinear variables
            raise AnalysisError(f"matching.on: the propensity score cannot be estimated: {exc}") from exc
    if not np.isfinite(fit.fitted).all():
        raise AnalysisError("matching.on: the propensity score cannot be estimated (the fit diverged)")
    return fit, [f"propensity score: {w.message}" for w in caught]


def analyze(config: AnalysisConfig | str | Path | dict, data: pd.DataFrame | None = None, *,
            supplement: pd.DataFrame | None = None) -> Results:
    """Run the generic analysis (see module docstring).  ``data``: the table itself (then the config's
    ``data`` path is only a label), e.g. the derived analysis table of a study; it is never modified.
    ``supplement``: rows left out of ``data`` upstream because a baseline value is missing (a study's
    ``complete_data`` criterion), with the same columns: only the multiple-imputation sensitivity
    analysis (``mi_psm``) reads them, as it reads the rows ``analyze`` itself excludes for missing values."""
    cfg = config if isinstance(config, AnalysisConfig) else load_analysis_config(config)
    df = load_table(cfg.data_path) if data is None else data
    original = df if supplement is None or not len(supplement) else pd.concat([df, supplement], ignore_index=True)
    data, excluded, labels = prepare(cfg, df)
    order = [labels["control"], labels["treated"]]
    t1_before = table1(data, ARM, cfg.covariates, groups=order, categorical=cfg.categorical,
                       nonnormal=cfg.nonnormal, options=cfg.table1)
    skipped: list[dict] = []
    if cfg.matching is None:
        samples = {"full": data}
        eps = endpoint_results(cfg, samples, labels, skipped)
        resp, ae = outcome_tables(cfg, samples, labels)
        sens = sensitivity_analyses(cfg, data, labels, None, skipped, original=original, excluded=excluded)
        return Results(cfg, data, excluded, t1_before, None, None, None, None, None, labels, [], eps, resp, ae,
                       skipped, sens)
    m = cfg.matching
    treated = data[TREATED].to_numpy()
    fit, notes = _propensity(data, cfg, treated)
    distance = fit.distance(m.link)
    try:
        match = match_by_spec(distance, treated, m)
    except ValueError as exc:
        raise AnalysisError(f"matching: {exc}") from exc
    if match.n_pairs == 0:
        width = "" if match.caliper_width is None else f" (width {match.caliper_width:.3g} on the {m.link} scale)"
        raise AnalysisError(f"matching.caliper: no treated unit has a control within the caliper{width}; "
                            f"widen it or omit it" if match.caliper_width is not None else
                            "matching: no treated unit could be matched (every unit discarded?)")
    notes += [f"matching: {w}" for w in match.warnings]
    is_matched = match.units["matched"].to_numpy()
    data[DISTANCE] = distance
    data[WEIGHT] = match.weights
    data[PAIR] = match.units["pair"].to_numpy()
    data[STATUS] = match.units["status"].to_numpy()
    terms = balance_terms(data, m.on, [c for c in cfg.categorical if c in m.on])
    bal = balance_table(terms, treated, match.weights, distance,
                        pairs=(match.pairs["treated"].to_numpy(), match.pairs["control"].to_numpy()))
    sizes = sample_sizes(treated, is_matched, match.units["discarded"].to_numpy(), match.weights)
    matched = data[is_matched]
    samples = {"full": data}
    t1_after = None
    if _uniform(match.weights) and data.loc[is_matched, PAIR].notna().all():  # 1:1 or complete 1:k, no reuse
        t1_after = table1(matched, ARM, cfg.covariates, groups=order, categorical=cfg.categorical,
                          nonnormal=cfg.nonnormal, options=cfg.table1)
        samples["matched"] = matched
    else:
        why = ("matching with replacement" if m.replace else f"1:{m.ratio} matching with sets of unequal size") + \
              ": the matched units carry unequal matching weights (MatchIt's), and weighted Table 1, " \
              "Kaplan-Meier and Cox are not implemented"
        skipped.append({"part": "matched sample: Table 1 after matching, outcomes, Cox, subgroups, response, "
                                "adverse events", "reason": why + "; balance after matching is weighted and reported"})
    eps = endpoint_results(cfg, samples, labels, skipped)
    resp, ae = outcome_tables(cfg, samples, labels)
    sens = sensitivity_analyses(cfg, data, labels, fit, skipped, original=original, excluded=excluded)
    return Results(cfg, data, excluded, t1_before, t1_after, fit, match, bal, sizes, labels, notes, eps, resp, ae,
                   skipped, sens)
