"""Counting-process (start, stop] data for a time-dependent exposure, and the landmark cut.

:func:`split_at` is ``survival::tmerge`` for one time-dependent covariate that switches from 0 to 1 once:
each subject followed on (0, time] with an exposure starting at ``change_time`` s gives

* s missing (NaN) or s >= time: one row (0, time], unexposed (the switch falls after the follow-up);
* s <= 0: one row (0, time], exposed from the start (tmerge applies a ``tdc`` at or before the first
  interval's start to the whole follow-up);
* 0 < s < time: two rows, (0, s] unexposed without the event and (s, time] exposed with the subject's
  event -- tmerge's tie rule: a switch at s is effective just after s, so an event at s itself counts
  as unexposed only when s is the end of follow-up (then s >= time: no split).

Fitting ``coxph(tstop, event, exposed, start=tstart, cluster=row)`` on the rows is R's
``coxph(Surv(tstart, tstop, event) ~ exposed + cluster(id), data = tmerge(...))``: the time-dependent
Cox model in which a subject counts as unexposed until the exposure starts, which removes the immortal
time bias of classifying by a later exposure (Therneau & Grambsch 2000, sec. 3.7; Therneau, Crowson &
Atkinson, "Using time dependent covariates and time dependent coefficients in the Cox model", survival
package vignette).

:func:`landmark` is the landmark method (Anderson, Cain & Gelber 1983; Dafni 2011): only subjects alive
and event-free at the landmark L (time > L) are kept, their exposure is taken as known at L, and time
is measured from L.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CountingData:
    """Counting-process rows: ``row`` the index of the subject in the input, (``tstart``, ``tstop``] the
    interval, ``event`` whether the subject's event ends it, ``exposed`` 0/1 during it.  Rows are ordered
    by subject, then time (as tmerge's output)."""

    row: np.ndarray
    tstart: np.ndarray
    tstop: np.ndarray
    event: np.ndarray
    exposed: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


def split_at(time, event, change_time) -> CountingData:
    """Split each subject's follow-up (0, time] at ``change_time`` (see the module docstring for the
    rules, which are ``survival::tmerge``'s with ``tdc(change_time)``).  ``time`` must be > 0 (a (0, 0]
    interval is empty; tmerge refuses it too)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    c = np.asarray(change_time, dtype=float)
    if not (len(t) == len(e) == len(c)):
        raise ValueError(f"split_at: time, event and change_time differ in length ({len(t)}, {len(e)}, {len(c)})")
    bad = ~(np.isfinite(t) & (t > 0))
    if bad.any():
        raise ValueError(f"split_at: {int(bad.sum())} subject(s) (first: row {int(np.flatnonzero(bad)[0])}) have a "
                         f"missing or non-positive follow-up time; (0, time] needs time > 0")
    with np.errstate(invalid="ignore"):
        split = (c > 0) & (c < t)                  # NaN compares False: never switches
        from_start = c <= 0
    n_rows = 1 + split.astype(np.int64)
    row = np.repeat(np.arange(len(t)), n_rows)
    last = np.cumsum(n_rows) - 1                    # each subject's last (or only) row
    tstart = np.zeros(len(row))
    tstop = t[row].copy()
    ev = np.zeros(len(row), dtype=bool)
    exposed = np.zeros(len(row), dtype=np.int8)
    ev[last] = e
    exposed[last] = split | from_start
    first_of_split = last[split] - 1
    tstop[first_of_split] = c[split]
    tstart[last[split]] = c[split]
    return CountingData(row, tstart, tstop, ev, exposed)


def landmark(time, event, at: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The landmark cut at ``at``: ``(keep, time[keep] - at, event[keep])`` with ``keep = time > at`` --
    the subjects still at risk just after the landmark (alive and event-free; a subject whose event or
    censoring is exactly at the landmark is not), follow-up restarted at the landmark.  Classify the
    exposure by what is known at ``at`` before fitting on the kept rows."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    if len(t) != len(e):
        raise ValueError(f"landmark: time and event differ in length ({len(t)}, {len(e)})")
    if not np.isfinite(at):
        raise ValueError(f"landmark: the landmark time must be finite, got {at!r}")
    keep = t > at
    return keep, t[keep] - at, e[keep]
