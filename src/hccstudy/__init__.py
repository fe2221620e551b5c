"""hccstudy: a multicentre comparative-effectiveness study of HCC treatment, from raw patient
records to the tables and figures of a journal article.

The public names below are imported on first use (PEP 562 module ``__getattr__``), so that
``import hccstudy`` (and the ``hccstudy`` command, whose ``--help`` must answer at once) does not load
pandas, scipy and matplotlib before they are needed; ``hccstudy.run_study``, ``hccstudy.Results``,
``from hccstudy import analyze`` ... work as if imported eagerly.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

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


def __getattr__(name: str):
    """Import a public name on first access and keep it in the module (later accesses are plain).  A
    subpackage not imported yet (``hccstudy.synth.DEFAULT_SEED`` after ``import hccstudy``) is imported
    too, as the eager imports of the package once did."""
    module = _LAZY.get(name)
    if module is None:
        if name.startswith("__") or find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module 'hccstudy' has no attribute {name!r}")
        return import_module(f"{__name__}.{name}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def example_study_path() -> Path:
    """The small hand-made three-centre example study shipped with the package."""
    from .examples import example_path

    return example_path("study")


__all__ = [
    "AnalysisConfig", "AnalysisPlan", "ConfigError", "Results", "analyze", "Study", "StudyConfig", "StudyInputError",
    "StudyRun", "ValidationReport", "__version__", "builtin_plan", "example_path", "example_study_path", "load_config",
    "load_study", "run_study",
]
