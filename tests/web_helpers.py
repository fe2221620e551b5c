"""The real-browser walk through `hccstudy serve` (issue 16, steps 1-7), shared by the test and the docs.

tests/test_web_browser.py runs :func:`walk_through` against a fresh ``hccstudy serve`` with its
screenshots in a pytest temporary folder; the screenshots of docs/web.md are the same walk's, written
into docs/images/web by running this file::

    python tests/web_helpers.py docs/images/web       # ~1-2 min: a run of the built-in study

Selenium drives Debian's Chromium (/usr/bin/chromium) through Debian's chromedriver
(/usr/bin/chromedriver, package chromium-driver), headless.  Both paths are given explicitly, so that
Selenium Manager never looks for a browser or a driver on the network.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Debian's paths (packages chromium and chromium-driver), or the first on PATH
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")

#: the built-in study's centre and file whose header the walk misnames, and how: the new name is one the
#: "did you mean" rule of `hccstudy map` suggests for the field, so the mapping page preselects it
MISNAMED_CENTRE = "north"
MISNAMED_FILE = "patients.csv"
MISNAMED_FIELD = "max_diameter_cm"
MISNAMED_AS = "tumour_max_diam_cm"
#: the caliper the walk sets in the plan form (the built-in plan's is 0.03... whatever it is, not this)
NEW_CALIPER = "0.1"

#: a patient identifier of the built-in study (centre letter + five digits): never in the server's log
PATIENT_ID = re.compile(r"\b[A-Z]\d{5}\b")

WIDTH = 1280
#: the longest wait for one page or one check (validating the built-in study takes 5 s on a quiet
#: machine; the suite's parallel load on 2 cores can make it several times that)
SLOW = 180.0


def browser_missing() -> str | None:
    """Why the browser walk cannot run here (``None`` when it can)."""
    if not CHROMIUM.exists():
        return f"Chromium is not installed ({CHROMIUM}; Debian package 'chromium'); .ci/run installs it"
    if not CHROMEDRIVER.exists():
        return (f"chromedriver is not installed ({CHROMEDRIVER}; Debian package 'chromium-driver'); "
                ".ci/run installs it")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the server ---------------------------------------------------------------------------------------

@dataclass
class Server:
    url: str                      # http://127.0.0.1:PORT (no trailing slash)
    log: Path                     # the server's stdout + stderr
    process: subprocess.Popen = field(repr=False)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(home: Path, log: Path, timeout: float = 60.0) -> Iterator[Server]:
    """``hccstudy serve --no-browser --port PORT`` of this source tree as a subprocess, with its state in
    ``home`` (HCCSTUDY_HOME) and its output in ``log``; stopped (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    env = dict(os.environ, HCCSTUDY_HOME=str(home), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hccstudy", "serve", "--no-browser", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hccstudy serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hccstudy serve did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield Server(url=url, log=log, process=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the browser --------------------------------------------------------------------------------------

def chrome(download_dir: Path, height: int = 900, console: bool = False):
    """Headless Chromium driven by Debian's chromedriver; downloads go to ``download_dir``; with
    ``console`` the page's console messages are kept (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={WIDTH},{height}", "--hide-scrollbars", "--force-device-scale-factor=1",
              "--lang=en-GB", "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    download_dir.mkdir(parents=True, exist_ok=True)
    opts.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                           "download.prompt_for_download": False,
                                           "safebrowsing.enabled": False})
    if console:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(download_dir), "eventsEnabled": True})
    driver.set_page_load_timeout(SLOW)
    return driver


class Shots:
    """Full-page screenshots, one per step: ``NN-name.png`` in ``folder`` (the page's whole height up
    to ``max_height``, so that a screenshot shows what the step shows)."""

    def __init__(self, driver, folder: Path, max_height: int = 2400):
        self.driver, self.folder, self.max_height, self.n = driver, folder, max_height, 0
        folder.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []

    def __call__(self, name: str, at=None, height: int | None = None, block: str = "start") -> Path:
        """Screenshot the page from its top (its whole height, at most ``max_height``), or, with ``at``
        (an element), a window of ``height`` (default 1000) pixels scrolled to that element."""
        d = self.driver
        size = d.get_window_size()
        # the window's own frame (headless Chromium keeps one): the page gets the height asked for
        frame = int(d.execute_script("return Math.max(0, window.outerHeight - window.innerHeight)"))
        if at is None:
            full = d.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
            d.set_window_size(WIDTH, frame + max(600, min(int(full), height or self.max_height)))
            d.execute_script("window.scrollTo(0, 0)")
        else:
            d.set_window_size(WIDTH, frame + (height or 1000))
            d.execute_script("arguments[0].scrollIntoView({block: arguments[1]});"
                             "if (arguments[1] === 'start') window.scrollBy(0, -16)", at, block)
        time.sleep(0.3)
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        d.save_screenshot(str(path))
        d.set_window_size(size["width"], size["height"])
        self.paths.append(path)
        return path


# -- the data the walk uploads ------------------------------------------------------------------------

def misnamed_copy(study: Path, into: Path) -> Path:
    """``study/north/patients.csv`` with the header :data:`MISNAMED_FIELD` renamed :data:`MISNAMED_AS`
    (nothing else changed), written to ``into/patients.csv``: a centre's file as a centre sends it."""
    src = study / MISNAMED_CENTRE / MISNAMED_FILE
    text = src.read_text(encoding="utf-8")
    head, _, rest = text.partition("\n")
    cols = next(csv.reader(io.StringIO(head)))
    assert MISNAMED_FIELD in cols and MISNAMED_AS not in cols, cols
    cols[cols.index(MISNAMED_FIELD)] = MISNAMED_AS
    into.mkdir(parents=True, exist_ok=True)
    out = into / MISNAMED_FILE
    out.write_text(",".join(cols) + "\n" + rest, encoding="utf-8")
    return out


def check_docx(path: Path) -> int:
    """The number of tables of a real .docx (a zip with word/document.xml that python-docx opens)."""
    import docx

    with zipfile.ZipFile(path) as z:
        assert "word/document.xml" in z.namelist(), z.namelist()[:10]
    return len(docx.Document(str(path)).tables)


def wait_for_download(folder: Path, suffix: str, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        partial = [p for p in folder.iterdir() if p.name.endswith(".crdownload")]
        if done and not partial:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no *{suffix} downloaded into {folder} within {timeout:.0f} s: {sorted(p.name for p in folder.iterdir())}")


# -- the walk -----------------------------------------------------------------------------------------

@dataclass
class Walk:
    driver: object
    url: str
    shots: Shots
    work: Path                                 # a scratch folder (the upload, the downloads)
    home: Path                                 # HCCSTUDY_HOME of the server
    timings: dict[str, float] = field(default_factory=dict)
    study: Path | None = None                  # the study's folder, once created
    sid: str | None = None
    rid: str | None = None
    docx_tables: int = 0

    def step(self, name: str, fn: Callable[[Walk], None]) -> None:
        t0 = time.perf_counter()
        fn(self)
        self.timings[name] = time.perf_counter() - t0

    # -- small helpers of the steps ---------------------------------------------------------------------

    def get(self, path: str) -> None:
        self.driver.get(self.url + path)
        self.settle()

    def settle(self, timeout: float = SLOW) -> None:
        """Wait for the page to load and htmx to finish its requests."""
        self.until(lambda d: d.execute_script(
            "return document.readyState === 'complete' && !document.querySelector('.htmx-request')"), timeout,
            "the page to settle")

    def until(self, cond, timeout: float, what: str):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(cond)
        except TimeoutException:
            raise AssertionError(f"waited {timeout:.0f} s for {what}; the page at {self.driver.current_url} "
                                 f"says:\n{self.text()[:3000]}") from None

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.TAG_NAME, "body").text

    def click(self, el) -> None:
        """Click as a user does: the element scrolled to the middle of the window first (a sticky
        bar at the top or bottom of the page would take the click otherwise)."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()

    def fill(self, selector: str, value: str) -> None:
        el = self.css(selector)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.clear()
        el.send_keys(value)

    def submit(self, button) -> None:
        """Click a submit button and wait for the next page."""
        old = self.css("html")
        self.click(button)
        self.until(lambda d: _stale(old), SLOW, "the form's answer")
        self.settle()

    def no_error_alert(self) -> None:
        errors = [e.text for e in self.all(".alert-error")]
        assert not errors, f"{self.driver.current_url}: {errors}"

    def study_yaml(self) -> str:
        return (self.study / "study.yaml").read_text(encoding="utf-8")


def _stale(element) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True


# -- the steps ----------------------------------------------------------------------------------------

def create_study(w: Walk) -> None:
    """Step 1: the studies page; create a study from the built-in synthetic study."""
    w.get("/")
    assert "Create a study" in w.text()
    w.fill("#new-study #name", "HAIC SE vs SI")
    w.fill("#new-study #parent", str(w.work))
    w.click(w.css("#new-study input[name=start][value=synthetic]"))
    w.shots("studies")
    w.submit(w.css("#new-study button[type=submit]"))
    w.no_error_alert()
    m = re.search(r"/s/([0-9a-f]{12})/files", w.driver.current_url)
    assert m, w.driver.current_url
    w.sid, w.study = m.group(1), w.work / "HAIC SE vs SI"
    assert (w.study / "study.yaml").is_file() and (w.study / MISNAMED_CENTRE / MISNAMED_FILE).is_file()


def upload_misnamed(w: Walk) -> None:
    """Step 2: the files page; drop the north centre's patients.csv, one header misnamed, on the drop
    zone (a real drop event: Selenium cannot drag from the desktop, so the file is put into a
    DataTransfer from a scratch file input), replacing the file of the same name."""
    before = (w.study / MISNAMED_CENTRE / MISNAMED_FILE).read_bytes()
    upload = misnamed_copy(w.study, w.work / "from-north")
    original = upload.read_bytes()
    assert "north" in w.text().lower(), "the files page lists the built-in centres"
    w.fill("#upload #centre", MISNAMED_CENTRE)
    w.driver.execute_script("var i = document.createElement('input'); i.type = 'file'; i.id = 'w3-scratch';"
                            "i.style.display = 'none'; document.body.appendChild(i);")
    w.css("#w3-scratch").send_keys(str(upload))
    w.driver.execute_script(
        "var dt = new DataTransfer(); dt.items.add(document.getElementById('w3-scratch').files[0]);"
        "var zone = document.getElementById('dropzone');"
        "['dragenter', 'dragover', 'drop'].forEach(function (t) {"
        "  zone.dispatchEvent(new DragEvent(t, {dataTransfer: dt, bubbles: true, cancelable: true})); });"
        "document.getElementById('w3-scratch').remove();")
    w.until(lambda d: MISNAMED_FILE in w.css("#dropped").text, 5, "the drop zone to take the file")
    replace = w.css("#upload input[name=replace]")
    if not replace.is_selected():
        w.click(replace)
    w.shots("files-drop", height=900)  # the upload card, above the list of files
    w.submit(w.css("#upload button[type=submit]"))
    w.no_error_alert()
    saved = (w.study / MISNAMED_CENTRE / MISNAMED_FILE).read_bytes()
    assert saved == original != before, "the uploaded file replaced the centre's file, byte for byte"
    assert upload.read_bytes() == original, "the original is never modified"
    w.shots("files")


def validation_fails(w: Walk) -> None:
    """Step 4 before the mapping: the misnamed column is an error in the table; its record opens."""
    w.get(f"/s/{w.sid}/validation")
    summary = w.css("#summary").text
    assert "no errors" not in summary, summary
    rows = [r for r in w.all("#issue-table tbody tr") if MISNAMED_FIELD in r.text]
    assert rows, w.css("#issues").text[:2000]
    w.shots("validation-error")


def map_column(w: Walk) -> None:
    """Step 3: the mapping page preselects the misnamed header for its field; save and validate."""
    w.get(f"/s/{w.sid}/mapping")
    from selenium.webdriver.support.ui import Select

    sel = w.css(f"select[data-field={MISNAMED_FIELD}][data-file^='{MISNAMED_CENTRE}/']")
    assert Select(sel).first_selected_option.get_attribute("value") == MISNAMED_AS, "the did-you-mean suggestion is preselected"
    # the page from its top when the suggestion is within the first 1,300 pixels, else around its row
    row = w.driver.execute_script("return arguments[0].closest('tr')", sel)
    bottom = w.driver.execute_script("var r = arguments[0].getBoundingClientRect(); return r.bottom + window.scrollY", row)
    if bottom < 1300:
        w.shots("mapping", height=1400)
    else:
        w.shots("mapping", at=row, height=1000, block="center")
    w.submit(w.css("#mapping button[name=next][value=validate]"))
    w.no_error_alert()
    assert re.search(rf"{MISNAMED_AS}\W+{MISNAMED_FIELD}", w.study_yaml()), w.study_yaml()[-2000:]


def validation_passes(w: Walk) -> None:
    """Step 4: validation passes (warnings only); the flow figure shows; one warning's record opens with
    its cell highlighted."""
    if "/validation" not in w.driver.current_url:
        w.get(f"/s/{w.sid}/validation")
    w.until(lambda d: "Validation passed" in w.text(), SLOW, "validation to pass")
    assert "no errors" in w.css("#summary").text
    flow = w.css("#flow-img")
    w.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", flow), SLOW,
            "the patient flow figure")
    w.shots("validation")
    first = w.css("#issue-table tbody tr td a")
    w.submit(first)
    w.css("#highlighted")
    w.shots("validation-record")


def change_plan(w: Walk) -> None:
    """Step 5: the plan form.  A negative caliper is refused at its field (nothing saved); then the
    caliper becomes 0.1, the sensitivity analyses are turned off and the figures are written as PNG only
    (the sensitivity analyses and the SVG/PDF/600-dpi TIFF files are most of a run's time:
    docs/performance.md), and study.yaml, read back by the library's own config loader, says so."""
    from hccstudy.config import load_config

    w.get(f"/s/{w.sid}/plan")
    caliper = "input[name='matching.caliper']"
    before = w.study_yaml()
    w.fill(caliper, "-1")
    w.submit(w.css("#save-plan"))
    bad = w.css(".field.invalid input[name='matching.caliper']")
    field = w.driver.execute_script("return arguments[0].closest('.field')", bad)
    assert field.find_element("css selector", ".err").text, "the caliper's error is shown at its field"
    assert w.study_yaml() == before, "a plan with an error is not saved"
    w.shots("plan-error", at=w.driver.execute_script("return arguments[0].closest('fieldset')", bad), height=700)
    w.fill(caliper, NEW_CALIPER)
    sens = w.css("input[name='sensitivity.enabled']")
    if sens.is_selected():
        w.click(sens)
    for box in w.all("input[name='report.formats']"):  # figures as PNG only (what the report embeds)
        if box.is_selected() != (box.get_attribute("value") == "png"):
            w.click(box)
    w.submit(w.css("#save-plan"))
    w.no_error_alert()
    assert w.all(".alert-ok"), w.text()[:1000]
    plan = load_config(w.study / "study.yaml").analysis
    assert plan.matching.caliper == float(NEW_CALIPER) and plan.sensitivity is None, (plan.matching, plan.sensitivity)
    assert list(plan.report.formats) == ["png"], plan.report.formats
    w.shots("plan", height=1500)


def run_study(w: Walk) -> None:
    """Step 6: start a run; its page shows a progress bar per stage until the report is ready."""
    w.get(f"/s/{w.sid}/runs")
    w.submit(w.css("#start-run"))
    w.no_error_alert()
    m = re.search(rf"/s/{w.sid}/runs/([^/?#]+)$", w.driver.current_url)
    assert m, w.driver.current_url
    w.rid = m.group(1)
    w.until(lambda d: w.all("#run-status progress"), SLOW, "the progress bars")
    # a screenshot while a stage is running (a short wait: the first stages take a few seconds)
    w.until(lambda d: w.all("#run-status tr.stage.done"), SLOW, "a first stage to end")
    w.shots("run-progress", height=900)  # a run of the built-in study takes 20 s or more: still running
    w.until(lambda d: w.all("iframe.report") or w.all(".alert-error"), 600, "the run to end")
    w.settle()
    w.no_error_alert()
    assert "done" in w.css("h1").text, w.css("h1").text


def read_report(w: Walk) -> None:
    """Step 7: the report in the app; tables.docx downloaded and opened as a Word document."""
    frame = w.css("iframe.report")
    w.driver.switch_to.frame(frame)
    try:
        w.until(lambda d: d.execute_script("return document.readyState") == "complete"
                and "Table 1" in d.find_element("tag name", "body").text, SLOW, "the report in its frame")
        methods = w.driver.find_element("tag name", "body").text
        assert f"caliper {NEW_CALIPER} standard deviations" in methods, "the run used the plan's new caliper"
        # the report scrolled to its first survival section (Kaplan-Meier curves) for the screenshot
        w.driver.execute_script("var h = Array.from(document.querySelectorAll('h2'))"
                                ".find(function (e) { return e.textContent.startsWith('Survival'); });"
                                "if (h) h.scrollIntoView({block: 'start'});")
    finally:
        w.driver.switch_to.default_content()
    w.shots("run", height=1500)
    w.shots("report", at=w.css(".report-card"), height=1000)
    downloads = w.work / "downloads"  # where chrome() was told to put them
    link = next(a for a in w.all("ul.downloads a") if "tables.docx" in (a.get_attribute("href") or ""))
    w.click(link)
    got = wait_for_download(downloads, ".docx")
    w.docx_tables = check_docx(got)
    assert w.docx_tables >= 5, w.docx_tables


def compare_runs(w: Walk) -> None:
    """For the docs only (a second run): the paper's caliper 0.03 again, run, the past runs, and the two
    runs side by side (caliper 0.1 vs 0.03)."""
    w.get(f"/s/{w.sid}/plan")
    w.fill("input[name='matching.caliper']", "0.03")
    w.submit(w.css("#save-plan"))
    w.no_error_alert()
    w.get(f"/s/{w.sid}/runs")
    w.submit(w.css("#start-run"))
    w.until(lambda d: w.all("iframe.report") or w.all(".alert-error"), 600, "the second run to end")
    w.no_error_alert()
    w.get(f"/s/{w.sid}/runs")
    w.shots("runs")
    w.submit(w.css("form[action$='/compare'] button[type=submit]"))
    w.no_error_alert()
    assert "matching.caliper" in w.text(), w.text()[:2000]
    w.shots("compare")


STEPS: list[tuple[str, Callable[[Walk], None]]] = [
    ("1 create study", create_study),
    ("2 upload", upload_misnamed),
    ("4 validation (error)", validation_fails),
    ("3 mapping", map_column),
    ("4 validation (passes)", validation_passes),
    ("5 plan", change_plan),
    ("6 run", run_study),
    ("7 report", read_report),
]
#: the screenshots of the test's walk, and of the docs' (docs/web.md shows each)
TEST_SHOTS = ["01-studies.png", "02-files-drop.png", "03-files.png", "04-validation-error.png", "05-mapping.png",
              "06-validation.png", "07-validation-record.png", "08-plan-error.png", "09-plan.png",
              "10-run-progress.png", "11-run.png", "12-report.png"]
DOCS_SHOTS = [*TEST_SHOTS, "13-runs.png", "14-compare.png"]
#: the docs' walk: the test's, then a second run to compare (not in the test: a second whole run)
DOCS_STEPS = [*STEPS, ("7 compare", compare_runs)]


def walk_through(driver, url: str, shots: Shots, work: Path, home: Path, steps=None) -> Walk:
    """Steps 1-7 of issue 16 on the built-in study, in the browser; a screenshot after each."""
    w = Walk(driver=driver, url=url, shots=shots, work=work, home=home)
    for name, fn in steps or STEPS:
        w.step(name, fn)
    return w


def compact_png(src: Path, dst: Path) -> None:
    """A screenshot as a 256-colour PNG (a third of the size; a page of flat colours and text loses
    nothing visible), without time stamps, so that a redraw of the same pages gives the same bytes."""
    from PIL import Image

    with Image.open(src) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            dst, optimize=True)


def main(argv: list[str] | None = None) -> None:
    """``python tests/web_helpers.py FOLDER``: the walk's screenshots into FOLDER (docs/images/web)."""
    import tempfile

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else ROOT / "docs" / "images" / "web")
    reason = browser_missing()
    if reason:
        sys.exit(reason)
    with tempfile.TemporaryDirectory(prefix="hccstudy-web-") as tmp:
        tmp = Path(tmp)
        with serve(tmp / "home", tmp / "server.log") as server:
            driver = chrome(tmp / "downloads")
            try:
                shots = Shots(driver, tmp / "shots", max_height=1500)
                w = walk_through(driver, server.url, shots, tmp, tmp / "home", DOCS_STEPS)
            finally:
                driver.quit()
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.png"):
            old.unlink()
        for p in shots.paths:
            compact_png(p, out / p.name)
            print(out / p.name)
        print(", ".join(f"{k} {v:.1f} s" for k, v in w.timings.items()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
