"""Greedy nearest-neighbour matching on a distance (propensity score), identical to R's MatchIt
(>= 4.5.1 with the 4.5.4 caliper fix, ``method = "nearest"``, ``replace = FALSE``).

Algorithm (``matching-spec.md``):

1. discard units outside the common support when asked (``both`` / ``control`` / ``treated``);
2. caliper width = caliper x SD(distance of the retained units, n - 1) when ``std_caliper`` (else raw);
3. sort all units by distance (stable); visit treated units in ``order`` (``largest``: decreasing
   distance, ties in row order; ``smallest``; ``data``; ``random``, with our own seeded RNG -- R's RNG
   stream is not reproduced);
4. for each, the nearest *available* control to the left and to the right in the sorted order; a side
   whose control is farther than the caliper (inclusive) yields nothing; of two, the left one when
   |d_L - d_T| <= |d_R - d_T|.  ``ties = "legacy"`` (MatchIt <= 4.5.0, brute force) takes, among the
   controls at the smallest |difference|, the first in row order;
5. ratio k: k rounds over the treated units, each treated unit getting its r-th match in round r.

"Nearest available to the left/right" is a union-find (disjoint-set with path compression) over
the sorted positions, so the whole match is O(n log n) for the sort and nearly linear after it; no
treated unit scans the controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Order = Literal["largest", "smallest", "data", "random"]
Discard = Literal["none", "both", "control", "treated"]
Ties = Literal["matchit", "legacy"]


@dataclass(frozen=True)
class MatchResult:
    """Matched sets and the fate of every unit.

    * ``pairs``: one row per (treated, control) match: ``pair`` (1..n, numbered by the treated unit's
      row order), ``treated`` and ``control`` (row positions in the input), ``distance_treated``,
      ``distance_control``, ``round`` (1..ratio)
    * ``units``: per input row: ``treated``, ``distance``, ``discarded``, ``matched``, ``pair`` (the
      pair id, missing when unmatched), ``status`` (matched / no control within caliper /
      discarded / not selected / no control left)
    * ``caliper_width``: on the distance scale (None without a caliper)
    """

    pairs: pd.DataFrame
    units: pd.DataFrame
    caliper_width: float | None

    @property
    def n_pairs(self) -> int:
        return int(self.units.loc[self.units["treated"] & self.units["matched"]].shape[0])


def _support(d: np.ndarray, t: np.ndarray, discard: Discard) -> np.ndarray:
    """Boolean mask of discarded units."""
    out = np.zeros(len(d), dtype=bool)
    if discard == "none":
        return out
    dt, dc = d[t], d[~t]
    if discard == "both":
        lo, hi = max(dt.min(), dc.min()), min(dt.max(), dc.max())
        return (d < lo) | (d > hi)
    if discard == "control":
        return ~t & ((d < dt.min()) | (d > dt.max()))
    if discard == "treated":
        return t & ((d < dc.min()) | (d > dc.max()))
    raise ValueError(f"unknown discard option {discard!r}")


def caliper_width(distance: np.ndarray, caliper: float | None, std_caliper: bool = True,
                  retained: np.ndarray | None = None) -> float | None:
    """Caliper on the distance scale: |caliper| x SD(distance over retained units) or the raw value."""
    if caliper is None:
        return None
    d = distance if retained is None else distance[retained]
    return abs(caliper) * float(np.std(d, ddof=1)) if std_caliper else abs(caliper)


def nearest_neighbor(
    distance, treated, *, caliper: float | None = None, std_caliper: bool = True, ratio: int = 1,
    order: Order = "largest", discard: Discard = "none", ties: Ties = "matchit", seed: int | None = None,
) -> MatchResult:
    """1:k greedy nearest-neighbour matching without replacement (see module docstring)."""
    d = np.asarray(distance, dtype=float)
    t = np.asarray(treated, dtype=bool)
    n = len(d)
    if ratio < 1:
        raise ValueError("ratio must be >= 1")
    if np.isnan(d).any():
        raise ValueError("distance has missing values")
    disc = _support(d, t, discard)
    width = caliper_width(d, caliper, std_caliper, ~disc)

    pos_order = np.argsort(d, kind="stable")  # sorted position -> row
    ds = d[pos_order].tolist()
    rows = pos_order.tolist()
    avail = (~t & ~disc)[pos_order]
    # union-find "next available control at or to the left / right of position i"
    left = np.where(avail, np.arange(n), np.arange(n) - 1).tolist()
    right = np.where(avail, np.arange(n), np.arange(n) + 1).tolist()
    # legacy ties: first position of each run of equal distances
    run_start = None
    if ties == "legacy":
        dsa = d[pos_order]
        new_run = np.r_[True, dsa[1:] != dsa[:-1]]
        run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0)).tolist()

    def find_left(i: int) -> int:
        root = i
        while root >= 0 and left[root] != root:
            root = left[root]
        while i >= 0 and left[i] != i and left[i] != root:  # path compression
            left[i], i = root, left[i]
        return root

    def find_right(i: int) -> int:
        root = i
        while root < n and right[root] != root:
            root = right[root]
        while i < n and right[i] != i and right[i] != root:
            right[i], i = root, right[i]
        return root

    pos_of_row = np.empty(n, dtype=np.int64)
    pos_of_row[pos_order] = np.arange(n)
    t_rows = np.flatnonzero(t & ~disc)
    if order == "largest":
        t_rows = t_rows[np.argsort(-d[t_rows], kind="stable")]
    elif order == "smallest":
        t_rows = t_rows[np.argsort(d[t_rows], kind="stable")]
    elif order == "random":
        t_rows = np.random.default_rng(seed).permutation(t_rows)
    elif order != "data":
        raise ValueError(f"unknown order {order!r}")
    t_pos = pos_of_row[t_rows].tolist()
    w = np.inf if width is None else width

    match_t: list[int] = []
    match_c: list[int] = []
    match_r: list[int] = []
    failed = set()
    for rnd in range(1, ratio + 1):
        for p in t_pos:
            if p in failed:
                continue
            dt = ds[p]
            lp = find_left(p - 1) if p > 0 else -1
            rp = find_right(p + 1) if p < n - 1 else n
            if ties == "legacy" and lp >= 0:
                lp = find_right(run_start[lp])
                if lp >= n:
                    lp = -1
            dl = abs(ds[lp] - dt) if lp >= 0 else np.inf
            dr = abs(ds[rp] - dt) if rp < n else np.inf
            okl, okr = lp >= 0 and dl <= w, rp < n and dr <= w
            if not okl and not okr:
                failed.add(p)
                continue
            if okl and okr:
                if ties == "legacy" and dl == dr:
                    c = lp if rows[lp] < rows[rp] else rp
                else:
                    c = lp if dl <= dr else rp
            else:
                c = lp if okl else rp
            left[c] = c - 1
            right[c] = c + 1
            match_t.append(rows[p])
            match_c.append(rows[c])
            match_r.append(rnd)

    mt = np.asarray(match_t, dtype=np.int64)
    mc = np.asarray(match_c, dtype=np.int64)
    matched_t = np.unique(mt)
    pair_of = np.full(n, -1, dtype=np.int64)
    pair_of[matched_t] = np.arange(1, len(matched_t) + 1)  # pair ids by treated row order
    pair_of[mc] = pair_of[mt]
    pairs = pd.DataFrame({
        "pair": pair_of[mt], "treated": mt, "control": mc,
        "distance_treated": d[mt], "distance_control": d[mc], "round": np.asarray(match_r, dtype=np.int64),
    }).sort_values(["pair", "round"], kind="stable").reset_index(drop=True)
    matched = pair_of > 0
    status = np.where(matched, "matched", np.where(disc, "discarded", np.where(t, "no control within caliper", "not selected")))
    if width is None:
        status = np.where(t & ~matched & ~disc, "no control left", status)
    units = pd.DataFrame({
        "treated": t, "distance": d, "discarded": disc, "matched": matched,
        "pair": pd.array(np.where(matched, pair_of, 0), dtype="Int64"), "status": status,
    })
    units.loc[~matched, "pair"] = pd.NA
    return MatchResult(pairs, units, width)
