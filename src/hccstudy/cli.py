"""The ``hccstudy`` command.

Exit codes: 0 success (warnings allowed), 2 bad input or config, or an output place that cannot or may
not be written (the problems are printed; nothing is written), 1 an I/O failure while writing or an
unexpected internal error.  Outputs go through :mod:`hccstudy.output`: checked before any computing,
never over an input, written to a temporary folder and renamed into place, so a failed run never leaves
a partial output that looks complete; input files are only read.

Imports: this module loads only typer at import time; rich (the consoles), numpy, pandas, scipy,
matplotlib and the study's own layers are imported inside the commands that need them, so ``hccstudy
--help`` and a command's ``--help`` answer without loading them (tests/test_cli_imports.py holds this).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from . import __version__

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from .cohort.study import Study
    from .config import StudyConfig
    from .output import OutputFolder
    from .schema import ValidationReport

#: :data:`hccstudy.synth.DEFAULT_SEED`, repeated here so that the options' defaults (shown by --help)
#: need not import the generator (numpy, pandas); tests/test_cli_imports.py checks the two agree.
DEFAULT_SEED = 6

#: rich_markup_mode=None: plain (click-style) help and usage errors.  typer's rich help loads rich.markdown,
#: pygments and rich.traceback, about 0.3 s of CPU on every --help, half of the 0.3 s budget of issue 13;
#: our own messages still go through rich (the consoles below).
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="HCC comparative-effectiveness study toolkit.")


class _LazyConsole:
    """A :class:`rich.console.Console` made on first use: importing rich costs about 0.15 s of CPU, which
    ``--help`` and a command's own argument errors should not pay."""

    def __init__(self, **options):
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str):
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


console = _LazyConsole(highlight=False)
err = _LazyConsole(stderr=True, highlight=False)


#: the study's entry points the commands call, imported on first use (:func:`_use`); they are also
#: attributes of this module (``hccstudy.cli.generate``), so a test may replace one with monkeypatch
_DEFERRED = {
    "load_study": (".cohort.study", "load_study"),
    "ingest": (".schema", "ingest"),
    "generate": (".synth", "generate"),
    "write_cohort": (".synth", "write_cohort"),
    "calibration_table": (".synth.calibration", "calibration_table"),
    "run_analysis": (".analysis", "analyze"),
}


def __getattr__(name: str):
    """PEP 562: a name of :data:`_DEFERRED`, imported on first access and kept in the module."""
    if name not in _DEFERRED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _DEFERRED[name]
    value = getattr(import_module(module, __package__), attr)
    globals()[name] = value
    return value


def _use(name: str):
    """The entry point ``name`` as this module holds it now (imported on first use; a replacement set on
    the module, e.g. by a test, is used as is)."""
    return globals()[name] if name in globals() else __getattr__(name)


def escape(text: str) -> str:
    """:func:`rich.markup.escape`, imported on first use."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Study config (YAML); see docs/config.md.")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE",
    help="Override a config key before validation (repeatable), e.g. --set analysis.matching.caliper=0.1; "
         "VALUE is YAML: 0.1, [6, 12, 36], null, {a: 1}.")]


SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", metavar="ADDRESS",
    help="Run the sensitivity analyses' replicates (bootstrap, imputation, design grid) on an existing Dask "
         "cluster, e.g. tcp://host:8786 (overrides sensitivity.scheduler).")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, max=1024,
    help="Local Dask worker processes for the sensitivity replicates (overrides sensitivity.workers; "
         "default: one per core; 1: in this process, no cluster).  Results do not depend on it.")]


def _scale_out(plan, scheduler: str | None, workers: int | None, quiet: bool = False):
    """The plan with ``--scheduler`` / ``--workers`` put into its ``sensitivity`` block (the plan itself
    when neither is given; a note when the plan runs no sensitivity analyses, which use no workers)."""
    if scheduler is None and workers is None:
        return plan
    sens = getattr(plan, "sensitivity", None)
    if sens is None:
        if not quiet:
            err.print("[yellow]note:[/] --scheduler / --workers ignored: the plan runs no sensitivity analyses")
        return plan
    update = {k: v for k, v in (("scheduler", scheduler), ("workers", workers)) if v is not None}
    if scheduler is not None and (not scheduler.strip() or any(c.isspace() for c in scheduler)):
        _fail(f"--scheduler: {scheduler!r} is not an address (e.g. tcp://host:8786)")
    return plan.model_copy(update={"sensitivity": sens.model_copy(update=update)})


class _ReplicateBar:
    """The replicates' progress (bootstrap, imputation, design grid) as a transient rich bar on the
    command's console; ``pause`` stops the stage spinner first (one live display at a time)."""

    def __init__(self, pause=None):
        self.pause = pause
        self._bar = None
        self._task = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if not console.is_terminal:
            return
        if self._bar is None:
            if done >= total:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            if self.pause is not None:
                self.pause()
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=console._console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)
        self._bar.update(self._task, completed=done)
        if done >= total:
            self._bar.stop()
            self._bar = None


