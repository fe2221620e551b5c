"""Benchmark: each command of issue 13's table as a fresh process, against its target, with R side by side.

    python benchmarks/bench_commands.py                  # the full table (analyze 1e6, run 1e5 and 1e6: long)
    python benchmarks/bench_commands.py --quick          # CI-size smoke: analyze 1e4, run 1e4, --help rows
    python benchmarks/bench_commands.py --only help validate_help
    python benchmarks/bench_commands.py --analyze-rows 1e5 --run-patients 1e5 --update-doc

Each row runs its command in a fresh process (``python -m hccstudy.cli ...``, so the row pays the imports a
user pays) and records the wall time, the CPU time (user + system) and the peak resident memory of that
process alone (``os.wait4``: the kernel's rusage of the one child, not a maximum over all children).  The
inputs are made first and untimed: the issue-13 analyze table (benchmarks/analyze_table.py) and raw
synthetic studies (``hccstudy synth --patients N``).  Where ``Rscript`` exists, benchmarks/r/analyze.R runs
the same analysis on the same table (as CSV) in the same run, and its times are printed beside ours.

Output: the table (command, now, target, met?) on stdout, JSON in benchmarks/results/commands.json (with
the machine: CPU model, cores, RAM) and a Markdown table in benchmarks/results/commands.md; ``--update-doc``
also pastes that table into docs/performance.md between its markers.  Targets are those of issue 13 on a
2-core machine; ``--help`` rows are judged on CPU seconds (wall time on a loaded machine says little), the
others on wall seconds, and the 1e6-patient run also on peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "performance.md"
BEGIN, END = "<!-- bench_commands:begin -->", "<!-- bench_commands:end -->"
EXE = [sys.executable, "-m", "hccstudy.cli"]
COLUMNS = ["command", "wall_s", "cpu_s", "peak_rss_mb", "target", "met", "R_s"]


@dataclass(frozen=True)
class Row:
    """One command of the table: ``argv`` after ``hccstudy``, with ``{work}`` and ``{data}`` filled in."""

    id: str
    label: str
    argv: list[str]
    target_s: float
    on: str = "wall"                 # judge wall or cpu seconds
    target_rss_mb: float | None = None
    setup: str | None = None         # "analyze:N" or "synth:N": an input made first, untimed
    r_rows: int | None = None        # run benchmarks/r/analyze.R on the analyze table of this size
    extra: dict = field(default_factory=dict)


def machine() -> dict:
    """CPU model, cores and RAM of this machine (Linux /proc; platform fallbacks elsewhere)."""
    cpu = platform.processor() or platform.machine()
    ram_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb, "python": platform.python_version(),
            "platform": platform.platform()}


def measure(argv: list[str], cwd: Path, timeout: float) -> dict:
    """Run ``argv`` as one child process; its wall and CPU seconds and its own peak RSS (``os.wait4``).

    The child's ``ru_maxrss`` starts at this process's RSS when it forks, so this script keeps itself
    small (no pandas or numpy here): a 20 MB ``--help`` would otherwise read as the parent's size."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=errf)
        try:
            _, status, usage = _wait4(proc.pid, timeout)
        except TimeoutError:
            proc.kill()
            proc.wait()
            return {"error": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errf.seek(0)
            tail = errf.read().decode(errors="replace").strip().splitlines()[-3:]
            return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "stdout": stdout}


def _wait4(pid: int, timeout: float):
    """``os.wait4`` with a timeout (polling; the commands run for seconds to minutes)."""
    deadline = time.monotonic() + timeout
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)


