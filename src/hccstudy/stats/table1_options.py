"""Table 1's options (config key ``table1``), in a module of their own so that reading a config does not
import the tests behind Table 1 (scipy.stats, about a second): :mod:`hccstudy.analysis.config` validates
them, :mod:`hccstudy.stats.table1` uses them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Table1Options:
    """Table 1 options (config key ``table1``)."""

    __pydantic_config__ = {"extra": "forbid"}  # noqa: RUF012 -- read by pydantic in the analysis config

    t_test: Literal["student", "welch"] = "student"
    nonnormal_test: Literal["wilcoxon", "kruskal"] = "wilcoxon"
    fisher_expected_below: float | None = 5.0
    exact: list[str] = field(default_factory=list)
    digits: int = 1
    pct_digits: int = 1
    p_digits: int = 3
