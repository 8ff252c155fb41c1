"""Pieces of the PDF (reportlab): fonts, text cleaning, styles, the light, tables, histograms.

Fonts: DejaVu Sans when the system has it (every character the report uses), else reportlab's
own Bitstream Vera; characters a font lacks are replaced (σ -> sigma, − -> -, others -> ?),
so the text stays extractable and nothing is drawn as an empty box.
"""

from __future__ import annotations

import os
from functools import lru_cache
from xml.sax.saxutils import escape

import numpy as np
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from .html_parts import HISTOGRAM_COLOURS, LIGHT_COLOURS, HistogramScale, tick_text
from .images import Thumbnail

SANS, BOLD, MONO = "IrisSans", "IrisSans-Bold", "IrisMono"
_SYSTEM_FONTS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
                 "/usr/local/share/fonts/dejavu", "/Library/Fonts", "C:/Windows/Fonts")
_REPLACEMENTS = {"σ": "sigma", "−": "-", "²": "2", "×": "x", "µ": "u", "—": "-", "–": "-",
                 "·": ".", "■": "#", "’": "'", "“": '"', "”": '"', "…": "...", "≥": ">=",
                 "≤": "<="}


def _find(names: tuple[str, ...]) -> str | None:
    for folder in _SYSTEM_FONTS:
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


@lru_cache(maxsize=1)
def fonts() -> frozenset[int]:
    """Register the report's fonts once; returns the code points they all have."""
    import reportlab

    bundled = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    regular = _find(("DejaVuSans.ttf",)) or os.path.join(bundled, "Vera.ttf")
    bold = _find(("DejaVuSans-Bold.ttf",)) or os.path.join(bundled, "VeraBd.ttf")
    mono = _find(("DejaVuSansMono.ttf",)) or os.path.join(bundled, "Vera.ttf")
    covered = None
    for name, path in ((SANS, regular), (BOLD, bold), (MONO, mono)):
        font = TTFont(name, path)
        pdfmetrics.registerFont(font)
        chars = set(font.face.charToGlyph)
        covered = chars if covered is None else covered & chars
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=BOLD, italic=SANS, boldItalic=BOLD)
    return frozenset(covered or ())


def clean(text) -> str:
    """``text`` with every character the fonts lack replaced."""
    text = str(text)
    covered = fonts()
    if all(ord(c) in covered for c in text):
        return text
    out = []
    for char in text:
        if ord(char) in covered or char in "\n\t":
            out.append(char)
        else:
            out.append(_REPLACEMENTS.get(char, "?"))
    return "".join(out)


def para(text, style: ParagraphStyle, markup: bool = False) -> Paragraph:
    """A paragraph of plain ``text`` (escaped) or of reportlab ``markup``."""
    text = clean(text)
    return Paragraph(text if markup else escape(text).replace("\n", "<br/>"), style)


@lru_cache(maxsize=1)
def styles() -> dict[str, ParagraphStyle]:
    fonts()
    base = ParagraphStyle("body", fontName=SANS, fontSize=8, leading=10)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=17, leading=21,
                                spaceAfter=8),
        "h1": ParagraphStyle("h1", parent=base, fontName=BOLD, fontSize=14, leading=18,
                             spaceBefore=4, spaceAfter=5),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=10.5, leading=13,
                             spaceBefore=7, spaceAfter=3),
        "h3": ParagraphStyle("h3", parent=base, fontName=BOLD, fontSize=9, leading=11,
                             spaceBefore=5, spaceAfter=2),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=6.8, leading=8.2),
        "cell": ParagraphStyle("cell", parent=base, fontSize=6.8, leading=8.2),
        "mono": ParagraphStyle("mono", parent=base, fontName=MONO, fontSize=5.6, leading=7),
        "warn": ParagraphStyle("warn", parent=base, textColor=colors.HexColor("#8a4b00")),
        "error": ParagraphStyle("error", parent=base, fontName=BOLD,
                                textColor=colors.HexColor("#bb0000")),
    }