def rows_for(analyze_rows: list[int], run_patients: list[int], r_max_rows: int) -> list[Row]:
    """The table of issue 13 at the given sizes."""
    rows: list[Row] = []
    for n in analyze_rows:
        tag = f"{n:.0e}".replace("+0", "").replace("+", "")
        r = n if n <= r_max_rows else None
        rows.append(Row(f"analyze_{tag}", f"analyze {n:,} rows, all outputs", ["analyze", "{data}/analyze.yaml",
                        "--out", "{work}/out", "--force"], 10.0, setup=f"analyze:{n}", r_rows=r))
        rows.append(Row(f"analyze_{tag}_nofig", f"analyze {n:,} rows, --no-figures", ["analyze", "{data}/analyze.yaml",
                        "--out", "{work}/out", "--force", "--no-figures"], 5.0, setup=f"analyze:{n}"))
    rows.append(Row("run_builtin", "run (built-in study)", ["run", "--out", "{work}/out", "--force", "--quiet"], 5.0))
    for n in run_patients:
        tag = f"{n:.0e}".replace("+0", "").replace("+", "")
        big = n >= 1_000_000
        rows.append(Row(f"run_{tag}", f"run {n:,}-patient raw study", ["run", "{data}/study", "--out", "{work}/out",
                        "--force", "--quiet"], 60.0 if big else 10.0, target_rss_mb=8192.0 if big else None,
                        setup=f"synth:{n}"))
    rows.append(Row("help", "--help", ["--help"], 0.3, on="cpu"))
    rows.append(Row("validate_help", "validate --help", ["validate", "--help"], 0.3, on="cpu"))
    return rows


def prepare(setup: str, cache: Path, timeout: float) -> Path:
    """Make (once per run) the input of ``setup`` under ``cache``; untimed."""
    kind, n = setup.split(":")
    folder = cache / f"{kind}-{n}"
    if folder.exists():
        return folder
    if kind == "analyze":
        subprocess.run([sys.executable, str(HERE / "analyze_table.py"), n, str(folder)], check=True,
                       capture_output=True, timeout=timeout)
    else:
        subprocess.run([*EXE, "synth", "--out", str(folder / "study"), "--patients", n], check=True,
                       capture_output=True, timeout=timeout)
    return folder


