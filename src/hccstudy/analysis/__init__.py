"""The generic analysis of an analysis-ready table (``hccstudy analyze CONFIG.yaml``)."""

from .config import AnalysisConfig, load_analysis_config
from .run import AnalysisError, Results, analyze
from .write import write_results

__all__ = ["AnalysisConfig", "AnalysisError", "Results", "analyze", "load_analysis_config", "write_results"]
