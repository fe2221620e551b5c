"""report.html from the report's sections: one self-contained file, figures embedded as PNG data, a
small inline script to sort tables (no network, no framework), laid out as the paper.

Fits a 1280-px window: each table sits in a box that scrolls sideways when the table is wider than the
page, so nothing runs off it.  A print stylesheet (``@media print``) hides the navigation and the
download links, starts each section on a new page and keeps table rows and figures whole.  A figure
opens enlarged on a click (an inline lightbox, Escape closes it); every table can be downloaded as CSV
(a ``data:`` link built from the table's numbers at render time).  On load the page's script records
in ``<body data-...>`` what the headless-browser test reads: images loaded and broken, tables and
those wider than the page, the page's own horizontal overflow and each section's offset and height."""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

from .sections import FigureItem, Section, TableItem

CSS = """
*{box-sizing:border-box}
body{font-family:Arial,Helvetica,sans-serif;max-width:1200px;margin:0 auto;padding:1.5em 2em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
nav ol{columns:2;font-size:.9em}
section{margin-bottom:2em}
.tablebox{max-width:100%;overflow-x:auto;margin:1em 0}
.tablebox table{margin:0}
table{border-collapse:collapse;font-size:.85em}
th,td{padding:.25em .6em;text-align:left;vertical-align:top}
thead th{border-top:2px solid #000;border-bottom:1px solid #000;cursor:pointer;vertical-align:bottom}
tbody tr:last-child td{border-bottom:2px solid #000}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.bad td{background:#fde8e8}
caption{caption-side:top;text-align:left;font-weight:bold;padding:.3em 0}
.tools{font-size:.8em;margin:.2em 0 0}.tools a{color:#0072B2}
figure{margin:1em 0}figure img{max-width:min(100%,900px);height:auto;cursor:zoom-in}
figcaption{font-size:.85em;color:#555}
.note{font-size:.85em;color:#555}
#lightbox{display:none;position:fixed;inset:0;background:rgba(0,0,0,.85);z-index:10;cursor:zoom-out;
  align-items:center;justify-content:center;padding:1em}
#lightbox.open{display:flex}#lightbox img{max-width:100%;max-height:100%;background:#fff}
@media print{
  body{max-width:none;padding:0;font-size:10pt}
  nav,.tools,#lightbox{display:none!important}
  section{break-before:page;page-break-before:always}
  .tablebox{overflow:visible}
  table{font-size:7.5pt;width:100%}
  thead{display:table-header-group}
  tr,figure{break-inside:avoid;page-break-inside:avoid}
  caption,h2{break-after:avoid;page-break-after:avoid}
  figure img{max-width:100%;cursor:auto}
  @page{size:A4;margin:1.5cm}
}
"""

SORT_JS = """
window.addEventListener('load', function(){
  var imgs = Array.from(document.images).filter(function(i){ return i.closest('#lightbox') === null; });
  var bad = imgs.filter(function(i){ return !i.complete || i.naturalWidth === 0; });
  var b = document.body, page = b.getBoundingClientRect();
  var over = Array.from(document.querySelectorAll('.tablebox')).filter(function(box){
    var r = box.getBoundingClientRect(); return r.left < page.left - 1 || r.right > page.right + 1; });
  var scrolls = Array.from(document.querySelectorAll('.tablebox')).filter(function(box){
    return box.scrollWidth > box.clientWidth + 1; });
  b.dataset.images = imgs.length; b.dataset.brokenImages = bad.length;
  b.dataset.tables = document.querySelectorAll('.tablebox').length; b.dataset.overflowingTables = over.length;
  b.dataset.scrollingTables = scrolls.length;
  b.dataset.pageOverflow = Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth);
  b.dataset.sections = Array.from(document.querySelectorAll('section')).map(function(s){
    var r = s.getBoundingClientRect();
    return s.id + ':' + Math.round(r.top + window.scrollY) + ':' + Math.round(r.height); }).join(' ');
  b.dataset.height = document.documentElement.scrollHeight;
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
var box = document.getElementById('lightbox'), big = box.querySelector('img');
document.querySelectorAll('figure img').forEach(function(img){
  img.addEventListener('click', function(){ big.src = img.src; big.alt = img.alt; box.classList.add('open'); });
});
box.addEventListener('click', function(){ box.classList.remove('open'); big.removeAttribute('src'); });
document.addEventListener('keydown', function(e){ if (e.key === 'Escape') { box.click(); } });
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
    return (f'<div class="tablebox"><table class="sortable" id="{esc(item.key)}"><caption>Table {number}. '
            f"{esc(item.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            f'{foot}<p class="tools"><a download="table-{number}.csv" href="{csv_uri(item)}">Download Table {number} '
            "as CSV</a></p>")


def csv_uri(item: TableItem) -> str:
    """The table as a CSV file in a data: URI (numbers as numbers: the table's ``data``), so the page
    offers it for download without a server or the network."""
    df = item.data if item.data is not None else item.frame
    text = df.to_csv(index=False, lineterminator="\n")
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


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
        parts.append(f'<section id="{esc(s.key)}"><h2>{esc(s.title)}</h2>{content}</section>')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class=\"note\">{esc(subtitle)}</p>"
            f"<nav><ol>{toc}</ol></nav>{''.join(parts)}"
            '<div id="lightbox" title="Click or press Escape to close"><img alt=""></div>'
            f"<script>{SORT_JS}</script></body></html>\n")