def run_r(data: Path, timeout: float) -> dict:
    """benchmarks/r/analyze.R on ``data``/table.parquet exported to CSV (the export untimed)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return {"error": "R not available"}
    csv = data / "table.csv"
    if not csv.exists():  # in a child: pandas in this process would count in the next child's peak RSS
        subprocess.run([sys.executable, "-c", "import sys, pandas as pd; "
                        "pd.read_parquet(sys.argv[1]).to_csv(sys.argv[2], index=False)",
                        str(data / "table.parquet"), str(csv)], check=True, timeout=timeout)
    got = measure([rscript, str(HERE / "r" / "analyze.R"), str(csv)], data, timeout)
    if "error" in got:
        return got
    detail = json.loads(got.pop("stdout").strip().splitlines()[-1])
    return {**got, "steps": detail}


def judge(row: Row, got: dict) -> str:
    if "error" in got:
        return "error"
    ok = got["cpu_s" if row.on == "cpu" else "wall_s"] <= row.target_s
    if row.target_rss_mb is not None:
        ok = ok and got["peak_rss_mb"] <= row.target_rss_mb
    return "yes" if ok else "no"


def target_text(row: Row) -> str:
    text = f"<= {row.target_s:g} s" + (" CPU" if row.on == "cpu" else "")
    return text + (f", <= {row.target_rss_mb / 1024:g} GB" if row.target_rss_mb else "")


def markdown(results: list[dict], info: dict) -> str:
    """The table as Markdown (pasted into docs/performance.md between its markers)."""
    lines = [f"Measured {info['date']} on {info['machine']['cpu']}, {info['machine']['cores']} cores, "
             f"{info['machine']['ram_gb']} GB RAM; Python {info['machine']['python']}; "
             f"`python benchmarks/bench_commands.py {' '.join(info['args'])}`.", "",
             "| command | wall s | CPU s | peak RSS MB | target | met? | R s (same run) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['label']} | {r.get('wall_s', '-')} | {r.get('cpu_s', '-')} | {r.get('peak_rss_mb', '-')} "
                     f"| {r['target']} | {r['met']} | {r.get('R_s', '-')} |")
    errors = [f"- {r['label']}: {r['error']}" for r in results if r.get("error")]
    return "\n".join(lines + ([""] + errors if errors else [])) + "\n"


def update_doc(table: str, doc: Path = DOC) -> None:
    """Replace the text between the markers of ``doc`` with ``table``."""
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    sizes = lambda s: [int(float(x)) for x in s.split(",")] if s else []  # noqa: E731
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyze-rows", type=sizes, default=[1_000_000], help="comma-separated, e.g. 1e5,1e6")
    ap.add_argument("--run-patients", type=sizes, default=[100_000, 1_000_000], help="comma-separated")
    ap.add_argument("--quick", action="store_true", help="CI-size smoke: analyze 1e4 rows, run 1e4 patients")
    ap.add_argument("--only", nargs="+", metavar="ID", help="only these rows (ids: see --list)")
    ap.add_argument("--list", action="store_true", help="print the row ids and exit")
    ap.add_argument("--no-r", action="store_true", help="do not run R even where Rscript exists")
    ap.add_argument("--r-max-rows", type=lambda s: int(float(s)), default=100_000,
                    help="run R only on analyze tables up to this size (MatchIt takes ~14 min at 1e6)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per command")
    ap.add_argument("--cache", type=Path, help="keep the generated inputs here (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=RESULTS / "commands.json")
    ap.add_argument("--markdown", type=Path, default=RESULTS / "commands.md")
    ap.add_argument("--update-doc", action="store_true", help=f"paste the table into {DOC.relative_to(HERE.parent)}")
    args = ap.parse_args(argv)
    if args.quick:
        args.analyze_rows, args.run_patients = [10_000], [10_000]
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    rows = rows_for(args.analyze_rows, args.run_patients, 0 if args.no_r else args.r_max_rows)
    if args.list:
        print("\n".join(f"{r.id}: {r.label}" for r in rows))
        return []
    if args.only:
        unknown = set(args.only) - {r.id for r in rows}
        if unknown:
            sys.exit(f"unknown row id(s): {', '.join(sorted(unknown))} (see --list)")
        rows = [r for r in rows if r.id in args.only]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_commands-") as tmp:
        cache = args.cache or Path(tmp) / "inputs"
        cache.mkdir(parents=True, exist_ok=True)
        for row in rows:
            data = prepare(row.setup, cache, args.timeout) if row.setup else cache
            work = Path(tmp) / row.id
            work.mkdir()
            cmd = [*EXE, *(a.format(work=work, data=data) for a in row.argv)]
            got = measure(cmd, work, args.timeout)
            got.pop("stdout", None)
            result = {"id": row.id, "label": row.label, "command": "hccstudy " + " ".join(row.argv), **got,
                      "target": target_text(row), "met": judge(row, got)}
            if row.r_rows is not None:
                r = run_r(data, args.timeout)
                result["R"] = r
                result["R_s"] = r.get("wall_s", r.get("error"))
            elif row.id.startswith("analyze_") and not row.id.endswith("_nofig"):
                result["R_s"] = "R not run (--no-r or over --r-max-rows)"
            results.append(result)
            shutil.rmtree(work, ignore_errors=True)
            print(f"{row.id}: {result.get('wall_s', result.get('error'))}", file=sys.stderr, flush=True)
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
            "args": argv if argv is not None else sys.argv[1:]}
    _print(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "commands", **info, "results": results}, indent=2) + "\n")
    table = markdown(results, info)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(table)
    if args.update_doc:
        update_doc(table)
    print(f"wrote {args.json} and {args.markdown}" + (f" and {DOC}" if args.update_doc else ""))
    return results


def _print(results: list[dict]) -> None:
    cells = [[str(r.get("label")), *(str(r.get(c, r.get("error", "-") if c == "wall_s" else "-"))
                                     for c in COLUMNS[1:])] for r in results]
    head = ["command", "wall s", "CPU s", "peak MB", "target", "met?", "R s"]
    width = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, width, strict=True)))


if __name__ == "__main__":
    main()
