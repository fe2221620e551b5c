"""Step 5: the plan form.

    GET  /s/{sid}/plan     the analysis plan of study.yaml as a form
    POST /s/{sid}/plan     validate it with the config models (errors at their fields) and save study.yaml

The form, its parsing and the careful rewrite of study.yaml are :mod:`.plan_form`; this module only
wires them to the pages.  A saved plan is exactly what ``hccstudy run --config study.yaml`` reads.
"""

from __future__ import annotations

import shlex

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse

from . import plan_form
from .render import render, settings_of, study_dir

router = APIRouter()


def _page(request: Request, sid: str, plan: plan_form.Plan, values: dict, multi: dict,
          checked: plan_form.Checked | None = None, status_code: int = 200, saved: str | None = None):
    from .studies import info

    folder = study_dir(request, sid)
    n_endpoints = 0
    while f"endpoints.{n_endpoints}.name" in values:
        n_endpoints += 1
    parts = ("name", "time", "event", "unit", "landmarks")
    while n_endpoints and not any(values.get(f"endpoints.{n_endpoints - 1}.{p}", "").strip() for p in parts):
        n_endpoints -= 1  # the blank "add an endpoint" row sent back: shown once, not twice
    covariates = plan_form._names(values.get("covariates", ""))
    return render(request, "plan.html", status_code=status_code, title="Plan", step="plan", sid=sid,
                  study=info(settings_of(request), sid), v=values, multi=multi,
                  errors=(checked.fields if checked else {}), general=(checked.general if checked else []),
                  file_error=plan.error, saved=saved, n_endpoints=n_endpoints, covariates=covariates,
                  methods=plan_form.METHOD_LABELS, formats=plan_form.FORMATS, orders=plan_form.MATCH_ORDERS,
                  estimands=plan_form.ESTIMANDS, config_path=folder / "study.yaml",
                  cli_command=f"hccstudy run {shlex.quote(str(folder))} --config {shlex.quote(str(folder / 'study.yaml'))}")


@router.get("/s/{sid}/plan")
def plan_page(request: Request, sid: str, saved: str | None = None):
    folder = study_dir(request, sid)
    plan = plan_form.current_plan(folder / "study.yaml")
    values, multi = plan_form.form_values(plan)
    return _page(request, sid, plan, values, multi, saved=saved)


@router.post("/s/{sid}/plan")
async def save_plan(request: Request, sid: str):
    folder = study_dir(request, sid)
    path = folder / "study.yaml"
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    multi = {k: [x for x in form.getlist(k) if isinstance(x, str)]
             for k in ("report.formats", "sensitivity.methods", "sensitivity.weighting.estimands")}
    plan = plan_form.current_plan(path)
    if plan.error:  # a study.yaml that does not even load: never overwrite it from the form
        return _page(request, sid, plan, values, multi, status_code=409)
    new_effective, top_labels = plan_form.apply_form(plan, values, multi)
    mapping = plan_form.new_file_mapping(plan, new_effective, top_labels)
    checked = plan_form.validate(mapping)
    if not checked.ok:
        return _page(request, sid, plan, values, multi, checked, status_code=422)
    if mapping == plan.file:
        return RedirectResponse(f"/s/{sid}/plan?saved=unchanged", status_code=303)
    kept = plan_form.save(path, mapping)
    return RedirectResponse(f"/s/{sid}/plan?saved={'kept' if kept else 'rewritten'}", status_code=303)
