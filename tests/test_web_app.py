"""HTTP tests of the web app's steps 1-4 (studies, files, mapping, validation) and of its defences:
CSRF, host and token, uploads checked by content and size, path escapes, no patient id in the log.

Cheap by design: the 20-patient example study (``hccstudy example study``), copied per test; never the
built-in study's run."""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from hccstudy.examples import example_path  # noqa: E402
from hccstudy.web import WebSettings, create_app  # noqa: E402
from hccstudy.web.checks import Check, page  # noqa: E402
from hccstudy.web.security import UnsafePath, check_upload, clean_name, safe_child, sniff  # noqa: E402

EXAMPLE = example_path("study")
CSV = b"patient_id,sex\nA01,male\n"


def _client(home: Path, **kw) -> TestClient:
    kw.setdefault("background_checks", False)  # each test asks for what it needs, nothing runs behind it
    return TestClient(create_app(WebSettings(home=home, **kw)), raise_server_exceptions=False,
                      base_url="http://127.0.0.1:8765")


def _csrf(c: TestClient) -> str:
    if "hccstudy_csrf" not in c.cookies:
        c.get("/")
    return c.cookies["hccstudy_csrf"]


def _new_study(c: TestClient, parent: Path, name: str = "ex", start: str = "example") -> tuple[str, Path]:
    r = c.post("/studies/new", data={"name": name, "parent": str(parent), "start": start, "csrf_token": _csrf(c)},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    sid = r.headers["location"].split("/")[2]
    return sid, parent / name


@pytest.fixture
def app_env(tmp_path):
    home = tmp_path / "home"
    c = _client(home)
    sid, folder = _new_study(c, tmp_path)
    return c, sid, folder, tmp_path


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory):
    """One example study with two bad ages (2 errors), shared by the tests that only read it: its
    validation is computed once for the module."""
    tmp = tmp_path_factory.mktemp("web")
    c = _client(tmp / "home")
    sid, folder = _new_study(c, tmp)
    _broken(folder)
    return c, sid, folder, tmp


# -- step 1: studies ---------------------------------------------------------------------------------

def test_home_page_sets_the_csrf_cookie_and_ships_htmx_from_the_package(tmp_path):
    c = _client(tmp_path / "home")
    r = c.get("/")
    assert r.status_code == 200 and "Create a study" in r.text and "No study yet" in r.text
    assert len(c.cookies["hccstudy_csrf"]) >= 32
    js = c.get("/static/htmx.min.js")
    assert js.status_code == 200 and b"htmx" in js.content[:2000]
    assert all(u.startswith("/") for u in re.findall(r'(?:src|href)="([^"]+)"', r.text))  # no CDN, nothing remote


def test_create_example_study_lists_it_and_writes_the_cli_study_yaml(app_env):
    c, sid, folder, _ = app_env
    assert (folder / "study.yaml").is_file() and (folder / "alpha" / "patients.csv").is_file()
    assert (folder / "gamma.xlsx").read_bytes() == (EXAMPLE / "gamma.xlsx").read_bytes()
    r = c.get("/")
    assert f"/s/{sid}/files" in r.text and str(folder) in r.text
    from hccstudy.config import load_config

    load_config(folder / "study.yaml")  # the same file the CLI reads


@pytest.mark.parametrize("start", ["empty", "templates"])
def test_create_empty_and_template_studies(tmp_path, start):
    c = _client(tmp_path / "home")
    _, folder = _new_study(c, tmp_path, "s1", start)
    assert (folder / "study.yaml").is_file()
    assert (folder / "templates" / "centre_template.xlsx").is_file() == (start == "templates")
    assert c.get("/").status_code == 200
    if start == "templates":
        sid = c.get("/").text.split('href="/s/')[1].split("/")[0]
        page = c.get(f"/s/{sid}/files").text
        assert "files/template?name=centre_template.xlsx" in page and "csv/patients.csv" in page
        r = c.get(f"/s/{sid}/files/template?name=centre_template.xlsx")
        assert r.status_code == 200 and r.content == (folder / "templates" / "centre_template.xlsx").read_bytes()
        assert c.get(f"/s/{sid}/files/template?name=../study.yaml").status_code == 400
        assert c.get(f"/s/{sid}/files/template?name=nope.xlsx").status_code == 404


