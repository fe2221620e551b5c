"""The generator's fast paths compute exactly what the plain definitions compute (bit for bit), so the
synthetic cohort stays byte-identical: the Cox coefficients without the fit object, the one-covariate
score states of polish_cox side by side, its swaps, the Kaplan-Meier product up to the last time asked
for, and the PFS derived from the scans.  Small hand-made samples; well under a second."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hccstudy.stats.cox import coxph, risk_sets
from hccstudy.synth import construct as C
from hccstudy.synth.generate import _pfs_observed


def _sample(rng, n=150):
    t = np.floor(rng.exponential(200, n))          # whole days: many ties
    e = rng.random(n) < 0.7
    return t, e


def test_cox_coefficients_equal_coxph_bit_for_bit():
    rng = np.random.default_rng(1)
    t, e = _sample(rng)
    si = (rng.random(len(t)) < 0.5).astype(float)
    x = (rng.random(len(t)) < 0.3).astype(float)
    diam = rng.normal(0, 2, len(t))
    sep = np.where(e & (t < np.median(t)), 1.0, 0.0)   # separates early events: a diverging coefficient
    rs = risk_sets(t, e)
    for X in ([x], [diam], [si, x, si * x], [si, x, diam, si * diam], [sep], [si, sep]):
        X = np.column_stack(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = coxph(t, e, X)
            for risk in (None, rs):
                beta, converged = C.cox_coefficients(t, e, X, risk)
                assert np.array_equal(beta, np.asarray(fit.coefficients)) and converged == fit.converged
    with pytest.raises(ValueError, match="no events"):
        C.cox_coefficients(t, np.zeros(len(t), dtype=bool), x)


def _positions(rng, n):
    time = np.sort(np.floor(rng.exponential(100, n)))
    first = np.searchsorted(time, time, side="left")
    ev = (rng.random(n) < 0.7).astype(float)
    return ev, first


def test_score_states_side_by_side_equal_one_by_one():
    rng = np.random.default_rng(5)
    n, M = 120, 6
    ev, first = _positions(rng, n)
    X = np.column_stack([rng.random(n) < 0.4, rng.normal(0, 3, n), np.ones(n)] + [rng.random(n) < 0.5] * 3).astype(float)
    mk = np.column_stack([np.ones(n), np.ones(n), rng.random(n) < 0.5, rng.random(n) < 0.6,
                          rng.random(n) < 0.3, np.ones(n)]).astype(float)
    beta = rng.normal(0, 0.5, M)
    for inv in (None, rng.random(M) + 0.1):
        w, u, pa, pb, inv1, mean = C._score_states_1(X, mk, beta, ev, first, inv)
        for q in range(M):
            ref = C._score_state(X[:, q:q + 1], mk[:, q], beta[q:q + 1], ev, first, None if inv is None else inv[q:q + 1, None])
            assert np.array_equal(w[:, q], ref[0]) and np.array_equal(u[q:q + 1], ref[1])
            assert np.array_equal(pa[:, q], ref[2]) and np.array_equal(pb[:, q], ref[3][:, 0])
            assert np.array_equal(inv1[q:q + 1], ref[4][0]) and np.array_equal(mean[:, q], ref[5][:, 0])


def _polish_one_by_one(rng, time, event, group, floor, models, steps, candidates=1000):
    """polish_cox as first written: every model's scores and candidate misses on its own."""
    n = len(time)
    order = np.lexsort((~event.astype(bool), time))
    t_sorted = time[order]
    first = np.searchsorted(t_sorted, t_sorted, side="left")
    ev = event[order].astype(float)
    holder = order.copy()
    groups = [np.flatnonzero(group == g) for g in np.unique(group)]
    sizes = np.array([len(g) for g in groups], dtype=float)
    flat, offset = np.concatenate(groups), np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    work = [(np.where(np.isnan(t), b, t), t, band, ~np.isnan(t)) for _, b, t, band, _ in models]

    def exact(h, keep=None):
        invs = [None] * len(models) if keep is None else [st[4] for st in keep]
        states = [C._score_state(X[h], rows[h].astype(float), bw, ev, first, inv)
                  for (X, _, _, _, rows), (bw, *_), inv in zip(models, work, invs, strict=True)]
        z = np.concatenate([(((bw - t) + st[4] @ st[1])[k] / band[k]) for st, (bw, t, band, k) in zip(states, work, strict=True)])
        return states, float(np.sum(z**2)), float(np.max(np.abs(z)))

    states, cost, worst = exact(holder)
    best = (cost, holder.copy())
    where = np.empty(n, dtype=np.int64)
    for step in range(steps):
        if worst < 0.5:
            break
        where[holder] = np.arange(n)
        g = rng.choice(len(groups), candidates, p=sizes / sizes.sum())
        i = flat[offset[g] + (rng.random(candidates) * sizes[g]).astype(np.int64)]
        j = flat[offset[g] + (rng.random(candidates) * sizes[g]).astype(np.int64)]
        a, c = np.minimum(where[i], where[j]), np.maximum(where[i], where[j])
        ok = (a != c) & (t_sorted[where[j]] >= floor[i]) & (t_sorted[where[i]] >= floor[j])
        a, c = a[ok], c[ok]
        if not len(a):
            continue
        lo, hi = np.searchsorted(first, a, side="right"), np.searchsorted(first, c, side="right")
        total = np.zeros(len(a))
        for (X, _, _, _, rows), (bw, t, band, k), (w, u, pa, pb, inv, mean) in zip(models, work, states, strict=True):
            ma, mc = rows[holder[a]].astype(float)[:, None], rows[holder[c]].astype(float)[:, None]
            xa, xc = X[holder[a]], X[holder[c]]
            d0 = w[a] - w[c]
            d1 = w[a][:, None] * xa - w[c][:, None] * xc
            du = ((ev[a] - ev[c])[:, None] * (mc * xc - ma * xa) - (d1 * (pa[hi] - pa[lo])[:, None] - d0[:, None] * (pb[hi] - pb[lo]))
                  - ev[a][:, None] * (mc - ma) * mean[a] - ev[c][:, None] * (ma - mc) * mean[c])
            total += np.sum((((bw - t) + (u + du) @ inv.T)[:, k] / band[k]) ** 2, axis=1)
        m = int(np.argmin(total))
        if total[m] >= cost:
            break
        holder = holder.copy()
        holder[[a[m], c[m]]] = holder[[c[m], a[m]]]
        states, cost, worst = exact(holder, None if step % 25 == 24 else states)
        if cost < best[0]:
            best = (cost, holder.copy())
    got = np.empty(n, dtype=np.int64)
    got[best[1]] = order
    return got


