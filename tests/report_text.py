"""Test oracle for "no code name in the report": the visible text of report.html, tables.docx and
tables.xlsx, and the dictionary's code names found in it.

The dictionary is the oracle: a name whose label differs from it (``afp_gt_400`` -> "AFP > 400 ng/mL")
must not be seen, nor R's term for one of its levels (``sexfemale``, ``armSI``), nor a level code whose
label differs (``female`` -> "Female"), nor the bare term of an adverse-event column (``rccep`` of
``ae_rccep_grade``).  Matching is case-sensitive and by whole token (letters, digits, ``_`` and ``-``
are word characters: ``PD`` is not found in "PD-(L)1"), after the dictionary's own label texts and a
few statistical phrases (:data:`ALLOWED_PHRASES`: "mean (SD)" is not the response code SD) are taken
out.  Not searched: numeric level codes (0/1; numbers are everywhere in a report) and a code that its
own label spells out as an abbreviation ("Sequential (SE)" defines SE, so SE may stand alone, as the
paper's "SE group" does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path

from hccstudy.analysis.labels import Dictionary, VariableLabelSpec, same_level

#: inline HTML elements: their text runs on with the text around them (no separator)
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark", "q", "s",
           "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
#: phrases a report writes that contain a code of the built-in dictionary by coincidence
ALLOWED_PHRASES = ("mean (SD)",)
#: a token: a code with no word character (letters, digits, _) or hyphen on either side
_TOKEN = r"(?<![\w-]){}(?![\w-])"
#: elements whose content is not shown
_HIDDEN = {"script", "style", "template", "noscript"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities (&gt; &#8211;) decoded in the data
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag not in _INLINE:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag not in _INLINE:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag not in _INLINE:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def html_text(path: str | Path) -> str:
    """The visible text of an HTML file: tags, script, style and comments removed, entities decoded;
    block elements (cells, paragraphs, headings) separated by newlines."""
    p = _Text()
    p.feed(Path(path).read_text(encoding="utf-8"))
    p.close()
    return re.sub(r"\n\s*\n+", "\n", "".join(p.parts)).strip()


def _docx_tables(tables) -> Iterable[str]:
    for table in tables:
        for row in table.rows:
            for cell in row.cells:
                yield cell.text
                yield from _docx_tables(cell.tables)


def docx_text(path: str | Path) -> str:
    """The text of a Word file: every paragraph, every table cell (nested tables too), and each
    section's header and footer."""
    import docx

    doc = docx.Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    parts += list(_docx_tables(doc.tables))
    for section in doc.sections:
        for part in (section.header, section.footer):
            parts += [p.text for p in part.paragraphs]
            parts += list(_docx_tables(part.tables))
    return "\n".join(t for t in parts if t)


def xlsx_text(path: str | Path) -> str:
    """The text of an Excel workbook: each sheet's name, every cell's value and cell comments."""
    from openpyxl import load_workbook

    wb = load_workbook(str(path))
    parts = []
    for ws in wb.worksheets:
        parts.append(ws.title)
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    parts.append(str(cell.value))
                if cell.comment is not None:
                    parts.append(cell.comment.text)
    wb.close()
    return "\n".join(parts)


#: the report's files and how their visible text is read
REPORT_FILES = {"report.html": html_text, "tables.docx": docx_text, "tables.xlsx": xlsx_text}


def report_texts(out: str | Path) -> dict[str, str]:
    """file name -> visible text, for each of report.html, tables.docx and tables.xlsx in ``out``
    (a missing file is an error: the oracle must read all three)."""
    return {name: read(Path(out) / name) for name, read in REPORT_FILES.items()}


def _specs(dictionary: Dictionary | Mapping[str, VariableLabelSpec]) -> Mapping[str, VariableLabelSpec]:
    return dictionary.specs if isinstance(dictionary, Dictionary) else dictionary


def code_names(dictionary: Dictionary | Mapping[str, VariableLabelSpec],
               affixes: Iterable[tuple[str, str]] = (("ae_", "_grade"),)) -> set[str]:
    """The codes a report must not show: names labelled differently, the stem of a name with one of
    ``affixes`` (``rccep`` of ``ae_rccep_grade``), text level codes labelled differently, and R's
    terms variable + level (``sexfemale``; ``hbvTRUE`` for a true/1 level)."""
    codes: set[str] = set()
    for name, spec in _specs(dictionary).items():
        if spec.label is not None and not _defines(spec.label, name):
            codes.add(name)
            for pre, suf in affixes:
                stem = name[len(pre):len(name) - len(suf)]
                if name.startswith(pre) and name.endswith(suf) and stem and not _defines(spec.label, stem):
                    codes.add(stem)
        for key, text in spec.levels.items():
            if isinstance(key, str):
                if not _defines(text, key):
                    codes.add(key)
                codes.add(f"{name}{key}")
            elif same_level(key, 1) or same_level(key, 0):
                codes.add(f"{name}{'TRUE' if same_level(key, 1) else 'FALSE'}")
    return codes


def _defines(label: str, code: str) -> bool:
    """The label is the code, or spells it out as an abbreviation ("Sequential (SE)")."""
    return label == code or re.search(_TOKEN.format(re.escape(code)), label) is not None


def _label_texts(specs: Mapping[str, VariableLabelSpec]) -> list[str]:
    texts = set()
    for spec in specs.values():
        if spec.label:
            texts.add(spec.label)
        texts.update(t for t in spec.levels.values() if t)
    return sorted(texts, key=lambda t: (-len(t), t))  # longest first: "Sequential (SE)" before "SE"


def code_names_in(text: str, dictionary: Dictionary | Mapping[str, VariableLabelSpec], *,
                  ignore: Iterable[str] = (),
                  affixes: Iterable[tuple[str, str]] = (("ae_", "_grade"),)) -> dict[str, str]:
    """The dictionary's code names (:func:`code_names`) that occur in ``text`` as whole tokens,
    case-sensitively, once the dictionary's label texts, :data:`ALLOWED_PHRASES` and the ``ignore``
    texts (phrases of the report's prose that are not codes) are taken out.  Returns code -> the first place it occurs (some context),
    in code order; empty when the text shows no code name."""
    specs = _specs(dictionary)
    for t in [*sorted({*ignore, *ALLOWED_PHRASES}, key=lambda t: (-len(t), t)), *_label_texts(specs)]:
        text = re.sub(rf"(?<!\w){re.escape(t)}(?!\w)", "\n", text)  # whole words: "No" stays in "None"
    found: dict[str, str] = {}
    for code in sorted(code_names(specs, affixes)):
        m = re.search(_TOKEN.format(re.escape(code)), text)
        if m:
            found[code] = text[max(0, m.start() - 40):m.end() + 40].replace("\n", " | ")
    return found
