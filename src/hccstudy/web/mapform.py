"""The mapping page's model: ``hccstudy map``'s column table (:func:`~hccstudy.schema.columnmap.column_map`)
and its unaccepted codes (:func:`~hccstudy.schema.columnmap.unmapped_codes`) turned into drop-downs,
and the posted choices turned back into study.yaml's ``centres:`` block (checked by the config's own
:func:`~hccstudy.schema.mapping.check_centres` when saved)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..schema.columnmap import column_map, required, unmapped_codes
from ..schema.fields import RECORD_TYPES
from ..schema.mapping import CentreMapping, accepted_unit_spellings, code_key, coded_fields, unit_fields
from ..schema.validate import closest

HOW = {"exact": "same name", "mapped": "saved mapping", "suggested": "suggested (did you mean)",
       "missing": "not found", "extra": "not used"}


@dataclass(frozen=True)
class FieldRow:
    n: int
    key: str            # JSON [centre, record_type, field]
    field: str
    need: str
    chosen: str
    how: str


@dataclass(frozen=True)
class FileBlock:
    centre: str
    file: str
    record_type: str
    headers: list[str]
    fields: list[FieldRow]
    unused: list[str]

    @property
    def todo(self) -> int:
        """Fields to look at: a suggestion to check, or a required field with no column."""
        return sum(f.how == "suggested" or (f.how == "missing" and f.need == "required") for f in self.fields)

    @property
    def found(self) -> int:
        return sum(f.how in ("exact", "mapped") for f in self.fields)


@dataclass(frozen=True)
class ValueRow:
    n: int
    key: str            # JSON [centre, field, code]
    centre: str
    field: str
    code: str
    rows: int
    options: list[str]
    chosen: str
    how: str


@dataclass(frozen=True)
class UnitRow:
    n: int
    key: str            # JSON [centre, field]
    centre: str
    field: str
    options: list[str]
    chosen: str


def _allowed(field_name: str) -> list[str]:
    f = coded_fields()[field_name][0][1]
    return ["true", "false"] if f.kind == "bool" else list(f.categories or {})


def mapping_model(folder: Path, centres: dict[str, CentreMapping]) -> tuple[list[FileBlock], list[ValueRow], list[UnitRow]]:
    """What the mapping page shows for the study ``folder`` under the config's ``centres``."""
    table = column_map(folder, centres)
    blocks: list[FileBlock] = []
    n = 0
    for (centre, file, rname), part in table.groupby(["centre", "file", "record_type"], sort=True):
        headers = list(dict.fromkeys(c for c in part["column"] if c))
        rows = []
        for r in part[part["how"] != "extra"].itertuples(index=False):
            need = "required" if required(rname, r.field) else ("for analysis" if r.need == "analysis" else "optional")
            rows.append(FieldRow(n, json.dumps([centre, rname, r.field]), r.field, need, r.column, r.how))
            n += 1
        # the rows to look at first (a suggestion, a required field not found), then the rest in model order
        rows.sort(key=lambda f: not (f.how == "suggested" or (f.how == "missing" and f.need == "required")))
        unused = [c for c in part.loc[part["how"] == "extra", "column"] if c]
        blocks.append(FileBlock(centre, file, rname, headers, rows, unused))
    blocks.sort(key=lambda b: b.todo == 0)  # the files that need a look first (stable: by centre, file)
    values: list[ValueRow] = []
    seen = set()
    n = 0
    for centre, m in sorted(centres.items()):
        for fname, codes in m.values.items():
            if fname not in coded_fields():
                continue
            for code, target in codes.items():
                values.append(ValueRow(n, json.dumps([centre, fname, code]), centre, fname, code, 0,
                                       _allowed(fname), target, "saved mapping"))
                seen.add((centre, fname, code_key(code)))
                n += 1
    codes = unmapped_codes(folder, centres)
    for r in codes.itertuples(index=False):
        if (r.centre, r.field, code_key(r.code)) in seen:
            continue
        seen.add((r.centre, r.field, code_key(r.code)))
        options = _allowed(r.field)
        hit = closest(str(r.code), options)
        values.append(ValueRow(n, json.dumps([r.centre, r.field, r.code]), r.centre, r.field, str(r.code), int(r.n),
                               options, hit or "", "suggested (did you mean)" if hit else "not accepted"))
        n += 1
    units: list[UnitRow] = []
    choosable = unit_fields()
    n = 0
    for b in blocks:
        if b.record_type != "patients":
            continue
        have = {f.field: f.chosen for f in b.fields}
        given = centres.get(b.centre, CentreMapping()).units
        for fname, quantity in choosable.items():
            if have.get(fname) and not have.get(f"{fname}_unit"):
                units.append(UnitRow(n, json.dumps([b.centre, fname]), b.centre, fname,
                                     accepted_unit_spellings(quantity), given.get(fname, "")))
                n += 1
    return blocks, values, units


def cached_model(folder: Path):
    """:func:`mapping_model` of the study under its study.yaml, cached while its inputs are unchanged;
    raises ConfigError when study.yaml does not load."""
    from ..config import load_config
    from .checks import memo

    def compute():
        return mapping_model(folder, load_config(Path(folder) / "study.yaml").centres)

    return memo(folder, "mapping", compute)


def centres_from_form(form, old: dict[str, CentreMapping], present: set[str]) -> dict:
    """The ``centres`` mapping (plain dicts, for YAML) from the posted mapping form: a column is listed
    only when it differs from the field's own name; a centre of the config that is not in the folder
    keeps its mapping as it was."""
    out: dict[str, dict] = {}
    chosen: dict[tuple[str, str, str], str] = {}  # (centre, record type, column) -> the field it is chosen for
    for name, m in old.items():
        if name not in present:
            out[name] = m.model_dump(exclude_defaults=True)
    for k, v in form.multi_items():
        if not isinstance(v, str) or not v.strip():
            continue
        if k.startswith("col-"):
            centre, rname, field = json.loads(form.get("colkey-" + k[4:], "null") or "null") or (None, None, None)
            if centre is None or rname not in RECORD_TYPES:
                continue
            other = chosen.setdefault((centre, rname, v.strip().lower()), field)
            if other != field:
                raise ValueError(f"{centre}, {rname}: column {v!r} is chosen for both {other} and {field}; "
                                 "choose one column for each field")
            if v.strip().lower() != field:
                out.setdefault(centre, {}).setdefault("columns", {}).setdefault(rname, {})[v] = field
        elif k.startswith("val-"):
            centre, field, code = json.loads(form.get("valkey-" + k[4:], "null") or "null") or (None, None, None)
            if centre is not None:
                out.setdefault(centre, {}).setdefault("values", {}).setdefault(field, {})[code] = v
        elif k.startswith("unit-"):
            centre, field = json.loads(form.get("unitkey-" + k[5:], "null") or "null") or (None, None)
            if centre is not None:
                out.setdefault(centre, {}).setdefault("units", {})[field] = v
    return {c: out[c] for c in sorted(out) if out[c]}


def centres_yaml(centres: dict) -> str:
    """study.yaml's ``centres:`` block."""
    if not centres:
        return "centres: {}\n"
    return yaml.safe_dump({"centres": centres}, sort_keys=False, allow_unicode=True, default_flow_style=False)
