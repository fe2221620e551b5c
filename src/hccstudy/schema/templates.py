"""Empty input templates, generated from the data model (:mod:`hccstudy.schema.fields`), so they cannot drift.

* :func:`write_csv_templates`: one header-only CSV per record type (``patients.csv``, ...);
* :func:`write_excel_template`: one workbook with one sheet per record type.  Each header cell carries a
  comment (description, need, type, unit, range, allowed values) and each column an Excel data
  validation: a list for coded fields (categories, yes/no), a whole or decimal number within the
  plausible range, a date within the plausible dates.  The validations warn rather than refuse, so a
  listed synonym or ``NA`` can still be typed.  Lists too long for an inline Excel list (255
  characters) are kept on a hidden sheet ``_lists``, which the reader skips.

A filled template is read like any centre's files: the header row is row 1 (comments and validations
are not cells, so the reader sees only the names), each record a row below it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from .fields import RECORD_TYPES, Field, RecordType
from .readers import LISTS_SHEET
from .units import QUANTITIES

__all__ = ["field_note", "template_columns", "write_csv_templates", "write_excel_template"]

#: rows below the header that the Excel validations cover
VALIDATED_ROWS = 10000
#: Excel's limit on an inline list (the formula text ``"a,b,c"``)
_INLINE_LIST_MAX = 255


def template_columns(rt: RecordType) -> list[str]:
    """The columns of a record type's template: its fields, each lab field of patients followed by its
    unit column (empty = the canonical unit)."""
    cols: list[str] = []
    for f in rt.fields:
        cols.append(f.name)
        if f.quantity and rt.name == "patients":
            cols.append(f"{f.name}_unit")
    return cols


def _fmt(x) -> str:
    return x if isinstance(x, str) else f"{x:g}"


def _unit_field(rt: RecordType, column: str) -> Field | None:
    base = column.removesuffix("_unit")
    if column.endswith("_unit") and base in rt.names and rt.field(base).quantity:
        return rt.field(base)
    return None


def field_note(rt: RecordType, column: str) -> str:
    """The header comment of ``column``: what it holds and what values are accepted."""
    unit_of = _unit_field(rt, column)
    if unit_of is not None:
        q = QUANTITIES[unit_of.quantity]
        accepted = sorted({u for u in q.factors if u} | {q.canonical})
        return (f"Unit of {unit_of.name} (optional). Empty = {q.canonical}.\n"
                f"Accepted: {', '.join(accepted)}")
    f = rt.field(column)
    lines = [f.description, f"Need: {f.need}. Type: {f.kind}."]
    if f.unit:
        lines.append(f"Unit: {f.unit}.")
    if f.lo is not None or f.hi is not None:
        lo = "" if f.lo is None else _fmt(f.lo)
        hi = "" if f.hi is None else _fmt(f.hi)
        lines.append(f"Range: {lo} to {hi}.")
    if f.kind == "date":
        lines.append("Format: YYYY-MM-DD (or an Excel date).")
    if f.kind == "bool":
        lines.append("Allowed: yes, no.")
    if f.categories:
        lines.append(f"Allowed: {', '.join(f.categories)}.")
    return "\n".join(lines)


def write_csv_templates(folder: str | Path) -> list[Path]:
    """One header-only UTF-8 CSV per record type in ``folder`` (created); returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for rt in RECORD_TYPES.values():
        p = out / f"{rt.name}.csv"
        with open(p, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerow(template_columns(rt))
        paths.append(p)
    return paths


def _date(s: str) -> str:
    d = dt.date.fromisoformat(s)
    return f"DATE({d.year},{d.month},{d.day})"


def _validation(f: Field, lists, list_col: list[int]):
    """An openpyxl DataValidation for field ``f`` (None when the field has no simple rule)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    common = {"allow_blank": True, "showErrorMessage": True, "errorStyle": "warning", "showInputMessage": False}
    if f.kind in ("category", "bool"):
        values = ["yes", "no"] if f.kind == "bool" else list(f.categories or {})
        inline = '"' + ",".join(values) + '"'
        if len(inline) <= _INLINE_LIST_MAX and not any("," in v for v in values):
            formula = inline
        else:  # a long list lives on the hidden _lists sheet
            list_col[0] += 1
            c = list_col[0]
            lists.cell(row=1, column=c, value=f.name)
            for i, v in enumerate(values, start=2):
                lists.cell(row=i, column=c, value=v)
            letter = get_column_letter(c)
            formula = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
        return DataValidation(type="list", formula1=formula, error=f"Allowed: {', '.join(values)}", **common)
    if f.kind == "date":
        return DataValidation(type="date", operator="between", formula1=_date(str(f.lo)), formula2=_date(str(f.hi)),
                              error=f"A date from {f.lo} to {f.hi}", **common)
    if f.kind in ("int", "float") and f.lo is not None and f.hi is not None:
        return DataValidation(type="whole" if f.kind == "int" else "decimal", operator="between",
                              formula1=_fmt(f.lo), formula2=_fmt(f.hi),
                              error=f"A {'whole ' if f.kind == 'int' else ''}number from {_fmt(f.lo)} to {_fmt(f.hi)}",
                              **common)
    return None


def write_excel_template(path: str | Path) -> Path:
    """A workbook with one sheet per record type: the header row with a comment on each cell, frozen,
    and a data validation on each column that has a simple rule (see the module docstring)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    sheets = [wb.create_sheet(rt.name) for rt in RECORD_TYPES.values()]
    lists = wb.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    list_col = [0]
    for ws, rt in zip(sheets, RECORD_TYPES.values(), strict=True):
        for j, name in enumerate(template_columns(rt), start=1):
            cell = ws.cell(row=1, column=j, value=name)
            cell.font = Font(bold=True)
            note = field_note(rt, name)
            cell.comment = Comment(note, "hccstudy", height=40 + 18 * (note.count("\n") + 1) + len(note) // 3,
                                   width=320)
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = max(12, len(name) + 2)
            if _unit_field(rt, name) is None:
                dv = _validation(rt.field(name), lists, list_col)
                if dv is not None:
                    ws.add_data_validation(dv)
                    dv.add(f"{letter}2:{letter}{VALIDATED_ROWS + 1}")
        ws.freeze_panes = "A2"
    if list_col[0] == 0:
        wb.remove(lists)
    buf = io.BytesIO()
    wb.save(buf)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_fixed_stamps(buf.getvalue()))
    return out


#: the stamp written as the template's creation and modification time (same input, same bytes)
_STAMP = "2000-01-01T00:00:00Z"


def _fixed_stamps(data: bytes) -> bytes:
    """The workbook with fixed times (document properties and zip entries), so that two runs of
    ``hccstudy init`` write byte-identical templates."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + _STAMP.encode() + rb"\3", body)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), body,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
