"""The generic analysis config: any analysis-ready table (one row per patient) described in YAML.

```yaml
data: path/to/table.csv          # CSV, Excel or Parquet; relative to the config file
id: patient_id
arm: {column: trt, treated: 2, control: 1, labels: {2: "Test", 1: "Standard"}}
covariates: [karno, diagtime, age, prior, celltype]   # Table 1 rows, in this order
categorical: [celltype]                              # others: numeric; 0/1 numerics are binary
nonnormal: [diagtime]                                # Table 1: median [IQR] + rank test
matching: {on: [karno, diagtime, age, prior, celltype], caliper: 0.03, std_caliper: true,
           ratio: 1, replace: false, order: largest, link: logit, discard: none, ties: matchit, seed: 1}
table1: {t_test: student, nonnormal_test: wilcoxon, fisher_expected_below: 5, exact: [], digits: 1}
```

Everything but ``data`` is the analysis *plan* (:class:`AnalysisPlan`): study.yaml's ``analysis:`` key
has that schema, and the built-in study's plan is package data (``hccstudy/data/study_plan.yaml``,
:func:`builtin_plan`).  ``AnalysisPlan.with_data(path)`` gives the :class:`AnalysisConfig`.

Unknown keys are an error; every number has a documented plausible range and refuses true/false,
NaN and infinity (:mod:`hccstudy._ranges`; the table is in docs/analyze.md); every problem is a :class:`~hccstudy._yaml.ConfigError` whose
message starts with the key (``arm.treated: ...``).  Checks against the data (columns exist, the
treated value occurs, ...) are made when the data are read (:func:`hccstudy.analysis.run.load_table`).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._overrides import validate_with
from .._ranges import NUMBER, Interval
from .._yaml import ConfigError, load_yaml, read_mapping
from ..stats.table1_options import Table1Options
from .labels import VariableLabelSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Digits = Annotated[int, Interval(ge=0, le=10), NUMBER]


@dataclass(frozen=True)
class Table1Spec(Table1Options):
    """:class:`~hccstudy.stats.table1.Table1Options` with the config's ranges (config key ``table1``)."""

    __pydantic_config__ = {"extra": "forbid", "allow_inf_nan": False}  # noqa: RUF012 -- read by pydantic

    fisher_expected_below: Annotated[float, Interval(gt=0, le=100), NUMBER] | None = 5.0
    exact: list[str] = field(default_factory=list)
    digits: Digits = 1
    pct_digits: Digits = 1
    p_digits: Annotated[int, Interval(ge=1, le=10), NUMBER] = 3


class ArmSpec(_Strict):
    column: str
    treated: Any
    control: Any
    labels: dict[Any, str] = {}


class MatchingSpec(_Strict):
    on: list[str]
    caliper: Annotated[float, Interval(gt=0, le=10), NUMBER] | None = Field(
        None, description="in SD of the distance (std_caliper) or raw units; none = no caliper")
    std_caliper: bool = True
    ratio: Annotated[int, Interval(ge=1, le=10), NUMBER] = 1
    replace: bool = Field(False, description="match with replacement (a control may serve several treated units)")
    order: Literal["largest", "smallest", "data", "random"] = "largest"
    link: Literal["logit", "linear.logit"] = "logit"
    discard: Literal["none", "both", "control", "treated"] = "none"
    ties: Literal["matchit", "legacy"] = "matchit"
    seed: Annotated[int, Interval(ge=0, le=2**32 - 1), NUMBER] = 1

    @field_validator("on")
    @classmethod
    def _variables(cls, v):
        if not v:
            raise ValueError("list at least one variable for the propensity score")
        if len(set(v)) != len(v):
            raise ValueError("a variable is listed twice")
        return v

    @model_validator(mode="after")
    def _legacy_ties_without_replacement(self):
        if self.replace and self.ties == "legacy":
            raise ValueError('ties: "legacy" (MatchIt <= 4.5.0) is offered only without replacement')
        return self


class EndpointSpec(_Strict):
    name: str
    time: str
    event: str
    event_value: Any = 1
    unit: str = "months"
    landmarks: list[Annotated[float, Interval(ge=0, le=1e4), NUMBER]] = []


