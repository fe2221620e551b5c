"""Many independent replicates of an analysis (bootstrap, multiple imputation, the design grid) on Dask.

:func:`run_replicates` applies ``func`` to each item of a list (typically the
:class:`numpy.random.SeedSequence` children of ``SeedSequence(seed).spawn(n)``) and returns the results
in item order, so a result never depends on the number of workers, on the chunking or on which worker
ran what: each replicate draws its random numbers from its own seed, and its arithmetic is the same
single-threaded numpy code wherever it runs.

Where the work runs (:func:`replicate_pool`):

* ``scheduler`` (``tcp://host:8786``): an existing Dask cluster (``dask.distributed.Client``); its
  workers must be able to import the same hccstudy version;
* ``workers = 1`` (and no scheduler): in this process, with no cluster (the same results as any number
  of workers: tested byte for byte);
* ``workers = N`` (N > 1, no scheduler): a local ``dask.distributed.LocalCluster`` of ``N`` processes,
  one thread each, started on first use and closed when the pool closes;
* neither given (the default): a job first runs 2 % of its items in this process and times them.  When
  their CPU time predicts that more processes, on the cores that are idle (the load average), would
  save time, the rest runs in a pool of processes forked from this one (:func:`_fork_map`: they inherit
  the replicate function and the imported modules, so starting one costs milliseconds, not the seconds
  of a Dask worker that imports numpy, pandas, scipy and hccstudy); where the platform cannot fork
  (Windows, macOS' default), on a local Dask cluster, only when it would save more than
  :data:`LOCAL_MIN_WORK_S` seconds (what the cluster costs to start and feed).  Otherwise, e.g. a small
  study's job or any job on a busy machine, the rest runs here too (the results are the same either way).

The items are cut into contiguous chunks, a few per worker (:data:`CHUNKS_PER_WORKER`), each a single
Dask task, so that the per-task overhead (~1 ms) is paid per chunk rather than per replicate; ``func``
is sent to the workers once (``scatter``), not with every task.  Dask's own logging is kept off the
terminal (a failure reaches the caller as an exception instead).  Progress: ``progress(label, done, total)`` after each chunk (see
:func:`use_progress`); by default a transient rich bar on a terminal, nothing otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

#: Dask tasks per worker: enough that the last chunk leaves little idle time at the end of a job (the
#: built-in study's bootstrap + jackknife: 1,575 chains of ~6 ms on 2 workers -> 32 chunks of ~0.3 s),
#: few enough to amortise the per-task overhead (~1-2 ms)
CHUNKS_PER_WORKER = 16

#: Dask settings of the local workers: no statistical profiler (it samples the running task's stack every
#: 10 ms, which doubled the CPU time of a replicate) and no dashboard
_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}

#: seconds it costs to start and feed a local cluster (its workers import numpy, pandas, scipy, hccstudy):
#: the default local pool (no ``workers``, no scheduler) keeps a job in this process unless timing its
#: first 2 % here predicts that the cluster's workers would save more than this
LOCAL_MIN_WORK_S = 4.0

#: seconds a pool of forked processes costs to start, feed and join (:func:`_fork_map`): the default
#: local pool forks when timing a job's first 2 % predicts that the idle cores would save more than this
FORK_MIN_WORK_S = 0.5

#: modules every replicate function of hccstudy needs, imported by each worker as soon as it joins
#: (:func:`_warm_worker`), while this process still ingests and analyses: otherwise the first replicates
#: pay for the imports (2-3 s a worker; on 2 cores the 2-worker bootstrap was slower than 1 worker)
WORKER_IMPORTS = ("hccstudy.analysis.resampling", "hccstudy.stats.imputation", "hccstudy.stats.pooling",
                  "hccstudy.stats.bootstrap_ci", "hccstudy.stats.weighting")

#: how long to try to reach an existing scheduler before giving up (SchedulerError)
CONNECT_TIMEOUT = "10s"

#: ``progress(label, done, total)``: called with ``done = 0`` before the first chunk and after each one
Progress = Callable[[str, int, int], None]


class SchedulerError(RuntimeError):
    """The Dask scheduler (``sensitivity.scheduler`` / ``--scheduler``) cannot be reached or has no
    workers.  Not a mistake in the user's data: the CLI prints it on one line and exits 1."""

    exit_code = 1


