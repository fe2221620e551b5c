"""``hccstudy map``: how each centre's columns meet the data model, and a ``centres:`` stub to complete.

:func:`column_map` reads a study folder's headers and returns one row per data-model field and file
(``how``: ``exact`` name, ``mapped`` in the config, ``suggested`` from the file's own headers, or
``missing``), and one row per file column that no field uses (``extra``).  :func:`centres_stub` turns
it into YAML text for the ``centres`` key: the config's own mappings, the suggestions filled in, and a
``# TODO`` comment for each required field with no suggestion and for each code of a coded field that
neither the data model nor the config accepts (:func:`unmapped_codes`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from .fields import RECORD_TYPES
from .mapping import CentreMapping, column_targets, file_mapping
from .readers import read_study
from .report import IssueLog
from .validate import _as_text, closest, parse_field

__all__ = ["CODE_COLUMNS", "MAP_COLUMNS", "centres_stub", "column_map", "missing_required", "required",
           "unmapped_codes"]

MAP_COLUMNS = ["centre", "file", "record_type", "field", "need", "column", "how"]


def required(record_type: str, field: str) -> bool:
    """A field whose column must be present (a missing column is an error): need always or analysis."""
    rt = RECORD_TYPES[record_type]
    if field not in rt.names:
        return False
    f = rt.field(field)
    return f.need in ("always", "analysis") and not (record_type == "patients" and field == "age")


def _need(record_type: str, field: str) -> str:
    rt = RECORD_TYPES[record_type]
    return rt.field(field).need if field in rt.names else "optional"


def column_map(study_dir: str | Path, centres: dict[str, CentreMapping] | None = None) -> pd.DataFrame:
    """Per centre and file: each data-model field with the column used and how, then the unused columns.

    ``how``: ``exact`` (the field's own name), ``mapped`` (config ``centres``), ``suggested`` (a header
    of the file close to the field's name, as the did-you-mean of ``validate``; each header suggested
    once, required fields first), ``missing`` (see ``need``), ``extra`` (a column no field uses)."""
    raw = read_study(study_dir, IssueLog())  # the files as written: the mapping is looked at here
    rows: list[dict] = []
    for rname, files in raw.columns.items():
        rt = RECORD_TYPES[rname]
        for source, (centre, cols) in sorted(files.items()):
            written = raw.headers.get(source, {})
            fm = file_mapping(centres, centre, rname)
            rename = fm.rename if fm is not None else {}
            by_target = {t: s for s, t in rename.items() if s in cols}
            targets = column_targets(rt)
            used: set[str] = set(by_target.values())  # the file's columns a field uses
            found: dict[str, tuple[str, str]] = {}
            for t in targets:
                if t in by_target:
                    found[t] = (by_target[t], "mapped")
                elif t in cols and t not in rename:
                    found[t] = (t, "exact")
                    used.add(t)
            free = [c for c in cols if c not in used]
            order = sorted((t for t in targets if t not in found), key=lambda t: not required(rname, t))
            for t in order:
                hit = closest(t, free)
                if hit is not None:
                    found[t] = (hit, "suggested")
                    free.remove(hit)
            for t in targets:
                col, how = found.get(t, ("", "missing"))
                if how == "missing" and t not in rt.names:
                    continue  # a unit column is listed only when the file has it
                rows.append({"centre": centre, "file": source, "record_type": rname, "field": t,
                             "need": _need(rname, t), "column": written.get(col, col), "how": how})
            for c in free:
                rows.append({"centre": centre, "file": source, "record_type": rname, "field": "",
                             "need": "", "column": written.get(c, c), "how": "extra"})
    return pd.DataFrame(rows, columns=MAP_COLUMNS)


CODE_COLUMNS = ["centre", "record_type", "field", "code", "n"]


def unmapped_codes(study_dir: str | Path, centres: dict[str, CentreMapping] | None = None) -> pd.DataFrame:
    """Codes of coded fields (categories, yes/no) that neither the data model nor the config's value
    maps accept, per centre and field, with their number of rows (the rows ``validate`` would report)."""
    raw = read_study(study_dir, IssueLog(), centres)  # with the mapping applied, as validate reads it
    parts = []
    for rname, df in raw.tables.items():
        rt = RECORD_TYPES[rname]
        for f in rt.fields:
            if f.kind not in ("category", "bool") or f.name not in df:
                continue
            _vals, bad = parse_field(df[f.name], f)
            if not bad.any():
                continue
            sub = pd.DataFrame({"centre": df["centre"].to_numpy()[bad], "code": _as_text(df[f.name])[bad].to_numpy()})
            n = sub.groupby(["centre", "code"], sort=True).size().rename("n").reset_index()
            parts.append(n.assign(record_type=rname, field=f.name))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CODE_COLUMNS})
    return pd.concat(parts, ignore_index=True)[CODE_COLUMNS]


def missing_required(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a :func:`column_map` table whose required field the config does not find (suggested or missing)."""
    need = table["need"].isin(["always", "analysis"]) & ~(
        (table["record_type"] == "patients") & (table["field"] == "age"))
    return table[need & table["how"].isin(["suggested", "missing"])]