def test_create_refuses_an_existing_folder_and_bad_names(tmp_path):
    c = _client(tmp_path / "home")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("keep")
    tok = _csrf(c)
    r = c.post("/studies/new", data={"name": "taken", "parent": str(tmp_path), "start": "empty", "csrf_token": tok})
    assert r.status_code == 400 and "already exists" in r.text and "Traceback" not in r.text
    assert (tmp_path / "taken" / "x.txt").read_text() == "keep"
    r = c.post("/studies/new", data={"name": "..", "parent": str(tmp_path), "start": "empty", "csrf_token": tok})
    assert r.status_code == 400
    r = c.post("/studies/new", data={"name": "a", "parent": str(tmp_path), "start": "nope", "csrf_token": tok})
    assert r.status_code == 400 and "unknown starting point" in r.text
    r = c.post("/studies/new", data={"name": "a", "parent": "relative/dir", "start": "empty", "csrf_token": tok})
    assert r.status_code == 400 and "full path" in r.text


def test_open_folder_adds_study_yaml_only_and_refuses_missing(tmp_path):
    c = _client(tmp_path / "home")
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE, data, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    r = c.post("/studies/open", data={"folder": str(data), "csrf_token": _csrf(c)}, follow_redirects=False)
    assert r.status_code == 303
    assert (data / "study.yaml").is_file()
    assert {p: p.read_bytes() for p in before} == before
    r = c.post("/studies/open", data={"folder": str(tmp_path / "nope"), "csrf_token": _csrf(c)})
    assert r.status_code == 400 and "not a folder" in r.text


def test_unknown_study_is_a_friendly_404(tmp_path):
    c = _client(tmp_path / "home")
    for path in ("/s/0123456789ab/files", "/s/0123456789ab/mapping", "/s/0123456789ab/validation",
                 "/s/0123456789ab/validation/record?i=0", "/s/0123456789ab/validation/flow.svg"):
        r = c.get(path)
        assert r.status_code == 404 and "open it from the Studies page" in r.text and "Traceback" not in r.text


# -- security ----------------------------------------------------------------------------------------

