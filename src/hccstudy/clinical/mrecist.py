"""mRECIST tumour response for HCC: per time point, overall, best overall response, ORR and DCR.

Source: Lencioni R, Llovet JM, Semin Liver Dis 2010;30:52–60 (mRECIST); RECIST 1.1 (Eisenhauer EA et al.,
Eur J Cancer 2009) for best overall response and confirmation; ``docs/spec/clinical-rules.md`` section 5.

Only the viable (arterially enhancing) longest diameter counts.  Target response at each scan, with
integer arithmetic on millimetres (no float edges):

* CR: sum of viable diameters (SoD) of the baseline target lesions is 0
* PD: 10·SoD ≥ 12·nadir (≥ 20 % above the smallest SoD so far, baseline included); optional +5 mm
  absolute rule (RECIST 1.1, off by default as in mRECIST)
* PR: 10·SoD ≤ 7·baseline (≥ 30 % below baseline)
* SD: otherwise; NE when a baseline target lesion was not measured at that scan, unless the measured
  targets alone already reach PD (a missing diameter can only add to the sum).

Target lesions are the centre-labelled targets measurable at baseline (viable diameter ≥
``measurable_min_mm``, 10 mm).  A labelled target under 10 mm is non-target (mRECIST: lesions < 1 cm are
non-target) and is followed as a non-target lesion; without a recorded non-target status its viable
diameter gives it (0 mm: CR, > 0 mm: IR/SD, not measured: NE).  Baseline targets 50 + 8 mm, follow-up
34 + 8 mm: SoD 50 -> 34 (−32 %, PR), not 58 -> 42 (−27.6 %, SD).

Overall response combines target, non-target (CR / IR_SD / PD) and new lesions per the mRECIST table.
A new lesion counts once it is ≥ ``new_lesion_min_mm`` (default 10 mm; a new lesion with no diameter
recorded is taken as unequivocal) and PD is backdated to the first scan that showed it.

Best overall response (BOR) uses the time points up to and including the first PD.  With
confirmation (default), CR/PR needs a later assessment ≥ ``confirm_days`` after one showing at least the
same response (so CR then PR 6 weeks later is a confirmed PR); an unconfirmed response falls back to SD
when SD's minimum duration from the origin (``sd_min_days``) is met, otherwise PD or NE.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

import numpy as np
import pandas as pd

from .._ranges import NUMBER, Interval

Days = Annotated[int, Interval(ge=1, le=365), NUMBER]
Mm = Annotated[int, Interval(ge=1, le=100), NUMBER]

RANK = {"CR": 4, "PR": 3, "SD": 2, "PD": 1, "NE": 0}
RESPONSES = ["CR", "PR", "SD", "PD", "NE"]


@dataclass(frozen=True)
class MrecistOptions:
    """mRECIST options (config key ``mrecist``; see docs/config.md)."""

    __pydantic_config__ = {"extra": "forbid"}  # noqa: RUF012 -- read by pydantic when used in the study config

    confirm: bool = True
    confirm_days: Days = 28
    sd_min_days: Days = 42
    pd_absolute_mm: Mm | None = None
    new_lesion_min_mm: Mm = 10
    baseline_window_days: Days = 60
    measurable_min_mm: Mm = 10


# --------------------------------------------------------------------------- single-patient helpers
def target_response(sod: np.ndarray, baseline: np.ndarray, nadir: np.ndarray,
                    pd_absolute_mm: int | None = None) -> np.ndarray:
    """Target response from integer SoD, baseline SoD and nadir (vectorised; mm as integers)."""
    sod = np.asarray(sod, dtype=np.int64)
    baseline = np.asarray(baseline, dtype=np.int64)
    nadir = np.asarray(nadir, dtype=np.int64)
    pd_ = 10 * sod >= 12 * nadir
    if pd_absolute_mm is not None:
        pd_ &= (sod - nadir) >= pd_absolute_mm
    pr = 10 * sod <= 7 * baseline
    return np.where(sod == 0, "CR", np.where(pd_, "PD", np.where(pr, "PR", "SD"))).astype(object)


def overall_response(target, non_target, new_lesion) -> np.ndarray:
    """mRECIST overall response per time point.

    ``target``: CR/PR/SD/PD/NE; ``non_target``: CR/IR_SD/PD/NE or ``none`` (no non-target lesions);
    ``new_lesion``: bool.
    """
    t = np.asarray(target, dtype=object)
    nt = np.asarray(non_target, dtype=object)
    new = np.asarray(new_lesion, dtype=bool)
    out = np.where(t == "CR", np.where(np.isin(nt, ["CR", "none"]), "CR", "PR"), t).astype(object)
    out[(t == "NE")] = "NE"
    out[(t == "PD") | (nt == "PD") | new] = "PD"
    return out


def best_overall_response(
    dates: pd.Series, responses: pd.Series, origin: pd.Timestamp, options: MrecistOptions = MrecistOptions()
) -> str:
    """BOR of one patient (convenience wrapper of :func:`best_overall_responses`)."""
    df = pd.DataFrame({"pid": 0, "date": pd.to_datetime(dates), "response": list(responses)})
    o = pd.Series([pd.Timestamp(origin)], index=pd.Index([0], name="pid"))
    return str(best_overall_responses(df, o, ["pid"], options).iloc[0])


def best_overall_responses(
    tp: pd.DataFrame, origin: pd.Series, keys: list[str], options: MrecistOptions = MrecistOptions()
) -> pd.Series:
    """BOR per patient from time-point responses ``tp`` (keys, date, response); ``origin`` is indexed by keys.

    Patients in ``origin`` without any time point get NE.
    """
    return _bor_of(_bor_time_points(tp, origin, keys), origin, keys, options)


def _bor_time_points(tp: pd.DataFrame, origin: pd.Series, keys: list[str]) -> pd.DataFrame:
    """The time points that count for the BOR (each patient's, in date order, up to and including the
    first PD), with their response rank and days from ``origin``: the part of
    :func:`best_overall_responses` that does not depend on the options, computed once for the
    confirmed and the unconfirmed BOR."""
    tp = tp.sort_values([*keys, "date"], kind="stable")
    rank = tp["response"].map(RANK).to_numpy()
    is_pd = rank == RANK["PD"]
    # keep time points up to and including the first PD
    seen_pd = pd.Series(is_pd.astype(int), index=tp.index).groupby([tp[k] for k in keys], sort=False).cumsum()
    before = (seen_pd - is_pd) == 0
    tp = tp.loc[before.to_numpy()].assign(rank=rank[before.to_numpy()])
    org = origin.reindex(pd.MultiIndex.from_frame(tp[keys]) if len(keys) > 1 else pd.Index(tp[keys[0]]))
    tp["days"] = (tp["date"].to_numpy() - org.to_numpy()).astype("timedelta64[D]").astype(float)
    return tp


def _bor_of(tp: pd.DataFrame, origin: pd.Series, keys: list[str], options: MrecistOptions) -> pd.Series:
    """BOR per patient of ``origin`` from :func:`_bor_time_points`."""

    def confirmed(level: int) -> pd.Series:
        sub = tp[tp["rank"] >= level]
        if sub.empty:
            return pd.Series(dtype=bool)
        span = sub.groupby(keys, sort=False)["date"].agg(["min", "max"])
        if not options.confirm:
            return pd.Series(True, index=span.index)
        return (span["max"] - span["min"]).dt.days >= options.confirm_days

    cr = confirmed(RANK["CR"])
    pr = confirmed(RANK["PR"])
    sd_ok = tp[(tp["rank"] >= RANK["SD"]) & (tp["days"] >= options.sd_min_days)].groupby(keys, sort=False).size() > 0
    any_pd = (tp["rank"] == RANK["PD"]).groupby([tp[k] for k in keys], sort=False).any()

    idx = origin.index
    bor = pd.Series("NE", index=idx, dtype=object)
    for series, label in ((any_pd, "PD"), (sd_ok, "SD"), (pr, "PR"), (cr, "CR")):
        s = series[series] if len(series) else series
        hit = idx.isin(s.index)
        bor[hit] = label
    return bor.astype("string")


# --------------------------------------------------------------------------- whole-study derivation
def assess_responses(
    assessments: pd.DataFrame,
    origin: pd.Series,
    keys: list[str],
    options: MrecistOptions = MrecistOptions(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Derive mRECIST time-point responses and per-patient summaries.

    ``assessments``: keys + date, lesion_id, lesion_type (target/non_target/new), viable_diameter_mm,
    non_target_status.  ``origin``: time origin (first HAIC) indexed by keys.

    Returns ``(timepoints, per_patient)``.  ``timepoints``: keys, date, sod, baseline_sod, nadir,
    target, non_target, new_lesion, overall.  ``per_patient`` (indexed by keys, one row per patient of
    ``origin``): baseline_date, baseline_sod, measurable, bor, bor_unconfirmed, first_pd_date,
    last_assessment_date (last evaluable post-baseline scan up to the first PD), n_assessments.
    """
    # only the columns used: every filter below copies the rows of each column it carries
    used = [*keys, "date", "lesion_id", "lesion_type", "viable_diameter_mm", "non_target_status"]
    a = assessments[[c for c in dict.fromkeys(used) if c in assessments]].dropna(subset=[*keys, "date", "lesion_id"])
    if a.empty:  # no imaging at all: every patient NE, no time points
        return _no_assessments(origin, keys)
    okeys = pd.MultiIndex.from_frame(a[keys]) if len(keys) > 1 else pd.Index(a[keys[0]])
    a = a.assign(origin=origin.reindex(okeys).to_numpy())
    a = a[a["origin"].notna()]
    pre = a[(a["date"] <= a["origin"]) & (a["date"] >= a["origin"] - pd.Timedelta(days=options.baseline_window_days))]
    base_date = pre.groupby(keys, sort=False)["date"].max().rename("baseline_date")
    a = a.join(base_date, on=keys)
    base_rows = a[a["date"] == a["baseline_date"]]
    # Target lesions are the centre-labelled targets that are measurable at baseline (>= 10 mm); a
    # labelled target under 10 mm (or not measured) is a non-target lesion (mRECIST: lesions < 1 cm are
    # non-target), followed as such at every later scan.
    labelled = base_rows["lesion_type"] == "target"
    big = (base_rows["viable_diameter_mm"] >= options.measurable_min_mm).fillna(False).to_numpy(dtype=bool)
    base_t = base_rows[labelled.to_numpy(dtype=bool) & big]
    small_ids = base_rows.loc[labelled.to_numpy(dtype=bool) & ~big, [*keys, "lesion_id"]].drop_duplicates()
    if len(small_ids):
        hit = a[[*keys, "lesion_id"]].merge(small_ids.assign(_small=True), on=[*keys, "lesion_id"], how="left")
        small = hit["_small"].notna().to_numpy() & (a["lesion_type"] == "target").to_numpy(dtype=bool)
        a = a.assign(lesion_type=np.where(small, "non_target", a["lesion_type"].astype(object)))
        base_rows = a[a["date"] == a["baseline_date"]]
    n_targets = base_t.groupby(keys, sort=False).size().rename("n_targets")
    base_sod = base_t.groupby(keys, sort=False)["viable_diameter_mm"].sum().astype("int64").rename("baseline_sod")
    measurable = pd.Series(True, index=n_targets.index, name="measurable")
    has_nt = (base_rows["lesion_type"] == "non_target").groupby([base_rows[k] for k in keys], sort=False).any()

    post = a[a["date"] > a["origin"]]
    scans = post[[*keys, "date"]].drop_duplicates().sort_values([*keys, "date"], kind="stable")

    # target lesions: only the baseline targets, matched by lesion id
    tgt_ids = base_t[[*keys, "lesion_id"]].assign(is_base_target=True)
    pt = post[post["lesion_type"] == "target"].merge(tgt_ids, on=[*keys, "lesion_id"], how="inner")
    tsum = pt.groupby([*keys, "date"], sort=False).agg(
        sod=("viable_diameter_mm", "sum"), n_measured=("viable_diameter_mm", "count")
    )
    scans = scans.join(tsum, on=[*keys, "date"]).join(n_targets, on=keys).join(base_sod, on=keys)
    scans["n_measured"] = scans["n_measured"].fillna(0)
    evaluated = scans["n_targets"].notna() & (scans["n_measured"] == scans["n_targets"])
    partial = scans["sod"].fillna(0).to_numpy(dtype=float)  # sum over the targets measured at this scan
    sod = np.where(evaluated, partial, np.nan)
    scans["sod"] = sod
    # nadir = smallest SoD before this scan (baseline included), over evaluated scans only
    nadir = np.fmin(scans["baseline_sod"].to_numpy(dtype=float), _group_prev_cummin(sod, scans, keys))
    scans["nadir"] = nadir
    tr = target_response(
        np.nan_to_num(sod).astype(np.int64),
        scans["baseline_sod"].fillna(0).to_numpy(dtype=np.int64),
        np.nan_to_num(nadir).astype(np.int64),
        options.pd_absolute_mm,
    )
    # Not every target measured: NE, unless the measured ones alone already show PD (a missing
    # diameter can only add to the sum, so it cannot undo the progression).
    partial_pd = ~evaluated.to_numpy() & ~np.isnan(nadir) & (partial > 0) & (10 * partial >= 12 * np.nan_to_num(nadir))
    if options.pd_absolute_mm is not None:
        partial_pd &= (partial - np.nan_to_num(nadir)) >= options.pd_absolute_mm
    tr[~evaluated.to_numpy()] = "NE"
    tr[partial_pd] = "PD"
    scans["target"] = tr

    # non-target lesions
    nt = post[post["lesion_type"] == "non_target"]
    status = _non_target_status(nt)
    nts = nt.assign(
        is_pd=status == "PD", is_cr=status == "CR", is_ne=status == "NE"
    ).groupby([*keys, "date"], sort=False).agg(any_pd=("is_pd", "any"), all_cr=("is_cr", "all"), any_ne=("is_ne", "any"))
    scans = scans.join(nts, on=[*keys, "date"]).join(has_nt.rename("has_nt"), on=keys)
    any_pd = scans["any_pd"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    all_cr = scans["all_cr"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    any_ne = scans["any_ne"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    ntr = np.where(any_pd, "PD", np.where(all_cr, "CR", np.where(any_ne, "NE", "IR_SD"))).astype(object)
    no_rows = scans["any_pd"].isna().to_numpy()
    ntr[no_rows] = np.where(scans["has_nt"].astype("boolean").fillna(False).to_numpy(dtype=bool)[no_rows], "NE", "none")
    scans["non_target"] = ntr

    # new lesions: qualifying lesions backdated to their first scan
    nl = a[a["lesion_type"] == "new"]
    if len(nl):
        per = nl.groupby([*keys, "lesion_id"], sort=False).agg(
            first=("date", "min"), max_d=("viable_diameter_mm", "max"), n_d=("viable_diameter_mm", "count")
        )
        qual = per[(per["max_d"] >= options.new_lesion_min_mm) | (per["n_d"] == 0)]
        first_new = qual.groupby(level=list(range(len(keys))), sort=False)["first"].min().rename("first_new")
        if len(keys) == 1:
            first_new.index = first_new.index.get_level_values(0)
        scans = scans.join(first_new, on=keys)
        scans["new_lesion"] = (scans["first_new"].notna() & (scans["first_new"] <= scans["date"])).to_numpy()
    else:
        scans["new_lesion"] = False
    scans["overall"] = overall_response(scans["target"], scans["non_target"], scans["new_lesion"])
    timepoints = scans[[*keys, "date", "sod", "baseline_sod", "nadir", "target", "non_target", "new_lesion", "overall"]]
    timepoints = timepoints.rename(columns={"overall": "response"}).reset_index(drop=True)

    per = pd.DataFrame(index=origin.index)
    per = per.join(base_date).join(base_sod).join(measurable)
    per["measurable"] = per["measurable"].astype("boolean").fillna(False)
    counted = _bor_time_points(timepoints, origin, keys)  # shared by the two BORs
    per["bor"] = _bor_of(counted, origin, keys, options)
    per["bor_unconfirmed"] = _bor_of(counted, origin, keys, replace(options, confirm=False))
    tp = timepoints.sort_values([*keys, "date"], kind="stable")
    first_pd = tp[tp["response"] == "PD"].groupby(keys, sort=False)["date"].min().rename("first_pd_date")
    per = per.join(first_pd)
    tpj = tp.join(first_pd, on=keys)
    adequate = tpj[(tpj["response"] != "NE") & (tpj["first_pd_date"].isna() | (tpj["date"] <= tpj["first_pd_date"]))]
    per = per.join(adequate.groupby(keys, sort=False)["date"].max().rename("last_assessment_date"))
    per["n_assessments"] = tp.groupby(keys, sort=False).size().reindex(per.index).fillna(0).astype("int64")
    unmeasurable = ~per["measurable"].to_numpy(dtype=bool)
    for col in ("bor", "bor_unconfirmed"):  # without measurable disease only PD (or NE) can be judged
        per.loc[unmeasurable & (per[col] != "PD").to_numpy(dtype=bool), col] = "NE"
    return timepoints, per


def _non_target_status(nt: pd.DataFrame) -> np.ndarray:
    """Status of each non-target lesion row: the recorded ``non_target_status``; where none is recorded
    (e.g. a labelled target under 10 mm followed as non-target), from its viable diameter: 0 mm -> CR
    (no enhancement left), > 0 mm -> IR_SD; neither recorded -> NE (not evaluated)."""
    rec = nt["non_target_status"].astype(object).to_numpy()
    dia = pd.to_numeric(nt["viable_diameter_mm"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    from_dia = np.where(np.isnan(dia), "NE", np.where(dia == 0, "CR", "IR_SD")).astype(object)
    return np.where(pd.isna(rec), from_dia, rec)


def _no_assessments(origin: pd.Series, keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    tp = pd.DataFrame({c: pd.Series(dtype=object) for c in [*keys, "sod", "baseline_sod", "nadir", "target",
                                                             "non_target", "new_lesion", "response"]})
    tp.insert(len(keys), "date", pd.Series(dtype="datetime64[ns]"))
    per = pd.DataFrame(index=origin.index)
    per["baseline_date"] = pd.Series(pd.NaT, index=origin.index, dtype="datetime64[ns]")
    per["baseline_sod"] = pd.array([pd.NA] * len(per), dtype="Int64")
    per["measurable"] = pd.array([False] * len(per), dtype="boolean")
    per["bor"] = pd.array(["NE"] * len(per), dtype="string")
    per["bor_unconfirmed"] = per["bor"].copy()
    per["first_pd_date"] = per["baseline_date"].copy()
    per["last_assessment_date"] = per["baseline_date"].copy()
    per["n_assessments"] = 0
    return tp, per


def _group_prev_cummin(sod: np.ndarray, scans: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """For each scan, the minimum SoD over the patient's earlier evaluated scans (NaN if none)."""
    if len(scans) == 0:
        return np.array([], dtype=float)
    s = pd.Series(np.where(np.isnan(sod), np.inf, sod), index=scans.index)
    grp = [scans[k] for k in keys]
    cm = s.groupby(grp, sort=False).cummin()
    prev = cm.groupby(grp, sort=False).shift(1)
    out = prev.to_numpy(dtype=float, copy=True)
    out[np.isinf(out)] = np.nan
    return out


def response_rates(bor: pd.Series, measurable: pd.Series | None = None) -> pd.DataFrame:
    """ORR = CR+PR and DCR = CR+PR+SD over two denominators: patients with measurable disease at
    baseline (``measurable``; mRECIST's) and all patients (ITT, NE counted as non-responders)."""
    bor = bor.astype("string")
    rows = []
    for label, mask in (("measurable", measurable), ("itt", None)):
        b = bor if mask is None else bor[mask.to_numpy(dtype=bool)]
        n = len(b)
        counts = {r: int((b == r).sum()) for r in RESPONSES}
        orr = counts["CR"] + counts["PR"]
        dcr = orr + counts["SD"]
        rows.append({"denominator": label, "n": n, **counts, "orr_n": orr, "orr": orr / n if n else np.nan,
                     "dcr_n": dcr, "dcr": dcr / n if n else np.nan})
    return pd.DataFrame(rows)
