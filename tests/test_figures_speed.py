"""Figures at any size (issue 13): a Kaplan–Meier curve drawn from a bounded number of change points
looks the same as the full drawing at print resolution, the figure formats are a config option, and
the figure files do not depend on the number of worker processes that draw them."""

from __future__ import annotations

import re
import zlib
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from typer.testing import CliRunner

from hccstudy.analysis.config import ReportSpec
from hccstudy.cli import app
from hccstudy.report import figures as F
from hccstudy.report.build import draw_figures, figure_workers, report_formats
from hccstudy.report.figures_km import _decimate
from hccstudy.report.sections import FigureItem, Section
from hccstudy.stats.km import kaplan_meier

REF = Path(__file__).parent / "reference"


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


def _sections() -> list[Section]:
    km = _cohort(400)
    figs = [FigureItem("km", "KM", partial(F.km_figure, km, p_value=0.03, hr=(0.7, 0.5, 0.95))),
            FigureItem("love", "Love", partial(F.love_figure, ["Age", "ECOG \u2265 1", "Sex: Female"],
                                                [0.3, -0.2, 0.15], [0.02, 0.01, -0.03])),
            FigureItem("ps", "PS", partial(F.ps_figure, np.linspace(0.1, 0.9, 200), np.arange(200) % 2 == 0,
                                            np.arange(200) % 3 > 0, ("Control", "Treated")))]
    return [Section("one", "One", figures=figs[:2]), Section("two", "Two", figures=figs[2:])]


def test_files_do_not_depend_on_the_number_of_workers(tmp_path):
    out = {}
    for n in (1, 2):
        sections, files = draw_figures(_sections(), tmp_path / str(n), F.FORMATS, workers=n)
        out[n] = {p.name: p.read_bytes() for p in files}
        assert [f.path for s in sections for f in s.figures] == [tmp_path / str(n) / f"{k}.png" for k in ("km", "love", "ps")]
    assert sorted(out[1]) == sorted(f"{k}.{e}" for k in ("km", "love", "ps") for e in F.FORMATS)
    assert out[1] == out[2]


def test_no_formats_draws_nothing(tmp_path):
    sections, files = draw_figures(_sections(), tmp_path / "figures", ())
    assert files == [] and all(s.figures == [] for s in sections) and not (tmp_path / "figures").exists()


def test_workers_from_argument_environment_and_figure_count(monkeypatch):
    monkeypatch.setenv("HCCSTUDY_WORKERS", "3")
    assert figure_workers(7) == 3 and figure_workers(2) == 2 and figure_workers(7, 1) == 1
    monkeypatch.setenv("HCCSTUDY_WORKERS", "0")
    assert figure_workers(7) == 1
    monkeypatch.setenv("HCCSTUDY_WORKERS", "many")
    with pytest.raises(ValueError, match="HCCSTUDY_WORKERS"):
        figure_workers(7)


def test_report_formats_config_key():
    assert ReportSpec().formats == ["png", "svg", "pdf", "tiff"] and ReportSpec(formats=[]).formats == []
    with pytest.raises(ValidationError, match="png listed more than once"):
        ReportSpec(formats=["png", "pdf", "png"])
    with pytest.raises(ValidationError):
        ReportSpec(formats=["jpg"])
    plan = SimpleNamespace(config=SimpleNamespace(report=ReportSpec(formats=["pdf"])))
    assert report_formats(plan) == ("png", "pdf")  # the HTML and the docx embed the PNG
    assert report_formats(plan, ("svg",)) == ("png", "svg")  # build_report(formats=...) overrides the plan
    assert report_formats(SimpleNamespace(config=SimpleNamespace(report=ReportSpec(formats=[])))) == ()
    assert report_formats(SimpleNamespace(config=SimpleNamespace())) == F.FORMATS


def _font_files(pdf: bytes) -> list[bytes]:
    """The embedded TrueType font programs (FontFile2 streams) of a matplotlib PDF, decompressed."""
    files = re.findall(rb"/FontFile2 (\d+) 0 R", pdf)
    out = []
    for number in files:
        m = re.search(rb"\n" + number + rb" 0 obj\n<<[^>]*?/Length (\d+)[^>]*>>\nstream\n", pdf)
        start = m.end()
        out.append(zlib.decompress(pdf[start:start + int(m.group(1))]))
    return out


