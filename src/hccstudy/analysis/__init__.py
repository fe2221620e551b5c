"""The generic analysis of an analysis-ready table (``hccstudy analyze CONFIG.yaml``)."""

from .config import AnalysisConfig, load_analysis_config
from .records import AdverseEventSummary, EndpointResult, HazardRatio, ResponseSummary, SurvivalComparison
from .run import AnalysisError, Results, analyze
from .write import write_results

__all__ = ["AdverseEventSummary", "AnalysisConfig", "AnalysisError", "EndpointResult", "HazardRatio", "ResponseSummary",
           "Results", "SurvivalComparison", "analyze", "load_analysis_config", "write_results"]
