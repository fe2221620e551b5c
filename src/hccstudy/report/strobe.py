"""The STROBE checklist for cohort studies (22 items, with their sub-items), mapped to the report.

The item texts are short paraphrases in our own words of the STROBE statement's cohort checklist (von
Elm et al., Lancet 2007;370:1453-7).  For each item the report names where it is addressed -- the
section and its table and figure numbers, numbered as in report.html, tables.docx and tables.xlsx --
or says "Not addressed — needs the author" (title and abstract, background, setting and dates,
discussion, funding: what only the authors can write).  What is addressed follows from the sections
actually built, so an analysis without matching or without subgroups does not claim them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .sections import Section

NOT_ADDRESSED = "Not addressed \u2014 needs the author"

#: (item, short text, the section keys (or key prefixes ending in "_") that address it)
ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("1a", "Title or abstract: name the study design with a commonly used term", ()),
    ("1b", "Abstract: a balanced summary of what was done and found", ()),
    ("2", "Background: the scientific background and rationale", ()),
    ("3", "Objectives: the objectives, with any prespecified hypotheses", ()),
    ("4", "Study design: its key elements, early in the paper", ("methods", "manuscript")),
    ("5", "Setting: locations and dates of recruitment, exposure, follow-up and data collection", ()),
    ("6a", "Participants: eligibility criteria, sources and selection; methods of follow-up", ("flow",)),
    ("6b", "Matched studies: matching criteria and the number exposed and unexposed", ("balance",)),
    ("7", "Variables: define outcomes, exposures, predictors and confounders", ("methods", "table1")),
    ("8", "Data sources and measurement for each variable", ()),
    ("9", "Bias: efforts to address potential sources of bias", ("balance",)),
    ("10", "Study size: how it was arrived at", ("flow",)),
    ("11", "Quantitative variables: how they were handled and any groupings chosen", ("methods", "table1")),
    ("12a", "Statistical methods, including those used to control for confounding", ("methods", "manuscript")),
    ("12b", "Methods used to examine subgroups and interactions", ("subgroups_",)),
    ("12c", "How missing data were addressed", ()),
    ("12d", "Cohort studies: how loss to follow-up was addressed", ("survival_",)),
    ("12e", "Sensitivity analyses", ("sensitivity", "sensitivity_", "survival_")),
    ("13a", "Participants: numbers at each stage of the study", ("flow",)),
    ("13b", "Reasons for non-participation at each stage", ("flow",)),
    ("13c", "A flow diagram", ("flow",)),
    ("14a", "Descriptive data: characteristics of participants", ("table1",)),
    ("14b", "Number of participants with missing data for each variable", ()),
    ("14c", "Follow-up time (average and total)", ("survival_",)),
    ("15", "Outcome data: numbers of outcome events or summary measures over time", ("survival_",)),
    ("16a", "Main results: unadjusted and adjusted estimates with their precision (95% CI)", ("survival_", "cox_")),
    ("16b", "Category boundaries when continuous variables were categorised", ("table1", "subgroups_")),
    ("16c", "Relative risk translated into absolute risk for a meaningful time period", ("survival_",)),
    ("17", "Other analyses: subgroups, interactions and sensitivity analyses",
     ("subgroups_", "response", "adverse_events", "sensitivity")),
    ("18", "Key results with reference to the study objectives", ()),
    ("19", "Limitations: sources of bias or imprecision, their direction and size", ()),
    ("20", "Interpretation: cautious, considering objectives, limitations and other evidence", ()),
    ("21", "Generalisability (external validity)", ()),
    ("22", "Funding and the role of the funders", ()),
)


def _matches(key: str, wanted: tuple[str, ...]) -> bool:
    return any(key.startswith(w) if w.endswith("_") else key == w for w in wanted)


def locations(sections: list[Section], first_table: int = 1, first_figure: int = 1) -> dict[str, str]:
    """Section key -> where it is in the report: "Patient flow (section 2; Table 1; Figure 1)", with
    sections, tables and figures numbered in order as the renderers number them."""
    out, nt, nf = {}, first_table - 1, first_figure - 1
    for k, s in enumerate(sections, start=1):
        tables = list(range(nt + 1, nt + 1 + len(s.tables)))
        figures = list(range(nf + 1, nf + 1 + len(s.figures)))
        nt, nf = nt + len(s.tables), nf + len(s.figures)
        parts = [f"section {k}"]
        if tables:
            parts.append(("Tables " if len(tables) > 1 else "Table ") + ", ".join(map(str, tables)))
        if figures:
            parts.append(("Figures " if len(figures) > 1 else "Figure ") + ", ".join(map(str, figures)))
        out[s.key] = f"{s.title} ({'; '.join(parts)})"
    return out


def checklist(sections: list[Section]) -> pd.DataFrame:
    """One row per STROBE item: Item, Recommendation, Where addressed (the sections built before the
    checklist, in the report's order)."""
    where = locations(sections)
    rows = []
    for item, text, keys in ITEMS:
        found = [loc for key, loc in where.items() if _matches(key, keys)]
        rows.append({"Item": item, "Recommendation": text, "Where addressed": "; ".join(found) or NOT_ADDRESSED})
    return pd.DataFrame(rows, columns=["Item", "Recommendation", "Where addressed"])
