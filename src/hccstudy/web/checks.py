"""Validation of a study for the app: the library's own ``load_study`` (ingest, validation, derived
flow), cached per study and keyed by the input files' sizes and modification times plus study.yaml,
so a page of the validation table is a slice of a cached DataFrame (well under 300 ms), and any change
to a centre file or to the mapping makes the next page check again.

The issues table is the library's :class:`~hccstudy.schema.ValidationReport` ``issues`` (columns
severity, centre, file, row, column, value, rule, message); sorting, filtering and paging are done here,
on the server, so 100,000 patients' issues never go to the browser whole.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .studies import STATE

ISSUE_COLUMNS = ["severity", "centre", "file", "row", "column", "value", "rule", "message"]
SORTABLE = ("severity", "centre", "file", "row", "column", "value", "rule")
PAGE_SIZE = 50


@dataclass
class Check:
    """One validation of a study: issues (index = issue number), counts, the flow when the data allow
    it, or the config error that stopped it; ``svg``: the CONSORT figure, drawn on first use."""

    key: tuple
    issues: pd.DataFrame
    n_errors: int
    n_warnings: int
    counts: dict
    flow: pd.DataFrame | None
    config_error: str | None
    seconds: float
    svg: bytes | None = field(default=None, repr=False)
    orders: dict = field(default_factory=dict, repr=False)  # sort orders and filter choices, computed once

    @property
    def version(self) -> str:
        """A short digest of the inputs' key (cache-busting URLs of the flow figure)."""
        return version_of(self.key)


def version_of(key: tuple) -> str:
    """A short digest of an :func:`input_key`: changes when a centre file or study.yaml changes."""
    import hashlib

    return hashlib.sha256(repr(key).encode()).hexdigest()[:10]


def input_key(folder: Path) -> tuple:
    """(relative path, size, mtime_ns) of study.yaml and every file a centre may hold: a change to any
    of them changes the key.  Dot-entries (the app's own .hccstudy) and templates/ are not inputs."""
    out = []
    root = Path(folder)
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError:
            continue
        for e in entries:
            if e.name.startswith((".", "~$")) or (d == root and e.name.lower() == "templates"):
                continue
            try:
                st = e.stat()
            except OSError:
                continue
            if e.is_dir():
                if d == root:  # a centre folder (files inside it; sub-folders are not read)
                    stack.append(e)
                continue
            out.append((str(e.relative_to(root)), st.st_size, st.st_mtime_ns))
    return tuple(out)


_cache: dict[Path, Check] = {}
_locks: dict[Path, threading.Lock] = {}
_guard = threading.Lock()


def _lock(folder: Path) -> threading.Lock:
    with _guard:
        return _locks.setdefault(folder, threading.Lock())


def check(folder: Path) -> Check:
    """The validation of ``folder`` as it is now (cached while its inputs are unchanged)."""
    folder = Path(folder).resolve()
    key = input_key(folder)
    hit = _cache.get(folder)
    if hit is not None and hit.key == key:
        return hit
    with _lock(folder):
        hit = _cache.get(folder)
        key = input_key(folder)
        if hit is not None and hit.key == key:
            return hit
        result = _run(folder, key)
        _cache[folder] = result
        return result


def cached(folder: Path) -> Check | None:
    """The cached check of ``folder`` if still current, else None (no work)."""
    folder = Path(folder).resolve()
    hit = _cache.get(folder)
    return hit if hit is not None and hit.key == input_key(folder) else None


_memo: dict[tuple[Path, str], tuple[tuple, object]] = {}


def memo(folder: Path, name: str, compute):
    """``compute()`` cached per study and ``name`` while the study's inputs (:func:`input_key`) are unchanged
    (e.g. the mapping page's model, which reads every header of every file)."""
    folder = Path(folder).resolve()
    key = input_key(folder)
    hit = _memo.get((folder, name))
    if hit is not None and hit[0] == key:
        return hit[1]
    value = compute()
    _memo[(folder, name)] = (key, value)
    return value


