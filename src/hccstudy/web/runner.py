"""Runs of a study started from the app: :func:`hccstudy.run_study` in a separate process, with its
progress per stage in a small JSON file, a cancel that leaves nothing half-written, and the list of past
runs.

Layout of one run (``RUNS`` is the study's ``.hccstudy/runs``, a dot-folder the study reader skips)::

    RUNS/<rid>/study.yaml     the config snapshot: study.yaml byte for byte as it was when the run started
    RUNS/<rid>/status.json    state (running / done / failed / cancelled), stages, replicates, error
    RUNS/<rid>/log.txt        the run process's stderr (warnings, a traceback on an internal error)
    RUNS/<rid>/output/        the output folder, exactly what ``hccstudy run STUDY --config study.yaml``
                              writes; it appears only when complete (one rename)

Why the output is first written elsewhere: :func:`~hccstudy.pipeline.run_study` refuses an output inside
its input folder (hccstudy never writes over its inputs), and the study folder is the input.  So the run
process writes the output folder (atomically, the library's :class:`~hccstudy.output.OutputFolder`) under
the app's work folder ``WORK/<sid>-<rid>/output`` and, once it is complete, moves it into
``RUNS/<rid>/output``: one ``rename`` on the same file system; otherwise a copy into a hidden sibling,
then one ``rename``.  A cancelled or failed run leaves no ``output/``, and its work folder is removed.

The run process is ``python -m hccstudy.web.runner RUN_DIR STUDY_DIR WORK_DIR`` in a new session (its
own process group, so that a cancel also ends the Dask workers it may have started).  Cancel: SIGTERM
to the group (the run process turns it into an exception, so the library removes its temporary folder),
then SIGKILL after :data:`GRACE_S` seconds; then the app removes any temporary folder left behind.

Run ids are the UTC start time, ``20261129-054501`` (``-2``, ``-3`` ... when two start in one second):
they sort in time order and are checked against :data:`RUN_ID` before they name a folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

#: a run id: UTC start time, with a counter when two runs start in one second
RUN_ID = re.compile(r"^\d{8}-\d{6}(?:-\d{1,3})?$")
#: a run process that has not said it is running this many seconds after its start is taken as dead
START_TIMEOUT_S = 120.0
#: seconds between SIGTERM and SIGKILL on cancel
GRACE_S = 5.0
#: the stages of a run of a study folder, as :data:`hccstudy.pipeline.STAGES` names them, then the
#: app's own last step (moving the complete output folder into the run)
STAGES = ("ingest", "analyze", "report", "publish")
PUBLISH_LABEL = "Saving the output folder into the study"
CONFIG = "study.yaml"
STATUS = "status.json"
LOG = "log.txt"
OUTPUT = "output"
CANCEL = "cancel-requested"

#: run processes started by this server process, by run folder (reaped when they end)
_CHILDREN: dict[str, subprocess.Popen] = {}
_LOCK = threading.Lock()


class RunError(Exception):
    """A run that cannot start (a bad config, another run in progress); the message is for the user."""


@dataclass(frozen=True)
class RunInfo:
    """One run as the app shows it: ``status`` is status.json as read (see :func:`read_status`)."""

    rid: str
    folder: Path
    status: dict = field(default_factory=dict)

    @property
    def state(self) -> str:
        return str(self.status.get("state", "unknown"))

    @property
    def output(self) -> Path | None:
        """The complete output folder, or None (running, failed, cancelled)."""
        out = self.folder / OUTPUT
        return out if self.state == "done" and out.is_dir() and not out.is_symlink() else None

    @property
    def config(self) -> Path:
        return self.folder / CONFIG


# ---------------------------------------------------------------------------------------------- status


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename (a reader never sees
    half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def new_status(stages: tuple[str, ...] = STAGES) -> dict:
    """A status before the run: every stage waiting.  The stages' labels are :data:`hccstudy.pipeline.STAGES`'
    when that module is loaded (the run process loads it; the app does not, to answer at once: it costs
    seconds of imports), else their names until the run process writes its first status."""
    labels = {**getattr(sys.modules.get("hccstudy.pipeline"), "STAGES", {}), "publish": PUBLISH_LABEL}
    return {"state": "starting", "started": _now(), "finished": None, "pid": None, "error": None,
            "stages": [{"name": s, "label": labels.get(s, s.capitalize()), "state": "pending", "seconds": None}
                       for s in stages],
            "replicates": None}


def read_status(run_dir: Path) -> dict:
    """status.json of a run, with the state corrected when the run process is gone without saying how
    it ended (killed from outside, the machine restarted): ``done`` when its complete output is in
    place, else ``cancelled`` when a cancel was asked for, else ``failed``; its leftovers are removed."""
    try:
        status = json.loads((run_dir / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "unknown", "stages": [], "error": "this run has no readable status.json"}
    if not isinstance(status, dict):
        return {"state": "unknown", "stages": [], "error": "this run has no readable status.json"}
    _reap()
    if status.get("state") in ("starting", "running") and not _alive(run_dir, status.get("pid")):
        if str(run_dir) in _CHILDREN:  # started by us and not yet reaped: still starting
            return status
        from ..output import is_hccstudy_output

        cancelled = (run_dir / CANCEL).exists()
        if is_hccstudy_output(run_dir / OUTPUT):  # complete (it appears in one rename): it ended as it published
            state, error = "done", None
        else:
            state = "cancelled" if cancelled else "failed"
            error = None if cancelled else "the run process ended without finishing (see log.txt)"
        status = {**status, "state": state, "finished": status.get("finished") or _now(), "error": error}
        if state == "done":
            status["stages"] = [{**st, "state": "done"} for st in status.get("stages", [])]
        cleanup(run_dir)
        with suppress(OSError):
            write_json_atomic(run_dir / STATUS, status)
    return status


def _reap() -> None:
    with _LOCK:
        for key, proc in list(_CHILDREN.items()):
            if proc.poll() is not None:
                del _CHILDREN[key]


def _alive(run_dir: Path, pid) -> bool:
    """Whether ``pid`` is a live run process of ``run_dir`` (its command line names the run folder, so
    a reused process id is not taken for the run)."""
    if not isinstance(pid, int) or pid <= 0:  # the run process has not written its status yet
        if str(run_dir) in _CHILDREN:
            return True
        try:  # being started by another request of this server, or a process that never started
            return time.time() - (run_dir / STATUS).stat().st_mtime < START_TIMEOUT_S
        except OSError:
            return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return b"hccstudy.web.runner" in cmd and str(run_dir).encode() in cmd


# ------------------------------------------------------------------------------------------ the runs


def runs_root(study: Path) -> Path:
    """``STUDY/.hccstudy/runs``: in the app's own dot-folder of the study (:func:`.studies.state_dir`)."""
    from .studies import state_dir

    return state_dir(Path(study)) / "runs"


