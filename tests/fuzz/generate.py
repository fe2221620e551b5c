"""Seeded, deterministic generator of fuzz cases: mutated study folders, study configs and analysis configs.

A case is fully determined by ``(seed, index)``: the mutation class is ``CLASSES[index % len(CLASSES)]``
(so every run of at least ``len(CLASSES)`` cases covers every class) and the concrete mutation (file, row,
column, value) is drawn from ``random.Random`` seeded with both.  Each case holds the bytes of every file
it needs (the pristine example study and the shared R data sets are read once and cached in memory), the
outcome expected of a correct hccstudy (a clean error, or accepted) and, for an error, the places its
message must name (any one of ``where``).

Study cases contain one centre of ``hccstudy``'s example study (``alpha``: CSV, ``beta``: CSV + Parquet,
``gamma.xlsx``: a workbook), mutated, and optionally a study config; they run through
``hccstudy.load_study``.  Analysis cases contain ``tests/reference/shared/veteran.csv`` (possibly mutated)
and an analysis config; they run through ``hccstudy.analyze``.  What each class mutates and expects is in
its function's docstring and in docs/reliability.md ("Fuzz campaign").
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import hccstudy
from hccstudy.schema.fields import RECORD_TYPES

SHARED = Path(__file__).resolve().parents[1] / "reference" / "shared"
STUDY = "study"            # the study folder inside a case folder
STUDY_CONFIG = "config.yaml"
ANALYSIS_CONFIG = "analysis.yaml"
TABLE = "table.csv"


@dataclass(frozen=True)
class Where:
    """A place an error message must name.  ``file``: study-relative path as the validation report gives
    it (``alpha/labs.csv``, ``gamma.xlsx[labs]``); a value ending in ``/`` matches any file below it.  For a
    config or analysis error (a message, not a report) every given field must appear in the message;
    ``key`` matches when each of its dot-separated parts appears."""

    file: str | None = None
    row: int | None = None
    column: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        parts = [self.file, None if self.row is None else f"row {self.row}", self.column, self.key]
        return " ".join(p for p in parts if p) or "-"


@dataclass(frozen=True)
class Case:
    seed: int
    index: int
    mutation: str                              # the mutation class
    detail: str                                # the concrete mutation, one line
    kind: str                                  # "study" (load_study) | "analyze" (analyze)
    files: tuple[tuple[str, bytes], ...]       # path inside the case folder -> content
    special: tuple[tuple[str, str], ...] = ()  # path -> "fifo" | "dir" | "selflink": not a regular file
    config: str | None = None                  # path inside the case folder of the config to pass
    expect: tuple[str, ...] = ("error",)       # acceptable outcomes
    where: tuple[Where, ...] = ()              # for "error": places of which the message must name one

    @property
    def repro(self) -> str:
        return f"python benchmarks/fuzz.py --seed {self.seed} --case {self.index}"


# --------------------------------------------------------------------------- pristine inputs
@cache
def pristine() -> dict[str, bytes]:
    """The example study's files (study-relative path -> bytes), read once."""
    root = Path(hccstudy.example_study_path())
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not any(part.startswith((".", "__")) for part in p.relative_to(root).parts)}


@cache
def veteran() -> bytes:
    return (SHARED / "veteran.csv").read_bytes()


@cache
def _parse(data: bytes) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return tuple(rows[0]), tuple(tuple(r) for r in rows[1:])


class Csv:
    """A CSV file as a header and rows of text, to mutate and write back (parsed once per content)."""

    def __init__(self, data: bytes):
        header, rows = _parse(data)
        self.header, self.rows = list(header), [list(r) for r in rows]

    def col(self, name: str) -> int:
        return self.header.index(name)

    def get(self, i: int, name: str) -> str:
        return self.rows[i][self.col(name)]

    def set(self, i: int, name: str, value: str) -> None:
        self.rows[i][self.col(name)] = value

    def add_column(self, name: str, values: list[str]) -> None:
        self.header.append(name)
        for r, v in zip(self.rows, values, strict=True):
            r.append(v)

    def text(self, delimiter: str = ",", newline: str = "\n", quoting: int = csv.QUOTE_MINIMAL) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=quoting)
        w.writerow(self.header)
        w.writerows(self.rows)
        return buf.getvalue()

    def dump(self, **kw) -> bytes:
        return self.text(**kw).encode("utf-8")


CSV_CENTRES = ("alpha", "beta")
CHILDREN = ("haic_cycles", "systemic", "labs", "assessments", "adverse_events")


def centre_files(centre: str) -> dict[str, bytes]:
    """Every file of one centre of the example, as case-folder paths."""
    return {f"{STUDY}/{rel}": b for rel, b in pristine().items() if rel.split("/")[0] in (centre, f"{centre}.xlsx")}


def csv_files(centre: str | None = None) -> list[str]:
    return [rel for rel in pristine() if rel.endswith(".csv") and (centre is None or rel.startswith(centre + "/"))]


def record(rel: str) -> str:
    return Path(rel).stem


@cache
def fields(rel: str, kinds: tuple[str, ...] = (), needs: tuple[str, ...] = ()):
    """Fields of the data model present in this file's header (optionally of some kinds / needs)."""
    t = Csv(pristine()[rel])
    rt = RECORD_TYPES[record(rel)]
    return [f for f in rt.fields if f.name in t.header and (not kinds or f.kind in kinds) and (not needs or f.need in needs)]


def pick_cell(rng: random.Random, kinds: tuple[str, ...] = (), needs: tuple[str, ...] = (),
              files: list[str] | None = None, bounded: bool = False):
    """A random non-empty cell (file, Csv, row index, field) of the given field kinds."""
    rel, f, i = rng.choice(_cells(kinds, needs, tuple(files or csv_files()), bounded))
    return rel, Csv(pristine()[rel]), i, f


@cache
def _cells(kinds, needs, files, bounded):
    options = []
    for rel in files:
        t = Csv(pristine()[rel])
        for f in fields(rel, kinds, needs):
            if bounded and f.lo is None and f.hi is None:
                continue
            rows = [i for i in range(len(t.rows)) if t.get(i, f.name) != ""]
            options += [(rel, f, i) for i in rows]
    return options


def study_case(rel: str, data: bytes, **kw) -> dict:
    """A study case: the centre of ``rel`` with ``rel`` replaced by ``data``."""
    files = centre_files(rel.split("/")[0].removesuffix(".xlsx"))
    files[f"{STUDY}/{rel}"] = data
    return {"kind": "study", "files": files, **kw}


def located(rel: str, row: int | None = None, column: str | None = None) -> tuple[Where, ...]:
    return (Where(rel, row, column),)


def _date(s: str, days: int) -> str:
    return (dt.date.fromisoformat(s) + dt.timedelta(days=days)).isoformat()


