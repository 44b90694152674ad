"""QR output checked by an independent decoder (zxing-cpp) and PDF renderer (pdfium)."""
from __future__ import annotations

import io
import random
import string
import xml.etree.ElementTree as ET

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from qrdecode import SVG_NS, path_subpaths

from patrol.qr import LABEL_SIZES, Label, _cells, labels_pdf, qr_matrix, qr_png, qr_svg

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"

URLS = [
    "http://patrol.school.lan/p/AbC-123_xyz",
    "http://patrol.school.lan/p/" + "".join(random.Random(1).choices(TOKEN_ALPHABET, k=64)),
    "https://safety.example.edu.cn/campus-east/patrol/p/Zx9_-Qw3RtYu8IoP1aS2dF",
]


def decode(image: Image.Image) -> list:
    """Every QR code zxing-cpp finds in image."""
    return zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)


def matrix_image(matrix: list[list[bool]], scale: int = 8) -> Image.Image:
    """A bitmap of a module matrix, scale pixels per module."""
    n = len(matrix)
    image = Image.new("L", (n, n))
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return image.resize((n * scale, n * scale), Image.Resampling.NEAREST)


@pytest.mark.parametrize("url", URLS)
def test_png_decodes_to_exactly_the_url(url):
    image = Image.open(io.BytesIO(qr_png(url)))
    assert image.format == "PNG"
    n = len(qr_matrix(url))
    assert image.size == (n * 8, n * 8)
    [found] = decode(image)
    assert found.text == url
    assert found.ec_level == "Q"


def test_png_box_size_and_quiet_zone():
    url = URLS[0]
    n = len(qr_matrix(url))
    image = Image.open(io.BytesIO(qr_png(url, box_size=3))).convert("L")
    assert image.size == (n * 3, n * 3)
    quiet = 4 * 3
    pixels = image.load()
    w = image.width
    border = [(x, y) for x in range(w) for y in range(w)
              if min(x, y) < quiet or max(x, y) >= w - quiet]
    assert all(pixels[p] == 255 for p in border)
    assert [b.text for b in decode(image)] == [url]


@pytest.mark.parametrize("url", URLS)
def test_matrix_has_four_module_quiet_zone(url):
    matrix = qr_matrix(url)
    n = len(matrix)
    assert all(len(row) == n for row in matrix)
    assert (n - 8 - 21) % 4 == 0 and 21 <= n - 8 <= 177  # a real QR version inside the border
    for i in range(4):
        assert not any(matrix[i]) and not any(matrix[n - 1 - i])
        assert not any(row[i] for row in matrix) and not any(row[n - 1 - i] for row in matrix)
    # The symbol starts right after the border: finder pattern corners are dark.
    assert matrix[4][4] and matrix[4][n - 5] and matrix[n - 5][4]
    [found] = decode(matrix_image(matrix))
    assert found.text == url
    assert found.ec_level == "Q"


@pytest.mark.parametrize("url", [*URLS, "https://patrol.example.org/p/a?b=1&c=<2>\"'"])
def test_svg_is_a_csp_safe_scalable_image_of_the_url(url):
    svg = qr_svg(url)
    assert svg.startswith("<svg") and "<?xml" not in svg
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == url
    assert root.get("width") is None and root.get("height") is None  # CSS width decides the size
    assert "crispEdges" in {el.get("shape-rendering") for el in root.iter()}
    assert not any("style" in el.attrib for el in root.iter())
    assert not any(el.tag in (SVG_NS + "style", SVG_NS + "script") for el in root.iter())

    n = len(qr_matrix(url))
    assert root.get("viewBox").split() == ["0", "0", str(n), str(n)]
    [rect] = root.findall(SVG_NS + "rect")
    assert {k: rect.get(k, "0") for k in ("x", "y", "width", "height")} == {
        "x": "0", "y": "0", "width": str(n), "height": str(n)}
    assert rect.get("fill").lower() in ("#fff", "#ffffff", "white")
    [path] = root.findall(SVG_NS + "path")
    assert path.get("fill").lower() in ("#000", "#000000", "black")

    # Rasterise what the SVG says (background, then the path's polygons) and scan it.
    scale = 8
    image = Image.new("L", (n * scale, n * scale), 0)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, n * scale - 1, n * scale - 1), fill=255)
    for polygon in path_subpaths(path.get("d")):
        draw.polygon([(px * scale, py * scale) for px, py in polygon], fill=0)
    [found] = decode(image)
    assert found.text == url

    # Module by module, the path covers exactly the dark modules of the matrix.
    half = scale // 2
    drawn = [[image.getpixel((x * scale + half, y * scale + half)) == 0 for x in range(n)]
             for y in range(n)]
    assert drawn == qr_matrix(url)