def run_dir(study: Path, rid: str) -> Path:
    """The folder of run ``rid`` (a :class:`LookupError` for an id that is not a run id or names no run)."""
    if not isinstance(rid, str) or not RUN_ID.match(rid):
        raise LookupError(f"{rid!r} is not a run id")
    root = runs_root(study)
    folder = root / rid
    if folder.is_symlink() or not folder.is_dir():
        raise LookupError(f"no run {rid}")
    return folder


def list_runs(study: Path) -> list[RunInfo]:
    """The study's runs, newest first."""
    root = runs_root(study)
    try:
        names = [p.name for p in root.iterdir() if RUN_ID.match(p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    return [RunInfo(n, root / n, read_status(root / n)) for n in sorted(names, reverse=True)]


def running(study: Path) -> RunInfo | None:
    """The run in progress in this study, if any."""
    return next((r for r in list_runs(study) if r.state in ("starting", "running")), None)


def _new_run_dir(root: Path) -> tuple[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(1, 1000):
        rid = stamp if n == 1 else f"{stamp}-{n}"
        try:
            (root / rid).mkdir()
        except FileExistsError:
            continue
        return rid, root / rid
    raise RunError("too many runs started in one second")


def prepare_run(study: Path) -> RunInfo:
    """A new run folder for the study folder ``study``: the config snapshot (study.yaml as it is now)
    and a status of ``starting``.  Refused with a :class:`RunError` (and no run folder left) when the
    config does not validate or another run of the study is in progress.  A study without study.yaml
    runs with the built-in defaults (its snapshot says so)."""
    from .._yaml import ConfigError
    from ..config import load_config

    study = Path(study).resolve()
    config = study / CONFIG
    if config.is_symlink() or (config.exists() and not config.is_file()):
        raise RunError("study.yaml is not a regular file")
    # no study.yaml: the built-in defaults, as `hccstudy run STUDY` without --config
    text = config.read_bytes() if config.exists() else b"# the study had no study.yaml: the built-in defaults\n"
    current = running(study)
    if current is not None:
        raise RunError(f"run {current.rid} is still in progress: wait for it or cancel it")
    rid, folder = _new_run_dir(runs_root(study))
    try:
        (folder / CONFIG).write_bytes(text)
        try:
            load_config(folder / CONFIG)
        except ConfigError as exc:
            raise RunError(f"the plan is not valid: {str(exc).split(': ', 1)[-1]}") from exc
        status = new_status()
        write_json_atomic(folder / STATUS, status)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return RunInfo(rid, folder, status)  # not read_status: no process is running it yet


def work_folder(work_root: Path, study: Path, rid: str) -> Path:
    """Where the run process writes the output before it is complete: ``WORK/<study key>-<rid>``."""
    return Path(work_root).resolve() / f"{_study_key(Path(study).resolve())}-{rid}"


def start_run(study: Path, work_root: Path, *, wait: bool = False) -> RunInfo:
    """Start a run of the study folder ``study`` with its study.yaml (snapshotted into the run,
    :func:`prepare_run`) in a separate process; returns at once (``wait``: when the process has ended).
    A :class:`RunError` when it cannot start (see :func:`prepare_run`)."""
    study = Path(study).resolve()
    run = prepare_run(study)
    folder, rid = run.folder, run.rid
    work = work_folder(work_root, study, rid)
    log = open(folder / LOG, "ab")  # noqa: SIM115 -- handed to the child, closed below
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hccstudy.web.runner", str(folder), str(study), str(work)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=str(folder), env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        log.close()
    with _LOCK:
        _CHILDREN[str(folder)] = proc
    if wait:
        proc.wait()
        _reap()
    return RunInfo(rid, folder, read_status(folder))


def wait_children(timeout: float = 30) -> None:
    """Wait for the run processes this server started to end (tests; a server shutting down)."""
    with _LOCK:
        procs = list(_CHILDREN.values())
    for proc in procs:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    _reap()


def _study_key(study: Path) -> str:
    import hashlib

    return hashlib.sha256(str(study).encode()).hexdigest()[:12]


def cancel_run(folder: Path, *, grace_s: float = GRACE_S, wait: bool = False) -> bool:
    """Ask run ``folder`` to stop: SIGTERM to its process group, SIGKILL after ``grace_s`` if it is still
    there, then remove whatever temporary folder it left.  Returns False when the run is not in
    progress.  ``wait``: return only when it is over (tests); otherwise a thread finishes the job."""
    status = read_status(folder)
    if status.get("state") not in ("starting", "running"):
        return False
    (folder / CANCEL).touch()
    with _LOCK:
        proc = _CHILDREN.get(str(folder))
    pid = proc.pid if proc is not None else status.get("pid")
    if not isinstance(pid, int) or not _alive(folder, pid):
        read_status(folder)
        return True
    _signal_group(pid, signal.SIGTERM)

    def finish() -> None:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _alive(folder, pid):
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.1)
        # the Dask workers too, even when the run process has ended: the group lives while any member
        # does; once empty, killpg finds nothing (ESRCH).  Linux hands out process ids in sequence, so
        # the id cannot name a new group within these few seconds.
        _signal_group(pid, signal.SIGKILL)
        if proc is not None:
            proc.wait()
        _reap()
        read_status(folder)  # marks it cancelled if the process could not say so, and cleans up

    if wait:
        finish()
    else:
        threading.Thread(target=finish, daemon=True, name=f"cancel-{folder.name}").start()
    return True


def _signal_group(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # the run process leads its own group (start_new_session)


def cleanup(folder: Path) -> None:
    """Remove what an ended run may have left besides its files: the work folder and a half-copied
    output (never ``output/`` itself, which only a complete run has)."""
    from ..output import remove_stale_temps

    for entry in folder.iterdir() if folder.is_dir() else ():
        if entry.name.startswith(f".{OUTPUT}.partial-") and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    work = _read_work(folder)
    if work is not None:
        remove_stale_temps(work, OUTPUT)
        shutil.rmtree(work, ignore_errors=True)


def _read_work(folder: Path) -> Path | None:
    try:
        status = json.loads((folder / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    work = status.get("work") if isinstance(status, dict) else None
    return Path(work) if isinstance(work, str) and work else None


# ------------------------------------------------------------------------------- the run process


class _Cancelled(BaseException):
    """SIGTERM in the run process: unwinds the stack so the output folder's temporary copy is removed."""


class _Reporter:
    """Writes the run's progress into status.json: each stage's start and end (``run_study``'s
    ``progress``) and the replicates' count (bootstrap, imputation, design grid), at most every 0.5 s."""

    def __init__(self, folder: Path, status: dict):
        self.folder, self.status = folder, status
        self._last = 0.0

    def save(self) -> None:
        write_json_atomic(self.folder / STATUS, self.status)

    def stage(self, name: str, seconds: float | None) -> None:
        for s in self.status["stages"]:
            if s["name"] == name:
                s["state"], s["seconds"] = ("running", None) if seconds is None else ("done", round(seconds, 1))
        self.status["replicates"] = None
        self.save()

    def __call__(self, stage: str, label: str, seconds: float | None) -> None:
        self.stage(stage, seconds)

    def replicates(self, label: str, done: int, total: int) -> None:
        self.status["replicates"] = {"label": label, "done": int(done), "total": int(total)}
        now = time.monotonic()
        if done >= total or now - self._last >= 0.5:
            self._last = now
            self.save()


def install_cancel_handler():
    """SIGTERM in this process raises :class:`_Cancelled` (the output folder's temporary copy is then
    removed as the stack unwinds); returns the handler it replaces.  A process forked from this one (the
    report's figure pool) inherits the handler: there it restores the default and ends quietly, as if
    it had none (a pool's own shutdown sends its workers SIGTERM)."""
    owner = os.getpid()

    def on_term(signum, frame):
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise _Cancelled

    return signal.signal(signal.SIGTERM, on_term)


def _pool(plan):
    """The Dask pool of the sensitivity replicates, as ``hccstudy run`` opens it (none without them)."""
    from contextlib import nullcontext

    sens = getattr(plan, "sensitivity", None)
    if sens is None:
        return nullcontext()
    from ..analysis.replicates import replicate_pool

    return replicate_pool(sens.scheduler, sens.workers)


def _publish(src: Path, dest: Path) -> None:
    """Move the complete output folder ``src`` to ``dest`` (which must not exist): one rename on one
    file system; otherwise a copy into a hidden sibling, then one rename."""
    try:
        os.rename(src, dest)
        return
    except OSError as exc:
        import errno

        if exc.errno != errno.EXDEV:
            raise
    partial = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.copytree(src, partial, symlinks=True)
    os.rename(partial, dest)
    shutil.rmtree(src, ignore_errors=True)


def run_in_process(folder: Path, study: Path, work: Path) -> int:
    """The run process's work: ``run_study(study, folder/study.yaml, work/output)``, then the output
    moved to ``folder/output``.  Returns the exit code (0 done, 2 the user's input or config, 1 other)."""
    from .._yaml import ConfigError
    from ..analysis.replicates import SchedulerError, use_progress
    from ..config import load_config
    from ..output import OutputError
    from ..pipeline import run_study
    from ..schema import StudyInputError

    status = new_status()  # with the stages' labels (the pipeline is loaded now)
    with suppress(OSError):  # keep the start time the app wrote when it started this process
        status["started"] = json.loads((folder / STATUS).read_text(encoding="utf-8")).get("started") or status["started"]
    status.update(state="running", pid=os.getpid(), work=str(work))
    rep = _Reporter(folder, status)
    rep.save()

    def end(state: str, error: str | None, code: int) -> int:
        status.update(state=state, error=error, finished=_now(), replicates=None)
        for s in status["stages"]:
            if s["state"] == "running":
                s["state"] = "stopped"
        rep.save()
        if state == "done":
            shutil.rmtree(work, ignore_errors=True)
        else:
            cleanup(folder)  # the work folder and a half-copied output, if any
        return code

    previous = install_cancel_handler()
    try:
        config = folder / CONFIG
        cfg = load_config(config)
        work.mkdir(parents=True, exist_ok=True)
        with use_progress(rep.replicates), _pool(cfg.analysis):
            run_study(study, cfg, work / OUTPUT, progress=rep, inputs=[config])
        rep.stage("publish", None)
        t0 = time.perf_counter()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the analysis is done: a cancel now would only lose it
        _publish(work / OUTPUT, folder / OUTPUT)
        rep.stage("publish", time.perf_counter() - t0)
    except _Cancelled:
        return end("cancelled", None, 1)
    except StudyInputError as exc:
        n = exc.report.n_errors
        return end("failed", f"{exc}: the study has {n} validation error(s); see the Validation page", 2)
    except ConfigError as exc:
        return end("failed", f"cannot analyse the study: {exc}", 2)
    except (OutputError, SchedulerError) as exc:
        return end("failed", str(exc), getattr(exc, "exit_code", 1))
    except Exception as exc:  # an internal error: the traceback goes to log.txt, one line to the user
        traceback.print_exc()
        return end("failed", f"internal error ({type(exc).__name__}); see log.txt of the run", 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return end("done", None, 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m hccstudy.web.runner RUN_DIR STUDY_DIR WORK_DIR", file=sys.stderr)
        return 2
    folder, study, work = (Path(a) for a in args)
    return run_in_process(folder, study, work)


if __name__ == "__main__":
    sys.exit(main())
