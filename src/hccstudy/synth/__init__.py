"""The calibrated synthetic five-centre cohort (the embedded default data of ``hccstudy run``)."""

from .generate import Calibration, SyntheticCohort, generate
from .write import write_cohort

#: the seed of the default cohort used by ``hccstudy run`` with no study folder
DEFAULT_SEED = 6  # chosen as the most paper-like of seeds 1-30; see hccstudy.synth.seeds

__all__ = ["DEFAULT_SEED", "Calibration", "SyntheticCohort", "generate", "write_cohort"]
