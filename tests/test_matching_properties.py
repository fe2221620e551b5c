"""Property tests of the matcher (hypothesis) against a brute-force reading of docs/spec/matching-spec.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from hccstudy.stats.matching import nearest_neighbor
from hccstudy.stats.propensity import propensity_score


def brute_force(d, t, caliper=None, std_caliper=True, ratio=1, order="largest", ties="matchit", replace=False):
    """O(n^2) reference: for each treated unit (in order), scan every control (with ``replace``: every
    control not yet matched to that treated unit).  'matchit': the nearest
    available control to the left and to the right in the stable sort by distance, left on |dL| <= |dR|;
    'legacy': among available controls at the smallest |difference|, the first in row order."""
    d = np.asarray(d, dtype=float)
    t = np.asarray(t, dtype=bool)
    n = len(d)
    width = None if caliper is None else (caliper * np.std(d, ddof=1) if std_caliper else caliper)
    pos = np.empty(n, dtype=int)
    pos[np.argsort(d, kind="stable")] = np.arange(n)
    treated = np.flatnonzero(t)
    if order == "largest":
        treated = treated[np.argsort(-d[treated], kind="stable")]
    elif order == "smallest":
        treated = treated[np.argsort(d[treated], kind="stable")]
    used = np.zeros(n, dtype=bool)
    mine: dict[int, set] = {int(i): set() for i in treated}
    failed = set()
    pairs = []
    for _ in range(ratio):
        for i in treated:
            if i in failed:
                continue
            avail = [j for j in range(n) if not t[j] and (j not in mine[i] if replace else not used[j])]
            ok = [j for j in avail if width is None or abs(d[j] - d[i]) <= width]
            if not ok:
                failed.add(i)
                continue
            if ties == "legacy":
                best = min(abs(d[j] - d[i]) for j in ok)
                c = min(j for j in ok if abs(d[j] - d[i]) == best)
            else:
                left = [j for j in avail if pos[j] < pos[i]]
                right = [j for j in avail if pos[j] > pos[i]]
                lj = max(left, key=lambda j: pos[j]) if left else None
                rj = min(right, key=lambda j: pos[j]) if right else None
                cand = [(j, abs(d[j] - d[i])) for j in (lj, rj) if j is not None and (width is None or abs(d[j] - d[i]) <= width)]
                if not cand:
                    failed.add(i)
                    continue
                two_and_right_nearer = len(cand) == 2 and cand[1][1] < cand[0][1]
                c = cand[1][0] if two_and_right_nearer else cand[0][0]
            used[c] = True
            mine[int(i)].add(c)
            pairs.append((int(i), int(c)))
    return sorted(pairs)


# distances on a coarse grid so that ties are frequent
units = st.lists(st.tuples(st.integers(0, 12), st.booleans()), min_size=2, max_size=40)


def _arrays(u):
    d = np.array([a for a, _ in u], dtype=float) / 12
    t = np.array([b for _, b in u], dtype=bool)
    return d, t


@settings(max_examples=300, deadline=None)
@given(units, st.sampled_from([None, 0.05, 0.3, 1.0]), st.sampled_from(["largest", "smallest", "data"]),
       st.sampled_from(["matchit", "legacy"]), st.integers(1, 3), st.booleans())
def test_union_find_equals_brute_force(u, caliper, order, ties, ratio, replace):
    d, t = _arrays(u)
    if t.all() or not t.any() or (replace and ties == "legacy"):
        return
    m = nearest_neighbor(d, t, caliper=caliper, order=order, ties=ties, ratio=ratio, replace=replace)
    ours = sorted(zip(m.pairs["treated"].tolist(), m.pairs["control"].tolist(), strict=True))
    assert ours == brute_force(d, t, caliper, True, ratio, order, ties, replace)


@settings(max_examples=100, deadline=None)
@given(units, st.sampled_from([None, 0.3]), st.integers(1, 3), st.booleans())
def test_weights_are_matchits(u, caliper, ratio, replace):
    """Treated 1; a control sum over its sets of 1/(set's controls), rescaled to sum to their number."""
    d, t = _arrays(u)
    if t.all() or not t.any():
        return
    m = nearest_neighbor(d, t, caliper=caliper, ratio=ratio, replace=replace)
    p = m.pairs
    k = p.groupby("treated").size()
    raw = np.zeros(len(d))
    for tr, c in zip(p["treated"], p["control"], strict=True):
        raw[c] += 1 / k[tr]
    expected = np.zeros(len(d))
    expected[k.index.to_numpy()] = 1
    if raw.sum():
        expected[raw > 0] = raw[raw > 0] * (raw > 0).sum() / raw.sum()
    np.testing.assert_allclose(m.weights, expected, rtol=1e-12)
    if not replace and len(k) and (k == ratio).all():
        # complete 1:k sets without reuse: every matched unit weighs 1, up to the rounding of MatchIt's
        # rescaling (six controls of weight 1/3 sum to 1.9999999999999998, so 1/3 * 6 / sum = 1 + 2**-52)
        w = m.weights[m.weights > 0]
        np.testing.assert_allclose(w, 1.0, rtol=4 * np.finfo(float).eps, atol=0)


@settings(max_examples=200, deadline=None)
@given(units, st.sampled_from([0.01, 0.1, 0.5]))
def test_pairs_within_caliper_and_controls_used_once(u, caliper):
    d, t = _arrays(u)
    if t.all() or not t.any():
        return
    m = nearest_neighbor(d, t, caliper=caliper)
    p = m.pairs
    assert (np.abs(p["distance_treated"] - p["distance_control"]) <= m.caliper_width).all()
    assert p["control"].is_unique and p["treated"].is_unique
    assert not t[p["control"]].any() and t[p["treated"]].all()


@settings(max_examples=200, deadline=None)
@given(units)
def test_without_caliper_every_treated_is_matched_when_controls_suffice(u):
    d, t = _arrays(u)
    if not t.any() or t.sum() > (~t).sum():
        return
    m = nearest_neighbor(d, t)
    assert m.n_pairs == t.sum()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.permutations(["a", "b", "c", "g"]))
