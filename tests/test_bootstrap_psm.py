"""The matched analysis re-done (hccstudy.analysis.resampling): the chain reproduces analyze()'s
matched HR, the fast arm Cox equals coxph, the bootstrap is stratified, seeded per replicate, the same
bytes with 1 and 2 local workers, counts its failures, and the design grid follows the plan."""

from __future__ import annotations

import warnings
from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest

from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.analysis import resampling as RS
from hccstudy.analysis.replicates import replicate_pool
from hccstudy.analysis.run import prepare
from hccstudy.stats.cox import coxph
from hccstudy.stats.cox_arm import arm_coefficient

VETERAN = "src/hccstudy/data/veteran/veteran.yaml"


def _spec(replicates=40, seed=3, **grid):
    g = {"calipers": [0.05, 0.2, None], "ratios": [1, 2], "replace": [False, True], **grid}
    return NS(bootstrap=NS(replicates=replicates, seed=seed), design_grid=NS(**g), scheduler=None, workers=None,
              endpoints=None, imputation=NS(m=4, seed=1, iterations=3))


@pytest.fixture(scope="module")
def veteran():
    cfg = load_analysis_config(VETERAN)
    df = pd.read_csv(cfg.data_path)
    data, excluded, labels = prepare(cfg, df)
    return cfg, df, data


def test_chain_reproduces_the_matched_hr_of_analyze(veteran):
    cfg, df, data = veteran
    res = analyze(cfg, df)
    chain = RS.MatchedChain.from_data(data, cfg, list(cfg.endpoints))
    fit = chain.log_hr(np.arange(chain.n))
    matched = res.endpoints["os"].samples["matched"]
    assert fit.n_pairs == res.matching.n_pairs
    assert np.exp(fit.log_hr[0]) == pytest.approx(matched.cox_arm.hr, rel=1e-12)
    # the full Cox path (robust, clustered on the pair) is the main analysis' psm_robust
    m, w = chain.match(np.arange(chain.n))
    rob = chain.cox(np.arange(chain.n), m, w, 0, variance=True)
    t = rob.table.iloc[0]
    assert t["hr"] == pytest.approx(matched.cox_arm_robust.hr, rel=1e-12)
    assert t["robust_se"] == pytest.approx(matched.cox_arm_robust.se, rel=1e-10)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_arm_coefficient_is_coxph(ties):
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(8, 300))
        t = np.round(rng.exponential(10, n), int(rng.integers(0, 3)))  # heavy ties at 0 decimals
        e = rng.random(n) < rng.uniform(0.2, 0.95)
        x = rng.random(n) < rng.uniform(0.1, 0.9)
        if not e.any() or x.all() or not x.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = coxph(t, e, x.astype(float)[:, None], ties=ties)
        a = arm_coefficient(t, e, x, ties=ties)
        assert a.infinite == bool(f.infinite[0])
        if not a.infinite:
            assert a.coef == pytest.approx(f.coefficients[0], rel=1e-10, abs=1e-12)
            assert (a.iterations, a.converged) == (f.iterations, f.converged)


def test_arm_coefficient_edges():
    t = np.array([1.0, 2, 3, 4])
    assert np.isnan(arm_coefficient(t, [0, 0, 0, 0], [0, 1, 0, 1]).coef)    # no event
    assert np.isnan(arm_coefficient(t, [1, 1, 0, 1], [1, 1, 1, 1]).coef)    # x constant
    assert arm_coefficient(t, [1, 1, 0, 0], [1, 1, 0, 0]).infinite           # all events in one arm
    with pytest.raises(ValueError, match="ties"):
        arm_coefficient(t, [1, 1, 0, 0], [1, 0, 1, 0], ties="exact")


def test_replicates_are_stratified_and_seeded(veteran, monkeypatch):
    cfg, _, data = veteran
    chain = RS.MatchedChain.from_data(data, cfg, list(cfg.endpoints))
    seen = []
    monkeypatch.setattr(RS.MatchedChain, "log_hr", lambda self, rows: seen.append(rows) or RS.ChainFit(np.zeros(1), 1, ("",)))
    rep = RS._BootstrapReplicate(chain)
    s1, s2 = np.random.SeedSequence(9).spawn(2)
    rep(s1), rep(s1), rep(s2)
    assert np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[0], seen[2])
    for rows in seen:
        assert len(rows) == chain.n and np.all(np.diff(rows) >= 0)
        assert chain.treated[rows].sum() == chain.treated.sum()   # arm sizes kept (stratified)


def _boom(i: int) -> int:
    if i == 7:
        raise ZeroDivisionError("replicate 7")
    return i


