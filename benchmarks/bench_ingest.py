"""Benchmark: load, validate and derive a large multi-centre study.

    python benchmarks/bench_ingest.py [--patients 10000 100000 1000000] [--json benchmarks/results/ingest.json]

Generates (vectorised, untimed) a study of N patients in five CSV centres with HAIC cycles (~4 per
patient), systemic courses (2), longitudinal labs (7 tests x 4 dates), imaging (2 target lesions x 5
scans) and adverse events, then times ``hccstudy.load_study`` in a fresh process and reports wall time
and peak resident memory.  Targets: 100,000 patients in under 30 s and 4 GB on 2 cores (issue 2); the
whole ``hccstudy run`` at 1,000,000 patients in 60 s and 8 GB (issue 13), of which this is the ingest.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import RESULTS, child, report

TESTS = {"alt": (40, 15, "U/L", 40, None), "ast": (45, 15, "U/L", 40, None), "bilirubin": (18, 6, "µmol/L", 21, None),
         "albumin": (38, 4, "g/L", None, 35), "haemoglobin": (130, 15, "g/L", None, 130),
         "neutrophils": (3.5, 1.0, "10^9/L", None, 2.0), "platelets": (160, 50, "10^9/L", None, 125)}


def _d(days: np.ndarray, base: str = "2018-01-01") -> np.ndarray:
    return (np.datetime64(base) + days.astype("timedelta64[D]")).astype(str)


def make_study(root: Path, n: int, seed: int = 1) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    centre = rng.choice(5, size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    pid = np.arange(n)
    start = rng.integers(0, 1500, n)
    ncyc = rng.integers(2, 7, n)
    si = rng.random(n) < 0.6
    death = np.where(rng.random(n) < 0.5, start + rng.integers(200, 900, n), -1)
    fu = np.where(death >= 0, death, start + rng.integers(150, 1000, n))
    patients = pd.DataFrame({
        "patient_id": pid, "sex": rng.choice(["male", "female"], n, p=[0.9, 0.1]), "age": rng.integers(25, 80, n),
        "height_cm": rng.normal(168, 7, n).round(1).clip(140, 200), "weight_kg": rng.normal(65, 10, n).round(1).clip(40, 120),
        "hbv": rng.choice(["yes", "no"], n, p=[0.93, 0.07]), "ecog": rng.choice([0, 1, 2], n, p=[0.5, 0.45, 0.05]),
        "other_malignancy": "no", "prior_systemic_therapy": "no", "tace_during_haic": "no",
        "bilirubin": rng.lognormal(2.9, 0.35, n).round(1).clip(3, 200), "albumin": rng.normal(38, 4, n).round(1).clip(15, 55),
        "inr": rng.normal(1.1, 0.12, n).round(2).clip(0.8, 3), "ascites": rng.choice(["none", "mild"], n, p=[0.85, 0.15]),
        "encephalopathy": "none", "alt": rng.integers(15, 120, n), "ast": rng.integers(15, 150, n),
        "haemoglobin": rng.integers(90, 170, n), "neutrophils": rng.normal(3.5, 1, n).round(2).clip(0.5, 12),
        "platelets": rng.integers(50, 350, n), "afp": rng.lognormal(5, 2.5, n).round(1).clip(1, 1e6),
        "tumour_number": rng.integers(1, 6, n), "max_diameter_cm": rng.normal(10.7, 4, n).round(1).clip(1, 25),
        "mvi": rng.choice(["yes", "no"], n, p=[0.8, 0.2]), "ehs": rng.choice(["yes", "no"], n, p=[0.53, 0.47]),
        "first_haic_date": _d(start), "death_date": np.where(death >= 0, _d(np.maximum(death, 0)), ""),
        "last_followup_date": _d(fu),
    })
    # cycles
    ci = np.repeat(pid, ncyc)
    cyc_no = np.arange(len(ci)) - np.repeat(np.cumsum(ncyc) - ncyc, ncyc) + 1
    cycles = pd.DataFrame({"patient_id": ci, "cycle": cyc_no, "date": _d(start[ci] + 21 * (cyc_no - 1)),
                           "oxaliplatin_mg": 145.0, "folinate_mg": 340.0, "fluorouracil_bolus_mg": 680.0,
                           "fluorouracil_infusion_mg": 3600.0})
    last = start + 21 * (ncyc - 1)
    sys_start = np.where(si, start + 7, last + 21)
    systemic = pd.DataFrame({"patient_id": np.repeat(pid, 2), "agent": np.tile(["lenvatinib", "sintilimab"], n),
                             "drug_class": np.tile(["tki", "pd1"], n), "start_date": _d(np.repeat(sys_start, 2))})
    # labs: 7 tests x 4 dates (baseline, then every 3 weeks)
    k = 4
    lp = np.repeat(pid, k * len(TESTS))
    li = np.tile(np.repeat(np.arange(k), len(TESTS)), n)
    lt = np.tile(np.array(list(TESTS)), n * k)
    mu = np.tile(np.array([v[0] for v in TESTS.values()], dtype=float), n * k)
    sd = np.tile(np.array([v[1] for v in TESTS.values()], dtype=float), n * k)
    labs = pd.DataFrame({"patient_id": lp, "date": _d(start[lp] - 3 + 21 * li), "test": lt,
                         "value": np.abs(rng.normal(mu, sd)).round(2) + 0.1,
                         "unit": np.tile(np.array([v[2] for v in TESTS.values()]), n * k),
                         "uln": np.tile(np.array([v[3] for v in TESTS.values()], dtype=float), n * k),
                         "lln": np.tile(np.array([v[4] for v in TESTS.values()], dtype=float), n * k)})
    labs = labs[pd.to_datetime(labs["date"]).to_numpy() <= pd.to_datetime(patients["last_followup_date"]).to_numpy()[labs["patient_id"]]]
    # assessments: 2 target lesions, baseline + 4 scans every 6 weeks
    s = 5
    ap = np.repeat(pid, 2 * s)
    si_ = np.tile(np.repeat(np.arange(s), 2), n)
    base = rng.integers(20, 80, (n, 2))
    shrink = rng.uniform(0.4, 1.3, (n, 2))
    frac = si_ / (s - 1)
    lesion = np.tile([0, 1], n * s)
    dia = np.rint(base[ap, lesion] * (1 + (shrink[ap, lesion] - 1) * frac)).astype(int)
    days = np.where(si_ == 0, start[ap] - 7, start[ap] + 42 * si_)
    assessments = pd.DataFrame({"patient_id": ap, "date": _d(days), "lesion_id": np.where(lesion == 0, "L1", "L2"),
                                "lesion_type": "target", "viable_diameter_mm": dia})
    assessments = assessments[days <= fu[ap]]
    aes = pd.DataFrame({"patient_id": pid, "term": rng.choice(["fever", "nausea", "rash"], n),
                        "grade": rng.integers(1, 4, n), "onset_date": _d(start + 3)})
    counts = {}
    tables = {"patients": patients, "haic_cycles": cycles, "systemic": systemic, "labs": labs,
              "assessments": assessments, "adverse_events": aes}
    for c in range(5):
        folder = root / f"centre_{c + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        keep = pid[centre == c]
        for name, df in tables.items():
            part = df[np.isin(df["patient_id"].to_numpy(), keep)]
            part.to_csv(folder / f"{name}.csv", index=False)
            counts[name] = counts.get(name, 0) + len(part)
    return counts


CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import hccstudy
t1 = time.perf_counter()
s = hccstudy.load_study(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "included": len(s.analysis), "screened": len(s.patients), "warnings": s.validation.n_warnings}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--json", type=Path, default=RESULTS / "ingest.json")
    args = ap.parse_args()
    rows = []
    for n in args.patients:
        with tempfile.TemporaryDirectory() as tmp:
            g0 = time.perf_counter()
            counts = make_study(Path(tmp), n)
            gen_s = time.perf_counter() - g0
            res = child(CHILD, tmp)
        rows.append({"patients": n, **{f"rows_{k}": v for k, v in counts.items()}, "generate_s": round(gen_s, 2),
                     "load_derive_s": round(res["load_s"], 2), "peak_rss_mb": round(res["peak_rss_mb"], 1),
                     "included": res["included"], "target": {100_000: "< 30 s, < 4096 MB", 1_000_000: "run <= 60 s, <= 8 GB"}.get(n, "")})
    report("ingest", rows, ["patients", "rows_labs", "rows_assessments", "load_derive_s", "peak_rss_mb", "included"], args.json)

if __name__ == "__main__":
    main()