def test_csrf_missing_or_wrong_is_403_and_the_header_works(tmp_path):
    c = _client(tmp_path / "home")
    c.get("/")
    data = {"name": "x", "parent": str(tmp_path), "start": "empty"}
    assert c.post("/studies/new", data=data).status_code == 403
    assert c.post("/studies/new", data={**data, "csrf_token": "forged"}).status_code == 403
    r = c.post("/studies/new", data=data, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert not (tmp_path / "x").exists()
    fresh = _client(tmp_path / "home")  # no cookie at all: a cross-site form post
    assert fresh.post("/studies/new", data={**data, "csrf_token": "abc"}).status_code == 403
    r = c.post("/studies/new", data=data, headers={"X-CSRF-Token": c.cookies["hccstudy_csrf"]}, follow_redirects=False)
    assert r.status_code == 303 and (tmp_path / "x" / "study.yaml").is_file()


def test_csrf_protects_every_post_route(broken_env):
    c, sid, folder, tmp = broken_env
    before = (folder / "study.yaml").read_bytes()
    for path in ("/studies/new", "/studies/open", f"/s/{sid}/files/upload", f"/s/{sid}/files/folder", f"/s/{sid}/mapping"):
        assert c.post(path, data={"csrf_token": "bad"}).status_code == 403, path
    assert (folder / "study.yaml").read_bytes() == before


def test_host_header_must_be_loopback_without_a_token(tmp_path):
    c = _client(tmp_path / "home")
    assert c.get("/", headers={"host": "127.0.0.1:8765"}).status_code == 200
    assert c.get("/", headers={"host": "localhost:8765"}).status_code == 200
    assert c.get("/", headers={"host": "evil.example:8765"}).status_code == 403
    assert c.get("/", headers={"host": "testserver"}).status_code == 403


def test_token_is_required_on_every_request_when_set(tmp_path):
    tok = "s3cret-token-0123456789"
    c = _client(tmp_path / "home", host="0.0.0.0", token=tok)
    assert c.get("/", headers={"host": "10.0.0.5:8765"}).status_code == 401
    assert c.get("/static/app.css").status_code == 401
    assert c.get("/?token=wrong").status_code == 401
    r = c.get(f"/?token={tok}", headers={"host": "10.0.0.5:8765"})
    assert r.status_code == 200 and c.cookies.get("hccstudy_token") == tok
    assert c.get("/").status_code == 200  # the cookie carries it from now on
    other = _client(tmp_path / "home", host="0.0.0.0", token=tok)
    assert other.get("/", headers={"Authorization": f"Bearer {tok}"}).status_code == 200


def test_safe_child_refuses_every_escape(tmp_path):
    root = tmp_path / "study"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    assert safe_child(root, "alpha/patients.csv") == root.resolve() / "alpha" / "patients.csv"
    for bad in ("../x.csv", "alpha/../../x.csv", "/etc/passwd", "C:/x.csv", "a\\..\\b", "", "link/x.csv", "x\x00.csv"):
        with pytest.raises(UnsafePath):
            safe_child(root, bad)
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("C:\\data\\centre A.csv") == "centre A.csv"
    with pytest.raises(UnsafePath):
        clean_name("..")


def test_uploads_are_sniffed_by_content():
    assert sniff(b"a,b\n1,2\n") == "csv" and sniff(b"PK\x03\x04rest") == "xlsx" and sniff(b"PAR1....") == "parquet"
    assert sniff(b"\x00\x01\x02binary") is None and sniff(b"\x7fELF\x02\x01\x01\x00") is None
    assert check_upload("labs.csv", "ALT (U/L),dat\u00e9\n".encode()) == "csv"
    for name, head in (("p.csv", b"PK\x03\x04zip"), ("p.xlsx", b"a,b\n"), ("p.parquet", b"a,b\n"), ("p.exe", b"a,b"),
                       ("p.csv", b"\x89PNG\r\n\x1a\n\x00\x00")):
        with pytest.raises(ValueError):
            check_upload(name, head)


# -- step 2: files -----------------------------------------------------------------------------------

def _upload(c, sid, files, **data):
    return c.post(f"/s/{sid}/files/upload", data={"csrf_token": _csrf(c), **data}, files=files)


def test_upload_copies_the_file_and_leaves_the_original(app_env):
    c, sid, folder, tmp = app_env
    original = tmp / "my export.csv"
    original.write_bytes((EXAMPLE / "alpha" / "patients.csv").read_bytes())
    stamp = original.stat().st_mtime_ns
    with open(original, "rb") as fh:
        r = _upload(c, sid, [("files", ("my export.csv", fh, "text/csv"))], centre="delta", record_type="patients")
    assert r.status_code == 200 and "Added delta/patients.csv" in r.text
    assert (folder / "delta" / "patients.csv").read_bytes() == original.read_bytes()
    assert original.stat().st_mtime_ns == stamp
    assert "delta/patients.csv" in c.get(f"/s/{sid}/files").text
    # again: refused without 'replace', accepted with it
    r = _upload(c, sid, [("files", ("patients.csv", CSV, "text/csv"))], centre="delta")
    assert r.status_code == 400 and "already exists" in r.text
    r = _upload(c, sid, [("files", ("patients.csv", CSV, "text/csv"))], centre="delta", replace="on")
    assert r.status_code == 200 and (folder / "delta" / "patients.csv").read_bytes() == CSV
    assert "Replaced delta/patients.csv" in r.text and "Added" not in r.text


def test_upload_of_a_workbook_is_a_whole_centre(app_env):
    c, sid, folder, _ = app_env
    book = (EXAMPLE / "gamma.xlsx").read_bytes()
    r = _upload(c, sid, [("files", ("Epsilon.xlsx", book, "application/octet-stream"))], centre="epsilon")
    assert r.status_code == 200 and (folder / "epsilon.xlsx").read_bytes() == book


@pytest.mark.parametrize("name,content,why", [
    ("patients.csv", b"PK\x03\x04" + b"\x00" * 100, "not a CSV"),
    ("patients.xlsx", b"patient_id,sex\n", "not a XLSX"),
    ("patients.parquet", b"patient_id\n", "not a PARQUET"),
    ("patients.exe", b"MZ\x90\x00", "only CSV, Excel"),
    ("notes.csv", CSV, "choose what the file holds"),
    ("zeta.xlsx", b"PK\x03\x04" + b"\x00" * 100, "not an Excel workbook"),
    ("patients.parquet", b"PAR1" + b"\x00" * 50, "not a Parquet file"),
    ("zeta.xlsx", None, "without xl/workbook.xml"),
])
def test_bad_uploads_are_refused_with_one_line(app_env, name, content, why):
    c, sid, folder, _ = app_env
    if content is None:  # a Word-like zip: right magic bytes, not a workbook
        import io
        import zipfile

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("word/document.xml", "<w/>")
        content = buf.getvalue()
    r = _upload(c, sid, [("files", (name, content, "application/octet-stream"))], centre="zeta")
    assert r.status_code == 400 and why in r.text and "Traceback" not in r.text
    assert not (folder / "zeta").exists() and not (folder / "zeta.xlsx").exists()


def test_upload_over_the_size_limit_is_413(tmp_path):
    c = _client(tmp_path / "home", max_upload_bytes=10_000)
    sid, folder = _new_study(c, tmp_path, "small", "empty")
    big = b"patient_id,sex\n" + b"A01,male\n" * 5000
    r = _upload(c, sid, [("files", ("patients.csv", big, "text/csv"))], centre="big")
    assert r.status_code == 413 and "larger than the limit of 10 KB" in r.text and "File too large" in r.text
    assert not (folder / "big").exists()
    # the same body sent in chunks, without a Content-Length: counted as it arrives
    b = "XyZ"
    body = (f'--{b}\r\nContent-Disposition: form-data; name="centre"\r\n\r\nbig\r\n--{b}\r\nContent-Disposition: '
            f'form-data; name="files"; filename="patients.csv"\r\nContent-Type: text/csv\r\n\r\n').encode() + big \
        + f"\r\n--{b}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={b}", "x-csrf-token": _csrf(c)}
    r = c.post(f"/s/{sid}/files/upload", content=(body[i:i + 4096] for i in range(0, len(body), 4096)), headers=headers)
    assert r.status_code == 413 and not (folder / "big").exists()


