"""The shortcuts that cut the CPU of ``hccstudy run`` give the same numbers and the same bytes as the
long ways they replace: the propensity distance of the resampling chain, the PNG reduced from the
600-dpi raster, the fonts subset before the figure workers fork and the remembered text widths."""

from __future__ import annotations

import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from hccstudy.report import figures as F
from hccstudy.report import figures_forest as FF
from hccstudy.stats.propensity import logistic_distance, logistic_irls


def _design(n: int = 300, aliased: bool = False, seed: int = 4):
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n)
    size = rng.gamma(2.0, 3.0, n)
    male = (rng.random(n) < 0.7).astype(float)
    cols = [np.ones(n), age, size, male]
    names = ["(Intercept)", "age", "size", "sexM"]
    if aliased:  # a copy of sexM: glm.fit sets it NA
        cols.append(male.copy())
        names.append("sexM2")
    X = np.column_stack(cols)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-3 + 0.04 * age + 0.1 * size)))).astype(float)
    return X, y, names


@pytest.mark.parametrize("aliased", [False, True])
@pytest.mark.parametrize("link", ["logit", "linear.logit"])
def test_logistic_distance_is_the_fits_distance_to_the_bit(link, aliased):
    X, y, names = _design(aliased=aliased)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = logistic_irls(X, y, names)
    assert np.isnan(fit.coefficients["sexM2"]) if aliased else fit.coefficients.notna().all()
    d = logistic_distance(X, y, names, link)
    assert d.tobytes() == fit.distance(link).tobytes()


def test_logistic_distance_rejects_what_logistic_irls_rejects():
    X, y, names = _design()
    bad = X.copy()
    bad[7, 2] = np.nan
    for args in ((bad, y), (X, np.where(np.arange(len(y)) == 3, 2.0, y)), (X[:3], y[:3])):
        with pytest.raises(ValueError) as a:
            logistic_irls(*args, names)
        with pytest.raises(ValueError) as b:
            logistic_distance(*args, names, "logit")
        assert str(a.value) == str(b.value)
    with pytest.raises(ValueError, match=r"\['size'\]"):
        logistic_distance(bad, y, names, "logit")


@pytest.mark.parametrize("opaque", [True, False])
def test_png_reduction_equals_pils_premultiplied_reduce(opaque):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (61, 90, 4), dtype=np.uint8)  # odd height: a last half block
    if opaque:
        pixels[..., 3] = 255
    image = Image.frombuffer("RGBA", (90, 61), pixels, "raw", "RGBA", 0, 1)
    got = F._reduce(image, pixels, 2)
    assert got.mode == "RGBA" and got.size == (45, 31)
    assert got.tobytes() == image.reduce(2).tobytes()


@pytest.mark.parametrize("reach", ["inside", "padding beyond the edge", "ink beyond the edge"])
def test_saved_png_is_the_tiff_reduced(tmp_path, reach):
    """The PNG is the 600-dpi TIFF's pixels reduced by PIL, whether the padded box lies on the canvas,
    its padding reaches beyond the figure's edge (white there) or the ink itself does (drawn again)."""
    with F.style():
        fig, ax = plt.subplots(figsize=(2.0, 1.4))
        ax.plot([0, 1, 2], [1, 0, 2])
        ax.set_title("P ≥ 0.05")
        if reach == "inside":
            fig.subplots_adjust(left=0.3, right=0.8, bottom=0.3, top=0.75)
        elif reach == "padding beyond the edge":  # the x tick labels end 0.02 in above the bottom edge
            fig.subplots_adjust(left=0.16, right=0.99, bottom=0.16, top=0.86)
        else:  # the tick labels lie outside the figure
            ax.set_position([0, 0, 1, 1])
    paths = F.save(fig, tmp_path / "f", ("png", "tiff"))
    assert [p.suffix for p in paths] == [".png", ".tiff"]
    tiff = Image.open(paths[1]).convert("RGBA")
    png = Image.open(paths[0]).convert("RGBA")
    assert png.size == ((tiff.width + 1) // 2, (tiff.height + 1) // 2)
    assert png.tobytes() == tiff.reduce(2).tobytes()
    if reach == "padding beyond the edge":  # below the figure: the white of its face, opaque
        bottom = np.asarray(tiff)[-3:]
        assert (bottom == 255).all()


def _pdf(key: str) -> bytes:
    with F.style():
        fig, ax = plt.subplots(figsize=(2.0, 1.4))
        ax.set_title("Overall survival", fontweight="bold")
        ax.plot([0, 1], [1, 0], label="SE ≥ 2")
        ax.legend()
    buf = io.BytesIO()
    with F.style(), F._shared_font_subsets():
        fig.savefig(buf, format="pdf", metadata={"CreationDate": None, "ModDate": None, "Producer": None,
                                                 "Creator": None})
    plt.close(fig)
    return buf.getvalue()


def test_warm_up_makes_the_subsets_a_figure_would_and_changes_no_byte():
    saved = dict(F._SUBSETS)
    try:
        F._SUBSETS.clear()
        cold = _pdf("cold")
        made = set(F._SUBSETS)
        F._SUBSETS.clear()
        F.warm_up(("png", "pdf", "svg", "tiff"))
        warmed = set(F._SUBSETS)
        assert len(warmed) == 2 and warmed == made  # regular and bold, the keys the figure needed
        assert _pdf("warm") == cold
        assert set(F._SUBSETS) == warmed  # all hits
    finally:
        F._SUBSETS.clear()
        F._SUBSETS.update(saved)


def test_remembered_text_widths_are_the_measured_ones():
    texts = ["Reference", "0.64 (0.49\u20130.84)", "ECOG \u2265 1\nline two", "", "Age, years"]
    for t in texts:
        for size, bold in ((7.0, False), (7.0, True), (8.0, False)):
            first = FF.text_width_in(t, size, bold)
            assert FF.text_width_in(t, size, bold) == first
            assert first == FF._text_width_in.__wrapped__(t, size, bold, plt.rcParams["text.hinting_factor"],
                                                          plt.rcParams["text.kerning_factor"])
    assert FF.text_width_in("Reference") < FF.text_width_in("Reference", bold=True)
