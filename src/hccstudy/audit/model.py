"""The audit file (TABLES.yaml): a paper's reported numbers, as printed, validated by pydantic.

The format is documented in docs/audit.md with the built-in file (``hccstudy/audit/TABLES.yaml``) as its
example.  Numbers keep the text they were written with (:class:`~hccstudy.audit.numbers.Num`), so that
``0.70`` still has two decimals.  An error names the file, the line and the key
(``TABLES.yaml: line 12: tables.t1.rows.age.sd: give a value for each arm (SE, SI)``), like the other
config files of hccstudy (:mod:`hccstudy._yaml`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._yaml import ConfigError, _check_shape, _Loader, _read_config_text, _short
from .numbers import Num, PValue, to_num, to_p

#: the audit file shipped with the package: the reference paper's published tables
BUILTIN = Path(__file__).with_name("TABLES.yaml")


def _num_or_none(v):
    return None if v is None or (isinstance(v, str) and v.strip().upper() in ("NR", "NE", "NA", "")) else to_num(v)


def _p_or_text(v):
    """A P value; text without a digit (``NS``, ``n.s.``) is kept as text and reported as not checkable;
    text with one that is no P (``0.6.1``, ``"1.5"``) is an error."""
    try:
        return to_p(v)
    except ValueError:
        if isinstance(v, str) and v.strip() and not any(c.isdigit() for c in v):
            return v.strip()
        raise


N = Annotated[Any, AfterValidator(to_num)]
OptN = Annotated[Any, AfterValidator(_num_or_none)]
P = Annotated[Any, AfterValidator(_p_or_text)]
PerArm = dict[str, N]


def _size(v) -> int:
    n = to_num(v)
    if not n.value.is_integer() or n.value <= 0 or "." in n.text:
        raise ValueError(f"{n.text} is not a whole number > 0")
    return int(n.value)


Size = Annotated[Any, AfterValidator(_size)]


#: between the problems the root's check finds (each names its key; :func:`_messages` gives each its line)
SEP = " | "


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Row(_Strict):
    """One row of a two-arm table: a binary factor (``n`` and/or ``pct``), a factor with ``levels``,
    or a continuous factor (``mean`` and ``sd``); ``p`` as printed."""

    label: str | None = Field(None, description="the row's label as the paper prints it (default: its key)")
    n: PerArm | None = Field(None, description="count per arm (of the level shown)")
    pct: PerArm | None = Field(None, description="percentage per arm, as printed")
    levels: dict[str, PerArm] | None = Field(None, description="level -> count per arm")
    complete: bool = Field(True, description="the levels cover every patient (false: e.g. AE grades)")
    within: str | None = Field(None, description="a binary row of the same table whose counts bound these")
    mean: PerArm | None = None
    sd: PerArm | None = None
    p: P | None = Field(None, description="P as printed: 0.616, \"< 0.001\"")
    sample: str | None = Field(None, description="the sample of this row, if not the table's")

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k, on in (("n/pct", self.n is not None or self.pct is not None),
                                 ("levels", self.levels is not None),
                                 ("mean/sd", self.mean is not None or self.sd is not None)) if on]
        if len(kinds) != 1:
            raise ValueError("give one of n (and/or pct), levels, or mean with sd"
                             + (f"; got {' and '.join(kinds)}" if kinds else ""))
        if (self.mean is None) != (self.sd is None):
            raise ValueError("give mean and sd together")
        return self

    @property
    def kind(self) -> str:
        return "continuous" if self.mean is not None else "levels" if self.levels is not None else "binary"


class Table(_Strict):
    title: str
    sample: str = Field(description="a key of samples: the group sizes this table is reported on")
    rows: dict[str, Row]


class HazardRatio(_Strict):
    hr: N
    ci: tuple[N, N]
    p: P | None = None
    label: str | None = None


class HazardRatios(_Strict):
    title: str
    rows: dict[str, HazardRatio]


class SurvivalArm(_Strict):
    median: OptN = Field(None, description="median in the curve's unit; null or NR: not reached")
    ci: tuple[OptN, OptN] | None = Field(None, description="95% CI of the median; NR: not reached")
    rates: dict[Any, N] = Field(default_factory=dict, description="time -> survival in percent")


class Survival(_Strict):
    title: str
    sample: str | None = None
    unit: str = "months"
    arms: dict[str, SurvivalArm]


class Repeat(_Strict):
    what: str
    values: dict[str, N] = Field(min_length=2, description="place (text, Table 2, Figure 3A) -> value as printed there")


class Bound(_Strict):
    """A mean per arm and the count above a cut-off, for values in a known range (treatment cycles)."""

    what: str
    sample: str
    range: tuple[N, N] = Field(description="the smallest and largest possible value")
    whole: bool = Field(True, description="the values are whole numbers (cycles, counts)")
    above: N = Field(description="the cut-off: the count is of values above it")
    n_above: PerArm
    mean: PerArm


class Paper(_Strict):
    """The root of TABLES.yaml."""

    paper: str
    arms: list[str] = Field(min_length=2, max_length=2, description="the two arms, in the paper's order")
    samples: dict[str, dict[str, Size]] = Field(min_length=1, description="sample -> arm -> size")
    tables: dict[str, Table] = Field(default_factory=dict)
    hazard_ratios: dict[str, HazardRatios] = Field(default_factory=dict)
    survival: dict[str, Survival] = Field(default_factory=dict)
    repeats: list[Repeat] = Field(default_factory=list)
    bounds: list[Bound] = Field(default_factory=list)

    @model_validator(mode="after")
    def _arms_and_samples(self):
        arms = set(self.arms)
        if len(arms) != 2:
            raise ValueError("arms: give two different arm names")
        problems: list[str] = []

        def per_arm(where: str, d: dict | None):
            if d is not None and set(d) != arms:
                problems.append(f"{where}: give a value for each arm ({', '.join(self.arms)}); got "
                                f"{', '.join(map(str, d)) or 'none'}")

        for s, sizes in self.samples.items():
            per_arm(f"samples.{s}", sizes)
        for t, table in self.tables.items():
            for r, row in table.rows.items():
                where = f"tables.{t}.rows.{r}"
                sample = row.sample or table.sample
                if sample not in self.samples:
                    key = f"{where}.sample" if row.sample else f"tables.{t}.sample"
                    problems.append(f"{key}: {sample!r} is not a sample (samples: {', '.join(self.samples)})")
                for f in ("n", "pct", "mean", "sd"):
                    per_arm(f"{where}.{f}", getattr(row, f))
                for f, ok, rule in (("n", lambda v: v >= 0, "a count is >= 0"),
                                    ("pct", lambda v: 0 <= v <= 100, "a percentage lies in 0..100"),
                                    ("sd", lambda v: v > 0, "an SD is > 0")):
                    bad = [a for a, v in (getattr(row, f) or {}).items() if not ok(v.value)]
                    if bad:
                        problems.append(f"{where}.{f}.{bad[0]}: {rule}")
                for lev, d in (row.levels or {}).items():
                    per_arm(f"{where}.levels.{lev}", d)
                if row.within is not None and (row.within not in table.rows or table.rows[row.within].n is None):
                    problems.append(f"{where}.within: {row.within!r} is not a row with n in tables.{t}")
        for k, s in self.survival.items():
            per_arm(f"survival.{k}.arms", s.arms)
            if s.sample is not None and s.sample not in self.samples:
                problems.append(f"survival.{k}.sample: {s.sample!r} is not a sample")
            for a, arm in s.arms.items():
                for t in arm.rates:
                    try:
                        to_num(t)
                    except ValueError:
                        problems.append(f"survival.{k}.arms.{a}.rates: the time {t!r} is not a number")
        for i, b in enumerate(self.bounds):
            if b.sample not in self.samples:
                problems.append(f"bounds.{i}.sample: {b.sample!r} is not a sample (samples: {', '.join(self.samples)})")
            per_arm(f"bounds.{i}.n_above", b.n_above)
            per_arm(f"bounds.{i}.mean", b.mean)
            if not b.range[0].value <= b.above.value <= b.range[1].value:
                problems.append(f"bounds.{i}.above: the cut-off lies outside the range")
        if problems:
            raise ValueError(SEP.join(problems))
        return self


# ------------------------------------------------------------------------------------------- reading
class _NumLoader(_Loader):
    """hccstudy's YAML loader (YAML 1.2 booleans, duplicate keys refused) with numbers kept as written."""

    def construct_num(self, node):
        return to_num(node.value.replace("_", ""))


