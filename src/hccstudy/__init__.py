"""hccstudy: a multicentre comparative-effectiveness study of HCC treatment, from raw patient
records to the tables and figures of a journal article."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ._yaml import ConfigError
from .analysis import AnalysisConfig, Results, analyze
from .analysis.config import AnalysisPlan, builtin_plan
from .cohort.study import Study, load_study
from .config import StudyConfig, load_config
from .schema import StudyInputError, ValidationReport

__version__ = "0.1.0"


def example_study_path() -> Path:
    """The small hand-made three-centre example study shipped with the package."""
    return Path(str(files("hccstudy") / "data" / "example"))


__all__ = [
    "AnalysisConfig", "AnalysisPlan", "ConfigError", "Results", "analyze", "Study", "StudyConfig", "StudyInputError", "ValidationReport", "__version__",
    "builtin_plan", "example_study_path", "load_config", "load_study",
]
