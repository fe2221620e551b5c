"""Regenerate the figures shown in docs/report.md from the built-in study.

    python -m hccstudy.docs_images [FOLDER]      (default: docs/images)

Runs the built-in synthetic study (seed 6, as ``hccstudy run``) in a temporary folder and writes
``km_composite.png``, ``forest_subgroups_os_matched.png``, ``patient_flow.png`` and
``sensitivity_forest_os.png`` (docs/sensitivity.md) at 150 dpi (small
enough to commit; the report itself writes 300 dpi PNG, SVG, PDF and 600 dpi TIFF).  The output is
byte-stable: rerunning on the same version gives the same files.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

DOCS_FIGURES = ("km_composite", "forest_subgroups_os_matched", "patient_flow", "sensitivity_forest_os")
DPI = 150


def write_docs_images(folder: Path) -> list[Path]:
    """Draw :data:`DOCS_FIGURES` of the built-in study into ``folder`` as PNG at :data:`DPI`."""
    import matplotlib.pyplot as plt

    from .pipeline import run_study
    from .report.figures import style
    from .report.sections import build_sections

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = run_study(None, out=Path(tmp) / "report")
    figures = {f.key: f for s in build_sections(run.results, flow=run.study.flow) for f in s.figures}
    out = []
    for key in DOCS_FIGURES:
        fig = figures[key].draw()
        path = folder / f"{key}.png"
        with style():
            fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.04, metadata={"Software": None})
        plt.close(fig)
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for p in write_docs_images(Path(args[0]) if args else Path("docs") / "images"):
        print(p)


if __name__ == "__main__":
    main()
