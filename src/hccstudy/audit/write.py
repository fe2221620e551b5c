"""audit.csv and audit.html: the findings of :func:`~hccstudy.audit.audit` for a reader.

audit.csv holds every finding, one per line (the columns of :data:`~hccstudy.audit.findings.COLUMNS`).
audit.html is one self-contained page: the paper, the count per severity with each severity's rule,
the findings to look at (inconsistent, then rounding-level) and then every finding, each with the
arithmetic that a reader can redo by hand.  Both are written by the caller into an
:class:`hccstudy.output.OutputFolder` (atomic), so this module only renders.
"""

from __future__ import annotations

import html
from pathlib import Path

from .findings import INCONSISTENT, RULES, SEVERITIES, Finding
from .run import Audit

COLOURS = {"consistent": "#e8f4ea", "rounding": "#fff4d6", "inconsistent": "#fde2e2", "not checkable": "#f0f0f0"}
CSS = """
*{box-sizing:border-box}
body{font-family:Arial,Helvetica,sans-serif;max-width:1200px;margin:0 auto;padding:1.5em 2em;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:1.6em;font-size:1.2em}
.note{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{padding:.3em .5em;text-align:left;vertical-align:top}
thead th{border-top:2px solid #000;border-bottom:1px solid #000}
tbody tr:last-child td{border-bottom:2px solid #000}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.sev{white-space:nowrap;font-weight:bold}
td.arith{font-size:.92em;color:#333}
dl.rules dt{font-weight:bold;float:left;clear:left;width:9em}dl.rules dd{margin:0 0 .3em 9.5em}
.sw{display:inline-block;width:.9em;height:.9em;border:1px solid #999;vertical-align:-.1em;margin-right:.3em}
@media print{body{max-width:none;padding:0;font-size:9pt}tr{break-inside:avoid}}
"""


def esc(v) -> str:
    return html.escape("" if v is None else str(v))


def write_csv(a: Audit, path: Path) -> Path:
    a.frame.to_csv(path, index=False, lineterminator="\n")
    return path


def _rows(findings: list[Finding]) -> str:
    out = []
    for f in findings:
        out.append(f'<tr style="background:{COLOURS[f.severity]}"><td class="sev">{esc(f.severity)}</td>'
                   f"<td>{esc(f.check)}</td><td>{esc(f.table)}</td><td>{esc(f.row)}</td><td>{esc(f.column)}</td>"
                   f'<td>{esc(f.reported)}</td><td>{esc(f.recomputed)}</td>'
                   f'<td class="arith">{esc(f.arithmetic)}</td></tr>')
    return "".join(out)


def _table(findings: list[Finding], caption: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("Severity", "Check", "Table", "Row", "Column", "Reported",
                                              "Recomputed", "Arithmetic"))
    return (f'<table><caption class="note">{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{_rows(findings)}</tbody></table>")


def flagged_first(a: Audit) -> list[Finding]:
    """The findings to look at: inconsistent first, then rounding-level, each in the file's order."""
    return sorted(a.flagged(), key=lambda f: f.severity != INCONSISTENT)


def render_html(a: Audit, source: str) -> str:
    counts = a.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    rules = "".join(f'<dt><span class="sw" style="background:{COLOURS[s]}"></span>{esc(s)}</dt><dd>{esc(RULES[s])}</dd>'
                    for s in SEVERITIES)
    flagged = flagged_first(a)
    look = (_table(flagged, f"{len(flagged)} findings: inconsistent, then rounding-level") if flagged
            else "<p>Nothing to flag: every checkable number is reproduced by a standard computation.</p>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Audit: {esc(a.paper)}</title><style>{CSS}</style></head><body>"
            f"<h1>Consistency of the published tables</h1><p><b>{esc(a.paper)}</b></p>"
            f'<p class="note">Reported numbers: {esc(source)}. Every number that can be recomputed from the '
            f"paper's own numbers was recomputed (hccstudy audit; docs/audit.md).</p>"
            f"<p><b>{len(a.findings)} checks:</b> {esc(summary)}.</p>"
            f'<h2>Severity</h2><dl class="rules">{rules}</dl>'
            f"<h2>Findings to look at</h2>{look}"
            f"<h2>Every finding</h2>{_table(list(a.findings), 'In the order of the audit file')}"
            "</body></html>\n")


def write_audit(a: Audit, folder: Path, source: str) -> list[Path]:
    """Write ``folder``/audit.html and ``folder``/audit.csv; ``source``: the audit file, as shown."""
    folder = Path(folder)
    html_path = folder / "audit.html"
    html_path.write_text(render_html(a, source), encoding="utf-8")
    return [html_path, write_csv(a, folder / "audit.csv")]
