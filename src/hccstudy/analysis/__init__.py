"""The generic analysis of an analysis-ready table (``hccstudy analyze CONFIG.yaml``).

The public names are imported on first use (PEP 562 module ``__getattr__``), so that reading a config
(``hccstudy.analysis.config``, e.g. by ``hccstudy validate``) does not import the estimators and scipy."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_LAZY = {
    "AnalysisConfig": ".config", "load_analysis_config": ".config",
    "AdverseEventSummary": ".records", "EndpointResult": ".records", "HazardRatio": ".records",
    "ResponseSummary": ".records", "SurvivalComparison": ".records",
    "AnalysisError": ".run", "Results": ".run", "analyze": ".run",
    "write_results": ".write",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the eager imports these names stand for
    from .config import AnalysisConfig, load_analysis_config
    from .records import AdverseEventSummary, EndpointResult, HazardRatio, ResponseSummary, SurvivalComparison
    from .run import AnalysisError, Results, analyze
    from .write import write_results


def __getattr__(name: str):
    """Import a public name on first access and keep it in the module."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["AdverseEventSummary", "AnalysisConfig", "AnalysisError", "EndpointResult", "HazardRatio", "ResponseSummary",
           "Results", "SurvivalComparison", "analyze", "load_analysis_config", "write_results"]
