"""Figures of the sensitivity analyses (docs/sensitivity.md): the summary forest of the arm HR by method
with its E-value, the per-centre forest with the fixed- and random-effects diamonds, the weighted Love
plot (one marker per weighting estimand), the IPTW-adjusted (weighted Kaplan–Meier) survival curves
per arm and the design-grid plot (the matched HR across calipers, ratios and with / without replacement).  The two forests are :func:`~.figures_forest.forest_figure`
layouts; every function takes numbers and display texts only (no refit, nothing read from files)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .figures import ARM_COLOURS, DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN, SMALL_SIZE, styled
from .figures_forest import forest_figure
from .figures_km import STEP_RESOLUTION, _decimate, _steps, break_step, breaks_to, hr_label


def summary_forest_figure(methods: Sequence[str], n: Sequence[str], events: Sequence[str], hr, lcl, ucl,
                          evalues: Sequence[str], favours: tuple[str, str], title: str = ""):
    """The arm HR by method (one row each, the primary analysis first), with n, events and the E-value
    of the point estimate and of the CI limit closer to 1 in the right-hand column."""
    labels = pd.DataFrame({"Method": list(methods), "n": list(n), "Events": list(events)})
    return forest_figure(labels, hr, lcl, ucl, list(evalues), p_header="E-value\n(CI limit)", title=title,
                         favours=favours)


def centre_forest_figure(centres: Sequence[str], n: Sequence[str], events: Sequence[str], hr, lcl, ucl,
                         weights: Sequence[str], pooled: Sequence[tuple[str, float, float, float]],
                         favours: tuple[str, str], title: str = ""):
    """The arm HR per centre, then one diamond per pooled estimate (``pooled``: (label, hr, lcl, ucl):
    fixed effect, DerSimonian–Laird random effects); ``weights``: the random-effects weight per centre."""
    k = len(centres)
    labels = pd.DataFrame({"Centre": [*centres, *[p[0] for p in pooled]], "n": [*n, *[""] * len(pooled)],
                           "Events": [*events, *[""] * len(pooled)]})
    return forest_figure(labels, [*hr, *[p[1] for p in pooled]], [*lcl, *[p[2] for p in pooled]],
                         [*ucl, *[p[3] for p in pooled]], [*weights, *[""] * len(pooled)],
                         kinds=["estimate"] * k + ["overall"] * len(pooled), p_header="Weight\n(random)",
                         title=title, favours=favours)


_MARKERS = ("o", "s", "D", "^", "v")


@styled
def weighted_love_figure(terms: list[str], smd_before, smd_after: dict[str, Sequence[float]], threshold: float = 0.1):
    """Standardised mean differences per term (display labels, in table order): unweighted (open
    circles) and after each weighting (one filled marker per estimand), with the ±``threshold`` lines."""
    n = len(terms)
    y = np.arange(n)[::-1].astype(float)
    fig, ax = plt.subplots(figsize=(DOUBLE_COLUMN_IN * 0.75, 0.24 * n + 1.1), layout="constrained")
    ax.axvline(0, color="0.3", lw=0.8)
    for x in (-threshold, threshold):
        ax.axvline(x, color="0.6", lw=0.8, ls="--")
    ax.scatter(np.asarray(smd_before, dtype=float), y, facecolors="none", edgecolors="0.35", label="Unweighted",
               zorder=3, s=20)
    k = len(smd_after)
    for j, (name, v) in enumerate(smd_after.items()):
        dy = (j - (k - 1) / 2) * 0.14  # a small offset per estimand so that coinciding markers stay visible
        ax.scatter(np.asarray(v, dtype=float), y + dy, marker=_MARKERS[j % len(_MARKERS)],
                   color=ARM_COLOURS[(j + 1) % len(ARM_COLOURS)], label=name, zorder=3, s=16)
    ax.set_yticks(y, terms)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Standardised mean difference")
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return fig


@styled
def weighted_km_figure(curves: dict, hr: tuple[float, float, float] | None = None, *, hr_name: str = "IPTW",
                       xlabel: str = "Months", ylabel: str = "Survival (%)", unit: str = "months",
                       step: float | None = None):
    """IPTW-adjusted survival: one weighted Kaplan–Meier step curve per arm (``curves``: display name ->
    :class:`~hccstudy.stats.km.KaplanMeier` fitted with the weights, legend order, reference arm first as
    in the unweighted figures) with its pointwise CI as a ribbon, and the weighted Cox HR (``hr``: hr, lcl,
    ucl) in the lower left corner.  No number-at-risk table: weighted counts are not patients."""
    fig, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN * 1.5, 2.9), layout="constrained")
    tmax = max((float(km.table["time"].max()) for km in curves.values() if len(km.table)), default=1.0)
    xmax = tmax * 1.01
    dx = xmax / (SINGLE_COLUMN_IN * 1.5 * STEP_RESOLUTION)
    for k, (label, km) in enumerate(curves.items()):
        colour = ARM_COLOURS[k % len(ARM_COLOURS)]
        x, surv, lo, hi, last = _steps(km)
        keep = _decimate(x, dx)
        x, surv, lo, hi = x[keep], surv[keep], lo[keep], hi[keep]
        xs = np.r_[x, last]
        ax.step(xs, 100 * np.r_[surv, surv[-1]], where="post", color=colour, lw=1.2, label=label)
        ax.fill_between(xs, 100 * np.nan_to_num(np.r_[lo, lo[-1]], nan=0.0),
                        100 * np.nan_to_num(np.r_[hi, hi[-1]], nan=1.0), step="post", color=colour, alpha=0.12, lw=0)
    ax.set_ylim(0, 102)
    ax.set_xlim(0, xmax)
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.yaxis.set_major_locator(FixedLocator([0, 25, 50, 75, 100]))
    ax.xaxis.set_major_locator(FixedLocator(breaks_to(tmax, break_step(tmax, unit, step))))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="upper right", handlelength=1.5, borderaxespad=0.2)
    if hr is not None and all(np.isfinite(hr)):
        # under the legend when every curve and its band stay below it there, else in the lower left
        # corner when they stay above that, else wherever fewer curves pass (as the unweighted panels)
        from .figures_forest import text_width_in

        text = f"{hr_name} {hr_label(*hr)}"
        fw, fh = fig.get_size_inches()
        fig.canvas.draw()  # the constrained layout fixes the axes' size
        pos = ax.get_position()
        box_w = text_width_in(text) / (pos.width * fw) + 0.02
        legend_h = (0.05 + 0.17 * len(curves)) / (pos.height * fh)

        def top(at: float, lower: bool) -> float:
            rows = [km.surv_at([xmax * at]) for km in curves.values()]
            vals = [float(np.nan_to_num(r["lower" if lower else "upper"].iat[0], nan=r["surv"].iat[0])) for r in rows]
            return min(vals) if lower else max(vals)

        if top(1 - box_w, False) < 1 - legend_h - 0.12 or top(box_w, True) < 0.2:
            ax.text(0.98, 1 - legend_h - 0.02, text, transform=ax.transAxes, ha="right", va="top")
        else:
            ax.text(0.03, 0.04, text, transform=ax.transAxes, ha="left", va="bottom")
    return fig


@styled
def design_grid_figure(calipers: Sequence[str], series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
                       primary: tuple[str, float] | None = None, ylabel: str = "Hazard ratio (95% CI)"):
    """The matched HR (and 95% CI) at each caliper (x, in the given order), one series per matching
    design (``series``: label -> (hr, lcl, ucl) per caliper; NaN: no estimate), dodged side by side; a
    dashed line at HR = 1 and, when given, a dotted line at the primary analysis's HR (label, hr)."""
    x = np.arange(len(calipers), dtype=float)
    k = len(series)
    fig, ax = plt.subplots(figsize=(DOUBLE_COLUMN_IN, 2.8), layout="constrained")
    ax.axhline(1.0, color="0.4", ls="--", lw=0.7)
    if primary is not None and np.isfinite(primary[1]):
        ax.axhline(primary[1], color="0.55", ls=":", lw=0.9, label=primary[0])
    finite = []
    for j, (name, (hr, lo, hi)) in enumerate(series.items()):
        hr, lo, hi = (np.asarray(v, dtype=float) for v in (hr, lo, hi))
        ok = np.isfinite(hr) & np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
        dx = (j - (k - 1) / 2) * min(0.8 / max(k, 1), 0.18)
        colour = ARM_COLOURS[j % len(ARM_COLOURS)]
        ax.errorbar(x[ok] + dx, hr[ok], yerr=[hr[ok] - lo[ok], hi[ok] - hr[ok]], fmt=_MARKERS[j % len(_MARKERS)],
                    color=colour, ms=4, lw=0.9, capsize=0, label=name)
        finite += [*lo[ok], *hi[ok]]
    ax.set_yscale("log")
    if finite:
        lo_y, hi_y = min(min(finite), 0.8) / 1.1, max(max(finite), 1.25) * 1.1
        ax.set_ylim(lo_y, hi_y)
        from matplotlib.ticker import FixedLocator, NullLocator

        ticks = [v for v in (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10) if lo_y <= v <= hi_y]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_yticklabels([f"{v:g}" for v in ticks])
    ax.set_xticks(x, list(calipers))
    ax.set_xlim(-0.6, len(calipers) - 0.4)
    ax.set_xlabel("Caliper (SD of the propensity score)")
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="both", labelsize=SMALL_SIZE)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=SMALL_SIZE)
    return fig


__all__ = ["centre_forest_figure", "design_grid_figure", "summary_forest_figure", "weighted_km_figure",
           "weighted_love_figure"]