def test_upload_names_cannot_escape_the_study(app_env):
    c, sid, folder, tmp = app_env
    r = _upload(c, sid, [("files", ("../../patients.csv", CSV, "text/csv"))], centre="../../evil")
    assert r.status_code == 200
    assert (folder / "evil" / "patients.csv").read_bytes() == CSV
    assert not (tmp / "evil").exists() and not (tmp / "patients.csv").exists()
    r = _upload(c, sid, [("files", ("/etc/patients.csv", CSV, "text/csv"))], centre="/abs")
    assert r.status_code == 200 and (folder / "abs" / "patients.csv").is_file()


def test_a_symlinked_centre_folder_is_never_written_through(app_env):
    c, sid, folder, tmp = app_env
    outside = tmp / "outside"
    outside.mkdir()
    (folder / "linked").symlink_to(outside)
    r = _upload(c, sid, [("files", ("patients.csv", CSV, "text/csv"))], centre="linked")
    assert r.status_code == 400 and "leaves the study folder" in r.text
    assert list(outside.iterdir()) == []


def test_add_a_folder_copies_centres_and_skips_links(app_env):
    c, sid, folder, tmp = app_env
    src = tmp / "export"
    shutil.copytree(EXAMPLE / "beta", src / "omega")
    secret = tmp / "secret.csv"
    secret.write_bytes(CSV)
    (src / "omega" / "labs.csv").unlink()
    (src / "omega" / "labs.csv").symlink_to(secret)
    before = sorted((p.name, p.is_symlink()) for p in (src / "omega").iterdir())
    r = c.post(f"/s/{sid}/files/folder", data={"path": str(src), "csrf_token": _csrf(c)})
    assert r.status_code == 200 and "Copied" in r.text
    assert (folder / "omega" / "patients.csv").read_bytes() == (EXAMPLE / "beta" / "patients.csv").read_bytes()
    assert not (folder / "omega" / "labs.csv").exists()  # the link was skipped, not followed
    assert sorted((p.name, p.is_symlink()) for p in (src / "omega").iterdir()) == before
    for bad, why in ((str(tmp / "nope"), "not a folder"), ("relative", "full path"), (str(folder), "study folder itself")):
        r = c.post(f"/s/{sid}/files/folder", data={"path": bad, "csrf_token": _csrf(c)})
        assert r.status_code == 400 and why in r.text, bad


