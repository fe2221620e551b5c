"""The plan form (step 5): the analysis plan of study.yaml as form fields, the form's answers back into
study.yaml, validated by the config models themselves.

* :func:`current_plan` reads study.yaml: the file's own mapping, its ``analysis:`` merged onto the
  built-in plan exactly as :func:`hccstudy.load_config` merges it (the "effective" plan), and the
  values the form shows (the validated plan when it is valid, else the merged mapping as it stands).
* :func:`apply_form` turns the submitted fields into the new effective plan: a field changes its key
  only when its value differs from what the form showed, so untouched keys keep their exact form.
* :func:`validate` validates the whole study.yaml with :class:`~hccstudy.config.StudyConfig` (the same
  model as the CLI) and gives each pydantic error to the field it belongs to, with the model's message.
* :func:`save` writes study.yaml: ``analysis:`` holds what the user changed relative to the built-in
  plan, on top of what it held before (never the whole plan copied in), ``labels:`` likewise when the
  file has a top-level ``labels:``; the other keys are kept as written, with their comments: only the
  rewritten top-level blocks are replaced in the text (:func:`.studies.replace_key`, as the mapping
  page saves ``centres:``), and the result is read back and checked to
  mean exactly the intended mapping before it replaces the file (atomically).  When the text cannot
  be spliced safely (e.g. a file in flow style) the whole file is rewritten and comments are lost; the
  caller is told.

Form field names are the plan's keys, dotted (``matching.caliper``, ``endpoints.0.time``); a list of
names is one text field, separated by commas or new lines.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: the sensitivity methods and blocks, as the plan names them, with what the form shows
METHOD_LABELS = {
    "unadjusted": "Unadjusted Cox", "multivariable": "Multivariable Cox", "psm_robust": "PSM, robust SE",
    "psm_stratified": "PSM, stratified by pair", "psm_centre_ps": "PSM with centre in the PS",
    "iptw_ate": "IPTW (ATE)", "iptw_att": "IPTW (ATT)", "iptw_atc": "IPTW (ATC)", "overlap": "Overlap weights (ATO)",
    "doubly_robust": "Doubly robust", "landmark": "Landmark analyses", "time_dependent": "Time-dependent exposure",
    "centre_stratified": "Stratified by centre", "mi_psm": "Multiple imputation + PSM", "bootstrap_psm": "Bootstrap of PSM",
    "rmst": "RMST", "centres": "Per-centre estimates", "design_grid": "Matching design grid"}
FORMATS = ("png", "svg", "pdf", "tiff")
MATCH_ORDERS = ("largest", "smallest", "data", "random")
ESTIMANDS = ("ATE", "ATT", "ATC", "ATO")
_SPLIT = re.compile(r"[,\n]")


@dataclass
class Plan:
    """study.yaml as the form sees it: ``file`` (the file's own mapping), ``effective`` (``analysis:``
    merged onto the built-in plan), ``shown`` (what each field shows), ``labels`` (variable -> label,
    unit, after a top-level ``labels:``), ``error`` (the file's own problem, if it does not load)."""

    file: dict
    effective: dict
    shown: dict
    labels: dict[str, dict]
    error: str | None = None


@dataclass
class Checked:
    """The form's answer validated: errors by field name, errors no field holds, the config if valid."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    config: Any = None

    @property
    def ok(self) -> bool:
        return not self.fields and not self.general


def _builtin() -> dict:
    from ..analysis.config import builtin_plan_mapping

    return builtin_plan_mapping()


def _effective(file_map: dict) -> dict:
    from .._overrides import deep_merge

    given = file_map.get("analysis")
    return deep_merge(_builtin(), given) if isinstance(given, Mapping) else _builtin()


def _labels_in_effect(file_map: dict, effective: dict) -> dict[str, dict]:
    """The variable dictionary after a top-level ``labels:`` (laid over the plan's, field by field)."""
    merged = {k: dict(v) if isinstance(v, Mapping) else {} for k, v in (effective.get("labels") or {}).items()}
    top = file_map.get("labels")
    for name, entry in (top.items() if isinstance(top, Mapping) else ()):
        if isinstance(entry, Mapping):
            merged[name] = {**merged.get(name, {}), **entry}
    return merged


def current_plan(path: Path) -> Plan:
    """What the form shows for the study.yaml at ``path`` (an absent file: the built-in plan)."""
    from pydantic import ValidationError

    from .._yaml import ConfigError, read_mapping
    from ..analysis.config import AnalysisPlan

    error = None
    try:
        file_map = read_mapping(path) if path.exists() else {}
    except ConfigError as exc:
        file_map, error = {}, str(exc)
    eff = _effective(file_map)
    labels = _labels_in_effect(file_map, eff)
    try:
        shown = AnalysisPlan.model_validate({**eff, "labels": labels}).model_dump()
    except (ValidationError, ValueError):
        shown = _with_defaults(eff)
    return Plan(file_map, eff, shown, labels, error)


def _with_defaults(eff: dict) -> dict:
    """The raw merged plan with the model's defaults filled in where the form needs a key (an invalid
    plan is still shown, so that it can be fixed)."""
    from ..analysis.config import (
        BootstrapSpec,
        CoxSpec,
        ImputationSpec,
        MatchingSpec,
        ReportSpec,
        WeightingSpec,
    )

    out = copy.deepcopy(eff)
    if isinstance(out.get("matching"), Mapping):
        out["matching"] = {**{k: f.default for k, f in MatchingSpec.model_fields.items() if k != "on"}, **out["matching"]}
    out["cox"] = {**CoxSpec().model_dump(), **(out.get("cox") or {})}
    out["report"] = {**ReportSpec().model_dump(), **(out.get("report") or {})}
    sens = out.get("sensitivity")
    if isinstance(sens, Mapping):
        out["sensitivity"] = {"methods": None, "exposure_start": None, "centre": None, "landmarks": [],
                              **sens,
                              "bootstrap": {**BootstrapSpec().model_dump(), **(sens.get("bootstrap") or {})},
                              "imputation": {**ImputationSpec().model_dump(), **(sens.get("imputation") or {})},
                              "weighting": {**WeightingSpec().model_dump(), **(sens.get("weighting") or {})}}
    return out


# ------------------------------------------------------------------------------------------ form <-> plan


def names_text(values) -> str:
    return ", ".join(str(v) for v in values or [])


def subgroups_text(values) -> str:
    lines = []
    for v in values or []:
        if isinstance(v, Mapping):
            lines.append(f"{v.get('variable')}: {_num_text(v.get('cut'))}")
        else:
            lines.append(str(v))
    return "\n".join(lines)


def _num_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _names(text: str) -> list[str]:
    return [p.strip() for p in _SPLIT.split(text or "") if p.strip()]


def _number(text: str, kind=float):
    """A number field: empty -> None; a number -> int/float; anything else stays text, so that the
    model reports it at the field ("Input should be a valid number")."""
    t = (text or "").strip()
    if not t:
        return None
    try:
        n = float(t)
    except ValueError:
        return t
    if kind is int and n.is_integer():
        return int(n)
    return n if kind is float else t


def _numbers(text: str) -> list:
    out = []
    for p in _names(text):
        n = _number(p)
        out.append(n if not isinstance(n, float) or not n.is_integer() else n)
    return out


def _scalar(text: str, like):
    """An arm value: kept as the current value when the text is unchanged, else read as YAML (``1`` a
    number, ``SE`` text), as ``--set`` reads values."""
    from .._yaml import load_yaml

    t = (text or "").strip()
    if str(like) == t:
        return like
    try:
        v = load_yaml(t)
    except Exception:  # noqa: BLE001 -- any parse problem: the text as written
        return t
    return v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else t


def _subgroups(text: str) -> list:
    out: list = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if ":" in line:
            var, cut = (p.strip() for p in line.split(":", 1))
            out.append({"variable": var, "cut": _number(cut)})
        else:
            out.append(line)
    return out


def _landmarks(text: str) -> list:
    """Sensitivity landmarks: numbers or percentiles (``p95``)."""
    out: list = []
    for p in _names(text):
        out.append(p if re.fullmatch(r"p[0-9.]+", p) else _number(p))
    return out


def _get(form: Mapping, name: str, default: str = "") -> str:
    v = form.get(name, default)
    return v if isinstance(v, str) else default


def _checked(form: Mapping, name: str) -> bool:
    return _get(form, name) in ("on", "true", "1", "yes")


def _set(target: dict, path: list, value) -> None:
    node = target
    for p in path[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = dict(node.get(p) or {}) if isinstance(node.get(p), Mapping) else {}
        node = node[p]
    node[path[-1]] = value


def apply_form(plan: Plan, form: Mapping[str, Any], multi: Mapping[str, list[str]]) -> tuple[dict, dict]:
    """The new effective plan and the new top-level ``labels:`` (``{}`` when the file has none) from the
    submitted ``form`` (one value per name) and ``multi`` (check-box groups: name -> checked values).
    A key changes only when its field's value differs from what the form showed."""
    shown = plan.shown
    new = copy.deepcopy(plan.effective)
    top_labels = copy.deepcopy(plan.file.get("labels")) if isinstance(plan.file.get("labels"), Mapping) else None

    def put(path: str, value, current) -> None:
        if value != current:
            _set(new, path.split("."), value)

    put("name", _get(form, "name").strip(), shown.get("name"))
    arm = shown.get("arm") or {}
    treated = _scalar(_get(form, "arm.treated"), arm.get("treated"))
    control = _scalar(_get(form, "arm.control"), arm.get("control"))
    put("arm.column", _get(form, "arm.column").strip(), arm.get("column"))
    put("arm.treated", treated, arm.get("treated"))
    put("arm.control", control, arm.get("control"))
    short = {treated: _get(form, "arm.label.treated").strip(), control: _get(form, "arm.label.control").strip()}
    old_short = arm.get("labels") or {}
    want_short = {k: v for k, v in short.items() if v}
    if {str(k): v for k, v in want_short.items()} != {str(k): v for k, v in old_short.items()}:
        new.setdefault("arm", {})["labels"] = want_short
    put("cox.arm_reference", _get(form, "cox.arm_reference"), (shown.get("cox") or {}).get("arm_reference"))
    col = _get(form, "arm.column").strip() or arm.get("column")
    levels = (plan.labels.get(col) or {}).get("levels") or {}
    for which, value in (("treated", treated), ("control", control)):
        name = f"arm.name.{which}"
        if name not in form:
            continue
        text = _get(form, name).strip()
        current = next((v for k, v in levels.items() if str(k) == str(value)), "")
        if text and text != current:
            if top_labels is not None:
                entry = dict(top_labels.get(col) or {})
                entry["levels"] = {**(entry.get("levels") or {}), value: text}
                top_labels[col] = entry
            else:
                _set(new, ["labels", col, "levels", value], text)

    for key in ("covariates", "categorical", "nonnormal"):
        put(key, _names(_get(form, key)), list(shown.get(key) or []))

    m = shown.get("matching")
    if _checked(form, "matching.enabled"):
        base = m if m is not None else default_section("matching")
        if m is None:
            new["matching"] = copy.deepcopy(_builtin().get("matching") or {})
        for k, value in (("on", _names(_get(form, "matching.on"))),
                         ("caliper", _number(_get(form, "matching.caliper"))),
                         ("std_caliper", _checked(form, "matching.std_caliper")),
                         ("ratio", _number(_get(form, "matching.ratio"), int)),
                         ("replace", _checked(form, "matching.replace")),
                         ("order", _get(form, "matching.order")),
                         ("seed", _number(_get(form, "matching.seed"), int))):
            if value != base.get(k):
                _set(new, ["matching", k], value)
    elif m is not None:
        new["matching"] = None

    endpoints, i = [], 0
    while f"endpoints.{i}.name" in form:
        name = _get(form, f"endpoints.{i}.name").strip()
        if name:
            endpoints.append({"name": name, "time": _get(form, f"endpoints.{i}.time").strip(),
                              "event": _get(form, f"endpoints.{i}.event").strip(),
                              "unit": _get(form, f"endpoints.{i}.unit").strip() or "months",
                              "landmarks": _numbers(_get(form, f"endpoints.{i}.landmarks"))})
        i += 1
    old_eps = [{k: e.get(k) for k in ("name", "time", "event", "unit", "landmarks")} for e in shown.get("endpoints") or []]
    if [{**e, "landmarks": [float(x) if isinstance(x, (int, float)) else x for x in e["landmarks"]]} for e in endpoints] != \
            [{**e, "landmarks": [float(x) if isinstance(x, (int, float)) else x for x in (e["landmarks"] or [])]} for e in old_eps]:
        extra = {e.get("name"): {k: v for k, v in e.items() if k not in ("name", "time", "event", "unit", "landmarks")}
                 for e in (plan.effective.get("endpoints") or []) if isinstance(e, Mapping)}
        new["endpoints"] = [{**e, **extra.get(e["name"], {})} for e in endpoints]

    cox = shown.get("cox") or {}
    put("cox.variables", _names(_get(form, "cox.variables")), list(cox.get("variables") or []))
    put("cox.select_p", _number(_get(form, "cox.select_p")), cox.get("select_p"))
    put("cox.ties", _get(form, "cox.ties"), cox.get("ties"))
    put("subgroups", _subgroups(_get(form, "subgroups")), _subgroups(subgroups_text(shown.get("subgroups"))))

    fmts = [f for f in FORMATS if f in multi.get("report.formats", [])]
    put("report.formats", fmts, list((shown.get("report") or {}).get("formats") or []))

    s = shown.get("sensitivity")
    if _checked(form, "sensitivity.enabled"):
        if s is None:
            new["sensitivity"] = copy.deepcopy(_builtin().get("sensitivity") or {})
            s = default_section("sensitivity")
        picked = [k for k in METHOD_LABELS if k in multi.get("sensitivity.methods", [])]
        methods = None if len(picked) == len(METHOD_LABELS) else picked
        for path, value, current in (
                ("sensitivity.methods", methods, s.get("methods")),
                ("sensitivity.exposure_start", _get(form, "sensitivity.exposure_start").strip() or None, s.get("exposure_start")),
                ("sensitivity.centre", _get(form, "sensitivity.centre").strip() or None, s.get("centre")),
                ("sensitivity.landmarks", _landmarks(_get(form, "sensitivity.landmarks")),
                 _landmarks(names_text(s.get("landmarks")))),
                ("sensitivity.bootstrap.replicates", _number(_get(form, "sensitivity.bootstrap.replicates"), int),
                 (s.get("bootstrap") or {}).get("replicates")),
                ("sensitivity.imputation.m", _number(_get(form, "sensitivity.imputation.m"), int),
                 (s.get("imputation") or {}).get("m")),
                ("sensitivity.weighting.estimands", [e for e in ESTIMANDS if e in multi.get("sensitivity.weighting.estimands", [])],
                 list((s.get("weighting") or {}).get("estimands") or []))):
            put(path, value, current)
    elif s is not None:
        new["sensitivity"] = None

    # the variable dictionary: label and unit of each variable the form lists
    for var, entry in plan.labels.items():
        for part in ("label", "unit"):
            name = f"labels.{var}.{part}"
            if name not in form:
                continue
            value = _get(form, name).strip() or None
            if value == entry.get(part):
                continue
            if top_labels is not None:
                top_labels.setdefault(var, {})
                top_labels[var] = {**(top_labels[var] if isinstance(top_labels[var], Mapping) else {}), part: value}
            else:
                _set(new, ["labels", var, part], value)
    for var in _names(_get(form, "covariates")):
        if var in plan.labels:
            continue
        label, unit = _get(form, f"labels.{var}.label").strip(), _get(form, f"labels.{var}.unit").strip()
        if label or unit:
            entry = {k: v for k, v in (("label", label), ("unit", unit)) if v}
            if top_labels is not None:
                top_labels[var] = entry
            else:
                _set(new, ["labels", var], entry)
    return new, (top_labels if top_labels is not None else {})


def default_section(key: str) -> dict:
    """The built-in plan's ``matching`` or ``sensitivity`` with the model's defaults: what the form shows
    (and what switching the section on starts from) when the study's plan has it off."""
    from ..analysis.config import MatchingSpec, SensitivitySpec

    model = {"matching": MatchingSpec, "sensitivity": SensitivitySpec}[key]
    raw = _builtin().get(key)
    try:
        return model.model_validate(raw).model_dump() if isinstance(raw, Mapping) else {}
    except ValueError:
        return {}


def form_values(plan: Plan) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The text of each field and the checked values of each check-box group, for the plan as it is."""
    sh = plan.shown
    arm = sh.get("arm") or {}
    short = {str(k): v for k, v in (arm.get("labels") or {}).items()}
    levels = {str(k): v for k, v in ((plan.labels.get(arm.get("column")) or {}).get("levels") or {}).items()}
    m = sh.get("matching")
    cox = sh.get("cox") or {}
    s = sh.get("sensitivity")
    v: dict[str, str] = {
        "name": str(sh.get("name") or ""), "arm.column": str(arm.get("column") or ""),
        "arm.treated": str(arm.get("treated", "")), "arm.control": str(arm.get("control", "")),
        "arm.label.treated": short.get(str(arm.get("treated")), ""), "arm.label.control": short.get(str(arm.get("control")), ""),
        "arm.name.treated": levels.get(str(arm.get("treated")), ""), "arm.name.control": levels.get(str(arm.get("control")), ""),
        "cox.arm_reference": str(cox.get("arm_reference") or "control"),
        "covariates": names_text(sh.get("covariates")), "categorical": names_text(sh.get("categorical")),
        "nonnormal": names_text(sh.get("nonnormal")),
        "matching.enabled": "on" if m is not None else "",
        "cox.variables": names_text(cox.get("variables")), "cox.select_p": _num_text(cox.get("select_p")),
        "cox.ties": str(cox.get("ties") or "efron"), "subgroups": subgroups_text(sh.get("subgroups")),
        "sensitivity.enabled": "on" if s is not None else "",
    }
    mm = m if m is not None else default_section("matching")
    v.update({"matching.on": names_text(mm.get("on")), "matching.caliper": _num_text(mm.get("caliper")),
              "matching.std_caliper": "on" if mm.get("std_caliper", True) else "",
              "matching.ratio": _num_text(mm.get("ratio", 1)), "matching.replace": "on" if mm.get("replace") else "",
              "matching.order": str(mm.get("order") or "largest"), "matching.seed": _num_text(mm.get("seed", 1))})
    for i, e in enumerate(sh.get("endpoints") or []):
        v.update({f"endpoints.{i}.name": str(e.get("name") or ""), f"endpoints.{i}.time": str(e.get("time") or ""),
                  f"endpoints.{i}.event": str(e.get("event") or ""), f"endpoints.{i}.unit": str(e.get("unit") or ""),
                  f"endpoints.{i}.landmarks": ", ".join(_num_text(x) for x in e.get("landmarks") or [])})
    ss = s if s is not None else default_section("sensitivity")
    v.update({"sensitivity.exposure_start": str(ss.get("exposure_start") or ""), "sensitivity.centre": str(ss.get("centre") or ""),
              "sensitivity.landmarks": ", ".join(_num_text(x) for x in ss.get("landmarks") or []),
              "sensitivity.bootstrap.replicates": _num_text((ss.get("bootstrap") or {}).get("replicates", 1000)),
              "sensitivity.imputation.m": _num_text((ss.get("imputation") or {}).get("m", 20))})
    for var in sh.get("covariates") or []:
        entry = plan.labels.get(var) or {}
        v[f"labels.{var}.label"] = str(entry.get("label") or "")
        v[f"labels.{var}.unit"] = str(entry.get("unit") or "")
    methods = ss.get("methods")
    multi = {"report.formats": list((sh.get("report") or {}).get("formats") or []),
             "sensitivity.methods": list(METHOD_LABELS) if methods is None else list(methods),
             "sensitivity.weighting.estimands": list((ss.get("weighting") or {}).get("estimands") or ["ATE", "ATT", "ATO"])}
    return v, multi


# ------------------------------------------------------------------------------------------ validation


def stored_analysis(file_map: dict, new_effective: dict) -> dict:
    """What ``analysis:`` must hold so that, merged onto the built-in plan, it gives ``new_effective``:
    the file's own ``analysis:`` with the changes laid over it (a key the user wrote stays; the
    built-in plan is never copied in).  Falls back to the whole plan if the minimal form would not
    merge back to it exactly."""
    from .._overrides import deep_merge

    given = file_map.get("analysis") if isinstance(file_map.get("analysis"), Mapping) else {}
    before = _effective(file_map)
    stored = deep_merge(given, _diff(before, new_effective))
    if deep_merge(_builtin(), stored) != new_effective:
        return copy.deepcopy(new_effective)
    return stored


def _diff(before: Mapping, after: Mapping) -> dict:
    out: dict = {}
    for k, v in after.items():
        old = before.get(k, _MISSING)
        if old == v and type(old) is type(v):
            continue
        if isinstance(v, Mapping) and isinstance(old, Mapping):
            sub = _diff(old, v)
            if sub:
                out[k] = sub
        else:
            out[k] = copy.deepcopy(v)
    return out


_MISSING = object()


def new_file_mapping(plan: Plan, new_effective: dict, top_labels: dict) -> dict:
    """The whole study.yaml mapping after the form: the file's keys in their order, ``analysis:`` (and
    ``labels:`` when the file has one) replaced."""
    out = dict(plan.file)
    analysis = stored_analysis(plan.file, new_effective)
    if analysis or "analysis" in out:
        out["analysis"] = analysis
    if "labels" in plan.file and isinstance(plan.file.get("labels"), Mapping):
        out["labels"] = top_labels
    return out


def validate(mapping: dict) -> Checked:
    """``mapping`` (a whole study.yaml) validated by :class:`~hccstudy.config.StudyConfig`; each error
    is given to the form field its key names (``analysis.matching.caliper`` -> ``matching.caliper``),
    or to the nearest field above it, or to the top of the form."""
    from pydantic import ValidationError

    from ..config import StudyConfig

    out = Checked()
    try:
        out.config = StudyConfig.model_validate(mapping)
    except ValidationError as exc:
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            msg = str(e.get("msg", "")).removeprefix("Value error, ")
            if loc and loc[0] == "analysis":
                loc = loc[1:]
            if not loc and ": " in msg:  # a whole-plan check names its key first: "covariates: 'arm' is ..."
                head, rest = msg.split(": ", 1)
                if re.fullmatch(r"[A-Za-z_][\w.]*", head):
                    loc, msg = head.split("."), rest
            name = _field_for(loc)
            if name is None:
                out.general.append((".".join(loc) + ": " if loc else "") + msg)
            else:
                out.fields.setdefault(name, []).append(msg if ".".join(loc) == name else f"{'.'.join(loc)}: {msg}")
    except ValueError as exc:
        out.general.append(str(exc))
    return out


#: the form's fields that take an error of a key below them
_FIELDS = ("name", "arm.column", "arm.treated", "arm.control", "arm.labels", "covariates", "categorical", "nonnormal",
           "matching.on", "matching.caliper", "matching.std_caliper", "matching.ratio", "matching.replace",
           "matching.order", "matching.seed", "matching", "cox.variables", "cox.select_p", "cox.ties",
           "cox.arm_reference", "subgroups", "report.formats", "sensitivity.methods", "sensitivity.exposure_start",
           "sensitivity.centre", "sensitivity.landmarks", "sensitivity.bootstrap.replicates",
           "sensitivity.imputation.m", "sensitivity.weighting.estimands", "sensitivity.endpoints", "sensitivity",
           "endpoints")


def _field_for(loc: list[str]) -> str | None:
    """The form field for an error at ``loc`` (keys under ``analysis``)."""
    if not loc:
        return None
    if loc[0] == "endpoints" and len(loc) >= 3 and loc[1].isdigit():
        return f"endpoints.{loc[1]}.{loc[2]}"
    if loc[0] == "labels" and len(loc) >= 3:
        return f"labels.{loc[1]}.{loc[2]}"
    if loc[0] == "subgroups":
        return "subgroups"
    for n in range(len(loc), 0, -1):
        name = ".".join(loc[:n])
        if name in _FIELDS:
            return name
    return None


# ------------------------------------------------------------------------------------------ writing


def _dump(key: str, value) -> list[str]:
    text = yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)
    return text.splitlines(keepends=True)


def study_yaml_text(old_text: str, mapping: dict, keys: tuple[str, ...] = ("analysis", "labels")) -> tuple[str, bool]:
    """The new study.yaml text: the blocks of ``keys`` replaced by ``mapping``'s values (appended when
    absent), every other line as it was.  Returns (text, comments kept); when the spliced text does
    not read back to ``mapping``, the whole mapping is dumped instead (comments lost)."""
    from .._yaml import load_yaml
    from .studies import replace_key

    text = old_text
    for key in keys:
        if key in mapping:
            text = replace_key(text, key, "".join(_dump(key, mapping[key])))
    try:
        ok = (load_yaml(text) or {}) == mapping
    except Exception:  # noqa: BLE001 -- a splice that does not parse: rewrite the whole file
        ok = False
    if ok:
        return text, True
    return yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100), False


def save(path: Path, mapping: dict) -> bool:
    """Write ``mapping`` to study.yaml at ``path`` (atomically: a temporary file in the same folder,
    then a rename; the file's permissions kept).  Returns whether the comments were kept."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    text, kept = study_yaml_text(old, mapping)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return kept
