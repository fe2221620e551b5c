"""The published numbers the synthetic cohort is calibrated to (``docs/spec/study.md``), as data.

Every number here is the paper's (Cao et al. 2024).  Arms: SE (sequential, the PS-matching "treated"
group, as in the paper) and SI (simultaneous).
"""

from __future__ import annotations

#: screened -> included, per arm
N_SCREENED = 3923
N_ELIGIBLE = 575
N_SE = 200
N_MATCHED_PAIRS = 182

#: Table 1 before matching, per arm: proportions of binary factors
BINARY = {
    #            SE      SI
    "female": (20 / 200, 38 / 375),
    "hbv": (191 / 200, 347 / 375),
    "child_pugh_b": (19 / 200, 28 / 375),
    "afp_gt_400": (131 / 200, 231 / 375),
    "multiple_tumours": (112 / 200, 250 / 375),
    "mvi": (166 / 200, 293 / 375),
    "ehs": (107 / 200, 199 / 375),
}
#: continuous: (mean, sd, min, max) per arm
CONTINUOUS = {
    "age": ((50.8, 11.8, 21, 82), (50.2, 10.8, 23, 78)),
    "max_diameter_cm": ((10.8, 3.66, 4.5, 24.0), (10.7, 4.10, 1.9, 23.5)),
}
#: Table 1 P values before matching of the continuous factors (two-sample t test; R's t.test default,
#: Welch's, which the paper used: under Student's pooled test no means and SDs that round to the
#: published ones give age's 0.616 -- the largest such P is 0.610)
TABLE1_P = {"age": 0.616, "max_diameter_cm": 0.707}
#: the grid a continuous factor is recorded on (age in whole years, diameter in 0.1 cm)
GRID = {"age": 1.0, "max_diameter_cm": 0.1}
#: decimals of the published SDs (Table 1: 11.8, 10.8; 3.66, 4.10)
SD_DECIMALS = {"age": 1, "max_diameter_cm": 2}
#: HAIC cycles, mean (SD) per arm, before matching (the text; Table 1's "> 4" counts contradict it)
HAIC_CYCLES = ((4.01, 1.10), (4.76, 1.77))
#: HAIC cycle means after matching (the text: 3.99 (1.11) vs 4.68 (1.82))
HAIC_CYCLES_AFTER = (3.99, 4.68)

#: matched-sample survival (months)
OS_MEDIAN = (16.1, 28.8)
OS_MEDIAN_CI = ((14.1, 25.8), (19.3, None))
OS_RATES = {6: (0.808, 0.922), 12: (0.623, 0.721), 24: (0.421, 0.539)}
PFS_MEDIAN = (7.2, 9.8)
PFS_MEDIAN_CI = ((6.0, 9.5), (8.2, 13.4))
MEDIAN_FOLLOWUP = (10.75, 14.3)
OS_LOGRANK_P = 0.002
PFS_LOGRANK_P = 0.01

#: multivariable Cox for OS (matched sample): HR (95% CI)
OS_COX_MULTI = {
    "arm_si": (0.64, 0.47, 0.88),
    "child_pugh_b": (1.84, 1.07, 3.16),
    "afp_gt_400": (1.58, 1.09, 2.27),
    "multiple_tumours": (1.50, 1.07, 2.10),
    "ehs": (1.71, 1.23, 2.39),
}

#: best overall response (mRECIST), counts per arm (before matching)
RESPONSE = {"CR": (0, 17), "PR": (74, 190), "SD": (84, 120), "PD": (42, 48)}

