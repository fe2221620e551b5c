"""The design documents live in the repository (docs/spec/) and the code points only at them.

* every document the index docs/spec/README.md links exists, and every docs/spec/*.md is in the index;
* no file under src/ mentions ``../shared`` (a path outside the repository);
* a spec document named in src/ is named by its repository path (``docs/spec/clinical-rules.md``, not a
  bare ``clinical-rules.md``), and every ``docs/...md`` path named in src/ exists;
* the links (and their #anchors) in docs/spec/*.md and docs/validation.md resolve.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec"
SRC = ROOT / "src"
SPEC_NAMES = ("study", "clinical-rules", "matching-spec", "r-parity-notes", "derivation-rules")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _src_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".yml", ".md", ".txt"})


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", path.read_text(encoding="utf-8"), re.M)}


def test_index_links_every_spec_document_and_each_exists():
    index = SPEC / "README.md"
    linked = {m.group(1).partition("#")[0] for m in LINK.finditer(index.read_text(encoding="utf-8"))}
    spec_links = {t for t in linked if t and "/" not in t and t.endswith(".md")}
    missing = sorted(t for t in spec_links if not (SPEC / t).is_file())
    assert not missing, f"docs/spec/README.md links to missing documents: {missing}"
    on_disk = {p.name for p in SPEC.glob("*.md")} - {"README.md"}
    assert on_disk <= spec_links, f"not in docs/spec/README.md: {sorted(on_disk - spec_links)}"
    assert {f"{n}.md" for n in SPEC_NAMES} <= spec_links


def test_no_source_file_points_outside_the_repository():
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in _src_files()
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1) if "../shared" in line]
    assert not bad, f"these lines point at ../shared (outside the repository): {bad}"


def test_spec_documents_are_named_by_their_repository_path():
    bare = re.compile(r"(?<![\w/-])(" + "|".join(map(re.escape, SPEC_NAMES)) + r")\.md")
    docs_path = re.compile(r"(?<![\w/.-])(docs/[\w./-]+\.md)")
    bad, missing = [], []
    for p in _src_files():
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{p.relative_to(ROOT)}:{i}"
            bad += [f"{where}: {m.group(0)}" for m in bare.finditer(line)]
            missing += [f"{where}: {m.group(1)}" for m in docs_path.finditer(line) if not (ROOT / m.group(1)).is_file()]
    assert not bad, f"name the spec as docs/spec/<file>.md: {bad}"
    assert not missing, f"documents named in src/ that do not exist: {missing}"


@pytest.mark.parametrize("doc", sorted([*SPEC.glob("*.md"), ROOT / "docs" / "validation.md"]), ids=lambda p: p.name)
def test_links_and_anchors_resolve(doc):
    broken = []
    for m in LINK.finditer(doc.read_text(encoding="utf-8")):
        target = m.group(1)
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.is_file():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links {broken}"
