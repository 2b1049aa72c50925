"""The bundle's PDF index: fonts from a package, embedded; Arabic shaped, right to left; PDF/A-2b; the same bytes.

Read back with pikepdf (and its allowlist PDF/A validator, pikepdf.pdfa, which applies veraPDF's
rules); text with poppler's pdftotext where the host has it, and always with a small reader of
the content streams through the fonts' ToUnicode maps. veraPDF itself runs when it is installed
(``verapdf`` on the PATH, or ``VERAPDF=/path/to/verapdf``); nothing is downloaded for it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest

from casework.disclosure import index_render
from casework.disclosure.index_pdf import FIXED_EPOCH, IndexBuilder, IndexHeader, IndexRow

CYRILLIC = "Свідок"
ARABIC = "\u0634\u0627\u0647\u062f"  # شاهد, witness (escaped: no editor reorders it)
CREATED = "2026-03-04T05:06:07+00:00"


def _header(created_at: str | None = CREATED) -> IndexHeader:
    facts = [
        ("Recipient", f"Олена Петренко ({CYRILLIC}), محكمة العدل الدولية"),
        ("Purpose", f"trial; {ARABIC} 7 and witness 9"),
        ("Bag", "disclosure-7 (BagIt 1.0)"),
    ]
    title = f"Disclosure 7: index of evidence — {CYRILLIC} / {ARABIC}"
    if created_at is None:
        return IndexHeader(title, facts)
    return IndexHeader(title, facts, created_at)


def _rows() -> list[IndexRow]:
    descriptions = [
        f"Statement of witness W-1 ({CYRILLIC} 1), Kharkiv",
        f"{ARABIC}: (witness 2) إفادة",  # right to left from its first letter, with English in it
        "Photograph of the site, 2024-05-01; Ünïcödé and a name the font lacks: 漢字 🙂",
        (
            "A long description that has to wrap over several lines of the item column, "
            "with Cyrillic Свідок and Arabic الشاهد in its second half, to see the wrap keep words whole"
        ),
    ]
    return [
        IndexRow(
            f"REG-{n:04d}",
            text,
            f"data/items/{n:04d}/REG-{n:04d}.pdf",
            f"{n:02x}" * 32,
            1000 + n,
            [
                f"first: upload by {CYRILLIC.lower()}-{n} at 2026-01-0{n}T10:00:00Z (seq {n})",
                "2 x read ok",
                f"3 events, last at 2026-01-0{n}T11:00:00Z; proofs in data/items/{n:04d}/custody",
            ],
        )
        for n, text in enumerate(descriptions, 1)
    ]


def _build(header: IndexHeader, rows: list[IndexRow]) -> bytes:
    """Through the child process, as a bundle builds it."""
    builder = IndexBuilder(header)
    try:
        for row in rows:
            builder.add(row)
        return builder.finish()
    finally:
        builder.close()


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    return _build(_header(), _rows())


@pytest.fixture
def pdf(pdf_bytes: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(pdf_bytes))


# ---------------------------------------------------------------------------------------------
# Fonts


def test_every_font_is_embedded_from_the_package(pdf: pikepdf.Pdf) -> None:
    fonts = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font"]
    # Composite fonts only (no core font, nothing a viewer would have to find on its host) ...
    assert fonts and {str(font.Subtype) for font in fonts} == {"/Type0", "/CIDFontType2"}
    descriptors = [
        descendant.FontDescriptor for font in fonts if font.Subtype == "/Type0" for descendant in font.DescendantFonts
    ]
    # ... each with its TrueType program in the file
    assert descriptors and all("/FontFile2" in d for d in descriptors)
    assert all("/FontDescriptor" in font for font in fonts if font.Subtype == "/CIDFontType2")
    assert sorted(str(d.FontName).split("+", 1)[1] for d in descriptors) == ["DejaVuSansBold", "DejaVuSansBook"]
    # the package's files, never the host's
    files = index_render.font_files()
    assert all("site-packages" in str(path) or "dist-packages" in str(path) for path in files.values())
    assert not any(str(path).startswith("/usr/share/fonts") for path in files.values())


# ---------------------------------------------------------------------------------------------
# PDF/A-2b


def test_xmp_says_pdfa_2b_and_agrees_with_the_document(pdf: pikepdf.Pdf) -> None:
    meta = pdf.open_metadata()
    assert meta.pdfa_status == "2B"
    assert meta["dc:title"] == _header().title
    assert meta["xmp:CreateDate"] == meta["xmp:ModifyDate"] == "2026-03-04T05:06:07Z"
    assert meta["pdf:Producer"].startswith("Casework")
    assert "/Filter" not in pdf.Root.Metadata  # PDF/A: the metadata stream is not compressed
    # No document information dictionary (optional in PDF/A-2), so none can disagree with the XMP;
    # if one ever appears, it must say what the XMP says.
    info = pdf.trailer.get("/Info")
    if info is not None:
        assert str(info.get("/Title", meta["dc:title"])) == meta["dc:title"]
        assert str(info.get("/Producer", meta["pdf:Producer"])) == meta["pdf:Producer"]
        assert str(info.get("/CreationDate", "D:20260304050607Z")).startswith("D:20260304050607")


def test_srgb_output_intent_with_an_embedded_icc_profile(pdf: pikepdf.Pdf) -> None:
    intents = [oi for oi in pdf.Root.OutputIntents if oi.S == "/GTS_PDFA1"]
    assert len(intents) == 1
    profile = intents[0].DestOutputProfile
    assert int(profile.N) == 3
    icc = profile.read_bytes()
    assert icc[36:40] == b"acsp" and icc[16:20] == b"RGB "


def test_file_identifier(pdf: pikepdf.Pdf, pdf_bytes: bytes) -> None:
    ident = pdf.trailer.ID
    assert len(ident) == 2 and bytes(ident[0]) == bytes(ident[1]) and len(bytes(ident[0])) == 16
    assert pdf_bytes.startswith(b"%PDF-1.7\n%") and max(pdf_bytes[10:14]) > 127  # binary comment


def test_pdfa_validator_finds_no_violation(pdf_bytes: bytes) -> None:
    report = pikepdf.pdfa.validate_written(io.BytesIO(pdf_bytes), "2b")
    assert report.violations == (), report.summary()
    # All that it leaves unchecked: fpdf2 always opens the first page through an explicit
    # destination (/OpenAction [page /FitH null]), which PDF/A-2 allows (it is no action), but
    # which the allowlist does not model.
    assert all(f.where.endswith("(Catalog) /OpenAction") for f in report.unsupported), report.summary()


def test_pdfa_validator_is_real() -> None:
    """The same validator fails a plain fpdf2 document (core font, no output intent, no XMP)."""
    from fpdf import FPDF

    plain = FPDF()
    plain.add_page()
    plain.set_font("Helvetica", size=12)
    plain.cell(0, 10, "unembedded")
    report = pikepdf.pdfa.validate_written(io.BytesIO(bytes(plain.output())), "2b")
    assert report.violations


@pytest.mark.skipif(not (os.environ.get("VERAPDF") or shutil.which("verapdf")), reason="veraPDF is not installed")
def test_verapdf_passes(pdf_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "index.pdf"
    path.write_bytes(pdf_bytes)
    verapdf = os.environ.get("VERAPDF") or shutil.which("verapdf")
    assert verapdf is not None
    done = subprocess.run(
        [verapdf, "--flavour", "2b", "--format", "text", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.startswith("PASS"), done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# Text: Cyrillic as Cyrillic, Arabic shaped and right to left


def _to_unicode(font: pikepdf.Dictionary) -> dict[int, str]:
    cmap = font.ToUnicode.read_bytes().decode("latin-1")
    out: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for code, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(code, 16)] = bytes.fromhex(text).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
        for low, high, start in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = bytes.fromhex(start).decode("utf-16-be")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                out[code] = first[:-1] + chr(ord(first[-1]) + offset)
    return out


def _drawn_text(pdf: pikepdf.Pdf) -> tuple[str, dict[str, set[int]]]:
    """The text as drawn, glyph after glyph in the order of the content streams (that is, left to
    right as laid out), a new line where the baseline moves; and for each character, the codes
    that drew it."""
    out = ""
    codes_for: dict[str, set[int]] = defaultdict(set)
    for page in pdf.pages:
        fonts = {str(name): _to_unicode(font) for name, font in page.Resources.Font.items()}
        current: dict[int, str] = {}
        baseline = None
        for op in pikepdf.parse_content_stream(page):
            operator = str(op.operator)
            if operator in ("Td", "Tm"):
                y = round(float(op.operands[-1]), 1)
                if y != baseline:
                    out += "\n"
                    baseline = y
            elif operator == "Tf":
                current = fonts[str(op.operands[0])]
            elif operator in ("Tj", "TJ"):
                strings = (
                    [op.operands[0]]
                    if operator == "Tj"
                    else [s for s in op.operands[0] if isinstance(s, pikepdf.String)]
                )
                for string in strings:
                    raw = bytes(string)
                    for i in range(0, len(raw), 2):
                        code = int.from_bytes(raw[i : i + 2], "big")
                        text = current.get(code, "?")
                        codes_for[text].add(code)
                        out += text
    return out, codes_for


def test_cyrillic_comes_out_as_cyrillic(pdf: pikepdf.Pdf) -> None:
    text, _ = _drawn_text(pdf)
    assert CYRILLIC in text and "Олена Петренко" in text and "Ünïcödé" in text
    assert "??" not in text
    assert "\ufffd" in text  # what the font lacks (漢字 🙂) is marked, never drawn as a missing glyph


def test_arabic_is_laid_out_right_to_left_and_shaped(pdf: pikepdf.Pdf) -> None:
    text, codes_for = _drawn_text(pdf)
    # Drawn left to right, a right-to-left word shows its last letter first.
    assert ARABIC[::-1] in text and ARABIC not in text
    # In an English line, a number after an Arabic word goes before it (UBA rule W2, then L2) ...
    assert f"trial; 7 {ARABIC[::-1]} and witness 9" in text
    # ... and a line that starts in Arabic reads from the right, English in it left to right. Its
    # brackets belong to the Arabic runs: the closing one is drawn first, mirrored (it shows as
    # "(" and its ToUnicode says ")").
    assert f"{'إفادة'[::-1]} )witness 2( :{ARABIC[::-1]}" in text
    # Shaped: a letter drawn in more than one form (initial in شاهد, medial in الشاهد).
    assert any(len(codes_for[letter]) > 1 for letter in ARABIC), {c: codes_for[c] for c in ARABIC}


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_pdftotext_reads_cyrillic_and_arabic(pdf_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "index.pdf"
    path.write_bytes(pdf_bytes)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert CYRILLIC in text and ARABIC in text and "REG-0004" in text


def test_runs_in_visual_order() -> None:
    assert index_render._visual_runs(f"Purpose: {ARABIC} 7 and") == [
        ("Purpose: ", False),
        ("7", False),
        (f"{ARABIC} ", True),
        (" and", False),
    ]
    assert index_render._visual_runs(f"{ARABIC}: (witness 2) {ARABIC}") == [
        (f") {ARABIC}", True),
        ("witness 2", False),
        (f"{ARABIC}: (", True),
    ]
    assert index_render._visual_runs("plain") == [("plain", False)]
    assert index_render._visual_runs("") == []


def test_right_to_left_lines_are_set_flush_right() -> None:
    assert index_render._right_to_left(f"{ARABIC}: إفادة (witness 2)")
    assert not index_render._right_to_left(f"Statement of {ARABIC}")


def test_wrap_keeps_words_whole_where_it_can() -> None:
    assert index_render._wrap("", 10) == [""]
    assert index_render._wrap("abcdefghijklmnop", 5) == ["abcde", "fghij", "klmno", "p"]
    assert index_render._wrap("one two three four", 9) == ["one two", "three", "four"]
    assert all(len(line) <= 52 for line in index_render._wrap(_rows()[3].description, 52))


# ---------------------------------------------------------------------------------------------
# Reproducible


def test_the_same_rows_give_the_same_bytes(pdf_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "12345")  # another child, another hash seed
    assert _build(_header(), _rows()) == pdf_bytes
    assert index_render.render(_header(), _rows()) == pdf_bytes  # and in this process


def test_the_creation_date_is_the_callers(pdf_bytes: bytes) -> None:
    other = index_render.render(_header("2026-03-05T00:00:00+02:00"), _rows())
    assert other != pdf_bytes
    meta = pikepdf.open(io.BytesIO(other)).open_metadata()
    assert meta["xmp:CreateDate"] == "2026-03-04T22:00:00Z"  # in UTC


def test_without_a_date_the_fixed_epoch() -> None:
    assert _header(None).created_at == FIXED_EPOCH
    first = index_render.render(_header(None), _rows()[:1])
    assert first == index_render.render(_header(None), _rows()[:1])
    assert pikepdf.open(io.BytesIO(first)).open_metadata()["xmp:CreateDate"] == "1970-01-01T00:00:00Z"
    naive = index_render.render(_header("1970-01-01T00:00:00"), _rows()[:1])
    assert naive == first  # a date naming no zone is UTC, whatever the host's zone


def test_a_bad_date_fails_before_the_child_starts() -> None:
    with pytest.raises(ValueError):
        IndexBuilder(_header("yesterday"))


def test_an_empty_index_is_pdfa_too() -> None:
    empty = index_render.render(_header(), [])
    report = pikepdf.pdfa.validate_written(io.BytesIO(empty), "2b")
    assert report.violations == (), report.summary()
    assert pikepdf.open(io.BytesIO(empty)).open_metadata().pdfa_status == "2B"