@contextmanager
def _shared_pool(plan) -> Iterator[None]:
    """One Dask pool for every replicate analysis of the command (bootstrap, imputation, design grid of
    every endpoint), shut down at the end.  When the plan runs one of them on a cluster that was asked for
    (``--scheduler`` or ``--workers N``), the cluster starts in the background right away, so that its
    workers start while the study is read and analysed; by default the pool decides from the size of the
    first job whether a local cluster is worth starting (a small study's replicates stay in-process)."""
    sens = getattr(plan, "sensitivity", None)
    if sens is None:
        yield
        return
    from .analysis.replicates import replicate_pool

    wants = getattr(sens, "wants", lambda method: True)
    with replicate_pool(sens.scheduler, sens.workers) as pool:
        asked = sens.scheduler is not None or sens.workers is not None
        if asked and getattr(plan, "matching", None) is not None and \
                any(wants(m) for m in ("bootstrap_psm", "mi_psm", "design_grid")):
            pool.prestart()
        yield


def _replicate_progress(quiet: bool, pause=None):
    """Where the replicates report progress: a bar on a terminal, nothing with --quiet / --log-json."""
    from .analysis.replicates import use_progress

    return use_progress(None if quiet else _ReplicateBar(pause))


def _fail(message: str, code: int = 2) -> NoReturn:
    """One plain line on stderr, then exit with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _output_folder(out: Path, force: bool, inputs: Iterable[Path | None], command: str) -> Iterator[OutputFolder]:
    """:class:`~hccstudy.output.OutputFolder`, its errors printed as one line with their exit code."""
    from .output import OutputError, OutputFolder

    try:
        with OutputFolder(out, force=force, inputs=[p for p in inputs if p is not None], command=command) as o:
            yield o
    except OutputError as exc:
        _fail(str(exc), exc.exit_code)


@contextmanager
def _output_file(path: Path, inputs: Iterable[Path | None]) -> Iterator[Path]:
    from .output import OutputError, OutputFile

    try:
        with OutputFile(path, inputs=[p for p in inputs if p is not None]) as tmp:
            yield tmp
    except OutputError as exc:
        _fail(str(exc), exc.exit_code)


def _check_seed(seed: int) -> None:
    if seed < 0:
        _fail(f"--seed must be a whole number >= 0 (got {seed})")


def _config(path: Path | None, assignments: list[str] | None = None) -> StudyConfig:
    from ._yaml import ConfigError
    from .config import load_config

    try:
        return load_config(path, assignments=assignments or ())
    except ConfigError as exc:
        err.print(f"[bold red]config error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc


def print_issues(report: ValidationReport, limit: int | None = 50, out: Console = console) -> None:
    """Issues as a table (errors first), then a count by rule."""
    issues = report.issues
    if issues.empty:
        out.print("[green]No problems found.[/]")
        return
    shown = issues if limit is None else issues.head(limit)
    if not out.is_terminal:  # scripts and logs: one plain line per issue, never folded
        out.print(f"Validation: {report.n_errors} error(s), {report.n_warnings} warning(s)", soft_wrap=True)
        for r in shown.itertuples(index=False):
            where = r.file + ("" if r.row < 0 else f":{r.row}")
            col = f" column {r.column}" if r.column else ""
            val = f" value {r.value!r}" if r.value != "" else ""
            out.print(f"{r.severity}: {where}{col}{val} [{r.rule}] {r.message}", soft_wrap=True, markup=False)
    else:
        _issue_table(report, shown, out)
    if limit is not None and len(issues) > limit:
        out.print(f"... and {len(issues) - limit} more (use --all or --csv FILE to see every issue)")


def _issue_table(report: ValidationReport, shown: pd.DataFrame, out: Console) -> None:
    from rich.table import Table

    t = Table(title=f"Validation: {report.n_errors} error(s), {report.n_warnings} warning(s)", show_lines=False)
    for c in ("severity", "centre", "file", "row", "column", "value", "rule", "message"):
        t.add_column(c, overflow="fold")
    for r in shown.itertuples(index=False):
        colour = "red" if r.severity == "error" else "yellow"
        t.add_row(f"[{colour}]{r.severity}[/]", *(escape(str(x)) for x in (r.centre, r.file)),
                  "" if r.row < 0 else str(r.row), *(escape(str(x)) for x in (r.column, r.value, r.rule, r.message)))
    out.print(t)


def _print_frame(df: pd.DataFrame, title: str) -> None:
    import pandas as pd
    from rich.table import Table

    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for r in df.itertuples(index=False):
        t.add_row(*["" if pd.isna(v) else str(v) for v in r])
    console.print(t)


def _load(study_dir: Path, cfg: StudyConfig) -> Study:
    from ._yaml import ConfigError
    from .schema import StudyInputError

    load_study = _use("load_study")

    try:
        return load_study(study_dir, cfg)
    except StudyInputError as exc:
        print_issues(exc.report, out=err)
        err.print(f"[bold red]{exc}[/]: nothing was written.")
        raise typer.Exit(2) from exc
    except ConfigError as exc:  # a config that the data show to be wrong (eligibility.extra naming no column)
        err.print(f"[bold red]config error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc


@app.command()
def validate(
    study_dir: Annotated[Path, typer.Argument(help="Study folder: one sub-folder or workbook per centre.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Print every issue.")] = False,
    csv: Annotated[Path | None, typer.Option("--csv", help="Also write every issue to this CSV file.")] = None,
) -> None:
    """Check a study folder against the data model; exit 2 on errors, 0 with warnings only."""
    ingest = _use("ingest")
    cfg = _config(config, set_)
    with _output_file(csv, [study_dir, config]) if csv is not None else nullcontext() as csv_tmp:
        result = ingest(study_dir, bilirubin_factor=cfg.units.bilirubin_factor, centres=cfg.centres)
        print_issues(result.report, limit=None if all_ else 50)
        if csv_tmp is not None:
            result.report.issues.to_csv(csv_tmp, index=False)
    counts = ", ".join(f"{k} {v}" for k, v in result.report.counts.items())
    console.print(f"Records read: {counts}")
    if not result.report.ok:
        raise typer.Exit(2)


@app.command()
def flow(study_dir: Annotated[Path, typer.Argument(help="Study folder.")], config: ConfigOpt = None,
         set_: SetOpt = None) -> None:
    """Print the patient flow: screened -> excluded per reason -> included per arm."""
    study = _load(study_dir, _config(config, set_))
    _print_frame(study.flow[["step", "label", "n"]], "Patient flow (each exclusion counted once, first failing criterion)")
    _print_frame(study.exclusions[["label", "n_failing", "n_first_failing"]], "All failing criteria")


def _print_calibration(table: pd.DataFrame, failures_only: bool = False) -> None:
    import numpy as np
    from rich.table import Table

    shown = table[~table["ok"]] if failures_only else table
    if shown.empty:
        console.print(f"Calibration: all {len(table)} published targets recovered within tolerance (calibration.csv)")
        return
    fmt = lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:g}" if isinstance(v, float) else str(v)  # noqa: E731
    if not console.is_terminal:  # scripts and logs: one plain line per target, never folded
        for r in shown.itertuples(index=False):
            console.print(f"{'ok ' if r.ok else 'OUT'}  {r.group}: {r.target}: published {fmt(r.published)}, "
                          f"recovered {fmt(r.recovered)} ({r.tolerance} [{fmt(r.lower)}, {fmt(r.upper)}])",
                          soft_wrap=True, markup=False)
        n_bad = int((~table["ok"]).sum())
        console.print(f"{len(table) - n_bad} of {len(table)} targets within tolerance", soft_wrap=True)
        return
    t = Table(title="Calibration: published target vs recovered by the pipeline")
    for c in ("group", "target", "published", "recovered", "tolerance", "range", "ok"):
        t.add_column(c, justify="right" if c in ("published", "recovered") else "left")
    for r in shown.itertuples(index=False):
        t.add_row(r.group, r.target, fmt(r.published), fmt(r.recovered), r.tolerance,
                  f"[{fmt(r.lower)}, {fmt(r.upper)}]", "[green]yes[/]" if r.ok else "[red]NO[/]")
    console.print(t)
    n_bad = int((~table["ok"]).sum())
    console.print(f"{len(table) - n_bad} of {len(table)} targets within tolerance"
                  + ("" if not n_bad else f"; [red]{n_bad} outside[/]"))


@app.command()
def synth(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the raw records here (a study folder).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed -> byte-identical files).")] = DEFAULT_SEED,
    patients: Annotated[int, typer.Option("--patients", help="Screened patients (the paper: 3,923).")] = 3923,
    check: Annotated[bool, typer.Option("--check", help="Run the pipeline on the cohort and compare with the paper.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
) -> None:
    """Generate the calibrated synthetic five-centre cohort (raw records); --check prints the calibration
    table (exit 1 when a target is outside its tolerance)."""
    from .config import StudyConfig
    generate, write_cohort, calibration_table = _use("generate"), _use("write_cohort"), _use("calibration_table")
    if out is None and not check:
        err.print("[bold red]nothing to do[/]: give --out DIR and/or --check")
        raise typer.Exit(2)
    if patients < 100:
        err.print("[bold red]--patients[/] must be at least 100")
        raise typer.Exit(2)
    _check_seed(seed)
    excel = patients <= 20000  # a very large centre is written as CSV (Excel is slow and row-limited)
    with _output_folder(out, force, [], "synth") if out is not None else nullcontext() as o:
        with console.status(f"Generating {patients:,} screened patients (seed {seed})..."):
            cohort = generate(seed, patients)
        if o is not None:
            with o.writing():
                write_cohort(cohort, o.path, excel=excel)
    if out is not None:
        console.print(f"Wrote {out} (5 centres; seed {seed})")
    if check:
        with tempfile.TemporaryDirectory() as d:
            src = out if out is not None else Path(d)
            if out is None:
                write_cohort(cohort, src, excel=excel)
            with console.status("Running the pipeline on the cohort..."):
                study = _load(src, StudyConfig())
                table = calibration_table(study)
        _print_calibration(table)
        if not table["ok"].all():
            raise typer.Exit(1)


class _Progress:
    """Progress per stage: a rich spinner on a terminal, JSON lines with --log-json, nothing with --quiet."""

    def __init__(self, quiet: bool, log_json: bool):
        self.quiet, self.log_json = quiet, log_json
        self._status = None

    def __call__(self, stage: str, label: str, seconds: float | None) -> None:
        if seconds is None:  # the stage starts
            if not (self.quiet or self.log_json) and console.is_terminal:
                self._status = console.status(label + "...")
                self._status.start()
            return
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self.log_json:
            print(json.dumps({"stage": stage, "seconds": round(seconds, 3)}), flush=True)
        elif not self.quiet:
            console.print(f"[green]done[/] {label} ({seconds:.1f} s)")

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


@app.command()
def run(
    study_dir: Annotated[Path | None, typer.Argument(help="Study folder (default: the calibrated synthetic cohort, generated on the fly).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("report"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic cohort (only without STUDY_DIR).")] = DEFAULT_SEED,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="One JSON line per stage (for scripts).")] = False,
    open_report: Annotated[bool, typer.Option("--open", help="Open report.html when done.")] = False,
    no_figures: Annotated[bool, typer.Option(
        "--no-figures", help="Write no figure files: the same as --set analysis.report.formats=[] "
                             "(tables, results.json and report.html are still written).")] = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Run the whole study: ingest, validate, derive, eligibility flow, Table 1, matching, balance,
    survival, Cox, subgroups, response, adverse events -> DIR/report.html, tables.xlsx/.docx, figures/,
    results.json, analysis_table.parquet, manifest.json.  Without a study folder: on the calibrated
    synthetic cohort (raw records in DIR/synthetic-data/).  The same as ``hccstudy.run_study()``."""
    from ._yaml import ConfigError
    from .output import OutputError
    from .pipeline import run_study
    from .schema import StudyInputError

    cfg = _config(config, set_ if not no_figures else [*(set_ or ()), "analysis.report.formats=[]"])
    if scheduler is not None or workers is not None:
        cfg = cfg.model_copy(update={"analysis": _scale_out(cfg.analysis, scheduler, workers, quiet or log_json)})
    _check_seed(seed)
    progress = _Progress(quiet, log_json)
    if study_dir is None and not (quiet or log_json):
        console.print(f"[bold]No study folder given:[/] running on the calibrated synthetic five-centre cohort "
                      f"(seed {seed}; raw records in {out / 'synthetic-data'}).")
    from .analysis.replicates import SchedulerError

    try:
        with _replicate_progress(quiet or log_json, pause=progress.stop), _shared_pool(cfg.analysis):
            done = run_study(study_dir, cfg, out, seed=seed if study_dir is None else None, progress=progress,
                             force=force, inputs=[config] if config is not None else [])
    except SchedulerError as exc:  # not the user's data: exit 1, one line
        progress.stop()
        _fail(str(exc), exc.exit_code)
    except StudyInputError as exc:
        progress.stop()
        print_issues(exc.report, out=err)
        _fail(f"{exc}: nothing was written.")
    except ConfigError as exc:  # the included patients cannot support the analysis (AnalysisError)
        progress.stop()
        _fail(f"cannot analyse the study: {exc} (patient flow: hccstudy flow STUDY_DIR)")
    except OutputError as exc:
        progress.stop()
        _fail(str(exc), exc.exit_code)
    if not quiet and not log_json:
        _print_run(done, out)
    if open_report:
        import webbrowser
        webbrowser.open((out / "report.html").resolve().as_uri())


