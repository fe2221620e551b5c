"""Numbers as a paper prints them: the value together with the decimals it was printed with.

A reported number stands for every value that rounds to it: ``10.8`` is any value in [10.75, 10.85],
``0.616`` any P in [0.6155, 0.6165], ``< 0.001`` any P below 0.001.  The checks compare recomputed
values with these intervals (docs/audit.md, "Severity"), so the decimals must survive the YAML reader,
which would turn ``0.70`` into 0.7: :class:`Num` keeps the text as written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    """A reported number: ``value`` and ``text`` as printed (``decimals`` are read from the text)."""

    value: float
    text: str

    @property
    def decimals(self) -> int:
        mantissa, _, exponent = self.text.lower().partition("e")
        places = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return places - int(exponent or 0)  # 1.5e-4 is printed to the 5th decimal

    @property
    def unit(self) -> float:
        """One unit of the last printed decimal (0.01 for ``0.61``)."""
        return 10.0 ** -self.decimals

    def interval(self, units: float = 0.5) -> tuple[float, float]:
        """The values within ``units`` of the last decimal: 0.5 -> those that round to it."""
        return self.value - units * self.unit, self.value + units * self.unit

    def __str__(self) -> str:
        return self.text


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def to_num(v) -> Num:
    """A YAML scalar (already a :class:`Num`, an int/float, or text such as ``"0.70"``) as a :class:`Num`."""
    if isinstance(v, Num):
        return v
    if isinstance(v, bool) or v is None:
        raise ValueError("give a number")
    if isinstance(v, int | float):
        if not math.isfinite(v):
            raise ValueError("give a finite number")
        return Num(float(v), repr(v) if isinstance(v, float) else str(v))
    if isinstance(v, str) and _NUMBER.match(v.strip()):
        return Num(float(v), v.strip())
    raise ValueError(f"{str(v)[:40]!r} is not a number")


@dataclass(frozen=True)
class PValue:
    """A reported P: ``op`` is ``=`` (``0.616``), ``<`` (``< 0.001``) or ``>`` (``> 0.05``)."""

    op: str
    num: Num

    @property
    def text(self) -> str:
        return self.num.text if self.op == "=" else f"{self.op} {self.num.text}"

    def interval(self, units: float = 0.5) -> tuple[float, float]:
        """The P values the printed one stands for (``units`` 0.5) or that miss it by a rounding slip
        (``units`` 1: one unit of the last decimal; ``< 0.001`` then admits P < 0.0015, which a
        careless rounding prints as 0.001)."""
        lo, hi = self.num.interval(units)
        extra = (units - 0.5) * self.num.unit
        if self.op == "<":
            return 0.0, self.num.value + extra
        if self.op == ">":
            return self.num.value - extra, 1.0
        return max(lo, 0.0), min(hi, 1.0)

    def admits(self, p: float, units: float = 0.5) -> bool:
        lo, hi = self.interval(units)
        eps = 1e-12
        if self.op == "<" and units == 0.5:
            return p < hi
        if self.op == ">" and units == 0.5:
            return p > lo
        return lo - eps <= p <= hi + eps

    def __str__(self) -> str:
        return self.text


_P = re.compile(r"^\s*(?:[Pp]\s*)?(<=|>=|<|>|≤|≥|=)?\s*(\d*\.?\d+(?:[eE][+-]?\d+)?)\s*$")


def to_p(v) -> PValue:
    """``0.616``, ``"0.616"``, ``"< 0.001"``, ``"P<0.001"`` as a :class:`PValue`; anything else (``NS``)
    -> ValueError."""
    if isinstance(v, PValue):
        return v
    if isinstance(v, Num | int | float) and not isinstance(v, bool):
        n = to_num(v)
        if not 0 <= n.value <= 1:
            raise ValueError(f"P = {n.text} is not between 0 and 1")
        return PValue("=", n)
    if isinstance(v, str):
        m = _P.match(v)
        if m:
            op = {"<": "<", "<=": "<", "≤": "<", ">": ">", ">=": ">", "≥": ">", "=": "=", None: "="}[m.group(1)]
            n = to_num(m.group(2))
            if not 0 <= n.value <= 1:
                raise ValueError(f"P = {v!r} is not between 0 and 1")
            return PValue(op, n)
    raise ValueError(f"{str(v)[:40]!r} is not a P value (write 0.616, \"< 0.001\" or \"> 0.05\")")


def fmt(x: float, digits: int = 4) -> str:
    """A recomputed value for the arithmetic text: below 1 with ``digits`` decimals (trailing zeros kept:
    0.0150 is not 0.015 printed), below 0.001 in e-notation (1.43e-20), from 1 up ``digits`` significant
    figures."""
    if x is None or not math.isfinite(x):
        return "NA"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.2e}"
    return f"{x:.{digits}g}" if abs(x) >= 1 else f"{x:.{digits}f}"
