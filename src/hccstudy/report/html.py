"""The self-contained HTML report: one file, figures embedded as PNG data, a small inline script to
sort tables (no network, no framework), laid out as the paper."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from ..stats.tests import format_p

CSS = """
body{font-family:Arial,Helvetica,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}
th,td{padding:.25em .6em;text-align:left;vertical-align:top}
thead th{border-top:2px solid #000;border-bottom:1px solid #000;cursor:pointer;white-space:nowrap}
tbody tr:last-child td{border-bottom:2px solid #000}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fde8e8}
figure{margin:1em 0}figure img{max-width:min(100%,760px);height:auto}figcaption{font-size:.85em;color:#555}
.flow{display:flex;flex-direction:column;align-items:center;gap:.4em;font-size:.9em}
.box{border:1px solid #333;padding:.4em .8em;border-radius:4px;background:#f7f7f7;text-align:center;min-width:18em}
.arrow{font-size:1.2em}.excl{border-color:#b00;background:#fff5f5;text-align:left}
.row{display:flex;gap:1em}.note{font-size:.85em;color:#555}
"""

SORT_JS = """
window.addEventListener('load', function(){
  var imgs = Array.from(document.images), bad = imgs.filter(function(i){ return !i.complete || i.naturalWidth === 0; });
  document.body.dataset.images = imgs.length; document.body.dataset.brokenImages = bad.length;
});
document.querySelectorAll('table.sortable thead th').forEach(function(th, i){
  th.addEventListener('click', function(){
    var tb = th.closest('table').tBodies[0], rows = Array.from(tb.rows), asc = th.dataset.asc !== '1';
    th.dataset.asc = asc ? '1' : '0';
    rows.sort(function(a, b){
      var x = a.cells[i].dataset.v || a.cells[i].textContent, y = b.cells[i].dataset.v || b.cells[i].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function(r){ tb.appendChild(r); });
  });
});
"""


def esc(v) -> str:
    return html.escape("" if v is None else str(v))


def fmt_num(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def hr_text(r: dict | None) -> str:
    """HR (95% CI) with 2 decimals, 'NE' when not estimable."""
    if not r or r.get("hr") is None or not math.isfinite(r.get("hr", float("nan"))):
        return "NE"
    return f"{r['hr']:.2f} ({r['lcl']:.2f}-{r['ucl']:.2f})"


def median_text(m, lo, hi) -> str:
    f = lambda v: "NR" if v is None or not math.isfinite(v) else f"{v:.1f}"  # noqa: E731
    return f"{f(m)} ({f(lo)}-{f(hi)})"


def table(df: pd.DataFrame, numeric: tuple[str, ...] = (), caption: str = "", sortable: bool = True,
          bad_rows: pd.Series | None = None) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = ' class="bad"' if bad_rows is not None and bool(bad_rows.iloc[i]) else ""
        cells = []
        for c, v in zip(df.columns, row, strict=True):
            if c in numeric:
                cells.append(f'<td class="num" data-v="{esc(v)}">{esc(fmt_num(v) if isinstance(v, float) else v)}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<table class="{"sortable" if sortable else ""}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def table1_frame(before: pd.DataFrame, after: pd.DataFrame | None, arms: list[str]) -> pd.DataFrame:
    """Table 1 before and after matching side by side (paper layout)."""
    def label(r):
        if r["variable"] == "n":
            return "n"
        lev = f" = {r['level']}" if r["level"] else ""
        return f"{r['variable']}{lev}, {r['statistic']}"

    out = pd.DataFrame({"Characteristic": before.apply(label, axis=1)})
    for a in arms:
        out[f"{a} (before)"] = before[a].to_numpy()
    out["P (before)"] = before["p_text"].to_numpy()
    out["SMD (before)"] = [fmt_num(v, 3) for v in before["smd"]]
    out["Test"] = before["test"].to_numpy()
    if after is not None:  # aligned on the row's identity: a level may be absent after matching
        key = ["variable", "level", "statistic"]
        a2 = before[key].merge(after[key + [*arms, "p_text", "smd"]].drop_duplicates(key), on=key, how="left",
                               sort=False)
        for a in arms:
            out[f"{a} (after)"] = a2[a].fillna("").to_numpy()
        out["P (after)"] = a2["p_text"].fillna("").to_numpy()
        out["SMD (after)"] = [fmt_num(v, 3) if v == v else "" for v in a2["smd"]]
    return out


def cox_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"Variable": r["variable"], "Term": r["term"], "HR (95% CI)": hr_text(r),
                          "P": format_p(r["p"]) + (" (HR may be infinite)" if r.get("infinite") else "")} for r in rows])


def render(title: str, sections: list[tuple[str, str]], subtitle: str = "") -> str:
    toc = "".join(f'<li><a href="#s{i}">{esc(h)}</a></li>' for i, (h, _) in enumerate(sections))
    body = "".join(f'<h2 id="s{i}">{esc(h)}</h2>{content}' for i, (h, content) in enumerate(sections))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class=\"note\">{esc(subtitle)}</p>"
            f"<ol>{toc}</ol>{body}<script>{SORT_JS}</script></body></html>\n")
