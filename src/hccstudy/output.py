"""Safe output folders and files: checked before any computing, written atomically, never over an input.

Every command that writes (``run``, ``analyze``, ``synth``, ``validate --csv``) goes through this module,
so the rules are the same everywhere (docs/reliability.md, "Output folders"):

- **Refuse before computing.**  The output place is checked, locked and a temporary folder created in it
  before any work starts, so a read-only location, ``/proc``, a parent that is a file or an existing file
  fails at once, not after the whole analysis.
- **Never over an input.**  An output that is, contains or lies inside an input folder or file (the study
  folder, the config, the data a config names) is refused, with or without ``--force``.
- **--force replaces only our own folders**: a folder that holds hccstudy's marker
  (:data:`MARKER`, written into every output folder), a report folder of an earlier hccstudy (its
  ``manifest.json``), or an empty folder.  Anything else is refused.
- **Atomic.**  Everything is written into a hidden temporary sibling folder, then renamed into place:
  ``renameat2(RENAME_NOREPLACE)`` for a new output (fails if the target appeared meanwhile) and
  ``renameat2(RENAME_EXCHANGE)`` to replace one (there is no moment without ``OUT``).  Where the kernel
  or file system lacks ``renameat2`` (not Linux, some network file systems) the fallback is an
  existence check under the lock then ``rename`` (new), or rename-aside then rename-in (replace; a
  moment without ``OUT``).
- **Locked.**  One process at a time writes one ``OUT``: ``flock`` on ``.OUT.hccstudy.lock`` beside it,
  held from the checks to the rename.  A second process is refused at once.
- **Stale temporary folders** (``.OUT.hccstudy-tmp.HOST.PID.*``, left by ``kill -9``) are removed by the
  next writer of the same ``OUT`` when their process is dead, their name matches and they hold our
  marker (or are empty); nothing else is ever removed.

Errors are :class:`OutputError`: ``exit_code`` 2 for an unusable or forbidden place (nothing was
written), 1 for a real I/O failure while writing (a full disk); either way no partial output and no
temporary folder are left.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from . import __version__

try:  # POSIX only; without it (Windows) writes are still atomic but not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

MARKER = ".hccstudy-output.json"
"""Hidden file in every folder hccstudy writes (hidden, so a synthetic study folder stays a clean input)."""

_IO_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_MAX_JSON = 1 << 20  # a marker or manifest larger than this is not ours


class OutputError(Exception):
    """The output cannot be written: ``exit_code`` 2 (a place the user must change; nothing written) or
    1 (an I/O failure while writing, e.g. a full disk; nothing left behind)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "host"


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.hccstudy-(?:tmp|old)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+$")


def _temp_prefix(name: str, kind: str = "tmp") -> str:
    return f".{name}.hccstudy-{kind}.{_host()}.{os.getpid()}."