def _print_run(done, out: Path) -> None:
    study, results = done.study, done.results
    if study.validation.n_warnings:
        console.print(f"[yellow]{study.validation.n_warnings} validation warning(s)[/] (see {out / 'validation.csv'})")
    _print_frame(study.flow[["step", "label", "n"]], "Patient flow")
    os_ = results.endpoints.get("os")
    matched = os_.samples.get("matched") if os_ is not None else None
    rob = matched.cox_arm_robust if matched is not None else None
    if rob is not None and rob.hr is not None:
        ref = results.config.cox.arm_reference
        other = "treated" if ref == "control" else "control"
        console.print(f"Matched pairs: {results.matching.n_pairs}; OS HR ({results.labels[other]} vs "
                      f"{results.labels[ref]}, robust by pair) "
                      f"{rob.hr:.2f} ({rob.lcl:.2f}-{rob.ucl:.2f})")
    for sk in results.skipped:
        console.print(f"[yellow]not estimated:[/] {sk['part']}: {sk['reason']}")
    if done.calibration is not None:
        _print_calibration(done.calibration, failures_only=True)
    console.print(f"Report: {out / 'report.html'}")


@app.command()
def analyze(
    config: Annotated[Path, typer.Argument(help="Analysis config (YAML); see docs/analyze.md.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("analysis"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Override a key of the analysis config before validation (repeatable), e.g. --set matching.caliper=0.1")] = None,
    no_figures: Annotated[bool, typer.Option(
        "--no-figures", help="Write no figure files: the same as --set report.formats=[] "
                             "(tables, results.json and report.html are still written).")] = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Analyse an analysis-ready table: Table 1, propensity score, matching, balance, survival, Cox,
    subgroups, response, AEs -> the same report as `run` (report.html, tables, figures, results.json)."""
    from ._yaml import ConfigError
    run_analysis = _use("run_analysis")
    from .analysis import load_analysis_config
    from .analysis.run import AnalysisError
    from .report.build import build_report
    from .schema.readers import sha256

    def config_error(exc: ConfigError) -> NoReturn:
        label = "cannot analyse" if isinstance(exc, AnalysisError) else "config error"  # data vs config
        err.print(f"[bold red]{label}:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc

    try:
        cfg = load_analysis_config(config, overrides=[*(set_ or ()), *(["report.formats=[]"] if no_figures else [])])
    except ConfigError as exc:
        config_error(exc)
    cfg = _scale_out(cfg, scheduler, workers)
    from .analysis.replicates import SchedulerError

    with _output_folder(out, force, [config, cfg.data_path], "analyze") as o:
        try:
            status = console.status("Analysing...")
            with status, _replicate_progress(False, pause=status.stop), _shared_pool(cfg):
                results = run_analysis(cfg)
        except ConfigError as exc:
            config_error(exc)
        except SchedulerError as exc:  # not the user's data: exit 1, one line
            _fail(str(exc), exc.exit_code)
        inputs = [{"file": str(cfg.data_path), "sha256": sha256(cfg.data_path)}]  # a read: not in writing()
        with o.writing(), console.status("Writing the report..."):
            build_report(results, o.path, inputs=inputs)
    c = results.counts()  # not to_dict(): that re-encodes every pair
    console.print(f"Analysed {c['n']} rows ({', '.join(f'{k} {v}' for k, v in c['n_by_arm'].items())}); "
                  f"{c['n_excluded_missing']} excluded for missing values (excluded_missing.csv).")
    if results.matching is not None:
        flagged = results.balance.loc[results.balance["flag"], "term"].tolist()
        console.print(f"Matched treated units: {results.matching.n_pairs}; caliper width "
                      f"{results.matching.caliper_width if results.matching.caliper_width is not None else 'none'}; "
                      f"|SMD| > 0.1 after matching: {', '.join(flagged) if flagged else 'none'}")
    for w in results.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    for sk in results.skipped:
        console.print(f"[yellow]not estimated:[/] {sk['part']}: {sk['reason']}")
    console.print(f"Wrote {out}/results.json, Table 1, balance, pairs and figures/")


_HOW = {"exact": "exact name", "mapped": "mapped in config", "suggested": "suggested (did you mean)",
        "missing": "missing", "extra": "extra (not used)"}


@app.command(name="map")
def map_columns(
    study_dir: Annotated[Path, typer.Argument(help="Study folder: one sub-folder or workbook per centre.")],
    config: ConfigOpt = None,
    write: Annotated[Path | None, typer.Option("--write", help="Write the config plus a centres: stub to this new YAML file.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --write file (never the --config file).")] = False,
) -> None:
    """How each centre's columns meet the data model: per centre and file, each field with the column used
    and how (exact name, mapped in config, suggested, missing), and the columns not used.  --write adds a
    centres: stub with the suggestions to a copy of the config.  Exit 0 when every required field is found
    under the given config, 2 when one is only suggested or missing (the stub is written all the same)."""
    import yaml

    from ._yaml import read_mapping
    from .schema.columnmap import centres_stub, column_map, missing_required, unmapped_codes

    cfg = _config(config)
    if not study_dir.is_dir():
        _fail(f"study folder not found: {study_dir}")
    if write is not None and write.exists() and not force:
        _fail(f"--write {write} exists: use --force to replace it (the --config file is never replaced)")
    table = column_map(study_dir, cfg.centres)
    if table.empty:
        _fail(f"no centre found in {study_dir}: expected one sub-folder or .xlsx workbook per centre")
    for (centre, file), part in table.groupby(["centre", "file"], sort=True):
        shown = part.assign(how=part["how"].map(_HOW), need=part["need"].replace({"always": "required", "analysis": "required"}))
        if console.is_terminal:
            _print_frame(shown[["field", "need", "column", "how"]], f"{centre}: {file}")
        else:
            console.print(f"{centre}: {file}", soft_wrap=True, markup=False)
            for r in shown.itertuples(index=False):
                what = r.field or "-"
                console.print(f"  {what} <- {r.column or '-'}: {r.how}" + (f" ({r.need})" if r.need and r.how == "missing" else ""),
                              soft_wrap=True, markup=False)
    codes = unmapped_codes(study_dir, cfg.centres)
    for r in codes.itertuples(index=False):
        console.print(f"code not accepted: {r.centre}: {r.record_type}.{r.field} = {r.code!r} ({r.n} row(s)); "
                      f"map it under centres.{r.centre}.values.{r.field}", soft_wrap=True, markup=False)
    absent = sorted(set(cfg.centres) - set(table["centre"]))
    for name in absent:
        err.print(f"[yellow]warning:[/] centres.{escape(name)} in the config names no centre of {escape(str(study_dir))}")
    todo = missing_required(table)
    if write is not None:
        given = read_mapping(config) if config is not None else {}
        given.pop("centres", None)
        text = (yaml.safe_dump(given, sort_keys=False, allow_unicode=True) if given else "")
        text = ("# Written by `hccstudy map`: the config plus a centres: stub.  Check each '# suggested'\n"
                "# line and complete each '# TODO', then validate with --config this file.\n" + text
                + centres_stub(table, cfg.centres, codes))
        # never over an input: the config, or any centre's folder or workbook (the stub may go beside them)
        sources = {study_dir / str(f).split("/")[0].split("[")[0] for f in table["file"]} | {study_dir / "templates"}
        with _output_file_opt(write, [config, *sorted(sources)]) as tmp:
            tmp.write_text(text, encoding="utf-8")
        console.print(f"Wrote {write}")
    if len(todo):
        err.print(f"{len(todo)} required field(s) not found under the config: "
                  + ", ".join(f"{r.centre}/{r.record_type}.{r.field}" for r in todo.itertuples(index=False)),
                  soft_wrap=True, markup=False)
        raise typer.Exit(2)


@contextmanager
def _output_file_opt(path: Path, inputs: Iterable[Path | None]) -> Iterator[Path]:
    from .output import OutputError, OutputFile

    try:
        with OutputFile(path, inputs=[p for p in inputs if p is not None], option="--write") as tmp:
            yield tmp
    except OutputError as exc:
        _fail(str(exc), exc.exit_code)


#: what `hccstudy init` writes into DIR (besides the output marker): --force may replace only these
_SKELETON_NAMES = {"study.yaml", "templates"}


@app.command()
def init(
    study_dir: Annotated[Path, typer.Argument(help="New study folder to create.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a skeleton that init wrote before.")] = False,
) -> None:
    """Write a study skeleton: DIR/study.yaml (every key commented), DIR/templates/csv/<record type>.csv
    and DIR/templates/centre_template.xlsx.  Copy the templates to DIR/<centre>/ (CSV) or DIR/<centre>.xlsx,
    fill them, then run `hccstudy validate DIR --config DIR/study.yaml`."""
    from .cohort.skeleton import write_skeleton
    from .config import StudyConfig
    from .output import MARKER

    empty = study_dir.is_dir() and not study_dir.is_symlink() and next(study_dir.iterdir(), None) is None
    if study_dir.is_dir() and not empty:
        other = sorted(p.name + ("/" if p.is_dir() else "") for p in study_dir.iterdir()
                       if p.name not in _SKELETON_NAMES and not p.name.startswith(f".{study_dir.name}.")
                       and p.name != MARKER)
        if not force:
            _fail(f"{study_dir} exists and is not empty: choose a new folder, or use --force to replace a "
                  "skeleton that init wrote")
        if other:
            _fail(f"{study_dir} holds files init did not write ({', '.join(other[:5])}"
                  f"{', ...' if len(other) > 5 else ''}): --force never replaces a study's data; choose a new folder")
    with _output_folder(study_dir, force or empty, [], "init") as o, o.writing():
        write_skeleton(o.path, model=StudyConfig)  # the whole study.yaml: cohort keys and analysis:
    console.print(f"Wrote {study_dir}/study.yaml and the templates in {study_dir}/templates/ (csv/ and "
                  "centre_template.xlsx).\nNext: copy the CSV templates to "
                  f"{study_dir}/<centre>/ or the workbook to {study_dir}/<centre>.xlsx, fill them, then run\n"
                  f"  hccstudy validate {study_dir} --config {study_dir}/study.yaml", soft_wrap=True)


@app.command()
def example(
    name: Annotated[str, typer.Argument(help="study (raw records for validate/flow/run) or veteran (a table for analyze).")],
    out: Annotated[Path, typer.Argument(help="Folder to write the example into (a new folder).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
) -> None:
    """Copy a shipped example into a new folder, to try the commands on real files."""
    from .examples import EXAMPLES, copy_example

    if name not in EXAMPLES:
        _fail(f"unknown example {name!r}; known: " + "; ".join(f"{k} ({v[1]})" for k, v in EXAMPLES.items()))
    with _output_folder(out, force, [], "example") as o, o.writing():
        copy_example(name, o.path)
    console.print(f"Wrote {out} ({EXAMPLES[name][1]})")


@app.command()
def plan(
    show: Annotated[bool, typer.Option("--show", help="Print the effective analysis plan as YAML.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only validate it (exit 2 with the error).")] = False,
    config: ConfigOpt = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="A plan file (the schema of study.yaml's analysis:, used whole, not merged).")] = None,
    set_: SetOpt = None,
) -> None:
    """The analysis plan `run` uses: the built-in one, or study.yaml's `analysis:` merged onto it (--config),
    or a plan file (--file), with --set overrides (keys of study.yaml with --config or by default:
    analysis.matching.caliper=0.1; keys of the plan with --file: matching.caliper=0.1).  --show prints it
    as YAML that can be copied into study.yaml's analysis: or given back with --file."""
    from ._yaml import ConfigError
    from .analysis.config import builtin_plan, load_plan

    if not show and not check:
        _fail("nothing to do: give --show and/or --check")
    if file is not None and config is not None:
        _fail("give --config or --file, not both")
    if file is not None:
        try:
            p = load_plan(file, set_ or ())
        except ConfigError as exc:
            err.print(f"[bold red]config error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from exc
    else:
        p = _config(config, set_).analysis if (config is not None or set_) else builtin_plan()
    if show:
        print(p.to_yaml(), end="")
    elif check:
        console.print(f"The analysis plan is valid: {len(p.covariates)} covariates, "
                      f"{'matching on ' + str(len(p.matching.on)) + ' variables' if p.matching else 'no matching'}, "
                      f"{len(p.endpoints)} endpoint(s).")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind (default 127.0.0.1: this computer only; "
                                                     "any other needs --token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8765,
    token: Annotated[str | None, typer.Option("--token", help="Access token every request must carry "
                                                              "(required with a --host other than loopback).")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the browser.")] = False,
) -> None:
    """The whole study in a local web app: create or open a study, add centre files, map columns,
    validate, edit the plan, run and read the report (docs/web.md).  Binds 127.0.0.1 by default."""
    from .web.serve import LOOPBACK, port_problem, serve_app

    if host not in LOOPBACK and not token:
        _fail(f"--host {host} would let other computers reach the app: give --token too (or bind 127.0.0.1)")
    if token is not None and len(token) < 16:
        _fail("--token must be at least 16 characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
    if problem := port_problem(host, port):
        _fail(problem)
    serve_app(host=host, port=port, token=token, open_browser=not no_browser,
              say=lambda line: console.print(line, soft_wrap=True, markup=False, highlight=False))


@app.command()
def version() -> None:
    """Print the hccstudy version."""
    console.print(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
