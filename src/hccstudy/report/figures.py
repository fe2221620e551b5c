"""Publication figures (matplotlib, Agg), drawn from the fitted objects (Kaplan–Meier steps, Cox rows),
never refitted.  Each ``*_figure`` function draws and returns a Figure whose every text is already a
display label (the report's sections pass labels, not code names); :func:`save` writes it, byte-stable
(no timestamps, fixed SVG ids).  Arm colours are fixed: the first arm (the reference) blue, the second
orange (colour-blind safe, Okabe–Ito)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ARM_COLOURS = ("#0072B2", "#E69F00")
plt.rcParams.update({"svg.hashsalt": "hccstudy", "font.family": "DejaVu Sans", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})


def save(fig, stem: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``stem.<fmt>``: PNG 300 dpi, SVG, PDF (no timestamps, fixed ids), TIFF 600 dpi
    LZW (journals); returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        if fmt == "tiff":
            fig.savefig(path, dpi=600, bbox_inches="tight", pil_kwargs={"compression": "tiff_lzw"})
        else:
            meta = {"png": {"Software": None}, "svg": {"Date": None},
                    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None}}.get(fmt, {})
            fig.savefig(path, dpi=300, metadata=meta, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def love_figure(terms: list[str], smd_before, smd_after, threshold: float = 0.1):
    """Signed standardised mean differences per term (display labels, in table order), before (open)
    and after (filled) matching."""
    b = pd.DataFrame({"term": terms, "smd_before": smd_before, "smd_after": smd_after}).iloc[::-1]
    y = np.arange(len(b))
    fig, ax = plt.subplots(figsize=(5.5, 0.32 * len(b) + 1.2))
    ax.axvline(0, color="0.3", lw=0.8)
    for x in (-threshold, threshold):
        ax.axvline(x, color="0.6", lw=0.8, ls="--")
    ax.scatter(b["smd_before"], y, facecolors="none", edgecolors=ARM_COLOURS[0], label="Before matching", zorder=3)
    ax.scatter(b["smd_after"], y, color=ARM_COLOURS[1], label="After matching", zorder=3)
    ax.set_yticks(y, b["term"])
    ax.set_xlabel("Standardised mean difference")
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    ax.set_title("Covariate balance", fontsize=10)
    return fig


def ps_figure(distance: np.ndarray, treated: np.ndarray, matched: np.ndarray, labels: tuple[str, str],
              xlabel: str = "Propensity score"):
    """Distribution of the distance by arm, all units and matched units (mirrored histograms);
    ``labels``: (control, treated) display names."""
    d = np.asarray(distance, dtype=float)
    t = np.asarray(treated, dtype=bool)
    m = np.asarray(matched, dtype=bool)
    bins = np.linspace(d.min(), d.max(), 31) if d.max() > d.min() else 10
    fig, axes = plt.subplots(1, 2, figsize=(7, 3), sharey=True)
    for ax, sel, title in ((axes[0], np.ones_like(m), "All"), (axes[1], m, "Matched")):
        ht, edges = np.histogram(d[t & sel], bins=bins)
        hc, _ = np.histogram(d[~t & sel], bins=bins)
        width = np.diff(edges)
        ax.bar(edges[:-1], ht, width=width, align="edge", color=ARM_COLOURS[1], label=labels[1])
        ax.bar(edges[:-1], -hc, width=width, align="edge", color=ARM_COLOURS[0], label=labels[0])
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel(f"Patients ({labels[0]} below)")
    axes[1].legend(frameon=False, fontsize=8)
    return fig


def km_figure(curves: dict, *, p_value: float | None = None, xlabel: str = "Months",
              ylabel: str = "Survival probability", breaks: list[float] | None = None, conf_int: bool = True,
              median_lines: bool = True, title: str | None = None):
    """Kaplan–Meier curves in the survminer style: step curves per arm with censor ticks ('+'),
    optional CI ribbons, median lines, the log-rank P on the plot (survminer's format: "p < 0.0001" or
    "p = " two significant digits) and a number-at-risk table under the x axis aligned with its ticks
    (n at risk = #{time >= t}, as ``summary(fit, times)``).

    ``curves``: {display name: KaplanMeier}, in legend order (first arm blue, second orange)."""
    from matplotlib.ticker import FixedLocator

    fig = plt.figure(figsize=(6.5, 5.2))
    ax = fig.add_axes((0.14, 0.36, 0.82, 0.56))
    tab = fig.add_axes((0.14, 0.06, 0.82, 0.17))
    tmax = max(float(km.table["time"].max()) for km in curves.values() if len(km.table))
    if breaks is None:
        step = _nice_step(tmax)
        breaks = list(np.arange(0, tmax + step * 0.999, step))
    for k, (label, km) in enumerate(curves.items()):
        colour = ARM_COLOURS[k % len(ARM_COLOURS)]
        t = np.r_[0.0, km.table["time"].to_numpy()]
        s = np.r_[1.0, km.table["surv"].to_numpy()]
        ax.step(t, s, where="post", color=colour, lw=1.5, label=label)
        if conf_int:
            lo = np.r_[1.0, km.table["lower"].to_numpy()]
            hi = np.r_[1.0, km.table["upper"].to_numpy()]
            ax.fill_between(t, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0), step="post", color=colour,
                            alpha=0.12, lw=0)
        cens = km.table[km.table["n_censor"] > 0]
        ax.plot(cens["time"], cens["surv"], "+", color=colour, ms=6, mew=1.0)
        med = km.median[0]
        if median_lines and np.isfinite(med):
            ax.plot([0, med], [0.5, 0.5], ls="--", color="0.5", lw=0.8)
            ax.plot([med, med], [0, 0.5], ls="--", color=colour, lw=0.8)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, breaks[-1] * 1.02)
    ax.xaxis.set_major_locator(FixedLocator(breaks))
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.legend(frameon=False, loc="upper right")
    if p_value is not None and np.isfinite(p_value):
        txt = "Log-rank p < 0.0001" if p_value < 1e-4 else f"Log-rank p = {p_value:.2g}"
        ax.text(0.03, 0.06, txt, transform=ax.transAxes)
    if title:
        ax.set_title(title, fontsize=10)
    # risk table
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, len(curves) - 0.5)
    tab.xaxis.set_major_locator(FixedLocator(breaks))
    tab.set_xticklabels([])
    tab.tick_params(length=0, pad=22)
    for spine in tab.spines.values():
        spine.set_visible(False)
    names = list(curves)
    tab.set_yticks(range(len(names)), names[::-1])
    for k, km in enumerate(curves.values()):
        y = len(names) - 1 - k
        at = km.surv_at(breaks)
        for t, n in zip(breaks, at["n_risk"], strict=True):
            tab.text(t, y, str(int(n)), ha="center", va="center", color=ARM_COLOURS[k % len(ARM_COLOURS)], fontsize=8)
        tab.get_yticklabels()[y].set_color(ARM_COLOURS[k % len(ARM_COLOURS)])
    tab.set_title("Number at risk", fontsize=9, loc="left")
    return fig


def _nice_step(tmax: float) -> float:
    raw = tmax / 6
    mag = 10 ** np.floor(np.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 3, 5, 6, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def forest_figure(labels: pd.DataFrame, hr, lcl, ucl, p, *, title: str = "", p_header: str = "P",
                  xlabel: str = "Hazard ratio (95% CI)"):
    """Forest plot: one row per entry with its text columns (``labels``: header -> display text), HR (95%
    CI) text, P, a log x axis and a reference line at 1."""
    from matplotlib.ticker import FixedLocator, NullLocator

    from .format import hr_ci, p_value

    n = len(labels)
    fig = plt.figure(figsize=(8.5, 0.32 * n + 1.3))
    ax = fig.add_axes((0.52, 0.9 / (0.32 * n + 1.3), 0.28, 1 - 1.4 / (0.32 * n + 1.3)))
    y = np.arange(n)[::-1]
    hr, lo, hi = (np.asarray(v, dtype=float) for v in (hr, lcl, ucl))
    pv = np.asarray(p, dtype=float)
    ok = np.isfinite(hr) & np.isfinite(lo) & np.isfinite(hi) & (hr > 0)
    ax.hlines(y[ok], lo[ok], hi[ok], color="0.2", lw=1)
    ax.plot(hr[ok], y[ok], "s", color=ARM_COLOURS[0], ms=5)
    ax.axvline(1.0, color="0.4", ls="--", lw=0.8)
    ax.set_xscale("log")
    if ok.any():
        lo_x, hi_x = np.nanmin(lo[ok]), np.nanmax(hi[ok])
        ax.set_xlim(min(lo_x, 0.9) / 1.2, max(hi_x, 1.1) * 1.2)
    ax.set_ylim(-0.7, n - 0.3)
    lim = ax.get_xlim()
    ticks = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if lim[0] <= v <= lim[1]]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(xlabel)
    trans = ax.get_yaxis_transform()
    heads = list(labels.columns)
    xs = np.linspace(-1.8, -0.7, len(heads)) if heads else []
    for k, h in enumerate(heads):
        ax.text(xs[k], n - 0.2, h, transform=trans, ha="left", va="bottom", fontweight="bold", fontsize=8)
    ax.text(1.05, n - 0.2, "HR (95% CI)", transform=trans, ha="left", va="bottom", fontweight="bold", fontsize=8)
    ax.text(1.5, n - 0.2, p_header, transform=trans, ha="left", va="bottom", fontweight="bold", fontsize=8)
    for i, row in enumerate(labels.itertuples(index=False)):
        yy = y[i]
        for k, v in enumerate(row):
            ax.text(xs[k], yy, str(v), transform=trans, ha="left", va="center", fontsize=8)
        ax.text(1.05, yy, hr_ci(hr[i], lo[i], hi[i]), transform=trans, ha="left", va="center", fontsize=8)
        ax.text(1.5, yy, p_value(pv[i]), transform=trans, ha="left", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    return fig


def flow_figure(screened: int, excluded: list[tuple[str, int]], included: int, arms: list[tuple[str, int]],
                matched: str | None = None):
    """The patient flow (CONSORT style): screened -> excluded (each reason, n) -> included -> arms
    (-> the matched sample)."""
    lines = [f"Screened: {screened}", None, f"Excluded: {sum(n for _, n in excluded)}",
             *[f"  {lab}: {n}" for lab, n in excluded if n > 0], None, f"Included: {included}", None,
             "    ".join(f"{lab}: {n}" for lab, n in arms)]
    if matched:
        lines += [None, matched]
    h = 0.28 * len(lines) + 0.4
    fig = plt.figure(figsize=(6.5, h))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    y = 1 - 0.2 / h
    for text in lines:
        if text is None:
            ax.text(0.5, y, "\u2193", ha="center", va="top", fontsize=11, transform=ax.transAxes)
        else:
            indent = text.startswith("  ")
            ax.text(0.22 if indent else 0.5, y, text.strip(), ha="left" if indent else "center", va="top",
                    fontsize=9, transform=ax.transAxes,
                    bbox=None if indent else {"boxstyle": "round,pad=0.3", "fc": "#f7f7f7", "ec": "#333333", "lw": 0.8})
        y -= 0.28 / h
    return fig
