"""The study configuration: a YAML file validated with pydantic (documented in ``docs/config.md``).

The root of study.yaml is :class:`hccstudy.config.StudyConfig`: this module is its cohort part
(:class:`CohortConfig`), which knows nothing of the analysis above it.

Every project choice (DECISION) of ``docs/spec/clinical-rules.md`` is an option here, with the default
given there, except the few the spec says are fixed.  Unknown keys are an error (a typo must not silently fall back to a default).  Every number
has a plausible range (``Interval``) and refuses true/false, NaN and infinity (:mod:`hccstudy._ranges`);
the ranges are listed in docs/config.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .._ranges import NUMBER, Interval
from .._yaml import ConfigError, read_mapping, validation_message
from ..clinical.ctcae import DEFAULT_LIMITS
from ..clinical.mrecist import MrecistOptions
from ..schema import fields
from ..schema.fields import LAB_RANGES
from ..schema.mapping import CentreMapping, check_centres
from ..schema.units import BILIRUBIN_FACTOR_RANGE
from .expressions import ExpressionError, check_expression

#: Default order: liver function and PS come before the BCLC stage, because Child-Pugh C and ECOG >= 3
#: would otherwise always be reported as "not BCLC C" (they make the stage D).
CRITERIA = (
    "complete_data", "study_window", "child_pugh_ab", "ecog_0_1", "bclc_c", "other_malignancy",
    "prior_systemic", "tace_during_haic", "regimen",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: study dates in a config lie in the window of the data's clinical dates
EARLIEST_DATE = dt.date.fromisoformat(fields.EARLIEST_DATE)
LATEST_DATE = dt.date.fromisoformat(fields.LATEST_DATE)
StudyDate = Annotated[dt.date, Interval(ge=EARLIEST_DATE, le=LATEST_DATE)]


class StudyPeriod(_Strict):
    start: StudyDate = dt.date(2018, 1, 1)
    end: StudyDate = dt.date(2022, 6, 1)
    data_cutoff: StudyDate | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError("study.end is before study.start")
        if self.data_cutoff is not None and self.data_cutoff < self.start:
            raise ValueError("study.data_cutoff is before study.start")
        return self


class Units(_Strict):
    bilirubin_factor: Annotated[float, Interval(ge=BILIRUBIN_FACTOR_RANGE[0], le=BILIRUBIN_FACTOR_RANGE[1]), NUMBER] = Field(
        17.1, description="µmol/L per mg/dL (17.1 or 17.104; 10 / molar mass 584.7 g/mol)")


class ChildPughOptions(_Strict):
    albumin_variant: Literal["pugh", "harrison"] = "pugh"


class AlbiOptions(_Strict):
    coefficient: Annotated[float, Interval(ge=-0.1, le=-0.07), NUMBER] = -0.085


class BclcOptions(_Strict):
    end_stage_child_pugh: list[Literal["A", "B", "C"]] = ["C"]


class DosingOptions(_Strict):
    bsa_formula: Literal["mosteller", "dubois"] = "mosteller"
    bsa_round: Annotated[float, Interval(ge=0.001, le=0.5), NUMBER] | None = None
    bsa_cap: Annotated[float, Interval(ge=1.0, le=3.0), NUMBER] | None = None
    oxaliplatin_mg_m2: Annotated[float, Interval(ge=10, le=200), NUMBER] = 85.0
    folinate_mg_m2: Annotated[float, Interval(ge=10, le=1000), NUMBER] = 200.0
    fluorouracil_mg_m2: Annotated[float, Interval(ge=100, le=5000), NUMBER] = 2500.0
    cycle_days: Annotated[int, Interval(ge=1, le=90), NUMBER] = 21


Limit = Annotated[float, Interval(gt=0), NUMBER]


class CtcaeOptions(_Strict):
    limits: dict[str, dict[Literal["uln", "lln"], Limit]] = {}
    window_days_after_last_haic: Annotated[int, Interval(ge=0, le=3650), NUMBER] | None = None
    abnormal_baseline_grade: Literal["zero", "uln"] = Field(
        "zero", description="grade of a baseline value above the ULN: zero (its own reference, as admiral) or uln")

    @field_validator("limits")
    @classmethod
    def _known_labs(cls, v: dict) -> dict:
        """Only graded labs, only the limit their grading uses (ULN or LLN), within the lab's range."""
        for lab, lims in v.items():
            if lab not in DEFAULT_LIMITS:
                raise ValueError(f"unknown lab {lab!r}; known: {', '.join(DEFAULT_LIMITS)}")
            if not lims:
                raise ValueError(f"{lab}: give its {next(iter(DEFAULT_LIMITS[lab])).upper()} (or leave {lab} out)")
            for kind, x in lims.items():
                if kind not in DEFAULT_LIMITS[lab]:
                    raise ValueError(f"{lab}: CTCAE grades {lab} against its {next(iter(DEFAULT_LIMITS[lab])).upper()},"
                                     f" not a {kind.upper()}")
                hi = LAB_RANGES[lab][1]
                if x > hi:
                    raise ValueError(f"{lab}.{kind}: {x:g} is outside the plausible range (0, {hi:g}]")
        return v