# --------------------------------------------------------------------------- study config mutations
def _cfg_case(rng: random.Random, yaml_text: str | bytes, expect=("error",), where=(), detail: str = "") -> dict:
    centre = rng.choice(["alpha", "beta", "gamma"])
    data = yaml_text if isinstance(yaml_text, bytes) else yaml_text.encode("utf-8")
    files = {**centre_files(centre), STUDY_CONFIG: data}
    shown = detail or (yaml_text if isinstance(yaml_text, str) else repr(yaml_text[:60])).strip().replace("\n", " | ")
    return {"kind": "study", "files": files, "config": STUDY_CONFIG, "expect": expect, "where": where,
            "detail": f"{shown} (centre {centre})"}


def _nested(key: str, value: str) -> str:
    section, name = key.split(".")
    return f"{section}:\n  {name}: {value}\n"


def cfg_impossible_date(rng):
    """A study date that is not a calendar date (Feb 30, month 13, year 0): a config error naming the key."""
    key = rng.choice(["study.start", "study.end", "study.data_cutoff"])
    value = rng.choice(["2023-02-30", "2021-13-01", "0000-01-01", "2019-04-31", "2020-00-10"])
    return _cfg_case(rng, _nested(key, value), where=(Where(key=key),), detail=f"{key}: {value}")


_BAD = [".nan", ".inf", "-.inf", "true", "1e23", "-1"]
#: numeric study-config keys -> values no study can mean (zero only where it is meaningless)
NUMERIC_KEYS = {
    "units.bilirubin_factor": ["0", *_BAD], "albi.coefficient": ["0", ".nan", ".inf", "-.inf", "true", "1e23"],
    "dosing.oxaliplatin_mg_m2": ["0", *_BAD], "dosing.folinate_mg_m2": ["0", *_BAD],
    "dosing.fluorouracil_mg_m2": ["0", *_BAD], "dosing.cycle_days": ["0", *_BAD], "dosing.bsa_round": ["0", *_BAD],
    "dosing.bsa_cap": ["0", *_BAD], "mrecist.confirm_days": _BAD, "mrecist.sd_min_days": _BAD,
    "mrecist.pd_absolute_mm": _BAD, "mrecist.new_lesion_min_mm": _BAD, "mrecist.baseline_window_days": _BAD,
    "mrecist.measurable_min_mm": _BAD, "eligibility.ecog_max": [*_BAD, "6"], "arm.si_window_days": _BAD,  # 0 is valid: SI = both started by the end of cycle 1
    "arm.first_cycle_days": _BAD, "arm.pre_haic_tolerance_days": _BAD,
    "ctcae.window_days_after_last_haic": _BAD, "endpoints.days_per_month": ["0", *_BAD],
}


def cfg_numeric(rng):
    """Zero, negative, NaN, +-inf, true or 1e23 for a numeric study-config key: a config error naming the key."""
    key = rng.choice(sorted(NUMERIC_KEYS))
    value = rng.choice(NUMERIC_KEYS[key])
    return _cfg_case(rng, _nested(key, value), where=(Where(key=key),), detail=f"{key}: {value}")


def cfg_unknown_key(rng):
    """An unknown key at any level, an unknown lab or a negative limit in ctcae.limits: an error naming the key."""
    text, key = rng.choice([
        ("dosing:\n  cycle_dayz: 21\n", "dosing.cycle_dayz"), ("dosage:\n  cycle_days: 21\n", "dosage"),
        ("study:\n  cutoff: 2021-01-01\n", "study.cutoff"),
        ("ctcae:\n  limits:\n    tbilirubin: {uln: 21}\n", "ctcae.limits.tbilirubin"),
        ("ctcae:\n  limits:\n    alt: {uln: -40}\n", "ctcae.limits.alt"),
        ("ctcae:\n  limits:\n    platelets: {lln: .nan}\n", "ctcae.limits.platelets"),
    ])
    return _cfg_case(rng, text, where=(Where(key=key),))


def cfg_wrong_type(rng):
    """A value of the wrong type or shape (text for a number, scalar for a list, empty order): error naming the key."""
    text, key = rng.choice([
        ("dosing:\n  cycle_days: three weeks\n", "dosing.cycle_days"),
        ("eligibility:\n  order: complete_data\n", "eligibility.order"),
        ("eligibility:\n  order: []\n", "eligibility.order"),
        ("study: 2019\n", "study"), ("name: [1, 2]\n", "name"),
        ("dosing:\n  bsa_formula: [mosteller]\n", "dosing.bsa_formula"),
        ("dosing:\n  cycle_days: 1.5\n", "dosing.cycle_days"),
        ("table1:\n  digits: -1\n", "table1"),
    ])
    return _cfg_case(rng, text, where=(Where(key=key),))


def cfg_deep_nesting(rng):
    """A value nested hundreds to thousands of levels deep: a config error naming the top key or the config file
    (a guard before the keys are known), not a RecursionError and not a hang."""
    depth = rng.choice([300, 2000, 5000])
    value = "[" * depth + "]" * depth if rng.random() < 0.5 else "{a: " * depth + "1" + "}" * depth
    return _cfg_case(rng, f"dosing:\n  cycle_days: {value}\n", where=(Where(key="dosing"), Where(file=STUDY_CONFIG)),
                     detail=f"dosing.cycle_days nested {depth} levels ({value[:5]}...)")


def cfg_encoding(rng):
    """A config that is not UTF-8 (latin-1, UTF-16, binary): an error naming the config file.  A UTF-8 BOM is
    accepted; UTF-16 with a BOM may be decoded (accepted) or refused (error naming the file)."""
    text = 'name: "Étude HAIC, Zürich"\ndosing:\n  cycle_days: 21\n'
    variant = rng.choice(["latin-1", "utf-16", "binary", "utf-8-sig"])
    if variant == "latin-1":
        return _cfg_case(rng, text.encode("latin-1"), where=(Where(file=STUDY_CONFIG),), detail="latin-1 config")
    if variant == "utf-16":
        return _cfg_case(rng, text.encode("utf-16"), expect=("error", "accepted"), where=(Where(file=STUDY_CONFIG),),
                         detail="UTF-16 config with BOM")
    if variant == "binary":
        blob = bytes(rng.randrange(256) for _ in range(200))
        return _cfg_case(rng, blob, where=(Where(file=STUDY_CONFIG),), detail="200 random bytes as config")
    return _cfg_case(rng, text.encode("utf-8-sig"), expect=("accepted",), detail="UTF-8 config with BOM")


def cfg_path(rng):
    """The config path is a folder or a FIFO: an error naming it (no IsADirectoryError, no hang)."""
    centre = rng.choice(["alpha", "beta", "gamma"])
    what = rng.choice(["dir", "fifo"])
    return {"kind": "study", "files": centre_files(centre), "special": {STUDY_CONFIG: what}, "config": STUDY_CONFIG,
            "where": (Where(file=STUDY_CONFIG),), "detail": f"config path is a {what} (centre {centre})"}


