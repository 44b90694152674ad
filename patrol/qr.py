"""QR codes for patrol points: matrix, SVG and PNG renderings, and printable A4 label sheets."""
from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import qrcode
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

QUIET_ZONE = 4  # modules; the minimum the QR specification asks for
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q  # ~25% recoverable: labels get scuffed and dirty
FONT = "STSong-Light"  # a standard CID font, so no font file ships and PDF viewers supply the glyphs
ELLIPSIS = "…"


@dataclass(frozen=True)
class Label:
    """One printed label: the scan URL and the words printed beside its QR code."""

    url: str
    name: str
    code: str
    location: str
    school: str


@dataclass(frozen=True)
class LabelSize:
    """Geometry of one label size: cell and QR sides in mm, grid shape, font sizes in points."""

    width: float
    height: float
    columns: int
    rows: int
    qr: float  # side of the printed code, quiet zone included
    name_pt: float
    text_pt: float
    name_lines: int


# Both sizes are contiguous grids centred on A4 (210 x 297 mm) with at least 10 mm of margin, so
# every cut line is shared by two labels.  Scanning distance is roughly ten times the code's side:
#   small: 63 x 38 mm, 3 x 7 = 21 per page, 32 mm code, read from ~30 cm (extinguishers, doors);
#   large: 95 x 68 mm, 2 x 4 = 8 per page, 60 mm code, read from ~60 cm (walls, gates, posts).
LABEL_SIZES: dict[str, LabelSize] = {
    "small": LabelSize(width=63, height=38, columns=3, rows=7, qr=32,
                       name_pt=8, text_pt=6.5, name_lines=2),
    "large": LabelSize(width=95, height=68, columns=2, rows=4, qr=60,
                       name_pt=11, text_pt=8.5, name_lines=3),
}

PAD = 2.5 * mm  # inside each label's cut line
GAP = 1.5 * mm  # between the code and the text column


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR module grid for url (True = dark), quiet zone of 4 modules included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    code.add_data(url)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def _runs(row: list[bool]) -> Iterator[tuple[int, int]]:
    """Yield (start, length) of each run of dark modules in a row."""
    start = None
    for x, dark in enumerate([*row, False]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            yield start, x - start
            start = None


def qr_svg(url: str) -> str:
    """A standalone, CSP-safe <svg> of the code for url that scales with its CSS width."""
    matrix = qr_matrix(url)
    n = len(matrix)
    # One subpath per horizontal run: far smaller than one rect per module, and no hairline seams.
    d = "".join(f"M{x} {y}h{length}v1h-{length}z"
                for y, row in enumerate(matrix) for x, length in _runs(row))
    # No width/height attributes: the viewBox alone lets CSS width set the size, keeping it square.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" role="img" '
            f'aria-label={quoteattr(url)} shape-rendering="crispEdges">'
            f'<rect width="{n}" height="{n}" fill="#fff"/>'
            f'<path d="{d}" fill="#000"/></svg>')


