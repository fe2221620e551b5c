"""The Dask replicate runner (hccstudy.analysis.replicates): results in item order whatever the
workers and chunks, progress reported to the end, errors raised, an unreachable scheduler a one-line
SchedulerError.  One worker (in-process) against two local worker processes, byte for byte, is
tests/test_bootstrap_psm.py (one cluster for the suite)."""

from __future__ import annotations

import numpy as np
import pytest

from hccstudy.analysis import replicates as R
from hccstudy.analysis.replicates import (
    ReplicatePool,
    SchedulerError,
    replicate_pool,
    run_replicates,
    use_progress,
)


def _draw(seed: np.random.SeedSequence) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(4)


def _boom(i: int) -> int:
    if i == 7:
        raise ZeroDivisionError("replicate 7")
    return i


@pytest.mark.parametrize("n, parts", [(1, 4), (5, 4), (10, 3), (1000, 8), (7, 7), (3, 10)])
def test_chunks_cover_the_items_in_order(n, parts):
    chunks = R._chunks(n, parts)
    assert [i for c in chunks for i in c] == list(range(n))
    assert len(chunks) == min(n, parts) and all(len(c) for c in chunks)
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1


def test_in_process_results_in_seed_order_and_progress_to_the_end():
    seeds = np.random.SeedSequence(11).spawn(23)
    seen = []
    out = run_replicates(_draw, seeds, workers=1, progress=lambda label, done, total: seen.append((done, total)))
    assert [o.tobytes() for o in out] == [_draw(s).tobytes() for s in seeds]
    assert seen[0] == (0, 23) and seen[-1] == (23, 23)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert run_replicates(_draw, [], workers=1) == []


def test_use_progress_none_silences_and_a_callable_receives():
    got = []
    with use_progress(lambda label, done, total: got.append(label)):
        run_replicates(_draw, np.random.SeedSequence(1).spawn(3), workers=1, label="Bootstrap")
    assert got and set(got) == {"Bootstrap"}
    with use_progress(None):
        assert R._progress(None) is None
    assert R._progress(False) is None


def test_a_failing_replicate_raises_in_the_caller():
    with pytest.raises(ZeroDivisionError, match="replicate 7"):
        run_replicates(_boom, range(10), workers=1)


def test_workers_must_be_a_whole_number():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            ReplicatePool(workers=bad)


def test_current_pool_is_shared_and_closed():
    assert R.current_pool() is None
    with replicate_pool(workers=1) as pool:
        assert R.current_pool() is pool
        assert pool.in_process and pool.workers == 1
    assert R.current_pool() is None


def test_unreachable_scheduler_is_a_scheduler_error(monkeypatch):
    monkeypatch.setattr(R, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(SchedulerError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'") as exc:
        run_replicates(_draw, np.random.SeedSequence(1).spawn(2), scheduler="tcp://127.0.0.1:9")
    assert exc.value.exit_code == 1 and "\n" not in str(exc.value)


def test_prestart_in_process_does_nothing_and_an_unreachable_scheduler_fails_at_first_use(monkeypatch):
    monkeypatch.setattr(R, "CONNECT_TIMEOUT", "1s")
    with replicate_pool(workers=1) as pool:
        pool.prestart()
        assert pool._starter is None and pool.map(len, [[1, 2]], progress=False) == [2]
    with replicate_pool(scheduler="tcp://127.0.0.1:9") as pool:
        pool.prestart()                              # in the background: no error yet
        with pytest.raises(SchedulerError, match="cannot reach"):
            pool.map(len, [[1]], progress=False)


def test_a_nested_pool_is_the_outer_one():
    with replicate_pool(workers=1) as outer:
        with replicate_pool(workers=3) as inner:
            assert inner is outer and R.current_pool() is outer
        assert R.current_pool() is outer and outer._client is None   # not closed by the inner block
    assert R.current_pool() is None


def test_default_pool_keeps_a_small_job_in_process(monkeypatch):
    """No workers asked for: a job whose first 2 % predicts little work never starts a cluster."""
    monkeypatch.setattr(R, "LOCAL_MIN_WORK_S", 1e9)
    seeds = np.random.SeedSequence(5).spawn(120)
    seen = []
    with replicate_pool() as pool:
        out = pool.map(_draw, seeds, progress=lambda label, done, total: seen.append(done))
        assert pool._client is None and pool._cluster is None  # no cluster was started
    assert [o.tobytes() for o in out] == [_draw(s).tobytes() for s in seeds]
    assert seen[0] == 0 and seen[-1] == 120 and seen == sorted(seen)


def test_default_pool_keeps_a_large_job_in_process_on_a_busy_machine(monkeypatch):
    """No idle core (the load average already fills the machine): more processes would only slow every
    process down, so even a job predicted large stays here."""
    monkeypatch.setattr(R, "LOCAL_MIN_WORK_S", 0.0)
    monkeypatch.setattr(R.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(R.os, "getloadavg", lambda: (2.6, 2.0, 2.0))
    assert R._idle_cores() == 1
    seeds = np.random.SeedSequence(6).spawn(60)
    with replicate_pool() as pool:
        out = pool.map(_draw, seeds, progress=False)
        assert pool._client is None and pool._cluster is None
    assert [o.tobytes() for o in out] == [_draw(s).tobytes() for s in seeds]
    monkeypatch.setattr(R.os, "getloadavg", lambda: (1.3, 1.0, 1.0))  # this process and a little more: 2 idle
    assert R._idle_cores() == 2


@pytest.mark.costly  # starts a local cluster of 2 processes
def test_default_pool_sends_a_large_job_to_the_cluster_after_its_first_slice(monkeypatch):
    """No workers asked for and a job predicted large: the first 2 % here, the rest on the local cluster,
    the results in seed order and equal to one worker's."""
    monkeypatch.setattr(R, "LOCAL_MIN_WORK_S", 0.0)
    monkeypatch.setattr(R, "_can_fork", lambda: False)  # the cluster is the default only where fork is not
    monkeypatch.setattr(R.os, "cpu_count", lambda: 2)  # the default local cluster: 2 workers on any machine
    monkeypatch.setattr(R.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # and both cores idle (only this process)
    seeds = np.random.SeedSequence(6).spawn(120)
    seen = []
    with replicate_pool() as pool:
        out = pool.map(_draw, seeds, progress=lambda label, done, total: seen.append(done))
        assert pool._client is not None  # the rest went to the cluster
    assert [o.tobytes() for o in out] == [o.tobytes() for o in run_replicates(_draw, seeds, workers=1)]
    assert seen[0] == 0 and 3 in seen and seen[-1] == 120 and seen == sorted(seen)  # 3: the first slice (1 warm-up + 2 timed)
