"""Benchmark: the web app's pages (issue 16: each page < 300 ms on the built-in study) and validation
paging at 100,000 patients.

    python benchmarks/bench_web.py                    # the built-in study, then 100,000 patients
    python benchmarks/bench_web.py --patients 20000   # a smaller large study
    python benchmarks/bench_web.py --skip-large       # the built-in study only

Each study is written to a temporary folder (the built-in synthetic cohort, seed 6; the large one as CSV)
and opened through the app's own HTTP interface (fastapi's TestClient: the whole app - middleware,
CSRF cookie, templates - without a socket).  The first visit of the validation page pays the check
(``load_study``: ingest, validate, derive) and the first visit of the mapping page pays ``hccstudy map``'s
column table; both are cached while the study's files and study.yaml are unchanged, and the app starts
them in the background as soon as a study is opened.  The table reports, per page: the first (cold)
time and the median of 5 warm visits, in milliseconds, and the size of the HTML sent.  For the large
study it adds the validation check itself and paging / sorting / filtering the issues table, whose
pages hold 50 rows whatever the number of issues (the whole table never goes to the browser).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def _client(home: Path):
    from fastapi.testclient import TestClient

    from hccstudy.web import WebSettings, create_app

    return TestClient(create_app(WebSettings(home=home, background_checks=False)), base_url="http://127.0.0.1")


def _open(c, folder: Path) -> str:
    c.get("/")
    r = c.post("/studies/open", data={"folder": str(folder), "csrf_token": c.cookies["hccstudy_csrf"]},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].split("/")[2]


def _time(c, url: str, repeat: int = 5) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    r = c.get(url)
    cold = time.perf_counter() - t0
    assert r.status_code == 200, (url, r.status_code, r.text[-500:])
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        c.get(url)
        warm.append(time.perf_counter() - t0)
    return 1000 * cold, 1000 * statistics.median(warm), len(r.content)


def _table(title: str, rows: list[tuple[str, float, float, int]]) -> None:
    print(f"\n{title}")
    print(f"{'page':58} {'cold ms':>9} {'warm ms':>9} {'KB':>7}  < 300 ms warm")
    for name, cold, warm, size in rows:
        print(f"{name:58} {cold:9.0f} {warm:9.0f} {size / 1024:7.0f}  {'yes' if warm < 300 else 'NO'}")


def bench(folder: Path, label: str, home: Path) -> None:
    c = _client(home)
    sid = _open(c, folder)
    urls = [("files", f"/s/{sid}/files"), ("validation (runs the check when cold)", f"/s/{sid}/validation"),
            ("validation, sorted by rule, page 3", f"/s/{sid}/validation?sort=rule&page=3"),
            ("validation, warnings of one column, by row desc", None),
            ("validation, search 'missing', last page", None),
            ("one record (cell highlighted)", f"/s/{sid}/validation/record?i=0"),
            ("CONSORT flow figure (SVG)", f"/s/{sid}/validation/flow.svg"),
            ("mapping (hccstudy map's table when cold)", f"/s/{sid}/mapping"), ("studies", "/")]
    from hccstudy.web.checks import check

    t0 = time.perf_counter()
    chk = check(folder)
    print(f"\n{label}: validation check {time.perf_counter() - t0:.1f} s (cached afterwards); "
          f"{len(chk.issues):,} issues ({chk.n_errors} errors, {chk.n_warnings} warnings)")
    col = chk.issues["column"].mode().iat[0] if len(chk.issues) else ""
    n_missing = int(chk.issues["message"].str.contains("missing").sum())
    rows = []
    for name, url in urls:
        if url is None and name.startswith("validation, warnings"):
            url = f"/s/{sid}/validation?severity=warning&column={col}&sort=row&desc=1"
        elif url is None:
            url = f"/s/{sid}/validation?q=missing&page={max(1, -(-n_missing // 50))}"
        if "flow.svg" in url and chk.flow is None:
            continue
        if "record" in url and not len(chk.issues):
            continue
        rows.append((name, *_time(c, url)))
    _table(f"{label}: page times (TestClient, in-process)", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=100_000, help="patients of the large study (default 100,000)")
    ap.add_argument("--skip-large", action="store_true", help="only the built-in study")
    args = ap.parse_args()
    from hccstudy.synth import DEFAULT_SEED, generate, write_cohort
    from hccstudy.web.studies import _study_yaml

    print(f"cores: {os.cpu_count()}; load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        builtin = root / "builtin"
        write_cohort(generate(DEFAULT_SEED), builtin)
        (builtin / "study.yaml").write_text(_study_yaml(), encoding="utf-8")
        bench(builtin, "built-in study (3,923 patients)", root / "home")
        if not args.skip_large:
            big = root / "large"
            t0 = time.perf_counter()
            write_cohort(generate(DEFAULT_SEED, args.patients), big, excel=False)
            (big / "study.yaml").write_text(_study_yaml(), encoding="utf-8")
            print(f"\n(wrote {args.patients:,} patients in {time.perf_counter() - t0:.0f} s)")
            bench(big, f"{args.patients:,} patients", root / "home")


if __name__ == "__main__":
    main()
