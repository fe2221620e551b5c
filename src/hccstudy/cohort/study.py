"""``load_study``: a study folder -> validated, derived, analysis-ready cohort.

Steps: read every centre -> validate and convert to canonical units -> derive Child–Pugh, ALBI,
BCLC, BSA and dose intensity, mRECIST responses, CTCAE lab grades -> arm from dates (cross-checked
with the recorded arm) -> endpoints -> eligibility and flow.  Any validation error stops it with
:class:`~hccstudy.schema.StudyInputError` carrying the full report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..clinical import albi, bclc_stage, child_pugh, dosing_bsa, haic_dose_intensity, lab_toxicity
from ..clinical.ctcae import worst_grades
from ..clinical.dosing import HaicRegimen
from ..clinical.mrecist import assess_responses
from ..schema import InputFile, IssueLog, StudyInputError, ValidationReport, ingest
from ..schema.csvout import write_csv
from ..schema.keys import key_positions, patient_codes
from .arms import derive_arms
from .config import CohortConfig, load_cohort_config
from .eligibility import all_failing_counts, evaluate_criteria, first_failing, patient_flow
from .endpoints import derive_endpoints

KEYS = ["centre", "patient_id"]
#: internal integer patient code (see hccstudy.schema.keys); the derivations group and join on it
CODE = "_patient_code"
CHILD_TABLES = ("haic_cycles", "systemic", "assessments", "labs", "adverse_events")


@dataclass(frozen=True)
class Study:
    """A loaded study.

    * ``analysis``: one row per included patient with every derived column (the analysis table)
    * ``patients``: every screened patient with derived columns and eligibility flags
    * ``flow``: screened -> excluded per reason (first failing) -> included -> per arm
    * ``exclusions``: per criterion, patients failing it at all and failing it first
    * ``validation``: the validation report (warnings; errors would have raised)
    * ``tables``: the typed input tables in canonical units, with provenance
    * ``timepoints``: mRECIST response per scan
    * ``lab_toxicity``: per patient and lab AE term, baseline grade, worst post-baseline grade and
      treatment-emergent flag
    * ``adverse_events``: worst grade per patient and term from labs and recorded events (0 = measured, no AE)
    """

    config: CohortConfig
    analysis: pd.DataFrame
    patients: pd.DataFrame
    flow: pd.DataFrame
    exclusions: pd.DataFrame
    validation: ValidationReport
    tables: dict[str, pd.DataFrame]
    timepoints: pd.DataFrame
    lab_toxicity: pd.DataFrame
    adverse_events: pd.DataFrame
    inputs: list[InputFile]


def _index(df: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(df[KEYS])


def _coded_tables(tables: dict[str, pd.DataFrame], p: pd.DataFrame) -> tuple[np.ndarray, dict] | None:
    """Each patient's integer code (ranked in key order) and the child tables with a ``CODE`` column
    (rows without a patient key dropped: every derivation drops them anyway).  ``None`` when a child
    row names a patient not in ``p`` (an orphan, already an error): the string keys are then used."""
    codes, ref = patient_codes(p, KEYS)
    coded = {}
    for name in CHILD_TABLES:
        t = tables[name]
        pos = key_positions(t, ref, KEYS)
        missing = pos < 0
        if (missing & t["centre"].notna().to_numpy() & t["patient_id"].notna().to_numpy()).any():
            return None
        t = t[~missing] if missing.any() else t
        coded[name] = t.assign(**{CODE: codes[pos[~missing]] if missing.any() else codes[pos]})
    return codes, coded


def _uncode(df: pd.DataFrame, p: pd.DataFrame, row_of_code: np.ndarray, dtypes: dict) -> pd.DataFrame:
    """``df`` with its ``CODE`` column replaced by the key columns (in the dtypes the string-key path gives)."""
    if len(df) == 0 and df[CODE].dtype == object:  # an empty result built without typed keys
        keys = {k: pd.Series(dtype=object) for k in KEYS}
    else:
        rows = row_of_code[df[CODE].to_numpy(dtype=np.int64)]
        keys = {k: pd.Series(p[k].array.take(rows), index=df.index).astype(dtypes[k]) for k in KEYS}
    return pd.concat([pd.DataFrame(keys, index=df.index), df.drop(columns=[CODE])], axis=1)


def derive_patients(
    tables: dict[str, pd.DataFrame], config: CohortConfig, log: IssueLog
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """All derived per-patient columns; returns (patients, mRECIST time points, lab toxicity, AE worst grades).

    The derivations group and join on one integer code per patient (see :mod:`hccstudy.schema.keys`)
    instead of the two string keys; the results carry the string keys again."""
    p = tables["patients"].dropna(subset=["patient_id"]).drop_duplicates(KEYS).reset_index(drop=True)
    coded = _coded_tables(tables, p)
    if coded is None:
        keys, child, pidx = KEYS, tables, _index(p)
    else:
        codes, child = coded
        keys, pidx = [CODE], pd.Index(codes, name=CODE)
        p[CODE] = codes
    cp = child_pugh(p["bilirubin"], p["albumin"], p["inr"], p["ascites"], p["encephalopathy"], p["pt_prolongation_s"],
                    bilirubin_factor=config.units.bilirubin_factor, albumin_variant=config.child_pugh.albumin_variant)
    al = albi(p["bilirubin"], p["albumin"], config.albi.coefficient)
    p = pd.concat([p, cp.set_axis(p.index), al.set_axis(p.index)], axis=1)
    p["bclc_stage"] = bclc_stage(
        p["tumour_number"], p["max_diameter_cm"], p["mvi"], p["ehs"], p["ecog"], p["child_pugh_class"],
        p["ecog_cancer_related"], end_stage_classes=tuple(config.bclc.end_stage_child_pugh),
    ).to_numpy()
    p["bclc_cp_b_flag"] = (p["child_pugh_class"] == "B").fillna(False).to_numpy(dtype=bool)
    d = config.dosing
    p["bsa_m2"] = dosing_bsa(p["height_cm"], p["weight_kg"], d.bsa_formula, d.bsa_round, d.bsa_cap)
    # a missing AFP or tumour count gives a missing flag, not "no" (a float NaN compares False)
    p["afp_gt_400"] = (p["afp"] > 400).astype("boolean").mask(p["afp"].isna()).to_numpy()
    p["multiple_tumours"] = (p["tumour_number"] > 1).astype("boolean").mask(p["tumour_number"].isna()).to_numpy()

    regimen = HaicRegimen(d.oxaliplatin_mg_m2, d.folinate_mg_m2, d.fluorouracil_mg_m2, d.cycle_days)
    di = haic_dose_intensity(child["haic_cycles"], pd.Series(p["bsa_m2"].to_numpy(), index=pidx), keys, regimen)
    di = di.reindex(pidx)
    di["haic_cycles"] = di["haic_cycles"].fillna(0).astype("int64")
    p = pd.concat([p, di.reset_index(drop=True).set_axis(p.index)], axis=1)

    arms = derive_arms(p, child["systemic"], child["haic_cycles"], keys, config.arm)
    p = pd.concat([p, arms], axis=1)
    rec = p["arm_recorded"]
    disagree = (rec.notna() & (rec != p["arm_derived"]).fillna(True)).to_numpy(dtype=bool)
    log.add_rows(p, disagree, column="arm_recorded", rule="arm_mismatch", severity="warning",
                 message="recorded arm differs from the arm derived from treatment dates "
                         f"(arm.source = {config.arm.source!r} is used)")
    p["arm"] = p["arm_recorded"] if config.arm.source == "recorded" else p["arm_derived"]

    origin = pd.Series(p["first_haic_date"].to_numpy(), index=pidx)
    cutoff = pd.Timestamp(config.study.data_cutoff) if config.study.data_cutoff else None
    scans = child["assessments"]
    if cutoff is not None:  # scans after the data cut-off are not part of the data set (response, PD, censoring)
        scans = scans[(scans["date"] <= cutoff).to_numpy(dtype=bool)]
    timepoints, resp = assess_responses(scans, origin, keys, config.mrecist)
    resp = resp.reindex(pidx)
    for c in ("baseline_sod", "measurable", "bor", "bor_unconfirmed", "first_pd_date", "last_assessment_date", "n_assessments"):
        p[c] = resp[c].to_numpy()
    p["measurable"] = p["measurable"].astype("boolean").fillna(False)

    ep = derive_endpoints(p, p["first_pd_date"], p["last_assessment_date"], config.endpoints, cutoff)
    p = pd.concat([p, ep], axis=1)

    window_end = None
    if config.ctcae.window_days_after_last_haic is not None:
        window_end = pd.Series(
            (p["last_haic_date"] + pd.Timedelta(days=config.ctcae.window_days_after_last_haic)).to_numpy(), index=pidx
        )
    tox = lab_toxicity(child["labs"], origin, keys, config.ctcae.limits, window_end,
                       config.ctcae.abnormal_baseline_grade)
    ae = worst_grades(tox, child["adverse_events"], keys)
    if coded is not None:
        row_of_code = np.empty(len(p), dtype=np.int64)
        row_of_code[p[CODE].to_numpy()] = np.arange(len(p))
        timepoints = _uncode(timepoints, p, row_of_code, {k: tables["assessments"][k].dtype for k in KEYS})
        tox = _uncode(tox, p, row_of_code, {k: tables["labs"][k].dtype for k in KEYS})
        ev = tables["adverse_events"].dropna(subset=["grade"])
        lab = tox.dropna(subset=["worst_grade"])
        ae = _uncode(ae, p, row_of_code, {k: pd.concat([lab[k].iloc[:1], ev[k].iloc[:1]]).dtype for k in KEYS})
        p = p.drop(columns=[CODE])
    if len(ae):
        wide = ae.pivot(index=KEYS, columns="term", values="grade")
        wide.columns = [f"ae_{c}_grade" for c in wide.columns]
        wide = wide.reindex(_index(p))
        for c in sorted(wide.columns):
            p[c] = pd.array(wide[c].to_numpy(), dtype="Int64")
    return p, timepoints, tox, ae


def build_study(ingested, config: CohortConfig, log: IssueLog) -> Study:
    p, timepoints, tox, ae = derive_patients(ingested.tables, config, log)
    fails = evaluate_criteria(p, config)
    order = list(config.eligibility.order)
    reason = first_failing(fails, order)
    p = pd.concat([p, fails], axis=1)
    p["exclusion_reason"] = reason.to_numpy()
    p["included"] = reason.isna().to_numpy()
    _check_endpoints(p, log, config.study.data_cutoff)
    flow = patient_flow(reason, p["arm"], order, p["centre"])
    exclusions = all_failing_counts(fails, order)
    analysis = p[p["included"].to_numpy()].drop(
        columns=[c for c in p.columns if c.startswith("fails_")] + ["exclusion_reason", "included", "missing_fields"]
    ).reset_index(drop=True)
    report = log.report(dict(ingested.report.counts))
    return Study(config, analysis, p, flow, exclusions, report, ingested.tables, timepoints, tox, ae, ingested.inputs)


def _check_endpoints(p: pd.DataFrame, log: IssueLog, data_cutoff=None) -> None:
    """An included patient must have a usable OS and PFS: a missing or negative time is an error that
    names the record, never a patient who silently drops out of (or distorts) the survival analysis."""
    included = p["included"].to_numpy(dtype=bool)
    alive = p["death_date"].isna().to_numpy()
    # per endpoint: why its time can be missing (the column to name, for whom), then a negative time
    missing = {
        "os_months": [
            ("last_followup_date", alive,
             "included patient has no overall survival: alive with no last follow-up date (give the date, or "
             "keep the eligibility criterion complete_data to exclude incomplete records)"),
            ("death_date", ~alive, "included patient has no overall survival time"),
        ],
        "pfs_months": [
            ("last_followup_date", np.ones(len(p), dtype=bool),
             "included patient has no progression-free survival time (no follow-up date to censor at; "
             "see endpoints.pfs_censor)"),
        ],
    }
    reported = np.zeros(len(p), dtype=bool)
    if data_cutoff is not None:
        late = included & (p["first_haic_date"] > pd.Timestamp(data_cutoff)).to_numpy(dtype=bool)
        log.add_rows(p, late, column="first_haic_date", rule="after_data_cutoff",
                     message=f"included patient started HAIC after the data cut-off (study.data_cutoff = {data_cutoff}), "
                             "so has no follow-up: set study.end on or before the cut-off")
        reported |= late
    for time, reasons in missing.items():
        t = p[time].to_numpy(dtype=float)
        for column, where, message in reasons:
            bad = included & where & np.isnan(t) & ~reported
            log.add_rows(p, bad, column=column, rule="no_endpoint", message=message)
            reported |= bad
        negative = included & (t < 0) & ~reported
        log.add_rows(p, negative, column="first_haic_date", rule="negative_endpoint", value=p[time],
                     message=f"included patient's {time} is negative: the endpoint date is before the first HAIC "
                             "(or the data cut-off is)")
        reported |= negative
    if reported.any():
        raise StudyInputError(log.report())


def load_study(path: str | Path, config: CohortConfig | str | Path | None = None) -> Study:
    """Read, validate and derive a study folder.

    ``config``: a :class:`~hccstudy.config.StudyConfig` (or its cohort part), a path to a YAML study
    config (only its cohort keys are read here; ``hccstudy.load_config`` reads the whole file), or
    ``None`` (defaults); its ``centres`` (each centre's own column names, codes and units) are applied
    as the files are read.  Raises
    :class:`~hccstudy.schema.StudyInputError` (with ``.report``) when the input has errors.
    """
    cfg = config if isinstance(config, CohortConfig) else load_cohort_config(config)
    log = IssueLog()
    ingested = ingest(path, bilirubin_factor=cfg.units.bilirubin_factor, log=log, centres=cfg.centres)
    if not ingested.report.ok:
        raise StudyInputError(ingested.report)
    return build_study(ingested, cfg, log)


def write_analysis_table(study: Study, out_dir: str | Path, table: pd.DataFrame | None = None) -> list[Path]:
    """Write the analysis table (Parquet and CSV; ``table`` defaults to ``study.analysis``, e.g. the
    analysed table with match ids), the flow and the validation report into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = study.analysis if table is None else table
    paths = [out / "analysis_table.parquet", out / "analysis_table.csv", out / "flow.csv",
             out / "exclusions.csv", out / "validation.csv"]
    table.to_parquet(paths[0], index=False)
    # from Arrow text columns (pandas' bytes; pandas' own writer is a row loop: 13 s at 1.5x10^5 x 123)
    write_csv(table, paths[1], date_format="%Y-%m-%d")
    study.flow.to_csv(paths[2], index=False)
    study.exclusions.to_csv(paths[3], index=False)
    write_csv(study.validation.issues, paths[4])
    return paths


__all__ = ["KEYS", "Study", "build_study", "derive_patients", "load_study", "write_analysis_table"]
