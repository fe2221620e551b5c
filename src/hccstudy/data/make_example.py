"""Write the small hand-made example study shipped with hccstudy (``hccstudy/data/example``).

Twenty screened patients in three centres, each exclusion reason met by exactly one patient, so that
the flow is known by construction: 20 screened -> 9 excluded (one per criterion) -> 11 included
(SE 4, SI 7).  Centre ``alpha`` uses CSV and SI units, ``beta`` CSV (cycles as Parquet) with bilirubin
in mg/dL, albumin and haemoglobin in g/dL, ``gamma`` one Excel workbook.  This is a demonstration and
test fixture, not a realistic cohort; the calibrated synthetic cohort replaces it as the default data.

Run ``python -m hccstudy.data.make_example OUT_DIR`` to regenerate; a test checks the shipped files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

D = pd.Timestamp

# id, sex, age, ht, wt, hbv, ecog, other, prior, tace, bili µmol/L, alb g/L, inr, ascites, enceph,
# alt, ast, hb g/L, anc, plt, afp, n_tum, diam, mvi, ehs, first HAIC, cycles, regimen, arm recorded,
# death day (from first HAIC) or None, last follow-up day or None, response pattern key
PATIENTS = {
    "alpha": [
        ("A01", "male", 52, 170, 65, "yes", 0, "no", "no", "no", 15, 40, 1.1, "none", "none", 35, 38, 135, 3.5, 160, 820, 2, 9.5, "yes", "no", D("2019-03-04"), 4, "SE", "SE", 420, 420, "pr_pd"),
        ("A02", "female", 61, 158, 52, "yes", 1, "no", "no", "no", 22, 36, 1.2, "none", "none", 45, 50, 128, 2.8, 110, 35, 1, 12.0, "yes", "yes", D("2019-07-15"), 5, "SE", "SE", None, 700, "sd"),
        ("A03", "male", 47, 175, 72, "yes", 0, "no", "no", "no", 12, 42, 1.0, "none", "none", 30, 32, 145, 4.1, 190, 1500, 3, 8.0, "yes", "no", D("2020-01-10"), 3, "SI", "SI", None, 650, "cr"),
        ("A04", "male", 55, 168, 60, "no", 1, "no", "no", "no", 30, 33, 1.3, "mild", "none", 60, 70, 120, 2.2, 95, 12, 4, 14.0, "no", "yes", D("2020-05-20"), 4, "SI", "SE", 300, 300, "pr_pd"),
        ("A05", "male", 58, 172, 70, "yes", 0, "no", "no", "yes", 16, 39, 1.1, "none", "none", 40, 44, 138, 3.0, 150, 500, 2, 10.0, "yes", "no", D("2020-09-01"), 3, "SI", None, None, 400, "sd"),
        ("A06", "female", 66, 160, 55, "yes", 2, "no", "no", "no", 18, 37, 1.2, "none", "none", 38, 41, 125, 2.5, 130, 90, 1, 7.0, "yes", "no", D("2021-02-01"), 3, "SI", None, 200, 200, "sd"),
        ("A07", "male", 50, 178, 80, "yes", 0, "no", "no", "no", 14, 41, 1.0, "none", "none", 33, 35, 150, 4.0, 200, 20, 2, 5.0, "no", "no", D("2021-04-12"), 3, "SE", None, None, 300, "sd"),
        ("A08", "male", 63, 165, 68, "yes", 0, "no", "no", "no", 20, 38, 1.1, "none", "none", 36, 40, 140, 3.2, 170, 60, 1, 11.0, "yes", "no", D("2021-06-01"), 2, "SI", None, None, None, "sd"),
    ],
    "beta": [
        ("B01", "male", 45, 180, 85, "yes", 0, "no", "no", "no", 17.1, 41, 1.0, "none", "none", 42, 45, 152, 3.9, 210, 900, 2, 13.0, "yes", "yes", D("2019-05-06"), 6, "SE", "SE", 250, 250, "pd"),
        ("B02", "male", 39, 172, 70, "yes", 1, "no", "no", "no", 27.36, 34, 1.4, "none", "none", 55, 66, 131, 2.6, 120, 2500, 3, 10.5, "yes", "no", D("2019-11-11"), 4, "SI", "SI", None, 800, "pr"),
        ("B03", "female", 57, 155, 50, "no", 0, "no", "no", "no", 11.97, 43, 1.0, "none", "none", 28, 30, 126, 3.1, 180, 8, 1, 6.5, "no", "yes", D("2020-03-02"), 3, "SI", "SI", 500, 500, "pr_pd"),
        ("B04", "male", 70, 166, 64, "yes", 1, "no", "no", "no", 51.3, 28, 1.7, "mild", "none", 80, 90, 112, 1.9, 80, 4000, 5, 16.0, "yes", "yes", D("2020-08-17"), 2, "SI", "SI", 150, 150, "pd"),
        ("B05", "male", 53, 170, 66, "yes", 0, "yes", "no", "no", 15.39, 39, 1.1, "none", "none", 35, 37, 140, 3.3, 160, 300, 2, 9.0, "yes", "no", D("2021-01-04"), 3, "SI", None, None, 300, "sd"),
        ("B06", "male", 60, 169, 71, "yes", 0, "no", "no", "no", 13.68, 40, 1.0, "none", "none", 31, 33, 143, 3.6, 175, 150, 2, 8.5, "yes", "no", D("2017-06-01"), 3, "SI", None, 365, 365, "sd"),
    ],
    "gamma": [
        ("C01", "male", 49, 171, 68, "yes", 0, "no", "no", "no", 19, 38, 1.1, "none", "none", 40, 43, 137, 3.4, 150, 700, 2, 11.5, "yes", "no", D("2019-09-09"), 5, "SE", "SE", 380, 380, "pr_pd"),
        ("C02", "female", 56, 162, 58, "yes", 0, "no", "no", "no", 13, 42, 1.0, "none", "none", 29, 31, 133, 3.0, 170, 40, 1, 9.0, "yes", "yes", D("2020-02-24"), 4, "SI", "SI", None, 720, "pr"),
        ("C03", "male", 64, 174, 75, "yes", 1, "no", "no", "no", 24, 35, 1.2, "none", "none", 48, 52, 129, 2.4, 105, 260, 2, 4.5, "no", "no", D("2020-10-05"), 3, "SI", "SI", 420, 420, "sd"),
        ("C04", "male", 51, 176, 74, "yes", 0, "no", "no", "no", 16, 40, 1.0, "none", "none", 37, 39, 141, 3.5, 165, 110, 2, 10.0, "yes", "no", D("2021-01-18"), 5, "MID", None, None, 400, "sd"),
        ("C05", "female", 59, 159, 54, "yes", 0, "no", "yes", "no", 18, 38, 1.1, "none", "none", 39, 42, 127, 2.9, 140, 75, 1, 8.0, "yes", "no", D("2021-03-15"), 3, "SI", None, None, 350, "sd"),
        ("C06", "male", 67, 167, 62, "yes", 1, "no", "no", "no", 60, 26, 2.4, "moderate_severe", "none", 70, 85, 105, 1.8, 70, 3000, 4, 12.0, "yes", "no", D("2021-05-03"), 2, "SI", None, 90, 90, "pd"),
    ],
}

# viable diameters (mm) of two target lesions at baseline and at scans every 6 weeks
PATTERNS = {
    "pr_pd": [(50, 30), (30, 20), (28, 18), (40, 26)],
    "pr": [(40, 25), (25, 15), (22, 13), (22, 12)],
    "cr": [(30, 20), (10, 5), (0, 0), (0, 0)],
    "sd": [(45, 30), (44, 28), (43, 29)],
    "pd": [(50, 40), (62, 50)],
}
COLUMNS = [
    "patient_id", "sex", "age", "height_cm", "weight_kg", "hbv", "ecog", "other_malignancy",
    "prior_systemic_therapy", "tace_during_haic", "bilirubin", "albumin", "inr", "ascites", "encephalopathy",
    "alt", "ast", "haemoglobin", "neutrophils", "platelets", "afp", "tumour_number", "max_diameter_cm", "mvi",
    "ehs", "first_haic_date", "n_cycles", "regimen", "arm_recorded", "death_day", "fu_day", "pattern",
]
IMPERIAL = {"beta"}  # mg/dL bilirubin, g/dL albumin and haemoglobin


def _date(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None or pd.isna(ts) else ts.strftime("%Y-%m-%d")


def build_tables(centre: str) -> dict[str, pd.DataFrame]:
    pts, cyc, sysm, labs, asm, aes = [], [], [], [], [], []
    for values in PATIENTS[centre]:
        r = SimpleNamespace(**dict(zip(COLUMNS, values, strict=True)))
        h = r.first_haic_date
        cycle_dates = [h + pd.Timedelta(days=21 * i) for i in range(r.n_cycles)]
        death = None if r.death_day is None else h + pd.Timedelta(days=r.death_day)
        fu = None if r.fu_day is None else h + pd.Timedelta(days=r.fu_day)
        bsa = (r.height_cm * r.weight_kg / 3600) ** 0.5
        row = dict(vars(r))
        for k in ("n_cycles", "regimen", "death_day", "fu_day", "pattern", "first_haic_date"):
            row.pop(k)
        row.update(first_haic_date=_date(h), death_date=_date(death), last_followup_date=_date(fu),
                   hcv="no", diagnosis_basis="radiology", diagnosis_date=_date(h - pd.Timedelta(days=20)))
        if centre in IMPERIAL:
            row.update(bilirubin=round(r.bilirubin / 17.1, 2), bilirubin_unit="mg/dL",
                       albumin=r.albumin / 10, albumin_unit="g/dL", haemoglobin=r.haemoglobin / 10,
                       haemoglobin_unit="g/dL")
        pts.append(row)
        for i, d in enumerate(cycle_dates, start=1):
            cyc.append({"patient_id": r.patient_id, "cycle": i, "date": _date(d),
                        "oxaliplatin_mg": round(85 * bsa, 1), "folinate_mg": round(200 * bsa, 1),
                        "fluorouracil_bolus_mg": round(400 * bsa, 1), "fluorouracil_infusion_mg": round(2100 * bsa, 1)})
        start = {"SI": h + pd.Timedelta(days=7), "SE": cycle_dates[-1] + pd.Timedelta(days=21),
                 "MID": h + pd.Timedelta(days=40)}[r.regimen]
        sysm.append({"patient_id": r.patient_id, "agent": "lenvatinib", "drug_class": "tki", "start_date": _date(start),
                     "dose": 12 if r.weight_kg >= 60 else 8, "dose_unit": "mg"})
        sysm.append({"patient_id": r.patient_id, "agent": "sintilimab", "drug_class": "pd1", "start_date": _date(start),
                     "dose": 200, "dose_unit": "mg"})
        # labs: baseline 3 days before HAIC, then after cycles 1 and 2 (a rise in ALT/AST, a fall in platelets)
        for k, (day, fac) in enumerate([(-3, 1.0), (14, 2.6), (35, 1.4)]):
            d = _date(h + pd.Timedelta(days=day))
            vals = {"alt": (r.alt * fac, "U/L", 40, None), "ast": (r.ast * fac, "U/L", 40, None),
                    "bilirubin": (r.bilirubin * (1 + 0.3 * k), "µmol/L", 21, None),
                    "platelets": (r.platelets / fac, "10^9/L", None, 125),
                    "neutrophils": (r.neutrophils / fac, "10^9/L", None, 2.0),
                    "haemoglobin": (r.haemoglobin - 8 * k, "g/L", None, 130),
                    "albumin": (r.albumin - 2 * k, "g/L", None, 35)}
            for test, (v, unit, uln, lln) in vals.items():
                labs.append({"patient_id": r.patient_id, "date": d, "test": test, "value": round(v, 2), "unit": unit,
                             "uln": uln, "lln": lln})
        for s, (t1, t2) in enumerate(PATTERNS[r.pattern]):
            d = h - pd.Timedelta(days=7) if s == 0 else h + pd.Timedelta(weeks=6 * s)
            if death is not None and d > death:
                break
            for lid, dia in (("L1", t1), ("L2", t2)):
                asm.append({"patient_id": r.patient_id, "date": _date(d), "lesion_id": lid, "lesion_type": "target",
                            "viable_diameter_mm": dia, "non_target_status": None})
        aes.append({"patient_id": r.patient_id, "term": "abdominal_pain", "grade": 1 + (len(r.patient_id) + int(r.patient_id[1:])) % 3,
                    "onset_date": _date(h + pd.Timedelta(days=2))})
    tables = {"patients": pd.DataFrame(pts), "haic_cycles": pd.DataFrame(cyc), "systemic": pd.DataFrame(sysm),
              "labs": pd.DataFrame(labs), "assessments": pd.DataFrame(asm), "adverse_events": pd.DataFrame(aes)}
    if centre in IMPERIAL:
        lb = tables["labs"]
        m = lb["test"] == "bilirubin"
        lb.loc[m, "value"] = (lb.loc[m, "value"] / 17.1).round(2)
        lb.loc[m, "uln"] = (lb.loc[m, "uln"] / 17.1).round(2)
        lb.loc[m, "unit"] = "mg/dL"
    return tables


def write_example(out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for centre in ("alpha", "beta"):
        folder = out / centre
        folder.mkdir(exist_ok=True)
        for name, df in build_tables(centre).items():
            if centre == "beta" and name == "haic_cycles":
                df.to_parquet(folder / f"{name}.parquet", index=False)
            else:
                df.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    with pd.ExcelWriter(out / "gamma.xlsx", engine="openpyxl") as xw:
        for name, df in build_tables("gamma").items():
            df.to_excel(xw, sheet_name=name, index=False)
    return out


if __name__ == "__main__":
    write_example(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "example")