def test_polish_cox_side_by_side_takes_the_same_swaps():
    """One-covariate models (whole sample and subgroups) and a three-covariate one with a free
    coefficient, as the generator passes them: the same permutation as model by model."""
    rng = np.random.default_rng(8)
    n = 160
    group = np.repeat([0, 1], n // 2)
    time = np.floor(rng.exponential(300, n)) + 1
    event = rng.random(n) < 0.75
    floor = np.minimum(np.where(rng.random(n) < 0.1, np.quantile(time, 0.2), 0.0), time)
    x = (rng.random(n) < 0.4).astype(float)
    d = rng.normal(0, 2, n)
    si = group.astype(float)
    sub = x == 1
    models = []
    for X, target, band, rows in (([x], [1.8], [0.03], None), ([d], [1.05], [0.01], None), ([si], [0.7], [0.03], sub),
                                  ([si], [0.6], [0.03], ~sub), ([si, x, d], [0.7, np.nan, 1.1], [0.02] * 3, None)):
        X = np.column_stack(X)
        rows = np.ones(n, dtype=bool) if rows is None else rows
        beta0 = np.asarray(coxph(time[rows], event[rows], X[rows]).coefficients, dtype=float)
        models.append((X, beta0, np.log(target), np.asarray(band) / np.asarray(target), rows))
    got = C.polish_cox(np.random.default_rng(2), time, event, group, floor, models, steps=25, candidates=200)
    ref = _polish_one_by_one(np.random.default_rng(2), time, event, group, floor, models, steps=25, candidates=200)
    assert np.array_equal(got, ref) and not np.array_equal(got, np.arange(n))


def _km_at_full(time, event, at):
    ev = np.asarray(event).astype(bool)
    order = np.argsort(2.0 * time + np.where(ev, 0.0, 1e-9 + 1e-12 * np.abs(time)), kind="stable")
    t, dd = time[order], ev[order].astype(float)
    s = np.cumprod(1.0 - dd / (len(t) - np.arange(len(t))))
    k = np.searchsorted(t, np.asarray(at, dtype=float), side="right") - 1
    return np.where(k >= 0, s[np.maximum(k, 0)], 1.0)


def test_km_at_equals_the_full_product():
    rng = np.random.default_rng(9)
    for _ in range(120):
        n = int(rng.integers(1, 60))
        t = np.floor(rng.random(n) * 40) / 4.0
        e = rng.random(n) < 0.6
        at = np.r_[rng.random(3) * 12 - 1, t[:2]]
        for ev in (e, e.astype(float)):
            assert np.array_equal(C.km_at(t, ev, at), _km_at_full(t, ev, at))


def test_pfs_from_the_scans_equals_its_definition():
    rng = np.random.default_rng(4)
    m, s = 200, 12
    scan = np.cumsum(np.c_[rng.integers(1, 57, m), rng.integers(35, 57, (m, s - 1))], axis=1)
    end = rng.integers(0, 500, m)
    died = rng.random(m) < 0.4
    derive = _pfs_observed(scan, end, died)
    for _ in range(20):
        prog = rng.integers(-10, 700, m)
        valid = scan <= end[:, None]
        after = valid & (scan >= prog[:, None])
        det = after.any(axis=1)
        det_day = np.where(det, scan[np.arange(m), after.argmax(axis=1)], 0)
        last = np.where(valid.any(axis=1), np.max(np.where(valid, scan, 0), axis=1), 0)
        day, event = derive(prog)
        assert np.array_equal(day, np.where(det, det_day, np.where(died, end, last)) / 30.4375)
        assert np.array_equal(event, det | died)
