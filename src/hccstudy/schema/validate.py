"""Validate raw tables against the data model and return typed tables in canonical units.

Each rule is applied to whole columns at once (vectorised); every row that breaks a rule becomes one
issue naming centre, file, row, column, the value as written and the rule.  Nothing is dropped or
changed silently: unit conversions keep the reported unit beside the value, unknown columns and empty
rows are reported as warnings.

Rules (``rule`` in the report):

=====================  =====================================================================
missing_column         a column the record type or the analysis needs is absent (error, with a suggestion)
unknown_column         a column that is not in the data model (warning; ignored)
type                   a value that is not a finite number / integer / ISO date (YYYY-MM-DD) / yes-no / allowed category
range                  a number outside its plausibility range (canonical unit; labs: per test), a date outside
                       its plausible dates, or a birth date giving an age at first HAIC outside the age range
unit                   a unit not accepted for the quantity
required               an identifier or record date is missing
missing_value          an analysis value is missing (warning; the patient fails ``complete_data``)
duplicate              the same record key twice (patients: (centre, patient_id))
orphan                 a record for a patient not in the centre's patients table
centre_mismatch        the ``centre`` column disagrees with the folder / workbook name
date_order             dates in an impossible order: birth <= diagnosis <= first HAIC <= last follow-up <= death,
                       progression and first systemic therapy between birth/diagnosis and last follow-up, and
                       every dated record after birth and on or before last follow-up and death
first_haic_mismatch    ``first_haic_date`` is not the date of cycle 1
cycle_order            HAIC cycle dates do not increase with cycle number
agent_class            a known agent recorded under the wrong drug class (error) or an unknown agent (warning)
age_mismatch           both age and birth date given and they differ by more than a year (warning)
lesion_measure         a target lesion without a diameter, or a non-target lesion without a status
=====================  =====================================================================
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from .._yaml import ConfigError
from .fields import (
    AGENT_CLASS,
    BOOL_FALSE,
    BOOL_TRUE,
    LAB_RANGES,
    PATIENTS,
    PROVENANCE,
    RECORD_TYPES,
    Field,
    RecordType,
)
from .keys import MISSING, joined_key, key_positions
from .report import IssueLog
from .units import BILIRUBIN_FACTOR_RANGE, QUANTITIES, conversion_factors

DAYS_PER_YEAR = 365.25


# --------------------------------------------------------------------------- value parsers
def _as_text(s: pd.Series) -> pd.Series:
    """Text form of a column for parsing: stripped strings, missing stays missing."""
    if pd.api.types.is_float_dtype(s):
        # Integral floats (Excel/Parquet ids, codes) are written without the ".0".
        v = s.to_numpy(dtype=float)
        integral = np.isfinite(v) & (v == np.round(v)) & (np.abs(v) < 2.0**53)
        txt = np.where(integral, np.where(integral, v, 0).astype(np.int64).astype(str), s.astype(str).to_numpy())
        return pd.Series(txt, index=s.index, dtype="string").where(s.notna())
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        # Arrow-backed text (CSV as read): trimmed and blank -> missing in Arrow, without a round trip
        # through Python strings; the same result as the general path below.
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = s.array.__arrow_array__()
        if _needs_trim(arr):
            arr = pc.utf8_trim_whitespace(arr)
        if _has_empty(arr):
            arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
        return pd.Series(pd.arrays.ArrowStringArray(arr), index=s.index)
    t = s.astype("string").str.strip()
    return t.mask(t == "")


def _value_bytes(chunk) -> np.ndarray:
    """The character bytes of an Arrow string array's own values (a slice, e.g. a CSV column without
    its header line, shares a buffer that holds more)."""
    data = chunk.buffers()[2]
    if data is None or len(chunk) == 0:
        return np.zeros(0, dtype=np.uint8)
    import pyarrow as pa

    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=width)
    lo, hi = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    return np.frombuffer(data, dtype=np.uint8)[lo:hi]


def _chunks(arr) -> list:
    return arr.chunks if hasattr(arr, "chunks") else [arr]


def _needs_trim(arr) -> bool:
    """Whether trimming whitespace could change any value of an Arrow string array: one table lookup
    over its character bytes (no whitespace and no non-ASCII byte anywhere -> the trim is the identity,
    and the copy it makes is skipped)."""
    for c in _chunks(arr):
        b = _value_bytes(c)
        # every byte Arrow trims is ASCII whitespace (<= 0x20) or part of a non-ASCII character (>= 0x80):
        # two reductions, no temporary array
        if b.size and (b.min() <= 0x20 or b.max() >= 0x80):
            return True
    return False


def _has_empty(arr) -> bool:
    """Whether any present value of an Arrow string array is the empty string."""
    import pyarrow.compute as pc

    if len(arr) == 0:
        return False
    return bool(pc.any(pc.equal(pc.binary_length(arr), 0)).as_py())


#: a plain decimal (no exponent) of at most 15 characters: at most 15 significant digits, so its value
#: M / 10**k (M < 2**53, k <= 15) is exact in double arithmetic and every correct parser agrees on it
_PLAIN_DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)$"
_PLAIN_BYTES = np.zeros(256, dtype=bool)
_PLAIN_BYTES[list(b"0123456789+-.")] = True


def _text_to_float(t: pd.Series) -> np.ndarray:
    """``pd.to_numeric(t, errors="coerce")`` as float64 (missing and not-a-number -> NaN).  Arrow-backed
    text: plain decimals are cast by Arrow (vectorised C++), and only the rest (exponents, ``inf``, long
    digit strings, words) goes through pandas, so the values are the ones pandas gives."""
    if not (isinstance(t.dtype, pd.StringDtype) and t.dtype.storage == "pyarrow") or len(t) == 0:
        return pd.to_numeric(t, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = t.array.__arrow_array__()
    null = pa.scalar(None, pa.string())
    out = None
    if all(_PLAIN_BYTES[_value_bytes(c)].all() for c in _chunks(arr)):
        # only digits, signs and points in the whole column (one pass over its bytes): if Arrow parses
        # every value, each is a plain decimal, and the regular expression below is not needed
        plain = pc.fill_null(pc.less_equal(pc.binary_length(arr), 15), False)
        try:
            out = pc.cast(pc.if_else(plain, arr, null), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # e.g. "1-2": value by value below
            out = None
    if out is None:
        plain = pc.fill_null(pc.and_(pc.match_substring_regex(arr, _PLAIN_DECIMAL),
                                     pc.less_equal(pc.utf8_length(arr), 15)), False)
        try:
            out = pc.cast(pc.if_else(plain, arr, null), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            return pd.to_numeric(t, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = np.array(out, dtype=float)  # writable
    rest = ~plain.to_numpy(zero_copy_only=False) & t.notna().to_numpy()
    if rest.any():
        out[rest] = pd.to_numeric(t[rest], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return out


def parse_float(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers; ``inf``, ``Infinity``, ``1e400`` and NaN written as a value are not numbers (bad, NaN)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        out = s.astype(float)
        v = out.to_numpy()
        bad = np.isinf(v)
        return out.mask(bad), bad
    t = _as_text(s)
    out = pd.Series(_text_to_float(t), index=t.index)
    bad = (t.notna() & ~np.isfinite(out)).to_numpy()
    return out.mask(bad), bad


#: integers beyond this are out of every range; they are not cast (int64 would overflow)
_INT_LIMIT = 2.0**53


def parse_int(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    return _int_of_float(*parse_float(s))


def _int_of_float(f: pd.Series, bad: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """:func:`parse_int` from the column's :func:`parse_float` result (a non-whole number is bad)."""
    v = f.to_numpy()
    nonint = np.isfinite(v) & (v != np.round(v))
    castable = np.abs(np.nan_to_num(v)) <= _INT_LIMIT
    out = f.where(~nonint & castable).round().astype("Int64")
    return out, bad | nonint


