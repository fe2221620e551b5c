"""What the runs pages show of a finished run, read from its output folder: the key results per endpoint
(matched pairs, the arm's hazard ratio (95% CI) and P, each arm's median with its CI, events) and the
differences between two runs' configs.

Nothing is recomputed: every number is read from ``results.json`` and formatted by the report's own
rules (:mod:`hccstudy.report.format`, with the run's ``report:`` settings from ``manifest.json``), so
the app shows what the report shows.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

#: the samples of an endpoint, in the order shown, with their display names
SAMPLES = (("matched", "Matched"), ("full", "All patients"))


@dataclass(frozen=True)
class KeyRow:
    """One line of a run's key results: ``endpoint`` (its name), ``sample``, ``what`` and the text."""

    endpoint: str
    sample: str
    what: str
    text: str


def _read_json(path: Path) -> dict:
    st = path.stat()
    return _read_json_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _read_json_cached(path: str, mtime_ns: int, size: int) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _arm_labels(cfg: dict) -> dict[str, str]:
    """Display name of each arm value (as text): the dictionary's levels, else arm.labels, else the value."""
    arm = cfg.get("arm") or {}
    col = arm.get("column")
    levels = ((cfg.get("labels") or {}).get(col) or {}).get("levels") or {}
    given = arm.get("labels") or {}
    out = {}
    for value in (arm.get("treated"), arm.get("control")):
        key = str(value)
        out[key] = str(levels.get(key, levels.get(value, given.get(key, given.get(value, value)))))
    return out


def key_results(output: Path) -> list[KeyRow]:
    """The key results of the run whose output folder is ``output`` (empty when it has no results)."""
    from ..analysis.config import ReportSpec
    from ..report import format as fmt

    try:
        results = _read_json(output / "results.json")
        manifest = _read_json(output / "manifest.json")
    except (OSError, ValueError):
        return []
    cfg = manifest.get("analysis_config") or {}
    try:
        rules = ReportSpec(**(cfg.get("report") or {}))
    except ValueError:
        rules = ReportSpec()
    arm = cfg.get("arm") or {}
    labels = _arm_labels(cfg)
    treated, control = str(arm.get("treated")), str(arm.get("control"))
    ref = (cfg.get("cox") or {}).get("arm_reference", "control")
    ref_value, other_value = (control, treated) if ref == "control" else (treated, control)
    rows: list[KeyRow] = []
    cohort = results.get("cohort") or {}
    by_arm = cohort.get("n_by_arm") or {}
    rows.append(KeyRow("", "", "Patients analysed",
                       f"{cohort.get('n', '—')} ({', '.join(f'{labels.get(k, k)} {v}' for k, v in by_arm.items())})"))
    matching = results.get("matching")
    if matching:
        rows.append(KeyRow("", "", "Matched pairs" if (matching.get("ratio") or 1) == 1 else "Matched treated units",
                           str(matching.get("n_pairs", "—"))))
    hr_what = f"HR (95% CI), {labels.get(other_value, other_value)} vs {labels.get(ref_value, ref_value)}"
    for name, ep in (results.get("endpoints") or {}).items():
        for sample, sample_label in SAMPLES:
            s = ep.get(sample)
            if not s:
                continue
            cox = (s.get("cox_arm_robust") if sample == "matched" else None) or s.get("cox_arm") or {}
            rows.append(KeyRow(name, sample_label, "Events / patients", f"{s.get('events', '—')} / {s.get('n', '—')}"))
            hr = fmt.hr_ci(cox.get("hr"), cox.get("lcl"), cox.get("ucl"), rules)
            if cox.get("infinite"):  # as the report's Cox tables mark it
                hr = "not estimable (the coefficient diverged: monotone likelihood)"
            rows.append(KeyRow(name, sample_label, hr_what, hr))
            rows.append(KeyRow(name, sample_label, "P (Cox)", fmt.p_value(cox.get("p"), rules)))
            rows.append(KeyRow(name, sample_label, "P (log-rank)", fmt.p_value((s.get("logrank") or {}).get("p"), rules)))
            km = s.get("km") or {}
            for value in (treated, control):
                k = km.get(value) or {}
                rows.append(KeyRow(name, sample_label, f"Median {ep.get('unit', '')} (95% CI), {labels.get(value, value)}",
                                   fmt.median_ci(k.get("median"), k.get("median_lcl"), k.get("median_ucl"), rules)))
    return rows


def _flatten(value, prefix: str = "") -> dict[str, str]:
    """A nested mapping as dotted keys -> a short YAML text of the value (lists stay one value)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip()
    return {prefix: text.removesuffix("\n...").removesuffix("...").strip()}


def config_mapping(config: Path) -> dict:
    """The effective study config of a run's snapshot (the built-in plan merged in), as plain data."""
    from ..config import load_config

    return json.loads(load_config(config).model_dump_json())


def config_differences(a: Path, b: Path) -> list[tuple[str, str, str]]:
    """(key, value in a, value in b) for every effective config key whose value differs, in key order;
    a key only one side has shows "—" on the other."""
    fa, fb = _flatten(config_mapping(a)), _flatten(config_mapping(b))
    keys = sorted(set(fa) | set(fb))
    return [(k, fa.get(k, "—"), fb.get(k, "—")) for k in keys if fa.get(k) != fb.get(k)]


def side_by_side(a: list[KeyRow], b: list[KeyRow]) -> list[tuple[str, str, str, str, str]]:
    """(endpoint, sample, what, text a, text b) for every row of either run, in a's order then b's."""
    order: list[tuple[str, str, str]] = []
    ta = {(r.endpoint, r.sample, r.what): r.text for r in a}
    tb = {(r.endpoint, r.sample, r.what): r.text for r in b}
    for r in [*a, *b]:
        key = (r.endpoint, r.sample, r.what)
        if key not in order:
            order.append(key)
    return [(*k, ta.get(k, "—"), tb.get(k, "—")) for k in order]