def cfg_valid(rng):
    """Control: plausible non-default values are accepted."""
    text = rng.choice([
        "dosing:\n  cycle_days: 14\n", "endpoints:\n  days_per_month: 30.44\n", "eligibility:\n  ecog_max: 2\n",
        "study:\n  data_cutoff: 2024-12-31\n", "units:\n  bilirubin_factor: 17.104\n", "{}\n", "",
        "mrecist:\n  confirm: false\n", "ctcae:\n  limits:\n    alt: {uln: 40}\n",
    ])
    return _cfg_case(rng, text, expect=("accepted",), detail=f"valid config {text!r}")


# --------------------------------------------------------------------------- study data mutations
def data_duplicate_column(rng):
    """A second copy of a column that differs only by case or surrounding spaces, with other values: an
    error naming the file and the column (not a silently used first copy, not an InvalidIndexError)."""
    rel = rng.choice(csv_files())
    t = Csv(pristine()[rel])
    f = rng.choice([f for f in fields(rel) if f.name != "patient_id"] or fields(rel))
    alias = rng.choice([f.name.upper(), f" {f.name}", f"{f.name} ", f.name.capitalize()])
    vals = [rng.choice(["0", "x", "2020-01-01", "yes"]) for _ in t.rows]
    t.add_column(alias, vals)
    return study_case(rel, t.dump(), where=(Where(rel, None, f.name), Where(rel, None, alias)),
                      detail=f"{rel}: extra column {alias!r} beside {f.name!r}")


def data_nonfinite(rng):
    """inf / -inf / Infinity / 1e400 in a number or whole-number field: an error at that cell."""
    rel, t, i, f = pick_cell(rng, kinds=("float", "int"))
    value = rng.choice(["inf", "-inf", "Infinity", "-Infinity", "INF", "1e400", "+inf"])
    t.set(i, f.name, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name), detail=f"{rel} row {i + 2} {f.name}={value!r}")


def data_out_of_range(rng):
    """A number far outside the plausible range (x10 the bound, negative, 1e300; lab values have no upper bound
    today), or an age of 169: an error at that cell."""
    rel, t, i, f = pick_cell(rng, kinds=("float", "int"), bounded=True)
    cands = ["1e300"]
    if f.hi is not None:
        cands.append(f"{f.hi * 10:g}")
    if f.lo is not None and f.lo >= 0:
        cands.append(f"{-(f.hi or 10):g}")
    value = rng.choice(cands)
    t.set(i, f.name, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name), detail=f"{rel} row {i + 2} {f.name}={value!r}")


def data_far_date(rng):
    """A date in the far past or far future (year 1, 1066, 1800, 2262-04-12, 2300, 9999): an error at that cell."""
    rel, t, i, f = pick_cell(rng, kinds=("date",))
    value = rng.choice(["0001-01-01", "1066-10-14", "1800-01-01", "2262-04-12", "2300-01-01", "9999-12-31"])
    t.set(i, f.name, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name), detail=f"{rel} row {i + 2} {f.name}={value!r}")


_CHILD_DATE = {"labs": "date", "systemic": "start_date", "adverse_events": "onset_date", "assessments": "date"}


def data_before_birth(rng):
    """A lab, systemic course, adverse event, scan or diagnosis dated before the patient's birth (birth_date
    set to the day after it): an error naming that record or the patient's birth_date."""
    centre = rng.choice(CSV_CENTRES)
    prel = f"{centre}/patients.csv"
    p = Csv(pristine()[prel])
    name = rng.choice([*_CHILD_DATE, "diagnosis"])
    if name == "diagnosis":
        i = rng.choice([i for i in range(len(p.rows)) if p.get(i, "diagnosis_date")] or [0])
        when = p.get(i, "diagnosis_date") or _date(p.get(i, "first_haic_date"), -20)
        p.set(i, "diagnosis_date", when)
        target = Where(prel, i + 2, "diagnosis_date")
        files = {}
    else:
        crel = f"{centre}/{name}.csv"
        c = Csv(pristine()[crel])
        first = {p.get(j, "patient_id"): p.get(j, "first_haic_date") for j in range(len(p.rows))}
        col = _CHILD_DATE[name]
        # records before the first HAIC, so that birth (the next day) is not also after the first HAIC
        early = [k for k in range(len(c.rows)) if c.get(k, col) < first.get(c.get(k, "patient_id"), "")]
        k = rng.choice(early or range(len(c.rows)))
        pid = c.get(k, "patient_id")
        i = next(j for j in range(len(p.rows)) if p.get(j, "patient_id") == pid)
        when = c.get(k, col)
        target = Where(crel, k + 2, _CHILD_DATE[name])
        files = {}
    p.add_column("birth_date", ["" for _ in p.rows])
    p.set(i, "birth_date", _date(when, 1))
    files[prel] = p.dump()
    out = centre_files(centre)
    out.update({f"{STUDY}/{k}": v for k, v in files.items()})
    return {"kind": "study", "files": out, "where": (target, Where(prel, i + 2, "birth_date")),
            "detail": f"{prel} row {i + 2} birth_date={_date(when, 1)} after {target}"}


def data_date_order(rng):
    """Dates in an impossible order: death before first HAIC, follow-up after death, progression before first
    HAIC, a lab after death, a systemic stop before its start, two HAIC cycles swapped: an error at that record."""
    centre = rng.choice(CSV_CENTRES)
    prel = f"{centre}/patients.csv"
    p = Csv(pristine()[prel])
    variant = rng.choice(["death", "followup", "progression", "lab_after_death", "stop", "cycles"])
    dead = [i for i in range(len(p.rows)) if p.get(i, "death_date")]
    if variant in ("death", "followup", "progression", "lab_after_death") and not dead and variant != "progression":
        variant = "progression"
    if variant == "death":
        i = rng.choice(dead)
        p.set(i, "death_date", _date(p.get(i, "first_haic_date"), -10))
        return study_case(prel, p.dump(), where=located(prel, i + 2), detail=f"{prel} row {i + 2} death 10 days before first HAIC")
    if variant == "followup":
        i = rng.choice(dead)
        p.set(i, "last_followup_date", _date(p.get(i, "death_date"), 30))
        return study_case(prel, p.dump(), where=located(prel, i + 2), detail=f"{prel} row {i + 2} last follow-up 30 days after death")
    if variant == "progression":
        i = rng.randrange(len(p.rows))
        if "progression_date" not in p.header:
            p.add_column("progression_date", ["" for _ in p.rows])
        p.set(i, "progression_date", _date(p.get(i, "first_haic_date"), -5))
        return study_case(prel, p.dump(), where=located(prel, i + 2, "progression_date"),
                          detail=f"{prel} row {i + 2} progression 5 days before first HAIC")
    if variant == "lab_after_death":
        i = rng.choice(dead)
        lrel = f"{centre}/labs.csv"
        labs = Csv(pristine()[lrel])
        k = next((k for k in range(len(labs.rows)) if labs.get(k, "patient_id") == p.get(i, "patient_id")), 0)
        labs.set(k, "date", _date(p.get(i, "death_date"), 30))
        return study_case(lrel, labs.dump(), where=located(lrel, k + 2, "date"), detail=f"{lrel} row {k + 2} dated 30 days after death")
    if variant == "stop":
        srel = f"{centre}/systemic.csv"
        s = Csv(pristine()[srel])
        k = rng.randrange(len(s.rows))
        if "stop_date" not in s.header:
            s.add_column("stop_date", ["" for _ in s.rows])
        s.set(k, "stop_date", _date(s.get(k, "start_date"), -10))
        return study_case(srel, s.dump(), where=located(srel, k + 2, "stop_date"), detail=f"{srel} row {k + 2} stop 10 days before start")
    hrel = f"{centre}/haic_cycles.csv"
    if hrel not in pristine():  # beta's cycles are Parquet
        hrel = "alpha/haic_cycles.csv"
    h = Csv(pristine()[hrel])
    k = rng.choice([k for k in range(1, len(h.rows)) if h.get(k, "patient_id") == h.get(k - 1, "patient_id")])
    a, b = h.get(k - 1, "date"), h.get(k, "date")
    h.set(k - 1, "date", b)
    h.set(k, "date", a)
    return study_case(hrel, h.dump(), where=(Where(hrel, k + 1), Where(hrel, k + 2), Where(hrel.split("/")[0] + "/patients.csv")),
                      detail=f"{hrel} rows {k + 1}-{k + 2}: cycle dates swapped")


