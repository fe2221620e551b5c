"""Plausible ranges for config numbers: one annotation per field that pydantic enforces and the docs list.

Every number in a config (study or analysis) is declared as ``Annotated[int | float, Interval(...),
NUMBER]``: ``Interval`` (from ``annotated_types``, which pydantic applies) holds the documented bounds
and :data:`NUMBER` refuses what pydantic would otherwise coerce into a number -- ``true``/``false``
(``True == 1`` in Python), NaN and ±infinity.  :func:`numeric_ranges` walks a config model and lists
every numeric key with its range; docs/config.md and docs/analyze.md hold that table
(:func:`range_table`) and a test keeps them identical, so every range is documented and no numeric key
is left without one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import types
import typing
from typing import Annotated, Any, Union

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator


def _plain_number(v: Any) -> Any:
    """Refuse booleans and non-finite numbers before pydantic's lax coercion sees them."""
    if isinstance(v, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("must be a finite number (not NaN or infinity)")
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v  # pydantic reports it as not a number
        if not math.isfinite(f):
            raise ValueError("must be a finite number (not NaN or infinity)")
    return v


#: metadata for every config number: no booleans, no NaN, no infinity
NUMBER = BeforeValidator(_plain_number)

__all__ = ["NUMBER", "Interval", "numeric_ranges", "range_table"]


def _fmt(x) -> str:
    if isinstance(x, dt.date):
        return x.isoformat()
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


def describe(iv: Interval) -> str:
    """An interval in mathematical notation: [1, 90], (0, 1], >= 0."""
    lo = iv.ge if iv.ge is not None else iv.gt
    hi = iv.le if iv.le is not None else iv.lt
    if lo is None and hi is None:
        return "any"
    if hi is None:
        return (">= " if iv.ge is not None else "> ") + _fmt(lo)
    if lo is None:
        return ("<= " if iv.le is not None else "< ") + _fmt(hi)
    return ("[" if iv.ge is not None else "(") + f"{_fmt(lo)}, {_fmt(hi)}" + ("]" if iv.le is not None else ")")


def _unwrap(tp) -> tuple[Any, list, bool, bool]:
    """(base type, Annotated metadata, optional?, list of?) of a field annotation."""
    optional = is_list = False
    meta: list = []
    for _ in range(6):
        origin = typing.get_origin(tp)
        if origin is Annotated:
            meta += list(tp.__metadata__)
            tp = tp.__origin__
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(tp))
            if len(args) != 1:  # str | SubgroupCut: the structured alternative holds the numbers
                nested = [a for a in args if _is_model(a)]
                return (nested[0] if len(nested) == 1 else tp), meta, optional, is_list
            tp = args[0]
        elif origin is list:
            is_list = True
            tp = typing.get_args(tp)[0]
        else:
            break
    return tp, meta, optional, is_list


def _is_model(tp) -> bool:
    return isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))


def _fields(model) -> dict[str, Any]:
    hints = typing.get_type_hints(model, include_extras=True)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {k: hints[k] for k in model.model_fields if k in hints}
    if dataclasses.is_dataclass(model):
        return {f.name: hints[f.name] for f in dataclasses.fields(model)}
    return {}


def numeric_ranges(model, prefix: str = "") -> list[tuple[str, str, str]]:
    """Every numeric or date key of a config model (nested models and dataclasses included), as
    (key, type, range); a number without an ``Interval`` or :data:`NUMBER` has range ``"any"`` (a
    test forbids it).  ``[]`` marks a key inside a list (``endpoints[].landmarks``)."""
    rows: list[tuple[str, str, str]] = []
    for name, hint in _fields(model).items():
        key = f"{prefix}{name}"
        tp, meta, optional, is_list = _unwrap(hint)
        if _is_model(tp):
            rows += numeric_ranges(tp, key + ("[]." if is_list else "."))
            continue
        if tp not in (int, float, dt.date):
            continue
        iv = next((m for m in meta if isinstance(m, Interval)), Interval())
        checked = tp is dt.date or any(m is NUMBER for m in meta)
        kind = ("list of " if is_list else "") + {int: "integer", float: "number", dt.date: "date"}[tp]
        rng = describe(iv) if checked else "any"
        rows.append((key, kind + (", or null" if optional else ""), rng))
    return rows


def range_table(model, prefix: str = "") -> str:
    """The markdown table of :func:`numeric_ranges` (kept in the docs; a test compares)."""
    lines = ["| key | type | plausible range |", "|---|---|---|"]
    lines += [f"| `{k}` | {t} | {r} |" for k, t, r in numeric_ranges(model, prefix)]
    return "\n".join(lines) + "\n"
