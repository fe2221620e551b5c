"""The generic analysis of an analysis-ready table (``hccstudy analyze CONFIG.yaml``).

The public names are imported on first use (PEP 562 module ``__getattr__``), so that reading a config
(``hccstudy.analysis.config``, e.g. by ``hccstudy validate``) does not import the estimators and scipy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

_LAZY = {
    "AnalysisConfig": ".config", "load_analysis_config": ".config",
    "AdverseEventSummary": ".records", "EndpointResult": ".records", "HazardRatio": ".records",
    "ResponseSummary": ".records", "SurvivalComparison": ".records",
    "AnalysisError": ".run", "Results": ".run", "analyze": ".run",
    "write_results": ".write",
    "SensitivitySpec": ".config", "EndpointSensitivity": ".sensitivity", "SensitivityEstimate": ".sensitivity",
    "sensitivity_table": ".sensitivity",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the eager imports these names stand for
    from .config import AnalysisConfig, SensitivitySpec, load_analysis_config
    from .records import AdverseEventSummary, EndpointResult, HazardRatio, ResponseSummary, SurvivalComparison
    from .run import AnalysisError, Results, analyze
    from .sensitivity import EndpointSensitivity, SensitivityEstimate, sensitivity_table
    from .write import write_results


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())

__all__ = ["AdverseEventSummary", "AnalysisConfig", "AnalysisError", "EndpointResult", "EndpointSensitivity", "HazardRatio",
           "ResponseSummary", "Results", "SensitivityEstimate", "SensitivitySpec", "SurvivalComparison", "analyze",
           "load_analysis_config", "sensitivity_table", "write_results"]
