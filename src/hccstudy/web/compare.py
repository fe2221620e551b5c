"""What the runs pages show of a finished run, read from its output folder: the key results per endpoint
(matched pairs, the arm's hazard ratio (95% CI) and P, each arm's median with its CI, events) and the
differences between two runs' configs.

Nothing is recomputed: every number is read from ``results.json`` and formatted by the report's own
rules (:mod:`hccstudy.report.format`, with the run's ``report:`` settings from ``manifest.json``), so
the app shows what the report shows.
"""

from __future__ import annotations

import copy
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


@dataclass(frozen=True)
class KeyResults:
    """A run's key results: ``rows`` and the ``notes`` that explain them (the HR's direction, the
    medians' unit, the mark of a diverged coefficient)."""

    rows: list[KeyRow]
    notes: list[str]

    def matrix(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        """The endpoint rows as a table: columns "OS · Matched", ...; one line per quantity."""
        cols: list[tuple[str, str]] = []
        for r in self.rows:
            if r.endpoint and (r.endpoint, r.sample) not in cols:
                cols.append((r.endpoint, r.sample))
        whats = list(dict.fromkeys(r.what for r in self.rows if r.endpoint))
        text = {(r.endpoint, r.sample, r.what): r.text for r in self.rows}
        return ([f"{e.upper()} · {s}" for e, s in cols],
                [(w, [text.get((e, s, w), "—") for e, s in cols]) for w in whats])


#: the mark of a hazard ratio whose coefficient diverged (the report's Cox tables use the same)
DIVERGED = "NE\u2020"


def key_results(output: Path) -> KeyResults:
    """The key results of the run whose output folder is ``output`` (no rows when it has no results)."""
    from ..analysis.config import ReportSpec
    from ..report import format as fmt

    try:
        results = _read_json(output / "results.json")
        manifest = _read_json(output / "manifest.json")
    except (OSError, ValueError):
        return KeyResults([], [])
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
    diverged, units = False, set()
    for name, ep in (results.get("endpoints") or {}).items():
        units.add(str(ep.get("unit") or ""))
        for sample, sample_label in SAMPLES:
            s = ep.get(sample)
            if not s:
                continue
            cox = (s.get("cox_arm_robust") if sample == "matched" else None) or s.get("cox_arm") or {}
            rows.append(KeyRow(name, sample_label, "Events / patients", f"{s.get('events', '—')} / {s.get('n', '—')}"))
            hr = fmt.hr_ci(cox.get("hr"), cox.get("lcl"), cox.get("ucl"), rules)
            if cox.get("infinite"):  # as the report's Cox tables mark it
                hr, diverged = DIVERGED, True
            rows.append(KeyRow(name, sample_label, "HR (95% CI)", hr))
            p = fmt.p_value(cox.get("p"), rules)
            rows.append(KeyRow(name, sample_label, "P (Cox)", p + "\u2020" if cox.get("infinite") else p))
            rows.append(KeyRow(name, sample_label, "P (log-rank)", fmt.p_value((s.get("logrank") or {}).get("p"), rules)))
            km = s.get("km") or {}
            for value in (treated, control):
                k = km.get(value) or {}
                rows.append(KeyRow(name, sample_label, f"Median (95% CI), {labels.get(value, value)}",
                                   fmt.median_ci(k.get("median"), k.get("median_lcl"), k.get("median_ucl"), rules)))
    notes = [f"HR: {labels.get(other_value, other_value)} vs {labels.get(ref_value, ref_value)} (Cox)"
             + ("; in the matched sample with the robust variance by pair, as in the report." if matching else ".")]
    if units - {""}:
        notes.append(f"Medians in {', '.join(sorted(units - {''}))}; NR: not reached.")
    if diverged:
        notes.append(f"{DIVERGED}: not estimable, the coefficient diverged (monotone likelihood); its P (\u2020) "
                     "is not interpretable.")
    return KeyResults(rows, notes)


def _flatten(value, prefix: str = "") -> dict[str, object]:
    """A nested mapping as dotted keys -> value (lists stay one value)."""
    if isinstance(value, dict) and value:
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _shown(value) -> str:
    """A config value as short YAML (``[0.01, null]``, ``true``)."""
    if value is _ABSENT:
        return "—"
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip()
    return text.removesuffix("...").strip()


_ABSENT = object()


def config_mapping(config: Path) -> dict:
    """The effective study config of a run's snapshot (the built-in plan merged in), as plain data
    (cached: a snapshot is written once; the key has its size and time all the same)."""
    st = Path(config).stat()
    return copy.deepcopy(_config_mapping(str(config), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=64)
def _config_mapping(config: str, mtime_ns: int, size: int) -> dict:
    from ..config import load_config

    return json.loads(load_config(config).model_dump_json())


def config_differences(a: Path, b: Path) -> list[tuple[str, str, str]]:
    """(key, value in a, value in b) for every effective config key whose value differs, in key order;
    a key only one side has shows "—" on the other."""
    fa, fb = _flatten(config_mapping(a)), _flatten(config_mapping(b))
    keys = sorted(set(fa) | set(fb))

    def same(k: str) -> bool:
        return (k in fa) == (k in fb) and json.dumps(fa.get(k), sort_keys=True) == json.dumps(fb.get(k), sort_keys=True)

    return [(k, _shown(fa.get(k, _ABSENT)), _shown(fb.get(k, _ABSENT))) for k in keys if not same(k)]


def side_by_side(a: KeyResults, b: KeyResults) -> list[tuple[str, str, str, str, str]]:
    """(endpoint, sample, what, text a, text b) for every row of either run, in a's order then b's."""
    order: list[tuple[str, str, str]] = []
    ta = {(r.endpoint, r.sample, r.what): r.text for r in a.rows}
    tb = {(r.endpoint, r.sample, r.what): r.text for r in b.rows}
    for r in [*a.rows, *b.rows]:
        key = (r.endpoint, r.sample, r.what)
        if key not in order:
            order.append(key)
    return [(*k, ta.get(k, "—"), tb.get(k, "—")) for k in order]
