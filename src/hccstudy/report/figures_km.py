"""Kaplan–Meier panels as a journal prints them (survminer ``ggsurvplot`` style) and the composite
figure of several panels lettered A, B, C, ...

A panel: one step curve per arm drawn from its change points only (one vertex per distinct event
time, so a cohort of any size costs the same), censor marks ("+") thinned to a minimum spacing,
optional CI ribbons and median lines, the y axis named by the endpoint in %, the x axis from 0 to
the last follow-up with ticks every ``break_step`` (6 or 12 months: 6 when the follow-up spans at
most 36 months), "Log-rank P = 0.002" and "HR 0.64 (95% CI 0.49–0.84)" on the plot, and the number
at risk (n at risk = #{time >= t}, ``summary(fit, times)``) under each tick in the arm colours.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator

from .figures import ARM_COLOURS, DOUBLE_COLUMN_IN, LETTER_SIZE, SINGLE_COLUMN_IN, SMALL_SIZE, styled
from .format import p_value as p_text


def break_step(tmax: float, unit: str = "months", step: float | None = None) -> float:
    """Tick and risk-table interval: ``step`` when given (config ``report.km_break_months``), else for
    months 6 when the follow-up spans at most 36 months, 12 otherwise; in other units a round step
    giving 4-8 intervals."""
    if step is not None and step > 0:
        return float(step)
    if unit.lower().startswith("month"):
        return 6.0 if tmax <= 36 else 12.0
    raw = max(tmax, 1e-9) / 6
    mag = 10 ** math.floor(math.log10(raw))
    return float(next(m * mag for m in (1, 2, 2.5, 5, 10) if raw <= m * mag))


def breaks_to(tmax: float, step: float) -> list[float]:
    """0, step, 2 step, ... up to the last follow-up (never beyond it)."""
    return [step * k for k in range(int(math.floor(tmax / step + 1e-9)) + 1)]


def p_label(p: float, name: str = "Log-rank P") -> str:
    """"Log-rank P = 0.002", "Log-rank P < 0.001" (the tables' P rule)."""
    t = p_text(p)
    return f"{name} {t[0]} {t[1:].strip()}" if t[:1] in ("<", ">") else f"{name} = {t}"


def hr_label(hr: float, lcl: float, ucl: float) -> str:
    """"HR 0.64 (95% CI 0.49–0.84)" (2 decimals, as the tables)."""
    return f"HR {hr:.2f} (95% CI {lcl:.2f}\u2013{ucl:.2f})"


def _steps(km) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """The curve's change points: (0, 1) then each distinct event time with S(t), its CI, and the
    last follow-up time (the curve is flat from the last event to it)."""
    t = km.table
    ev = t["n_event"].to_numpy() > 0
    x = np.r_[0.0, t["time"].to_numpy()[ev]]
    s = np.r_[1.0, t["surv"].to_numpy()[ev]]
    lo = np.r_[1.0, t["lower"].to_numpy()[ev]]
    hi = np.r_[1.0, t["upper"].to_numpy()[ev]]
    last = float(t["time"].max()) if len(t) else 0.0
    return x, s, lo, hi, last


#: change points per inch of axes width kept by :func:`_decimate`: half a pixel of the 600-dpi TIFF
STEP_RESOLUTION = 1200


def _decimate(x: np.ndarray, dx: float) -> np.ndarray:
    """Indices of the change points drawn: in each bin of width ``dx`` on the time axis, the first and
    the last (``x`` ascending), so the curve drops at the first change point of a bin and reaches its
    value after the bin's last one there; the drawn step function differs from the full one only
    inside a bin, less than ``dx`` wide (:data:`STEP_RESOLUTION`: half a 600-dpi pixel).  A curve
    then has at most two vertices per bin, whatever the number of patients."""
    if len(x) < 3 or not dx > 0:
        return np.arange(len(x))
    b = np.floor(x / dx)
    change = b[1:] != b[:-1]
    return np.flatnonzero(np.r_[True, change] | np.r_[change, True])


def _thin(times: np.ndarray, gap: float) -> np.ndarray:
    """Indices of the times kept so that marks are at least about ``gap`` apart (one per bin)."""
    if not len(times) or gap <= 0:
        return np.arange(len(times))
    _, keep = np.unique(np.floor(times / gap), return_index=True)
    return keep


def km_panel(fig, rect: tuple[float, float, float, float], curves: dict, *, p_value: float | None = None,
             hr: tuple[float, float, float] | None = None, xlabel: str = "Months",
             ylabel: str = "Survival (%)", step: float | None = None, unit: str = "months",
             conf_int: bool = True, median_lines: bool = False, title: str | None = None,
             letter: str | None = None, table_fraction: float = 0.24, decimate: bool = True):
    """Draw one panel (curves + risk table) into ``rect`` (figure fraction: left, bottom, width,
    height); returns (curve axes, risk-table axes).  ``decimate=False`` draws every change point
    (the full drawing :func:`_decimate` is tested against)."""
    from .figures_forest import text_width_in
    left, bottom, width, height = rect
    fw, fh = fig.get_size_inches()
    # the left margin holds the risk table's arm names (measured) and the y label
    counts = [f"{int(km.n):,}" for km in curves.values()]
    pad_pt = max((text_width_in(c, SMALL_SIZE) for c in counts), default=0.1) * 72 / 2 + 4
    margin = max(0.55, max((text_width_in(n, SMALL_SIZE) for n in curves), default=0.0) + pad_pt / 72 + 0.08) / fw
    left, width = left + margin, width - margin
    th = (0.2 + 0.17 * len(curves)) / fh
    gap = 0.5 / fh
    top = 0.25 / fh if (title or letter) else 0.05 / fh
    ax = fig.add_axes((left, bottom + th + gap, width, height - th - gap - top))
    tab = fig.add_axes((left, bottom, width, th))
    tmax = max((float(km.table["time"].max()) for km in curves.values() if len(km.table)), default=1.0)
    step = break_step(tmax, unit, step)
    ticks = breaks_to(tmax, step)
    xmax = max(tmax, min(tmax * 1.01, math.ceil(tmax / step) * step))   # a 1% pad, never past the next break
    dx = xmax / (width * fw * STEP_RESOLUTION) if decimate else 0.0
    for k, (label, km) in enumerate(curves.items()):
        colour = ARM_COLOURS[k % len(ARM_COLOURS)]
        x, s, lo, hi, last = _steps(km)
        keep = _decimate(x, dx)
        x, s, lo, hi = x[keep], s[keep], lo[keep], hi[keep]
        xs, ss = np.r_[x, last], np.r_[s, s[-1]]
        ax.step(xs, 100 * ss, where="post", color=colour, lw=1.2, label=label)
        if conf_int:
            ax.fill_between(xs, 100 * np.nan_to_num(np.r_[lo, lo[-1]], nan=0.0),
                            100 * np.nan_to_num(np.r_[hi, hi[-1]], nan=1.0), step="post", color=colour, alpha=0.12, lw=0)
        cens = km.table[km.table["n_censor"].to_numpy() > 0]
        ct, cs = cens["time"].to_numpy(), cens["surv"].to_numpy()
        keep = _thin(ct, tmax / 120)
        ax.plot(ct[keep], 100 * cs[keep], "+", color=colour, ms=4, mew=0.8)
        med = km.median[0]
        if median_lines and np.isfinite(med):
            ax.plot([0, med], [50, 50], ls="--", color="0.5", lw=0.7)
            ax.plot([med, med], [0, 50], ls="--", color=colour, lw=0.7)
    ax.set_ylim(0, 102)
    ax.set_xlim(0, xmax)
    ax.yaxis.set_major_locator(FixedLocator([0, 25, 50, 75, 100]))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.legend(frameon=False, loc="upper right", handlelength=1.5, borderaxespad=0.2)
    notes = [t for t in (p_label(p_value) if p_value is not None and np.isfinite(p_value) else None,
                         hr_label(*hr) if hr is not None and all(np.isfinite(hr)) else None) if t]
    if notes:
        # under the legend when every curve is below it there, else bottom left when every curve is
        # above that corner, else wherever fewer curves pass
        box_w = max(text_width_in(t) for t in notes) / (width * fw) + 0.02
        top_right = max(float(km.surv_at([xmax * (1 - box_w)])["surv"].iat[0]) for km in curves.values())
        low_left = min(float(km.surv_at([xmax * box_w])["surv"].iat[0]) for km in curves.values())
        legend_h = (0.05 + 0.17 * len(curves)) / (ax.get_position().height * fh)
        if top_right < 1 - legend_h - 0.2 or low_left < 0.25:
            ax.text(0.98, 1 - legend_h - 0.02, "\n".join(notes), transform=ax.transAxes, ha="right", va="top")
        else:
            ax.text(0.03, 0.04, "\n".join(notes), transform=ax.transAxes, ha="left", va="bottom")
    if title:
        ax.set_title(title, loc="left" if letter else "center")
    if letter:
        ax.text(-margin * fw / (width * fw), 1.0 + 0.12 / (ax.get_position().height * fh), letter, transform=ax.transAxes, ha="left", va="bottom", fontsize=LETTER_SIZE,
                fontweight="bold")
    # the risk table: one row per arm, numbers under the ticks, in the arm colours
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, len(curves) - 0.5)
    tab.xaxis.set_major_locator(NullLocator())
    tab.set_xticks([])
    for spine in tab.spines.values():
        spine.set_visible(False)
    names = list(curves)
    tab.set_yticks(range(len(names)), names[::-1])
    tab.tick_params(axis="y", length=0, labelsize=SMALL_SIZE, pad=pad_pt)
    for k, km in enumerate(curves.values()):
        y = len(names) - 1 - k
        colour = ARM_COLOURS[k % len(ARM_COLOURS)]
        at = km.surv_at(ticks)
        for t, n in zip(ticks, at["n_risk"], strict=True):
            tab.text(t, y, f"{int(n):,}", ha="center", va="center", color=colour, fontsize=SMALL_SIZE)
        tab.get_yticklabels()[y].set_color(colour)
    tab.text(-margin / width, 1.0, "Number at risk", transform=tab.transAxes, fontsize=SMALL_SIZE, ha="left",
             va="bottom", fontweight="bold")
    return ax, tab