@pytest.mark.costly  # a LocalCluster of two processes: 10-40 s on the shared 2-core machine
def test_bootstrap_same_bytes_with_one_and_two_local_workers(veteran):
    """The issue's test: the bootstrap with one worker (in this process) and with two local worker
    processes (a LocalCluster; chunks of replicates per task), compared byte for byte; the imputations
    too.  The same cluster shows that an exception in a worker reaches the caller."""
    cfg, df, data = veteran
    spec = _spec(replicates=30)
    gappy = df.assign(karno=df["karno"].mask(df.index % 9 == 0))      # for the imputations
    one = RS.bootstrap_psm(data, cfg, "os", spec, workers=1)
    mi_one = RS.mi_psm(gappy, cfg, "os", spec, workers=1)
    with replicate_pool(workers=2) as pool:
        pool.prestart()                                 # the workers start in the background (as the CLI does)
        two = RS.bootstrap_psm(data, cfg, "os", spec)   # the current pool
        mi_two = RS.mi_psm(gappy, cfg, "os", spec)
        assert mi_one.n_recovered == 16 and mi_one.m == 4
        assert mi_one.per_imputation.to_json() == mi_two.per_imputation.to_json()
        assert mi_one.pooled == mi_two.pooled
        assert pool.workers == 2 and not pool.in_process
        with pytest.raises(ZeroDivisionError, match="replicate 7"):
            pool.map(_boom, range(10), progress=False)
    assert one.replicates.tobytes() == two.replicates.tobytes()
    assert one.n_pairs.tobytes() == two.n_pairs.tobytes()
    assert (one.percentile, one.bca, one.hr, one.failed) == (two.percentile, two.bca, two.hr, two.failed)
    # each replicate is the chain on its own seed's resample, whoever ran it
    seeds = np.random.SeedSequence(spec.bootstrap.seed).spawn(spec.bootstrap.replicates)
    chain = RS.MatchedChain.from_data(data, cfg, list(cfg.endpoints))
    assert one.replicates[4] == RS._BootstrapReplicate(chain)(seeds[4]).log_hr[0]


def test_bootstrap_counts_failures_instead_of_crashing(veteran):
    """A caliper so narrow that most resamples have no pair: counted with the reason, no crash."""
    cfg, _, data = veteran
    narrow = cfg.model_copy(update={"matching": cfg.matching.model_copy(update={"caliper": 0.0005})})
    b = RS.bootstrap_psm(data, narrow, "os", _spec(replicates=20), workers=1)
    assert b.failed == int(np.isnan(b.replicates).sum()) and b.failed > 0
    assert sum(b.failures.values()) == b.failed
    assert np.all(b.n_pairs[np.isnan(b.replicates) & (b.n_pairs == 0)] == 0)
    assert set(b.failures) <= {"no pairs", "no events in the matched sample", "Cox model did not converge (infinite HR)"}


def test_design_grid_cells(veteran):
    cfg, _, data = veteran
    g = RS.design_grid(data, cfg, "os", _spec())
    assert list(g.columns) == RS.GRID_COLUMNS and len(g) == 3 * 2 * 2
    assert g["caliper"].tolist() == [0.05] * 4 + [0.2] * 4 + [None] * 4
    # the plan's own design (caliper 0.2, 1:1, no replacement) is the main matched analysis
    res = analyze(cfg, pd.read_csv(cfg.data_path))
    own = g[(g["caliper"] == 0.2) & (g["ratio"] == 1) & ~g["replace"]].iloc[0]
    rob = res.endpoints["os"].samples["matched"].cox_arm_robust
    assert own["n_pairs"] == res.matching.n_pairs
    assert (own["hr"], own["lcl"], own["ucl"], own["p"]) == pytest.approx((rob.hr, rob.lcl, rob.ucl, rob.p), rel=1e-10)
    # a wider caliper never gives fewer 1:1 pairs; no caliper matches every treated unit it can
    one = g[(g["ratio"] == 1) & ~g["replace"]]
    assert one["n_pairs"].tolist() == sorted(one["n_pairs"].tolist())
    # every cell has an estimate or says why not; with replacement: the weighted Cox with a robust SE
    assert (g["hr"].notna() | g["note"].str.len().gt(0)).all()
    rep = g[g["replace"]]
    assert rep["hr"].notna().all() and rep["note"].str.startswith("Cox weighted by the matching weights").all()


def test_design_grid_cell_without_pairs_says_why(veteran):
    cfg, _, data = veteran
    g = RS.design_grid(data, cfg, ["os"], _spec(calipers=[1e-9], ratios=[1], replace=[False]))["os"]
    assert len(g) == 1 and g["n_pairs"].iloc[0] == 0 and np.isnan(g["hr"].iloc[0])
    assert g["note"].iloc[0] == "no pairs"


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_weighted_arm_coefficient_is_weighted_coxph(ties):
    """Matching weights (with replacement, 1:k): the case-weighted partial likelihood of R's coxfit6."""
    rng = np.random.default_rng(11)
    for _ in range(40):
        n = int(rng.integers(10, 250))
        t = np.round(rng.exponential(10, n), int(rng.integers(0, 2)))
        e = rng.random(n) < 0.6
        x = rng.random(n) < 0.5
        w = np.round(rng.uniform(0.2, 3, n), 3)
        if not e.any() or x.all() or not x.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = coxph(t, e, x.astype(float)[:, None], ties=ties, weights=w)
        a = arm_coefficient(t, e, x, w, ties=ties)
        assert a.infinite == bool(f.infinite[0])
        if not a.infinite:
            assert a.coef == pytest.approx(f.coefficients[0], rel=1e-9, abs=1e-12)