class ExtraCriterion(_Strict):
    """A study's own eligibility criterion: patients who do not meet ``keep`` are excluded under ``name``
    (:mod:`hccstudy.cohort.expressions`: the expression language and its missing-value rule)."""

    name: str = Field(max_length=60)
    keep: str = Field(max_length=2000, description="boolean expression over the derived patient table")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.isidentifier() or not v.isascii():
            raise ValueError(f"{v!r}: a criterion name is letters, digits and _ (e.g. age_18_80)")
        if v in CRITERIA:
            raise ValueError(f"{v!r} is a built-in criterion; choose another name")
        return v

    @field_validator("keep")
    @classmethod
    def _syntax(cls, v: str) -> str:
        try:
            check_expression(v)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from exc
        return v


class Eligibility(_Strict):
    """``order``: the flow's order of criteria, built-in and ``extra`` names; an ``extra`` criterion not
    named in ``order`` comes after the others, in list order."""

    extra: list[ExtraCriterion] = Field([], description="the study's own criteria: [{name, keep}]")
    order: list[str] = list(CRITERIA)
    ecog_max: Annotated[int, Interval(ge=0, le=5), NUMBER] = 1
    child_pugh_classes: list[Literal["A", "B", "C"]] = Field(["A", "B"], min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _extra_in_order(cls, data):
        """Append the extra criteria that ``order`` does not name (in list order)."""
        if not isinstance(data, dict) or not isinstance(data.get("extra"), list):
            return data
        order = data.get("order", list(CRITERIA))
        if not isinstance(order, list):
            return data
        names = [e.get("name") for e in data["extra"] if isinstance(e, dict) and isinstance(e.get("name"), str)]
        return {**data, "order": order + [n for n in dict.fromkeys(names) if n not in order]}

    @field_validator("extra", mode="wrap")
    @classmethod
    def _unique(cls, v, handler) -> list[ExtraCriterion]:
        """Unique names; a bad criterion is named by its place and name: ``[0] (age_18_80) keep: ...``."""
        try:
            v = handler(v)
        except ValidationError as exc:
            parts = []
            for e in exc.errors():
                loc = list(e["loc"])
                i = loc.pop(0) if loc and isinstance(loc[0], int) else None
                raw = v[i] if isinstance(v, list) and i is not None and i < len(v) else None
                name = raw.get("name") if isinstance(raw, dict) else None
                where = "" if i is None else f"[{i}]" + (f" ({name})" if isinstance(name, str) else "")
                key = ".".join(map(str, loc))
                parts.append(f"{where} {key}: {e['msg'].removeprefix('Value error, ')}".strip())
            raise PydanticCustomError("extra_criterion", "; ".join(parts).replace("{", "{{").replace("}", "}}")) from exc
        names = [e.name for e in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise PydanticCustomError("extra_criterion", "criterion names must be unique: {names} given twice",
                                      {"names": ", ".join(twice)})
        return v

    @field_validator("order")
    @classmethod
    def _known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if not v:
            raise ValueError("list at least one criterion (the flow needs an order)")
        known = list(CRITERIA) + [e.name for e in info.data.get("extra", [])]
        unknown = [c for c in v if c not in known]
        if unknown and "extra" in info.data:  # else the extra criteria's own error says what is wrong
            raise ValueError(f"unknown criteria {unknown}; known: {known}")
        if len(set(v)) != len(v):
            raise ValueError("a criterion is listed twice")
        return v


class ArmRule(_Strict):
    source: Literal["derived", "recorded"] = "derived"
    si_window_days: Annotated[int, Interval(ge=0, le=365), NUMBER] = Field(
        21, description="SI: both systemic classes started within this many days after the end of HAIC cycle 1")
    first_cycle_days: Annotated[int, Interval(ge=0, le=30), NUMBER] = Field(
        2, description="length of HAIC cycle 1 (46-h infusion) before the SI window starts")
    pre_haic_tolerance_days: Annotated[int, Interval(ge=0, le=90), NUMBER] = Field(
        0, description="systemic start this many days before HAIC cycle 1 still counts")


class Endpoints(_Strict):
    days_per_month: Annotated[float, Interval(ge=28, le=31), NUMBER] = 30.4375
    pfs_progression: Literal["mrecist", "recorded", "earliest"] = "mrecist"
    pfs_censor: Literal["last_assessment", "last_followup"] = "last_assessment"


class CohortConfig(_Strict):
    """The cohort's part of study.yaml: how records become the derived table and the patient flow.
    The root of study.yaml (:class:`hccstudy.config.StudyConfig`) adds the keys of the layers above
    (``analysis:``...); :data:`ABOVE_COHORT` lists them so that the cohort's own loader leaves them alone."""

    name: str = Field("HAIC + targeted + PD-(L)1: sequential vs simultaneous", max_length=300)
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
    centres: dict[str, CentreMapping] = Field(
        {}, description="each centre's own column names, coded values and units, mapped onto the data model "
                        "(see docs/config.md, Centres)")

    @model_validator(mode="after")
    def _centre_mappings(self):
        """The mappings against the data model; the message names the key path itself."""
        check_centres(self.centres)
        return self


#: study.yaml keys validated above the cohort layer (by hccstudy.config.StudyConfig), not here
ABOVE_COHORT = ("analysis", "labels")


def load_cohort_config(path: str | Path | None = None, overrides: dict | None = None) -> CohortConfig:
    """Read and validate the cohort's keys of a YAML study config (``None``: all defaults); the keys of
    :data:`ABOVE_COHORT` are left to :func:`hccstudy.load_config`, which validates the whole file.
    ``overrides``: a mapping laid over the file's top-level keys."""
    data: dict = read_mapping(path) if path is not None else {}
    data = {k: v for k, v in {**data, **(overrides or {})}.items() if k not in ABOVE_COHORT}
    try:
        return CohortConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(where + validation_message(exc)) from exc