# -- step 3: mapping ---------------------------------------------------------------------------------

def _form_fields(html: str) -> list[tuple[str, str]]:
    """The (name, value) pairs a browser would post for the mapping form (selected options, hidden inputs)."""
    out = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
        hit = re.search(r'<option value="([^"]*)" selected', body)
        out.append((name, hit.group(1) if hit else ""))
    import html as h

    return [(h.unescape(k), h.unescape(v)) for k, v in out]


def test_mapping_suggests_a_misnamed_column_and_saves_it_into_study_yaml(app_env):
    c, sid, folder, _ = app_env
    p = folder / "alpha" / "patients.csv"
    p.write_text(p.read_text().replace("ecog", "ECOG_PS", 1))
    assert "error" in c.get(f"/s/{sid}/validation").text  # ecog is missing under the default config
    r = c.get(f"/s/{sid}/mapping")
    assert r.status_code == 200
    assert re.search(r'data-field="ecog" data-file="alpha/patients.csv">.*?<option value="ECOG_PS" selected', r.text, re.S)
    r = c.post(f"/s/{sid}/mapping", data={**dict(_form_fields(r.text)), "next": "validate"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    from hccstudy.config import load_config

    cfg = load_config(folder / "study.yaml")
    assert cfg.centres["alpha"].columns == {"patients": {"ECOG_PS": "ecog"}}
    assert "# hccstudy study config" in (folder / "study.yaml").read_text()  # the commented skeleton is kept
    v = c.get(f"/s/{sid}/validation")
    assert "no errors" in v.text and "Validation passed" in v.text
    from typer.testing import CliRunner

    from hccstudy.cli import app as cli

    r = CliRunner().invoke(cli, ["validate", str(folder), "--config", str(folder / "study.yaml")])
    assert r.exit_code == 0, r.output  # the command line reads the same study.yaml the same way


def test_mapping_that_the_config_refuses_is_not_saved(app_env):
    c, sid, folder, _ = app_env
    r = c.get(f"/s/{sid}/mapping")
    fields = _form_fields(r.text)
    before = (folder / "study.yaml").read_bytes()
    keys = {v: k[len("colkey-"):] for k, v in fields if k.startswith("colkey-")}
    n_sex = keys['["alpha", "patients", "sex"]']
    # the column 'age' chosen for sex too (it is already age's): refused by the form
    bad = dict(fields) | {f"col-{n_sex}": "age"}
    r = c.post(f"/s/{sid}/mapping", data=bad)
    assert r.status_code == 400 and "not saved" in r.text and "is chosen for both" in r.text
    # an allowed-value list the config does not accept (hand-made post): refused by load_config, not written
    n_val = "0"
    r = c.post(f"/s/{sid}/mapping", data=dict(fields) | {f"valkey-{n_val}": '["alpha", "sex", "x"]', f"val-{n_val}": "martian"})
    assert r.status_code == 400 and "not saved" in r.text and "not a value of sex" in r.text
    assert (folder / "study.yaml").read_bytes() == before


def test_mapping_offers_coded_values_by_did_you_mean(app_env):
    c, sid, folder, _ = app_env
    p = folder / "alpha" / "patients.csv"
    p.write_text(p.read_text().replace(",male,", ",mal,", 1))
    r = c.get(f"/s/{sid}/mapping")
    row = re.search(r'<td class="mono">sex</td><td class="mono">mal</td>.*?</tr>', r.text, re.S)
    assert row and '<option value="male" selected' in row.group(0)
    r = c.post(f"/s/{sid}/mapping", data=dict(_form_fields(r.text)))
    assert r.status_code == 200 and "Saved" in r.text
    from hccstudy.config import load_config

    assert load_config(folder / "study.yaml").centres["alpha"].values == {"sex": {"mal": "male"}}


# -- step 4: validation ------------------------------------------------------------------------------

def _broken(folder: Path) -> None:
    p = folder / "alpha" / "patients.csv"
    lines = p.read_text().splitlines()
    head = lines[0].split(",")
    i = head.index("age")
    for k in (1, 2):
        cells = lines[k].split(",")
        cells[i] = "abc"
        lines[k] = ",".join(cells)
    p.write_text("\n".join(lines) + "\n")


def test_validation_table_record_and_flow_update_after_a_fix(app_env):
    c, sid, folder, _ = app_env
    assert "flow.svg" in c.get(f"/s/{sid}/validation").text
    original = (folder / "alpha" / "patients.csv").read_bytes()
    _broken(folder)
    r = c.get(f"/s/{sid}/validation")
    assert r.status_code == 200 and "2 errors" in r.text and "flow.svg" not in r.text
    assert c.get(f"/s/{sid}/validation/flow.svg").status_code == 404
    i = re.search(r'/validation/record\?i=(\d+)&amp;[^"]*" class="badge error"', r.text).group(1)
    rec = c.get(f"/s/{sid}/validation/record?i={i}&sort=row&severity=error&evil=x")
    assert f'href="/s/{sid}/validation?sort=row&amp;severity=error"' in rec.text  # back to the table as it was
    assert rec.status_code == 200 and 'id="highlighted"' in rec.text
    hl = re.search(r'id="highlighted"><th class="hl">([^<]+)</th><td class="mono hl">([^<]*)</td>', rec.text)
    assert hl.groups() == ("age", "abc")
    v = re.search(r'/validation/changed\?v=(\w+)"', r.text).group(1)
    assert c.get(f"/s/{sid}/validation/changed?v={v}").status_code == 204
    (folder / "alpha" / "patients.csv").write_bytes(original)  # the fix
    changed = c.get(f"/s/{sid}/validation/changed?v={v}")
    assert changed.status_code == 200 and changed.headers["HX-Refresh"] == "true"  # the page reloads itself
    r = c.get(f"/s/{sid}/validation")
    assert "no errors" in r.text and "flow.svg" in r.text
    svg = c.get(f"/s/{sid}/validation/flow.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"Patients screened" in svg.content
    assert c.get(f"/s/{sid}/validation/record?i=x").status_code == 400
    assert c.get(f"/s/{sid}/validation/record?i=99999").status_code == 404


def test_validation_filters_and_sorts_on_the_server(broken_env):
    c, sid, folder, _ = broken_env
    r = c.get(f"/s/{sid}/validation?severity=error&sort=row&desc=1")
    rows = re.findall(r'<td class="num">(\d*)</td>', r.text)
    assert rows == sorted(rows, key=int, reverse=True) and len(rows) == 2
    r = c.get(f"/s/{sid}/validation?severity=warning&rule=nope")
    assert "No issue matches these filters" in r.text
    part = c.get(f"/s/{sid}/validation?severity=error", headers={"HX-Request": "true", "HX-Target": "issues"})
    assert part.status_code == 200 and "<html" not in part.text and "issue-table" in part.text
    assert c.get(f"/s/{sid}/validation?page=abc&sort=evil").status_code == 200


def test_page_slices_fifty_rows_stably():
    import pandas as pd

    n = 120
    issues = pd.DataFrame({"severity": ["error", "warning"] * (n // 2), "centre": ["a", "b", "c"] * (n // 3),
                           "file": "f.csv", "row": list(range(n, 0, -1)), "column": "x", "value": "",
                           "rule": "r", "message": "m"})
    c = Check((), issues, n // 2, n // 2, {}, None, None, 0.0)
    rows, total = page(c, page_no=3)
    assert total == n and len(rows) == 20
    first, _ = page(c, sort="row", page_no=1)
    assert first["row"].tolist() == list(range(1, 51))
    sub, total = page(c, centre="b", severity="warning", sort="row", desc=True)
    assert total == 20 and sub["row"].is_monotonic_decreasing and set(sub["centre"]) == {"b"}
    assert page(c, q="F.CSV")[1] == n


# -- errors and the log ------------------------------------------------------------------------------

def test_an_internal_error_is_a_friendly_page_and_the_log_has_no_message(broken_env, monkeypatch, caplog):
    c, sid, _, _ = broken_env
    import hccstudy.web.checks as checks

    def boom(folder):
        raise RuntimeError("patient A01 broke it")

    monkeypatch.setattr(checks, "check", boom)
    with caplog.at_level(logging.INFO, logger="hccstudy.web"):
        r = c.get(f"/s/{sid}/validation")
    assert r.status_code == 500 and "Internal error: the server log has the details" in r.text
    assert "Traceback" not in r.text and "A01" not in r.text
    assert "RuntimeError" in caplog.text and "A01" not in caplog.text


def test_no_patient_identifier_reaches_the_log_or_a_url_path(broken_env, caplog):
    c, sid, folder, _ = broken_env
    ids = set()
    for p in folder.glob("*/patients.csv"):
        ids |= {line.split(",")[0] for line in p.read_text().splitlines()[1:]}
    assert "A01" in ids
    with caplog.at_level(logging.INFO, logger="hccstudy.web"):
        pages = [c.get(f"/s/{sid}/{p}").text for p in ("files", "mapping", "validation")]
        hrefs = re.findall(r'href="([^"]+)"', " ".join(pages))
        for h in {h for h in hrefs if "/record" in h}:
            assert c.get(h).status_code == 200
    assert caplog.records, "the app logs one line per request"
    logged = caplog.text
    assert not any(re.search(rf"\b{re.escape(i)}\b", logged) for i in ids)
    assert not any(re.search(rf"\b{re.escape(i)}\b", h.split("?")[0]) for h in hrefs for i in ids)


# -- the serve command -------------------------------------------------------------------------------

def test_serve_refuses_a_public_host_without_a_token(monkeypatch):
    from typer.testing import CliRunner

    import hccstudy.web.serve as serve
    from hccstudy.cli import app

    calls = []
    monkeypatch.setattr(serve, "serve_app", lambda **kw: calls.append(kw))
    monkeypatch.setattr(serve, "port_problem", lambda host, port: None)
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "--token" in r.output and "Traceback" not in r.output and not calls
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--token", "short"])
    assert r.exit_code == 2 and not calls
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 0 and calls[-1]["host"] == "127.0.0.1" and calls[-1]["open_browser"] is True
    r = CliRunner().invoke(app, ["serve", "--no-browser", "--port", "9000", "--host", "0.0.0.0",
                                 "--token", "0123456789abcdefXYZ"])
    assert r.exit_code == 0 and calls[-1] == {"host": "0.0.0.0", "port": 9000, "token": "0123456789abcdefXYZ",
                                              "open_browser": False, "say": calls[-1]["say"]}


def test_page_times_on_the_example_study(broken_env, capsys):
    """Not a timed assertion (the machine is shared): prints each page's time once the study's check
    is cached, for the record; benchmarks/bench_web.py measures the built-in and a 100k study."""
    c, sid, _, _ = broken_env
    c.get(f"/s/{sid}/validation")
    c.get(f"/s/{sid}/mapping")
    times = {}
    for p in ("files", "mapping", "validation", "validation?sort=rule&page=1", "validation/record?i=0"):
        t0 = time.perf_counter()
        assert c.get(f"/s/{sid}/{p}").status_code in (200, 404)
        times[p] = round(1000 * (time.perf_counter() - t0))
    with capsys.disabled():
        print("\nweb page times (ms, example study, cached):", times)


def test_serve_prints_the_address_with_the_token_and_turns_uvicorn_access_log_off(monkeypatch, tmp_path):
    import uvicorn

    monkeypatch.setenv("HCCSTUDY_HOME", str(tmp_path / "home"))
    from hccstudy.web import serve
    from hccstudy.web.settings import WebSettings as S

    assert serve.url_of(S(port=8765)) == "http://127.0.0.1:8765/"
    assert serve.url_of(S(host="::1", port=1, token="t" * 16)) == f"http://[::1]:1/?token={'t' * 16}"
    seen = {}

    class FakeServer:
        def __init__(self, config):
            seen["config"] = config
            self.started = True

        def run(self):
            seen["ran"] = True

    opened = []
    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    monkeypatch.setattr(serve.webbrowser, "open", opened.append)
    said = []
    serve.serve_app("127.0.0.1", 8799, None, open_browser=False, say=said.append)
    cfg = seen["config"]
    assert seen["ran"] and cfg.host == "127.0.0.1" and cfg.port == 8799 and cfg.access_log is False
    for _ in range(100):  # said from a thread once the server has started
        if said:
            break
        time.sleep(0.02)
    assert said == ["hccstudy is running at http://127.0.0.1:8799/ (Ctrl-C to stop)"] and not opened


def test_serve_refuses_a_port_in_use():
    import socket

    from typer.testing import CliRunner

    from hccstudy.cli import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(app, ["serve", "--port", str(port), "--no-browser"])
    assert r.exit_code == 2 and "choose another --port" in r.output and "Traceback" not in r.output


def test_replace_key_swaps_one_top_level_block_and_keeps_the_rest():
    from hccstudy.web.studies import replace_key

    text = "# head\nunits:\n  bilirubin_factor: 17.1\ncentres:\n  old: {}\n\n  # inside\n# after\nanalysis:\n  x: 1\n"
    out = replace_key(text, "centres", "centres:\n  new:\n    units: {}\n")
    assert out == "# head\nunits:\n  bilirubin_factor: 17.1\ncentres:\n  new:\n    units: {}\n# after\nanalysis:\n  x: 1\n"
    assert replace_key("a: 1", "centres", "centres: {}") == "a: 1\ncentres: {}\n"  # appended
    assert replace_key("# centres:\n#   x: {}\n", "centres", "centres: {}\n").endswith("#   x: {}\ncentres: {}\n")
    assert replace_key("centres: {}\n", "centres", "centres:\n  a: {}\n") == "centres:\n  a: {}\n"


def test_the_app_shows_the_issues_the_cli_reports(broken_env, tmp_path):
    """A thin layer: the validation table holds exactly `hccstudy validate --csv`'s issues."""
    import pandas as pd
    from typer.testing import CliRunner

    from hccstudy.cli import app as cli
    from hccstudy.web.checks import check

    _, _, folder, _ = broken_env
    out = tmp_path / "issues.csv"
    r = CliRunner().invoke(cli, ["validate", str(folder), "--config", str(folder / "study.yaml"), "--csv", str(out)])
    assert r.exit_code == 2, r.output
    cli_issues = pd.read_csv(out, dtype=str, keep_default_na=False)
    app_issues = check(folder).issues.astype(str)
    cols = ["severity", "centre", "file", "row", "column", "value", "rule", "message"]
    assert len(app_issues) == len(cli_issues) > 0
    assert app_issues[cols].to_dict("records") == cli_issues[cols].to_dict("records")
