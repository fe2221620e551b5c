"""A centre's own column names, coded values and units, mapped onto the data model.

Config (``study.yaml``, key ``centres``; docs/config.md)::

    centres:
      east:
        columns: {patients: {PatientID: patient_id, ECOG_PS: ecog}}   # their column -> data-model field
        values: {sex: {M: male, F: female, 1: male, 2: female}}       # their code -> data-model value
        units: {bilirubin: mg/dL}                                     # unit of a column without a unit column

The readers apply a centre's mapping to each of its files before validation (:func:`rename_columns`,
:func:`apply_values`):
columns are renamed, coded values replaced, and a declared unit fills the field's unit column, so the
validator sees data-model names and the existing unit machinery converts the values.  Input files are
never modified.  Issues keep naming the user's own column (``ECOG_PS (ecog)``) so the cell can be found.

Matching rules: column names, as everywhere in the data model, ignore case and surrounding spaces; codes
are compared as text after stripping, ignoring case, with a whole number written as one, so ``1`` in
YAML matches ``"1"``, ``"1.0"`` or the number 1.0 in a file.  A code the map does not list stays as written and is then reported by the usual validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._yaml import ConfigError, validation_message
from .fields import BOOL_FALSE, BOOL_TRUE, RECORD_TYPES, RecordType
from .units import QUANTITIES, _norm_unit
from .validate import _as_text, closest

__all__ = [
    "CentreMapping", "FileMapping", "apply_values", "check_centres", "coded_fields", "column_targets",
    "file_mapping", "parse_centres", "rename_columns", "unit_fields",
]


def _key_text(k: Any) -> str:
    """A YAML key or value as text: ``1`` and ``1.0`` -> ``"1"``, ``true`` -> ``"true"``."""
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, float) and k.is_integer():
        return str(int(k))
    return str(k).strip()


def code_key(code: str) -> str:
    """How a code is compared: stripped, case-folded, and a whole number written as one (``1.0`` -> ``1``)."""
    c = str(code).strip().casefold()
    try:
        x = float(c)
    except ValueError:
        return c
    return str(int(x)) if x.is_integer() and abs(x) < 2.0**53 else c


def _text_mapping(v: Any, what: str) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ValueError(f"{what} must be a mapping")
    return {_key_text(k): _key_text(x) for k, x in v.items()}


class CentreMapping(BaseModel):
    """One centre's mapping (config ``centres.<centre>``).  Keys and values are kept as text; checked
    against the data model by :func:`check_centres`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, dict[str, str]] = Field(
        {}, description="per record type, the centre's column name -> the data-model field it holds")
    values: dict[str, dict[str, str]] = Field(
        {}, description="per coded field, the centre's code -> the data-model value")
    units: dict[str, str] = Field(
        {}, description="per lab field of patients, the unit of a column that has no unit column")

    @field_validator("columns", "values", mode="before")
    @classmethod
    def _nested_text(cls, v: Any, info) -> dict:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError("must be a mapping")
        return {_key_text(k): _text_mapping(x, f"{info.field_name}.{k}") for k, x in v.items()}

    @field_validator("units", mode="before")
    @classmethod
    def _units_text(cls, v: Any) -> dict:
        return _text_mapping(v, "units")


# --------------------------------------------------------------------------- what the data model offers
def column_targets(rt: RecordType) -> list[str]:
    """Columns a centre column may be mapped to: the fields, their unit columns (patients) and labs' unit."""
    units = [f"{f.name}_unit" for f in rt.fields if f.quantity and rt.name == "patients"]
    return [*rt.names, *units]


