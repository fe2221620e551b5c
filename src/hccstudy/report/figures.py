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
* formats: any of :data:`FORMATS` (config ``report.formats``); :func:`save` lays out and rasterises a
  figure once (TIFF and PNG from one 600-dpi RGBA buffer, every format in one tight box) and the PDFs
  share one font subset per process;
* arm colours: Okabe–Ito (colour-blind safe), the reference arm blue, the other orange.

The figures themselves live in :mod:`.figures_km` (Kaplan–Meier panels and the composite),
:mod:`.figures_forest` (forest plots) and :mod:`.figures_flow` (CONSORT-style patient flow).
"""

from __future__ import annotations

import functools
import math
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


#: every figure format :func:`save` writes (config ``report.formats``)
FORMATS = ("png", "svg", "pdf", "tiff")
#: white space around the tight bounding box of a figure's ink, inches
PAD_IN = 0.04
#: the glyphs every PDF embeds, so that all figures share one font subset per font file (see
#: :func:`_shared_font_subsets`): printable ASCII, the typographic signs the figures use (≤ ≥ – — ← →
#: ± × − · …), the spaces (no-break, en, em, thin) and the f-ligatures text shaping substitutes
PDF_GLYPHS = ("".join(map(chr, range(32, 127))) + "\u2264\u2265\u2013\u2014\u2190\u2192\u00b1\u00d7\u2212\u00b7\u2026"
              "\u00a0\u2002\u2003\u2009" + "".join(map(chr, range(0xFB00, 0xFB05))))


def tight_bbox(ink):
    """The box (inches) around ``ink`` (the figure's tight bounding box: everything drawn), padded by
    :data:`PAD_IN` and rounded outwards to the 300-dpi pixel grid (so the 600-dpi raster halves
    exactly into the 300-dpi one, and every format frames the same area)."""
    from matplotlib.transforms import Bbox
    b = ink.padded(PAD_IN)
    g = DPI["png"]
    return Bbox([[math.floor(b.x0 * g) / g, math.floor(b.y0 * g) / g], [math.ceil(b.x1 * g) / g, math.ceil(b.y1 * g) / g]])


def _fix_layout(fig) -> None:
    """Keep the positions the layout engine gave in the draw just made: remove the engine, so that
    ``savefig`` neither lays the figure out again nor, for a figure that ever had an engine (even the
    placeholder of ``set_layout_engine("none")``), draws it once more without output before printing
    (matplotlib's ``print_figure`` does that dry draw whenever the figure has any layout engine: a
    tenth of every SVG and PDF).  ``None`` would mean "the rcParams' engine", so those are off here."""
    with plt.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)
    if fig.get_layout_engine() is not None:  # pragma: no cover -- a matplotlib that keeps a placeholder
        fig.set_layout_engine("none")


def _raster(fig, formats: tuple[str, ...]) -> tuple[dict[str, bytes], object]:
    """Draw ``fig`` once with Agg at the TIFF resolution (600 dpi) and encode the PNG (300 dpi: each
    2x2 block of the 600-dpi pixels averaged, i.e. 4-sample antialiasing) and the TIFF (600 dpi, LZW)
    from that one RGBA buffer; returns ({format: bytes}, the tight box in inches).  The layout
    engine (constrained layout) runs in this draw and is then removed (:func:`_fix_layout`), so the
    vector formats reuse the same positions."""
    from io import BytesIO

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    raster = "png" in formats or "tiff" in formats
    hi = DPI["tiff"] if raster else 72  # vector formats only: the draw just lays the figure out
    fig.set_dpi(hi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    ink = fig.get_tightbbox(canvas.get_renderer())
    box = tight_bbox(ink)
    _fix_layout(fig)
    if not raster:
        return {}, box
    w, h = fig.get_size_inches()
    eps = 0.5 / hi
    size = (round(box.width * hi), round(box.height * hi))
    if ink.x0 >= -eps and ink.y0 >= -eps and ink.x1 <= w + eps and ink.y1 <= h + eps:
        # all the ink is on the drawn canvas: the box is that canvas cropped, and white (the figure's
        # face colour, as savefig fills it) where the padding reaches beyond the figure's edge
        rgba = np.asarray(canvas.buffer_rgba())
        top, left = round((h - box.y1) * hi), round(box.x0 * hi)
        r0, c0 = max(top, 0), max(left, 0)
        part = rgba[r0:min(top + size[1], rgba.shape[0]), c0:min(left + size[0], rgba.shape[1])]
        if part.shape[:2] == (size[1], size[0]):  # the box lies on the canvas: one copy, no white fill
            pixels = np.ascontiguousarray(part)
        else:
            pixels = np.full((size[1], size[0], 4), 255, dtype=np.uint8)
            pixels[r0 - top:r0 - top + part.shape[0], c0 - left:c0 - left + part.shape[1]] = part
    else:  # ink outside the figure: draw again on a canvas the size of the box
        buf = BytesIO()
        fig.savefig(buf, format="rgba", dpi=hi, bbox_inches=box)
        pixels = np.frombuffer(buf.getvalue(), dtype=np.uint8).reshape(size[1], size[0], 4)
    image = Image.frombuffer("RGBA", size, pixels, "raw", "RGBA", 0, 1)
    out = {}
    if "tiff" in formats:
        buf = BytesIO()
        image.save(buf, format="tiff", compression="tiff_lzw", dpi=(hi, hi))
        out["tiff"] = buf.getvalue()
    if "png" in formats:
        buf = BytesIO()
        lo = DPI["png"]
        _reduce(image, pixels, hi // lo).save(buf, format="png", dpi=(lo, lo))
        out["png"] = buf.getvalue()
    return out, box


def _reduce(image, pixels: np.ndarray, factor: int):
    """``image.reduce(factor)``: each factor x factor block averaged (rounded).  PIL reduces an RGBA
    image premultiplied (RGBA -> RGBa, reduce, RGBa -> RGBA: two conversions of every pixel); where
    every pixel is opaque, as a figure on its white face is, both conversions are the identity, so
    the same buffer is reduced as RGBa directly: the same bytes at a third of the passes."""
    from PIL import Image

    if not (pixels[..., 3] == 255).all():
        return image.reduce(factor)
    small = Image.frombuffer("RGBa", image.size, pixels, "raw", "RGBa", 0, 1).reduce(factor)
    return Image.frombuffer("RGBA", small.size, small.tobytes(), "raw", "RGBA", 0, 1)


def save(fig, stem: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``stem.<fmt>`` under the figure specification: PNG 300 dpi, SVG (text as
    ``<text>``), PDF (TrueType fonts), TIFF 600 dpi LZW; no dates, producer or software stamps, so a
    rerun is byte-identical.  Returns the paths; the figure is closed.

    The figure is laid out and rasterised once (:func:`_raster`: one Agg draw gives the tight box,
    the TIFF and the PNG); SVG and PDF are drawn once each inside that same box, and the PDFs share
    one font subset per process (:func:`_shared_font_subsets`)."""
    from io import BytesIO

    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"figure formats: {unknown} not among {list(FORMATS)}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = {"svg": {"Date": None, "Creator": None},
            "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}}
    try:
        with style():
            # the dpi of the vector prints (matplotlib lays SVG and PDF out in points, so it is no
            # resolution): 72 for a figure drawn with a layout engine, the savefig dpi otherwise, as
            # matplotlib's own dry draw used to leave it -- the bounding-box arithmetic (and with it the
            # SVG clip-path ids, hashes of the clip boxes' exact coordinates) stays the same to the last bit
            vector_dpi = 72 if fig.get_layout_engine() is not None else None
            data, box = _raster(fig, formats)
            for fmt in ("svg", "pdf"):
                if fmt in formats:
                    buf = BytesIO()
                    with _shared_font_subsets():
                        fig.savefig(buf, format=fmt, metadata=meta[fmt], bbox_inches=box, dpi=vector_dpi)
                    data[fmt] = buf.getvalue()
    finally:
        plt.close(fig)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        path.write_bytes(data[fmt])
        out.append(path)
    return out


#: (font file, face index, glyph indices) -> (subset font file bytes, old -> new glyph index)
_SUBSETS: dict[tuple[str, int, frozenset[int]], tuple[bytes, dict[int, int]]] = {}


@functools.lru_cache(maxsize=16)
def _common_glyphs(fontfile: str, face_index: int) -> frozenset[int]:
    """The glyph indices of :data:`PDF_GLYPHS` in one font file."""
    from matplotlib.ft2font import FT2Font
    font = FT2Font(fontfile, face_index=face_index)
    return frozenset(int(font.get_char_index(ord(c))) for c in PDF_GLYPHS)


@contextmanager
def _shared_font_subsets():
    """While a PDF is written, embed each font as its subset to :data:`PDF_GLYPHS` plus whatever else
    the figure draws, computed once per process and font: fontTools subsetting costs ~0.4 s per font
    per file, and every figure needs the same few glyphs.  The PDF shows the same text (matplotlib
    still maps each character it draws through the subset's glyph map); the embedded font carries
    the common glyphs besides.  A cache hit and a miss give the same bytes (both load the subset from
    its saved bytes), so the PDF does not depend on which figures a process drew before.  This swaps
    matplotlib's ``_backend_pdf_ps.get_glyphs_subset`` for the block only; where matplotlib's
    internals differ, its own subsetting runs unchanged."""
    try:
        import fontTools.ttLib  # noqa: F401 -- the subsets are loaded with it (:func:`_subset`)
        from matplotlib.backends import _backend_pdf_ps as pdf_ps
        original = pdf_ps.get_glyphs_subset
        results, as_file = pdf_ps.SubsetResults, pdf_ps.font_as_file
    except (ImportError, AttributeError):
        yield
        return

    def shared(fontfile, glyphs):
        return _subset(fontfile, glyphs, original, results, as_file)._as_cm()

    pdf_ps.get_glyphs_subset = shared
    try:
        yield
    finally:
        pdf_ps.get_glyphs_subset = original


def _subset(fontfile, glyphs, subsetter, results, as_file):
    """The subset of ``fontfile`` to :data:`PDF_GLYPHS` plus ``glyphs`` (glyph indices), from the
    process's cache (:data:`_SUBSETS`) or made by ``subsetter`` (matplotlib's own) and cached as bytes;
    always loaded from those bytes, so a hit and a miss give the same font."""
    from io import BytesIO

    from fontTools.ttLib import TTFont

    index = int(getattr(fontfile, "face_index", 0))
    key = (str(fontfile), index, frozenset(int(g) for g in glyphs) | _common_glyphs(str(fontfile), index))
    if key not in _SUBSETS:
        with subsetter(fontfile, set(key[2])) as subset:
            _SUBSETS[key] = as_file(subset.font).getvalue(), dict(subset.glyph_index_map)
    data, mapping = _SUBSETS[key]
    return results(TTFont(BytesIO(data), recalcBBoxes=False, recalcTimestamp=False), dict(mapping))


def warm_up(formats: tuple[str, ...]) -> None:
    """Do now, once, what drawing the first figure in ``formats`` would do in every process that draws
    figures: import the writers (PIL's PNG and TIFF plugins, matplotlib's PDF and SVG backends) and,
    for PDF, subset the regular and bold fonts of :data:`RC` to :data:`PDF_GLYPHS` (the subsets a
    figure whose text needs no other glyph uses, :func:`_shared_font_subsets`).  Called before a pool
    of figure processes forks, which then inherit all of it instead of each repeating it (~1 s of CPU
    a process).  The files do not change: a cached subset is the one a miss would make."""
    from PIL import Image  # noqa: F401 -- the plugins register themselves with it

    if "png" in formats:
        import PIL.PngImagePlugin  # noqa: F401
    if "tiff" in formats:  # registered, PIL does not load its ~45 other plugins on the first TIFF
        import PIL.TiffImagePlugin  # noqa: F401
    if "svg" in formats:
        import matplotlib.backends.backend_svg  # noqa: F401
    if "pdf" not in formats:
        return
    import matplotlib.backends.backend_pdf  # noqa: F401
    from matplotlib.font_manager import FontProperties, findfont
    try:
        from matplotlib.backends import _backend_pdf_ps as pdf_ps
        subsetter, results, as_file = pdf_ps.get_glyphs_subset, pdf_ps.SubsetResults, pdf_ps.font_as_file
    except (ImportError, AttributeError):  # pragma: no cover -- a matplotlib without these internals
        return
    with style():
        for weight in ("normal", "bold"):
            _subset(findfont(FontProperties(weight=weight)), (), subsetter, results, as_file)


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
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):,.0f}" if abs(v) >= 1000 else f"{abs(v):g}"))
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