def _iso_text(x) -> object:
    """A date-like cell (datetime, date, Timestamp, numpy datetime64) as ISO text, without pandas'
    nanosecond limits (a 2300-01-01 Excel cell must reach the range check, not raise)."""
    if isinstance(x, np.datetime64):
        return np.datetime_as_string(x, unit="D")
    if hasattr(x, "isoformat") and hasattr(x, "year"):
        return f"{x.year:04d}-{x.month:02d}-{x.day:02d}"
    return x


#: Dates outside this window are held at its edge (the plausible-date check, whose window lies inside,
#: reports them as written).  It is narrower than pandas' nanosecond range (1677-2262) so that the
#: difference of any two dates fits in a nanosecond timedelta (+-292 years): 2300-01-01 minus
#: 1700-01-01 would overflow.
_CLIP_MIN = np.datetime64("1850-01-01", "us")
_CLIP_MAX = np.datetime64("2130-12-31", "us")


def _to_ns(out: pd.Series) -> pd.Series:
    v = out.to_numpy(dtype="datetime64[us]")
    nat = np.isnat(v)
    v = np.where(nat, np.datetime64("NaT", "us"), np.clip(v, _CLIP_MIN, _CLIP_MAX))
    return pd.Series(v, index=out.index).astype("datetime64[ns]")


