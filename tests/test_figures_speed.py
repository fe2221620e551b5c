"""Figures at any size (issue 13): a Kaplan–Meier curve drawn from a bounded number of change points
looks the same as the full drawing at print resolution, the figure formats are a config option, and
the figure files do not depend on the number of worker processes that draw them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hccstudy.report import figures as F
from hccstudy.report.figures_km import _decimate
from hccstudy.stats.km import kaplan_meier


def _cohort(n: int, seed: int = 13) -> dict:
    """Two arms of n/2 patients, exponential survival (median 12 and 18 months), uniform censoring:
    continuous times, so nearly every event time is distinct."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, median in (("Arm A", 12.0), ("Arm B", 18.0)):
        t = rng.exponential(median / np.log(2), n // 2)
        c = rng.uniform(0, 60, n // 2)
        out[name] = kaplan_meier(np.minimum(t, c), (t <= c).astype(int))
    return out


def _png(fig, path) -> np.ndarray:
    (png,) = F.save(fig, path, ("png",))
    return np.asarray(Image.open(png).convert("RGBA"), dtype=np.int16)


def test_decimate_keeps_first_and_last_change_point_of_each_bin():
    x = np.array([0.0, 0.1, 0.2, 0.9, 1.5, 3.2, 3.3, 3.4, 3.5])
    assert _decimate(x, 1.0).tolist() == [0, 3, 4, 5, 8]
    assert _decimate(x, 0.0).tolist() == list(range(len(x)))  # no bin: every point


def test_a_decimated_km_curve_has_a_bounded_number_of_vertices():
    counts = {}
    for n in (2_000, 200_000):
        fig = F.km_figure(_cohort(n))
        counts[n] = max(len(line.get_xdata()) for line in fig.axes[0].lines)
        F.plt.close(fig)
    # two vertices per bin at most, bins of half a 600-dpi pixel over the axes (~4 in): <= ~10^4
    assert counts[200_000] <= 2 * 1200 * 5 + 2
    assert counts[2_000] < counts[200_000]


def test_decimated_km_figure_matches_the_full_drawing_at_300_dpi(tmp_path):
    """10^4 patients: the figure drawn from the decimated change points against the one drawn from
    every change point, both as the 300-dpi PNG the report embeds.  A pixel "differs" when a channel
    differs by more than 8/255 (below what a reader sees); at most 0.1% of the pixels may differ.
    Decimation moves a drop by less than half a 600-dpi pixel (a quarter of a 300-dpi one), so only
    antialiasing of a few edge pixels can change."""
    curves = _cohort(10_000)
    full = _png(F.km_figure(curves, p_value=0.001, hr=(0.7, 0.6, 0.8), decimate=False), tmp_path / "full")
    thin = _png(F.km_figure(curves, p_value=0.001, hr=(0.7, 0.6, 0.8)), tmp_path / "thin")
    assert full.shape == thin.shape
    differs = (np.abs(full - thin) > 8).any(axis=2)
    assert differs.mean() < 1e-3, f"{differs.sum()} of {differs.size} pixels differ"
