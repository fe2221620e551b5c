"""``hccstudy audit``: recompute a paper's own tables from its reported numbers (docs/audit.md).

The paper's numbers, as printed, go into an audit file (TABLES.yaml, :mod:`.model`); each check family
(:mod:`.checks_counts`, :mod:`.checks_categorical`, :mod:`.checks_continuous`, :mod:`.checks_hr`,
:mod:`.checks_survival`, :mod:`.checks_repeats`) recomputes what it can and returns
:class:`~.findings.Finding` rows with a severity and the arithmetic; :mod:`.write` renders them as
audit.html and audit.csv.  This package sits above :mod:`hccstudy.stats` (its tests) and below the
report and the command line.
"""

from .findings import (
           CONSISTENT,
           INCONSISTENT,
           NOT_CHECKABLE,
           ROUNDING,
           RULES,
           SEVERITIES,
           Finding,
           findings_frame,
)
from .model import BUILTIN, Paper, load_tables
from .run import Audit, audit, audit_file
from .write import write_audit

__all__ = ["BUILTIN", "CONSISTENT", "INCONSISTENT", "NOT_CHECKABLE", "ROUNDING", "RULES", "SEVERITIES", "Audit", "Finding",
           "Paper", "audit", "audit_file", "findings_frame", "load_tables", "write_audit"]
