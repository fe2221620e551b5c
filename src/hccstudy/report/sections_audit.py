"""The report's "Consistency of the published tables" section (issue 15; docs/audit.md), for the
built-in study only: the audit of the reference paper's own reported numbers (the built-in
TABLES.yaml), the same findings as ``hccstudy audit`` writes to audit.html and audit.csv.

The section counts the findings by check and severity, states each severity's rule, and lists every
finding that is not consistent (inconsistent first, then rounding-level) with its arithmetic; the
consistent and not-checkable findings are counted, and listed in full by ``hccstudy audit``.
"""

from __future__ import annotations

import pandas as pd

from ..audit import INCONSISTENT, RULES, SEVERITIES, audit_file
from ..audit.write import flagged_first
from .sections import Section, TableItem, _Ctx


def _summary(findings) -> pd.DataFrame:
    f = pd.DataFrame([(x.check[:1].upper() + x.check[1:], x.severity) for x in findings], columns=["Check", "severity"])
    t = pd.crosstab(f["Check"], f["severity"]).reindex(columns=list(SEVERITIES), fill_value=0)
    t = t.reindex(list(dict.fromkeys(f["Check"])))  # the order the checks run in
    t.columns = [c.capitalize() for c in t.columns]
    return t.reset_index()


def published_consistency(ctx: _Ctx) -> Section | None:
    """The audit of the built-in study's published tables; None for any other study (no calibration:
    its paper's numbers are not the reference paper's)."""
    if ctx.calibration is None:
        return None
    a = audit_file()
    counts = a.counts()
    notes = [f"{a.paper}: every number of the paper that its own numbers allow to recompute was recomputed "
             f"({len(a.findings)} checks: " + ", ".join(f"{n} {s}" for s, n in counts.items())
             + "). The paper's numbers are those of the built-in TABLES.yaml; the command hccstudy audit writes every "
               "finding to audit.html and audit.csv.",
             "Severity: " + "; ".join(f"{s}: {RULES[s]}" for s in SEVERITIES) + "."]
    summary = _summary(a.findings)
    flagged = flagged_first(a)
    shown = pd.DataFrame({"Severity": [f.severity for f in flagged],
                          "Check": [f.check[:1].upper() + f.check[1:] for f in flagged],
                          "Where": [f.location for f in flagged], "Reported": [f.reported for f in flagged],
                          "Recomputed": [f.recomputed for f in flagged], "Arithmetic": [f.arithmetic for f in flagged]})
    tables = [TableItem("audit_summary", "Checks of the published numbers, by severity", summary,
                        "Counts of findings; one finding per reported number and check."),
              TableItem("audit_findings", "Published numbers that the paper's own numbers do not reproduce", shown,
                        "Inconsistent findings (highlighted) first, then rounding-level differences.",
                        highlight=tuple(f.severity == INCONSISTENT for f in flagged))]
    return Section("published_consistency", "Consistency of the published tables", tables=tables, notes=notes)
