"""Rendering the bundle index with fpdf2, in the child process that ``index_pdf.IndexBuilder`` runs.

What a court gets, and what it can rely on:

- **Fonts from a package, embedded.** DejaVu Sans (regular and bold) as shipped in the matplotlib
  wheel, a pinned runtime requirement: one static TrueType font covering Latin, Cyrillic and
  Arabic, subset and embedded. The host's fonts are never looked at, and matplotlib is never
  imported (only its files are located). A character the font lacks prints as U+FFFD, never as
  a missing glyph (PDF/A forbids ``.notdef``).
- **Arabic shaped and right to left.** A line with right-to-left text is cut into runs by the
  Unicode bidirectional algorithm (levels from fpdf2's implementation, runs put in visual order
  here by rule L2, which fpdf2 does only one level deep: a number after an Arabic word in an
  English line would come out on the wrong side), and each run is shaped by HarfBuzz
  (uharfbuzz) in its own direction. A line that starts right to left is set flush right.
  Lines without such text are drawn plainly (shaping costs ten times the time and bytes).
- **PDF/A-2b.** fpdf2's PDF/A-2B mode (no unembedded fonts, no document information dictionary,
  which PDF/A-2 leaves optional and so can never disagree with the XMP), an sRGB output intent
  with the ICC profile shipped by fpdf2 (sRGB2014, ICC v2), our own XMP metadata
  (``pdfaid:part`` 2, ``pdfaid:conformance`` B) and a file ``/ID``.
- **Reproducible.** The same rows and header give the same bytes: the creation date is the
  header's ``created_at`` (in the XMP and the ``/ID``), never the clock, and the ``/ID`` is a
  digest of the document (fpdf2's default), never random.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from fpdf import FPDF, FPDF_VERSION
from fpdf.bidi import BidiParagraph, auto_detect_base_direction
from fpdf.enums import OutputIntentSubType, TextDirection
from fpdf.fonts import TTFFont
from fpdf.output import PDFICCProfile
from fpdf.util import builtin_srgb2014_bytes

from casework.disclosure.index_pdf import IndexHeader, IndexRow

_FONT_PACKAGE = "matplotlib"
_FONT_DIR = "matplotlib/mpl-data/fonts/ttf"
_FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
_FAMILY = "DejaVuSans"
_REPLACEMENT = "\ufffd"
_COMPLEX_BIDI = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI", "LRE", "LRO", "LRI", "FSI", "PDF", "PDI"})
_JOINERS = frozenset("\u200c\u200d")
_PRODUCER = f"Casework (fpdf2 {FPDF_VERSION})"


def font_files() -> dict[str, Path]:
    """The embedded fonts by style, from the installed package (no import, no host font)."""
    try:
        dist = metadata.distribution(_FONT_PACKAGE)
    except metadata.PackageNotFoundError as error:
        raise RuntimeError(
            f"the PDF index needs the {_FONT_PACKAGE} package for its fonts (requirements.txt)"
        ) from error
    found = {style: Path(str(dist.locate_file(f"{_FONT_DIR}/{name}"))) for style, name in _FONTS.items()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"the PDF index fonts are missing from {_FONT_PACKAGE}: {', '.join(missing)}")
    return found


def creation_date(created_at: str) -> datetime:
    """The header's ISO 8601 date in UTC (a date naming no zone is taken as UTC, never local time)."""
    when = datetime.fromisoformat(created_at)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


class _Index(FPDF):
    def __init__(self, fonts: dict[str, Path], created: datetime) -> None:
        super().__init__(orientation="landscape", format="A4", enforce_compliance="PDFA_2B")
        for style, path in fonts.items():
            self.add_font(_FAMILY, style, path)
        self.covered = frozenset.intersection(
            *(frozenset(font.cmap) for font in self.fonts.values() if isinstance(font, TTFFont))
        )
        self.set_creation_date(created)
        self.set_producer(_PRODUCER)
        self.set_creator("Casework")
        self.add_output_intent(
            OutputIntentSubType.PDFA,
            output_condition_identifier="sRGB",
            output_condition="IEC 61966-2-1:1999",
            registry_name="http://www.color.org",
            info="sRGB2014 (v2)",
            dest_output_profile=PDFICCProfile(contents=builtin_srgb2014_bytes(), n=3, alternate="DeviceRGB"),
        )
        self.set_auto_page_break(auto=True, margin=12)
        self.set_margins(10, 10, 10)

    def clean(self, text: str) -> str:
        """Text the embedded font can draw: controls become spaces, what it lacks becomes U+FFFD."""
        out = []
        for char in text:
            if unicodedata.category(char) == "Cc":  # a line break or tab included: cells are one line
                out.append(" ")
            elif ord(char) in self.covered:
                out.append(char)
            elif unicodedata.category(char) != "Cf":  # an unsupported format character is dropped
                out.append(_REPLACEMENT)
        return "".join(out)

    def footer(self) -> None:
        shaping, self.text_shaping = self.text_shaping, None  # a page break may come mid-paragraph
        self.set_y(-10)
        self.set_font(_FAMILY, "", 7)
        self.cell(0, 5, f"page {self.page_no()}/{{nb}}", align="R")
        self.text_shaping = shaping


