"""Publication figures (matplotlib, Agg), drawn from the fitted objects (Kaplan–Meier steps, Cox rows),
never refitted.  Each ``*_figure`` function draws and returns a Figure whose every text is already a
display label (the report's sections pass labels, not code names); :func:`save` writes it.

Figure specification (journals' artwork rules; set in a local ``rc_context``, never globally):

* font: DejaVu Sans (ships with matplotlib, so every machine draws the same glyphs; Arial / Helvetica
  are not used because their absence would change the output); one size scale: 8 pt text, 7 pt for
  tables inside a figure (risk table, forest columns), 9 pt panel titles, 11 pt bold panel letters;
* widths: single column 85 mm (:data:`SINGLE_COLUMN_IN`), double column 170 mm (:data:`DOUBLE_COLUMN_IN`);
* PDF and PS fonts embedded as TrueType (Type 42, never Type 3); SVG text kept as ``<text>`` (editable);
  PNG 300 dpi, TIFF 600 dpi LZW;
* byte-identical reruns: no dates or producer in the files, SVG ids from a fixed hash salt;
* arm colours: Okabe–Ito (colour-blind safe), the reference arm blue, the other orange.

The figures themselves live in :mod:`.figures_km` (Kaplan–Meier panels and the composite),
:mod:`.figures_forest` (forest plots) and :mod:`.figures_flow` (CONSORT-style patient flow).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Okabe–Ito: blue, orange, bluish green, vermillion, reddish purple, sky blue
ARM_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
MM = 1 / 25.4
SINGLE_COLUMN_IN = 85 * MM
DOUBLE_COLUMN_IN = 170 * MM
FONT_FAMILY = "DejaVu Sans"
FONT_SIZE = 8.0
SMALL_SIZE = 7.0
TITLE_SIZE = 9.0
LETTER_SIZE = 11.0

#: the figure specification as matplotlib settings (applied locally, see :func:`style`)
RC = {
    "font.family": "sans-serif", "font.sans-serif": [FONT_FAMILY], "font.size": FONT_SIZE,
    "axes.titlesize": TITLE_SIZE, "axes.labelsize": FONT_SIZE, "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE, "legend.fontsize": FONT_SIZE, "axes.linewidth": 0.8,
    "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 1.2,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "hccstudy",
    "pdf.compression": 6, "savefig.dpi": 300, "path.simplify": True,
}
DPI = {"png": 300, "tiff": 600}


def symbols(text: str) -> str:
    """Typographic comparison signs in figure text: ">=" as "≥", "<=" as "≤"."""
    return str(text).replace(">=", "\u2265").replace("<=", "\u2264")


@contextmanager
def style():
    """The figure specification (:data:`RC`) for the duration of a block; global rcParams untouched."""
    with plt.rc_context(RC):
        yield


def styled(draw):
    """Decorator: draw the figure under :func:`style` (text properties are fixed when drawn)."""
    @functools.wraps(draw)
    def inner(*args, **kwargs):
        with style():
            return draw(*args, **kwargs)
    return inner


def save(fig, stem: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``stem.<fmt>`` under the figure specification: PNG 300 dpi, SVG (text as
    ``<text>``), PDF (TrueType fonts), TIFF 600 dpi LZW; no dates, producer or software stamps, so a
    rerun is byte-identical.  Returns the paths; the figure is closed."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    meta = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
            "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
            "tiff": None}
    with style():
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            if fmt == "tiff":
                fig.savefig(path, dpi=DPI["tiff"], bbox_inches="tight", pad_inches=0.04,
                            pil_kwargs={"compression": "tiff_lzw"})
            else:
                fig.savefig(path, dpi=DPI.get(fmt, 300), metadata=meta.get(fmt) or {}, bbox_inches="tight",
                            pad_inches=0.04)
            out.append(path)
    plt.close(fig)
    return out


@styled
def love_figure(terms: list[str], smd_before, smd_after, threshold: float = 0.1):
    """Signed standardised mean differences per term (display labels, in table order), before (open)
    and after (filled) matching."""
    b = pd.DataFrame({"term": terms, "smd_before": smd_before, "smd_after": smd_after}).iloc[::-1]
    y = np.arange(len(b))
    fig, ax = plt.subplots(figsize=(DOUBLE_COLUMN_IN * 0.75, 0.22 * len(b) + 1.0), layout="constrained")
    ax.axvline(0, color="0.3", lw=0.8)
    for x in (-threshold, threshold):
        ax.axvline(x, color="0.6", lw=0.8, ls="--")
    ax.scatter(b["smd_before"], y, facecolors="none", edgecolors=ARM_COLOURS[0], label="Before matching", zorder=3, s=18)
    ax.scatter(b["smd_after"], y, color=ARM_COLOURS[1], label="After matching", zorder=3, s=18)
    ax.set_yticks(y, b["term"])
    ax.set_xlabel("Standardised mean difference")
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)  # outside the data
    return fig


@styled
def ps_figure(distance: np.ndarray, treated: np.ndarray, matched: np.ndarray, labels: tuple[str, str],
              xlabel: str = "Propensity score", order: tuple[str, str] | None = None):
    """Distribution of the distance by arm, all units and matched units (mirrored histograms).

    ``labels``: (control, treated) display names; ``order``: the arm shown above first (the report's
    reference arm; default the control).  The y axis counts patients, the upper arm above zero and
    the other below, each side labelled by its arm."""
    d = np.asarray(distance, dtype=float)
    t = np.asarray(treated, dtype=bool)
    m = np.asarray(matched, dtype=bool)
    up_name, down_name = order if order is not None else labels
    up_is_treated = up_name == labels[1] and up_name != labels[0]
    bins = np.linspace(d.min(), d.max(), 31) if len(d) and d.max() > d.min() else 10
    fig, axes = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN_IN, 2.6), sharey=True, layout="constrained")
    top = 0
    for ax, sel, title in ((axes[0], np.ones_like(m), "All patients"), (axes[1], m, "Matched patients")):
        hu, edges = np.histogram(d[(t if up_is_treated else ~t) & sel], bins=bins)
        hd, _ = np.histogram(d[(~t if up_is_treated else t) & sel], bins=bins)
        width = np.diff(edges)
        cu, cd = (ARM_COLOURS[0], ARM_COLOURS[1])
        ax.bar(edges[:-1], hu, width=width, align="edge", color=cu, label=up_name)
        ax.bar(edges[:-1], -hd, width=width, align="edge", color=cd, label=down_name)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        top = max(top, hu.max(initial=0), hd.max(initial=0))
    from matplotlib.ticker import FuncFormatter
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))
    axes[0].set_ylim(-top * 1.15 - 1, top * 1.15 + 1)
    axes[0].set_ylabel("Number of patients")
    for ax in axes:
        ax.text(0.02, 0.97, up_name, transform=ax.transAxes, ha="left", va="top", color=ARM_COLOURS[0])
        ax.text(0.02, 0.03, down_name, transform=ax.transAxes, ha="left", va="bottom", color=ARM_COLOURS[1])
    return fig


# the figures of their own modules, under the names the report has always used
from .figures_flow import flow_figure  # noqa: E402
from .figures_forest import forest_figure  # noqa: E402
from .figures_km import km_composite, km_figure  # noqa: E402

__all__ = ["ARM_COLOURS", "DOUBLE_COLUMN_IN", "RC", "SINGLE_COLUMN_IN", "flow_figure", "forest_figure", "km_composite",
           "km_figure", "love_figure", "ps_figure", "save", "style", "styled"]