def coded_fields() -> dict[str, list[tuple[str, Any]]]:
    """Coded fields (category or yes/no) by name -> [(record type, Field)]."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for rt in RECORD_TYPES.values():
        for f in rt.fields:
            if f.kind in ("category", "bool"):
                out.setdefault(f.name, []).append((rt.name, f))
    return out


def unit_fields() -> dict[str, str]:
    """Fields whose unit can be chosen (a lab quantity with a unit column in patients) -> quantity."""
    return {f.name: f.quantity for f in RECORD_TYPES["patients"].fields if f.quantity}


def accepted_unit_spellings(quantity: str) -> list[str]:
    q = QUANTITIES[quantity]
    spellings = {_norm_unit(q.canonical): q.canonical}
    for u in q.factors:
        spellings.setdefault(u, u)
    return sorted(v for v in spellings.values() if v)


def _canonical_value(field, target: str) -> str | None:
    """The data-model value ``target`` stands for in a coded field, or None when not allowed."""
    t = target.strip().lower()
    if field.kind == "bool":
        return "true" if t in BOOL_TRUE else "false" if t in BOOL_FALSE else None
    for code, aliases in (field.categories or {}).items():
        if t == code.lower() or t in (a.lower() for a in aliases):
            return code
    return None


def _suggest(name: str, options: list[str]) -> str:
    hit = closest(name, options)
    return f"; did you mean {hit!r}?" if hit is not None else ""


# --------------------------------------------------------------------------- validation at config load
def check_centres(centres: dict[str, CentreMapping]) -> None:
    """Check every centre's mapping against the data model; raises ValueError naming the key path
    (``centres.east.columns.patients.ECOG_PS: ...``): an unknown record type, an unknown target field,
    two columns mapped to one field, a value map for a field that is not coded, a value the field does
    not allow, a unit the field does not offer."""
    problems: list[str] = []
    coded = coded_fields()
    choosable = unit_fields()
    all_fields = sorted({f.name for rt in RECORD_TYPES.values() for f in rt.fields})
    for centre, m in centres.items():
        at = f"centres.{centre}"
        for rname, cols in m.columns.items():
            rt = RECORD_TYPES.get(rname.strip().lower())
            if rt is None:
                problems.append(f"{at}.columns.{rname}: unknown record type{_suggest(rname, list(RECORD_TYPES))} "
                                f"(record types: {', '.join(RECORD_TYPES)})")
                continue
            targets = column_targets(rt)
            seen_source: dict[str, str] = {}
            seen_target: dict[str, str] = {}
            for source, target in cols.items():
                key = f"{at}.columns.{rname}.{source}"
                folded = source.strip().lower()
                if folded in seen_source:
                    problems.append(f"{key}: the same column as {seen_source[folded]!r} once case and spaces are "
                                    "ignored; list it once")
                seen_source[folded] = source
                t = target.strip().lower()
                if t not in targets:
                    problems.append(f"{key}: {target!r} is not a field of {rt.name}{_suggest(target, targets)}")
                    continue
                if t in seen_target:
                    problems.append(f"{key}: columns {seen_target[t]!r} and {source!r} are both mapped to {t!r}; "
                                    "map one column to each field")
                seen_target[t] = source
        for fname, codes in m.values.items():
            key = f"{at}.values.{fname}"
            hits = coded.get(fname.strip().lower())
            if hits is None:
                if fname.strip().lower() in all_fields:
                    problems.append(f"{key}: {fname!r} is not a coded field (a category or yes/no); only coded "
                                    "fields take a value map (docs/data-model.md lists them)")
                else:
                    problems.append(f"{key}: {fname!r} is not a field of the data model"
                                    f"{_suggest(fname, list(coded))}")
                continue
            f = hits[0][1]
            folded: dict[str, tuple[str, str]] = {}
            for code, target in codes.items():
                if _canonical_value(f, target) is None:
                    allowed = "yes/no (true, false)" if f.kind == "bool" else ", ".join(f.categories or {})
                    problems.append(f"{key}.{code}: {target!r} is not a value of {f.name}; allowed: {allowed}")
                c = code_key(code)
                if c in folded and folded[c][1] != target:
                    problems.append(f"{key}.{code}: the same code as {folded[c][0]!r} once case is ignored, with "
                                    "another value; list it once")
                folded[c] = (code, target)
        for fname, unit in m.units.items():
            key = f"{at}.units.{fname}"
            q = choosable.get(fname.strip().lower())
            if q is None:
                problems.append(f"{key}: {fname!r} has no unit choice in the data model; units can be declared "
                                f"for: {', '.join(choosable)}")
                continue
            accepted = QUANTITIES[q].factors
            if _norm_unit(unit) not in accepted and _norm_unit(unit) != _norm_unit(QUANTITIES[q].canonical):
                problems.append(f"{key}: unit {unit!r} is not offered for {fname}; accepted: "
                                f"{', '.join(accepted_unit_spellings(q))}")
    if problems:  # the first in full (a message is cut at 300 characters), then how many more
        more = f" (and {len(problems) - 1} more problem(s) under centres)" if len(problems) > 1 else ""
        raise ValueError(problems[0] + more)


def parse_centres(data: Any, where: str = "") -> dict[str, CentreMapping]:
    """``centres`` from a plain mapping (e.g. YAML) -> validated models; ConfigError naming the key."""
    if isinstance(data, dict) and all(isinstance(v, CentreMapping) for v in data.values()):
        centres = {str(k): v for k, v in data.items()}
    else:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}centres: must be a mapping of centre -> mapping")
        try:
            centres = {str(k): CentreMapping.model_validate(v or {}) for k, v in data.items()}
        except ValidationError as exc:
            raise ConfigError(f"{where}centres: {validation_message(exc)}") from exc
    try:
        check_centres(centres)
    except ValueError as exc:
        raise ConfigError(f"{where}{exc}") from exc
    return centres


# --------------------------------------------------------------------------- applied by the readers
class FileMapping:
    """One centre's mapping compiled for one record type: lower-case renames, code lookups, units."""

    def __init__(self, centre: str, rt: RecordType, m: CentreMapping):
        self.centre, self.rt = centre, rt
        cols = next((v for k, v in m.columns.items() if k.strip().lower() == rt.name), {})
        self.rename = {s.strip().lower(): t.strip().lower() for s, t in cols.items()}
        self.config_key = f"centres.{centre}.columns.{rt.name}"
        self.codes: dict[str, dict[str, str]] = {}
        for fname, codes in m.values.items():
            name = fname.strip().lower()
            if name in rt.names:
                f = rt.field(name)
                self.codes[name] = {code_key(c): _canonical_value(f, t) or t for c, t in codes.items()}
        self.units = {f.strip().lower(): u for f, u in m.units.items()} if rt.name == "patients" else {}

    def __bool__(self) -> bool:
        return bool(self.rename or self.codes or self.units)


