"""Record types, readers and validation: raw per-centre files -> typed tables in canonical units."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .fields import PROVENANCE, RECORD_TYPES, Field, RecordType
from .mapping import CentreMapping, parse_centres
from .readers import InputFile, RawStudy, read_study
from .report import IssueLog, StudyInputError, ValidationReport
from .units import QUANTITIES, from_canonical, to_canonical
from .validate import validate_tables

__all__ = [
    "PROVENANCE", "QUANTITIES", "RECORD_TYPES", "CentreMapping", "Field", "IngestResult", "InputFile", "IssueLog",
    "RawStudy", "RecordType", "StudyInputError", "ValidationReport", "from_canonical", "ingest",
    "parse_centres", "read_study", "to_canonical", "validate_tables",
]


@dataclass(frozen=True)
class IngestResult:
    """Typed tables (canonical units, provenance on every record), the report and the input files."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    inputs: list[InputFile]


def ingest(study_dir: str | Path, *, bilirubin_factor: float = 17.1, log: IssueLog | None = None,
           centres: Mapping[str, CentreMapping | dict] | None = None) -> IngestResult:
    """Read and validate a study folder.  Never raises for bad data: inspect ``result.report``.  A
    ``bilirubin_factor`` outside its plausible range raises ConfigError (``units.bilirubin_factor``).
    ``centres``: each centre's own column names, codes and units (config ``centres``, models or plain
    mappings; a bad mapping raises ConfigError), applied as the files are read."""
    log = log or IssueLog()
    mapping = parse_centres(dict(centres)) if centres else None
    raw = read_study(study_dir, log, mapping)
    tables = validate_tables(raw.tables, raw.columns, log, bilirubin_factor=bilirubin_factor, headers=raw.headers)
    counts = {name: len(df) for name, df in tables.items()}
    return IngestResult(tables, log.report(counts), raw.inputs)