def _default_mode(mode: int) -> int:
    """``mode`` less the process umask: what a plain mkdir/open would give (mkdtemp/mkstemp give 0700/0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _target(path: str | Path) -> Path:
    """Absolute path with every symlink above the last component resolved (the last one is kept, so a
    symlink given as OUT is seen as a symlink)."""
    p = Path(path).absolute()
    if p.name in ("", ".", ".."):
        p = p.resolve()
    return p.parent.resolve() / p.name


def _linked(folder: Path, depth: int = 2) -> list[Path]:
    """Symbolic links inside an input folder, to ``depth`` levels (a centre folder or file linked in
    from elsewhere is an input too)."""
    found: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return found
    for entry in entries:
        if entry.is_symlink():
            found.append(entry)
        elif depth > 1 and entry.is_dir():
            found.extend(_linked(entry, depth - 1))
    return found


def check_not_input(out: Path, inputs: Iterable[str | Path], what: str = "--out") -> None:
    """Refuse an output that is, contains or lies inside an input (compared after resolving symlinks,
    including those inside an input folder)."""
    real = Path(os.path.realpath(out))
    given_inputs = [Path(p) for p in inputs]
    for folder in [p for p in given_inputs if p.is_dir()]:
        given_inputs.extend(_linked(folder))
    for given in given_inputs:
        inp = Path(os.path.realpath(given))
        if real == inp:
            rel = "is the input"
        elif inp in real.parents:
            rel = "lies inside the input"
        elif real in inp.parents:
            rel = "contains the input"
        else:
            continue
        kind = "folder" if inp.is_dir() else "file"
        raise OutputError(f"{what} {out} {rel} {kind} {inp}: hccstudy never writes over its inputs; choose another {what}")


def _check_parent(out: Path) -> None:
    """The nearest existing ancestor of ``out`` must be a folder (a parent that is a file is refused)."""
    for anc in out.parents:
        if os.path.lexists(anc):
            if not anc.is_dir():
                raise OutputError(f"cannot write {out}: {anc} is a file, not a folder")
            return


def _read_small_json(path: Path) -> dict | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_JSON:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_hccstudy_output(folder: Path) -> bool:
    """True for a real folder hccstudy wrote: it holds :data:`MARKER` with ``"tool": "hccstudy"``, or a
    ``manifest.json`` with that field or from an earlier hccstudy (keys ``hccstudy`` and ``versions``)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    marker = _read_small_json(folder / MARKER)
    if marker is not None and marker.get("tool") == "hccstudy":
        return True
    manifest = _read_small_json(folder / "manifest.json")
    return manifest is not None and (manifest.get("tool") == "hccstudy"
                                     or ("hccstudy" in manifest and isinstance(manifest.get("versions"), dict)))


def _is_empty_dir(folder: Path) -> bool:
    try:
        return not folder.is_symlink() and folder.is_dir() and next(folder.iterdir(), None) is None
    except OSError:
        return False


def _check_existing(out: Path, force: bool) -> bool:
    """Whether ``out`` exists and may be replaced; raises when it exists and may not."""
    if not os.path.lexists(out):
        return False
    if out.is_symlink():
        raise OutputError(f"{out} is a symbolic link: give the real folder, or choose another --out")
    if not out.is_dir():
        raise OutputError(f"{out} exists and is a file, not a folder hccstudy wrote: --force replaces only "
                          "such folders; remove it yourself or choose another --out")
    ours = is_hccstudy_output(out) or _is_empty_dir(out)
    if not ours:
        raise OutputError(f"{out} exists and was not written by hccstudy (no hccstudy manifest): --force "
                          "replaces only folders hccstudy wrote; remove it yourself or choose another --out")
    if not force:
        raise OutputError(f"{out} exists: use --force to replace it")
    return True


def _remove_folder(folder: Path) -> None:
    """Remove one of our folders, its marker and manifest last: a process killed half-way leaves a folder
    that is still recognisably ours, so the next run's stale cleanup can finish the job."""
    last = [folder / MARKER, folder / "manifest.json"]
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry in last:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with suppress(OSError):
                entry.unlink()
    for entry in last:
        with suppress(OSError):
            entry.unlink()
    with suppress(OSError):
        folder.rmdir()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we wrote: keep
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temps(parent: Path, name: str) -> list[Path]:
    """Remove the temporary folders (and files) that dead hccstudy processes on this host left for the
    output ``parent/name``: the name must match our pattern, the process must be gone, and a folder must
    hold our marker or be empty.  Returns what was removed."""
    pattern, host, removed = _temp_pattern(name), _host(), []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None or m["host"] != host or int(m["pid"]) == os.getpid() or _pid_alive(int(m["pid"])):
            continue
        try:
            if entry.is_symlink():
                continue
            if entry.is_file():
                entry.unlink()
            elif _is_empty_dir(entry):
                entry.rmdir()
            elif is_hccstudy_output(entry):
                _remove_folder(entry)
            else:
                continue
        except OSError:
            continue
        if not os.path.lexists(entry):
            removed.append(entry)
    return removed


