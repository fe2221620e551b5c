"""Run fuzz cases in-process through the public API and classify each outcome.

Outcomes (``OUTCOMES``):

* ``error``          a documented user error (an exception class exported by ``hccstudy`` whose name ends
                     in ``Error``: ``StudyInputError``, ``ConfigError``) naming one of the case's places
* ``error_no_location``  such an error that names none of them
* ``error_verbose``  such an error that echoes more than ``MAX_ECHO`` characters of a value (a report row's
                     ``value``) or has a message over ``MAX_MESSAGE`` characters
* ``accepted``       no exception (the exit-0 equivalent)
* ``crash``          any other exception (a traceback for the user)
* ``hang``           still running after the per-case time limit
* ``input_changed``  a file of the case folder was modified, added or removed (SHA-256 before and after)
* ``partial_output`` an output folder left with files although the call failed (cases that write output)

Cases run in worker processes forked from the parent (which has imported hccstudy and cached the
pristine inputs), each in a fresh temporary folder.  A worker turns a case still running after ``limit``
seconds into ``hang`` with SIGALRM; if the worker does not answer within ``limit + 10`` s (a hang in C
code), the parent kills it, records ``hang`` and forks a new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import multiprocessing as mp
import os
import shutil
import signal
import stat
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import hccstudy

from .generate import Case, Where, make_case

OUTCOMES = ("error", "error_no_location", "error_verbose", "accepted", "crash", "hang", "input_changed",
            "partial_output")
#: an error may quote what the user wrote, but not more than this many characters of it
MAX_ECHO = 1_000
#: nor may a message (the exception's text, or one row of a validation report) be longer than this
MAX_MESSAGE = 10_000
#: the package's documented user-error types: every exception class it exports
#: (read through getattr: the package imports its public names lazily, so vars() may not hold them yet)
USER_ERRORS = tuple(v for v in (getattr(hccstudy, k) for k in hccstudy.__all__)
                    if isinstance(v, type) and issubclass(v, Exception))


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: str
    error: str = ""       # exception type and message head
    seconds: float = 0.0  # wall time of the call
    cpu: float = 0.0      # CPU time of the call (independent of other load on the machine)

    @property
    def ok(self) -> bool:
        return self.outcome in self.case.expect


class _Timeout(BaseException):
    """Raised by SIGALRM; a BaseException so that the product's ``except Exception`` cannot swallow it."""


def materialize(case: Case, root: Path) -> None:
    """Write the case's files (and FIFOs, folders, self-links) under ``root``."""
    for rel, data in case.files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for rel, what in case.special:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if what == "fifo":
            os.mkfifo(p)
        elif what == "dir":
            p.mkdir()
            (p / "readme.txt").write_text("a folder where a file is expected\n")
        elif what == "selflink":
            p.symlink_to(p.name)
        else:
            raise ValueError(what)


