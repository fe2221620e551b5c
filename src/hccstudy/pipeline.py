"""``run_study()``: the whole study as one library call — generate -> ingest -> analyze -> report -> manifest.

The ``hccstudy run`` command is this function plus option parsing and printing; a notebook calls it
directly and gets the objects back (the loaded :class:`~hccstudy.cohort.study.Study`, the typed
:class:`~hccstudy.analysis.run.Results`, the reproduction table), not only paths::

    import hccstudy
    run = hccstudy.run_study(None, out="report")      # the built-in synthetic study
    run.results.matching.n_pairs, run.study.flow, run.timings

The output folder is written atomically (:class:`~hccstudy.output.OutputFolder`): every check on the
place comes before any computing, everything is written into a temporary folder that is renamed into
place only when complete, and a failure leaves nothing behind.  Stage timings are measured here and go
into ``manifest.json`` once, when it is written last.

Errors are exceptions, for the caller to present: :class:`~hccstudy.schema.StudyInputError` (the input
has validation errors; ``.report`` lists them), :class:`~hccstudy._yaml.ConfigError` (a bad config, or
an :class:`~hccstudy.analysis.run.AnalysisError`: the included patients cannot support the analysis) and
:class:`~hccstudy.output.OutputError` (the output place cannot or may not be written).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .analysis.run import AnalysisError, Results, analyze
from .cohort.analysis_table import study_table
from .cohort.study import Study, load_study, write_analysis_table
from .config import StudyConfig, load_config
from .output import OutputFolder

#: ``progress(stage, label, seconds)``: called with ``seconds=None`` when a stage starts and with its
#: duration when it ends (stages: generate, ingest, analyze, report).
Progress = Callable[[str, str, float | None], None]

STAGES = {
    "generate": "Generating the synthetic cohort",
    "ingest": "Reading, validating and deriving",
    "analyze": "Table 1, matching, survival, Cox, subgroups, response, AEs",
    "report": "Writing the report",
}


@dataclass(frozen=True)
class StudyRun:
    """What :func:`run_study` did: the objects it computed and where it wrote them.

    * ``study``: the loaded study (flow, derived tables, validation warnings)
    * ``results``: the analysis results (``results.to_dict()`` is ``results.json``)
    * ``calibration``: the reproduction table (published vs recovered), for the synthetic study only
    * ``timings``: seconds per stage, as in ``manifest.json``
    * ``files``: every file written, as paths under ``out``
    """

    out: Path
    config: StudyConfig
    study: Study
    results: Results
    calibration: pd.DataFrame | None
    seed: int | None
    timings: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        """Run on the built-in synthetic cohort (no study folder given)."""
        return self.seed is not None


def _config(config: StudyConfig | str | Path | dict | None) -> StudyConfig:
    if isinstance(config, StudyConfig):
        return config
    if isinstance(config, dict):  # validated like a study.yaml (analysis: merged onto the built-in plan)
        return load_config(None, overrides=config)
    return load_config(config)


class _Clock:
    """Times each stage and reports it to ``progress``."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}

    def __call__(self, stage: str, fn):
        if self.progress is not None:
            self.progress(stage, STAGES[stage], None)
        t0 = time.perf_counter()
        result = fn()
        self.timings[stage] = time.perf_counter() - t0
        if self.progress is not None:
            self.progress(stage, STAGES[stage], self.timings[stage])
        return result


def _mi_supplement(study: Study, plan) -> tuple[Study, pd.DataFrame | None]:
    """The patients excluded only for a missing baseline covariate, for the multiple-imputation
    sensitivity analysis (:mod:`hccstudy.cohort.missing_supplement`), and the flow with their row; no
    supplement when the plan does not run ``mi_psm``."""
    sens = getattr(plan, "sensitivity", None)
    if sens is None or plan.matching is None or not sens.wants("mi_psm"):
        return study, None
    from dataclasses import replace

    from .analysis.resampling import mi_columns
    from .cohort.missing_supplement import flow_with_imputed, supplement_table

    rows = supplement_table(study.patients, mi_columns(plan))
    return replace(study, flow=flow_with_imputed(study.flow, len(rows))), rows


