"""The validation report: every problem found in the input, with where and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ISSUE_COLUMNS = ["severity", "centre", "file", "row", "column", "value", "rule", "message"]
#: values and messages longer than this are cut in the report (a 2 MB cell is not echoed in full)
MAX_VALUE_CHARS = 200
MAX_MESSAGE_CHARS = 1000


def shorten(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}... ({len(text)} characters)"


class StudyInputError(Exception):
    """Raised when the input cannot be analysed; carries the validation report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        n = report.n_errors
        super().__init__(f"{n} validation error{'s' if n != 1 else ''} in the study input")


def _as_written(v: pd.Series) -> np.ndarray:
    """Values as text for the report: dates as YYYY-MM-DD, missing as an empty string."""
    missing = v.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(v):
        txt = v.dt.strftime("%Y-%m-%d").astype(object)
    else:
        txt = v.astype(object).map(str)
    out = np.where(missing, "", txt.to_numpy(dtype=object))
    long = np.fromiter((len(x) > MAX_VALUE_CHARS for x in out), dtype=bool, count=len(out))
    if long.any():  # only the issue rows, never a whole table
        out[long] = [shorten(x) for x in out[long]]
    return out


@dataclass
class IssueLog:
    """Collects issues as small DataFrames (built vectorised from masks, never row by row)."""

    parts: list[pd.DataFrame] = field(default_factory=list)
    #: (file, column) -> the column as the report names it, e.g. ``ECOG_PS (ecog)`` for a column the
    #: centre's mapping renamed, so that the user finds the cell under the name the file uses
    column_labels: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_rows(
        self,
        df: pd.DataFrame,
        mask: np.ndarray | pd.Series,
        *,
        column: str | None,
        rule: str,
        message: str,
        severity: str = "error",
        value: pd.Series | None = None,
    ) -> int:
        """Record one issue for every row of ``df`` where ``mask`` is true; returns the count."""
        m = np.asarray(mask, dtype=bool)
        n = int(m.sum())
        if n == 0:
            return 0
        sub = df.loc[m]
        if value is None:
            vals = sub[column] if column is not None and column in sub else pd.Series([""] * n, index=sub.index)
        else:
            vals = value[m] if len(value) == len(df) else value
        self.parts.append(
            pd.DataFrame(
                {
                    "severity": severity,
                    "centre": sub["centre"].astype(str).to_numpy(),
                    "file": sub["source_file"].astype(str).to_numpy(),
                    "row": sub["source_row"].to_numpy(dtype=np.int64),
                    "column": column or "",
                    "value": _as_written(pd.Series(vals)),
                    "rule": rule,
                    "message": shorten(message, MAX_MESSAGE_CHARS),
                }
            )
        )
        return n

    def add(
        self,
        *,
        rule: str,
        message: str,
        severity: str = "error",
        centre: str = "",
        file: str = "",
        row: int | None = None,
        column: str = "",
        value: str = "",
    ) -> None:
        """Record one issue that is not tied to a set of rows (a file, a column, a sheet)."""
        self.parts.append(
            pd.DataFrame(
                [
                    {
                        "severity": severity, "centre": centre, "file": file,
                        "row": -1 if row is None else row, "column": shorten(column), "value": shorten(value),
                        "rule": rule, "message": shorten(message, MAX_MESSAGE_CHARS),
                    }
                ]
            )
        )

    def report(self, counts: dict[str, int] | None = None) -> ValidationReport:
        if self.parts:
            issues = pd.concat(self.parts, ignore_index=True)
        else:
            issues = pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
        issues["row"] = issues["row"].astype("int64")
        if self.column_labels and len(issues):
            keys = pd.MultiIndex.from_arrays([issues["file"].astype(str), issues["column"].astype(str)])
            table = pd.Series(list(self.column_labels.values()),
                              index=pd.MultiIndex.from_tuples(list(self.column_labels)), dtype=object)
            labels = pd.Series(table.reindex(keys).to_numpy(), index=issues.index, dtype=object)
            issues["column"] = labels.where(labels.notna(), issues["column"])
        order = {"error": 0, "warning": 1, "info": 2}
        # within a severity, issues about a whole file or column (a missing column, a bad file) first:
        # they explain the row issues that follow (a misnamed patient_id makes every record an orphan)
        issues = issues.assign(_s=issues["severity"].map(order), _rows=issues["row"] >= 0).sort_values(
            ["_s", "_rows", "centre", "file", "row", "column", "rule"], kind="stable"
        ).drop(columns=["_s", "_rows"]).reset_index(drop=True)
        return ValidationReport(issues=issues[ISSUE_COLUMNS], counts=dict(counts or {}))


@dataclass(frozen=True)
class ValidationReport:
    """All issues found, most severe first, and within a severity those about a whole file or column
    first.  ``row`` is the 1-based line/row in the source file (the header is row 1 in CSV and Excel,
    so the first record is row 2; Parquet rows count from 1);
    -1 when an issue concerns a whole file or column.  ``counts`` holds record counts per table."""

    issues: pd.DataFrame
    counts: dict[str, int]

    @property
    def errors(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == "warning"]

    @property
    def n_errors(self) -> int:
        return int((self.issues["severity"] == "error").sum())

    @property
    def n_warnings(self) -> int:
        return int((self.issues["severity"] == "warning").sum())

    @property
    def ok(self) -> bool:
        return self.n_errors == 0

    def summary(self) -> pd.DataFrame:
        """Issue counts by severity and rule."""
        if self.issues.empty:
            return pd.DataFrame(columns=["severity", "rule", "n"])
        return (
            self.issues.groupby(["severity", "rule"], sort=False).size().rename("n").reset_index()
        )