class CoxSpec(_Strict):
    variables: list[str] = Field([], description="univariable Cox for each; the arm column means the arm")
    select_p: Annotated[float, Interval(gt=0, le=1), NUMBER] = 0.05
    ties: Literal["efron", "breslow"] = "efron"
    arm_reference: Literal["control", "treated"] = Field("control", description="HR of the other arm vs this one")


class KmSpec(_Strict):
    conf_type: Literal["log", "log-log", "plain"] = "log"
    conf_level: Annotated[float, Interval(ge=0.5, lt=1), NUMBER] = 0.95


class SubgroupCut(_Strict):
    variable: str
    cut: Annotated[float, Interval(ge=-1e15, le=1e15), NUMBER]


class ResponseSpec(_Strict):
    column: str


class AdverseEventSpec(_Strict):
    columns: list[str] | None = None
    prefix: str | None = None
    suffix: str | None = None


class ReportSpec(_Strict):
    """How the report shows numbers (config key ``report``): the one formatting rule set of
    :mod:`hccstudy.report.format`, documented in docs/report.md ("Formatting").

    ``table1.digits`` / ``pct_digits`` / ``p_digits`` shape the tableone-style text columns of
    ``table1_*.csv`` and results.json (R parity); these keys shape what a reader of the report sees."""

    p_digits: Annotated[int, Interval(ge=2, le=6), NUMBER] = Field(3, description="decimals of a P value")
    p_small: Annotated[float, Interval(ge=1e-6, le=0.01), NUMBER] = Field(
        0.001, description='P below this is shown as "<p_small"; at least 10^-p_digits')
    hr_digits: Annotated[int, Interval(ge=1, le=4), NUMBER] = Field(2, description="decimals of a hazard ratio and its CI")
    pct_digits: Annotated[int, Interval(ge=0, le=3), NUMBER] = Field(1, description="decimals of a percentage")
    digits: Annotated[int, Interval(ge=0, le=4), NUMBER] = Field(
        1, description="decimals of means, SDs, medians, quantiles and survival times")
    continuous: Literal["mean_sd", "median_iqr", "median_range", "both"] = Field(
        "mean_sd", description="Table 1's continuous rows; nonnormal variables show median [IQR] under mean_sd")
    binary_levels: Literal["one", "both"] = Field(
        "one", description="a two-level variable as one row (the non-reference level) or a header and both levels")
    both_levels: list[str] = Field([], description="two-level variables always shown with both levels")
    km_break_months: Annotated[float, Interval(ge=1, le=120), NUMBER] | None = Field(
        None, description="Kaplan–Meier x-axis and risk-table interval; null: 6, or 12 when follow-up exceeds 48")
    formats: list[Literal["png", "svg", "pdf", "tiff"]] = Field(
        ["png", "svg", "pdf", "tiff"],
        description="figure files written under figures/ (PNG 300 dpi, SVG, PDF, TIFF 600 dpi); [] draws no figure (--no-figures); "
                    "the PNG is written whenever any format is, since report.html and tables.docx embed it")

    @model_validator(mode="after")
    def _formats_once(self):
        twice = sorted({f for f in self.formats if self.formats.count(f) > 1})
        if twice:
            raise ValueError(f"formats: {', '.join(twice)} listed more than once")
        return self

    @model_validator(mode="after")
    def _p_small_shown(self):
        if self.p_small < 10 ** -self.p_digits * (1 - 1e-9):
            raise ValueError(f"p_small: {self.p_small:g} is below 10^-p_digits ({10 ** -self.p_digits:g}): "
                             "a P between them would print as zero")
        return self


#: the sensitivity methods (results.json ``endpoints.<name>.sensitivity.<method>``); ``landmark`` stands for
#: every ``landmark_<months>`` of ``sensitivity.landmarks``
SENSITIVITY_METHODS = ("unadjusted", "multivariable", "psm_robust", "psm_stratified", "psm_centre_ps", "iptw_ate",
                       "iptw_att", "iptw_atc", "overlap", "doubly_robust", "landmark", "time_dependent",
                       "centre_stratified", "mi_psm", "bootstrap_psm")
