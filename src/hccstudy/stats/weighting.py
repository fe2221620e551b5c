"""Inverse probability of treatment weights from a propensity score, as R ``WeightIt`` computes them
(``get_w_from_ps``; Greifer, WeightIt 0.14-1.x), with Kish's effective sample size.

With e = P(treated | X) (the propensity score) and a binary arm indicator T:

============  ==========================  ==============================  ======================
estimand      treated (T = 1)             control (T = 0)                 target population
============  ==========================  ==============================  ======================
``ATE``       1 / e                       1 / (1 - e)                     everyone
``ATT``       1                           e / (1 - e)                     the treated
``ATC``       (1 - e) / e                 1                               the controls
``ATO``       1 - e                       e                               the overlap population
============  ==========================  ==============================  ======================

(Rosenbaum 1987; Hirano, Imbens and Ridder 2003; overlap weights: Li, Morgan and Zaslavsky 2018.)

**Stabilisation** (``stabilize=True``) follows WeightIt's ``stabilize_w``: every unit's weight is
multiplied by the proportion of the sample in its own arm, P(T = t) (Robins, Hernán and Brumback 2000;
Xu et al. 2010).  For the ATE this gives weights that average ~1 in each arm and a pseudo-population of
the original size.  WeightIt applies the same multiplication whatever the estimand, and so does this
function; for every estimand it multiplies each arm by one constant, so weighted means, balance
statistics and per-arm weighted Kaplan-Meier curves are unchanged, while estimates that pool the arms
(a weighted Cox model's risk sets, the ESS of the whole sample) do change.  For ATT, ATC and ATO
stabilisation has no standard justification; it is offered only for parity with WeightIt.

**Trimming** (``trim=(lo, hi)``, e.g. ``(0.01, 0.99)``) trims the *sample*, not the weights: units
whose propensity score lies outside the [lo, hi] percentiles of the scores of the whole sample
(R's ``quantile`` type 7, numpy's default 'linear') get weight 0, i.e. they are excluded (Crump et al.
2009; Stürmer et al. 2010, "asymmetric trimming" uses arm-specific cut-offs and is not done here).
Units exactly on a cut-off are kept.  The propensity score is not re-estimated on the trimmed sample,
and the stabilisation proportions are those of the retained units.

**Effective sample size** (Kish 1965): ESS = (sum w)^2 / sum w^2, per arm (cobalt's "Adjusted" sample
size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Estimand = Literal["ATE", "ATT", "ATC", "ATO"]
ESTIMANDS: tuple[str, ...] = ("ATE", "ATT", "ATC", "ATO")


@dataclass(frozen=True)
class Weights:
    """IPT weights of one estimand: ``w`` (0 for trimmed units), ``trimmed_mask`` (True = excluded by
    trimming), and Kish's effective sample size per arm."""

    w: np.ndarray
    estimand: str
    stabilized: bool
    trimmed_mask: np.ndarray
    ess_treated: float
    ess_control: float

    @property
    def n_trimmed(self) -> int:
        return int(self.trimmed_mask.sum())


def _check(ps, treated) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(ps, dtype=float)
    t = np.asarray(treated)
    if e.shape != t.shape or e.ndim != 1:
        raise ValueError(f"ps and treated must be 1-d arrays of the same length (got {e.shape} and {t.shape})")
    if t.dtype != bool:
        if not np.isin(t, [0, 1]).all():
            raise ValueError("treated must be boolean or 0/1")
        t = t.astype(bool)
    if np.isnan(e).any():
        raise ValueError(f"ps has {int(np.isnan(e).sum())} missing value(s)")
    if ((e <= 0) | (e >= 1)).any():
        raise ValueError("ps must lie strictly between 0 and 1 (a score of 0 or 1 gives an infinite weight)")
    return e, t


def trim_mask(ps, trim: tuple[float, float]) -> np.ndarray:
    """True for the units outside the [lo, hi] percentiles of ``ps`` (type-7 quantiles): excluded."""
    lo, hi = trim
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"trim must be (lo, hi) with 0 <= lo < hi <= 1, got {trim!r}")
    e = np.asarray(ps, dtype=float)
    qlo, qhi = np.quantile(e, [lo, hi])
    return (e < qlo) | (e > qhi)


def iptw_weights(ps, treated, estimand: Estimand = "ATE", stabilize: bool = False,
                 trim: tuple[float, float] | None = None) -> np.ndarray:
    """IPT weights for ``estimand`` (table in the module docstring); trimmed units get weight 0.
    Use :func:`iptw` for the mask and the effective sample sizes as well."""
    return iptw(ps, treated, estimand, stabilize, trim).w


def iptw(ps, treated, estimand: Estimand = "ATE", stabilize: bool = False,
            trim: tuple[float, float] | None = None) -> Weights:
    """:func:`iptw_weights` with the trimming mask and Kish's ESS per arm, as a :class:`Weights`."""
    e, t = _check(ps, treated)
    est = str(estimand).upper()
    if est == "ATE":
        w = np.where(t, 1 / e, 1 / (1 - e))
    elif est == "ATT":
        w = np.where(t, 1.0, e / (1 - e))
    elif est == "ATC":
        w = np.where(t, (1 - e) / e, 1.0)
    elif est == "ATO":
        w = np.where(t, 1 - e, e)
    else:
        raise ValueError(f"estimand must be one of {', '.join(ESTIMANDS)}, got {estimand!r}")
    mask = trim_mask(e, trim) if trim is not None else np.zeros(len(e), dtype=bool)
    w = np.where(mask, 0.0, w)
    if stabilize:
        keep = ~mask
        n = keep.sum()
        p1 = (t & keep).sum() / n if n else 0.0
        w = w * np.where(t, p1, 1 - p1)
    return Weights(w, est, bool(stabilize), mask, effective_sample_size(w[t]), effective_sample_size(w[~t]))


def effective_sample_size(w) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (0 when no unit carries weight)."""
    w = np.asarray(w, dtype=float)
    s2 = float(np.dot(w, w))
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0
