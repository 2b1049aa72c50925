"""Rendering the bundle index with fpdf2 (imported only by the child process that builds it)."""
from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from casework.disclosure.index_pdf import IndexHeader, IndexRow

# A Unicode font if one is at hand (recipient names and usernames may be Cyrillic or Arabic);
# otherwise the core Helvetica with anything outside Latin-1 replaced.
_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def _font_file() -> Path | None:
    found = next((p for p in _FONT_CANDIDATES if p.is_file()), None)
    if found is not None:
        return found
    try:
        import matplotlib  # bundles DejaVu Sans

        bundled = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return bundled if bundled.is_file() else None
    except ImportError:
        return None


class _Index(FPDF):
    def __init__(self, unicode_font: Path | None) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.family = "Helvetica"
        if unicode_font is not None:
            self.add_font("Body", "", str(unicode_font))
            bold = unicode_font.with_name("DejaVuSans-Bold.ttf")
            self.add_font("Body", "B", str(bold if bold.is_file() else unicode_font))
            self.family = "Body"
        self.unicode = unicode_font is not None
        self.set_auto_page_break(auto=True, margin=12)
        self.set_margins(10, 10, 10)

    def clean(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family, "", 7)
        self.cell(0, 5, f"page {self.page_no()}/{{nb}}", align="R")


_COLUMNS = ((8, "#"), (30, "Registration number"), (70, "Item"), (52, "SHA-256 / size"), (117, "Chain of custody"))
_LINE = 3.6


def _block(pdf: _Index, cells: list[list[str]], *, bold: bool = False) -> None:
    """One row: each column's lines side by side, a rule under it; a new page if it does not fit.

    Plain cells, not fpdf2's table: a 1,000-row table took a minute, these take a second.
    """
    height = max(len(lines) for lines in cells) * _LINE + 1.5
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
        if not bold:
            _block(pdf, [[title] for _, title in _COLUMNS], bold=True)
    top, x = pdf.get_y(), pdf.l_margin
    pdf.set_font(pdf.family, "B" if bold else "", 7)
    for (width, _), lines in zip(_COLUMNS, cells, strict=True):
        for n, line in enumerate(lines):
            pdf.set_xy(x, top + n * _LINE)
            pdf.cell(width - 1, _LINE, pdf.clean(line))
        x += width
    pdf.set_y(top + height - 0.75)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_y(top + height)


def render(header: IndexHeader, rows: list[IndexRow]) -> bytes:
    """The index as PDF bytes."""
    pdf = _Index(_font_file())
    pdf.set_title(pdf.clean(header.title))
    pdf.set_creator("Casework")
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 14)
    pdf.multi_cell(0, 8, pdf.clean(header.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8)
    for label, value in header.facts:
        pdf.multi_cell(0, 4.5, pdf.clean(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _block(pdf, [[title] for _, title in _COLUMNS], bold=True)
    for number, row in enumerate(rows, 1):
        _block(pdf, [[str(number)], [row.registration_number], _wrap(row.description, 52) + [row.path],
                     [row.sha256[:32], row.sha256[32:], f"{row.size} bytes"],
                     [piece for line in row.custody for piece in _wrap(line, 95)]])
    if not rows:
        pdf.cell(0, 6, "No items are included in this disclosure.")
    return bytes(pdf.output())


def _wrap(text: str, width: int) -> list[str]:
    """Hard wrap by characters: predictable row heights without measuring every word."""
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


