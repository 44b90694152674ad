"""The QR label sheet, HTML and PDF, scanned back by an independent decoder (zxing-cpp, pdfium)."""
from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image
from sqlalchemy import select

from helpers import csrf_from, point
from qrdecode import rasterize

LABELS_CSS = Path(__file__).resolve().parents[1] / "patrol" / "static" / "labels.css"


def decode(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)]


def sheet_urls(html: str) -> list[str]:
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    found = []
    for svg in svgs:
        [url] = decode(rasterize(svg))
        found.append(url)
    return found


def pdf_urls(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        return [url for page in doc for url in decode(page.render(scale=150 / 72, grayscale=True).to_pil())]
    finally:
        doc.close()


def urls_of(app, *codes) -> list[str]:
    return sorted(f"http://patrol.test/p/{point(app, code).token}" for code in codes)


ALL_CODES = ("P-EXTINGUISHER", "P-HYDRANT", "P-PANEL", "P-CLASSROOM", "P-EXIT", "P-CANTEEN_GAS", "P-DORM",
             "P-GATE", "P-CLASS-2")


def login(auth, client, role="admin"):
    auth.login(role)
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": csrf_from(client.get("/"))})


def test_sheet_codes_scan_to_every_active_point_and_no_retired_one(app, campus, client, auth):
    login(auth, client)
    target = point(app, "P-DORM")
    token = csrf_from(client.get("/admin/labels"))
    retired = client.post(f"/admin/points/{target.id}/retire", data={"csrf_token": token}, follow_redirects=True)
    assert "Point P-DORM retired" in retired.get_data(as_text=True)
    response = client.get("/admin/labels?size=small")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert sorted(sheet_urls(html)) == urls_of(app, *(c for c in ALL_CODES if c != "P-DORM"))
    assert "P-DORM" not in html
    assert 'href="/static/labels.css"' in html and "style=" not in html and "<script>" not in html
    assert 'class="sheet sheet-small"' in html and html.count('class="sheet-page"') == 1
    extinguisher = point(app, "P-EXTINGUISHER")
    [label] = [a for a in re.findall(r'<article class="label">.*?</article>', html, flags=re.S)
               if "P-EXTINGUISHER" in a]
    assert all(part in label for part in (extinguisher.name, "P-EXTINGUISHER", extinguisher.location, "示范中学"))


def test_sheet_filters_by_area_type_and_size(app, campus, client, auth):
    login(auth, client)
    html = client.get(f"/admin/labels?area={campus['areas']['A']}&type=classroom&type=exit&size=large"
                      ).get_data(as_text=True)
    assert sorted(sheet_urls(html)) == urls_of(app, "P-CLASSROOM", "P-CLASS-2", "P-EXIT")
    assert 'class="sheet sheet-large"' in html
    assert re.search(rf'<input checked id="area-\d" name="area" type="checkbox" value="{campus["areas"]["A"]}">', html)
    html = client.get(f"/admin/labels?area={campus['areas']['B']}&size=small").get_data(as_text=True)
    assert sheet_urls(html) == urls_of(app, "P-CANTEEN_GAS")
    link = re.search(r'href="(/admin/labels\.pdf\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert f"area={campus['areas']['B']}" in link and "size=small" in link


def test_pdf_has_exactly_the_chosen_points(app, campus, client, auth):
    login(auth, client, "officer")
    response = client.get(f"/admin/labels.pdf?area={campus['areas']['A']}&type=extinguisher&type=classroom&size=small")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=qr-labels-small.pdf"
    assert sorted(pdf_urls(response.data)) == urls_of(app, "P-EXTINGUISHER", "P-CLASSROOM", "P-CLASS-2")


def test_pdf_of_every_point_in_large_labels_spans_pages(app, campus, client, auth):
    login(auth, client)
    response = client.get("/admin/labels.pdf?size=large")
    doc = pdfium.PdfDocument(response.data)
    try:
        assert len(doc) == 2  # 9 labels, 8 to a page
    finally:
        doc.close()
    assert sorted(pdf_urls(response.data)) == urls_of(app, *ALL_CODES)


def test_bad_choices_and_empty_selections(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Area

    login(auth, client)
    response = client.get("/admin/labels?size=huge&area=abc")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<svg" not in html and html.count('class="error"') == 2
    assert client.get("/admin/labels.pdf?size=huge").status_code == 400
    assert client.get("/admin/labels?area=99999&size=small").status_code == 422  # not this campus's area

    with app.app_context():
        empty = Area(campus_id=campus["campus_id"], name="空楼")
        db.session.add(empty)
        db.session.commit()
        empty_id = empty.id
    html = client.get(f"/admin/labels?area={empty_id}&size=small").get_data(as_text=True)
    assert "No active points match." in html and "<svg" not in html and "labels.pdf" not in html
    response = client.get(f"/admin/labels.pdf?area={empty_id}&size=small")
    assert response.status_code == 303 and f"area={empty_id}" in response.headers["Location"]


def test_first_visit_shows_only_the_form(app, campus, client, auth):
    login(auth, client)
    html = client.get("/admin/labels").get_data(as_text=True)
    assert "<svg" not in html and "Download PDF" not in html
    assert re.search(r'<input checked id="size-0" name="size" type="radio" value="small">', html)


def test_cli_labels_for_an_area_and_type(app, campus, tmp_path):
    from patrol.extensions import db
    from patrol.models import Point, PointType

    with app.app_context():
        base = db.session.scalar(select(Point).where(Point.code == "P-EXTINGUISHER"))
        extinguisher = db.session.scalar(select(PointType).where(PointType.key == "extinguisher"))
        db.session.add(Point(campus_id=base.campus_id, area_id=base.area_id, point_type_id=extinguisher.id,
                             code="A-EXT-2", name="二号灭火器", location="二楼"))
        db.session.add(Point(campus_id=base.campus_id, area_id=campus["areas"]["B"], point_type_id=extinguisher.id,
                             code="B-EXT-1", name="食堂灭火器"))
        db.session.commit()
    out = tmp_path / "x.pdf"
    result = app.test_cli_runner().invoke(args=["labels", "--out", str(out), "--area", "教学楼A",
                                                "--type", "extinguisher"])
    assert result.exit_code == 0, result.output
    assert "2 labels written" in result.output
    assert sorted(pdf_urls(out.read_bytes())) == urls_of(app, "P-EXTINGUISHER", "A-EXT-2")


def css_rules(css: str) -> dict[str, dict[str, str]]:
    """selector -> declarations of the plain rules (those not inside @media)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}", "", css)
    rules = {}
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        rules[" ".join(selector.split())] = dict(
            (k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d))
    return rules


def test_print_css_matches_the_pdf_geometry():
    from patrol.qr import LABEL_SIZES

    rules = css_rules(LABELS_CSS.read_text())
    assert rules["@page"]["size"] == "A4"
    for key, spec in LABEL_SIZES.items():
        page = rules[f".sheet-{key} .sheet-page"]
        assert page["grid-template-columns"] == f"repeat({spec.columns}, {spec.width:g}mm)"
        assert page["grid-template-rows"] == f"repeat({spec.rows}, {spec.height:g}mm)"
        qr = rules[f".sheet-{key} .label-qr"]
        assert qr["width"] == qr["height"] == f"{spec.qr:g}mm"
        assert qr["margin-left"] == f"{(spec.height - spec.qr) / 2:g}mm"  # as far from the edge as qr.py puts it
        assert rules[f".sheet-{key} .label-name"]["font-size"] == f"{spec.name_pt:g}pt"
        assert rules[f".sheet-{key} .label-name"]["-webkit-line-clamp"] == str(spec.name_lines)
        assert rules[f".sheet-{key} .label-text"]["font-size"] == f"{spec.text_pt:g}pt"
    assert "@media print" in LABELS_CSS.read_text() and ".top" in LABELS_CSS.read_text()
