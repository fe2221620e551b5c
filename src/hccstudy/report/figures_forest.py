"""Forest plots (forestploter / the paper's Figure 4 layout): text columns on the left, the estimates
on a log axis with a line at HR = 1, then "HR (95% CI)" and P columns.

Rows have a kind: ``header`` (a factor's name, bold, no estimate; may carry the P for interaction),
``reference`` (the reference level: "Reference" instead of an estimate), ``estimate`` and ``overall``
(bold, a diamond).  Column widths are measured from the texts themselves (matplotlib's text layout,
in points), so a long label never runs into the next column, whatever the labels are.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FixedLocator, NullLocator
from matplotlib.transforms import blended_transform_factory

from .figures import ARM_COLOURS, FONT_FAMILY, SMALL_SIZE, TITLE_SIZE, styled, symbols

ROW_IN = 0.2        # row height, inches
GAP_IN = 0.14       # space between columns, inches
PLOT_IN = 1.9       # width of the estimate axis, inches
_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)


def text_width_in(text: str, size: float = SMALL_SIZE, bold: bool = False) -> float:
    """Width of ``text`` (the widest of its lines) in inches, as matplotlib lays it out."""
    rc = plt.rcParams
    return _text_width_in(str(text), float(size), bool(bold), rc["text.hinting_factor"], rc["text.kerning_factor"])


@functools.lru_cache(maxsize=8192)
def _text_width_in(text: str, size: float, bold: bool, hinting_factor, kerning_factor) -> float:
    """:func:`text_width_in`, remembered: a pure function of the text, size, weight and the two
    rcParams that change matplotlib's text layout (the font is fixed), and the report measures the
    same cells again and again (a forest plot each of its cells, the KM panels their risk-table
    counts: ~900 layouts a report, a third of them repeats)."""
    prop = FontProperties(family=FONT_FAMILY, size=size, weight="bold" if bold else "normal")
    return max((text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0] for line in
                str(text).split("\n")), default=0.0) / 72


def hr_text(hr, lcl, ucl) -> str:
    """"0.64 (0.49–0.84)" (2 decimals); "NE" when not estimable."""
    v = np.array([hr, lcl, ucl], dtype=float)
    return f"{hr:.2f} ({lcl:.2f}\u2013{ucl:.2f})" if np.isfinite(v).all() else "NE"


@styled
def forest_figure(labels: pd.DataFrame, hr, lcl, ucl, p: Sequence[str], *, kinds: Sequence[str] | None = None,
                  title: str = "", p_header: str = "P", xlabel: str = "Hazard ratio (95% CI)",
                  favours: tuple[str, str] | None = ("Lower hazard", "Higher hazard")):
    """Forest plot.

    ``labels``: the left text columns (header -> display text per row; the first column left
    aligned, the others centred); ``hr``, ``lcl``, ``ucl``: numbers per row (NaN: no estimate); ``p``:
    the P column's display text per row; ``kinds``: per row ``header`` / ``reference`` / ``estimate``
    / ``overall`` (default: all estimates); ``favours``: (left of 1, right of 1) texts under the axis,
    e.g. ("Favours SI", "Favours SE") for an arm comparison."""
    n = len(labels)
    kinds = list(kinds) if kinds is not None else ["estimate"] * n
    hr, lo, hi = (np.asarray(v, dtype=float) for v in (hr, lcl, ucl))
    est = np.array([k in ("estimate", "overall") for k in kinds]) & np.isfinite(hr) & np.isfinite(lo) & \
        np.isfinite(hi) & (hr > 0) & (lo > 0)
    hr_col = [("Reference" if k == "reference" else hr_text(h, a, b) if k in ("estimate", "overall") else "")
              for k, h, a, b in zip(kinds, hr, lo, hi, strict=True)]
    bold = [k in ("header", "overall") for k in kinds]
    cols = [(symbols(h), [symbols(v) for v in labels[h]]) for h in labels.columns]
    # column widths from the texts: left columns | plot | HR (95% CI) | P
    def width(head, cells):  # +5%: hinting at low resolution widens the text a little
        return 1.05 * max([text_width_in(head, bold=True), *(text_width_in(c, bold=b) for c, b in zip(cells, bold, strict=True))])
    widths = [width(h, c) for h, c in cols]
    right = [("HR (95% CI)", hr_col), (p_header, [str(v) for v in p])]
    rwidths = [width(h, c) for h, c in right]
    x = 0.05
    xs = []
    for w in widths:
        xs.append(x)
        x += w + GAP_IN
    plot_x0 = x
    x += PLOT_IN + GAP_IN
    rxs = []
    for w in rwidths:
        rxs.append(x)
        x += w + GAP_IN
    fig_w = x
    n_head = max(h.count("\n") for h, _ in cols + right) + 1
    top_in = 0.12 + ROW_IN * n_head + (0.3 if title else 0)
    bottom_in = 0.75
    fig_h = top_in + ROW_IN * (n + 0.4) + bottom_in
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((plot_x0 / fig_w, bottom_in / fig_h, PLOT_IN / fig_w, ROW_IN * (n + 0.4) / fig_h))
    y = np.arange(n)[::-1].astype(float)
    ax.set_ylim(-0.7, n - 0.3)
    colour = ARM_COLOURS[0]
    for i in np.flatnonzero(est):
        ax.plot([lo[i], hi[i]], [y[i], y[i]], color="0.2", lw=0.9, solid_capstyle="butt")
        if kinds[i] == "overall":
            ax.fill([lo[i], hr[i], hi[i], hr[i]], [y[i], y[i] + 0.3, y[i], y[i] - 0.3], color="0.15", lw=0)
        else:
            ax.plot(hr[i], y[i], "s", color=colour, ms=4.5)
    ax.axvline(1.0, color="0.4", ls="--", lw=0.7)
    ax.set_xscale("log")
    lo_x = np.nanmin(lo[est]) if est.any() else 0.5
    hi_x = np.nanmax(hi[est]) if est.any() else 2.0
    lim = (min(lo_x, 0.5) / 1.15, max(hi_x, 2.0) * 1.15)
    ax.set_xlim(*lim)
    ticks = [v for v in _TICKS if lim[0] <= v <= lim[1]]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="x", labelsize=SMALL_SIZE)
    ax.set_xlabel(xlabel, fontsize=SMALL_SIZE, labelpad=16 if favours else 4)
    if favours:
        for text, ha, dx in ((f"\u2190 {favours[0]}", "right", -3), (f"{favours[1]} \u2192", "left", 3)):
            ax.annotate(text, xy=(1.0, 0), xycoords=("data", "axes fraction"), xytext=(dx, -19),
                        textcoords="offset points", ha=ha, va="top", fontsize=SMALL_SIZE)
    tr = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
    head_y = n - 0.4

    def column(x0, w, head, cells, align):
        hx = x0 if align == "left" else x0 + w / 2
        ax.text(hx, head_y, head, transform=tr, ha=align, va="bottom", fontweight="bold", fontsize=SMALL_SIZE,
                clip_on=False)
        for yy, text, b in zip(y, cells, bold, strict=True):
            if text:
                ax.text(hx, yy, text, transform=tr, ha=align, va="center", fontsize=SMALL_SIZE, clip_on=False,
                        fontweight="bold" if b else "normal")

    for k, ((head, cells), x0, w) in enumerate(zip(cols, xs, widths, strict=True)):
        column(x0, w, head, cells, "left" if k == 0 else "center")
    for (head, cells), x0, w in zip(right, rxs, rwidths, strict=True):
        column(x0, w, head, cells, "left")
    # a rule under the header
    ax.plot([0.05, fig_w - GAP_IN], [n - 0.45, n - 0.45], transform=tr, color="0.3", lw=0.6, clip_on=False)
    if title:
        fig.text(0.05 / fig_w, 1 - 0.08 / fig_h, title, ha="left", va="top", fontsize=TITLE_SIZE)
    return fig