def test_pdfs_share_one_font_subset_and_keep_their_text(tmp_path):
    """Two different figures embed the same DejaVu Sans program (the shared subset), TrueType, with
    a glyph for every character either figure draws; and a figure drawn first in a fresh cache or
    after others writes the same PDF."""
    from io import BytesIO

    from fontTools.ttLib import TTFont
    a = F.save(F.km_figure(_cohort(200), p_value=0.03), tmp_path / "a", ("pdf",))[0].read_bytes()
    b = F.save(F.love_figure(["Age \u2265 65", "Tumour size"], [0.2, -0.1], [0.01, 0.0]), tmp_path / "b", ("pdf",))[0].read_bytes()
    fa, fb = _font_files(a), _font_files(b)
    # KM: DejaVu Sans and its bold ("Number at risk"); Love: DejaVu Sans only (matplotlib may split one
    # font's characters over two font dictionaries; both then embed the one shared program)
    assert len(set(fa)) == 2 and len(set(fb)) == 1 and set(fb) <= set(fa)
    font = TTFont(BytesIO(fb[0]))
    assert "glyf" in font  # TrueType outlines (Type 42), not Type 3
    assert len(font.getGlyphOrder()) >= 95  # the common glyph set, not just this figure's
    F._SUBSETS.clear()
    again = F.save(F.love_figure(["Age \u2265 65", "Tumour size"], [0.2, -0.1], [0.01, 0.0]), tmp_path / "c", ("pdf",))[0]
    assert again.read_bytes() == b


def test_analyze_without_figures_and_with_one_format(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["analyze", str(REF / "veteran.yaml"), "--out", str(tmp_path / "none"), "--set", "report.formats=[]"])
    assert r.exit_code == 0, r.output
    assert not list((tmp_path / "none").glob("figures/*"))
    html = (tmp_path / "none" / "report.html").read_text(encoding="utf-8")
    assert "No figures: report.formats is empty." in html and "data:image/png" not in html
    assert (tmp_path / "none" / "tables.docx").stat().st_size > 0
    r = runner.invoke(app, ["analyze", str(REF / "veteran.yaml"), "--out", str(tmp_path / "svg"), "--set", "report.formats=[svg]"])
    assert r.exit_code == 0, r.output
    assert {p.suffix for p in (tmp_path / "svg" / "figures").iterdir()} == {".png", ".svg"}


def test_large_counts_in_the_risk_table_have_thousands_separators():
    """At registry scale the number at risk reads "12,345", not "12345" (counts below 1,000 unchanged)."""
    fig = F.km_figure(_cohort(30_000))
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    F.plt.close(fig)
    assert "15,000" in texts
    assert not any(re.fullmatch(r"\d{4,}", t) for t in texts)


def _broken():
    raise RuntimeError("figure failed")


@pytest.mark.parametrize("workers", [1, 2])
def test_started_figures_finish_or_fail_and_leave_no_jobs(tmp_path, workers):
    """build_report starts the figure processes, writes the files that need no figure, then finishes:
    the same files as draw_figures; a figure that fails raises from finish(); nothing is left behind."""
    from hccstudy.report import build

    pending = build.start_figures(_sections(), tmp_path / "a", ("png",), workers=workers)
    (tmp_path / "meanwhile.txt").write_text("written while the figures draw")
    sections, files = pending.finish()
    assert [p.name for p in files] == ["km.png", "love.png", "ps.png"] and build._JOBS == []
    bad = [Section("bad", "Bad", figures=[FigureItem("bad", "Bad", _broken)])] + _sections()
    pending = build.start_figures(bad, tmp_path / "b", ("png",), workers=workers)
    with pytest.raises(RuntimeError, match="figure failed"):
        pending.finish()
    assert build._JOBS == [] and pending._pool is None
    pending = build.start_figures(_sections(), tmp_path / "c", ("png",), workers=workers)
    pending.close()  # the caller failed before finish(): the workers are stopped
    assert build._JOBS == [] and pending._pool is None
