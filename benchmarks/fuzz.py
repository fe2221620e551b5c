"""Fuzz campaign: mutated study folders, study configs and analysis configs through load_study / analyze.

    python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--workers 2] [--limit 10] [--json benchmarks/results/fuzz.json]
    python benchmarks/fuzz.py --seed 0 --case 17 [--keep DIR]     # one case: what it is, what happened

Runs cases 0..N-1 of the seeded generator in tests/fuzz (the CI test runs the first 176 of seed 0), prints
the outcome table (mutation class x outcome) and the unexpected outcomes with a one-line repro each, and
writes the table and every unexpected case to JSON.  Exit status 1 when any outcome is unexpected.
Target (issue 10): 0 crashes, 0 hangs, 0 wrongly accepted, 0 errors without a location, 0 inputs
modified.  The hccstudy tested is the one of this checkout (src/ is put first on the path).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fuzz import runner  # noqa: E402
from tests.fuzz.generate import make_case  # noqa: E402

import hccstudy  # noqa: E402
from _common import RESULTS, report  # noqa: E402


def one(seed: int, index: int, keep: Path | None, limit: float) -> int:
    case = make_case(seed, index)
    print(f"case {index} of seed {seed}: {case.mutation} ({case.kind})\n  {case.detail}")
    print(f"  expect: {'/'.join(case.expect)}; must name one of: {'; '.join(map(str, case.where)) or '-'}")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        runner.materialize(case, keep)
        cfg = f"DIR/{case.config}" if case.config else "None"
        entry = f"load_study(DIR/study, {cfg})" if case.kind == "study" else f"analyze(DIR/{case.config})"
        print(f"  written to {keep}: hccstudy.{entry}")
    r = runner.run_case(case, limit)
    print(f"  outcome: {r.outcome} ({r.seconds:.2f} s){' -- ' + r.error if r.error else ''}")
    return 0 if r.ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=float, default=10.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--case", type=int, help="run this one case in-process and describe it")
    ap.add_argument("--keep", type=Path, help="with --case: write the case's files into this folder")
    ap.add_argument("--json", type=Path, default=RESULTS / "fuzz.json")
    ap.add_argument("--markdown", type=Path, help="also write the table and one repro per class and outcome as Markdown")
    args = ap.parse_args()
    if args.case is not None:
        return one(args.seed, args.case, args.keep, args.limit)
    print(f"hccstudy {hccstudy.__version__} from {Path(hccstudy.__file__).parent}; seed {args.seed}, "
          f"{args.cases} cases, {args.workers} workers, {args.limit:g} s per case")
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            print(f"  {done}/{total} cases, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    results = runner.run_cases(args.seed, list(range(args.cases)), workers=args.workers, limit=args.limit,
                               progress=progress)
    seconds = time.perf_counter() - t0
    bad = [r for r in results if not r.ok]
    print(runner.format_unexpected(results, limit=40))
    print()
    rows = runner.outcome_table(results)
    report("fuzz", rows, ["class", "cases", "unexpected", *runner.OUTCOMES], args.json)
    cpu = sum(r.cpu for r in results)
    print(f"{len(results)} cases in {seconds:.1f} s wall ({len(results) / seconds:.1f} cases/s; {cpu:.1f} CPU-s in "
          f"the cases, {args.workers} workers); {len(bad)} unexpected")
    data = json.loads(args.json.read_text())
    data.update(seed=args.seed, cases=len(results), seconds=round(seconds, 1), cpu_seconds=round(cpu, 1), workers=args.workers,
                limit_s=args.limit, unexpected=[
                    {"index": r.case.index, "class": r.case.mutation, "outcome": r.outcome, "expect": list(r.case.expect),
                     "detail": r.case.detail, "must_name": [str(w) for w in r.case.where], "error": r.error,
                     "repro": r.case.repro} for r in bad])
    args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    if args.markdown is not None:
        head = f"{len(results)} cases of seed {args.seed}, {seconds:.0f} s wall, {cpu:.0f} CPU-s in the cases, {args.workers} workers"
        args.markdown.write_text(markdown(results, rows, head))
        print(f"wrote {args.markdown}")
    return 1 if bad else 0


def markdown(results: list[runner.Result], rows: list[dict], head: str) -> str:
    """The outcome table, then per class and unexpected outcome one example: mutation, error head, repro."""
    cols = ["class", "cases", "unexpected", *runner.OUTCOMES]
    out = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) if c != "class" else f"`{r[c]}`" for c in cols) + " |" for r in rows]
    out += ["", "Unexpected outcomes, one example per class and outcome (expected outcome in brackets):", ""]
    seen = set()
    for r in results:
        key = (r.case.mutation, r.outcome)
        if r.ok or key in seen:
            continue
        seen.add(key)
        n = sum(1 for x in results if (x.case.mutation, x.outcome) == key)
        where = "; ".join(map(str, r.case.where)) or "-"
        out.append(f"- `{r.case.mutation}` -> **{r.outcome}** x{n} [{'/'.join(r.case.expect)}, naming {where}]: "
                   f"{r.case.detail}. {('`' + r.error.replace('`', chr(39)) + '`') if r.error else ''} "
                   f"Repro: `{r.case.repro}`")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
