"""The study data model: record types and their fields.

This module is the single source of truth for the input schema.  ``docs/data-model.md`` is rendered
from it (:func:`hccstudy.schema.docs.render_data_model`) and a test keeps the two identical.

Field ``need`` levels:

* ``always``   -- a record without it cannot be placed (identifiers, dates of child records): an error.
* ``analysis`` -- needed to derive the eligibility or endpoints; a missing value is allowed at ingest,
  counted in the validation report, and the patient is excluded by the ``complete_data`` criterion.
* ``optional`` -- used when present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Categories: canonical code -> accepted spellings (compared lower-case, stripped).
SEX = {"male": ["male", "m"], "female": ["female", "f"]}
DIAGNOSIS_BASIS = {"histology": ["histology", "pathology", "biopsy"], "radiology": ["radiology", "imaging"]}
ASCITES = {
    "none": ["none", "absent", "no"],
    "mild": ["mild", "slight", "controlled"],
    "moderate_severe": ["moderate_severe", "moderate-severe", "moderate", "severe", "refractory"],
}
ENCEPHALOPATHY = {
    "none": ["none", "absent", "no"],
    "grade_1_2": ["grade_1_2", "grade 1-2", "1-2", "grade 1", "grade 2", "controlled"],
    "grade_3_4": ["grade_3_4", "grade 3-4", "3-4", "grade 3", "grade 4", "refractory"],
}
MVI_TYPE = {k: [k.lower()] for k in ["Vp1", "Vp2", "Vp3", "Vp4", "Vv1", "Vv2", "Vv3", "unknown"]}
ARM = {"SE": ["se", "sequential"], "SI": ["si", "simultaneous"]}
DRUG_CLASS = {
    "tki": ["tki"],
    "anti_vegf": ["anti_vegf", "anti-vegf", "anti-vegf antibody"],
    "pd1": ["pd1", "pd-1"],
    "pdl1": ["pdl1", "pd-l1"],
}
#: Agents of the study (docs/spec/study.md, Treatment) and their class.  Unknown agents are accepted with a warning.
AGENT_CLASS = {
    "sorafenib": "tki", "lenvatinib": "tki", "apatinib": "tki", "donafenib": "tki", "anlotinib": "tki",
    "regorafenib": "tki", "bevacizumab": "anti_vegf", "pembrolizumab": "pd1", "camrelizumab": "pd1",
    "tislelizumab": "pd1", "sintilimab": "pd1", "toripalimab": "pd1", "atezolizumab": "pdl1",
    "durvalumab": "pdl1",
}
LAB_TEST = {
    "bilirubin": ["bilirubin", "total_bilirubin", "tbil"],
    "albumin": ["albumin", "alb"],
    "alt": ["alt"],
    "ast": ["ast"],
    "haemoglobin": ["haemoglobin", "hemoglobin", "hb"],
    "neutrophils": ["neutrophils", "anc", "neutrophil_count"],
    "platelets": ["platelets", "plt", "platelet_count"],
    "afp": ["afp"],
    "inr": ["inr"],
}
#: Plausible range of each lab test's value in its canonical unit (labs table; inclusive).  Wider than
#: the baseline fields of the patients table because on-treatment values reach extremes (ALT in
#: acute hepatitis, bilirubin in obstruction).  A reference limit (uln, lln) must be > 0 and <= the upper bound.
LAB_RANGES: dict[str, tuple[float, float]] = {
    "bilirubin": (0, 1000),      # µmol/L
    "albumin": (5, 70),          # g/L
    "alt": (0, 10000),           # U/L
    "ast": (0, 10000),           # U/L
    "haemoglobin": (20, 250),    # g/L
    "neutrophils": (0, 100),     # 10^9/L
    "platelets": (0, 2000),      # 10^9/L
    "afp": (0, 1e7),             # ng/mL
    "inr": (0.5, 20),            # ratio
}
LESION_TYPE = {"target": ["target"], "non_target": ["non_target", "non-target", "nontarget"], "new": ["new"]}
NON_TARGET_STATUS = {"CR": ["cr"], "IR_SD": ["ir_sd", "ir/sd", "ir", "sd", "non-cr/non-pd"], "PD": ["pd"]}
#: CTCAE v5.0 terms of the study's adverse-event table (docs/spec/study.md) that are recorded as events.
AE_TERM = {
    t: [t, t.replace("_", " ")]
    for t in [
        "fever", "nausea", "vomiting", "abdominal_pain", "alt_increased", "ast_increased",
        "blood_bilirubin_increased", "anaemia", "neutrophil_count_decreased", "platelet_count_decreased",
        "hypoalbuminaemia", "bleeding", "diarrhoea", "hoarseness", "rash", "palmar_plantar_erythrodysaesthesia",
        "hypertension", "rccep", "hypothyroidism", "fatigue", "hepatitis", "pneumonia", "proteinuria",
        "hepatic_encephalopathy",
    ]
}
AE_TERM["palmar_plantar_erythrodysaesthesia"] += ["hand-foot syndrome", "hand_foot_syndrome", "hfs"]
AE_TERM["anaemia"] += ["anemia"]
AE_TERM["diarrhoea"] += ["diarrhea"]
AE_TERM["rccep"] += ["reactive cutaneous capillary endothelial proliferation"]

#: Plausible dates (ISO): clinical dates (diagnosis, treatment, follow-up) and birth dates.  Fixed
#: rather than "today" so that validation is deterministic; 2100 also keeps every date far inside
#: the range pandas can hold (1677-2262).
EARLIEST_DATE = "1980-01-01"
EARLIEST_BIRTH_DATE = "1900-01-01"
LATEST_DATE = "2100-12-31"

BOOL_TRUE = ["yes", "y", "true", "t", "1", "1.0"]
BOOL_FALSE = ["no", "n", "false", "f", "0", "0.0"]


@dataclass(frozen=True)
class Field:
    """One column of a record type.

    ``kind``: id | text | int | float | date | bool | category.  ``quantity`` names a lab quantity
    (see :mod:`hccstudy.schema.units`) whose unit comes from the column ``<name>_unit``.
    ``lo``/``hi`` are inclusive plausibility bounds in the canonical unit (ISO dates for a date,
    default [:data:`EARLIEST_DATE`, :data:`LATEST_DATE`]).
    """

    name: str
    kind: str
    need: str = "optional"
    description: str = ""
    unit: str = ""
    lo: float | str | None = None
    hi: float | str | None = None
    categories: dict[str, list[str]] | None = None
    quantity: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "date":
            object.__setattr__(self, "lo", self.lo or EARLIEST_DATE)
            object.__setattr__(self, "hi", self.hi or LATEST_DATE)


@dataclass(frozen=True)
class RecordType:
    name: str
    description: str
    fields: tuple[Field, ...]
    #: columns that identify a record within a centre (duplicates are an error)
    key: tuple[str, ...] = ()
    #: the date column used for the date-order checks against the patient's dates
    date: str | None = None
    extra: dict = field(default_factory=dict)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def _lab(name: str, desc: str, quantity: str, lo: float, hi: float, unit: str) -> Field:
    return Field(name, "float", "analysis", desc, unit=unit, lo=lo, hi=hi, quantity=quantity)


PATIENTS = RecordType(
    "patients",
    "One row per screened patient.  Identity is (centre, patient_id).",
    (
        Field("patient_id", "id", "always", "Identifier, unique within the centre."),
        Field("centre", "text", "optional", "Centre code; when present it must equal the folder/workbook name."),
        Field("sex", "category", "analysis", "Sex.", categories=SEX),
        Field("birth_date", "date", "optional",
              "Date of birth (or give age); the age it gives at first HAIC must lie in the range of `age`.",
              lo=EARLIEST_BIRTH_DATE),
        Field("age", "float", "optional", "Age in years at first HAIC (or give birth_date).", unit="years", lo=18, hi=100),
        Field("height_cm", "float", "analysis", "Height.", unit="cm", lo=120, hi=220),
        Field("weight_kg", "float", "analysis", "Weight.", unit="kg", lo=30, hi=200),
        Field("hbv", "bool", "analysis", "HBsAg positive."),
        Field("hcv", "bool", "optional", "Anti-HCV positive."),
        Field("ecog", "int", "analysis", "ECOG performance status at baseline (0-5).", lo=0, hi=5),
        Field("ecog_cancer_related", "bool", "optional",
              "False when ECOG 1-2 is due to comorbidity, not cancer (BCLC 2022 override; default true)."),
        Field("diagnosis_basis", "category", "optional", "How HCC was diagnosed.", categories=DIAGNOSIS_BASIS),
        Field("diagnosis_date", "date", "optional", "Date of HCC diagnosis."),
        Field("other_malignancy", "bool", "analysis", "Another malignancy (exclusion)."),
        Field("prior_systemic_therapy", "bool", "analysis", "Prior angiogenesis inhibitor or immunotherapy (exclusion)."),
        Field("tace_during_haic", "bool", "analysis", "TACE given during the HAIC phase (exclusion)."),
        _lab("bilirubin", "Baseline total bilirubin.", "bilirubin", 1, 850, "µmol/L"),
        _lab("albumin", "Baseline albumin.", "albumin", 10, 60, "g/L"),
        Field("inr", "float", "analysis", "Baseline INR.", unit="ratio", lo=0.5, hi=10, quantity="inr"),
        Field("pt_prolongation_s", "float", "optional",
              "Prothrombin time above control; used for Child-Pugh only when INR is missing.", unit="s", lo=0, hi=60),
        _lab("alt", "Baseline ALT.", "alt", 1, 5000, "U/L"),
        _lab("ast", "Baseline AST.", "ast", 1, 5000, "U/L"),
        _lab("haemoglobin", "Baseline haemoglobin.", "haemoglobin", 30, 220, "g/L"),
        _lab("neutrophils", "Baseline neutrophil count.", "neutrophils", 0, 50, "10^9/L"),
        _lab("platelets", "Baseline platelet count.", "platelets", 1, 1500, "10^9/L"),
        _lab("afp", "Baseline alpha-fetoprotein.", "afp", 0, 1e7, "ng/mL"),
        Field("ascites", "category", "analysis", "Ascites (Child-Pugh).", categories=ASCITES),
        Field("encephalopathy", "category", "analysis", "Hepatic encephalopathy (Child-Pugh).", categories=ENCEPHALOPATHY),
        Field("tumour_number", "int", "analysis", "Number of intrahepatic tumours.", lo=1, hi=100),
        Field("max_diameter_cm", "float", "analysis", "Maximum tumour diameter.", unit="cm", lo=0.1, hi=40),
        Field("mvi", "bool", "analysis", "Macrovascular invasion (portal vein Vp1-4, hepatic vein or IVC)."),
        Field("mvi_type", "category", "optional", "Type of macrovascular invasion.", categories=MVI_TYPE),
        Field("ehs", "bool", "analysis", "Extrahepatic spread (nodal or distant)."),
        Field("arm_recorded", "category", "optional", "Treatment arm recorded by the centre (cross-checked).", categories=ARM),
        Field("first_haic_date", "date", "analysis", "Date of the first HAIC cycle (time origin)."),
        Field("first_systemic_date", "date", "optional", "Date of the first systemic therapy (cross-checked)."),
        Field("progression_date", "date", "optional", "Date of radiological progression, if recorded."),
        Field("death_date", "date", "optional", "Date of death (empty if alive)."),
        Field("last_followup_date", "date", "analysis", "Last date known alive (or date of death)."),
    ),
    key=("patient_id",),
)

HAIC_CYCLES = RecordType(
    "haic_cycles",
    "One row per HAIC-FOLFOX cycle given.",
    (
        Field("patient_id", "id", "always", "Patient."),
        Field("cycle", "int", "always", "Cycle number, 1-based.", lo=1, hi=50),
        Field("date", "date", "always", "Date the cycle started."),
        Field("oxaliplatin_mg", "float", "optional", "Delivered oxaliplatin.", unit="mg", lo=0, hi=1000),
        Field("folinate_mg", "float", "optional", "Delivered (levo)folinate.", unit="mg", lo=0, hi=2000),
        Field("fluorouracil_bolus_mg", "float", "optional", "Delivered 5-FU bolus.", unit="mg", lo=0, hi=3000),
        Field("fluorouracil_infusion_mg", "float", "optional", "Delivered 5-FU infusion.", unit="mg", lo=0, hi=15000),
    ),
    key=("patient_id", "cycle"),
    date="date",
)

SYSTEMIC = RecordType(
    "systemic",
    "One row per systemic agent course.",
    (
        Field("patient_id", "id", "always", "Patient."),
        Field("agent", "text", "always", "Agent (generic name, lower case)."),
        Field("drug_class", "category", "always", "tki, anti_vegf, pd1 or pdl1.", categories=DRUG_CLASS),
        Field("start_date", "date", "always", "First dose."),
        Field("stop_date", "date", "optional", "Last dose (empty if ongoing)."),
        Field("dose", "float", "optional", "Dose per administration.", lo=0, hi=5000),
        Field("dose_unit", "category", "optional", "mg or mg/kg.", categories={"mg": ["mg"], "mg/kg": ["mg/kg"]}),
    ),
    key=("patient_id", "agent", "start_date"),
    date="start_date",
)

LABS = RecordType(
    "labs",
    "Longitudinal laboratory values, one row per test result.",
    (
        Field("patient_id", "id", "always", "Patient."),
        Field("date", "date", "always", "Sample date."),
        Field("test", "category", "always", "Test.", categories=LAB_TEST),
        Field("value", "float", "always",
              "Result, in `unit`; converted to the test's canonical unit.  Range: per test (lab ranges below)."),
        Field("unit", "text", "optional", "Unit of value (and of uln/lln); empty = canonical unit."),
        Field("uln", "float", "optional", "Upper limit of normal (same unit as value); > 0 and at most the test's upper bound."),
        Field("lln", "float", "optional", "Lower limit of normal (same unit as value); > 0 and at most the test's upper bound."),
    ),
    key=("patient_id", "date", "test"),
    date="date",
)

ASSESSMENTS = RecordType(
    "assessments",
    "Imaging assessments (mRECIST), one row per lesion per scan.",
    (
        Field("patient_id", "id", "always", "Patient."),
        Field("date", "date", "always", "Scan date."),
        Field("lesion_id", "text", "always", "Lesion identifier, stable across scans."),
        Field("lesion_type", "category", "always", "target, non_target or new (the new-lesion flag).", categories=LESION_TYPE),
        Field("viable_diameter_mm", "int", "optional",
              "Longest diameter of the enhancing (viable) part, mm; 0 = no enhancement. Required for target lesions.",
              unit="mm", lo=0, hi=400),
        Field("non_target_status", "category", "optional", "CR, IR_SD or PD. Required for non-target lesions.",
              categories=NON_TARGET_STATUS),
    ),
    key=("patient_id", "date", "lesion_id"),
    date="date",
)

ADVERSE_EVENTS = RecordType(
    "adverse_events",
    "Graded adverse events not derivable from labs (CTCAE v5.0).",
    (
        Field("patient_id", "id", "always", "Patient."),
        Field("term", "category", "always", "CTCAE term.", categories=AE_TERM),
        Field("grade", "int", "always", "CTCAE grade 1-5.", lo=1, hi=5),
        Field("onset_date", "date", "always", "Onset date."),
    ),
    key=(),
    date="onset_date",
)

RECORD_TYPES: dict[str, RecordType] = {
    r.name: r for r in (PATIENTS, HAIC_CYCLES, SYSTEMIC, LABS, ASSESSMENTS, ADVERSE_EVENTS)
}

#: Provenance columns added to every record at ingest.
PROVENANCE = ("centre", "source_file", "source_row")