def file_mapping(centres: dict[str, CentreMapping] | None, centre: str, record_type: str) -> FileMapping | None:
    """The compiled mapping of ``centre``'s ``record_type`` file, or None when there is none."""
    if not centres or centre not in centres:
        return None
    fm = FileMapping(centre, RECORD_TYPES[record_type], centres[centre])
    return fm if fm else None


def rename_columns(names: list[str], fm: FileMapping) -> tuple[list[str], dict[str, str]]:
    """Matched (lower-case) column names after the mapping; returns (new names, field -> source name)."""
    out, renamed = [], {}
    for n in names:
        t = fm.rename.get(n)
        if t is None:
            out.append(n)
        else:
            out.append(t)
            renamed[t] = n
    return out, renamed


def apply_values(df: pd.DataFrame, fm: FileMapping) -> pd.DataFrame:
    """Coded values replaced (vectorised: one lookup per distinct code) and declared units filled.
    Codes are compared by :func:`code_key`; an unlisted code stays as written."""
    if not fm.codes and not fm.units:
        return df
    df = df.copy()
    for name, lookup in fm.codes.items():
        if name not in df:
            continue
        codes, uniques = pd.factorize(_as_text(df[name]), use_na_sentinel=True)
        found = np.array([lookup.get(code_key(u)) for u in uniques] + [None], dtype=object)  # per distinct code
        mapped = found[codes]
        hit = pd.notna(mapped)
        if hit.any():
            col = df[name].to_numpy(dtype=object, copy=True)
            col[hit] = mapped[hit]
            df[name] = col
    for name, unit in fm.units.items():
        ucol = f"{name}_unit"
        if ucol in df:  # a unit written in a row wins; an empty cell takes the declared unit
            u = _as_text(df[ucol])
            df[ucol] = u.astype(object).where(u.notna().to_numpy(dtype=bool), unit)
        else:
            df[ucol] = np.full(len(df), unit, dtype=object)
    return df