#: the blocks beside the methods (``endpoints.<name>.<block>``)
SENSITIVITY_BLOCKS = ("rmst", "centres", "design_grid")
#: IPTW estimand -> its method name
ESTIMAND_METHOD = {"ATE": "iptw_ate", "ATT": "iptw_att", "ATC": "iptw_atc", "ATO": "overlap"}

Seed = Annotated[int, Interval(ge=0, le=2**32 - 1), NUMBER]
Percentile = Annotated[float, Interval(gt=0, lt=1), NUMBER]


class WeightingSpec(_Strict):
    """IPTW from the plan's propensity score (``sensitivity.weighting``)."""

    estimands: list[Literal["ATE", "ATT", "ATC", "ATO"]] = Field(
        ["ATE", "ATT", "ATO"], description="ATE -> iptw_ate, ATT -> iptw_att, ATC -> iptw_atc, ATO (overlap) -> overlap")
    stabilize: bool = Field(True, description="multiply the weights by the marginal arm proportion (WeightIt)")
    trim: tuple[Percentile, Percentile] | None = Field(
        None, description="[lo, hi] percentiles of the propensity score: units outside get weight 0 (excluded)")

    @field_validator("estimands")
    @classmethod
    def _once(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("an estimand is listed twice")
        return v

    @field_validator("trim")
    @classmethod
    def _ordered(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"the lower percentile ({v[0]:g}) must be below the upper ({v[1]:g})")
        return v


class ImputationSpec(_Strict):
    m: Annotated[int, Interval(ge=2, le=500), NUMBER] = Field(20, description="number of imputed data sets")
    seed: Seed = 1
    iterations: Annotated[int, Interval(ge=1, le=200), NUMBER] = Field(10, description="chained-equation iterations")


class BootstrapSpec(_Strict):
    replicates: Annotated[int, Interval(ge=10, le=100_000), NUMBER] = 1000
    seed: Seed = 1


class DesignGridSpec(_Strict):
    calipers: list[Annotated[float, Interval(gt=0, le=10), NUMBER] | None] = Field(
        [0.01, 0.02, 0.05, 0.1, 0.2, None], description="in SD of the distance; null = no caliper")
    ratios: list[Annotated[int, Interval(ge=1, le=10), NUMBER]] = [1, 2]
    replace: list[bool] = [False, True]

    @model_validator(mode="after")
    def _nonempty_once(self):
        for key in ("calipers", "ratios", "replace"):
            v = getattr(self, key)
            if not v:
                raise ValueError(f"{key}: list at least one value")
            if len(set(v)) != len(v):
                raise ValueError(f"{key}: a value is listed twice")
        return self


#: a landmark given as a percentile of the treated arm's exposure start: "p95"
LANDMARK_PERCENTILE = r"^p([1-9][0-9]?(\.[0-9]+)?)$"


class SensitivitySpec(_Strict):
    """The sensitivity analyses (plan key ``sensitivity``; absent or null: none).  Methods whose input is
    absent (no ``centre`` or ``exposure_start`` column named, no events, an empty arm) are skipped with
    the reason in ``Results.skipped``; docs/sensitivity.md describes each method."""

    endpoints: list[str] | None = Field(None, description="endpoints analysed; null = every endpoint")
    methods: list[str] | None = Field(
        None, description="null = every method whose inputs exist; else a subset of the method and block names")
    weighting: WeightingSpec = WeightingSpec()
    exposure_start: str | None = Field(
        None, description="column: time from the endpoint origin to the start of the exposure that defines the arm")
    landmarks: list[float | str] = Field(
        [3.0, "p95"], description='endpoint time units, or "p95": the 95th percentile of the treated arm\'s exposure start')
    centre: str | None = Field(None, description="column naming the centre")
    imputation: ImputationSpec = ImputationSpec()
    bootstrap: BootstrapSpec = BootstrapSpec()
    design_grid: DesignGridSpec = DesignGridSpec()
    rmst_tau: Annotated[float, Interval(gt=0, le=1e6), NUMBER] | None = Field(
        None, description="RMST horizon (endpoint time units); null = the smaller of the arms' last follow-up times")
    scheduler: str | None = Field(None, description="address of a running Dask scheduler (tcp://host:8786)")
    workers: Annotated[int, Interval(ge=1, le=1024), NUMBER] | None = Field(None, description="local Dask workers; null = cores")

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v):
        if v is None:
            return v
        known = (*SENSITIVITY_METHODS, *SENSITIVITY_BLOCKS)
        unknown = [m for m in v if m not in known]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(known)}")
        if len(set(v)) != len(v):
            raise ValueError("a method is listed twice")
        return v

    @field_validator("landmarks", mode="before")
    @classmethod
    def _landmarks(cls, v):
        if not isinstance(v, list):
            return v
        for x in v:
            if isinstance(x, str):
                if not re.fullmatch(LANDMARK_PERCENTILE, x):
                    raise ValueError(f"{x!r}: give a time (a number > 0) or a percentile of the exposure start "
                                     '("p95": between p1 and p99)')
            elif isinstance(x, bool) or not isinstance(x, (int, float)) or not (0 < x <= 1e4):
                raise ValueError(f"{x!r}: a landmark is a time > 0 and <= 10000 (endpoint units) or \"p95\"")
        if len({x if isinstance(x, str) else float(x) for x in v}) != len(v):
            raise ValueError("a landmark is listed twice")
        return v

    def wants(self, method: str) -> bool:
        """Whether ``method`` (a method or block name; ``landmark_<t>`` counts as ``landmark``) is asked for."""
        base = "landmark" if method.startswith("landmark_") else method
        return self.methods is None or base in self.methods