def run_study(study_dir: str | Path | None = None, config: StudyConfig | str | Path | dict | None = None,
              out: str | Path = "report", *, seed: int | None = None, progress: Progress | None = None,
              force: bool = False, inputs: Sequence[str | Path] = ()) -> StudyRun:
    """Run the whole study into the folder ``out`` and return a :class:`StudyRun`.

    ``study_dir``: the study folder (one sub-folder or workbook per centre); ``None`` runs the
    calibrated synthetic five-centre cohort of the built-in study, generated with ``seed`` (default
    :data:`hccstudy.synth.DEFAULT_SEED`) and written to ``out/synthetic-data/``.  ``config``: a
    :class:`StudyConfig`, a study.yaml path, a mapping of config keys, or ``None`` (the built-in
    study's defaults).  ``force``: replace an existing hccstudy output folder.  ``inputs``: further
    files the output must never be written over or into (e.g. the config file a ``StudyConfig`` was
    read from); the study folder and a config path are always protected.
    """
    from .report.build import build_report
    from .report.manifest import write_manifest
    from .synth import DEFAULT_SEED, generate, write_cohort
    from .synth.calibration import calibration_table

    cfg = _config(config)
    synthetic = study_dir is None
    if not synthetic and seed is not None:
        raise ValueError("seed applies only to the built-in synthetic cohort (study_dir=None)")
    if synthetic:
        seed = DEFAULT_SEED if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0 (got {seed!r})")
    clock = _Clock(progress)
    protected = [Path(p) for p in inputs] + ([] if synthetic else [Path(study_dir)])
    protected += [Path(config)] if isinstance(config, (str, Path)) else []
    with OutputFolder(out, force=force, inputs=protected, command="run") as o:
        tmp = o.path
        if synthetic:
            data_dir = tmp / "synthetic-data"
            with o.writing():
                clock("generate", lambda: write_cohort(generate(seed), data_dir))
        else:
            data_dir = Path(study_dir)
        study = clock("ingest", lambda: load_study(data_dir, cfg))
        if study.analysis.empty:
            raise AnalysisError("no patient was included: every screened patient failed an eligibility criterion")
        plan = cfg.analysis.with_data("analysis_table.parquet")  # the data path is only a label here
        study, supplement = _mi_supplement(study, plan)
        results = clock("analyze", lambda: analyze(plan, study_table(study.analysis), supplement=supplement))
        calibration = (calibration_table(study, results.matched, results.matching.n_pairs if results.matching else None,
                                         plan=cfg.analysis) if synthetic else None)
        manifest_inputs = [{"file": str(Path(i.path).relative_to(tmp)) if synthetic else str(i.path), "sha256": i.sha256}
                           for i in study.inputs]
        warnings = [f"{r.rule}: {r.message}"
                    for r in study.validation.issues.drop_duplicates(["rule", "message"]).itertuples()]

        def report() -> list[Path]:
            files = write_analysis_table(study, tmp, results.data)  # with the .hcc_ columns (distance, pair...)
            files += build_report(results, tmp, flow=study.flow, calibration=calibration, inputs=manifest_inputs,
                                  title=results.config.name, write_table=False,
                                  write_manifest_file=False).files
            if calibration is not None:
                calibration.to_csv(tmp / "calibration.csv", index=False)
                files.append(tmp / "calibration.csv")
            return files

        with o.writing():
            files = clock("report", report)
            files.append(write_manifest(tmp, results, inputs=manifest_inputs, seed=seed if synthetic else None,
                                        timings=clock.timings, warnings=warnings,
                                        study_config=json.loads(cfg.model_dump_json())))
    final = Path(o.out)
    return StudyRun(out=final, config=cfg, study=study, results=results, calibration=calibration,
                    seed=seed if synthetic else None, timings=dict(clock.timings),
                    files=sorted(final / p.relative_to(tmp) for p in dict.fromkeys(files)))