def digest(root: Path) -> dict[str, str]:
    """Path -> SHA-256 for regular files, 'fifo'/'dir'/'link:target' for the rest (never opens a non-regular file)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link:{os.readlink(p)}"
            elif stat.S_ISREG(st.st_mode):
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir" if stat.S_ISDIR(st.st_mode) else "special"
    return out


def _matches_text(text: str, w: Where) -> bool:
    low = text.lower()
    if w.file and Path(w.file.rstrip("/")).name.lower() not in low:
        return False
    if w.row is not None and str(w.row) not in text:
        return False
    if w.column and w.column.strip().lower() not in low:
        return False
    return not (w.key and not all(part.lower() in low for part in w.key.split(".")))


def names_place(exc: BaseException, where: tuple[Where, ...]) -> bool:
    """Whether the error names one of the places (a validation report: an error row at that file/row/column)."""
    if not where:
        return True
    report = getattr(exc, "report", None)
    if report is None or not hasattr(report, "errors"):
        return any(_matches_text(str(exc), w) for w in where)
    errs = report.errors
    for w in where:
        m = errs["severity"] == "error"
        if w.file:
            f = errs["file"].astype(str)
            m &= f.str.startswith(w.file) if w.file.endswith("/") else f == w.file
        if w.row is not None:
            m &= errs["row"] == w.row
        if w.column:
            m &= errs["column"].astype(str).str.strip().str.lower() == w.column.strip().lower()
        if w.key:
            msg = errs["message"].astype(str).str.lower()
            for part in w.key.lower().split("."):
                m &= msg.str.contains(part, regex=False)
        if m.any():
            return True
    return False


def too_verbose(exc: BaseException) -> bool:
    """Whether the error echoes a huge value or has a huge message (a 2 MB cell must not come back in full)."""
    if len(str(exc)) > MAX_MESSAGE:
        return True
    report = getattr(exc, "report", None)
    if report is None or not hasattr(report, "issues"):
        return False
    issues = report.issues
    return bool((issues["value"].astype(str).str.len() > MAX_ECHO).any()
                or (issues["message"].astype(str).str.len() > MAX_MESSAGE).any())


def _head(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    if getattr(exc, "report", None) is not None and hasattr(exc.report, "errors"):
        e = exc.report.errors.head(1)
        if len(e):
            r = e.iloc[0]
            msg += f" | first: {r['file']} row {r['row']} {r['column']} {r['rule']}: {r['message']}"
    return f"{type(exc).__name__}: {msg[:160]}"


@contextlib.contextmanager
def _alarm(seconds: float):
    def fire(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case, limit: float = 10.0, tmp_root: str | None = None) -> Result:
    """Materialise the case in a fresh folder, run it through the public API, classify the outcome."""
    root = Path(tempfile.mkdtemp(prefix=f"fuzz{case.index}-", dir=tmp_root))
    try:
        materialize(case, root)
        before = digest(root)
        t0, c0 = time.perf_counter(), time.process_time()
        outcome, error = "accepted", ""
        try:
            with warnings.catch_warnings(), _alarm(limit):
                warnings.simplefilter("ignore")
                if case.kind == "study":
                    hccstudy.load_study(root / "study", root / case.config if case.config else None)
                else:
                    hccstudy.analyze(root / case.config)
        except _Timeout:
            outcome, error = "hang", f"still running after {limit:g} s"
        except USER_ERRORS as exc:
            outcome = "error" if names_place(exc, case.where) else "error_no_location"
            if outcome == "error" and too_verbose(exc):
                outcome = "error_verbose"
            error = _head(exc)
        except Exception as exc:  # anything else is a crash: a traceback for the user
            tb = traceback.extract_tb(exc.__traceback__)
            at = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            outcome, error = "crash", _head(exc) + at
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        if digest(root) != before:
            outcome = "input_changed"
        return Result(case, outcome, error, seconds, cpu)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- worker pool
def _light(case: Case) -> Case:
    """The case without its file contents (results of a 10,000-case campaign stay small)."""
    return dataclasses.replace(case, files=tuple((rel, b"") for rel, _ in case.files))


def _run_index(seed: int, index: int, limit: float, tmp_root: str | None) -> Result:
    try:
        case = make_case(seed, index)
    except Exception as exc:  # a generator bug must fail loudly, not pass as a product outcome
        raise RuntimeError(f"generating case {index} of seed {seed} failed") from exc
    r = run_case(case, limit, tmp_root)
    return dataclasses.replace(r, case=_light(case))


def _worker(conn, limit: float, tmp_root: str | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(_run_index(*job, limit, tmp_root))
        except Exception:  # a harness bug: reported to the parent, which raises it
            conn.send(traceback.format_exc())


class _Slot:
    def __init__(self, ctx, limit, tmp_root):
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, limit, tmp_root), daemon=True)
        self.proc.start()
        child.close()
        self.case: int | None = None  # index of the case being run
        self.started = 0.0

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.parent.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def run_cases(seed: int, indices: list[int], workers: int = 2, limit: float = 10.0, progress=None) -> list[Result]:
    """Generate and run the cases ``indices`` of campaign ``seed`` in ``workers`` forked processes (0: in this
    process); results in the order of ``indices``."""
    if workers <= 0:
        return [_run_index(seed, i, limit, None) for i in indices]
    _warm_up()
    ctx = mp.get_context("fork")
    tmp_root = tempfile.mkdtemp(prefix="hccfuzz-")
    slots = [_Slot(ctx, limit, tmp_root) for _ in range(min(workers, len(indices)) or 1)]
    results: dict[int, Result] = {}
    todo = list(reversed(indices))
    try:
        while len(results) < len(indices):
            for s in slots:
                if s.case is None and todo:
                    s.case, s.started = todo.pop(), time.perf_counter()
                    s.parent.send((seed, s.case))
            ready = wait([s.parent for s in slots if s.case is not None], timeout=1.0)
            for k, s in enumerate(slots):
                if s.case is None:
                    continue
                if s.parent in ready:
                    try:
                        msg = s.parent.recv()
                        if isinstance(msg, str):
                            raise RuntimeError(f"fuzz harness failed on case {s.case} of seed {seed}:\n{msg}")
                        results[s.case] = msg
                    except EOFError:  # the worker died (killed by the OS, or a generator bug): see its stderr
                        results[s.case] = Result(_light(make_case(seed, s.case)), "crash", "worker process died",
                                                 time.perf_counter() - s.started)
                        slots[k] = _restart(s, ctx, limit, tmp_root)
                    slots[k].case = None
                elif time.perf_counter() - s.started > limit + 10:
                    results[s.case] = Result(_light(make_case(seed, s.case)), "hang",
                                             f"no answer after {limit + 10:g} s (worker killed)",
                                             time.perf_counter() - s.started)
                    slots[k] = _restart(s, ctx, limit, tmp_root)
                    slots[k].case = None
                else:
                    continue
                if progress is not None:
                    progress(len(results), len(indices))
    finally:
        for s in slots:
            s.stop()
        shutil.rmtree(tmp_root, ignore_errors=True)
    return [results[i] for i in indices]


def _warm_up() -> None:
    """Load the example once before forking, so that lazy imports (Parquet, Excel readers) and the pristine
    inputs are shared by the workers instead of being paid again in each."""
    from .generate import pristine, veteran

    pristine()
    veteran()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hccstudy.load_study(hccstudy.example_study_path())


def _restart(s: _Slot, ctx, limit, tmp_root) -> _Slot:
    s.stop(kill=True)
    return _Slot(ctx, limit, tmp_root)


# --------------------------------------------------------------------------- tables
def outcome_table(results: list[Result]) -> list[dict]:
    """One row per mutation class: cases, expected outcome(s) and the count of every outcome."""
    rows = []
    for name in dict.fromkeys(r.case.mutation for r in results):
        rs = [r for r in results if r.case.mutation == name]
        c = Counter(r.outcome for r in rs)
        rows.append({"class": name, "cases": len(rs), "unexpected": sum(not r.ok for r in rs),
                     **{o: c.get(o, 0) for o in OUTCOMES}})
    c = Counter(r.outcome for r in results)
    rows.append({"class": "TOTAL", "cases": len(results), "unexpected": sum(not r.ok for r in results),
                 **{o: c.get(o, 0) for o in OUTCOMES}})
    return rows


def format_rows(rows: list[dict], columns: list[str]) -> str:
    width = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(f"{c:<{width[c]}}" if i == 0 else f"{c:>{width[c]}}" for i, c in enumerate(columns))]
    for r in rows:
        lines.append("  ".join(f"{r.get(c, '')!s:<{width[c]}}" if i == 0 else f"{r.get(c, '')!s:>{width[c]}}"
                               for i, c in enumerate(columns)))
    return "\n".join(lines)


def format_table(results: list[Result]) -> str:
    return format_rows(outcome_table(results), ["class", "cases", "unexpected", *OUTCOMES])


def format_unexpected(results: list[Result], limit: int = 60) -> str:
    """A compact list of unexpected outcomes: class, outcome vs expected, the mutation, the error head, a repro."""
    bad = [r for r in results if not r.ok]
    lines = [f"{len(bad)} unexpected outcome(s) of {len(results)} cases:"]
    for r in bad[:limit]:
        want = "/".join(r.case.expect)
        where = "; ".join(str(w) for w in r.case.where) or "-"
        lines.append(f"  {r.case.mutation:<26} got {r.outcome:<17} want {want:<15} {r.case.detail[:90]}"
                     f"\n      must name: {where[:100]} | {r.error[:200]}\n      repro: {r.case.repro}")
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more")
    return "\n".join(lines)