class AnalysisPlan(_Strict):
    """What to analyse and how: the analysis config without ``data`` (study.yaml's ``analysis:`` key;
    the built-in study's plan is :func:`builtin_plan`).  :meth:`with_data` makes it an
    :class:`AnalysisConfig` for a table."""

    id: str
    arm: ArmSpec
    covariates: list[str]
    categorical: list[str] = []
    nonnormal: list[str] = []
    matching: MatchingSpec | None = None
    table1: Table1Spec = Table1Spec()
    endpoints: list[EndpointSpec] = []
    cox: CoxSpec = CoxSpec()
    km: KmSpec = KmSpec()
    subgroups: list[str | SubgroupCut] = []
    response: ResponseSpec | None = None
    adverse_events: AdverseEventSpec | None = None
    report: ReportSpec = ReportSpec()
    labels: dict[str, VariableLabelSpec] = Field({}, description="the variable dictionary (analysis/labels.py)")
    name: str = Field("Analysis", max_length=300)
    sensitivity: SensitivitySpec | None = Field(None, description="sensitivity analyses (docs/sensitivity.md); null = none")

    @model_validator(mode="after")
    def _sensitivity_endpoints(self):
        """``sensitivity.endpoints`` names endpoints of the plan; its columns are not the id or the arm."""
        s = self.sensitivity
        if s is None:
            return self
        names = [e.name for e in self.endpoints]
        unknown = [e for e in (s.endpoints or []) if e not in names]
        if unknown:
            raise ValueError(f"sensitivity.endpoints: unknown endpoint(s) {unknown} (the plan has {names})")
        for key, col in (("sensitivity.exposure_start", s.exposure_start), ("sensitivity.centre", s.centre)):
            if col is not None and col in (self.id, self.arm.column):
                raise ValueError(f"{key}: {col!r} is the {'id' if col == self.id else 'arm'} column")
        return self

    @model_validator(mode="after")
    def _roles(self):
        """The id and the arm identify rows and groups; neither can be a covariate or matched on."""
        for key, names in (("covariates", self.covariates), ("categorical", self.categorical),
                           ("nonnormal", self.nonnormal), ("matching.on", self.matching.on if self.matching else [])):
            for role, col in (("id column (one value per patient)", self.id), ("arm column", self.arm.column)):
                if col in names:  # the same words as analysis.run.prepare, which checks it too
                    raise ValueError(f"{key}: {col!r} is the {role}: it cannot be a covariate")
        return self

    @field_validator("covariates")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("list at least one covariate")
        if len(set(v)) != len(v):
            raise ValueError("a covariate is listed twice")
        return v

    def with_data(self, data: str | Path, base_dir: str | Path = ".") -> AnalysisConfig:
        """This plan applied to a table (``data``: its path, relative to ``base_dir``; only a label when
        the table is given to :func:`hccstudy.analyze` directly)."""
        fields = {k: getattr(self, k) for k in AnalysisPlan.model_fields}
        return AnalysisConfig.model_validate({**fields, "data": data, "base_dir": Path(base_dir)})

    def to_yaml(self) -> str:
        """The plan as YAML that :func:`load_plan` reads back to an equal plan (``hccstudy plan --show``)."""
        return yaml.safe_dump(self.model_dump(), sort_keys=False, allow_unicode=True,
                              default_flow_style=None, width=100)


