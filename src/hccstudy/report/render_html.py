"""report.html from the report's sections: one self-contained file, figures embedded as PNG data, a
small inline script to sort tables (no network, no framework), laid out as the paper."""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

from .sections import FigureItem, Section, TableItem

CSS = """
body{font-family:Arial,Helvetica,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}
th,td{padding:.25em .6em;text-align:left;vertical-align:top}
thead th{border-top:2px solid #000;border-bottom:1px solid #000;cursor:pointer;white-space:nowrap}
tbody tr:last-child td{border-bottom:2px solid #000}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fde8e8}
caption{caption-side:top;text-align:left;font-weight:bold;padding:.3em 0}
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


_NUMBER = re.compile(r"^[<>]?-?\d[\d.]*( \(.*\))?$|^NE$|^NR")


def _numeric(col: pd.Series) -> bool:
    """A column of numbers (as text): right-aligned."""
    vals = [str(v) for v in col if str(v) != ""]
    return bool(vals) and all(_NUMBER.match(v) for v in vals)


def table(item: TableItem, number: int) -> str:
    df = item.frame
    num = [_numeric(df[c]) for c in df.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = ' class="bad"' if item.highlight is not None and item.highlight[i] else ""
        cells = "".join(f'<td class="num">{esc(v)}</td>' if n else f"<td>{esc(v)}</td>"
                        for v, n in zip(row, num, strict=True))
        body.append(f"<tr{cls}>{cells}</tr>")
    foot = f'<p class="note">{esc(item.footnote)}</p>' if item.footnote else ""
    return (f'<table class="sortable" id="{esc(item.key)}"><caption>Table {number}. {esc(item.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{foot}")


def figure(item: FigureItem, number: int) -> str:
    data = base64.b64encode(item.path.read_bytes()).decode("ascii")
    caption = f"Figure {number}. {item.caption}"
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def render_html(sections: list[Section], title: str, subtitle: str = "") -> str:
    """The whole report.html; tables and figures numbered in order over the report."""
    toc = "".join(f'<li><a href="#{esc(s.key)}">{esc(s.title)}</a></li>' for s in sections)
    parts = []
    nt = nf = 0
    for s in sections:
        content = "".join(f"<p>{esc(n)}</p>" for n in s.notes)
        for t in s.tables:
            nt += 1
            content += table(t, nt)
        for f in s.figures:
            nf += 1
            content += figure(f, nf)
        parts.append(f'<h2 id="{esc(s.key)}">{esc(s.title)}</h2>{content}')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class=\"note\">{esc(subtitle)}</p>"
            f"<ol>{toc}</ol>{''.join(parts)}<script>{SORT_JS}</script></body></html>\n")