def data_missing_required(rng):
    """A required value left empty, or a required column removed: an error at that cell / naming the column."""
    if rng.random() < 0.3:
        rel = rng.choice(csv_files())
        t = Csv(pristine()[rel])
        f = rng.choice([f for f in fields(rel) if f.need == "always"])
        j = t.col(f.name)
        t.header.pop(j)
        for r in t.rows:
            r.pop(j)
        return study_case(rel, t.dump(), where=located(rel, None, f.name), detail=f"{rel}: column {f.name!r} removed")
    rel, t, i, f = pick_cell(rng, needs=("always",))
    t.set(i, f.name, rng.choice(["", "NA", " "]))
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name), detail=f"{rel} row {i + 2} {f.name} emptied")


def data_duplicate_id(rng):
    """A record whose key is already used (a patient twice with different values, a cycle given twice): an
    error naming either copy."""
    rel = rng.choice([r for r in csv_files() if RECORD_TYPES[record(r)].key])
    t = Csv(pristine()[rel])
    i = rng.randrange(len(t.rows))
    copy = list(t.rows[i])
    changeable = [f for f in fields(rel, kinds=("float", "int")) if f.name not in RECORD_TYPES[record(rel)].key]
    if changeable:
        f = rng.choice(changeable)
        j = t.col(f.name)
        copy[j] = "1" if copy[j] != "1" else "2"
    t.rows.append(copy)
    n = len(t.rows) + 1
    return study_case(rel, t.dump(), where=(Where(rel, i + 2), Where(rel, n)), detail=f"{rel}: row {i + 2} repeated as row {n}")


def data_orphan(rng):
    """A record for a patient who is not in the centre's patients table: an error at that record."""
    rel, t, i, _ = pick_cell(rng, files=[r for r in csv_files() if record(r) in CHILDREN])
    t.set(i, "patient_id", rng.choice(["ZZ999", "B1"]) if rel.startswith("alpha") else rng.choice(["ZZ999", "A1"]))
    value = t.get(i, "patient_id")
    return study_case(rel, t.dump(), where=located(rel, i + 2, "patient_id"), detail=f"{rel} row {i + 2} patient_id={value!r}")


def data_wrong_type(rng):
    """Text where a number, whole number, ISO date, yes/no or category is expected: an error at that cell."""
    rel, t, i, f = pick_cell(rng, kinds=("float", "int", "date", "bool", "category"))
    value = rng.choice({
        "float": ["twelve", "12 mg", "1.2.3", "0x1A", "--5"], "int": ["2.5", "two", "1/2"],
        "date": ["03/04/2019", "2019-02-30", "2019-13-01", "yesterday", "2019-02"],
        "bool": ["maybe", "2", "yes/no"], "category": ["purple", "???"],
    }[f.kind])
    t.set(i, f.name, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name), detail=f"{rel} row {i + 2} {f.name}={value!r}")


def data_unit_mixup(rng):
    """A value in the wrong unit without saying so (height in m, weight in g, albumin or haemoglobin in g/dL,
    platelets per µL), or an unknown unit: an error at that cell."""
    centre = rng.choice(CSV_CENTRES)
    if rng.random() < 0.25:
        rel = f"{centre}/labs.csv"
        t = Csv(pristine()[rel])
        i = rng.randrange(len(t.rows))
        unit = rng.choice(["furlong", "mmol/mol", "%%"])
        t.set(i, "unit", unit)
        return study_case(rel, t.dump(), where=located(rel, i + 2, "unit"), detail=f"{rel} row {i + 2} unit={unit!r}")
    rel = f"{centre}/patients.csv"
    t = Csv(pristine()[rel])
    i = rng.randrange(len(t.rows))
    col, factor, what = rng.choice([("height_cm", 0.01, "m"), ("weight_kg", 1000, "g"), ("albumin", 0.1, "g/dL"),
                                    ("haemoglobin", 0.1, "g/dL"), ("platelets", 1000, "per µL")])
    value = f"{float(t.get(i, col)) * factor:g}"
    t.set(i, col, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, col), detail=f"{rel} row {i + 2} {col}={value} (in {what})")


def data_decimal_comma(rng):
    """A decimal comma ("1,1") in a number field, or a whole file in the European export (';' and decimal
    commas): an error at that cell / naming the file."""
    if rng.random() < 0.3:
        rel = rng.choice(csv_files())
        t = Csv(pristine()[rel])
        for r in t.rows:
            for j, v in enumerate(r):
                if v.replace(".", "", 1).isdigit() and "." in v:
                    r[j] = v.replace(".", ",")
        return study_case(rel, t.dump(delimiter=";"), where=located(rel), detail=f"{rel}: ';' delimiter and decimal commas")
    rel, t, i, f = pick_cell(rng, kinds=("float",))
    v = t.get(i, f.name)
    value = v.replace(".", ",") if "." in v else v + ",5"
    t.set(i, f.name, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name), detail=f"{rel} row {i + 2} {f.name}={value!r}")


def data_delimiter(rng):
    """A CSV written with ';' or tab as the delimiter: an error naming the file (columns cannot be found)."""
    rel = rng.choice(csv_files())
    d = rng.choice([";", "\t", "|"])
    return study_case(rel, Csv(pristine()[rel]).dump(delimiter=d), where=located(rel), detail=f"{rel}: delimiter {d!r}")