def qr_png(url: str, box_size: int = 8) -> bytes:
    """PNG bytes of the code for url, box_size pixels per module, quiet zone included."""
    matrix = qr_matrix(url)
    n = len(matrix)
    image = Image.new("1", (n, n))
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    image = image.resize((n * box_size, n * box_size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@functools.cache
def _font() -> str:
    """Register the CJK font with reportlab once and return its name."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _width(text: str, pt: float) -> float:
    """Width of text in points."""
    return pdfmetrics.stringWidth(text, _font(), pt)


def _ellipsize(text: str, pt: float, width: float, cut: bool = False) -> str:
    """text, shortened to end in an ellipsis if it is wider than width (or always, if cut)."""
    if not cut and _width(text, pt) <= width:
        return text
    while text and _width(text.rstrip() + ELLIPSIS, pt) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def _wrap(text: str, pt: float, width: float, max_lines: int) -> list[str]:
    """Break text into at most max_lines lines of width, the last one ellipsized if needed."""
    rest = " ".join(text.split())
    lines: list[str] = []
    while rest and len(lines) < max_lines:
        n = 1
        while n < len(rest) and _width(rest[:n + 1], pt) <= width:
            n += 1
        if n < len(rest):
            # Chinese may break anywhere, but a space in the second half keeps "1F" or "01" whole.
            space = rest.rfind(" ", 0, n + 1)
            if space >= n // 2 and space > 0:
                n = space
        lines.append(rest[:n].rstrip())
        rest = rest[n:].lstrip()
    if rest:
        lines[-1] = _ellipsize(lines[-1], pt, width, cut=True)
    return lines


def _draw_qr(c: canvas.Canvas, matrix: list[list[bool]], x: float, y: float, side: float) -> None:
    """Draw matrix as vector rectangles in a side x side square with lower-left corner (x, y)."""
    n = len(matrix)
    module = side / n
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, side, side, stroke=0, fill=1)
    # A single path, so the rasteriser leaves no antialiasing seams between adjacent modules.
    path = c.beginPath()
    for row_index, row in enumerate(matrix):
        top = y + side - (row_index + 1) * module
        for start, length in _runs(row):
            path.rect(x + start * module, top, length * module, module)
    c.setFillColorRGB(0, 0, 0)
    c.drawPath(path, stroke=0, fill=1)


def _draw_lines(c: canvas.Canvas, lines: list[str], x: float, top: float, pt: float,
                bold: bool = False) -> float:
    """Draw lines downwards from top and return the y where the next line would start."""
    leading = pt * 1.2
    c.saveState()  # the text render mode outlives the text object, so confine it
    text = c.beginText()
    text.setFont(_font(), pt, leading)
    if bold:
        # The CID font has no bold face: fill and stroke the glyphs instead.
        text.setTextRenderMode(2)
        c.setLineWidth(pt * 0.04)
    text.setTextOrigin(x, top - pt * 0.88)
    for line in lines:
        text.textLine(line)
    c.drawText(text)
    c.restoreState()
    return top - leading * len(lines)


def _draw_label(c: canvas.Canvas, label: Label, size: LabelSize, x: float, y: float) -> None:
    """Draw one label with its lower-left corner at (x, y) in points."""
    width, height, side = size.width * mm, size.height * mm, size.qr * mm
    c.saveState()
    c.setStrokeColorRGB(0.6, 0.6, 0.6)
    c.setLineWidth(0.3)
    c.rect(x, y, width, height, stroke=1, fill=0)
    # The quiet zone is white anyway, so the code may sit closer to the cut line than the text.
    qr_x = x + (height - side) / 2
    _draw_qr(c, qr_matrix(label.url), qr_x, y + (height - side) / 2, side)

    text_x = qr_x + side + GAP
    text_w = x + width - PAD - text_x
    top, bottom = y + height - PAD, y + PAD
    small = size.text_pt
    leading = small * 1.2
    c.setFillColorRGB(0, 0, 0)
    c.setStrokeColorRGB(0, 0, 0)
    top = _draw_lines(c, _wrap(label.name, size.name_pt, text_w, size.name_lines),
                      text_x, top, size.name_pt, bold=True)
    top -= small * 0.4
    top = _draw_lines(c, [_ellipsize(label.code, small, text_w)], text_x, top, small)
    # The school line sits at the bottom; the location takes whatever lines fit in between.
    room = int((top - (bottom + leading)) // leading)
    if room > 0 and label.location.strip():
        _draw_lines(c, _wrap(label.location, small, text_w, room), text_x, top, small)
    c.setFillColorRGB(0.3, 0.3, 0.3)
    _draw_lines(c, [_ellipsize(label.school, small, text_w)], text_x, bottom + leading, small)
    c.restoreState()


def _cells(size: LabelSize) -> list[tuple[float, float]]:
    """Lower-left corners, in points and reading order, of the label cells on one page."""
    page_w, page_h = A4
    left = (page_w - size.columns * size.width * mm) / 2
    top = (page_h + size.rows * size.height * mm) / 2
    return [(left + col * size.width * mm, top - (row + 1) * size.height * mm)
            for row in range(size.rows) for col in range(size.columns)]


def labels_pdf(labels: list[Label], size: str = "small", title: str = "") -> bytes:
    """An A4 PDF of cut-out labels for labels, laid out in a grid of the given LABEL_SIZES key."""
    if size not in LABEL_SIZES:
        raise ValueError(f"unknown label size {size!r}; expected one of {sorted(LABEL_SIZES)}")
    spec = LABEL_SIZES[size]
    cells = _cells(spec)
    pages = max(1, -(-len(labels) // len(cells)))
    schools = list(dict.fromkeys(label.school for label in labels if label.school))

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    c.setTitle(title or "Patrol point QR labels")
    c.setAuthor(", ".join(schools) or "patrol")
    c.setCreator("patrol")
    c.setSubject("QR codes for patrol check points")
    page_w, _ = A4
    header_y = cells[0][1] + spec.height * mm + 3 * mm
    for page in range(pages):
        chunk = labels[page * len(cells):(page + 1) * len(cells)]
        c.setFont(_font(), 7)
        c.setFillColorRGB(0.4, 0.4, 0.4)
        if title:
            c.drawString(cells[0][0], header_y, _ellipsize(title, 7, page_w / 2))
        c.drawRightString(page_w - cells[0][0], header_y, f"{page + 1}/{pages}")
        for label, (x, y) in zip(chunk, cells):
            _draw_label(c, label, spec, x, y)
        c.showPage()
    c.save()
    return out.getvalue()