class _Data(_Strict):
    data: Path


class AnalysisConfig(AnalysisPlan, _Data):
    """Root of the generic analysis config (documented in ``docs/analyze.md``): an
    :class:`AnalysisPlan` and the table it is applied to (``data``, first in the key order)."""

    base_dir: Path = Field(Path("."), exclude=True, description="folder the data path is relative to")

    @property
    def data_path(self) -> Path:
        return self.data if self.data.is_absolute() else self.base_dir / self.data

    @property
    def plan(self) -> AnalysisPlan:
        """The config without its table."""
        return AnalysisPlan.model_validate({k: getattr(self, k) for k in AnalysisPlan.model_fields})


#: the built-in study's plan, shipped as package data
BUILTIN_PLAN = "study_plan.yaml"


def builtin_plan_mapping() -> dict:
    """The built-in plan as the mapping in ``hccstudy/data/study_plan.yaml`` (a fresh copy)."""
    return copy.deepcopy(_builtin_mapping())


@functools.cache
def _builtin_mapping() -> dict:
    text = (files("hccstudy") / "data" / BUILTIN_PLAN).read_text(encoding="utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict):  # a packaging defect, not a user mistake
        raise RuntimeError(f"hccstudy/data/{BUILTIN_PLAN} is not a mapping")
    if "labels" not in data:  # the built-in study's variable dictionary is its plan's labels
        from .labels import _builtin_text

        data["labels"] = load_yaml(_builtin_text())
    return data


@functools.cache
def builtin_plan() -> AnalysisPlan:
    """The built-in study's analysis plan (``docs/spec/study.md``, Analysis plan; ``hccstudy plan --show``)."""
    return load_plan(builtin_plan_mapping())


def load_plan(source: str | Path | dict, overrides: Iterable[str] = ()) -> AnalysisPlan:
    """Validate an analysis plan from a YAML file or a mapping, as it stands (no merge onto the built-in
    plan; that is study.yaml's ``analysis:``, :func:`hccstudy.load_config`).  ``overrides``: ``--set``
    assignments (``matching.caliper=0.1``) applied before validation."""
    where, data = ("", dict(source)) if isinstance(source, dict) else (f"{source}: ", read_mapping(Path(source)))
    return validate_with(AnalysisPlan, data, overrides, where)


def load_analysis_config(source: str | Path | dict, base_dir: str | Path | None = None,
                         overrides: Iterable[str] = ()) -> AnalysisConfig:
    """Read and validate an analysis config from a YAML file or a dict (``base_dir``: where ``data``
    is relative to; default: the YAML file's folder, or the working directory for a dict).
    ``overrides``: ``--set`` assignments (``matching.caliper=0.1``) merged onto the file's mapping before
    validation (:mod:`hccstudy._overrides`); an error they cause names them."""
    if isinstance(source, dict):
        data = dict(source)
        base = Path(base_dir) if base_dir is not None else Path(".")
        where = ""
    else:
        p = Path(source)
        data = read_mapping(p)
        base = Path(base_dir) if base_dir is not None else p.parent
        where = f"{p}: "

    def with_base(mapping: dict) -> dict:
        if "base_dir" in mapping:
            raise ConfigError(where + "base_dir: not a config key")
        return {**mapping, "base_dir": base}

    return validate_with(AnalysisConfig, data, overrides, where, prepare=with_base)
