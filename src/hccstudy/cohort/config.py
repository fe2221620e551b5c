"""The study configuration: a YAML file validated with pydantic (documented in ``docs/config.md``).

Every choice that ``clinical-rules.md`` marks DECISION is an option here, with the default given
there.  Unknown keys are an error (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._yaml import ConfigError, read_mapping, validation_message
from ..clinical.mrecist import MrecistOptions

#: Default order: liver function and PS come before the BCLC stage, because Child-Pugh C and ECOG >= 3
#: would otherwise always be reported as "not BCLC C" (they make the stage D).
CRITERIA = (
    "complete_data", "study_window", "child_pugh_ab", "ecog_0_1", "bclc_c", "other_malignancy",
    "prior_systemic", "tace_during_haic", "regimen",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudyPeriod(_Strict):
    start: dt.date = dt.date(2018, 1, 1)
    end: dt.date = dt.date(2022, 6, 1)
    data_cutoff: dt.date | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError("study.end is before study.start")
        if self.data_cutoff is not None and self.data_cutoff < self.start:
            raise ValueError("study.data_cutoff is before study.start")
        return self


class Units(_Strict):
    bilirubin_factor: float = Field(17.1, description="µmol/L per mg/dL (17.1 or 17.104)")


class ChildPughOptions(_Strict):
    albumin_variant: Literal["pugh", "harrison"] = "pugh"


class AlbiOptions(_Strict):
    coefficient: float = -0.085


class BclcOptions(_Strict):
    end_stage_child_pugh: list[Literal["A", "B", "C"]] = ["C"]


class DosingOptions(_Strict):
    bsa_formula: Literal["mosteller", "dubois"] = "mosteller"
    bsa_round: float | None = None
    bsa_cap: float | None = None
    oxaliplatin_mg_m2: float = 85.0
    folinate_mg_m2: float = 200.0
    fluorouracil_mg_m2: float = 2500.0
    cycle_days: int = 21


class CtcaeOptions(_Strict):
    limits: dict[str, dict[Literal["uln", "lln"], float]] = {}
    window_days_after_last_haic: int | None = None
    abnormal_baseline_grade: Literal["zero", "uln"] = Field(
        "zero", description="grade of a baseline value above the ULN: zero (its own reference, as admiral) or uln")


class Eligibility(_Strict):
    order: list[str] = list(CRITERIA)
    ecog_max: int = 1
    child_pugh_classes: list[Literal["A", "B", "C"]] = ["A", "B"]

    @field_validator("order")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in CRITERIA]
        if unknown:
            raise ValueError(f"unknown criteria {unknown}; known: {list(CRITERIA)}")
        if len(set(v)) != len(v):
            raise ValueError("a criterion is listed twice")
        return v


class ArmRule(_Strict):
    source: Literal["derived", "recorded"] = "derived"
    si_window_days: int = Field(21, description="SI: both systemic classes started within this many days after the end of HAIC cycle 1")
    first_cycle_days: int = Field(2, description="length of HAIC cycle 1 (46-h infusion) before the SI window starts")
    pre_haic_tolerance_days: int = Field(0, description="systemic start this many days before HAIC cycle 1 still counts")


class Endpoints(_Strict):
    days_per_month: float = 30.4375
    pfs_progression: Literal["mrecist", "recorded", "earliest"] = "mrecist"
    pfs_censor: Literal["last_assessment", "last_followup"] = "last_assessment"


class StudyConfig(_Strict):
    """Root of the study config."""

    name: str = "HAIC + targeted + PD-(L)1: sequential vs simultaneous"
    study: StudyPeriod = StudyPeriod()
    units: Units = Units()
    child_pugh: ChildPughOptions = ChildPughOptions()
    albi: AlbiOptions = AlbiOptions()
    bclc: BclcOptions = BclcOptions()
    dosing: DosingOptions = DosingOptions()
    mrecist: MrecistOptions = MrecistOptions()
    ctcae: CtcaeOptions = CtcaeOptions()
    eligibility: Eligibility = Eligibility()
    arm: ArmRule = ArmRule()
    endpoints: Endpoints = Endpoints()


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> StudyConfig:
    """Read and validate a YAML study config (``None``: all defaults)."""
    data: dict = read_mapping(path) if path is not None else {}
    data = {**data, **(overrides or {})}
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(where + validation_message(exc)) from exc
