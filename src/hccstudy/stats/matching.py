"""Greedy nearest-neighbour matching on a distance (propensity score), identical to R's MatchIt
(>= 4.5.1 with the 4.5.4 caliper fix, ``method = "nearest"``, with or without replacement).

Algorithm (``docs/spec/matching-spec.md``, Algorithm, steps 3-9):

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
   When the controls run out (ratio x treated > controls, as ``ratio = 3`` on lalonde), the matching
   simply stops: later treated units get fewer than k controls, as MatchIt does (it warns "Not all
   treated units will get k matches"; we return the same warning in ``MatchResult.warnings``);
6. ``replace = True``: a control stays available after it is used, so the order of the treated units
   does not matter (MatchIt then forces ``m.order = "data"``); each treated unit takes its k nearest
   controls, merging the nearest-left and nearest-right sequences with the same left-on-ties rule and
   never the same control twice.  Vectorised over the treated units: k steps of two pointers into the
   sorted controls.

Weights (``MatchResult.weights``, MatchIt's ``weights.matrix``): a matched treated unit 1; each
control the sum over the treated units it is matched to of 1 / (that unit's number of matches), then
the controls' weights rescaled to sum to the number of matched controls.  Without replacement and with
every treated unit getting k controls all weights are 1; with replacement or a ratio shortage they are
not.

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
    * ``weights``: MatchIt's matching weights per input row (0 when unmatched)
    * ``replace``: matched with replacement (then ``units.pair`` is missing for controls when a control
      belongs to several matched sets; they are listed in ``pairs``)
    * ``warnings``: MatchIt's warnings (not every treated unit got ``ratio`` controls)
    """

    pairs: pd.DataFrame
    units: pd.DataFrame
    caliper_width: float | None
    weights: np.ndarray
    replace: bool = False
    warnings: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class Matches:
    """The bare matches of :func:`match_rows`, before any table is built: row positions of each
    (treated, control) match and its round, the caliper width and the discarded units.  For loops
    that only need the matched rows (the bootstrap re-matches ~1000 times); :func:`nearest_neighbor`
    is this plus the ``pairs`` / ``units`` tables and the weights."""

    treated: np.ndarray     # row of the treated unit of each match
    control: np.ndarray     # row of its control
    round: np.ndarray       # 1..ratio
    caliper_width: float | None
    discarded: np.ndarray   # per input row: outside the common support (``discard``)

    def weights(self, n: int) -> np.ndarray:
        """MatchIt's matching weights per input row (:func:`matchit_weights`)."""
        return matchit_weights(n, self.treated, self.control)


def match_rows(
    distance, treated, *, caliper: float | None = None, std_caliper: bool = True, ratio: int = 1,
    order: Order = "largest", discard: Discard = "none", ties: Ties = "matchit", seed: int | None = None,
    replace: bool = False,
) -> Matches:
    """The matches of :func:`nearest_neighbor` (same arguments, same matches) without its tables."""
    d = np.asarray(distance, dtype=float)
    t = np.asarray(treated, dtype=bool)
    n = len(d)
    if ratio < 1:
        raise ValueError("ratio must be >= 1")
    if np.isnan(d).any():
        raise ValueError("distance has missing values")
    if not np.isfinite(d).all():
        raise ValueError("distance has infinite values")
    if not t.any() or t.all():
        raise ValueError(f"matching needs treated and control units (treated {int(t.sum())}, control {int((~t).sum())})")
    disc = _support(d, t, discard)
    width = caliper_width(d, caliper, std_caliper, ~disc)
    if width is not None and not np.isfinite(width):
        raise ValueError("caliper: the SD of the distance is undefined (fewer than 2 units kept)")

    pos_order = np.argsort(d, kind="stable")  # sorted position -> row
    pos_of_row = np.empty(n, dtype=np.int64)
    pos_of_row[pos_order] = np.arange(n)
    t_rows = np.flatnonzero(t & ~disc)
    if replace:  # each treated unit is matched on its own: the order cannot matter
        if ties == "legacy":
            raise ValueError('ties = "legacy" (MatchIt <= 4.5.0) is offered only without replacement')
        mt, mc, mr = _match_with_replacement(d, t, disc, pos_order, pos_of_row, t_rows, width, ratio, ties)
    else:
        if order == "largest":
            t_rows = t_rows[np.argsort(-d[t_rows], kind="stable")]
        elif order == "smallest":
            t_rows = t_rows[np.argsort(d[t_rows], kind="stable")]
        elif order == "random":
            t_rows = np.random.default_rng(seed).permutation(t_rows)
        elif order != "data":
            raise ValueError(f"unknown order {order!r}")
        mt, mc, mr = _match_without_replacement(d, t, disc, pos_order, pos_of_row, t_rows, width, ratio, ties)
    return Matches(mt, mc, mr, width, disc)


def nearest_neighbor(
    distance, treated, *, caliper: float | None = None, std_caliper: bool = True, ratio: int = 1,
    order: Order = "largest", discard: Discard = "none", ties: Ties = "matchit", seed: int | None = None,
    replace: bool = False,
) -> MatchResult:
    """1:k greedy nearest-neighbour matching, without or with replacement (see module docstring)."""
    m = match_rows(distance, treated, caliper=caliper, std_caliper=std_caliper, ratio=ratio, order=order,
                   discard=discard, ties=ties, seed=seed, replace=replace)
    return _result(np.asarray(distance, dtype=float), np.asarray(treated, dtype=bool), m.discarded, m.caliper_width,
                   ratio, replace, m.treated, m.control, m.round)