@styled
def km_figure(curves: dict, *, p_value: float | None = None, hr: tuple[float, float, float] | None = None,
              xlabel: str = "Months", ylabel: str = "Survival (%)", step: float | None = None,
              unit: str = "months", conf_int: bool = True, median_lines: bool = False, title: str | None = None,
              decimate: bool = True):
    """One Kaplan–Meier panel as its own figure (single-column width and a half; see :func:`km_panel`).

    ``curves``: {display name: KaplanMeier}, in legend order (reference arm first, blue)."""
    fig = plt.figure(figsize=(SINGLE_COLUMN_IN * 1.5, 3.6))
    km_panel(fig, (0.02, 0.02, 0.95, 0.96), curves, p_value=p_value, hr=hr, xlabel=xlabel, ylabel=ylabel, step=step,
             unit=unit, conf_int=conf_int, median_lines=median_lines, title=title, decimate=decimate)
    return fig


@styled
def km_composite(panels: list[dict], ncols: int = 2):
    """Several KM panels in one double-column figure, lettered A, B, C, ... in reading order (the
    paper's Figure 2: OS and PFS, all and matched patients).  ``panels``: keyword arguments of
    :func:`km_panel` each (``curves`` included)."""
    n = len(panels)
    nrows = math.ceil(n / ncols)
    ph = 3.2
    fig = plt.figure(figsize=(DOUBLE_COLUMN_IN, ph * nrows))
    w, h = 1 / ncols, 1 / nrows
    for i, kw in enumerate(panels):
        r, c = divmod(i, ncols)
        rect = (c * w + w * 0.01, 1 - (r + 1) * h + h * 0.04, w * 0.96, h * 0.93)
        km_panel(fig, rect, letter=chr(ord("A") + i), **kw)
    return fig