def _y(v) -> str:
    """A YAML scalar as flow text (quoted where YAML needs it)."""
    return yaml.safe_dump(v, default_flow_style=True, allow_unicode=True, width=1 << 20).strip().removesuffix("...").strip()


def centres_stub(table: pd.DataFrame, centres: dict[str, CentreMapping] | None = None,
                 codes: pd.DataFrame | None = None) -> str:
    """YAML text of a ``centres:`` key: the config's mappings, each suggestion of ``table`` filled in
    (``# suggested: check``), ``# TODO`` for each required field with no column and for each code of
    ``codes`` (:func:`unmapped_codes`) that no value map lists."""
    centres = centres or {}
    codes = codes if codes is not None else pd.DataFrame(columns=CODE_COLUMNS)
    lines = ["centres:"]
    names = sorted(set(table["centre"]) | set(centres))
    for centre in names:
        given = centres.get(centre, CentreMapping())
        t = table[table["centre"] == centre]
        block: list[str] = []
        for rname in RECORD_TYPES:
            entries = [f"        {_y(s)}: {_y(f)}" for s, f in
                       next((v for k, v in given.columns.items() if k.strip().lower() == rname), {}).items()]
            part = t[t["record_type"] == rname]
            for r in part[part["how"] == "suggested"].itertuples(index=False):
                entries.append(f"        {_y(r.column)}: {_y(r.field)}  # suggested: check")
            for r in part[(part["how"] == "missing")].itertuples(index=False):
                if required(rname, r.field):
                    entries.append(f"        # TODO {r.field} ({r.need}; {r.file}): no column found; add "
                                   f"'<your column>: {r.field}'")
            if entries:
                block += [f"      {rname}:", *entries]
        body = []
        if block:
            body += ["    columns:", *block]
        todo = codes[codes["centre"] == centre]
        value_fields = list(dict.fromkeys([*given.values, *todo["field"]]))
        if value_fields:
            body.append("    values:")
        for fname in value_fields:
            body.append(f"      {_y(fname)}:")
            body += [f"        {_y(c)}: {_y(v)}" for c, v in given.values.get(fname, {}).items()]
            for r in todo[todo["field"] == fname].itertuples(index=False):
                rt = RECORD_TYPES[r.record_type]
                f = rt.field(r.field)
                allowed = "yes, no" if f.kind == "bool" else ", ".join(f.categories or {})
                body.append(f"        # TODO {_y(r.code)}: <{allowed}>   ({r.n} row(s) of {r.record_type})")
        if given.units:
            body.append(f"    units: {_y(given.units)}")
        if body:
            lines += [f"  {_y(centre)}:", *body]
    return "\n".join(lines) + "\n" if len(lines) > 1 else "centres: {}\n"