def _run(folder: Path, key: tuple) -> Check:
    from .._yaml import ConfigError
    from ..cohort.study import load_study
    from ..config import load_config
    from ..schema import StudyInputError

    t0 = time.perf_counter()
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
    try:
        cfg = load_config(folder / "study.yaml")
    except ConfigError as exc:
        return Check(key, empty, 0, 0, {}, None, f"study.yaml: {exc}", time.perf_counter() - t0)
    flow = None
    try:
        study = load_study(folder, cfg)
        report, flow = study.validation, study.flow
    except StudyInputError as exc:
        report = exc.report
    except ConfigError as exc:  # a config the data show to be wrong (e.g. eligibility.extra naming no column)
        return Check(key, empty, 0, 0, {}, None, f"study.yaml: {exc}", time.perf_counter() - t0)
    issues = report.issues[ISSUE_COLUMNS].reset_index(drop=True)
    return Check(key, issues, int(report.n_errors), int(report.n_warnings), dict(report.counts), flow, None,
                 time.perf_counter() - t0)


def page(c: Check, *, sort: str = "severity", desc: bool = False, severity: str = "", centre: str = "",
         rule: str = "", column: str = "", q: str = "", page_no: int = 1, size: int = PAGE_SIZE) -> tuple[pd.DataFrame, int]:
    """One page of the issues, filtered and sorted on the server: (rows, number of matching rows).

    Filters are exact (severity, centre, rule, column) and ``q`` a case-insensitive substring of the
    file, value or message; ``sort`` one of :data:`SORTABLE` (then the issue number, so paging is stable)."""
    df = c.issues
    mask = pd.Series(True, index=df.index)
    for col, want in (("severity", severity), ("centre", centre), ("rule", rule), ("column", column)):
        if want:
            mask &= df[col] == want
    if q:
        text = q.lower()
        mask &= (df["file"].str.lower().str.contains(text, regex=False)
                 | df["value"].astype(str).str.lower().str.contains(text, regex=False)
                 | df["message"].str.lower().str.contains(text, regex=False))
    sort = sort if sort in SORTABLE else "severity"
    order = _order(c, sort, desc)  # issue numbers in this order (cached per sort)
    if not mask.all():
        order = order[mask.to_numpy()[order]]
    n = len(order)
    start = max(0, (page_no - 1) * size)
    return df.iloc[order[start:start + size]], n


def _order(c: Check, sort: str, desc: bool):
    """Positions of the issues sorted by ``sort`` (ties by issue number), cached on the check: sorting
    100,000 issues once per column, not once per page."""
    import numpy as np

    key = (sort, desc)
    if key not in c.orders:
        col = c.issues[sort]
        numeric = pd.api.types.is_numeric_dtype(col)
        ranks = np.asarray(col.to_numpy() if numeric else pd.factorize(col.astype(str), sort=True)[0], dtype=float)
        c.orders[key] = np.lexsort((np.arange(len(ranks)), -ranks if desc else ranks))
    return c.orders[key]


def flow_svg(c: Check) -> bytes | None:
    """The CONSORT figure of the flow (the report's own :func:`~hccstudy.report.figures_flow.flow_figure`),
    as SVG; None when the data have errors (no flow yet)."""
    if c.flow is None:
        return None
    if c.svg is None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..report.figures import flow_figure

        f = c.flow
        one = f.set_index("step")["n"]
        excl = f[f["step"] == "excluded"]
        cs = f[f["step"] == "centre_screened"]
        ci = f[f["step"] == "centre_included"].set_index("criterion")["n"]
        fig = flow_figure(screened=int(one["screened"]), excluded=[(x.label, int(x.n)) for x in excl.itertuples()],
                          included=int(one["included"]),
                          arms=[(str(x.label), int(x.n)) for x in f[f["step"] == "arm"].itertuples()],
                          centres=[(str(x.label), int(x.n), int(ci.get(x.criterion, 0))) for x in cs.itertuples()] or None)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
        c.svg = buf.getvalue()
    return c.svg


__all__ = ["PAGE_SIZE", "STATE", "Check", "cached", "check", "flow_svg", "input_key", "memo", "page"]
