"""`hccstudy serve` in a real browser: issue 16's steps 1-7 on the built-in study, end to end.

Selenium drives Debian's headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver; .ci/run installs
both, and the test is skipped with the reason where either is absent) against a fresh
``hccstudy serve --no-browser`` subprocess whose state lives in a temporary HCCSTUDY_HOME.  The walk
(tests/web_helpers.py): create a study from the built-in synthetic study; drop the north centre's
patients.csv with one header misnamed on the files page; see the validation error; find the "did you
mean" suggestion preselected on the mapping page and save it; see validation pass and open a record;
try a negative caliper (refused at its field), then save caliper 0.1 with the sensitivity analyses off
(they are most of a run's time); run and watch the progress bars until the report is ready; open the
report (its methods name the new caliper); download tables.docx and open it as a Word document.  A
screenshot is saved after each step; docs/web.md shows the same walk's (``python tests/web_helpers.py
docs/images/web``).
"""

from __future__ import annotations

import re
import time

import pytest

from web_helpers import (
    DOCS_SHOTS,
    PATIENT_ID,
    ROOT,
    TEST_SHOTS,
    Shots,
    browser_missing,
    chrome,
    serve,
    walk_through,
)


@pytest.mark.costly  # a whole run of the built-in study (~25 s of its own without the sensitivity analyses)
@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
def test_the_whole_study_in_a_real_browser(tmp_path):
    t0 = time.perf_counter()
    with serve(tmp_path / "home", tmp_path / "server.log") as server:
        driver = chrome(tmp_path / "downloads")
        try:
            shots = Shots(driver, tmp_path / "screenshots")
            walk = walk_through(driver, server.url, shots, tmp_path, tmp_path / "home")
        finally:
            driver.quit()
        log = server.log_text()
    print(f"browser walk: {time.perf_counter() - t0:.1f} s ("
          + ", ".join(f"{k} {v:.1f} s" for k, v in walk.timings.items()) + f"); screenshots in {shots.folder}")

    # a screenshot of each step, each a real PNG, as docs/web.md shows them
    assert [p.name for p in shots.paths] == TEST_SHOTS
    for p in shots.paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p
    assert walk.docx_tables >= 5
    # the server logged the requests, and no patient identifier
    assert re.search(rf"GET /s/{walk.sid}/runs/{re.escape(walk.rid)} 200", log), log[-2000:]
    leaked = sorted(set(PATIENT_ID.findall(log)))
    assert not leaked, f"patient identifiers in the server log: {leaked[:5]}"
    assert "Traceback" not in log, log[-3000:]
    # the run process's own log (RUNS/<rid>/log.txt, hccstudy.web.runner): no traceback either
    run_log = walk.study / ".hccstudy" / "runs" / walk.rid / "log.txt"
    assert "Traceback" not in (run_log.read_text(encoding="utf-8") if run_log.exists() else ""), run_log


def test_docs_web_shows_a_screenshot_of_each_step():
    """docs/web.md shows every screenshot of the walk, each step's section has one, and every image
    it links exists (docs/images/web holds nothing else)."""
    doc = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")
    linked = re.findall(r"!\[[^\]]+\]\(images/web/([^)]+)\)", doc)
    assert sorted(linked) == sorted(DOCS_SHOTS), "each screenshot once"
    on_disk = sorted(p.name for p in (ROOT / "docs" / "images" / "web").glob("*"))
    assert on_disk == sorted(DOCS_SHOTS)
    for step in range(1, 8):
        section = re.search(rf"^### {step}\. .*?(?=^##)", doc, re.M | re.S)
        assert section and "![" in section.group(0), f"step {step} has no screenshot in docs/web.md"
