"""hccstudy: a multicentre comparative-effectiveness study of HCC treatment, from raw patient
records to the tables and figures of a journal article.

The public names below are imported on first use (PEP 562 module ``__getattr__``), so that
``import hccstudy`` (and the ``hccstudy`` command, whose ``--help`` must answer at once) does not load
pandas, scipy and matplotlib before they are needed; ``hccstudy.run_study``, ``hccstudy.Results``,
``from hccstudy import analyze`` ... work as if imported eagerly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._lazy import lazy_names

__version__ = "0.1.0"  # read by hccstudy.output and the `version` command

#: public name -> the module (relative to this package) that defines it
_LAZY = {
    "ConfigError": "._yaml",
    "AnalysisConfig": ".analysis", "Results": ".analysis", "analyze": ".analysis",
    "AnalysisPlan": ".analysis.config", "builtin_plan": ".analysis.config",
    "Study": ".cohort.study", "load_study": ".cohort.study",
    "StudyConfig": ".config", "load_config": ".config",
    "example_path": ".examples",
    "StudyRun": ".pipeline", "run_study": ".pipeline",
    "StudyInputError": ".schema", "ValidationReport": ".schema",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from ._yaml import ConfigError
    from .analysis import AnalysisConfig, Results, analyze
    from .analysis.config import AnalysisPlan, builtin_plan
    from .cohort.study import Study, load_study
    from .config import StudyConfig, load_config
    from .examples import example_path
    from .pipeline import StudyRun, run_study
    from .schema import StudyInputError, ValidationReport


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), subpackages=True)


def example_study_path() -> Path:
    """The small hand-made three-centre example study shipped with the package."""
    from .examples import example_path

    return example_path("study")


__all__ = [
    "AnalysisConfig", "AnalysisPlan", "ConfigError", "Results", "analyze", "Study", "StudyConfig", "StudyInputError",
    "StudyRun", "ValidationReport", "__version__", "builtin_plan", "example_path", "example_study_path", "load_config",
    "load_study", "run_study",
]
