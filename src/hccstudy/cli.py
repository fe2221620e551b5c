"""The ``hccstudy`` command.

Exit codes: 0 success (warnings allowed), 2 bad input or config (the problems are printed), 1 an
unexpected internal error.  Outputs are written to a temporary folder and renamed into place, so a
failed run never leaves a partial output that looks complete; input files are only read.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from . import __version__, example_study_path
from .cohort.config import ConfigError, StudyConfig, load_config
from .cohort.study import Study, load_study, write_analysis_table
from .schema import StudyInputError, ValidationReport, ingest

app = typer.Typer(add_completion=False, no_args_is_help=True, help="HCC comparative-effectiveness study toolkit.")
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Study config (YAML); see docs/config.md.")]


def _config(path: Path | None) -> StudyConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[bold red]config error:[/] {exc}")
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
    t = Table(title=f"Validation: {report.n_errors} error(s), {report.n_warnings} warning(s)", show_lines=False)
    for c in ("severity", "centre", "file", "row", "column", "value", "rule", "message"):
        t.add_column(c, overflow="fold")
    for r in shown.itertuples(index=False):
        colour = "red" if r.severity == "error" else "yellow"
        t.add_row(f"[{colour}]{r.severity}[/]", r.centre, r.file, "" if r.row < 0 else str(r.row), r.column,
                  str(r.value), r.rule, r.message)
    out.print(t)


def _print_frame(df: pd.DataFrame, title: str) -> None:
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for r in df.itertuples(index=False):
        t.add_row(*["" if pd.isna(v) else str(v) for v in r])
    console.print(t)


def _load(study_dir: Path, cfg: StudyConfig) -> Study:
    try:
        return load_study(study_dir, cfg)
    except StudyInputError as exc:
        print_issues(exc.report, out=err)
        err.print(f"[bold red]{exc}[/]: nothing was written.")
        raise typer.Exit(2) from exc


@app.command()
def validate(
    study_dir: Annotated[Path, typer.Argument(help="Study folder: one sub-folder or workbook per centre.")],
    config: ConfigOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Print every issue.")] = False,
    csv: Annotated[Path | None, typer.Option("--csv", help="Also write every issue to this CSV file.")] = None,
) -> None:
    """Check a study folder against the data model; exit 2 on errors, 0 with warnings only."""
    cfg = _config(config)
    result = ingest(study_dir, bilirubin_factor=cfg.units.bilirubin_factor)
    print_issues(result.report, limit=None if all_ else 50)
    if csv is not None:
        result.report.issues.to_csv(csv, index=False)
    counts = ", ".join(f"{k} {v}" for k, v in result.report.counts.items())
    console.print(f"Records read: {counts}")
    if not result.report.ok:
        raise typer.Exit(2)


@app.command()
def flow(study_dir: Annotated[Path, typer.Argument(help="Study folder.")], config: ConfigOpt = None) -> None:
    """Print the patient flow: screened -> excluded per reason -> included per arm."""
    study = _load(study_dir, _config(config))
    _print_frame(study.flow[["step", "label", "n"]], "Patient flow (each exclusion counted once, first failing criterion)")
    _print_frame(study.exclusions[["label", "n_failing", "n_first_failing"]], "All failing criteria")


@app.command()
def run(
    study_dir: Annotated[Path | None, typer.Argument(help="Study folder (default: the example study shipped with hccstudy).")] = None,
    config: ConfigOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("report"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
) -> None:
    """Run the study: validate, derive, apply eligibility and write the analysis table."""
    if study_dir is None:
        study_dir = example_study_path()
        console.print(
            "[bold]No study folder given:[/] running on the small example study shipped with hccstudy "
            "(3 centres, 20 hand-made patients). The calibrated synthetic cohort will replace it as the default."
        )
    if out.exists() and not force:
        err.print(f"[bold red]{out} exists[/]: use --force to replace it.")
        raise typer.Exit(2)
    cfg = _config(config)
    with console.status("Reading, validating and deriving..."):
        study = _load(study_dir, cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_analysis_table(study, tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if study.validation.n_warnings:
        console.print(f"[yellow]{study.validation.n_warnings} warning(s)[/] (see {out / 'validation.csv'})")
    _print_frame(study.flow[["step", "label", "n"]], "Patient flow")
    console.print(f"Wrote {out}/analysis_table.parquet and .csv ({len(study.analysis)} patients), flow.csv, "
                  "exclusions.csv, validation.csv")


@app.command()
def version() -> None:
    """Print the hccstudy version."""
    console.print(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
