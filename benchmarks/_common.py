"""Shared helpers of the benchmarks: run a measurement in a fresh process, print the table, write JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def child(code: str, *args) -> dict:
    """Run ``code`` in a fresh Python process; its last stdout line is a JSON object."""
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, rows: list[dict], columns: list[str], path: Path) -> None:
    """Print ``rows`` as a table of ``columns`` and write them with the machine description to ``path``."""
    width = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in columns}
    print(" ".join(f"{c:>{width[c]}}" for c in columns))
    for r in rows:
        print(" ".join(f"{str(r.get(c, '-')):>{width[c]}}" for c in columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "python": platform.python_version(), "machine": platform.machine(),
                                "cpus": os.cpu_count(), "results": rows}, indent=2) + "\n")
    print(f"wrote {path}")
