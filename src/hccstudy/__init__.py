"""hccstudy: a multicentre comparative-effectiveness study of HCC treatment, from raw patient
records to the tables and figures of a journal article."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"  # before the imports below: hccstudy.output reads it

from ._yaml import ConfigError
from .analysis import AnalysisConfig, Results, analyze
from .analysis.config import AnalysisPlan, builtin_plan
from .cohort.study import Study, load_study
from .config import StudyConfig, load_config
from .examples import example_path
from .pipeline import StudyRun, run_study
from .schema import StudyInputError, ValidationReport


def example_study_path() -> Path:
    """The small hand-made three-centre example study shipped with the package."""
    return example_path("study")


__all__ = [
    "AnalysisConfig", "AnalysisPlan", "ConfigError", "Results", "analyze", "Study", "StudyConfig", "StudyInputError",
    "StudyRun", "ValidationReport", "__version__", "builtin_plan", "example_path", "example_study_path", "load_config",
    "load_study", "run_study",
]
