"""``manifest.json``: what produced an output folder — versions, configs, input checksums, seed,
stage timings and warnings.  Written once, last, by whoever ran the stages (so the timings are
complete and nothing is patched afterwards)."""

from __future__ import annotations

import json
from pathlib import Path

from ..analysis.run import Results


def manifest(results: Results, *, inputs: list[dict] | None = None, seed: int | None = None,
             timings: dict[str, float] | None = None, warnings: list[str] | None = None,
             study_config: dict | None = None) -> dict:
    from .build import versions

    v = versions()
    return {
        "hccstudy": v["hccstudy"], "versions": v,
        "analysis_config": json.loads(results.config.model_dump_json(exclude={"base_dir"})),
        "study_config": study_config, "inputs": inputs or [], "seed": seed,
        "timings_s": {k: round(t, 3) for k, t in (timings or {}).items()},
        "warnings": list(warnings or []) + list(results.warnings),
    }


def write_manifest(out: Path, results: Results, **kwargs) -> Path:
    """Write ``out/manifest.json`` (keyword arguments: see :func:`manifest`)."""
    path = Path(out) / "manifest.json"
    path.write_text(json.dumps(manifest(results, **kwargs), indent=1, default=str) + "\n", encoding="utf-8")
    return path