#: YYYY-MM-DD, optionally with a time of day and zone (dropped)
_ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"


def _plain_iso_days(t: pd.Series) -> np.ndarray | None:
    """The dates of an Arrow-backed text column whose every value is exactly ``YYYY-MM-DD`` (ASCII
    digits), parsed from the bytes with numpy: the result of the general path below (a year outside
    1850-2130 held at that edge; an impossible day such as 2021-02-29 missing), without a regular
    expression or a string parser per value.  None when any value has another form (a time of day, a
    short date, a word): then the general path runs."""
    if not (isinstance(t.dtype, pd.StringDtype) and t.dtype.storage == "pyarrow") or len(t) == 0:
        return None
    import pyarrow as pa

    arr = t.array.__arrow_array__()
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + n + 1].astype(np.int64)
    present = t.notna().to_numpy()
    if not (np.diff(offsets)[present] == 10).all():
        return None
    raw = np.frombuffer(arr.buffers()[2] or b"", dtype=np.uint8)[offsets[0]:offsets[-1]]
    if raw.size == 0:
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    b = raw.reshape(-1, 10)  # missing values hold no bytes: one row per present value, in order
    if not ((b[:, 4] == 45).all() and (b[:, 7] == 45).all()):  # "-"
        return None
    v = b[:, [0, 1, 2, 3, 5, 6, 8, 9]] - np.uint8(48)  # digits 0-9; any other byte wraps above 9
    if not (v <= 9).all():
        return None
    v = v.astype(np.int32)
    year = ((v[:, 0] * 10 + v[:, 1]) * 10 + v[:, 2]) * 10 + v[:, 3]
    month = v[:, 4] * 10 + v[:, 5]
    day = v[:, 6] * 10 + v[:, 7]
    late, early = year > 2130, year < 1850
    year = np.where(late, 2130, np.where(early, 1850, year))
    month = np.where(late, 12, np.where(early, 1, month))
    day = np.where(late, 31, np.where(early, 1, day))
    ok = (month >= 1) & (month <= 12) & (day >= 1)
    m = np.clip(month, 1, 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= day <= _MONTH_DAYS[m - 1] + (leap & (m == 2))
    dates = _days_from_civil(year, m, np.clip(day, 1, 31)).astype("datetime64[D]")
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    out[present] = np.where(ok, dates, np.datetime64("NaT"))
    return out


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (year >= 0), in integer arithmetic on whole
    arrays: H. Hinnant's ``days_from_civil`` (http://howardhinnant.github.io/date_algorithms.html)."""
    y = year.astype(np.int64) - (month <= 2)
    era = y // 400
    yoe = y - era * 400                                  # [0, 399]
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1  # [0, 365], the year starting in March
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy        # [0, 146096]
    return era * 146097 + doe - 719468


def parse_date(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Dates (normalised, datetime64[ns]).  A date outside 1850-2130 is held at that edge and left to
    the plausible-date check, which reports it as written."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return _to_ns(out.dt.floor("D")), np.zeros(len(s), dtype=bool)
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        # Excel and Parquet cells may already be dates; the rest must be ISO text.
        s = s.map(_iso_text)
    t = _as_text(s)
    days = _plain_iso_days(t)
    if days is not None:
        out = pd.Series(days.astype("datetime64[ns]"), index=t.index)
        return _to_ns(out), (t.notna().to_numpy() & np.isnat(days))
    # a whole date: pandas' ISO8601 parser would also take "2020" or "2020-05" as the 1st of the month
    whole = t.str.fullmatch(_ISO_DATE).fillna(False).to_numpy(dtype=bool)
    # the date as written (time and zone dropped: mixed zones made pandas raise even with coerce);
    # years outside the clip window are moved to its edge for the plausible-date check to report
    day = t.where(whole).str.slice(0, 10)
    year = _text_to_float(day.str.slice(0, 4))
    day = day.mask(year > 2130, "2130-12-31").mask(year < 1850, "1850-01-01")
    out = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    bad = (t.notna() & out.isna()).to_numpy()
    return _to_ns(out.dt.floor("D")), bad


def _mapping_parse(s: pd.Series, mapping: dict[str, object], dtype: str) -> tuple[pd.Series, np.ndarray]:
    """Map each (stripped, lower-cased) text value through ``mapping`` into a ``dtype`` column; ``bad``:
    present but not in the mapping.  The distinct values are lower-cased and mapped once, and the
    typed column is taken from them by code (no per-row Python objects)."""
    t = _as_text(s)
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    lowered = pd.Series(uniques, dtype=t.dtype).str.lower()
    mapped = [mapping.get(u) for u in lowered.tolist()]
    known = np.array([v is not None for v in mapped] + [True], dtype=bool)
    typed = pd.array([*mapped, None], dtype=dtype)
    bad = ~known[codes]
    return pd.Series(typed.take(codes), index=s.index), bad


def parse_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), np.zeros(len(s), dtype=bool)
    mapping = {**dict.fromkeys(BOOL_TRUE, True), **dict.fromkeys(BOOL_FALSE, False)}
    return _mapping_parse(s, mapping, "boolean")


def parse_category(s: pd.Series, categories: dict[str, list[str]]) -> tuple[pd.Series, np.ndarray]:
    mapping = {alias.lower(): code for code, aliases in categories.items() for alias in [code, *aliases]}
    return _mapping_parse(s, mapping, "string")


def parse_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    return _as_text(s), np.zeros(len(s), dtype=bool)


def parse_field(s: pd.Series, f: Field) -> tuple[pd.Series, np.ndarray]:
    if f.kind == "float":
        return parse_float(s)
    if f.kind == "int":
        return parse_int(s)
    if f.kind == "date":
        return parse_date(s)
    if f.kind == "bool":
        return parse_bool(s)
    if f.kind == "category":
        return parse_category(s, f.categories or {})
    return parse_text(s)  # id, text


_TYPE_WORDS = {
    "float": "a finite number", "int": "a finite whole number", "date": "a date (YYYY-MM-DD)",
    "bool": "yes/no (yes, no, true, false, 1, 0)",
}


def _type_message(f: Field) -> str:
    if f.kind == "category":
        return f"not an allowed value; allowed: {', '.join(f.categories or {})}"
    return f"not {_TYPE_WORDS.get(f.kind, 'valid text')}"


# --------------------------------------------------------------------------- per-table checks
def closest(name: str, options: list[str]) -> str | None:
    """The option closest to ``name`` (difflib similarity on case-folded letters and digits, or one
    containing the other), or None when none is close."""
    def key(s: str) -> str:
        return "".join(ch for ch in str(s).casefold() if ch.isalnum())

    target = key(name)
    keyed = {key(h): h for h in options if key(h)}
    close = difflib.get_close_matches(target, list(keyed), n=1, cutoff=0.6)
    if not close:
        close = [k for k in keyed if target and (target in k or k in target)][:1]
    return keyed[close[0]] if close else None


def did_you_mean(name: str, headers: list[str]) -> str:
    """'; did you mean 'ECOG_PS'?' when one of the file's own unknown headers is close to ``name``."""
    hit = closest(name, headers)
    return f"; did you mean {hit!r}? (rename the column in the file)" if hit is not None else ""


def _missing_column_hint(name: str, unknown: list[str], written: dict[str, str], centre: str, record_type: str) -> str:
    """The did-you-mean for a missing column: the file's own header as written, and the two ways to fix it."""
    hit = closest(name, unknown)
    if hit is None:
        return ""
    shown = written.get(hit, hit)
    return (f"; did you mean {shown!r}? (rename the column in the file, or map it in study.yaml: "
            f"centres: {{{centre}: {{columns: {{{record_type}: {{{shown}: {name}}}}}}}}})")


def _unit_columns(rt: RecordType) -> set[str]:
    return {f"{f.name}_unit" for f in rt.fields if f.quantity}


def _type_table(
    rt: RecordType, raw: pd.DataFrame, columns: dict[str, tuple[str, list[str]]], log: IssueLog,
    bilirubin_factor: float, headers: dict[str, dict[str, str]] | None = None,
) -> pd.DataFrame:
    """Parse, convert and range-check one record type (all centres at once)."""
    known = set(rt.names) | _unit_columns(rt) | {"centre"}
    if rt.name == "labs":
        known |= {"unit"}
    for file, (centre, cols) in sorted(columns.items()):
        for c in cols:
            if c not in known:
                log.add(rule="unknown_column", severity="warning", centre=centre, file=file, column=c,
                        message="column not in the data model; ignored")
        present = set(cols)
        unknown = [c for c in cols if c not in known]
        for f in rt.fields:
            if f.name in present or f.need == "optional" or (rt is PATIENTS and f.name == "age"):
                continue  # age is derived from birth_date when absent
            # An analysis column missing from a whole file is an error too: as a warning, every patient of
            # the file would drop out of the flow as "incomplete" (a column named ECOG_PS instead of ecog).
            needed = "required" if f.name == "patient_id" or f.need == "always" else "needed for the analysis"
            log.add(rule="missing_column", centre=centre, file=file, column=f.name,
                    message=f"{needed} column {f.name!r} is missing"
                            + _missing_column_hint(f.name, unknown, (headers or {}).get(file, {}), centre, rt.name))

    out = raw[list(PROVENANCE)].copy()
    for f in rt.fields:
        col = raw[f.name] if f.name in raw else pd.Series(pd.NA, index=raw.index, dtype=object)
        as_float = None
        if f.kind == "int":  # parsed once: the range check reads the number before the whole-number rule
            as_float, float_bad = parse_float(col)
            vals, bad = _int_of_float(as_float, float_bad)
        else:
            vals, bad = parse_field(col, f)
        log.add_rows(raw, bad, column=f.name, rule="type", message=_type_message(f))
        if f.quantity and rt.name == "patients":
            ucol = f"{f.name}_unit"
            units = _as_text(raw[ucol]) if ucol in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
            factors, unknown = conversion_factors(units, f.quantity, bilirubin_factor)
            log.add_rows(raw, unknown & vals.notna().to_numpy(), column=ucol, rule="unit",
                         message=f"unknown unit for {f.quantity}; accepted: {', '.join(sorted(QUANTITIES[f.quantity].factors))}")
            vals = vals * np.where(np.isnan(factors), np.nan, factors)
            out[f"{f.name}_unit_reported"] = units.fillna(QUANTITIES[f.quantity].canonical)
        outside = _check_range(f, col, vals, raw, log, as_float)
        missing = vals.isna().to_numpy() & ~bad & ~outside
        if f.need == "always":
            log.add_rows(raw, missing & (f.name in raw), column=f.name, rule="required",
                         message=f"{f.name} is required")
        elif f.need == "analysis" and f.name in raw:
            log.add_rows(raw, missing, column=f.name, rule="missing_value", severity="warning",
                         message="missing; the patient will be excluded as incomplete data")
        out[f.name] = vals
    if "centre_reported" in raw:
        rep = _as_text(raw["centre_reported"])
        mismatch = (rep.notna() & (rep != raw["centre"].astype("string"))).fillna(False).to_numpy()
        log.add_rows(raw, mismatch, column="centre", rule="centre_mismatch", value=rep,
                     message="centre column differs from the centre folder/workbook name")
    return out


def _check_range(f: Field, col: pd.Series, vals: pd.Series, raw: pd.DataFrame, log: IssueLog,
                 as_float: pd.Series | None = None) -> np.ndarray:
    """Rule ``range``: values outside [f.lo, f.hi] (numbers in the canonical unit, dates as ISO);
    returns the mask.  Integers are checked on their numeric value (``as_float``: the column's
    :func:`parse_float`, computed here when not given), so 1e300 in an integer column is out of range
    rather than an overflow."""
    if f.lo is None and f.hi is None or f.kind not in ("float", "int", "date"):
        return np.zeros(len(raw), dtype=bool)
    if f.kind == "date":
        lo, hi = pd.Timestamp(f.lo), pd.Timestamp(f.hi)
        outside = (vals.notna() & ((vals < lo) | (vals > hi))).to_numpy(dtype=bool)
        if outside.any():  # the text as written, only when there is something to report
            log.add_rows(raw, outside, column=f.name, rule="range", value=_as_text(col),
                         message=f"outside the plausible dates [{f.lo}, {f.hi}]")
        return outside
    if f.kind == "int" and as_float is None:
        as_float = parse_float(col)[0]
    v = (as_float if f.kind == "int" else vals).to_numpy(dtype=float, na_value=np.nan)
    lo = -np.inf if f.lo is None else f.lo
    hi = np.inf if f.hi is None else f.hi
    outside = ~np.isnan(v) & ((v < lo) | (v > hi))
    if outside.any():
        unit = f" {f.unit}" if f.unit else ""
        log.add_rows(raw, outside, column=f.name, rule="range", value=pd.Series([f"{x:g}" for x in v[outside]]),
                     message=f"outside the plausible range [{lo:g}, {hi:g}]{unit} (canonical unit)")
    return outside


def _check_lab_ranges(labs: pd.DataFrame, raw: pd.DataFrame, log: IssueLog) -> None:
    """Per test (canonical unit, after conversion): value in LAB_RANGES, uln/lln > 0 and <= the upper bound."""
    test = labs["test"].astype(object).to_numpy()
    codes, uniques = pd.factorize(test, use_na_sentinel=True)  # missing test -> -1 -> the NaN row
    bounds = np.array([LAB_RANGES.get(t, (np.nan, np.nan)) for t in uniques] + [(np.nan, np.nan)], dtype=float)
    lo, hi = bounds[codes, 0], bounds[codes, 1]
    for c, low_ok in (("value", lambda v: v >= lo), ("uln", lambda v: v > 0), ("lln", lambda v: v > 0)):
        v = labs[c].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            outside = ~np.isnan(v) & ~np.isnan(hi) & ~(low_ok(v) & (v <= hi))
        if not outside.any():
            continue
        for k in np.unique(codes[outside]):  # one message per test: its own range and unit
            m = outside & (codes == k)
            t = uniques[k]
            a, b = LAB_RANGES[t]
            rng = f"[{a:g}, {b:g}]" if c == "value" else f"(0, {b:g}]"
            log.add_rows(raw, m, column=c, rule="range", value=pd.Series([f"{x:g}" for x in v[m]]),
                         message=f"{t}: outside the plausible range {rng} {QUANTITIES[t].canonical} (canonical unit)")


def _labs_units(labs: pd.DataFrame, raw: pd.DataFrame, log: IssueLog, bilirubin_factor: float) -> pd.DataFrame:
    """Convert lab values (and their ULN/LLN) to each test's canonical unit."""
    units = _as_text(raw["unit"]) if "unit" in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
    factor = np.full(len(labs), np.nan)
    unknown = np.zeros(len(labs), dtype=bool)
    for test, idx in labs.groupby("test", sort=True).indices.items():
        f, unk = conversion_factors(units.iloc[idx], test, bilirubin_factor)
        factor[idx] = f
        unknown[idx] = unk
    log.add_rows(raw, unknown, column="unit", rule="unit", value=units,
                 message="unit not accepted for this test (see docs/data-model.md)")
    labs = labs.copy()
    canon = labs["test"].map({k: q.canonical for k, q in QUANTITIES.items()}).astype("string")
    labs["unit_reported"] = units.fillna(canon)
    labs["unit"] = canon
    for c in ("value", "uln", "lln"):
        labs[c] = labs[c] * factor
    _check_lab_ranges(labs, raw, log)
    return labs


# --------------------------------------------------------------------------- cross-table checks
def _check_duplicates(rt: RecordType, df: pd.DataFrame, log: IssueLog) -> None:
    if not rt.key:
        return
    cols = ["centre", *rt.key]
    ok = df[list(rt.key)].notna().all(axis=1).to_numpy()
    dup = df.duplicated(cols, keep=False).to_numpy() & ok
    what = ", ".join(rt.key)
    log.add_rows(df, dup, column=rt.key[-1], rule="duplicate",
                 message=f"duplicate record: ({what}) appears more than once in the centre")


def _date_order(df, log, mask, column, message):
    log.add_rows(df, mask.fillna(False).to_numpy(dtype=bool), column=column, rule="date_order", message=message)


def _check_patient_dates(p: pd.DataFrame, log: IssueLog) -> None:
    """A patient's dates in clinical order: birth <= diagnosis <= first HAIC <= last follow-up <= death;
    progression and first systemic therapy after birth (and diagnosis) and by the last follow-up."""
    h = p["first_haic_date"]
    b, dx, lfu = p["birth_date"], p["diagnosis_date"], p["last_followup_date"]
    _date_order(p, log, b > dx, "birth_date", "born after the diagnosis date")
    _date_order(p, log, b > p["death_date"], "birth_date", "born after the date of death")
    _date_order(p, log, b > lfu, "birth_date", "born after the last follow-up")
    _date_order(p, log, b > p["first_systemic_date"], "first_systemic_date", "systemic therapy before birth")
    _date_order(p, log, dx > p["death_date"], "diagnosis_date", "diagnosis after death")
    _date_order(p, log, dx > lfu, "diagnosis_date", "diagnosis after the last follow-up")
    _date_order(p, log, p["progression_date"] < dx, "progression_date", "progression before the diagnosis date")
    _date_order(p, log, p["progression_date"] > lfu, "progression_date",
                "progression after the last follow-up (the last date known alive)")
    _date_order(p, log, p["first_systemic_date"] > lfu, "first_systemic_date", "systemic therapy after the last follow-up")
    _date_order(p, log, p["birth_date"] > h, "birth_date", "born after the first HAIC")
    _date_order(p, log, p["diagnosis_date"] > h, "first_haic_date", "first HAIC before the diagnosis date")
    _date_order(p, log, p["death_date"] < h, "death_date", "death before the first HAIC")
    _date_order(p, log, p["progression_date"] < h, "progression_date", "progression before the first HAIC")
    _date_order(p, log, p["last_followup_date"] < h, "last_followup_date", "last follow-up before the first HAIC")
    _date_order(p, log, p["progression_date"] > p["death_date"], "progression_date", "progression after death")
    _date_order(p, log, p["last_followup_date"] > p["death_date"], "last_followup_date", "last follow-up after death")
    _date_order(p, log, p["first_systemic_date"] > p["death_date"], "first_systemic_date", "systemic therapy after death")


def _check_children(name: str, df: pd.DataFrame, patients: pd.DataFrame, log: IssueLog,
                    patient_keys=None) -> pd.DataFrame:
    """Orphans and dates of a child table against its patient's dates.  Each child row is looked up
    once in the patients' joined (centre, patient_id) keys (an Arrow hash lookup, no MultiIndex);
    ``patient_keys``: those joined keys (``joined_key(patients, ["centre", "patient_id"], MISSING)``),
    built once for all child tables."""
    keys = ["centre", "patient_id"]
    pid = df["patient_id"].notna().to_numpy()
    # a missing key part matches a missing one (as a MultiIndex reindex does); first patient row wins
    if patient_keys is None:
        patient_keys = joined_key(patients, keys, MISSING)
    at = key_positions(df, patient_keys, keys, MISSING)
    known = (at >= 0) & pid
    log.add_rows(df, ~known & pid, column="patient_id", rule="orphan",
                 message=f"{name} record for a patient not in the centre's patients table")
    rt = RECORD_TYPES[name]
    if rt.date is None:
        return df
    pd_cols = ["death_date", "diagnosis_date", "first_haic_date", "birth_date", "last_followup_date"]
    found = at >= 0
    joined = {}
    for c in pd_cols:
        joined[c] = np.full(len(df), np.datetime64("NaT", "ns"))
        joined[c][found] = np.asarray(patients[c], dtype="datetime64[ns]")[at[found]]
    d = df[rt.date].to_numpy()
    after_death = pd.Series(d > joined["death_date"])
    _date_order(df, log, after_death, rt.date, f"{name} record dated after the patient's death")
    before_birth = pd.Series(d < joined["birth_date"])
    _date_order(df, log, before_birth, rt.date, f"{name} record dated before the patient's birth")
    after_lfu = pd.Series(d > joined["last_followup_date"])
    _date_order(df, log, after_lfu, rt.date,
                f"{name} record dated after the patient's last follow-up (the last date known alive)")
    if name in ("haic_cycles", "systemic", "adverse_events"):  # treatment and its toxicity follow the diagnosis
        before_dx = pd.Series(d < joined["diagnosis_date"])
        what = {"haic_cycles": "HAIC cycle", "systemic": "systemic therapy start", "adverse_events": "adverse event onset"}
        _date_order(df, log, before_dx, rt.date, f"{what[name]} before the diagnosis date")
    if name == "systemic":
        stop_after_death = pd.Series(df["stop_date"].to_numpy() > joined["death_date"])
        _date_order(df, log, stop_after_death, "stop_date", "systemic therapy stopped after the patient's death")
    return df


def _check_cycles(cycles: pd.DataFrame, patients: pd.DataFrame, log: IssueLog) -> None:
    c = cycles.dropna(subset=["patient_id", "cycle", "date"]).sort_values(["centre", "patient_id", "cycle"], kind="stable")
    prev = c.groupby(["centre", "patient_id"], sort=False)["date"].shift()
    bad = (c["date"] <= prev).fillna(False)
    log.add_rows(c, bad.to_numpy(), column="date", rule="cycle_order",
                 message="cycle date not after the previous cycle's date")
    first = c[(c["cycle"] == 1).to_numpy(dtype=bool)]
    p = patients.dropna(subset=["patient_id"])
    keys = ["centre", "patient_id"]
    at = key_positions(p, joined_key(first, keys), keys)  # first cycle-1 row of each patient
    c1 = np.full(len(p), np.datetime64("NaT", "ns"))
    c1[at >= 0] = np.asarray(first["date"], dtype="datetime64[ns]")[at[at >= 0]]
    mism = p["first_haic_date"].notna().to_numpy() & ~pd.isna(c1) & (p["first_haic_date"].to_numpy() != c1)
    log.add_rows(p, mism, column="first_haic_date", rule="first_haic_mismatch",
                 message="first_haic_date differs from the date of HAIC cycle 1")


def _check_systemic(s: pd.DataFrame, log: IssueLog) -> None:
    _date_order(s, log, s["stop_date"] < s["start_date"], "stop_date", "stop date before start date")
    agent = s["agent"].str.lower()
    expected = agent.map(AGENT_CLASS)
    wrong = (expected.notna() & s["drug_class"].notna() & (expected != s["drug_class"])).fillna(False)
    log.add_rows(s, wrong.to_numpy(), column="drug_class", rule="agent_class",
                 message="drug class does not match the agent (see docs/data-model.md)")
    unknown = (expected.isna() & agent.notna()).to_numpy()
    log.add_rows(s, unknown, column="agent", rule="agent_class", severity="warning",
                 message="agent not in the study's list; its recorded class is used")


def _check_assessments(a: pd.DataFrame, log: IssueLog) -> None:
    t = a["lesion_type"]
    log.add_rows(a, ((t == "target") & a["viable_diameter_mm"].isna()).fillna(False).to_numpy(),
                 column="viable_diameter_mm", rule="lesion_measure", message="target lesion without a viable diameter")
    log.add_rows(a, ((t == "non_target") & a["non_target_status"].isna()).fillna(False).to_numpy(),
                 column="non_target_status", rule="lesion_measure", message="non-target lesion without a status")


def _derive_age(p: pd.DataFrame, log: IssueLog) -> pd.DataFrame:
    from_dob = (p["first_haic_date"] - p["birth_date"]).dt.days / DAYS_PER_YEAR
    differ = (p["age"].notna() & from_dob.notna() & ((p["age"] - from_dob).abs() > 1.0)).to_numpy()
    log.add_rows(p, differ, column="age", rule="age_mismatch", severity="warning",
                 message="age differs from (first HAIC - birth date) by more than a year; the recorded age is used")
    lo, hi = PATIENTS.field("age").lo, PATIENTS.field("age").hi
    implausible = (p["age"].isna() & from_dob.notna() & ((from_dob < lo) | (from_dob > hi))).to_numpy()
    log.add_rows(p, implausible, column="birth_date", rule="range",
                 message=f"the age at first HAIC from birth_date is outside the plausible range [{lo:g}, {hi:g}] years")
    p = p.copy()
    p["age"] = p["age"].fillna(from_dob)
    missing = p["age"].isna().to_numpy()
    log.add_rows(p, missing, column="age", rule="missing_value", severity="warning",
                 message="neither age nor birth date (with first HAIC date) given; the patient will be excluded as incomplete data")
    return p


def validate_tables(
    raw: dict[str, pd.DataFrame], columns: dict[str, dict[str, tuple[str, list[str]]]], log: IssueLog,
    *, bilirubin_factor: float = 17.1, headers: dict[str, dict[str, str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Type, convert and check every table; issues go to ``log``.  ``columns`` gives the columns each
    source file had (from :func:`hccstudy.schema.readers.read_study`).  Returns typed tables (all
    record types present, empty where no file gave them).  A ``bilirubin_factor`` outside its
    plausible range is a config error (``units.bilirubin_factor``), not errors on converted values.
    ``headers`` (per source file, matched name -> name as written) lets a suggestion name a column as
    the file writes it."""
    lo, hi = BILIRUBIN_FACTOR_RANGE
    if not (isinstance(bilirubin_factor, int | float) and not isinstance(bilirubin_factor, bool)
            and lo <= bilirubin_factor <= hi):
        raise ConfigError(f"units.bilirubin_factor: {bilirubin_factor!r} is outside the plausible range "
                          f"[{lo:g}, {hi:g}] µmol/L per mg/dL")
    typed: dict[str, pd.DataFrame] = {}
    for name, rt in RECORD_TYPES.items():
        df = raw.get(name)
        if df is None or df.empty:
            df = pd.DataFrame({c: pd.Series(dtype=object) for c in [*PROVENANCE, *rt.names]})
            df["source_row"] = df["source_row"].astype("int64")
        t = _type_table(rt, df, columns.get(name, {}), log, bilirubin_factor, headers)
        if name == "labs":
            t = _labs_units(t, df, log, bilirubin_factor)
        _check_duplicates(rt, t, log)
        typed[name] = t
    p = typed["patients"]
    _check_patient_dates(p, log)
    typed["patients"] = _derive_age(p, log)
    patient_keys = joined_key(typed["patients"], ["centre", "patient_id"], MISSING)
    for name in ("haic_cycles", "systemic", "labs", "assessments", "adverse_events"):
        _check_children(name, typed[name], typed["patients"], log, patient_keys)
    _check_cycles(typed["haic_cycles"], typed["patients"], log)
    _check_systemic(typed["systemic"], log)
    _check_assessments(typed["assessments"], log)
    return typed
