"""Figures at journal specification (issue 12): TrueType fonts in the PDFs (no Type 3), SVG text as
``<text>``, TIFF 600 dpi LZW, byte-identical reruns, KM axes bound by the follow-up, the lettered
KM composite, forest plots whose texts never overlap, and the CONSORT flow's counts."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.cohort.eligibility import patient_flow
from hccstudy.report import figures as F
from hccstudy.report.figures_km import break_step, breaks_to, hr_label, p_label
from hccstudy.report.sections import build_sections
from hccstudy.stats.km import kaplan_meier


@pytest.fixture(scope="module")
def figures(builtin_run) -> Path:
    return builtin_run.out / "figures"


def _fonts(pdf: bytes) -> list[bytes]:
    """The /Subtype of every font dictionary of a PDF (matplotlib writes font dictionaries as plain,
    uncompressed objects)."""
    return re.findall(rb"/Type\s*/Font\b[^>]*?/Subtype\s*/(\w+)", pdf) + \
        re.findall(rb"/Subtype\s*/(\w+)[^>]*?/Type\s*/Font\b", pdf)


def test_pdf_figures_embed_truetype_fonts_never_type3(figures):
    pdfs = sorted(figures.glob("*.pdf"))
    assert len(pdfs) >= 10
    for p in pdfs:
        data = p.read_bytes()
        subtypes = set(_fonts(data))
        assert subtypes, p.name  # every figure has text, so fonts
        assert b"Type3" not in subtypes and b"/Type3" not in data, (p.name, subtypes)
        assert b"/FontFile2" in data, p.name  # the TrueType program itself is embedded


def test_svg_text_is_text(figures):
    for p in sorted(figures.glob("*.svg")):
        svg = p.read_text()
        assert "<text" in svg, p.name
        assert "DejaVu Sans" in svg and 'id="DejaVuSans-' not in svg, p.name  # no glyph outlines


def test_tiff_600_dpi_lzw_and_png_300_dpi(figures):
    from PIL import Image
    for p in sorted(figures.glob("*.tiff")):
        with Image.open(p) as im:
            assert im.info.get("compression") == "tiff_lzw" and round(im.info["dpi"][0]) == 600, p.name
    with Image.open(figures / "km_composite.png") as im:
        assert round(im.info["dpi"][0]) == 300


def test_the_km_composite_has_four_lettered_panels(figures):
    svg = (figures / "km_composite.svg").read_text()
    texts = [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]
    assert [t for t in texts if t in "ABCD" and t] == ["A", "B", "C", "D"]
    for label in ("Overall survival (%)", "Progression-free survival (%)", "Number at risk"):
        assert label in texts, label
    assert sum(t.startswith("Log-rank P") for t in texts) == 4


def test_km_panels_end_at_the_last_follow_up_with_the_tables_p_and_hr(builtin_run):
    res = builtin_run.results
    sections = build_sections(res)
    for ep in res.endpoints.values():
        for sname, c in ep.samples.items():
            fig = next(f for s in sections for f in s.figures if f.key == f"km_{ep.name}_{sname}").draw()
            ax = fig.axes[0]
            last = max(float(k.table["time"].max()) for k in c.km.values() if k is not None)
            step = break_step(last)
            assert step == (6.0 if last <= 36 else 12.0)
            assert ax.get_xlim()[1] <= np.ceil(last / step) * step and ax.get_xlim()[1] >= last
            ticks = list(ax.get_xticks())
            assert ticks == breaks_to(last, step) and ticks[-1] <= last
            assert ax.get_ylabel() in ("Overall survival (%)", "Progression-free survival (%)")
            texts = " ".join(t.get_text() for t in ax.texts)
            assert p_label(c.logrank.p) in texts
            h = c.primary_hr
            assert hr_label(h.hr, h.lcl, h.ucl) in texts
            # the risk table: one number per tick and arm, the n at risk of summary(fit, times)
            risk = [t.get_text() for t in fig.axes[1].texts if t.get_text() != "Number at risk"]
            first = next(k for k in c.km.values() if k is not None)
            assert len(risk) == 2 * len(ticks) and str(int(first.n)) in risk


def test_p_and_hr_labels_follow_the_table_rule():
    assert p_label(0.0018) == "Log-rank P = 0.002" and p_label(4e-5) == "Log-rank P < 0.001"
    assert hr_label(0.641, 0.4903, 0.8449) == "HR 0.64 (95% CI 0.49\u20130.84)"
    assert break_step(63) == 12 and break_step(30) == 6 and break_step(63, step=3) == 3
    assert break_step(900, "days") == 200 and breaks_to(63, 12) == [0, 12, 24, 36, 48, 60]


def test_the_curve_is_drawn_from_its_change_points_only():
    rng = np.random.default_rng(1)
    t = np.round(rng.exponential(10, 20000), 1)
    e = rng.random(20000) < 0.6
    km = kaplan_meier(t, e)
    fig = F.km_figure({"A": km})
    line = fig.axes[0].lines[0]
    n_event_times = int((km.table["n_event"] > 0).sum())
    assert len(line.get_xdata()) == n_event_times + 2  # (0, 1), each event time, the last follow-up
    marks = fig.axes[0].lines[1]
    assert len(marks.get_xdata()) <= 121  # censor marks thinned to a minimum spacing
    F.plt.close(fig)


def _overlaps(fig) -> list[tuple[str, str]]:
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for t in [*fig.texts, *[t for ax in fig.axes for t in ax.texts]] if t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in texts]
    return [(a, b) for (a, ba), (b, bb) in combinations(boxes, 2) if ba.overlaps(bb)]


def test_forest_texts_never_overlap_whatever_the_label_length():
    labels = pd.DataFrame({"Subgroup": ["Overall", "Macrovascular invasion of the main portal vein trunk",
                                        "\u2003No", "\u2003Yes"],
                           "Sequential (SE)\nn": ["183", "", "29", "154"], "Events": ["200", "", "20", "180"]})
    fig = F.forest_figure(labels, [0.6, np.nan, 0.7, 0.55], [0.45, np.nan, 0.3, 0.4], [0.8, np.nan, 1.4, 0.8],
                          ["", "0.699", "", ""], kinds=["overall", "header", "estimate", "estimate"],
                          p_header="P for\ninteraction", favours=("Favours SI", "Favours SE"))
    assert _overlaps(fig) == []
    F.plt.close(fig)


def test_built_in_forest_plots_reference_rows_and_favours_labels(builtin_run):
    sections = build_sections(builtin_run.results)
    figs = {f.key: f for s in sections for f in s.figures}
    sub = figs["forest_subgroups_os_matched"].draw()
    texts = [t.get_text() for t in sub.axes[0].texts]
    assert "Overall" in texts and "Favours Simultaneous (SI) \u2190"[::-1] not in texts
    assert "\u2190 Favours Simultaneous (SI)" in texts and "Favours Sequential (SE) \u2192" in texts
    assert _overlaps(sub) == []
    uni = figs["forest_univariable_os_matched"].draw()
    texts = [t.get_text() for t in uni.axes[0].texts]
    assert "Reference" in texts and "\u2190 Lower hazard" in texts
    assert not [t for t in texts if t.strip() in ("0", "0.0", "1.0", "1")]
    assert _overlaps(uni) == []
    F.plt.close("all")


def test_reruns_are_byte_identical(tmp_path):
    km = kaplan_meier([1, 2, 3, 4, 5, 6], [1, 0, 1, 1, 0, 1])
    for k in ("a", "b"):
        F.save(F.km_figure({"A": km}, p_value=0.01, hr=(0.5, 0.3, 0.9)), tmp_path / k / "km", ("png", "svg", "pdf", "tiff"))
    for ext in ("png", "svg", "pdf", "tiff"):
        assert (tmp_path / "a" / f"km.{ext}").read_bytes() == (tmp_path / "b" / f"km.{ext}").read_bytes(), ext


def test_the_style_is_local():
    import matplotlib
    before = dict(matplotlib.rcParams)
    F.plt.close(F.km_figure({"A": kaplan_meier([1, 2, 3], [1, 1, 0])}))
    assert matplotlib.rcParams["pdf.fonttype"] == before["pdf.fonttype"]
    assert matplotlib.rcParams["svg.fonttype"] == before["svg.fonttype"]


def test_flow_counts_per_centre_and_the_consort_figure(builtin_run):
    flow = builtin_run.study.flow
    cs = flow[flow["step"] == "centre_screened"]
    ci = flow[flow["step"] == "centre_included"]
    f = flow.set_index(["step", "criterion"])["n"]
    assert cs["n"].sum() == f[("screened", "")] and ci["n"].sum() == f[("included", "")]
    p = builtin_run.study.patients
    assert dict(zip(cs["criterion"], cs["n"], strict=True)) == p["centre"].astype(str).value_counts().to_dict()
    sections = build_sections(builtin_run.results, flow=flow)
    fig = next(fi for s in sections for fi in s.figures if fi.key == "patient_flow").draw()
    texts = [t.get_text() for t in fig.axes[0].texts]
    m = builtin_run.results.matching
    assert f"Patients screened (n = {f[('screened', '')]})" in texts
    assert f"Propensity-score matched: {m.n_pairs} pairs" in texts
    unmatched = int((~m.units["matched"]).sum())
    shown = sum(int(re.search(r"\d+", t).group()) for t in texts if t.startswith("Not matched"))
    assert shown == unmatched
    assert _overlaps(fig) == []
    F.plt.close("all")


def test_patient_flow_without_centres_is_unchanged():
    reason = pd.Series(["a", pd.NA, pd.NA], dtype="string")
    arm = pd.Series(["SE", "SI", "SE"])
    plain = patient_flow(reason, arm, ["a"])
    assert set(plain["step"]) == {"screened", "excluded", "included", "arm"}
    with_c = patient_flow(reason, arm, ["a"], pd.Series(["x", "x", "y"]))
    assert with_c[with_c["step"] == "centre_included"]["n"].tolist() == [1, 1]
