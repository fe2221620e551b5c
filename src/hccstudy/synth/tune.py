"""Re-derive the outcome constants of :class:`~hccstudy.synth.generate.Calibration` by simulation.

``python -m hccstudy.synth.tune [N_SCREENED] [ITERATIONS]`` generates a large cohort, runs the real
pipeline and the paper's matching, and updates the constants by fixed-point steps:

* OS hazard on each interval x the geometric mean over arms of (published / recovered) increments of
  the cumulative hazard -log S(t) at 6, 12 and 24 months (the last interval follows the 12-24 one);
* PFS: the first interval (before the first scan) from the share of best response PD; the rest from
  the published medians;
* loss to follow-up per arm x (recovered / published) median follow-up (median observation time).

It prints the new constants for pasting into ``Calibration``; it is a development tool, not used at
run time.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace

import numpy as np

from ..cohort.study import load_study
from ..stats.km import kaplan_meier
from . import targets as T
from .calibration import match_reference
from .generate import Calibration, generate
from .write import write_cohort

#: weight of each arm (SE, SI) in the OS hazard update per interval (rows: 0-6, 6-12, 12-24 months).
#: SE patients cannot die before their systemic therapy starts (they would not be SE), so the SE curve
#: is flat early and no proportional-hazards baseline fits both arms' 6-month rates; the first interval
#: leans to SI's (0.65), the later ones weigh both arms equally.
OS_ARM_WEIGHT = (np.array([0.35, 0.5, 0.5]), np.array([0.65, 0.5, 0.5]))


def _measure(cal: Calibration, n: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        write_cohort(generate(seed, n, cal), d, excel=False)
        study = load_study(d)
    a = study.analysis
    m = match_reference(a).matched
    out = {}
    for i, arm in enumerate(("SE", "SI")):
        s = m[m["arm"] == arm]
        os_ = kaplan_meier(s["os_months"], s["os_event"] == 1).surv_at([6, 12, 24])["surv"].to_numpy()
        pfs = kaplan_meier(s["pfs_months"], s["pfs_event"] == 1)
        out[arm] = {
            "os": os_, "pfs_at_median": float(pfs.surv_at([T.PFS_MEDIAN[i]])["surv"][0]),
            "pd": float((a.loc[a["arm"] == arm, "bor"] == "PD").mean()),
            "fu": float(np.median(s["os_months"])),
            "os_median": kaplan_meier(s["os_months"], s["os_event"] == 1).median[0], "pfs_median": pfs.median[0],
        }
    return out


def tune(n: int = 40000, iterations: int = 6, seed: int = 7, cal: Calibration | None = None) -> Calibration:
    cal = cal or Calibration()
    pd_target = [T.RESPONSE["PD"][i] / sum(v[i] for v in T.RESPONSE.values()) for i in (0, 1)]
    for it in range(iterations):
        r = _measure(cal, n, seed)
        print(f"iter {it}: " + "; ".join(
            f"{arm} OS {np.round(r[arm]['os'], 3)} med {r[arm]['os_median']:.1f} PFS med {r[arm]['pfs_median']:.1f} "
            f"PD {r[arm]['pd']:.3f} FU {r[arm]['fu']:.1f}" for arm in ("SE", "SI")), flush=True)
        f_os = np.ones(3)
        for i, arm in enumerate(("SE", "SI")):
            tgt = -np.log([T.OS_RATES[t][i] for t in (6, 12, 24)])
            rec = -np.log(np.clip(r[arm]["os"], 1e-6, 1))
            f_os *= (np.diff(np.r_[0, tgt]) / np.maximum(np.diff(np.r_[0, rec]), 1e-6)) ** OS_ARM_WEIGHT[i]
        os_h = np.asarray(cal.os_hazard) * np.r_[f_os, f_os[-1]]
        f_first = np.sqrt(np.prod([np.log(1 - pd_target[i]) / np.log(1 - r[a]["pd"]) for i, a in enumerate(("SE", "SI"))]))
        f_rest = np.sqrt(np.prod([np.log(0.5) / np.log(r[a]["pfs_at_median"]) for a in ("SE", "SI")]))
        pfs_h = np.asarray(cal.pfs_hazard) * np.r_[f_first, f_rest, f_rest, f_rest]
        ltfu = tuple(float(x * r[a]["fu"] / T.MEDIAN_FOLLOWUP[i]) for i, (x, a) in enumerate(zip(cal.ltfu_rate, ("SE", "SI"), strict=True)))
        cal = replace(cal, os_hazard=tuple(np.round(os_h, 5)), pfs_hazard=tuple(np.round(pfs_h, 5)), ltfu_rate=ltfu)
        print(f"  -> os_hazard={cal.os_hazard} pfs_hazard={cal.pfs_hazard} ltfu_rate={tuple(round(x, 5) for x in ltfu)}", flush=True)
    return cal


if __name__ == "__main__":
    args = [int(x) for x in sys.argv[1:]]
    tune(*args)