def data_encoding(rng):
    """Encodings: latin-1 text with a non-ASCII character -> an error naming the file and the row; UTF-16 ->
    an error naming the file (or accepted if decoded); UTF-8, UTF-8 with a BOM and CRLF line ends -> accepted."""
    centre = rng.choice(CSV_CENTRES)
    rel = f"{centre}/systemic.csv"
    t = Csv(pristine()[rel])
    i = rng.randrange(len(t.rows))
    t.set(i, "agent", "sorafénib")
    text = t.text()
    variant = rng.choice(["latin-1", "latin-1", "utf-16", "utf-8", "utf-8-sig", "crlf"])
    if variant == "latin-1":
        return study_case(rel, text.encode("latin-1"), where=located(rel, i + 2), detail=f"{rel} latin-1, 'é' in row {i + 2}")
    if variant == "utf-16":
        return study_case(rel, text.encode("utf-16"), expect=("error", "accepted"), where=located(rel), detail=f"{rel} UTF-16 with BOM")
    if variant == "crlf":
        return study_case(rel, t.text(newline="\r\n").encode("utf-8"), expect=("accepted",), detail=f"{rel} CRLF line ends")
    return study_case(rel, text.encode(variant), expect=("accepted",), detail=f"{rel} {variant}, 'é' in row {i + 2}")


def data_quoting(rng):
    """Quoting: a quoted field with an embedded newline followed by a bad value (the error must give the
    file's line, not the record number); an unterminated quote (an error naming the file); every field
    quoted (accepted)."""
    centre = rng.choice(CSV_CENTRES)
    rel = f"{centre}/systemic.csv"
    t = Csv(pristine()[rel])
    variant = rng.choice(["newline", "newline", "unterminated", "quote_all"])
    if variant == "quote_all":
        return study_case(rel, t.dump(quoting=csv.QUOTE_ALL), expect=("accepted",), detail=f"{rel}: every field quoted")
    if variant == "unterminated":
        i = rng.randrange(len(t.rows))
        lines = t.text().split("\n")
        lines[i + 1] = lines[i + 1].replace(",", ',"', 1)
        return study_case(rel, "\n".join(lines).encode(), where=located(rel),
                          detail=f"{rel} row {i + 2}: unterminated quote")
    i = rng.randrange(len(t.rows) - 1)
    k = rng.randrange(i + 1, len(t.rows))
    t.set(i, "agent", "lenva\ntinib")
    t.set(k, "dose", "twelve")
    return study_case(rel, t.dump(), where=located(rel, k + 3, "dose"),
                      detail=f"{rel}: newline inside quoted agent of record {i + 2}; dose='twelve' on line {k + 3}")


