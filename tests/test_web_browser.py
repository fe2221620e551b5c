"""`hccstudy serve` in a real browser: issue 16's steps 1-7 on the built-in study, end to end.

Selenium drives Debian's headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver; .ci/run installs
both, and the test is skipped with the reason where either is absent) against a fresh
``hccstudy serve --no-browser`` subprocess whose state lives in a temporary HCCSTUDY_HOME.  The walk
(tests/web_helpers.py): create a study from the built-in synthetic study; upload the north centre's
patients.csv with one header misnamed; map it on the mapping page (the "did you mean" suggestion is
preselected: it is checked, then saved); see validation pass; change the caliper in the plan form (and
turn the sensitivity analyses off, to keep the test's run short); run it and watch the progress bar
until the report is ready; open the report; download tables.docx and check that it is a Word file.
A screenshot is saved after each step (the same walk draws docs/images/web/).
"""

from __future__ import annotations

import time

import pytest

from web_helpers import PATIENT_ID, Shots, browser_missing, chrome, serve, walk_through

pytestmark = [pytest.mark.costly,  # a whole run of the built-in study (~25 s without the sensitivity block)
              pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")]


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

    # a screenshot of each step, each a real PNG
    assert len(shots.paths) >= 7, [p.name for p in shots.paths]
    for p in shots.paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p
    # the server logged the requests, and no patient identifier
    assert "GET /s/" in log, log[-2000:]
    leaked = sorted(set(PATIENT_ID.findall(log)))
    assert not leaked, f"patient identifiers in the server log: {leaked[:5]}"
