"""The patient flow as a CONSORT-style diagram (the R ``consort`` package's layout): boxes and arrows
from the screened patients (per centre when known) past an exclusion box listing each reason with its
n, to the included patients, one column per arm, and per arm the matched and unmatched patients and
the matched pairs.  Geometry in inches on a double-column (170 mm) canvas; box widths measured from
their texts."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from .figures import DOUBLE_COLUMN_IN, FONT_SIZE, SMALL_SIZE, styled, symbols
from .figures_forest import text_width_in

LINE_IN = 0.16
PAD_IN = 0.07


class _Canvas:
    def __init__(self, ax):
        self.ax = ax

    def box(self, xc: float, ytop: float, lines: list[tuple[str, bool]], *, align: str = "center",
            left: float | None = None) -> tuple[float, float, float, float]:
        """A box of ``lines`` ((text, bold) each) centred on ``xc`` (or from ``left``) hanging from
        ``ytop``; returns (left, right, top, bottom)."""
        # (+5%: hinting at low resolution widens the text a little)
        w = max(text_width_in(symbols(t), FONT_SIZE if b else SMALL_SIZE, b) for t, b in lines) * 1.05 + 2 * PAD_IN
        h = len(lines) * LINE_IN + 2 * PAD_IN
        x0 = left if left is not None else xc - w / 2
        self.ax.add_patch(Rectangle((x0, ytop - h), w, h, fill=False, lw=0.8, ec="0.2"))
        tx = x0 + PAD_IN if align == "left" else x0 + w / 2
        lines = [(symbols(t), b) for t, b in lines]
        for k, (t, b) in enumerate(lines):
            self.ax.text(tx, ytop - PAD_IN - (k + 0.5) * LINE_IN, t, ha=align, va="center",
                         fontsize=FONT_SIZE if b else SMALL_SIZE, fontweight="bold" if b else "normal")
        return x0, x0 + w, ytop, ytop - h

    def arrow(self, x0, y0, x1, y1):
        self.ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                         arrowprops={"arrowstyle": "-|>", "lw": 0.8, "color": "0.2", "shrinkA": 0, "shrinkB": 0,
                                     "mutation_scale": 8})

    def line(self, xs, ys):
        self.ax.plot(xs, ys, color="0.2", lw=0.8)


@styled
def flow_figure(screened: int, excluded: list[tuple[str, int]], included: int, arms: list[tuple[str, int]],
                matched: list[tuple[str, int, int]] | None = None, pairs: str | None = None,
                centres: list[tuple[str, int, int]] | None = None):
    """CONSORT-style patient flow.

    ``excluded``: (reason, n) in the criteria's order (reasons with n = 0 are left out of the box);
    ``arms``: (arm name, n included); ``matched``: per arm (name, matched, unmatched); ``pairs``: the
    text of the matched-sample box ("183 matched pairs"); ``centres``: (centre, screened, included)."""
    W = DOUBLE_COLUMN_IN
    fig = plt.figure(figsize=(W, 1))  # height set once the boxes are placed
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    c = _Canvas(ax)
    xc = W * 0.4
    y = 0.0
    head = [(f"Patients screened (n = {screened})", True)]
    if centres:
        head += [(f"{name}: {s} screened, {i} included", False) for name, s, i in centres]
    _, _, _, bottom = c.box(xc, y, head)
    shown = [(lab, n) for lab, n in excluded if n > 0]
    ex_lines = [(f"Excluded (n = {sum(n for _, n in excluded)})", True)] + [(f"\u2022 {lab} (n = {n})", False)
                                                                             for lab, n in shown]
    ex_h = len(ex_lines) * LINE_IN + 2 * PAD_IN
    ex_top = bottom - 0.2
    ex_left = xc + 0.35
    _, ex_right, _, ex_bottom = c.box(0, ex_top, ex_lines, align="left", left=ex_left)
    mid = ex_top - ex_h / 2
    inc_top = ex_bottom - 0.2
    c.line([xc, xc], [bottom, mid])
    c.arrow(xc, mid, ex_left, mid)
    c.arrow(xc, mid, xc, inc_top)
    _, _, _, y = c.box(xc, inc_top, [(f"Included (n = {included})", True)])
    right_edge = ex_right
    if arms:
        k = len(arms)
        centres_x = [W * (i + 0.5) / k for i in range(k)] if k > 1 else [xc]
        split = y - 0.15
        arm_top = split - 0.2
        c.line([xc, xc], [y, split])
        c.line([min(centres_x), max(centres_x)], [split, split])
        bottoms = []
        for x, (name, n) in zip(centres_x, arms, strict=True):
            c.arrow(x, split, x, arm_top)
            _, r, _, b = c.box(x, arm_top, [(name, True), (f"Included (n = {n})", False)])
            bottoms.append(b)
            right_edge = max(right_edge, r)
        y = min(bottoms)
        if matched:
            m_top = y - 0.3
            m_bottoms = []
            for x, b, (_name, nm, nu) in zip(centres_x, bottoms, matched, strict=True):
                c.arrow(x, b, x, m_top)
                _, _, _, mb = c.box(x, m_top, [(f"Matched (n = {nm})", False), (f"Not matched (n = {nu})", False)])
                m_bottoms.append(mb)
            y = min(m_bottoms)
            if pairs:
                p_top = y - 0.35
                join = y - 0.15
                for x, mb in zip(centres_x, m_bottoms, strict=True):
                    c.line([x, x], [mb, join])
                c.line([min(centres_x), max(centres_x)], [join, join])
                mx = sum(centres_x) / len(centres_x)
                c.arrow(mx, join, mx, p_top)
                _, _, _, y = c.box(mx, p_top, [(pairs, True)])
    height = -y + 0.1
    width = max(W, right_edge + 0.05)
    fig.set_size_inches(width, height)
    ax.set_xlim(0, width)
    ax.set_ylim(y - 0.05, 0.05)
    ax.set_aspect("equal")
    return fig
