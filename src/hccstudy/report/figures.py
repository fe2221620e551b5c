"""Publication figures (matplotlib, Agg): every figure saved as PNG (300 dpi) and SVG, byte-stable
(no timestamps, fixed SVG ids).  Arm colours are fixed: control / first arm blue, treated / second
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


def save(fig, stem: Path, formats=("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``stem.<fmt>`` for each format; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(fmt, {})
        fig.savefig(path, dpi=300, metadata=meta, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def love_plot(balance: pd.DataFrame, stem: Path, threshold: float = 0.1) -> list[Path]:
    """Signed standardised mean differences per term, before (open) and after (filled) matching."""
    b = balance.iloc[::-1]
    y = np.arange(len(b))
    fig, ax = plt.subplots(figsize=(5.5, 0.32 * len(b) + 1.2))
    ax.axvline(0, color="0.3", lw=0.8)
    for x in (-threshold, threshold):
        ax.axvline(x, color="0.6", lw=0.8, ls="--")
    ax.scatter(b["smd_before"], y, facecolors="none", edgecolors=ARM_COLOURS[0], label="Before matching", zorder=3)
    ax.scatter(b["smd_after"], y, color=ARM_COLOURS[1], label="After matching", zorder=3)
    ax.set_yticks(y, b["term"])
    ax.set_xlabel("Standardised mean difference (treated SD)")
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    ax.set_title("Covariate balance", fontsize=10)
    return save(fig, stem)


def ps_plot(distance: np.ndarray, treated: np.ndarray, matched: np.ndarray, labels: tuple[str, str],
            stem: Path, xlabel: str = "Propensity score") -> list[Path]:
    """Distribution of the distance by arm, all units and matched units (mirrored histograms)."""
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
    axes[0].set_ylabel("Units (control below)")
    axes[1].legend(frameon=False, fontsize=8)
    return save(fig, stem)