def _rich_bar() -> Progress:
    """A transient rich progress bar on stderr, shown only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    state: dict[str, Any] = {}

    def show(label: str, done: int, total: int) -> None:
        if not console.is_terminal:
            return
        if done == 0 and "bar" not in state:
            bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=console, transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(label, total=total)
        if "bar" in state:
            state["bar"].update(state["task"], completed=done)
            if done >= total:
                state.pop("bar").stop()

    return show


_PROGRESS: ContextVar[Progress | None | str] = ContextVar("hccstudy_replicate_progress", default="auto")
_POOL: ContextVar[ReplicatePool | None] = ContextVar("hccstudy_replicate_pool", default=None)


@contextlib.contextmanager
def use_progress(progress: Progress | None) -> Iterator[None]:
    """Within the block, replicate runs report to ``progress`` (``None``: no progress at all, e.g.
    ``--quiet``).  The CLI uses this to draw the bar on its own console."""
    token = _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _progress(progress: Progress | None | bool) -> Progress | None:
    """The reporter of one run: ``False`` none, a callable itself, ``None`` the current
    :func:`use_progress` (by default a rich bar on a terminal)."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    current = _PROGRESS.get()
    return _rich_bar() if current == "auto" else current  # type: ignore[return-value]


def _chunks(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` contiguous, near-equal chunks (none empty)."""
    parts = max(1, min(parts, n))
    edges = [round(i * n / parts) for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _idle_cores() -> int:
    """Cores free for more workers: the machine's cores less the 1-minute load average of everything
    else (this process counts as one), at least 1.  Extra workers on cores that are already busy only
    slow every process down (e.g. a study run inside a parallel test suite)."""
    n = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform: assume idle
        return n
    return max(1, min(n, int(n - max(0.0, load - 1.0) + 0.5)))


def _warm_worker(modules: tuple[str, ...] = WORKER_IMPORTS) -> int:
    """Import ``modules`` in a worker (run on every worker when the pool connects); returns how many
    were imported.  A module that cannot be imported is left to fail, with its own error, in the
    replicate that needs it."""
    import importlib

    n = 0
    for name in modules:
        try:
            importlib.import_module(name)
            n += 1
        except ImportError:
            pass
    return n


def _run_chunk(func: Callable, items: list) -> list:
    """One Dask task: ``func`` over a chunk of items, in order."""
    return [func(x) for x in items]


def _can_fork() -> bool:
    """This process can fork a pool of processes: the platform forks (Linux; not Windows, not macOS'
    default) and this is not a daemonic process (a multiprocessing or Dask worker, e.g. an analysis run
    inside someone's own pool), which may not have children."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


#: the replicate function of the running :func:`_fork_map`, set in the parent before the processes fork
#: (inherited, never pickled: a closure over the analysed arrays travels to no one)
_FORK_FUNC: list[Callable] = []


def _fork_chunk(items: list) -> list:
    """One chunk in a forked process: the inherited function over its items, one BLAS thread (as
    :func:`_here` and a Dask worker), so the arithmetic is that of one process."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _run_chunk(_FORK_FUNC[0], items)


def _fork_map(func: Callable, items: list, processes: int, show: Progress | None, label: str, total: int,
              done: int = 0) -> list:
    """``[func(x) for x in items]`` in ``processes`` processes forked from this one, in item order:
    contiguous chunks (:data:`CHUNKS_PER_WORKER` per process), progress after each chunk in order.
    The processes inherit ``func`` and every imported module, so nothing is imported or pickled but the
    items and the results."""
    import multiprocessing

    chunks = _chunks(len(items), CHUNKS_PER_WORKER * processes)
    out: list = []
    _FORK_FUNC[:] = [func]
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for part in pool.imap(_fork_chunk, [[items[i] for i in ch] for ch in chunks]):
                out += part
                if show is not None:
                    show(label, done + len(out), total)
    finally:
        _FORK_FUNC.clear()
    return out


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's loggers at CRITICAL while the pool lives: no 'Stream is closed' chatter on the terminal
    (a worker's heartbeat racing the shutdown logs an ERROR that means nothing)."""
    names = ["distributed", "distributed.scheduler", "distributed.worker", "distributed.nanny",
             "distributed.core", "distributed.comm", "distributed.client", "distributed.batched",
             "distributed.utils_perf", "distributed.http.proxy", "tornado", "asyncio"]
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:  # a failure reaches the caller as an exception; the logs would only repeat it
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


class ReplicatePool:
    """Where replicates run (see module docstring); made by :func:`replicate_pool`.  The cluster is
    started on the first :meth:`map` that needs one, so a pool that is never used costs nothing."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
            raise ValueError(f"workers: a whole number >= 1 (got {workers!r})")
        self.scheduler = scheduler
        self.requested = workers
        self._client = None
        self._cluster = None
        self._stack = contextlib.ExitStack()
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        #: jobs the default local pool ran in forked processes (:func:`_fork_map`)
        self.forked = 0

    @property
    def in_process(self) -> bool:
        """No cluster: one worker asked for and no scheduler given."""
        return self.scheduler is None and self.requested == 1

    @property
    def workers(self) -> int:
        """Workers the replicates are spread over (a started cluster's actual number)."""
        if self.in_process:
            return 1
        if self._client is not None:
            return max(1, len(self._client.scheduler_info().get("workers", {})))
        return self.requested or os.cpu_count() or 1

    def prestart(self) -> None:
        """Start the cluster (or connect to the scheduler) in the background now, so that the workers
        import while this process does other work (a study's ingest, Table 1, the main analysis); the
        first :meth:`map` waits for it.  Nothing happens in-process or when already started."""
        if self.in_process or self._client is not None or self._starter is not None:
            return

        def start() -> None:
            try:
                self._connect()
            except BaseException as exc:  # re-raised by the first map, in the caller's thread
                self._start_error = exc

        self._starter = threading.Thread(target=start, name="hccstudy-dask-start", daemon=True)
        self._starter.start()

    def _ready(self):
        """The client, once a background start (:meth:`prestart`) has finished."""
        if self._starter is not None:
            self._starter.join()
            self._starter = None
        if self._start_error is not None:
            exc, self._start_error = self._start_error, None
            raise exc
        return self._connect()

    def _connect(self):
        if self._client is not None:
            return self._client
        self._stack.enter_context(_quiet_dask())
        import dask
        from dask.distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise SchedulerError(f"sensitivity.scheduler: cannot reach the Dask scheduler at {self.scheduler!r}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
            try:
                self._client.wait_for_workers(1, timeout=60)
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(f"sensitivity.scheduler: the Dask scheduler at {self.scheduler!r} has no "
                                     f"workers (waited 60 s)") from exc
            self._warm()
            return self._client
        n = self.requested or os.cpu_count() or 1
        # the scheduler's small HTTP server (health checks) on any free port: the default ":8787" warns on the
        # terminal when another cluster holds it
        with dask.config.set(_WORKER_CONFIG):  # passed on to the worker processes by their nannies
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                         silence_logs=logging.CRITICAL)
        self._client = Client(self._cluster, set_as_default=False)
        self._warm()
        return self._client

    def _warm(self) -> None:
        """Every worker imports :data:`WORKER_IMPORTS` now (in the background when :meth:`prestart`
        started the pool) instead of inside the first replicates.  Workers that join later import
        on their first replicate."""
        with contextlib.suppress(Exception):  # a worker that cannot warm up still runs replicates (or fails them)
            self._client.run(_warm_worker)

    def map(self, func: Callable, items: Sequence, *, label: str = "Replicates",
            progress: Progress | None | bool = None) -> list:
        """``[func(x) for x in items]``, spread over the workers in chunks, in item order.
        ``progress``: a callable, ``False`` (none) or ``None`` (the current :func:`use_progress`)."""
        items = list(items)
        show = _progress(progress)
        n = len(items)
        if show is not None:
            show(label, 0, n)
        if n == 0:
            return []
        if self.in_process:
            return _here(func, items, show, label, n)
        out: list = []
        if self.scheduler is None and self.requested is None:
            # the default local pool: time a first slice in this process, and when the whole job would
            # take less than a local cluster costs to start and feed, finish it here (same results)
            # (the first item warms up, untimed: imports and caches of a first call are not the rate)
            out = _here(func, items[:1], show, label, n)
            first = min(n, 1 + max(1, n // 50))
            t0 = time.process_time()  # CPU, not wall: on a busy machine the wall clock would overstate the work
            out += _here(func, items[1:first], show, label, n, done=1)
            rest = (time.process_time() - t0) * (n - first) / (first - 1)  # predicted CPU seconds here
            k = min(self.workers, _idle_cores())
            fork = _can_fork()
            # k processes save rest (1 - 1/k) and cost FORK_MIN_WORK_S (forked) or LOCAL_MIN_WORK_S (a Dask
            # cluster) to start: worth it when they save more
            if first == n or k < 2 or rest * (1 - 1 / k) < (FORK_MIN_WORK_S if fork else LOCAL_MIN_WORK_S):
                return out + _here(func, items[first:], show, label, n, done=first)
            if fork:
                self.forked += 1
                return out + _fork_map(func, items[first:], k, show, label, n, done=first)
            items = items[first:]
        from dask.distributed import as_completed

        client = self._ready()
        offset = len(out)
        chunks = _chunks(len(items), CHUNKS_PER_WORKER * self.workers)
        remote = client.scatter(func, broadcast=True, hash=False)
        futures = [client.submit(_run_chunk, remote, [items[i] for i in ch], pure=False) for ch in chunks]
        size = {f.key: len(ch) for f, ch in zip(futures, chunks, strict=True)}
        done = offset
        try:
            for f in as_completed(futures, loop=client.loop):
                done += size[f.key]
                if f.status == "error":
                    f.result()  # raises the replicate's exception here
                if show is not None:
                    show(label, done, n)
            for f in futures:
                out += f.result()
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("distributed", "dask", "tornado"):  # the cluster, not a replicate
                raise SchedulerError(f"the Dask cluster failed while running the replicates ({label}): "
                                     f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
            raise
        finally:
            if show is not None and done < n:
                show(label, n, n)  # close the bar on an error
            client.cancel(futures)
            del remote
        return out

    def close(self) -> None:
        if self._starter is not None:  # a background start still running: let it finish, then shut down
            self._starter.join()
            self._starter = None
        try:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            self._client = self._cluster = None
            self._stack.close()


@contextlib.contextmanager
def replicate_pool(scheduler: str | None = None, workers: int | None = None) -> Iterator[ReplicatePool]:
    """A :class:`ReplicatePool`, closed (the local cluster shut down) when the block ends, however it
    ends.  Within the block it is the *current* pool (:func:`current_pool`): the replicate analyses
    (bootstrap, imputation, design grid) run there instead of starting a cluster each, so that::

        with replicate_pool(workers=4):
            results = hccstudy.analyze("study.yaml")

    starts one cluster for the whole analysis (the command line does this).  Inside an open pool a
    nested ``replicate_pool`` is that same pool (its own arguments are not used): the outermost caller,
    e.g. the command line with ``--workers``, decides where the replicates run."""
    outer = current_pool()
    if outer is not None:
        yield outer
        return
    pool = ReplicatePool(scheduler, workers)
    token = _POOL.set(pool)
    try:
        yield pool
    finally:
        _POOL.reset(token)
        pool.close()


def current_pool() -> ReplicatePool | None:
    """The innermost open :func:`replicate_pool` (None outside one)."""
    return _POOL.get()


def _here(func: Callable, items: list, show: Progress | None, label: str, total: int, done: int = 0) -> list:
    """``[func(x) for x in items]`` in this process, in chunks, reporting progress after each chunk."""
    from threadpoolctl import threadpool_limits

    out: list = []
    # one BLAS thread, as in a Dask worker (its nanny sets OPENBLAS_NUM_THREADS=1): the same
    # arithmetic, and no oversubscription (small least-squares solves were 4x slower threaded)
    with threadpool_limits(limits=1, user_api="blas"):
        for ch in _chunks(len(items), CHUNKS_PER_WORKER):
            out += _run_chunk(func, [items[i] for i in ch])
            if show is not None:
                show(label, done + len(out), total)
    return out


def run_replicates(func: Callable, seeds: Sequence, *, scheduler: str | None = None, workers: int | None = None,
                   progress: Progress | None | bool = None, pool: ReplicatePool | None = None,
                   label: str = "Replicates") -> list:
    """``[func(s) for s in seeds]`` on Dask (see module docstring), in order.  ``seeds``: typically
    ``np.random.SeedSequence(seed).spawn(n)``; any picklable items do.  ``pool``: an open
    :func:`replicate_pool` to reuse (default: the current one, if any; then ``scheduler`` / ``workers``
    are the pool's)."""
    pool = pool or current_pool()
    if pool is not None:
        return pool.map(func, seeds, label=label, progress=progress)
    with replicate_pool(scheduler, workers) as own:
        return own.map(func, seeds, label=label, progress=progress)
