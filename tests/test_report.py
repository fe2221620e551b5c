"""`hccstudy run`: the whole study to a report (HTML, Excel, Word, figures, results, manifest)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from hccstudy.analysis.labels import Dictionary, parse_labels
from hccstudy.cli import app
from hccstudy.report.format import p_value
from hccstudy.stats.tests import format_p
from web_helpers import browser_missing, chrome

runner = CliRunner()


@pytest.fixture(scope="module")
def report(builtin_run) -> Path:
    return builtin_run.out


def test_report_folder_contents(report):
    names = {p.name for p in report.iterdir()}
    assert {"report.html", "tables.xlsx", "tables.docx", "results.json", "analysis_table.parquet", "manifest.json",
            "figures", "synthetic-data", "calibration.csv"} <= names
    figs = {p.name for p in (report / "figures").iterdir()}
    for stem in ("km_os_full", "km_os_matched", "km_pfs_full", "km_pfs_matched", "love_plot", "ps_distribution",
                 "patient_flow",
                 "forest_univariable_os_matched", "forest_multivariable_os_matched", "forest_subgroups_os_matched"):
        assert {f"{stem}.{ext}" for ext in ("png", "svg", "pdf", "tiff")} <= figs, stem
    table = pd.read_parquet(report / "analysis_table.parquet")
    assert len(table) == 575 and {".hcc_pair", ".hcc_distance", ".hcc_weight", "os_months", "child_pugh_class"} <= set(table.columns)


def test_tiff_is_600_dpi_lzw(report):
    from PIL import Image
    im = Image.open(report / "figures" / "km_os_matched.tiff")
    assert im.info.get("compression") == "tiff_lzw"
    assert round(im.info["dpi"][0]) == 600


def test_manifest(report):
    m = json.loads((report / "manifest.json").read_text())
    assert m["seed"] == 6
    assert set(m["timings_s"]) == {"generate", "ingest", "analyze", "report"}
    assert len(m["inputs"]) == 25 and all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert m["versions"]["numpy"] and m["analysis_config"]["matching"]["caliper"] == 0.03
    assert m["study_config"]["eligibility"]["ecog_max"] == 1


def _labels(report) -> Dictionary:
    """The dictionary the run used (its analysis config's labels, in manifest.json): the oracle for
    the labels the tables show."""
    m = json.loads((report / "manifest.json").read_text())
    return Dictionary.from_config(parse_labels(m["analysis_config"]["labels"]))


def _sheet(wb, caption: str):
    """The sheet of the table with this caption (the Contents sheet lists them) and its rows as dicts."""
    contents = {r[1]: r[0] for r in wb["Contents"].iter_rows(min_row=2, values_only=True) if str(r[0]).startswith("Table ")}
    ws = wb[contents[caption]]
    assert ws["A1"].value == f"{contents[caption]}. {caption}"  # the caption in the first row
    header = [c.value for c in ws[2]]
    rows = []
    for r in ws.iter_rows(min_row=3, values_only=True):  # the table ends at the first empty row (then the footnote)
        if all(v is None for v in r):
            break
        rows.append(dict(zip(header, r, strict=True)))
    return ws, rows


def test_xlsx_numbers_match_results(report):
    res = json.loads((report / "results.json").read_text())
    d = _labels(report)
    os_, se = d.endpoint("os"), d.level("arm", "SE")
    wb = load_workbook(report / "tables.xlsx")
    assert wb.sheetnames == ["Contents", *[f"Table {k}" for k in range(1, len(wb.sheetnames))]]
    captions = [r[1] for r in wb["Contents"].iter_rows(min_row=2, values_only=True) if str(r[0]).startswith("Table ")]
    for c in ("Patient flow: screened, excluded by criterion, included by group",
              "Baseline characteristics before and after propensity-score matching",
              "Covariate balance before and after matching (MatchIt summary)", f"{os_} by group",
              f"Univariable Cox regression for {os_}, matched patients",
              "Adverse events (CTCAE v5.0) by group, matched patients", "Published vs recovered estimates (synthetic cohort)"):
        assert c in captions, c
    _, rows = _sheet(wb, f"{os_} by group")
    row = [r for r in rows if r["Sample"] == "matched patients" and r["Group"] == se][0]
    km = res["endpoints"]["os"]["matched"]["km"]["SE"]
    assert isinstance(row["Median"], float) and row["Median"] == pytest.approx(km["median"])
    assert row["Survival at 12 months"] == pytest.approx(km["landmarks"][1]["surv"])
    assert [r["Group"] for r in rows][:2] == [se, d.level("arm", "SI")]  # the reference arm (SE) first
    si = [r for r in rows if r["Sample"] == "matched patients" and r["Group"] != se][0]
    assert si["HR"] == pytest.approx(res["endpoints"]["os"]["matched"]["cox_arm_robust"]["hr"])
    _, rows = _sheet(wb, f"Multivariable Cox regression for {os_}, matched patients")
    multi = res["endpoints"]["os"]["matched"]["cox_multivariate"]
    assert len(rows) == len(multi) and all(isinstance(r["HR"], float) for r in rows)
    assert [r["HR"] for r in rows] == pytest.approx([r["hr"] for r in multi])
    assert [r["P"] for r in rows] == pytest.approx([r["p"] for r in multi])


def test_docx_tables_match_results(report):
    from docx import Document
    res = json.loads((report / "results.json").read_text())
    d = _labels(report)
    doc = Document(report / "tables.docx")
    texts = [p.text for p in doc.paragraphs]
    captions = [t for t in texts if re.match(r"Table \d+\. ", t)]
    assert [int(t.split()[1].rstrip(".")) for t in captions] == list(range(1, len(doc.tables) + 1))  # every table numbered
    assert f"Multivariable Cox regression for {d.endpoint('os')}, matched patients" in [c.split(". ", 1)[1] for c in captions]
    assert len(doc.inline_shapes) >= 13 and len([t for t in texts if re.match(r"Figure \d+\. ", t)]) == len(doc.inline_shapes)
    multi = res["endpoints"]["os"]["matched"]["cox_multivariate"]
    tables = [t for t in doc.tables if t.rows[0].cells[0].text == "Variable"]
    rows = [[c.text for c in r.cells] for r in tables[1].rows[1:]]  # [0] univariable OS, [1] multivariable OS
    assert [r[1] for r in rows] == [f"{m['hr']:.2f} ({m['lcl']:.2f}\u2013{m['ucl']:.2f})" for m in multi]  # en dash
    assert [r[2] for r in rows] == [p_value(m["p"]) for m in multi]  # the report's P rule (docs/report.md)
    assert all(r[2] == format_p(m["p"]) for r, m in zip(rows, multi, strict=True) if 0.001 <= m["p"] < 0.9995)
    t1 = [t for t in doc.tables if t.rows[0].cells[0].text == "Characteristic"][0]
    assert t1.rows[0].cells[1].text.startswith(d.level("arm", "SE"))  # the reference arm first
    assert t1.rows[1].cells[1].text == "200" and t1.rows[1].cells[2].text == "375"
    # three-line style: the header cells carry top and bottom rules
    assert "w:top" in t1.rows[0].cells[0]._tc.xml and "w:bottom" in t1.rows[0].cells[0]._tc.xml


def test_the_three_formats_number_the_same_tables(report):
    """One section list, three renderers: the same tables with the same numbers and captions."""
    from html import unescape

    from docx import Document
    page = (report / "report.html").read_text()
    in_html = [unescape(c) for c in re.findall(r"<caption>(Table \d+\. [^<]*)</caption>", page)]
    in_docx = [p.text for p in Document(report / "tables.docx").paragraphs if re.match(r"Table \d+\. ", p.text)]
    wb = load_workbook(report / "tables.xlsx")
    in_xlsx = [wb[name]["A1"].value for name in wb.sheetnames[1:]]
    assert in_html == in_docx == in_xlsx and len(in_html) >= 15


def test_html_is_self_contained(report):
    html = (report / "report.html").read_text()
    assert "http://" not in html and "https://" not in html.replace("https://www.w3.org", "")
    assert html.count("data:image/png;base64,") >= 9
    for section in ("Patient flow", "Table 1", "Balance", "Survival", "Tumour response", "Adverse events",
                    "Reproduction of the published study", "caliper 0.03"):
        assert section in html


def test_cli_run_logs_json_and_writes_every_output(builtin_run, builtin_cli_run):
    """`hccstudy run --out DIR --log-json` on the built-in study prints one JSON line per stage and writes
    every output, figures in every format: the files that its :func:`hccstudy.run_study` call reports
    (and the raw records it generated), with a manifest.json that timed every stage.  (The session's one whole run; that the CLI and
    the library call give the same bytes, and a second run too: tests/test_pipeline.py, on the example.)"""
    out, r = builtin_cli_run.out, builtin_cli_run
    assert r.exit_code == 0, r.output
    stages = [json.loads(line)["stage"] for line in r.output.splitlines() if line.startswith("{")]
    assert stages == ["generate", "ingest", "analyze", "report"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    reported = {str(p.relative_to(builtin_run.out)) for p in builtin_run.files}
    # every file the library call reports, and besides them only the marker and the raw records it generated
    assert reported <= set(files)
    assert set(files) - reported == {".hccstudy-output.json"} | {f for f in files if f.startswith("synthetic-data/")}
    assert {"results.json", "tables.xlsx", "tables.docx", "table1_before.csv", "balance.csv", "calibration.csv",
            "figures/km_os_matched.png", "figures/km_os_matched.svg", "figures/km_os_matched.pdf",
            "figures/km_os_matched.tiff", "synthetic-data/central.xlsx"} <= set(files)
    assert set(json.loads((out / "manifest.json").read_text())["timings_s"]) == set(stages)


def test_bad_input_stops_before_any_output(tmp_path):
    shutil.copytree(Path(__file__).parent.parent / "src" / "hccstudy" / "data" / "example", tmp_path / "study")
    p = tmp_path / "study" / "alpha" / "patients.csv"
    p.write_text(p.read_text().replace("A02,female,61", "A02,female,sixty-one", 1))
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(tmp_path / "study"), "--out", str(out)])
    assert r.exit_code == 2
    assert not out.exists() and not [q for q in tmp_path.iterdir() if q.name.startswith(".out.")]


def page_check(driver, html: Path) -> tuple[dict[str, str], list[str]]:
    """Open the page in the browser (headless Chromium at its window size): the data- attributes its load
    check set on <body> once the page loaded, and the console errors (console.error, uncaught exceptions)."""
    from selenium.webdriver.support.ui import WebDriverWait

    from web_helpers import SLOW

    driver.get(html.resolve().as_uri())  # returns after the load event, whose handler sets the attributes
    WebDriverWait(driver, SLOW, poll_frequency=0.2).until(
        lambda d: d.execute_script("return document.body.hasAttribute('data-height')"), "the report's load check did not run")
    attrs = driver.execute_script("return Array.from(document.body.attributes).filter(function (a) {"
                                  " return a.name.startsWith('data-'); }).map(function (a) { return [a.name.slice(5), a.value]; })")
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return dict(attrs), errors


def section_screenshots(driver, sections: str, height: int, folder: Path, width: int = 1280) -> list[Path]:
    """One screenshot of the whole page (the viewport made ``width`` x ``height``, the page's full height),
    cut into one PNG per section by the offsets the page reported ("key:top:height ...")."""
    import base64

    from PIL import Image
    full = folder / "report-full.png"
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    full.write_bytes(base64.b64decode(driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]))
    out = []
    with Image.open(full) as im:
        assert im.size == (width, height), im.size
        for k, part in enumerate(sections.split()):
            key, top, h = part.rsplit(":", 2)
            top, bottom = int(top), min(int(top) + int(h), im.height)
            if bottom <= top:
                continue
            path = folder / f"section-{k + 1:02d}-{key}.png"
            im.crop((0, top, width, bottom)).save(path)
            out.append(path)
    return out


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
def test_report_opens_in_headless_chromium(report, tmp_path):
    """At 1280 x 800: every image loads, no console error, no table wider than the page (a wide
    table scrolls inside its box) and the page itself does not scroll sideways; then a screenshot of
    each section is saved into the test's folder (tmp_path) for the developer to look at.  One Chromium
    (Selenium through chromedriver, tests/web_helpers.py) opens the page once for both."""
    html = report / "report.html"
    driver = chrome(tmp_path / "downloads", height=800, console=True)
    try:
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(1280 + 1280 - inner[0], 800 + 800 - inner[1])  # the page gets 1280 x 800
        attrs, errors = page_check(driver, html)
        assert driver.execute_script("return [window.innerWidth, window.innerHeight]") == [1280, 800]
        assert "images" in attrs, "the report's load check did not run"
        assert int(attrs["images"]) >= 9 and attrs["broken-images"] == "0"
        assert not errors, errors
        assert int(attrs["tables"]) >= 15
        assert attrs["overflowing-tables"] == "0" and attrs["page-overflow"] == "0", attrs
        keys = [p.rsplit(":", 2)[0] for p in attrs["sections"].split()]
        assert keys[:3] == ["methods", "flow", "table1"] and {"manuscript", "strobe"} <= set(keys)
        shots = section_screenshots(driver, attrs["sections"], int(attrs["height"]), tmp_path)
    finally:
        driver.quit()
    assert [p.name.split("-", 2)[2][:-4] for p in shots] == keys
    assert all(p.stat().st_size > 2_000 for p in shots)


def test_no_code_name_in_the_built_in_report(builtin_run):
    """Issue 11: report.html, tables.docx and tables.xlsx of the built-in study show labels, never the
    code names of the variables, levels, Cox terms or AE columns (the dictionary is the oracle)."""
    from report_text import code_names_in, report_texts

    labels = builtin_run.results.config.labels
    assert len(labels) >= 40  # the built-in dictionary reached the plan
    for name, text in report_texts(builtin_run.out).items():
        assert len(text) > 1000, name
        found = code_names_in(text, labels)
        assert not found, f"{name}: code names shown: {found}"
    html = (builtin_run.out / "report.html").read_text(encoding="utf-8")
    assert "AFP &gt; 400 ng/mL" in html or "AFP > 400 ng/mL" in html
    assert "Shown under their code names" not in html  # every term had a label