def match_by_spec(distance, treated, spec) -> MatchResult:
    """:func:`nearest_neighbor` with the options of a matching specification: any object with
    ``caliper``, ``std_caliper``, ``ratio``, ``order``, ``discard``, ``ties``, ``seed`` and ``replace``
    (the plan's ``matching`` block), so that every caller matches the plan's way."""
    return nearest_neighbor(distance, treated, **matching_options(spec))


def matching_options(spec) -> dict:
    """The keyword options of :func:`nearest_neighbor` / :func:`match_rows` from a matching
    specification (the plan's ``matching`` block: ``caliper``, ``std_caliper``, ``ratio``, ``order``,
    ``discard``, ``ties``, ``seed``, ``replace``)."""
    return {"caliper": spec.caliper, "std_caliper": spec.std_caliper, "ratio": spec.ratio, "order": spec.order,
            "discard": spec.discard, "ties": spec.ties, "seed": spec.seed, "replace": spec.replace}


def _match_without_replacement(d, t, disc, pos_order, pos_of_row, t_rows, width, ratio, ties):
    """Union-find over the sorted positions (module docstring, steps 3-5)."""
    n = len(d)
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
    return (np.asarray(match_t, dtype=np.int64), np.asarray(match_c, dtype=np.int64),
            np.asarray(match_r, dtype=np.int64))


def _match_with_replacement(d, t, disc, pos_order, pos_of_row, t_rows, width, ratio, ties):
    """Each treated unit's ``ratio`` nearest controls (module docstring, step 6): two pointers per
    treated unit into the sorted eligible controls, advanced ``ratio`` times for all units at once."""
    ctrl_pos = np.flatnonzero((~t & ~disc)[pos_order])   # sorted positions of eligible controls
    ctrl_row = pos_order[ctrl_pos]
    ctrl_d = d[ctrl_row]
    nc = len(ctrl_pos)
    tp = pos_of_row[t_rows]
    dt = d[t_rows]
    lo = np.searchsorted(ctrl_pos, tp) - 1     # nearest control to the left
    hi = lo + 1                                 # ... and to the right
    w = np.inf if width is None else width
    active = np.ones(len(t_rows), dtype=bool)
    out_t, out_c, out_r = [], [], []
    for rnd in range(1, ratio + 1):
        has_l, has_r = lo >= 0, hi < nc
        li, ri = np.clip(lo, 0, max(nc - 1, 0)), np.clip(hi, 0, max(nc - 1, 0))
        dl = np.where(has_l, np.abs(ctrl_d[li] - dt) if nc else np.inf, np.inf)
        dr = np.where(has_r, np.abs(ctrl_d[ri] - dt) if nc else np.inf, np.inf)
        okl, okr = active & has_l & (dl <= w), active & has_r & (dr <= w)
        take_l = okl & (~okr | (dl <= dr))
        take_r = okr & ~take_l
        got = take_l | take_r
        c = np.where(take_l, li, ri)[got]
        out_t.append(t_rows[got])
        out_c.append(ctrl_row[c])
        out_r.append(np.full(int(got.sum()), rnd, dtype=np.int64))
        lo = lo - take_l
        hi = hi + take_r
        active = got
    return (np.concatenate(out_t).astype(np.int64), np.concatenate(out_c).astype(np.int64),
            np.concatenate(out_r).astype(np.int64))


def matchit_weights(n: int, treated_rows: np.ndarray, control_rows: np.ndarray) -> np.ndarray:
    """MatchIt's ``weights.matrix`` from the (treated, control) matches: matched treated 1; a control
    sum over its treated units of 1 / (matches of that unit), rescaled so that the matched controls'
    weights sum to their number; unmatched 0."""
    w = np.zeros(n)
    if len(treated_rows) == 0:
        return w
    k = np.bincount(treated_rows, minlength=n).astype(float)   # matches per treated unit
    w[k > 0] = 1.0
    wc = np.bincount(control_rows, weights=1.0 / k[treated_rows], minlength=n)
    ctrl = wc > 0
    w[ctrl] = wc[ctrl] * ctrl.sum() / wc[ctrl].sum()
    return w


def _result(d, t, disc, width, ratio, replace, mt, mc, mr) -> MatchResult:
    n = len(d)
    matched_t = np.unique(mt)
    pair_of = np.full(n, -1, dtype=np.int64)
    pair_of[matched_t] = np.arange(1, len(matched_t) + 1)  # matched-set ids by treated row order
    pair_t = pair_of[mt]
    if not replace or len(np.unique(mc)) == len(mc):  # each control in one set: it has a set id
        pair_of[mc] = pair_t
    pairs = pd.DataFrame({
        "pair": pair_t, "treated": mt, "control": mc,
        "distance_treated": d[mt], "distance_control": d[mc], "round": mr,
    }).sort_values(["pair", "round"], kind="stable").reset_index(drop=True)
    weights = matchit_weights(n, mt, mc)
    matched = weights > 0
    status = np.where(matched, "matched", np.where(disc, "discarded", np.where(t, "no control within caliper", "not selected")))
    if width is None:
        status = np.where(t & ~matched & ~disc, "no control left", status)
    units = pd.DataFrame({
        "treated": t, "distance": d, "discarded": disc, "matched": matched,
        "pair": pd.array(np.where(pair_of > 0, pair_of, 0), dtype="Int64"), "status": status,
    })
    units.loc[pair_of <= 0, "pair"] = pd.NA
    notes: tuple[str, ...] = ()
    n_per_t = np.bincount(mt, minlength=n)[t & ~disc]
    if ratio > 1 and len(n_per_t) and (n_per_t < ratio).any() and (n_per_t > 0).any():
        notes = (f"not all treated units got {ratio} matches ({int((n_per_t[n_per_t > 0] < ratio).sum())} "
                 f"matched treated units have fewer)",)
    return MatchResult(pairs, units, width, weights, replace, notes)