def test_results_do_not_depend_on_column_order(seed, cols):
    rng = np.random.default_rng(seed)
    n = 60
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 2, n), "c": rng.choice(["x", "y", "z"], n),
                       "g": rng.random(n) < 0.4})
    if df["g"].all() or not df["g"].any():
        return
    ref = propensity_score(df, df["g"].to_numpy(), ["a", "b", "c"], ["c"])
    shuffled = df[list(cols)]
    fit = propensity_score(shuffled, shuffled["g"].to_numpy(), ["a", "b", "c"], ["c"])
    np.testing.assert_array_equal(fit.fitted, ref.fitted)
    m1 = nearest_neighbor(ref.fitted, df["g"].to_numpy(), caliper=0.2)
    m2 = nearest_neighbor(fit.fitted, shuffled["g"].to_numpy(), caliper=0.2)
    assert m1.pairs.equals(m2.pairs)


def test_discard_and_random_order_are_seeded():
    rng = np.random.default_rng(3)
    d = rng.random(200)
    t = rng.random(200) < 0.3
    a = nearest_neighbor(d, t, caliper=0.1, order="random", seed=5)
    b = nearest_neighbor(d, t, caliper=0.1, order="random", seed=5)
    assert a.pairs.equals(b.pairs)
    both = nearest_neighbor(d, t, discard="both")
    lo, hi = max(d[t].min(), d[~t].min()), min(d[t].max(), d[~t].max())
    assert (both.units["discarded"] == ((d < lo) | (d > hi))).all()
    assert set(both.units.loc[both.units["discarded"], "status"]) <= {"discarded"}
