"""The whole study.yaml: the cohort's keys (:class:`~hccstudy.cohort.config.CohortConfig`) and the
analysis plan (``analysis:``), documented in docs/config.md.

This module sits above the cohort and analysis layers, so that neither imports the other to read one
file.  Keys of study.yaml that belong to a layer are validated by that layer's model; this root adds
them together (a future sibling such as ``labels:`` is one more field here, and one more name in
:data:`hccstudy.cohort.config.ABOVE_COHORT`).

``analysis:`` semantics: the mapping given is deep-merged onto the built-in plan
(``hccstudy/data/study_plan.yaml``; ``hccstudy plan --show`` prints it): mappings merge key by key,
lists and scalars replace, ``null`` removes an optional section (``matching: null``: no matching).  The
result is validated as an :class:`~hccstudy.analysis.config.AnalysisPlan`; an error names the key
from ``analysis.`` down, after the file.  No ``analysis:`` key: the built-in plan.

``overrides`` / ``--set KEY=VALUE``: merged onto the file's mapping before all of this, so an
override is validated like the file (:mod:`hccstudy._overrides`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import Field, model_validator

from ._overrides import deep_merge, validate_with
from ._yaml import read_mapping
from .analysis.config import AnalysisPlan, builtin_plan, builtin_plan_mapping
from .cohort.config import CohortConfig


class StudyConfig(CohortConfig):
    """Root of study.yaml: the cohort's keys and ``analysis:`` (the plan, merged onto the built-in one)."""

    analysis: AnalysisPlan = Field(default_factory=builtin_plan,
                                   description="the analysis plan, merged onto the built-in one")

    @model_validator(mode="before")
    @classmethod
    def _plan_onto_builtin(cls, data):
        """``analysis:`` as given is laid over the built-in plan before it is validated."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        if isinstance(out.get("analysis"), Mapping):
            out["analysis"] = deep_merge(builtin_plan_mapping(), out["analysis"])
        if "labels" in out:  # top-level labels: laid over the plan's, entry by entry, field by field
            labels = out.pop("labels")
            if labels is not None and not isinstance(labels, Mapping):
                raise ValueError("labels: give a mapping of variable name -> {label, unit, levels, order}")
            plan = dict(out["analysis"]) if isinstance(out.get("analysis"), Mapping) else builtin_plan_mapping()
            merged = dict(plan.get("labels") or {})
            for name, entry in (labels or {}).items():
                base = merged.get(name)
                merged[name] = ({**base, **entry} if isinstance(base, Mapping) and isinstance(entry, Mapping)
                                else entry)
            out["analysis"] = {**plan, "labels": merged}
        return out


def load_config(path: str | Path | None = None, overrides: Mapping | None = None,
                assignments: Iterable[str] = ()) -> StudyConfig:
    """Read and validate a YAML study config (``None``: all defaults, the built-in plan).

    ``overrides``: a mapping deep-merged onto the file's mapping; ``assignments``: ``--set``
    ``KEY=VALUE`` texts (``analysis.matching.caliper=0.1``), merged after it.  Both are validated like
    the file; an error an assignment causes names it."""
    data: dict = read_mapping(path) if path is not None else {}
    where = f"{path}: " if path is not None else ""
    if overrides:
        data = deep_merge(data, overrides)

    return validate_with(StudyConfig, data, assignments, where)


__all__ = ["StudyConfig", "load_config"]
