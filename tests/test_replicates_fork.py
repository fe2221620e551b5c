"""The default replicate pool's forked processes (hccstudy.analysis.replicates._fork_map): a job that is
worth more processes runs in processes forked from this one (no Dask cluster, nothing imported or
pickled but the items), with the results in item order and byte-identical to one process, progress to
the end, and a replicate's error raised in the caller; without fork the Dask rule applies."""

from __future__ import annotations

import numpy as np
import pytest

from hccstudy.analysis import replicates as R
from hccstudy.analysis.replicates import replicate_pool, run_replicates

pytestmark = pytest.mark.skipif(not R._can_fork(), reason="this platform cannot fork")


def _draw(seed: np.random.SeedSequence) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(4)


@pytest.fixture
def idle_two_cores(monkeypatch):
    """A large job (any predicted saving is worth it) on a machine with 2 idle cores."""
    monkeypatch.setattr(R, "FORK_MIN_WORK_S", 0.0)
    monkeypatch.setattr(R.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(R.os, "getloadavg", lambda: (1.0, 1.0, 1.0))


def test_default_pool_forks_a_large_job_and_gives_one_process_bytes(idle_two_cores):
    seeds = np.random.SeedSequence(6).spawn(150)
    seen = []
    with replicate_pool() as pool:
        out = pool.map(_draw, seeds, progress=lambda label, done, total: seen.append(done))
        assert pool.forked == 1 and pool._client is None and pool._cluster is None  # forked, no Dask
    assert [o.tobytes() for o in out] == [o.tobytes() for o in run_replicates(_draw, seeds, workers=1)]
    assert seen[0] == 0 and 4 in seen and seen[-1] == 150 and seen == sorted(seen)  # 4: the first slice
    assert not R._FORK_FUNC  # the inherited function is forgotten after the job


def test_a_local_closure_runs_in_the_forked_processes(idle_two_cores):
    """The function is inherited, not pickled: a closure over local arrays works as in-process."""
    base = np.arange(5.0)

    def shifted(i: int) -> float:
        return float(base.sum() + i)

    with replicate_pool() as pool:
        assert pool.map(shifted, list(range(60)), progress=False) == [10.0 + i for i in range(60)]
        assert pool.forked == 1


def _boom(i: int) -> int:
    if i == 40:
        raise ZeroDivisionError("replicate 40")
    return i


def test_a_failing_replicate_in_a_forked_process_raises_in_the_caller(idle_two_cores):
    with replicate_pool() as pool, pytest.raises(ZeroDivisionError, match="replicate 40"):
        pool.map(_boom, list(range(60)), progress=False)
    assert not R._FORK_FUNC


def test_a_busy_machine_or_a_small_job_stays_in_process(idle_two_cores, monkeypatch):
    seeds = np.random.SeedSequence(3).spawn(60)
    monkeypatch.setattr(R.os, "getloadavg", lambda: (2.6, 2.0, 2.0))  # no idle core
    with replicate_pool() as pool:
        pool.map(_draw, seeds, progress=False)
        assert pool.forked == 0
    monkeypatch.setattr(R.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    monkeypatch.setattr(R, "FORK_MIN_WORK_S", 1e9)  # a job predicted to save less than forking costs
    with replicate_pool() as pool:
        pool.map(_draw, seeds, progress=False)
        assert pool.forked == 0


def test_without_fork_the_dask_rule_decides(idle_two_cores, monkeypatch):
    """Where the platform cannot fork, the cluster's higher start cost (LOCAL_MIN_WORK_S) decides:
    predicted to save less, the job stays here (no cluster started)."""
    monkeypatch.setattr(R, "_can_fork", lambda: False)
    monkeypatch.setattr(R, "LOCAL_MIN_WORK_S", 1e9)
    seeds = np.random.SeedSequence(4).spawn(60)
    with replicate_pool() as pool:
        out = pool.map(_draw, seeds, progress=False)
        assert pool.forked == 0 and pool._client is None
    assert [o.tobytes() for o in out] == [_draw(s).tobytes() for s in seeds]


def test_explicit_workers_are_never_forked(monkeypatch):
    """``workers=1`` runs here; an explicit pool size keeps its documented meaning (not the fork rule)."""
    monkeypatch.setattr(R, "FORK_MIN_WORK_S", 0.0)
    with replicate_pool(workers=1) as pool:
        pool.map(_draw, np.random.SeedSequence(2).spawn(30), progress=False)
        assert pool.forked == 0 and pool.in_process


def test_a_daemonic_process_does_not_fork(monkeypatch):
    """A multiprocessing or Dask worker (daemonic) may not have children: the default pool does not fork
    there (the cluster rule applies instead)."""
    import multiprocessing
    from types import SimpleNamespace

    assert R._can_fork()
    monkeypatch.setattr(multiprocessing, "current_process", lambda: SimpleNamespace(daemon=True))
    assert not R._can_fork()