def make_labels(count: int) -> list[Label]:
    rng = random.Random(count)
    return [
        Label(
            url=f"http://patrol.school.lan/p/{''.join(rng.choices(TOKEN_ALPHABET, k=22))}",
            name=f"教学楼{'ABC'[i % 3]} {i % 6 + 1}F 灭火器 {i:02d}",
            code=f"{'ABC'[i % 3]}-{i % 6 + 1}F-EXT-{i:02d}",
            location=f"教学楼{'ABC'[i % 3]} {i % 6 + 1}楼 东侧楼梯口",
            school="示范中学",
        )
        for i in range(count)
    ]


def squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("size,pages", [("small", 2), ("large", 4)])
def test_label_sheet_scans_back_to_every_url_once(size, pages):
    labels = make_labels(25)
    pdf = labels_pdf(labels, size=size, title="示范中学 巡查点")
    doc = pdfium.PdfDocument(pdf)
    try:
        assert len(doc) == pages
        meta = doc.get_metadata_dict()
        assert meta["Title"] == "示范中学 巡查点"
        assert "示范中学" in meta["Author"]
        found, text = [], ""
        for index in range(len(doc)):
            page = doc[index]
            assert page.get_size() == pytest.approx((595.28, 841.89), abs=0.5)  # A4 in points
            image = page.render(scale=200 / 72, grayscale=True).to_pil()
            codes = decode(image)
            assert all(code.ec_level == "Q" for code in codes)
            found += [code.text for code in codes]
            text += page.get_textpage().get_text_range()
    finally:
        doc.close()
    assert sorted(found) == sorted(label.url for label in labels)
    text = squash(text)
    assert text.count("示范中学") >= 25
    for label in labels:
        assert label.code in text
        assert squash(label.name) in text
        assert squash(label.location) in text


@pytest.mark.parametrize("size", sorted(LABEL_SIZES))
def test_long_texts_stay_inside_their_label(size):
    spec = LABEL_SIZES[size]
    label = Label(
        url="http://patrol.school.lan/p/AbC-123_xyz",
        name="实验楼B 三楼 化学实验室 紧急喷淋装置及洗眼器 北侧靠窗位置 第二组 " * 2,
        code="B-3F-SHOWER-EYEWASH-0002-NORTH-WING-EXTENSION",
        location="实验楼B 三楼 化学实验室 北侧 靠近窗户 与通风橱之间的位置 请勿遮挡 " * 4,
        school="示范中学附属实验学校（高中部）国际部 东校区",
    )
    doc = pdfium.PdfDocument(labels_pdf([label], size=size))
    try:
        page = doc[0]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        [(cell_x, cell_y)] = _cells(spec)[:1]
        right, top = cell_x + spec.width * 72 / 25.4, cell_y + spec.height * 72 / 25.4
        qr_right = cell_x + (spec.height + spec.qr) / 2 * 72 / 25.4
        for i in range(textpage.count_chars()):
            if not text[i].strip():
                continue
            left, bottom, char_right, char_top = textpage.get_charbox(i, loose=True)
            if bottom >= top:
                continue  # the page header above the grid
            assert qr_right <= left and char_right <= right, (text[i], left, char_right)
            assert cell_y <= bottom and char_top <= top, (text[i], bottom, char_top)
        assert "…" in text
        [found] = decode(page.render(scale=200 / 72, grayscale=True).to_pil())
        assert found.text == label.url
    finally:
        doc.close()


def test_unknown_size_is_rejected():
    with pytest.raises(ValueError):
        labels_pdf(make_labels(1), size="huge")
