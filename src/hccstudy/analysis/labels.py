"""The variable dictionary: display labels, units, level labels and level order of analysed variables.

A report shows a reader words, not code names: ``AFP > 400 ng/mL`` instead of ``afp_gt_400``,
``Female`` instead of ``sexfemale``.  The dictionary is data (config key ``labels:``, one entry per
variable, endpoint or adverse-event column; every field optional)::

    labels:
      age: {label: "Age", unit: "years"}
      afp_gt_400: {label: "AFP > 400 ng/mL", levels: {1: "Yes", 0: "No"}, order: [0, 1]}
      sex: {label: "Sex", levels: {male: "Male", female: "Female"}, order: [male, female]}
      os: {label: "Overall survival"}

:class:`VariableLabelSpec` validates one entry; :class:`Dictionary` answers the report's questions
(:meth:`~Dictionary.variable`, :meth:`~Dictionary.level`, :meth:`~Dictionary.term`, ...).  A name
or level without a label falls back to its code name, and the dictionary records it so that the
report can list those terms in a note (:meth:`~Dictionary.fallbacks`).

Level keys are compared as values, not by type: ``1``, ``1.0``, ``"1"`` and ``"1.0"`` are the same
level, and ``True`` is also R's ``TRUE`` (the level part of a logical column's term, ``hbvTRUE``).  A
table read from CSV may hold 1.0 where the config says 1; a subgroup level arrives as text.

The built-in study's dictionary is ``hccstudy/data/dictionary.yaml`` (:func:`builtin_dictionary`);
a study's own ``labels:`` override it field by field (:func:`merge_labels`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._yaml import ConfigError, load_yaml

#: the built-in study's dictionary, inside the package
BUILTIN_DICTIONARY = "dictionary.yaml"


def _level_forms(value: Any) -> frozenset[str]:
    """The spellings under which a level value is the same level.

    ``str(value)`` always; a number (or bool) also as its integer and float text when it is whole
    (1 -> "1", "1.0"), and a bool as R spells it ("TRUE").  Two values are the same level when their
    forms meet -- the rule of ``analysis.run._same`` (``v == key or str(v) == str(key)``) plus
    1.0 vs 1, without ever treating two different texts ("01" and "1") as one.
    """
    forms = {str(value)}
    if isinstance(value, (bool, np.bool_)):
        forms |= {"TRUE" if value else "FALSE", str(int(value)), str(float(value))}
    elif isinstance(value, numbers.Real) and not isinstance(value, str):
        x = float(value)
        if math.isfinite(x):
            forms.add(repr(x))
            if x.is_integer():
                forms |= {str(int(x)), str(float(int(x)))}
    return frozenset(forms)


def same_level(a: Any, b: Any) -> bool:
    """Whether two level values are the same level (see :func:`_level_forms`)."""
    return not _level_forms(a).isdisjoint(_level_forms(b))


def _is_plain_number(value: Any) -> bool:
    """A number or a bool (numpy's too): shown as it is when a variable has no levels map."""
    return isinstance(value, (numbers.Real, np.bool_)) and not isinstance(value, str)


def _check_level_value(v: Any, where: str) -> None:
    """A level key (or ``order`` item) is a text, a number or true/false: what a table cell can hold
    and a YAML key can say.  A date, a list or null cannot be compared with the table's values."""
    if isinstance(v, (bool, str)):
        return
    if _is_plain_number(v):
        if not math.isfinite(float(v)):
            raise ValueError(f"{where} is not a level: NaN and infinity are not values of a column")
        return
    raise ValueError(f"{where} ({type(v).__name__}) is not a level: give a text, a number or true/false")


class VariableLabelSpec(BaseModel):
    """One dictionary entry (config ``labels.<name>``): how a variable, endpoint or AE column is shown.

    ``label``: the display name ("Maximum tumour diameter"); ``unit``: appended after a comma
    ("Maximum tumour diameter, cm"); ``levels``: value -> level label; ``order``: the values in the
    order tables and figures show them (the reference arm first).  Unknown keys are an error.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str | None = Field(None, min_length=1, max_length=300)
    unit: str | None = Field(None, min_length=1, max_length=100)
    levels: dict[Any, str] = {}
    order: list[Any] | None = None

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: dict) -> dict:
        seen: list = []
        for key, text in v.items():
            _check_level_value(key, f"level key {key!r}")
            if not text.strip():
                raise ValueError(f"level {key!r}: the label is empty")
            twin = next((s for s in seen if same_level(s, key)), None)
            if twin is not None:
                raise ValueError(f"levels {twin!r} and {key!r} are the same level, given twice")
            seen.append(key)
        return v

    @field_validator("order")
    @classmethod
    def _order(cls, v: list | None) -> list | None:
        if v is None:
            return v
        seen: list = []
        for item in v:
            _check_level_value(item, f"order item {item!r}")
            if any(same_level(s, item) for s in seen):
                raise ValueError(f"order: {item!r} is listed twice")
            seen.append(item)
        return v


def parse_labels(data: Any, where: str = "labels") -> dict[str, VariableLabelSpec]:
    """Validate a ``labels:`` mapping (name -> entry); any problem is a :class:`ConfigError` whose
    message starts with the key (``labels.sex.levels: ...``)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: give a mapping of variable name -> {{label, unit, levels, order}}")
    out: dict[str, VariableLabelSpec] = {}
    for name, entry in data.items():
        if not isinstance(name, str):
            raise ConfigError(f"{where}: {name!r} is not a variable name (write it as text)")
        try:
            out[name] = VariableLabelSpec.model_validate({} if entry is None else entry)
        except ValidationError as exc:
            raise ConfigError(_entry_message(f"{where}.{name}", exc)) from exc
    return out


def _entry_message(key: str, exc: ValidationError) -> str:
    """'labels.sex.levels: message; labels.sex.colour: Extra inputs are not permitted'."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"][:1])  # the entry's key; deeper: in the message
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{key}{'.' + loc if loc else ''}: {msg[:300]}")
    return "; ".join(parts)


def merge_labels(base: Mapping[str, VariableLabelSpec],
                 override: Mapping[str, VariableLabelSpec]) -> dict[str, VariableLabelSpec]:
    """``base`` with ``override`` on top, field by field: a field the override sets replaces the
    base's (a ``levels`` map as a whole); fields it leaves out keep the base's.  So a study can
    rename the arm (``arm: {label: "Group"}``) and keep the built-in level labels and order."""
    out = dict(base)
    for name, spec in override.items():
        old = out.get(name)
        out[name] = spec if old is None else old.model_copy(update={k: getattr(spec, k) for k in spec.model_fields_set})
    return out


@cache
def _builtin_text() -> str:
    return (files("hccstudy") / "data" / BUILTIN_DICTIONARY).read_text(encoding="utf-8")


def builtin_dictionary() -> dict[str, VariableLabelSpec]:
    """The built-in study's dictionary (``hccstudy/data/dictionary.yaml``): every variable of its
    plan, its endpoints, best overall response and every adverse-event column, with the paper's
    labels and units."""
    return parse_labels(load_yaml(_builtin_text()), f"{BUILTIN_DICTIONARY}: labels")


@dataclass(frozen=True)
class Dictionary:
    """What the report asks of the dictionary, with the fallback to code names recorded.

    Built once per report from the plan's labels (:meth:`from_config`).  Each question that finds
    no label answers with the code name and records it; :meth:`fallbacks` lists them (first asked
    first, each once) for the report's note.  The record is the only state, kept out of equality.
    """

    specs: Mapping[str, VariableLabelSpec] = field(default_factory=dict)
    _fallbacks: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_config(cls, labels: Mapping[str, VariableLabelSpec] | None) -> Dictionary:
        """A dictionary from validated entries (``AnalysisConfig.labels`` or :func:`builtin_dictionary`)."""
        return cls(dict(labels or {}))

    # -- the record --------------------------------------------------------------------------
    def _fallback(self, code: str) -> None:
        if code not in self._fallbacks:
            self._fallbacks.append(code)

    def fallbacks(self) -> list[str]:
        """Code names shown because they had no label, in the order first asked.  A variable is
        listed by its name (``age_gt_60``), a level as ``variable = value`` (``sex = female``)."""
        return list(self._fallbacks)

    # -- variables ---------------------------------------------------------------------------
    def _spec(self, name: str) -> VariableLabelSpec | None:
        return self.specs.get(name)

    def label(self, name: str) -> str:
        """The variable's label without its unit; its name when it has none (recorded)."""
        spec = self._spec(name)
        if spec is None or spec.label is None:
            self._fallback(name)
            return name
        return spec.label

    def unit(self, name: str) -> str | None:
        """The variable's unit, or None."""
        spec = self._spec(name)
        return None if spec is None else spec.unit

    def variable(self, name: str) -> str:
        """The variable as a table row shows it: ``label, unit`` ("Maximum tumour diameter, cm")."""
        text = self.label(name)
        unit = self.unit(name)
        return text if unit is None else f"{text}, {unit}"

    def endpoint(self, name: str) -> str:
        """An endpoint's label ("Overall survival"); without one its name in capitals ("OS"), recorded."""
        spec = self._spec(name)
        if spec is None or spec.label is None:
            self._fallback(name)
            return name.upper()
        return spec.label

    # -- levels ------------------------------------------------------------------------------
    def _level_label(self, spec: VariableLabelSpec | None, value: Any) -> str | None:
        if spec is None:
            return None
        return next((text for key, text in spec.levels.items() if same_level(key, value)), None)

    def level(self, name: str, value: Any) -> str:
        """The label of ``value`` of variable ``name``; ``str(value)`` when it has none.  The
        fallback is recorded when the variable has a levels map or the value is a code (text); a
        plain number of a variable without levels (a count, a cut) is shown as it is, and so is a
        value that is one of the variable's level labels."""
        spec = self._spec(name)
        text = self._level_label(spec, value)
        if text is not None:
            return text
        if spec is not None and isinstance(value, str) and value in spec.levels.values():
            return value  # already its label (an arm labelled before it reached the report)
        if (spec is not None and spec.levels) or not _is_plain_number(value):
            self._fallback(f"{name} = {value}")
        return str(value)

    def order(self, name: str, values: Iterable[Any]) -> list:
        """``values`` in the variable's ``order`` (the reference arm first); values the order does
        not list follow in their given order.  Without an ``order``: as given."""
        values = list(values)
        spec = self._spec(name)
        if spec is None or spec.order is None:
            return values

        def rank(v) -> int:
            return next((i for i, o in enumerate(spec.order) if same_level(o, v)), len(spec.order))

        return sorted(values, key=rank)  # stable: unlisted values keep their order

    # -- model terms -------------------------------------------------------------------------
    def _split(self, variable: str | None, term: str) -> tuple[str | None, str]:
        """(variable, level text) of an R term: the given variable when the term starts with it,
        else the longest name in the dictionary that the term starts with."""
        if variable is not None and term.startswith(variable):
            return variable, term[len(variable):]
        known = [n for n in self.specs if term.startswith(n)]
        if not known:
            return None, term
        name = max(known, key=len)
        return name, term[len(name):]

    def term(self, variable: str | None, term: str) -> tuple[str, str | None]:
        """A model term as (variable label with unit, level label or None).

        R names a treatment-contrast term variable + level (``sexfemale``, ``armSI``,
        ``celltypesmallcell``, ``hbvTRUE``) and a numeric term by the variable alone
        (``afp_gt_400``).  ``variable`` is the term's variable when the caller knows it (the Cox
        table's ``variable`` column); None: the longest dictionary name that starts the term (so
        ``age_gt_60`` is not read as ``age`` + ``_gt_60``).  A term equal to its variable has no
        level, except a 0/1 variable with a levels map, whose level is the label of 1 ("Yes").
        A term whose variable is unknown is shown as it is (recorded).
        """
        name, rest = self._split(variable, term)
        if name is None:
            self._fallback(term)
            return term, None
        if rest == "":
            spec = self._spec(name)
            one = self._level_label(spec, 1)
            binary = spec is not None and spec.levels and all(
                same_level(k, 0) or same_level(k, 1) for k in spec.levels)
            return self.variable(name), (one if binary and one is not None else None)
        value: Any = {"TRUE": True, "FALSE": False}.get(rest, rest)  # R's logical levels
        found = self._level_label(self._spec(name), value)
        return self.variable(name), found if found is not None else self.level(name, rest)