#: adverse events after matching (n = 182 per arm): (SE g1-2, SE g3-4, SI g1-2, SI g3-4), by CTCAE term code
AE_COUNTS = {
    "fever": (21, 2, 32, 5),
    "nausea": (28, 0, 56, 0),
    "vomiting": (44, 4, 42, 6),
    "abdominal_pain": (79, 13, 100, 19),
    "alt_increased": (55, 29, 72, 47),
    "ast_increased": (61, 35, 76, 42),
    "blood_bilirubin_increased": (48, 18, 80, 17),
    "anaemia": (21, 4, 63, 12),
    "neutrophil_count_decreased": (57, 13, 59, 41),
    "platelet_count_decreased": (66, 23, 62, 50),
    "bleeding": (6, 4, 11, 8),
    "diarrhoea": (60, 5, 54, 6),
    "hoarseness": (33, 0, 53, 0),
    "rash": (24, 6, 42, 16),
    "palmar_plantar_erythrodysaesthesia": (34, 21, 49, 21),
    "hypertension": (39, 24, 37, 27),
    "rccep": (52, 6, 60, 8),
    "hypothyroidism": (37, 0, 25, 0),
    "fatigue": (24, 7, 50, 12),
    "hepatitis": (0, 1, 0, 1),
    "pneumonia": (0, 0, 0, 1),
    "proteinuria": (63, 13, 59, 14),
    "hepatic_encephalopathy": (0, 0, 0, 1),
}
AE_N = 182
ANY_AE = (144, 165)
ANY_GRADE_3_4 = (111, 128)
#: AE terms derived from laboratory values (the rest are recorded as graded events)
LAB_AE_TERMS = {
    "alt_increased": "alt", "ast_increased": "ast", "blood_bilirubin_increased": "bilirubin",
    "anaemia": "haemoglobin", "neutrophil_count_decreased": "neutrophils", "platelet_count_decreased": "platelets",
}

#: Table 1 P values before matching as printed (value, decimals): Welch's t for the continuous factors,
#: chi-square with Yates' correction for the binary ones (R's chisq.test default: the paper's)
TABLE1_P_BEFORE = {"age": (0.616, 3), "female": (1.0, 0), "hbv": (0.229, 3), "child_pugh_b": (0.492, 3),
                   "afp_gt_400": (0.406, 3), "max_diameter_cm": (0.707, 3), "multiple_tumours": (0.015, 3),
                   "mvi": (0.202, 3), "ehs": (0.991, 3)}
#: Table 1 after matching (182 vs 182): counts per arm and P values
BINARY_AFTER = {"female": (18, 17), "hbv": (173, 167), "child_pugh_b": (17, 10), "afp_gt_400": (121, 112),
                "multiple_tumours": (108, 104), "mvi": (152, 148), "ehs": (97, 91)}
TABLE1_P_AFTER = {"age": 0.75, "female": 1.0, "hbv": 0.291, "child_pugh_b": 0.23, "afp_gt_400": 0.382,
                  "max_diameter_cm": 0.558, "multiple_tumours": 0.75, "mvi": 0.68, "ehs": 0.6}
#: Table 1 "HAIC cycles > 4" counts (before, after matching) -- contradicted by the cycle means (not targets)
HAIC_GT4 = ((176, 141), (160, 74))

#: univariable Cox for OS (the text's values; Figure 3A prints slightly different ones): HR (95% CI)
OS_COX_UNI = {
    "arm_si": (0.61, 0.44, 0.84), "child_pugh_b": (2.39, 1.61, 3.55), "afp_gt_400": (1.40, 1.07, 1.83),
    "max_diameter_cm": (1.04, 1.00, 1.07), "multiple_tumours": (1.64, 1.26, 2.15), "ehs": (1.46, 1.14, 1.88),
}
#: the variables of the plan's univariable screen that the paper selected at P < 0.05 (the others --
#: age, sex, HAIC cycles > 4, vascular invasion -- were not)
OS_COX_SELECTED = ("arm_si", "child_pugh_b", "afp_gt_400", "max_diameter_cm", "multiple_tumours", "ehs")

#: Figure 4: HR SI vs SE for OS within each subgroup level (plan subgroup variable, level as the
#: pipeline names it)
SUBGROUP_HR = {
    ("sex", "female"): 0.54, ("sex", "male"): 0.63, ("age", "< 60"): 0.62, ("age", ">= 60"): 0.54,
    ("haic_cycles_gt4", "0"): 1.13, ("haic_cycles_gt4", "1"): 0.41, ("afp_gt_400", "0"): 0.45,
    ("afp_gt_400", "1"): 0.73, ("child_pugh_b", "0"): 0.65, ("child_pugh_b", "1"): 0.32,
    ("multiple_tumours", "0"): 0.42, ("multiple_tumours", "1"): 0.76, ("mvi", "0"): 1.10, ("mvi", "1"): 0.54,
    ("ehs", "0"): 0.69, ("ehs", "1"): 0.58,
}
