"""Dependencies run one way: schema -> clinical -> cohort -> analysis -> report -> cli/web (docs, standards).

Every ``import`` in the lower layers (module level or inside a function, absolute or relative) is read
with :mod:`ast` and resolved to a ``hccstudy`` subpackage; a lower layer importing a higher one fails
the test, naming the file, the line and the module imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "hccstudy"

#: rank of each subpackage / top-level module; a module may import only ranks <= its own.
#: The foundation (rank 0): helpers and the statistics, which know nothing of the study.
RANK = {"_files": 0, "_yaml": 0, "_ranges": 0, "_lazy": 0, "stats": 0,
        "schema": 1, "clinical": 2, "cohort": 3, "analysis": 4, "report": 5, "synth": 5,
        "_overrides": 0, "examples": 0, "config": 6, "pipeline": 6, "cli": 6, "output": 6, "web": 6, "": 6}   # "": the package itself (its __init__ imports everything)
CHECKED = ("stats", "schema", "clinical", "cohort", "analysis", "report", "synth")

#: known upward imports still to be removed, each with the reason (the test fails once one is gone,
#: so that the entry is deleted with it)
KNOWN: dict[tuple[str, str], str] = {}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, hccstudy subpackage) of every import in ``path``."""
    pkg = path.relative_to(SRC.parent).with_suffix("").parts  # ('hccstudy', 'analysis', 'run')
    if pkg[-1] == "__init__":
        pkg = pkg[:-1]
    here = list(pkg[:-1]) if path.name != "__init__.py" else list(pkg)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                names = [".".join([*base, node.module] if node.module else base)]
                if not node.module:  # from .. import x: x may be a subpackage
                    names = [".".join([*base, a.name]) for a in node.names]
            else:
                names = [node.module or ""]
        for n in names:
            parts = n.split(".")
            if parts[0] == "hccstudy":
                sub = parts[1] if len(parts) > 1 else ""
                out.append((node.lineno, sub if sub in RANK else ""))
    return out


def _violations() -> list[tuple[str, int, str]]:
    found = []
    for layer in CHECKED:
        for path in sorted((SRC / layer).rglob("*.py")):
            for line, sub in _imports(path):
                if RANK[sub] > RANK[layer]:
                    found.append((str(path.relative_to(SRC)), line, sub or "hccstudy"))
    return found


def test_lower_layers_never_import_higher_ones():
    bad = [f"{f}:{line} imports hccstudy.{sub}" for f, line, sub in _violations() if (f, sub) not in KNOWN]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_only_the_cli_imports_the_web_app():
    """``web`` sits at the top with ``cli``: no library module imports it (the app is a thin layer over
    the library, never a part of it); the CLI's ``serve`` command is its one caller."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("web", "cli.py"):
            continue
        bad += [f"{rel}:{line}" for line, sub in _imports(path) if sub == "web"]
    assert not bad, "imports hccstudy.web:\n" + "\n".join(bad)


def test_known_exceptions_are_still_needed():
    present = {(f, sub) for f, _, sub in _violations()}
    gone = [k for k in KNOWN if k not in present]
    assert not gone, f"remove from KNOWN (fixed): {gone}"


def test_the_scan_sees_relative_and_function_level_imports(tmp_path, monkeypatch):
    """The checker itself: a relative import inside a function, two levels up, is resolved."""
    pkg = tmp_path / "hccstudy" / "analysis"
    pkg.mkdir(parents=True)
    f = pkg / "x.py"
    f.write_text("def f():\n    from ..report.build import build_report\n    from . import columns\n")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path / "hccstudy")
    assert _imports(f) == [(2, "report"), (3, "analysis")]
