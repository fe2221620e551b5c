"""The weighted Kaplan–Meier curve per arm of one IPTW estimand (docs/sensitivity.md, "Weighting").

Each arm's curve is :func:`hccstudy.stats.km.kaplan_meier` with the estimand's weights (units of
weight 0, i.e. trimmed, left out), as R's ``survfit(Surv(time, status) ~ arm, weights = w)``:
n_j and d_j are sums of weights, S(t) = prod (1 - d_j / n_j).  The variance is chosen ONCE for the
whole call, as ``survfitKM`` does over all the weights it is given: the infinitesimal-jackknife
(robust) variance when any weight of either arm is not a whole number, Greenwood otherwise -- so the
treated arm of ATT (weights all 1) still gets the robust SE when the controls' weights are fractional.
Reported per arm: the median and its CI (``print.survfit``'s rule) and the survival with its CI at the
endpoint's landmarks (``summary(fit, times, extend = TRUE)``), in the plan's ``km.conf_type`` /
``km.conf_level``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stats.km import ConfType, KaplanMeier, kaplan_meier


def _num(x: float) -> float | None:
    """A JSON number, None for NaN (a median not reached, a band undefined where S = 0)."""
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class WeightedKM:
    """The weighted KM of one estimand and endpoint: ``curves`` (arm label -> :class:`KaplanMeier`,
    treated first), the variance used (``"robust"`` or ``"greenwood"``) and the landmark times."""

    estimand: str
    variance: str
    conf_type: str
    conf_level: float
    landmarks: tuple[float, ...]
    curves: dict[str, KaplanMeier]

    def to_dict(self) -> dict:
        arms = {}
        for arm, km in self.curves.items():
            med, lo, hi = km.median
            at = km.surv_at(list(self.landmarks))
            arms[arm] = {"n": km.n, "events": km.events, "median": _num(med), "median_lcl": _num(lo),
                         "median_ucl": _num(hi),
                         "landmarks": [{"time": float(r.time), "n_risk": float(r.n_risk), "surv": _num(r.surv),
                                        "lower": _num(r.lower), "upper": _num(r.upper)} for r in at.itertuples(index=False)]}
        return {"variance": self.variance, "conf_type": self.conf_type, "conf_level": self.conf_level, "arms": arms}

    def table(self) -> pd.DataFrame:
        """One row per arm: estimand, arm, variance, n, events, median, median_lcl, median_ucl, then per
        landmark t surv_<t>, lower_<t>, upper_<t> (the CSV sensitivity_weighted_km_<endpoint>.csv)."""
        rows = []
        for arm, v in self.to_dict()["arms"].items():
            row = {"estimand": self.estimand, "arm": arm, "variance": self.variance, "n": v["n"], "events": v["events"],
                   "median": v["median"], "median_lcl": v["median_lcl"], "median_ucl": v["median_ucl"]}
            for lm in v["landmarks"]:
                row.update({f"{k}_{lm['time']:g}": lm[k] for k in ("surv", "lower", "upper")})
            rows.append(row)
        return pd.DataFrame(rows)


def weighted_km(time: np.ndarray, event: np.ndarray, treated: np.ndarray, w: np.ndarray, labels: dict,
                estimand: str, landmarks, conf_level: float = 0.95, conf_type: ConfType = "log") -> WeightedKM:
    """The weighted KM per arm (module docstring); ``treated``: bool per unit, ``labels``: the arms'
    display labels (``labels["treated"]``, ``labels["control"]``); an arm with no weighted unit is absent."""
    time, event, treated, w = (np.asarray(time, dtype=float), np.asarray(event).astype(bool),
                               np.asarray(treated).astype(bool), np.asarray(w, dtype=float))
    keep = w > 0
    robust = bool((w[keep] != np.floor(w[keep])).any())  # survfitKM: once over every weight of the call
    curves = {}
    for arm, rows in ((labels["treated"], keep & treated), (labels["control"], keep & ~treated)):
        if rows.any():
            curves[arm] = kaplan_meier(time[rows], event[rows], conf_level, conf_type, weights=w[rows], robust=robust)
    return WeightedKM(estimand, "robust" if robust else "greenwood", conf_type, float(conf_level),
                      tuple(float(t) for t in landmarks), curves)


__all__ = ["WeightedKM", "weighted_km"]