_NumLoader.add_constructor("tag:yaml.org,2002:float", _NumLoader.construct_num)
_NumLoader.add_constructor("tag:yaml.org,2002:int", _NumLoader.construct_num)

if getattr(yaml, "__with_libyaml__", False):
    class _FastNumLoader(yaml.cyaml.CParser, _NumLoader):  # type: ignore[misc]
        """The same loader on libyaml's parser (about 10x faster to the same nodes and values)."""

        def __init__(self, stream):
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _LOADER: type = _FastNumLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _LOADER = _NumLoader


def _line(root: yaml.Node | None, loc: tuple) -> int | None:
    """The line of the YAML node at the key path ``loc`` (the deepest one found)."""
    node, line = root, None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(key)), None)
            if nxt is None:
                break
            line, node = nxt[0].start_mark.line + 1, nxt[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line if line is not None else (root.start_mark.line + 1 if root is not None else None)


def _messages(exc: ValidationError, root) -> str:
    """Each error as 'line L: key.path: message' (a whole-model check names its keys in its message)."""
    parts = []
    for e in exc.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-after")))
        msg = _short(e["msg"], 300).removeprefix("Value error, ")
        if not loc:  # the root's checks: each message starts with the key it names
            for one in msg.split(SEP):
                key = one.split(":", 1)[0]
                line = _line(root, tuple(int(k) if k.isdigit() else k for k in key.split(".")))
                parts.append(f"line {line}: {one}" if line else one)
        else:
            key = ".".join(str(x) for x in loc)
            line = _line(root, loc)
            parts.append(f"line {line}: {_short(key)}: {msg}" if line else f"{_short(key)}: {msg}")
    return "; ".join(parts)


def load_tables(path: str | Path | None = None) -> Paper:
    """Read and validate an audit file (None: the built-in :data:`BUILTIN`); any problem ->
    :class:`~hccstudy._yaml.ConfigError` naming the file, the line and the key."""
    p = Path(path) if path is not None else BUILTIN
    text = _read_config_text(p)
    try:
        _check_shape(text)
        loader = _LOADER(text)  # one parse: the node tree (for the lines of errors), then the values
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    except ValueError as exc:  # a number YAML accepts but we cannot read (.inf)
        raise ConfigError(f"{p}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys (paper, arms, samples, tables, ...)")
    data = _plain_keys(data)
    try:
        return Paper.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{p}: {_messages(exc, root)}") from exc


def _plain_keys(v):
    """Mapping keys as plain values (a key written 6 is the number 6, not a :class:`Num`); values untouched."""
    if isinstance(v, dict):
        return {(k.text if isinstance(k, Num) else k): _plain_keys(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain_keys(x) for x in v]
    return v


__all__ = ["BUILTIN", "Bound", "Paper", "Table", "Row", "HazardRatio", "HazardRatios", "Survival", "SurvivalArm", "Repeat",
           "PValue", "load_tables"]
