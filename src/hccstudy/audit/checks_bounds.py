"""A mean against the share of patients above a cut-off, when the values have a known range.

If a fraction q = n / N of an arm lies above the cut-off c and every value lies in [lo, hi], the mean
is at least q c' + (1 - q) lo and at most q hi + (1 - q) c, where c' is the smallest value above c
(c + 1 for whole numbers such as treatment cycles, else c).  A printed mean whose rounding interval
misses that range is impossible: 88% of patients with more than 4 of 2-6 cycles cannot have a mean of
4.01 cycles (the least possible mean is 0.88 x 5 + 0.12 x 2 = 4.64).  Severity: ``consistent`` inside
the range, ``inconsistent`` outside (no rounding tier: the bound is exact).
"""

from __future__ import annotations

from .findings import CONSISTENT, INCONSISTENT, Finding
from .model import Bound, Paper

CHECK = "mean vs share above a cut-off"


def mean_range(q: float, cut: float, lo: float, hi: float, whole: bool) -> tuple[float, float]:
    above = cut + 1 if whole else cut
    return q * above + (1 - q) * lo, q * hi + (1 - q) * cut


def check_bound(paper: Paper, b: Bound) -> list[Finding]:
    sizes = paper.samples[b.sample]
    lo, hi = b.range
    out = []
    for a in paper.arms:
        n, size, m = b.n_above[a], sizes[a], b.mean[a]
        q = n.value / size
        least, most = mean_range(q, b.above.value, lo.value, hi.value, b.whole)
        m_lo, m_hi = m.interval()
        sev = CONSISTENT if m_hi >= least - 1e-12 and m_lo <= most + 1e-12 else INCONSISTENT
        nxt = f"{b.above.value + 1:g}" if b.whole else b.above.text
        arith = (f"{n.text} of {size} above {b.above.text} (q = {q:.3f}), values in [{lo.text}, {hi.text}]: the mean "
                 f"lies between {q:.3f} x {nxt} + {1 - q:.3f} x {lo.text} = {least:.3f} and {q:.3f} x {hi.text} + "
                 f"{1 - q:.3f} x {b.above.text} = {most:.3f}; printed {m.text}")
        out.append(Finding(CHECK, b.what, "mean", a, m.text, f"{least:.2f}..{most:.2f}", sev, arith))
    return out


def check_bounds(paper: Paper) -> list[Finding]:
    return [f for b in paper.bounds for f in check_bound(paper, b)]