def data_truncated(rng):
    """A CSV cut in the middle of a row (a short last record): an error naming the file and that row."""
    rel = rng.choice(csv_files())
    t = Csv(pristine()[rel])
    text = t.text()
    lines = text.split("\n")
    k = rng.randrange(1, len(t.rows) + 1)       # line index of the cut row (header = 0)
    line = lines[k]
    cut = rng.randrange(1, max(2, len(line) // 2))
    data = "\n".join(lines[:k] + [line[:cut]])
    return study_case(rel, data.encode(), where=located(rel, k + 1), detail=f"{rel}: cut after {cut} characters of line {k + 1}")


def data_header_only(rng):
    """Header-only files: labs or adverse events with no records are accepted; an empty (0-byte) file and a
    header-only patients file (while the centre has other records) are errors naming a file of the centre."""
    centre = rng.choice(CSV_CENTRES)
    variant = rng.choice(["child", "child", "empty", "patients"])
    if variant == "child":
        rel = f"{centre}/{rng.choice(['labs', 'adverse_events'])}.csv"
        t = Csv(pristine()[rel])
        t.rows = []
        return study_case(rel, t.dump(), expect=("accepted",), detail=f"{rel}: header only")
    if variant == "empty":
        rel = rng.choice(csv_files(centre))
        return study_case(rel, b"", where=located(rel), detail=f"{rel}: 0 bytes")
    rel = f"{centre}/patients.csv"
    t = Csv(pristine()[rel])
    t.rows = []
    return study_case(rel, t.dump(), where=(Where(f"{centre}/"),), detail=f"{rel}: header only, other records kept")


def data_cross_file(rng):
    """Files that disagree: first_haic_date is not cycle 1's date, a centre column naming another centre, an
    agent under another drug class, one centre given as both a folder and a workbook: an error at the record
    (or naming the duplicated centre's file)."""
    centre = rng.choice(CSV_CENTRES)
    variant = rng.choice(["first_haic", "centre", "agent_class", "duplicate_centre"])
    prel = f"{centre}/patients.csv"
    p = Csv(pristine()[prel])
    if variant == "first_haic":
        i = rng.randrange(len(p.rows))
        p.set(i, "first_haic_date", _date(p.get(i, "first_haic_date"), 3))
        return study_case(prel, p.dump(), where=located(prel, i + 2), detail=f"{prel} row {i + 2} first_haic_date 3 days after cycle 1")
    if variant == "centre":
        i = rng.randrange(len(p.rows))
        p.add_column("centre", [centre] * len(p.rows))
        other = "gamma" if centre != "gamma" else "alpha"
        p.set(i, "centre", other)
        return study_case(prel, p.dump(), where=located(prel, i + 2, "centre"), detail=f"{prel} row {i + 2} centre={other!r}")
    if variant == "agent_class":
        srel = f"{centre}/systemic.csv"
        s = Csv(pristine()[srel])
        k = rng.randrange(len(s.rows))
        s.set(k, "drug_class", "pd1" if s.get(k, "drug_class") != "pd1" else "tki")
        return study_case(srel, s.dump(), where=located(srel, k + 2, "drug_class"), detail=f"{srel} row {k + 2} agent under another drug class")
    files = {**centre_files(centre), f"{STUDY}/{centre}.xlsx": pristine()["gamma.xlsx"]}
    return {"kind": "study", "files": files, "where": (Where(f"{centre}.xlsx"), Where(f"{centre}/")),
            "detail": f"centre {centre!r} as folder {centre}/ and workbook {centre}.xlsx"}


def _workbook():
    import openpyxl
    return openpyxl.load_workbook(io.BytesIO(pristine()["gamma.xlsx"]))


def _save(wb) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _header(ws) -> list[str]:
    return [str(c.value).strip().lower() if c.value is not None else "" for c in ws[1]]


def data_excel(rng):
    """Excel oddities in gamma.xlsx: an extra sheet, a renamed-case sheet, numbers stored as text (accepted);
    a merged header over a required column (error naming the sheet and column); a blank row above the header
    or a date given as an Excel serial number (an error naming the sheet, or accepted when understood)."""
    wb = _workbook()
    variant = rng.choice(["extra_sheet", "sheet_case", "numbers_as_text", "merged_header", "blank_header_row", "serial_date"])
    if variant == "extra_sheet":
        ws = wb.create_sheet(rng.choice(["Notes", "Sheet1", "README"]))
        ws["A1"] = "exported 2023-01-01; do not edit"
        return study_case("gamma.xlsx", _save(wb), expect=("accepted",), detail=f"gamma.xlsx: extra sheet {ws.title!r}")
    if variant == "sheet_case":
        ws = wb["labs"]
        ws.title = rng.choice(["Labs", " LABS "])
        return study_case("gamma.xlsx", _save(wb), expect=("accepted",), detail=f"gamma.xlsx: sheet labs named {ws.title!r}")
    if variant == "numbers_as_text":
        ws = wb[rng.choice(["patients", "haic_cycles", "labs"])]
        for row in ws.iter_rows(min_row=2):
            for c in row:
                if isinstance(c.value, int | float) and not isinstance(c.value, bool):
                    c.value = str(c.value)
        return study_case("gamma.xlsx", _save(wb), expect=("accepted",), detail=f"gamma.xlsx[{ws.title}]: numbers stored as text")
    if variant == "merged_header":
        sheet = rng.choice(["haic_cycles", "labs", "systemic", "assessments", "adverse_events"])
        ws = wb[sheet]
        head = _header(ws)
        req = [j for j, h in enumerate(head) if j > 0 and h in RECORD_TYPES[sheet].names
               and RECORD_TYPES[sheet].field(h).need == "always"]
        j = rng.choice(req)
        ws.merge_cells(start_row=1, start_column=j, end_row=1, end_column=j + 1)
        return study_case("gamma.xlsx", _save(wb), where=(Where(f"gamma.xlsx[{sheet}]", None, head[j]),),
                          detail=f"gamma.xlsx[{sheet}]: header cells {head[j - 1]!r} and {head[j]!r} merged")
    if variant == "blank_header_row":
        sheet = rng.choice(list(RECORD_TYPES))
        wb[sheet].insert_rows(1)
        return study_case("gamma.xlsx", _save(wb), expect=("error", "accepted"), where=(Where(f"gamma.xlsx[{sheet}]"),),
                          detail=f"gamma.xlsx[{sheet}]: blank row above the header")
    sheet = rng.choice(["patients", "haic_cycles", "labs", "adverse_events"])
    ws = wb[sheet]
    head = _header(ws)
    dates = [j for j, h in enumerate(head) if h in RECORD_TYPES[sheet].names and RECORD_TYPES[sheet].field(h).kind == "date"]
    cells = [(r, j) for j in dates for r in range(2, ws.max_row + 1) if ws.cell(r, j + 1).value not in (None, "")]
    r, j = rng.choice(cells)
    v = ws.cell(r, j + 1).value
    d = v.date() if hasattr(v, "date") else dt.date.fromisoformat(str(v)[:10])
    serial = (d - dt.date(1899, 12, 30)).days
    ws.cell(r, j + 1).value = serial
    return study_case("gamma.xlsx", _save(wb), expect=("error", "accepted"), where=(Where(f"gamma.xlsx[{sheet}]", r, head[j]),),
                      detail=f"gamma.xlsx[{sheet}] row {r} {head[j]}={serial} (Excel serial of {d})")


def data_corrupt_file(rng):
    """Corrupted binary files: a truncated, zero-length, wrong-magic or random-bytes Parquet file or workbook:
    an error naming the file."""
    rel = rng.choice(["beta/haic_cycles.parquet", "gamma.xlsx"])
    data = pristine()[rel]
    variant = rng.choice(["truncated", "magic", "empty", "random", "text"])
    if variant == "truncated":
        out = data[: rng.randrange(1, len(data) - 1)]
    elif variant == "magic":
        out = (b"PAR0" if rel.endswith(".parquet") else b"PK\x05\x06") + data[4:]
    elif variant == "empty":
        out = b""
    elif variant == "random":
        out = bytes(rng.randrange(256) for _ in range(rng.choice([8, 512, 4096])))
    else:
        out = b"patient_id,cycle,date\nB01,1,2019-01-01\n"
    return study_case(rel, out, where=located(rel), detail=f"{rel}: {variant} ({len(out)} of {len(data)} bytes)")


def data_parquet_types(rng):
    """A Parquet file with wrong typed columns (a fractional cycle, a text date that is not a date, a
    negative dose): an error at that row (Parquet rows count from 1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rel = "beta/haic_cycles.parquet"
    tab = pq.read_table(io.BytesIO(pristine()[rel]))
    cols = {n: tab.column(n).to_pylist() for n in tab.column_names}
    i = rng.randrange(tab.num_rows)
    col, value = rng.choice([("cycle", 1.5), ("date", "2019-02-30"), ("oxaliplatin_mg", -150.0), ("cycle", float("inf"))])
    vals = cols[col]
    if col == "date":
        vals = [None if v is None else str(v)[:10] for v in vals]
    elif col == "cycle":
        vals = [None if v is None else float(v) for v in vals]
    vals[i] = value
    cols[col] = vals
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    return study_case(rel, buf.getvalue(), where=located(rel, i + 1, col), detail=f"{rel} row {i + 1} {col}={value!r}")


def data_special_file(rng):
    """A record file that is not a regular file (a FIFO, a folder, a symlink loop): an error naming it, never a hang."""
    centre = rng.choice(CSV_CENTRES)
    name = rng.choice(["patients", "labs"])
    what = rng.choice(["fifo", "dir", "selflink"])
    files = centre_files(centre)
    rel = f"{centre}/{name}.csv"
    del files[f"{STUDY}/{rel}"]
    where = (Where(rel), Where(f"{centre}/")) if what == "dir" else (Where(rel),)
    return {"kind": "study", "files": files, "special": {f"{STUDY}/{rel}": what}, "where": where,
            "detail": f"{rel} is a {what}"}


def data_huge_value(rng):
    """A 2 MB value in a cell (digits in a number field, text in a date or category field): an error at that
    cell whose report does not echo the value in full (see ``runner.MAX_ECHO``)."""
    rel, t, i, f = pick_cell(rng, kinds=("float", "int", "date", "category"))
    value = ("9" if f.kind in ("float", "int") else "x") * 2_000_000
    t.set(i, f.name, value)
    return study_case(rel, t.dump(), where=located(rel, i + 2, f.name),
                      detail=f"{rel} row {i + 2} {f.name}: a value of 2,000,000 {value[0]!r} characters")


def data_valid(rng):
    """Control: the pristine centre, or a harmless change (a row order shuffle, an extra unknown column, a
    missing analysis value, which the data model makes a warning): accepted."""
    rel = rng.choice(csv_files())
    t = Csv(pristine()[rel])
    variant = rng.choice(["pristine", "shuffle", "unknown_column", "missing_analysis"])
    if variant == "shuffle":
        rng.shuffle(t.rows)
    elif variant == "unknown_column":
        t.add_column("comment", ["note" for _ in t.rows])
    elif variant == "missing_analysis" and record(rel) == "patients":
        f = rng.choice([f for f in fields(rel) if f.need == "analysis"])
        t.set(rng.randrange(len(t.rows)), f.name, "")
    return study_case(rel, t.dump(), expect=("accepted",), detail=f"{rel}: {variant}")


# --------------------------------------------------------------------------- analysis (analyze) cases
def _yaml(obj) -> str:
    import yaml
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def base_analysis() -> dict:
    """veteran: Table 1, propensity score, 1:1 matching with a caliper, OS, Cox and a subgroup."""
    cov = ["karno", "diagtime", "age", "prior", "celltype"]
    return {"data": TABLE, "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
            "covariates": cov, "categorical": ["celltype"],
            "matching": {"on": cov, "caliper": 0.2},
            "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days"}],
            "cox": {"variables": ["trt", "age"]}, "subgroups": ["celltype"]}


def _an_case(config: dict | str | bytes, table: bytes | None = None, expect=("error",), where=(), detail="") -> dict:
    data = config if isinstance(config, bytes) else (config if isinstance(config, str) else _yaml(config)).encode("utf-8")
    return {"kind": "analyze", "files": {ANALYSIS_CONFIG: data, TABLE: veteran() if table is None else table},
            "config": ANALYSIS_CONFIG, "expect": expect, "where": where, "detail": detail}


_AN_NUMERIC = {
    "matching.caliper": [0, -1, float("nan"), float("inf"), 1e-12, True],
    "matching.ratio": [0, -1, 1.5, float("nan"), True, 10**23],
    "matching.seed": [-1, 1.5, 10**23],
    "table1.digits": [-1, float("nan"), 10**23, True], "table1.pct_digits": [-1, 100],
    "table1.p_digits": [0, -1], "table1.fisher_expected_below": [-1, float("nan"), float("inf")],
    "km.conf_level": [0, 1, float("nan"), -1], "cox.select_p": [0, float("nan"), -1, 2],
    "endpoints.landmarks": [[-1], [float("nan")], [float("inf")]],
    "subgroups.cut": [float("nan"), float("inf")],
}


def an_numeric(rng):
    """An analysis-config number that cannot be meant (caliper 0 / NaN / 1e-12, ratio 0, digits -1, conf_level 1,
    landmark -1, subgroup cut NaN, ...): a config error naming the key."""
    key = rng.choice(sorted(_AN_NUMERIC))
    value = rng.choice(_AN_NUMERIC[key])
    cfg = base_analysis()
    section, name = key.split(".")
    if section == "endpoints":
        cfg["endpoints"][0][name] = value
    elif section == "subgroups":
        cfg["subgroups"] = [{"variable": "age", "cut": value}]
    else:
        cfg.setdefault(section, {})[name] = value
    return _an_case(cfg, where=(Where(key=key),), detail=f"analysis {key}={value!r}")


def an_optional(rng):
    """Control: every optional path (no caliper, no matching, no endpoints, no Cox, no subgroups, ratio 2 or 3,
    discard, other orders and links) and user columns named weight / distance / pair / treated / arm_label /
    match_status: accepted."""
    cfg = base_analysis()
    variant = rng.choice(["no_caliper", "no_matching", "no_endpoints", "no_cox", "no_subgroups", "ratio", "discard",
                          "order", "link", "raw_caliper", "user_columns"])
    table = None
    if variant == "no_caliper":
        del cfg["matching"]["caliper"]
    elif variant == "no_matching":
        del cfg["matching"]
    elif variant == "no_endpoints":
        cfg["endpoints"], cfg["cox"], cfg["subgroups"] = [], {"variables": []}, []
    elif variant == "no_cox":
        cfg["cox"] = {"variables": []}
    elif variant == "no_subgroups":
        cfg["subgroups"] = []
    elif variant == "ratio":
        cfg["matching"]["ratio"] = rng.choice([2, 3])
    elif variant == "discard":
        cfg["matching"]["discard"] = rng.choice(["both", "control", "treated"])
    elif variant == "order":
        cfg["matching"]["order"] = rng.choice(["smallest", "data", "random"])
    elif variant == "link":
        cfg["matching"]["link"] = "linear.logit"
    elif variant == "raw_caliper":
        cfg["matching"].update(std_caliper=False, caliper=0.05)
    else:
        names = rng.sample(["weight", "distance", "pair", "treated", "arm_label", "match_status"], 2)
        t = Csv(veteran())
        for n in names:
            t.add_column(n, [str(rng.randrange(40, 120)) for _ in t.rows])
        cfg["covariates"] = [*cfg["covariates"], *names]
        cfg["matching"]["on"] = [*cfg["matching"]["on"], *names]
        table = t.dump()
        variant = f"user columns {names} as covariates"
    return _an_case(cfg, table, expect=("accepted",), detail=f"analysis {variant}")


def an_config_shape(rng):
    """Unknown keys, wrong types, an empty covariate list, a config nested thousands deep, a latin-1 config, a
    config that is a folder: an error naming the key or the config file."""
    cfg = base_analysis()
    variant = rng.choice(["unknown", "unknown_nested", "arm_scalar", "covariates_scalar", "covariates_empty", "deep",
                          "latin1", "dir"])
    if variant == "unknown":
        cfg["matchin"] = {"on": ["age"]}
        return _an_case(cfg, where=(Where(key="matchin"),), detail="analysis unknown key 'matchin'")
    if variant == "unknown_nested":
        cfg["matching"]["calipr"] = 0.2
        return _an_case(cfg, where=(Where(key="matching.calipr"),), detail="analysis unknown key matching.calipr")
    if variant == "arm_scalar":
        cfg["arm"] = "trt"
        return _an_case(cfg, where=(Where(key="arm"),), detail="analysis arm: 'trt'")
    if variant == "covariates_scalar":
        cfg["covariates"] = "karno"
        return _an_case(cfg, where=(Where(key="covariates"),), detail="analysis covariates: 'karno'")
    if variant == "covariates_empty":
        cfg["covariates"] = []
        return _an_case(cfg, where=(Where(key="covariates"),), detail="analysis covariates: []")
    if variant == "deep":
        depth = rng.choice([2000, 5000])
        text = _yaml(cfg) + "name: " + "[" * depth + "]" * depth + "\n"
        return _an_case(text, where=(Where(key="name"), Where(file=ANALYSIS_CONFIG)), detail=f"analysis name nested {depth} deep")
    if variant == "latin1":
        text = _yaml({**cfg, "name": "Étude vétérans"})
        return _an_case(text.encode("latin-1"), where=(Where(file=ANALYSIS_CONFIG),), detail="latin-1 analysis config")
    case = _an_case(cfg, where=(Where(file=ANALYSIS_CONFIG),), detail="analysis config path is a folder")
    del case["files"][ANALYSIS_CONFIG]
    case["special"] = {ANALYSIS_CONFIG: "dir"}
    return case


def an_table(rng):
    """The analysed table: inf in an endpoint time or a covariate, 2 rows per arm, one arm only, a duplicated id,
    a duplicated column, an id declared categorical, a latin-1 or header-only file: an error naming the key or
    column (an id as a categorical covariate may also be accepted); missing covariate values: accepted."""
    t = Csv(veteran())
    cfg = base_analysis()
    variant = rng.choice(["inf_time", "inf_covariate", "tiny", "one_arm", "dup_id", "dup_column", "id_categorical",
                          "latin1", "header_only", "missing_values"])
    i = rng.randrange(len(t.rows))
    if variant == "inf_time":
        t.set(i, "time", rng.choice(["inf", "Infinity"]))
        return _an_case(cfg, t.dump(), where=(Where(key="time"),), detail=f"table row {i + 2} time=inf")
    if variant == "inf_covariate":
        col = rng.choice(["age", "karno", "diagtime"])
        t.set(i, col, rng.choice(["inf", "-inf", "1e400"]))
        return _an_case(cfg, t.dump(), where=(Where(key=col),), detail=f"table row {i + 2} {col}=inf")
    if variant == "tiny":
        # 2 rows per arm with two cell types each, so that the table is valid but too small to estimate
        arm, cell = t.col("trt"), t.col("celltype")
        rows = []
        for a in ("1", "2"):
            rows += [next(r for r in t.rows if r[arm] == a and r[cell] == c) for c in ("squamous", "adeno")]
        t.rows = rows
        return _an_case(cfg, t.dump(), where=(Where(key="arm"), Where(key="matching"), Where(key="covariates")),
                        detail="table with 2 rows per arm (2 cell types in each)")
    if variant == "one_arm":
        arm = t.col("trt")
        t.rows = [r for r in t.rows if r[arm] == "1"]
        return _an_case(cfg, t.dump(), where=(Where(key="arm"),), detail="table with one arm only")
    if variant == "dup_id":
        t.set(i, "rowid", t.rows[(i + 1) % len(t.rows)][t.col("rowid")])
        return _an_case(cfg, t.dump(), where=(Where(key="id"),), detail=f"table row {i + 2} repeats an id")
    if variant == "dup_column":
        col = rng.choice(["karno", "age"])
        t.add_column(col, [str(rng.randrange(10, 99)) for _ in t.rows])
        return _an_case(cfg, t.dump(), where=(Where(key=col),), detail=f"table with column {col!r} twice")
    if variant == "id_categorical":
        cfg["covariates"] = [*cfg["covariates"], "rowid"]
        cfg["categorical"] = ["celltype", "rowid"]
        return _an_case(cfg, expect=("error", "accepted"), where=(Where(key="rowid"),), detail="id as a categorical covariate")
    if variant == "latin1":
        t.set(i, "celltype", "squamé")
        return _an_case(cfg, t.text().encode("latin-1"), where=(Where(key="data"),), detail=f"latin-1 table, 'é' in row {i + 2}")
    if variant == "header_only":
        t.rows = []
        return _an_case(cfg, t.dump(), where=(Where(key="data"), Where(key="arm")), detail="table with a header only")
    for k in rng.sample(range(len(t.rows)), 5):
        t.set(k, rng.choice(["age", "karno", "diagtime"]), "")
    return _an_case(cfg, t.dump(), expect=("accepted",), detail="5 rows with a missing covariate")


# --------------------------------------------------------------------------- the registry
CLASSES: dict[str, Callable[[random.Random], dict]] = {
    "config.impossible_date": cfg_impossible_date,
    "config.numeric_value": cfg_numeric,
    "config.unknown_key": cfg_unknown_key,
    "config.wrong_type": cfg_wrong_type,
    "config.deep_nesting": cfg_deep_nesting,
    "config.encoding": cfg_encoding,
    "config.path": cfg_path,
    "config.valid": cfg_valid,
    "data.duplicate_column": data_duplicate_column,
    "data.nonfinite": data_nonfinite,
    "data.out_of_range": data_out_of_range,
    "data.far_date": data_far_date,
    "data.before_birth": data_before_birth,
    "data.date_order": data_date_order,
    "data.missing_required": data_missing_required,
    "data.duplicate_id": data_duplicate_id,
    "data.orphan": data_orphan,
    "data.wrong_type": data_wrong_type,
    "data.unit_mixup": data_unit_mixup,
    "data.decimal_comma": data_decimal_comma,
    "data.delimiter": data_delimiter,
    "data.encoding": data_encoding,
    "data.quoting": data_quoting,
    "data.truncated": data_truncated,
    "data.header_only": data_header_only,
    "data.cross_file": data_cross_file,
    "data.excel": data_excel,
    "data.corrupt_file": data_corrupt_file,
    "data.parquet_types": data_parquet_types,
    "data.special_file": data_special_file,
    "data.valid": data_valid,
    "analyze.numeric_value": an_numeric,
    "analyze.optional_paths": an_optional,
    "analyze.config_shape": an_config_shape,
    "analyze.table": an_table,
    "data.huge_value": data_huge_value,
}
NAMES = list(CLASSES)
#: Cases per round of the schedule.  A study-data case costs a whole ``load_study`` (~0.5-1 s, mostly fixed
#: cost), a config or analysis-config case that is refused costs milliseconds: the cheap classes get more
#: cases per round so that the CI sample (500+ cases) fits in its time budget while every class is run.
WEIGHTS = {name: 1 for name in NAMES} | {
    "config.impossible_date": 6, "config.numeric_value": 12, "config.unknown_key": 6, "config.wrong_type": 6,
    "config.deep_nesting": 3, "config.encoding": 3, "analyze.numeric_value": 12, "analyze.config_shape": 6,
    "analyze.table": 6, "analyze.optional_paths": 2,
}
#: one round: every class once, then the heavier classes again (so the first len(NAMES) cases cover all)
SCHEDULE = [n for r in range(max(WEIGHTS.values())) for n in NAMES if WEIGHTS[n] > r]


def make_case(seed: int, index: int) -> Case:
    """The case ``index`` of the campaign ``seed`` (pure function of both)."""
    name = SCHEDULE[index % len(SCHEDULE)]
    # a hash, not seed * k + index: Mersenne Twister streams of nearby integer seeds are correlated (the
    # variant drawn first repeated in 5 of 7 cases of one class)
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "big"))
    spec = CLASSES[name](rng)
    return Case(seed=seed, index=index, mutation=name, detail=spec["detail"], kind=spec["kind"],
                files=tuple(sorted(spec["files"].items())), special=tuple(sorted(spec.get("special", {}).items())),
                config=spec.get("config"), expect=tuple(spec.get("expect", ("error",))), where=tuple(spec.get("where", ())))


def generate(seed: int, n: int, start: int = 0) -> list[Case]:
    return [make_case(seed, i) for i in range(start, start + n)]
