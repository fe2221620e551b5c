"""``hccstudy init``: a new study folder's skeleton, generated from the config model and the data model.

Layout written (see docs/data-model.md, "Your own study")::

    DIR/study.yaml                        every key commented out, with its default and what it means
    DIR/templates/csv/<record type>.csv   header-only CSV templates
    DIR/templates/centre_template.xlsx    one sheet per record type, header comments and data validation

The user copies the CSV templates into ``DIR/<centre>/`` (one folder per centre) or the workbook to
``DIR/<centre>.xlsx``, fills them, and runs ``hccstudy validate DIR --config DIR/study.yaml``.  The
``templates`` folder is never read as a centre.

study.yaml is rendered from the pydantic model (defaults, descriptions, choices and plausible ranges), so
it cannot drift from what the config accepts; :func:`study_yaml` takes the model so that a root model
with more keys renders the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from .._ranges import Interval, _unwrap, describe
from ..schema.templates import write_csv_templates, write_excel_template
from .config import CohortConfig

__all__ = ["CENTRES_EXAMPLE", "study_yaml", "write_skeleton"]

#: the commented example of the ``centres`` key (docs/config.md, Centres)
CENTRES_EXAMPLE = """\
# centres:                 # each centre's own column names, codes and units (hccstudy map DIR suggests them)
#   east:                  # a centre: its folder DIR/east/ or workbook DIR/east.xlsx
#     columns:             # per record type: their column -> data-model field
#       patients: {PatientID: patient_id, ECOG_PS: ecog, Gender: sex}
#     values:              # per coded field: their code -> data-model value
#       sex: {M: male, F: female, 1: male, 2: female}
#     units:               # the unit of a lab column that has no unit column
#       bilirubin: mg/dL
"""

#: keys a root model may have that are documented elsewhere, each with the comment line that stands for it
ELSEWHERE = {"analysis": '# analysis: see "hccstudy plan --show"',
             "labels": '# labels:                 # display labels, units, level names (docs/analyze.md, "Labels")\n'
                       '#   max_diameter_cm: {label: "Maximum tumour diameter", unit: cm}'}


def _scalar(v: Any) -> str:
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, BaseModel):
        v = v.model_dump()
    text = yaml.safe_dump(v, default_flow_style=True, allow_unicode=True, sort_keys=False, width=1 << 20).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _fields(model) -> list[tuple[str, Any, Any, str]]:
    """(name, annotation, default, description) of a pydantic model or (pydantic) dataclass."""
    hints = typing.get_type_hints(model, include_extras=True)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [(k, hints.get(k, f.annotation), f.get_default(call_default_factory=True), f.description or "")
                for k, f in model.model_fields.items()]
    out = []
    for f in dataclasses.fields(model):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append((f.name, hints[f.name], default, ""))
    return out


def _is_model(tp) -> bool:
    return isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))


def _note(annotation, description: str) -> str:
    """What a key means: its description, its choices (a Literal) or plausible range (an Interval)."""
    tp, meta, optional, is_list = _unwrap(annotation)
    parts = [description] if description else []
    if typing.get_origin(tp) is Literal:
        parts.append(("each " if is_list else "") + "one of: " + ", ".join(map(str, typing.get_args(tp))))
    iv = next((m for m in meta if isinstance(m, Interval)), None)
    if iv is not None and describe(iv) != "any":
        parts.append(f"range {describe(iv)}")
    if optional:
        parts.append("null = off")
    return "; ".join(parts)


def _render(model, indent: int) -> list[str]:
    lines = []
    pad = "  " * indent
    for name, annotation, default, description in _fields(model):
        if indent == 0 and name in ELSEWHERE:
            lines.append(ELSEWHERE[name])
            continue
        if indent == 0 and name == "centres":
            lines.append(CENTRES_EXAMPLE.rstrip("\n"))
            continue
        tp = _unwrap(annotation)[0]
        if _is_model(tp) and not _unwrap(annotation)[3]:
            lines.append(f"# {pad}{name}:" + (f"  # {description}" if description else ""))
            lines += _render(tp, indent + 1)
            continue
        note = _note(annotation, description)
        lines.append(f"# {pad}{name}: {_scalar(default)}" + (f"  # {note}" if note else ""))
    return lines


def study_yaml(model: type[BaseModel] = CohortConfig) -> str:
    """study.yaml with every key of ``model`` commented out (its default, meaning, choices or range), a
    commented ``centres`` example and ``# analysis: see "hccstudy plan --show"``.  As written it loads to
    the defaults; uncomment a line to change that key."""
    head = ["# hccstudy study config: every key is optional; each line shows the default.",
            "# Uncomment a key to change it (docs/config.md).  Validate with:",
            "#   hccstudy validate DIR --config DIR/study.yaml", "#"]
    body = _render(model, 0)
    for key, text in ELSEWHERE.items():
        if not any(line.startswith(f"# {key}:") for line in body):
            body.extend(text.split("\n"))
    return "\n".join(head + body) + "\n"


def write_skeleton(folder: str | Path, model: type[BaseModel] = CohortConfig) -> list[Path]:
    """Write study.yaml and the CSV and Excel templates into ``folder`` (see the module docstring);
    returns the paths written."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    cfg = root / "study.yaml"
    cfg.write_text(study_yaml(model), encoding="utf-8")
    paths = [cfg, *write_csv_templates(root / "templates" / "csv")]
    paths.append(write_excel_template(root / "templates" / "centre_template.xlsx"))
    return paths