def _xml(text: str) -> str:
    """Text for XML character data or a quoted attribute (characters XML 1.0 forbids dropped)."""
    text = "".join(
        c
        for c in text
        if c in "\t\n\r" or (ord(c) >= 0x20 and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff")
    )
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def _xmp(title: str, created: datetime) -> str:
    """The XMP packet's content: PDF/A-2b identification, and what the document says of itself."""
    date = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "\n".join(
        [
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
            ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
            '  <rdf:Description rdf:about=""',
            '    xmlns:dc="http://purl.org/dc/elements/1.1/"',
            '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"',
            '    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"',
            '    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"',
            f'    xmp:CreateDate="{date}" xmp:ModifyDate="{date}" xmp:MetadataDate="{date}"',
            f'    xmp:CreatorTool="Casework" pdf:Producer="{_xml(_PRODUCER)}"',
            '    pdfaid:part="2" pdfaid:conformance="B">',
            "   <dc:format>application/pdf</dc:format>",
            f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{_xml(title)}</rdf:li></rdf:Alt></dc:title>',
            "  </rdf:Description>",
            " </rdf:RDF>",
            "</x:xmpmeta>",
        ]
    )


_COLUMNS = ((8, "#"), (30, "Registration number"), (70, "Item"), (52, "SHA-256 / size"), (117, "Chain of custody"))
_LINE = 3.6


def _block(pdf: _Index, cells: list[list[str]], *, bold: bool = False) -> None:
    """One row: each column's lines side by side, a rule under it; a new page if it does not fit.

    Plain cells, not fpdf2's table: a 1,000-row table took a minute, these take a second or two
    (up to ten if every row has Arabic in it: the bidirectional algorithm and shaping, per run).
    """
    height = max(len(lines) for lines in cells) * _LINE + 1.5
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
        if not bold:
            _block(pdf, [[title] for _, title in _COLUMNS], bold=True)
    top, x = pdf.get_y(), pdf.l_margin
    pdf.set_font(_FAMILY, "B" if bold else "", 7)
    for (width, _), lines in zip(_COLUMNS, cells, strict=True):
        for n, line in enumerate(lines):
            _line(pdf, x, top + n * _LINE, width - 1, _LINE, pdf.clean(line))
        x += width
    pdf.set_y(top + height - 0.75)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_y(top + height)


def _paragraph(pdf: _Index, height: float, text: str) -> None:
    """A header paragraph across the page, wrapped at spaces to the page's width."""
    text = pdf.clean(text)
    if not _complex(text):
        pdf.text_shaping = None
        pdf.multi_cell(0, height, text, align="L", new_x="LMARGIN", new_y="NEXT")
        return
    width, lines, line = pdf.epw - 2 * pdf.c_margin, [], ""
    pdf.set_text_shaping(True)
    for word in text.split(" "):
        longer = f"{line} {word}" if line else word
        if line and pdf.get_string_width(longer) > width:
            lines.append(line)
            line = word
        else:
            line = longer
    lines.append(line)
    for each in lines:
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
        _line(pdf, pdf.l_margin, pdf.get_y(), pdf.epw, height, each)
        pdf.set_xy(pdf.l_margin, pdf.get_y() + height)


def _line(pdf: _Index, x: float, y: float, width: float, height: float, text: str) -> None:
    """One line of text in the box at (x, y), left to right or, if it starts so, right to left."""
    if not _complex(text):
        pdf.text_shaping = None
        pdf.set_xy(x, y)
        pdf.cell(width, height, text)
        return
    runs = _visual_runs(text)
    margin = pdf.c_margin
    pdf.c_margin = 0  # the runs side by side, one cell each, with no padding between them
    try:
        if _right_to_left(text):  # flush right: measured first
            widths = []
            for piece, rtl in runs:
                pdf.set_text_shaping(True, direction="rtl" if rtl else "ltr")
                widths.append(pdf.get_string_width(piece))
            at = x + width - margin - sum(widths)
            for (piece, rtl), piece_width in zip(runs, widths, strict=True):
                pdf.set_text_shaping(True, direction="rtl" if rtl else "ltr")
                pdf.set_xy(at, y)
                pdf.cell(piece_width, height, piece)
                at += piece_width
        else:  # flush left: each run where the one before it ended
            pdf.set_xy(x + margin, y)
            for piece, rtl in runs:
                pdf.set_text_shaping(True, direction="rtl" if rtl else "ltr")
                pdf.cell(None, height, piece)
    finally:
        pdf.c_margin = margin
        pdf.text_shaping = None


def _complex(text: str) -> bool:
    """Whether a line needs the bidirectional algorithm and shaping (right to left, marks, joiners)."""
    return any(
        unicodedata.bidirectional(c) in _COMPLEX_BIDI or unicodedata.category(c)[0] == "M" or c in _JOINERS
        for c in text
    )


def _visual_runs(text: str) -> list[tuple[str, bool]]:
    """The line as runs of one embedding level each, in visual order: (text, right to left)."""
    paragraph = BidiParagraph(text, base_direction=auto_detect_base_direction(text), preserve_bn_chars=True)
    runs: list[tuple[int, str]] = []
    for char in paragraph.characters:
        if runs and runs[-1][0] == char.embedding_level:
            runs[-1] = (char.embedding_level, runs[-1][1] + char.character)
        else:
            runs.append((char.embedding_level, char.character))
    if not runs:
        return []
    # Rule L2: from the highest level down to the lowest odd one, reverse every sequence of runs
    # at that level or higher. A run's own characters are left in logical order: HarfBuzz lays
    # them out in the run's direction.
    highest = max(level for level, _ in runs)
    lowest_odd = min((level for level, _ in runs if level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        start = 0
        while start < len(runs):
            if runs[start][0] < level:
                start += 1
                continue
            end = start
            while end < len(runs) and runs[end][0] >= level:
                end += 1
            runs[start:end] = runs[start:end][::-1]
            start = end
    return [(piece, level % 2 == 1) for level, piece in runs]


def _right_to_left(text: str) -> bool:
    return auto_detect_base_direction(text) == TextDirection.RTL


def render(header: IndexHeader, rows: list[IndexRow]) -> bytes:
    """The index as PDF bytes (in this process; the app uses ``index_pdf.IndexBuilder``)."""
    created = creation_date(header.created_at)
    pdf = _Index(font_files(), created)
    pdf.set_title(header.title)  # said by the XMP below; PDF/A-2b mode writes no /Info to disagree with it
    pdf.set_xmp_metadata(_xmp(header.title, created))
    pdf.add_page()
    pdf.set_font(_FAMILY, "B", 14)
    _paragraph(pdf, 8, header.title)
    pdf.set_font(_FAMILY, "", 8)
    for label, value in header.facts:
        _paragraph(pdf, 4.5, f"{label}: {value}")
    pdf.ln(3)
    _block(pdf, [[title] for _, title in _COLUMNS], bold=True)
    for number, row in enumerate(rows, 1):
        _block(
            pdf,
            [
                [str(number)],
                [row.registration_number],
                _wrap(row.description, 52) + [row.path],
                [row.sha256[:32], row.sha256[32:], f"{row.size} bytes"],
                [piece for line in row.custody for piece in _wrap(line, 95)],
            ],
        )
    if not rows:
        pdf.cell(0, 6, "No items are included in this disclosure.")
    return bytes(pdf.output())


def _wrap(text: str, width: int) -> list[str]:
    """Wrap by characters, at the last space of a line if it has one in its second half.

    Predictable row heights without measuring every word, and words (an Arabic word's letters
    join) kept whole where they can be.
    """
    out = []
    while len(text) > width:
        cut = text.rfind(" ", width // 2, width + 1)
        cut = cut if cut > 0 else width
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip(" ")
    return [*out, text] if text or not out else out


def main() -> None:
    """Child side: a header line, then one line per row, on stdin; the PDF on stdout."""
    lines = iter(sys.stdin.buffer)
    head = json.loads(next(lines))
    header = IndexHeader(head["title"], [(label, value) for label, value in head["facts"]], head["created_at"])
    rows = [IndexRow(**json.loads(line)) for line in lines if line.strip()]
    sys.stdout.buffer.write(render(header, rows))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