def _libc_renameat2():
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2_fn = _libc_renameat2()


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False where unsupported (no such call, or the file system
    refuses the flag), raises OSError on any other failure (EEXIST when RENAME_NOREPLACE finds ``dst``)."""
    if _renameat2_fn is None:
        return False
    if _renameat2_fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(e, os.strerror(e), str(src), None, str(dst))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Lock:
    """An exclusive, non-blocking ``flock`` on ``path``; the file is removed on release.  After locking
    we check that ``path`` is still the file we locked (another holder may have removed it), else retry."""

    def __init__(self, path: Path, out: Path):
        self.path, self.out, self.fd = path, out, -1

    def acquire(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = os.read(fd, 64).decode("ascii", "replace").strip()
                finally:
                    os.close(fd)
                raise OutputError(f"{self.out} is being written by another hccstudy process"
                                  f"{f' (pid {holder})' if holder.isdigit() else ''}: wait for it, or choose "
                                  "another --out") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self.fd = fd
                return
            os.close(fd)
        raise OutputError(f"could not lock {self.path}")  # pragma: no cover

    def release(self) -> None:
        if self.fd < 0:
            return
        with suppress(OSError):
            self.path.unlink()
        os.close(self.fd)  # closing releases the flock
        self.fd = -1


class OutputFolder:
    """A new output folder, written atomically.

    ``with OutputFolder(out, force=..., inputs=[...], command="run") as o:`` checks the place, takes the
    lock, removes stale temporary folders and creates the temporary folder ``o.path`` (raising
    :class:`OutputError` at once if any of that is impossible); write into ``o.path`` inside
    ``with o.writing():`` (an OSError there becomes an :class:`OutputError` with exit code 1).  On a
    clean exit ``o.path`` becomes ``out``; on any exception it is removed and ``out`` is untouched.
    """

    def __init__(self, out: str | Path, *, force: bool = False, inputs: Iterable[str | Path] = (),
                 command: str = "run"):
        self.out = _target(out)
        self.force, self.inputs, self.command = force, [Path(p) for p in inputs], command
        self.path: Path = self.out  # the temporary folder, once entered
        self._created: list[Path] = []
        self._lock = _Lock(self.out.parent / f".{self.out.name}.hccstudy.lock", self.out)

    # -- entering: every check before any computing ------------------------------------------------
    def __enter__(self) -> OutputFolder:
        if not self.out.name:
            raise OutputError(f"cannot write the output to {self.out}: give a folder name")
        check_not_input(self.out, self.inputs)
        _check_parent(self.out)
        try:
            self._make_parents()
            self._lock.acquire()
        except OSError as exc:
            self._undo_parents()
            raise self._place_error(exc) from exc
        except BaseException:
            self._undo_parents()
            raise
        try:
            _check_existing(self.out, self.force)
            remove_stale_temps(self.out.parent, self.out.name)
            self.path = Path(tempfile.mkdtemp(prefix=_temp_prefix(self.out.name), dir=self.out.parent))
            os.chmod(self.path, _default_mode(0o777))
            self._write_marker(self.path)
        except BaseException as exc:
            self._abort()
            if isinstance(exc, OSError):
                raise self._place_error(exc) from exc
            raise
        return self

    def _make_parents(self) -> None:
        missing = [p for p in [self.out.parent, *self.out.parent.parents] if not os.path.lexists(p)]
        for p in reversed(missing):
            try:
                p.mkdir()
            except FileExistsError:  # made meanwhile by someone else: not ours to remove
                continue
            self._created.append(p)

    def _undo_parents(self) -> None:
        for p in reversed(self._created):
            try:
                p.rmdir()
            except OSError:
                break
        self._created = []

    def _place_error(self, exc: OSError) -> OutputError:
        folder = Path(exc.filename).parent if exc.filename else self.out.parent
        return OutputError(f"cannot write {self.out}: cannot create anything in {folder} ({_why(exc)})",
                           1 if exc.errno in _IO_ERRNOS else 2)

    def _write_marker(self, folder: Path) -> None:
        text = json.dumps({"tool": "hccstudy", "command": self.command, "version": __version__}, indent=1)
        (folder / MARKER).write_text(text + "\n", encoding="utf-8")

    @contextmanager
    def writing(self) -> Iterator[Path]:
        """Turn an OSError while writing (full disk, I/O error, an image encoder failing) into an
        :class:`OutputError` naming the output (exit code 1)."""
        try:
            yield self.path
        except OSError as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc: OSError) -> OutputError:
        what = f"[Errno {exc.errno}] {_why(exc)}" if exc.errno else _why(exc)
        where = str(exc.filename).replace(str(self.path), str(self.out), 1) if exc.filename else str(self.out)
        return OutputError(f"could not write {where}: {what}; nothing was written"
                           + ("" if where == str(self.out) else f" to {self.out}"), 1)

    # -- leaving: rename into place, or remove everything -------------------------------------------
    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self._abort()
            return False
        try:
            self._commit()
        except OSError as e:
            self._abort()
            raise self._write_error(e) from e
        except BaseException:
            self._abort()
            raise
        self._lock.release()
        return False

    def _abort(self) -> None:
        if self.path != self.out:
            _remove_folder(self.path)
        self._lock.release()
        self._undo_parents()

    def _commit(self) -> None:
        out = self.out
        if os.path.lexists(out):  # still ours to replace?  (re-checked: it may have changed meanwhile)
            if not self.force or out.is_symlink() or not (is_hccstudy_output(out) or _is_empty_dir(out)):
                raise OutputError(f"{out} appeared or changed while this run was working: nothing replaced; "
                                  "run again" + ("" if self.force else " with --force to replace it"))
            self._replace()
        else:
            self._rename_new()
        _fsync_dir(out.parent)

    def _rename_new(self) -> None:
        try:
            done = _renameat2(self.path, self.out, _RENAME_NOREPLACE)
        except FileExistsError:
            raise OutputError(f"{self.out} appeared while this run was working: nothing replaced; run again"
                              + (" with --force to replace it" if not self.force else "")) from None
        if not done:  # fallback: checked under our lock just before
            if os.path.lexists(self.out):
                raise OutputError(f"{self.out} appeared while this run was working: nothing replaced")
            os.rename(self.path, self.out)
        self.path = self.out

    def _replace(self) -> None:
        if _renameat2(self.path, self.out, _RENAME_EXCHANGE):
            old = self.path  # now holds the previous output, under our temporary name
        else:  # fallback: rename aside, then in (a moment without OUT)
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(self.out.name, "old"), dir=self.out.parent))
            os.rmdir(old)
            os.rename(self.out, old)
            try:
                os.rename(self.path, self.out)
            except OSError:
                os.rename(old, self.out)
                raise
        self.path = self.out
        _remove_folder(old)


class OutputFile:
    """A single output file (``validate --csv``), written atomically: checked and a hidden temporary
    file created beside it on entering; ``os.replace`` onto ``path`` on a clean exit.  The folder must
    exist; an existing regular file is replaced; a folder, link or device is refused."""

    def __init__(self, path: str | Path, *, inputs: Iterable[str | Path] = (), option: str = "--csv"):
        self.out = _target(path)
        self.inputs, self.option = [Path(p) for p in inputs], option
        self.path: Path = self.out

    def __enter__(self) -> Path:
        out, opt = self.out, self.option
        check_not_input(out, self.inputs, opt)
        if not out.parent.exists():
            raise OutputError(f"{opt} {out}: the folder {out.parent} does not exist")
        if not out.parent.is_dir():
            raise OutputError(f"{opt} {out}: {out.parent} is a file, not a folder")
        if os.path.lexists(out) and (out.is_symlink() or out.is_dir() or not out.is_file()):
            kind = "a folder" if out.is_dir() and not out.is_symlink() else "not a regular file"
            raise OutputError(f"{opt} {out} is {kind}: give a file name")
        remove_stale_temps(out.parent, out.name)
        try:
            fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(out.name), dir=out.parent)
        except OSError as exc:
            raise OutputError(f"cannot write {out}: cannot create anything in {out.parent} ({_why(exc)})",
                              1 if exc.errno in _IO_ERRNOS else 2) from exc
        os.close(fd)
        self.path = Path(tmp)
        os.chmod(self.path, _default_mode(0o666))
        return self.path

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                try:
                    os.replace(self.path, self.out)
                except OSError as e:
                    raise OutputError(f"could not write {self.out}: [Errno {e.errno}] {_why(e)}", 1) from e
                self.path = self.out
            elif isinstance(exc, OSError):
                raise OutputError(f"could not write {self.out}: {_why(exc)}", 1) from exc
        finally:
            if self.path != self.out:
                with suppress(OSError):
                    self.path.unlink()
        return False