def light(verdict: str, size: float = 9) -> Drawing:
    drawing = Drawing(size, size)
    drawing.add(Circle(size / 2, size / 2, size / 2 - 0.5,
                       fillColor=colors.HexColor(LIGHT_COLOURS.get(verdict, "#999999")),
                       strokeColor=colors.HexColor("#555555"), strokeWidth=0.4))
    return drawing


GRID = [("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#c8c8c8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]
HEAD = [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5"))]


def table(headers: list[str] | None, rows: list[list], widths: list[float] | None = None,
          extra: list | None = None, style: str = "cell", wrap: bool = True) -> Table:
    """A grid table; text cells become wrapped paragraphs (``wrap``) or single lines (faster,
    for short values)."""
    s = styles()
    cell_style = s[style]
    head_style = ParagraphStyle("head", parent=s["cell"], fontName=BOLD)
    data = []
    if headers:
        data.append([para(h, head_style) if wrap else clean(h) for h in headers])
    for row in rows:
        data.append([(para(c, cell_style) if wrap else clean(c)) if isinstance(c, str) else c
                     for c in row])
    result = Table(data, colWidths=widths, repeatRows=1 if headers else 0, hAlign="LEFT")
    fonts_style = [("FONT", (0, 0), (-1, -1), SANS, cell_style.fontSize, cell_style.leading)]
    if headers:
        fonts_style.append(("FONT", (0, 0), (-1, 0), BOLD, cell_style.fontSize, cell_style.leading))
    result.setStyle(TableStyle(GRID + fonts_style + (HEAD if headers else []) + (extra or [])))
    return result


def histogram_drawing(thumbs: list[Thumbnail], width: float, height: float = 78) -> Drawing:
    """Log-count histograms of ``thumbs`` on one axis (the HTML page's, in reportlab)."""
    drawing = Drawing(width, height)
    left, right, top, bottom = 4, 4, 12, 16
    scale = HistogramScale(thumbs, left, width - left - right, height - top - bottom)
    x0, x1, sx = scale.x0, scale.x1, scale.x

    def sy(count: float) -> float:
        return bottom + scale.count_height(count)

    grey = colors.HexColor("#888888")
    for level in thumbs[0].levels:
        if x0 <= level <= x1:
            drawing.add(Line(sx(level), bottom, sx(level), height - top, strokeColor=grey,
                             strokeWidth=0.4, strokeDashArray=[2, 2]))
    for index, thumb in enumerate(thumbs):
        colour = colors.HexColor(HISTOGRAM_COLOURS[index % len(HISTOGRAM_COLOURS)])
        points = [value for corner in scale.outline(thumb, sy) for value in corner]
        drawing.add(PolyLine(points, strokeColor=colour, strokeWidth=0.6))
        drawing.add(String(left + 2 + 70 * index, height - 9, clean(thumb.label.split(" (")[0]),
                           fontName=SANS, fontSize=6.5, fillColor=colour))
    drawing.add(Line(left, bottom, width - right, bottom, strokeColor=colors.black,
                     strokeWidth=0.5))
    drawing.add(String(left, bottom - 8, clean(tick_text(x0)), fontName=SANS, fontSize=6))
    drawing.add(String(width - right, bottom - 8, clean(tick_text(x1)), fontName=SANS,
                       fontSize=6, textAnchor="end"))
    return drawing


class Picture(Flowable):
    """An RGB picture (a thumbnail, a colour bar) drawn from its pixels: grey ones as one channel
    (a third of the data to compress), without a PNG round trip."""

    def __init__(self, rgb: np.ndarray, width: float, height: float) -> None:
        super().__init__()
        from PIL import Image

        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
        self.image = Image.fromarray(np.ascontiguousarray(rgb[..., 0]) if grey else rgb)
        self.width, self.height = width, height

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self) -> None:
        self.canv.drawImage(ImageReader(self.image), 0, 0, self.width, self.height)
