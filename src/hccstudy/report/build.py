"""Assemble the report folder of ``hccstudy run`` / ``hccstudy analyze``:

report.html (self-contained), tables.xlsx, tables.docx, manuscript.md, figures/ (PNG 300 dpi, SVG, PDF, TIFF 600 dpi
LZW), results.json, analysis_table.parquet, manifest.json, plus the CSV tables of
:func:`hccstudy.analysis.write_results`.

The sections are built once (:func:`~hccstudy.report.sections.build_sections`); each figure a section
holds is drawn from the fitted objects and written once, in the formats of the plan's ``report.formats``
(none: no figure), by a pool of processes (:func:`draw_figures`), and the three renderers draw the same list.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import time
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from ..analysis.labels import Dictionary
from ..analysis.run import Results
from ..analysis.write import write_results
from .figures import FORMATS, save, warm_up
from .manifest import write_manifest
from .manuscript import Manuscript
from .render_docx import render_docx
from .render_html import render_html
from .render_xlsx import render_xlsx
from .sections import FigureItem, Section, build_sections

PACKAGES = ["hccstudy", "numpy", "pandas", "scipy", "matplotlib", "pyarrow", "openpyxl", "python-docx", "pydantic",
            "PyYAML", "typer", "rich"]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


@dataclass(frozen=True)
class ReportBuild:
    """What :func:`build_report` did: the sections it rendered (figures with their written paths) and
    every file it wrote, manifest.json last."""

    sections: list[Section]
    files: list[Path]


#: environment variable: how many processes draw the figures (default: one per CPU, at most one per figure)
WORKERS_ENV = "HCCSTUDY_WORKERS"

#: the figures a pool draws, set in the parent before the workers fork (the draw closures of
#: :class:`FigureItem` hold fitted objects and lambdas: inherited, never pickled)
_JOBS: list[tuple[FigureItem, Path, tuple[str, ...]]] = []


def figure_workers(n_figures: int, workers: int | None = None) -> int:
    """Processes to draw ``n_figures``: ``workers`` when given, else the environment variable
    :data:`WORKERS_ENV`, else the CPUs this process may use; never more than the figures, at least 1."""
    if workers is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        if env:
            try:
                workers = int(env)
            except ValueError:
                raise ValueError(f"{WORKERS_ENV}={env!r}: not a whole number of processes") from None
        else:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(int(workers), n_figures))


def _draw_job(i: int) -> list[Path]:
    item, folder, formats = _JOBS[i]
    return save(item.draw(), folder / item.key, formats)


class PendingFigures:
    """Figures being drawn (:func:`start_figures`); :meth:`finish` waits for them and returns what
    :func:`draw_figures` returns.  Meanwhile the caller may write files that need no figure."""

    def __init__(self, sections: list[Section], folder: Path, formats: tuple[str, ...], workers: int | None):
        self.sections, self.folder, self.formats = sections, folder, tuple(dict.fromkeys(formats))
        self.items = [f for s in sections for f in s.figures] if self.formats else []
        jobs = [(f, folder, self.formats) for f in self.items]
        self._pool = self._async = None
        if not jobs:
            return
        n = figure_workers(len(jobs), workers)
        _JOBS[:] = jobs
        if n > 1 and "fork" in multiprocessing.get_all_start_methods():
            warm_up(self.formats)  # imports and font subsets done once here, inherited by every worker
            try:  # the workers fork now and inherit _JOBS; the parent goes on with other files
                self._pool = multiprocessing.get_context("fork").Pool(n)
                self._async = self._pool.map_async(_draw_job, range(len(jobs)), chunksize=1)
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Stop the workers (after :meth:`finish`, or on an error before it) and forget the jobs."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        _JOBS.clear()

    def finish(self) -> tuple[list[Section], list[Path]]:
        if not self.formats:
            return [s.with_figures([]) for s in self.sections], []
        try:
            if self._async is not None:
                written = self._async.get()
            else:
                written = [_draw_job(i) for i in range(len(self.items))]
        finally:
            self.close()
        drawn = {f.key: replace(f, path=self.folder / f"{f.key}.png") for f in self.items}
        out = [s.with_figures([drawn[f.key] for f in s.figures]) for s in self.sections]
        return out, [p for paths in written for p in paths]


def start_figures(sections: list[Section], folder: Path, formats: tuple[str, ...],
                  workers: int | None = None) -> PendingFigures:
    """Start drawing the figures of :func:`draw_figures` in its pool of processes and return at once
    (one worker, or no fork: they are drawn in :meth:`PendingFigures.finish`, here, in order)."""
    return PendingFigures(sections, folder, formats, workers)


def draw_figures(sections: list[Section], folder: Path, formats: tuple[str, ...],
                 workers: int | None = None) -> tuple[list[Section], list[Path]]:
    """Draw and write every figure of the sections under ``folder`` (``<key>.<format>``); the sections
    returned carry each figure's PNG path (``formats`` empty: no figure is drawn and the sections are
    returned without figures).

    The figures are drawn in ``workers`` processes (:func:`figure_workers`; forked, so the figures'
    closures are inherited rather than pickled; one worker, or a platform without fork, draws them
    here in order).  Each figure's files depend only on the figure: every process draws from the same
    inputs under the same style, and the one piece of per-process state, the shared PDF font subset,
    embeds the same bytes whether it was computed in that process or not -- so the files do not
    depend on the number of workers."""
    return start_figures(sections, folder, formats, workers).finish()


def report_formats(results: Results, formats: tuple[str, ...] | list[str] | None = None) -> tuple[str, ...]:
    """The figure formats to write: ``formats`` when given, else the plan's ``report.formats`` (default
    all four); the PNG is added to a non-empty set (report.html and tables.docx embed it); empty: none."""
    if formats is None:
        rules = getattr(results.config, "report", None)
        formats = getattr(rules, "formats", FORMATS)
    formats = tuple(formats)
    return tuple(dict.fromkeys(("png", *formats))) if formats else ()


def build_report(results: Results, out: Path, *, flow: pd.DataFrame | None = None,
                 calibration: pd.DataFrame | None = None, dictionary: Dictionary | None = None,
                 inputs: list[dict] | None = None, seed: int | None = None, timings: dict | None = None,
                 warnings: list[str] | None = None, study_config: dict | None = None, title: str | None = None,
                 write_table: bool = True, formats: tuple[str, ...] | None = None,
                 write_manifest_file: bool = True, workers: int | None = None) -> ReportBuild:
    """Write the whole report folder (see module docstring) into ``out``.

    ``dictionary``: the labels (default: the analysis config's ``labels``); ``timings``: seconds per
    stage before the report (``generate``, ``ingest``, ``analyze``), to which the report adds its own
    (``report``) -- manifest.json is written once, complete (None: no timings, the manifest is
    byte-stable); ``write_table=False`` when the caller
    writes ``analysis_table.parquet`` itself (``hccstudy run``, with the study's CSV); ``formats``: of
    the figures, overriding the plan's ``report.formats`` (None: the plan's; see :func:`report_formats`:
    the HTML and the docx embed the PNGs, so PNG is written whenever any format is; empty: no figure,
    and report.html says so under its title); ``workers``: processes drawing the figures
    (:func:`figure_workers`); ``write_manifest_file=False`` when the caller writes manifest.json
    itself, last (:func:`hccstudy.run_study`)."""
    start = time.perf_counter()
    out = Path(out)
    soft = versions()
    sections = build_sections(results, dictionary, flow=flow, calibration=calibration, software=soft)
    formats = report_formats(results, formats)
    # the figure processes start first; the files that need no figure are written while they draw
    pending = start_figures(sections, out / "figures", formats, workers)
    try:
        paths = write_results(results, out)
        if write_table:
            results.data.to_parquet(out / "analysis_table.parquet", index=False)
            paths.append(out / "analysis_table.parquet")
        render_xlsx(sections, out / "tables.xlsx")  # tables only
    except BaseException:
        pending.close()
        raise
    sections, figs = pending.finish()
    paths += figs
    title = title or results.config.name
    subtitle = "Generated by hccstudy " + soft["hccstudy"]
    if not formats:
        subtitle += ". No figures: report.formats is empty."
    render_docx(sections, out / "tables.docx", title)
    (out / "report.html").write_text(render_html(sections, title, subtitle),
                                     encoding="utf-8")
    paths += [out / "tables.xlsx", out / "tables.docx", out / "report.html"]
    text = next((s for s in sections if s.key == "manuscript"), None)
    if text is not None:  # the generated Methods and Results paragraphs, as the report shows them
        (out / "manuscript.md").write_text(Manuscript(*text.notes).markdown(title), encoding="utf-8")
        paths.append(out / "manuscript.md")
    files = [*paths]
    if write_manifest_file:  # timed runs (timings given) get the report's own time too; untimed: byte-stable
        stages = None if timings is None else {**timings, "report": time.perf_counter() - start}
        files.append(write_manifest(out, results, inputs=inputs, seed=seed, timings=stages, warnings=warnings,
                                    study_config=study_config))
    return ReportBuild(sections, files)
