"""Every example marked runnable in README.md and docs/ runs as written.

A fenced block runs when its info string has the word ``run``: ```` ```bash run ```` runs in bash
(``set -euo pipefail``), ```` ```python run ```` in Python; ``exit=N`` expects that exit status.  A
block with ``file=NAME`` (e.g. ```` ```yaml file=study.yaml ````) is written to NAME first.  The blocks
of one document run in order, in one fresh working folder, so a later block may use what an earlier
one wrote.  ``hccstudy`` and ``python`` resolve to this interpreter and this source tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)\s*$",
                   re.M | re.S)


def blocks(doc: Path) -> list[tuple[int, str, dict, str]]:
    """(line, language, attributes, body) of each runnable or file block, in order."""
    out = []
    for m in FENCE.finditer(doc.read_text(encoding="utf-8")):
        words = m.group("info").split()
        if not words:
            continue
        attrs = dict(w.split("=", 1) if "=" in w else (w, "") for w in words[1:])
        if "run" in attrs or "file" in attrs:
            line = doc.read_text(encoding="utf-8")[: m.start()].count("\n") + 1
            out.append((line, words[0], attrs, m.group("body")))
    return out


#: seconds before a block counts as hung: a guard against a hang, not a speed check.  README's bash block
#: (two whole runs of the example with every figure) took over 300 s on the 2-core machine shared with
#: the rest of the suite and other work (load average 6-8), so 300 s failed a block that worked.
HANG = 1800

RUNNABLE = [d for d in DOCS if any("run" in a for _, _, a, _ in blocks(d))]


def _shims(folder: Path) -> dict[str, str]:
    """PATH with ``hccstudy`` and ``python`` as this interpreter on this source tree."""
    folder.mkdir()
    for name, cmd in (("hccstudy", f'exec "{sys.executable}" -m hccstudy "$@"'), ("python", f'exec "{sys.executable}" "$@"')):
        p = folder / name
        p.write_text(f"#!/bin/sh\n{cmd}\n")
        p.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["COLUMNS"] = "120"
    return env


def test_some_documents_have_runnable_examples():
    names = {d.name for d in RUNNABLE}
    assert {"README.md", "analyze.md"} <= names, names  # config.md, data-model.md: test_docs_config, test_docs_own_study


@pytest.mark.costly  # whole runs with every figure (README: ~75 s): queued early (conftest)
@pytest.mark.parametrize("doc", RUNNABLE, ids=lambda d: str(d.relative_to(ROOT)))
def test_examples_run_as_written(doc, tmp_path):
    env = _shims(tmp_path / ".bin")
    work = tmp_path / "work"
    work.mkdir()
    for line, lang, attrs, body in blocks(doc):
        where = f"{doc.relative_to(ROOT)}:{line}"
        if "file" in attrs:
            target = work / attrs["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, encoding="utf-8")
        if "run" not in attrs:
            continue
        if lang in ("bash", "sh", "console"):
            cmd = ["bash", "-c", "set -euo pipefail\n" + body]
        elif lang == "python":
            cmd = [sys.executable, "-c", body]
        else:
            pytest.fail(f"{where}: cannot run a {lang!r} block")
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=HANG)
        expected = int(attrs.get("exit") or 0)
        assert r.returncode == expected, f"{where}: exit {r.returncode} (expected {expected})\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
