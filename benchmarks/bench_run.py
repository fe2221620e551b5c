"""Benchmark: the whole `hccstudy run` (synthetic cohort -> report) at two sizes.

    python benchmarks/bench_run.py [--patients 3923 100000] [--json benchmarks/results/run.json]

Each size runs `hccstudy run --out TMP --log-json` in a fresh process on a synthetic cohort of that many
screened patients (the default cohort for 3,923; otherwise generated with `hccstudy synth --patients`
first, untimed, and passed as the study folder), and reports wall time per stage and peak memory.
Target (issue 6): the default run under 20 s on 2 cores, report generation included.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[3923, 100_000])
    ap.add_argument("--json", type=Path, default=RESULTS / "run.json")
    args = ap.parse_args()
    exe = [sys.executable, "-m", "hccstudy.cli"]
    rows = []
    for n in args.patients:
        with tempfile.TemporaryDirectory() as d:
            cmd = [*exe, "run", "--out", f"{d}/report", "--log-json"]
            if n != 3923:
                subprocess.run([*exe, "synth", "--out", f"{d}/study", "--patients", str(n)], check=True, capture_output=True)
                cmd.insert(len(exe) + 1, f"{d}/study")
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        stages = {json.loads(x)["stage"]: json.loads(x)["seconds"] for x in out.stdout.splitlines() if x.startswith("{")}
        rows.append({"patients": n, "wall_s": round(wall, 2), **{f"{k}_s": v for k, v in stages.items()},
                     "peak_rss_mb_max_so_far": round(rss, 1), "target": "< 20 s" if n == 3923 else ""})
    report("run", rows, ["patients", "wall_s", "generate_s", "ingest_s", "analyze_s", "report_s", "peak_rss_mb_max_so_far"],
           args.json)

if __name__ == "__main__":
    main()
