"""The plan form (issue 16, step 5): the analysis plan of study.yaml as a form, validated by the config
models with errors at their fields, saved into study.yaml with the user's other keys and comments kept.
Cheap: no run, no data read (the form works on study.yaml alone)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from hccstudy._yaml import read_mapping  # noqa: E402
from hccstudy.config import load_config  # noqa: E402
from hccstudy.web import plan_form  # noqa: E402
from hccstudy.web.app import create_app  # noqa: E402
from hccstudy.web.security import CSRF_FIELD  # noqa: E402
from hccstudy.web.settings import WebSettings  # noqa: E402
from hccstudy.web.studies import remember  # noqa: E402

STUDY_YAML = """# Study config.  A comment at the top, kept.
study:
  data_cutoff: 2023-12-31   # the cut-off, kept
centres:
  east:
    columns: {patients: {PID: patient_id}}   # a mapping the form never touches
# the plan: only what differs from the built-in one
analysis:
  sensitivity: null
  report:
    formats: []
# a comment before the last key, kept
units:
  bilirubin_factor: 17.1
"""


class _Form(HTMLParser):
    """The fields of the page's form as a browser would submit them (checked boxes only)."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append((a["name"], a.get("value") or ("on" if a.get("type") == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and "selected" in a:
            self.fields.append((self._select, a["value"]))

    def handle_data(self, data):
        if self._textarea:
            self.fields[-1] = (self._textarea, self.fields[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def _submit(html: str, **changes) -> dict[str, list[str]]:
    p = _Form()
    p.feed(html)
    out: dict[str, list[str]] = {}
    for k, v in p.fields:
        out.setdefault(k, []).append(v)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v if isinstance(v, list) else [v]
    return out


@pytest.fixture
def site(tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text(STUDY_YAML, encoding="utf-8")
    home = tmp_path / "home"
    info = remember(WebSettings(home=home, background_checks=False), study)
    c = TestClient(create_app(WebSettings(home=home, background_checks=False)), base_url="http://127.0.0.1")
    c.get("/")
    return c, info.sid, study / "study.yaml"


def _errors(html: str) -> list[str]:
    return re.findall(r'<div class="err" role="alert">([^<]*)</div>', html)


def test_form_shows_the_effective_plan(site):
    c, sid, _path = site
    page = c.get(f"/s/{sid}/plan")
    assert page.status_code == 200
    p = _Form()
    p.feed(page.text)
    fields = {}
    for k, v in p.fields:
        fields.setdefault(k, []).append(v)
    assert fields["matching.caliper"] == ["0.03"] and fields["arm.treated"] == ["SE"]
    assert fields["arm.name.treated"] == ["Sequential (SE)"]
    assert "matching.enabled" in fields and "sensitivity.enabled" not in fields  # sensitivity: null in the file
    assert fields["endpoints.0.name"] == ["os"] and fields["endpoints.1.landmarks"] == ["6, 12, 24"]
    assert "report.formats" not in fields  # formats: [] -> no box checked
    assert fields["labels.age.label"] == ["Age"] and fields["labels.age.unit"] == ["years"]


def test_unchanged_form_leaves_the_file_as_it_is(site):
    c, sid, path = site
    r = c.post(f"/s/{sid}/plan", data=_submit(c.get(f"/s/{sid}/plan").text), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("saved=unchanged")
    assert path.read_text() == STUDY_YAML


def test_saving_keeps_other_keys_and_comments(site):
    c, sid, path = site
    form = _submit(c.get(f"/s/{sid}/plan").text, **{"matching.caliper": "0.1", "matching.replace": "on",
                                                       "matching.ratio": "2", "labels.age.label": "Age at first HAIC",
                                                       "arm.name.control": "Simultaneous"})
    r = c.post(f"/s/{sid}/plan", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("saved=kept")
    text = path.read_text()
    for line in ("# Study config.  A comment at the top, kept.", "  data_cutoff: 2023-12-31   # the cut-off, kept",
                 "    columns: {patients: {PID: patient_id}}   # a mapping the form never touches",
                 "# a comment before the last key, kept", "units:\n  bilirubin_factor: 17.1"):
        assert line in text, line
    data = read_mapping(path)
    # only the changes are written under analysis:, on top of what the user had there
    assert data["analysis"]["matching"] == {"caliper": 0.1, "replace": True, "ratio": 2}
    assert data["analysis"]["sensitivity"] is None and data["analysis"]["report"] == {"formats": []}
    assert "covariates" not in data["analysis"]  # the built-in plan is not copied in
    cfg = load_config(path)  # exactly what the CLI reads
    assert cfg.analysis.matching.caliper == 0.1 and cfg.analysis.matching.replace and cfg.analysis.matching.ratio == 2
    assert cfg.analysis.labels["age"].label == "Age at first HAIC"
    assert cfg.analysis.labels["arm"].levels["SI"] == "Simultaneous"
    assert cfg.centres["east"].columns == {"patients": {"PID": "patient_id"}}
    assert "saved" in c.get(f"/s/{sid}/plan?saved=kept").text.lower()


def test_errors_are_shown_at_their_fields_and_nothing_is_saved(site):
    c, sid, path = site
    form = _submit(c.get(f"/s/{sid}/plan").text, **{"matching.caliper": "-1", "matching.ratio": "two",
                                                       "cox.select_p": "2"})
    r = c.post(f"/s/{sid}/plan", data=form, follow_redirects=False)
    assert r.status_code == 422
    assert path.read_text() == STUDY_YAML
    html = r.text
    # each message sits in its field's block, and is the model's own message
    for name, message in (("matching.caliper", "greater than 0"), ("matching.ratio", "valid integer"),
                          ("cox.select_p", "less than or equal to 1")):
        block = re.search(rf'<div class="field invalid">\s*<label for="f-{re.escape(name)}">.*?</div>\s*</div>', html, re.S)
        assert block is not None, name
        assert message in block.group(0), (name, block.group(0))
    # the submitted values are shown back, not the saved ones
    assert 'value="two"' in html and 'value="-1"' in html


def test_whole_plan_rule_goes_to_its_field(site):
    """A check of the whole plan (the arm column cannot be a covariate) names its key; the form puts
    it at that field."""
    c, sid, path = site
    form = _submit(c.get(f"/s/{sid}/plan").text, covariates="age, arm")
    r = c.post(f"/s/{sid}/plan", data=form, follow_redirects=False)
    assert r.status_code == 422 and path.read_text() == STUDY_YAML
    block = re.search(r'<div class="field invalid">\s*<label for="f-covariates">.*?</textarea>(.*?)</div>\s*</div>', r.text, re.S)
    assert block is not None and "arm column" in block.group(1)


def test_optional_sections_on_and_off(site):
    c, sid, path = site
    # matching off, sensitivity on with two methods and fewer bootstrap replicates, no figures -> PNG only
    form = _submit(c.get(f"/s/{sid}/plan").text, **{"matching.enabled": None, "sensitivity.enabled": "on",
                                                       "sensitivity.methods": ["unadjusted", "rmst"],
                                                       "report.formats": ["png"]})
    r = c.post(f"/s/{sid}/plan", data=form, follow_redirects=False)
    assert r.status_code == 303, _errors(r.text)
    cfg = load_config(path)
    assert cfg.analysis.matching is None
    assert cfg.analysis.sensitivity is not None and cfg.analysis.sensitivity.methods == ["unadjusted", "rmst"]
    assert cfg.analysis.report.formats == ["png"]
    # and back: matching on again gives the built-in matching with the form's values
    form = _submit(c.get(f"/s/{sid}/plan").text, **{"matching.enabled": "on", "matching.on": "age, sex",
                                                       "matching.caliper": "", "sensitivity.enabled": None})
    r = c.post(f"/s/{sid}/plan", data=form, follow_redirects=False)
    assert r.status_code == 303, _errors(r.text)
    cfg = load_config(path)
    assert cfg.analysis.matching.on == ["age", "sex"] and cfg.analysis.matching.caliper is None
    assert cfg.analysis.sensitivity is None


def test_endpoints_and_subgroups(site):
    c, sid, path = site
    form = _submit(c.get(f"/s/{sid}/plan").text, **{"endpoints.1.name": "", "endpoints.0.landmarks": "12, 36",
                                                       "subgroups": "sex\nage: 65\nmvi"})
    r = c.post(f"/s/{sid}/plan", data=form, follow_redirects=False)
    assert r.status_code == 303, _errors(r.text)
    plan = load_config(path).analysis
    assert [e.name for e in plan.endpoints] == ["os"] and plan.endpoints[0].landmarks == [12.0, 36.0]
    assert [s if isinstance(s, str) else (s.variable, s.cut) for s in plan.subgroups] == ["sex", ("age", 65.0), "mvi"]


def test_post_needs_csrf(site):
    c, sid, path = site
    form = _submit(c.get(f"/s/{sid}/plan").text, **{"matching.caliper": "0.2"})
    form[CSRF_FIELD] = ["forged"]
    assert c.post(f"/s/{sid}/plan", data=form).status_code == 403
    form.pop(CSRF_FIELD)
    assert c.post(f"/s/{sid}/plan", data=form).status_code == 403
    assert path.read_text() == STUDY_YAML


def test_unreadable_study_yaml_is_never_overwritten(site):
    c, sid, path = site
    form = _submit(c.get(f"/s/{sid}/plan").text)
    bad = "analysis:\n  matching: [unclosed\n"
    path.write_text(bad, encoding="utf-8")
    page = c.get(f"/s/{sid}/plan")
    assert page.status_code == 200 and "cannot be read" in page.text
    assert c.post(f"/s/{sid}/plan", data=form).status_code == 409
    assert path.read_text() == bad


def test_top_level_labels_are_edited_where_they_take_effect(tmp_path):
    """A file with a top-level labels: gets the form's label edits there (it is laid over the plan's)."""
    path = tmp_path / "study.yaml"
    path.write_text("labels:\n  age: {label: Age (y)}\n", encoding="utf-8")
    plan = plan_form.current_plan(path)
    values, multi = plan_form.form_values(plan)
    assert values["labels.age.label"] == "Age (y)"
    new, top = plan_form.apply_form(plan, {**values, "labels.age.label": "Age at diagnosis"}, multi)
    mapping = plan_form.new_file_mapping(plan, new, top)
    assert plan_form.validate(mapping).ok
    assert mapping["labels"]["age"]["label"] == "Age at diagnosis" and "analysis" not in mapping
    plan_form.save(path, mapping)
    assert load_config(path).analysis.labels["age"].label == "Age at diagnosis"


def test_splice_falls_back_to_a_whole_rewrite(tmp_path):
    """A file the splice cannot handle (flow style at the top) is rewritten whole; the caller is told."""
    text, kept = plan_form.study_yaml_text("{analysis: {matching: {caliper: 0.05}}}\n",
                                           {"analysis": {"matching": {"caliper": 0.1}}})
    assert not kept and read_mapping_text(text) == {"analysis": {"matching": {"caliper": 0.1}}}
    text, kept = plan_form.study_yaml_text("# top\nstudy: {}\n", {"study": {}, "analysis": {"name": "X"}})
    assert kept and text.startswith("# top\nstudy: {}\n") and read_mapping_text(text)["analysis"] == {"name": "X"}


def read_mapping_text(text: str) -> dict:
    from hccstudy._yaml import load_yaml

    return load_yaml(text)


def test_save_is_atomic_and_keeps_the_mode(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("analysis: {}\n", encoding="utf-8")
    path.chmod(0o600)
    plan_form.save(path, {"analysis": {"name": "T"}})
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml"]  # no temporary file left
    assert Path(path).read_text().startswith("analysis:")
