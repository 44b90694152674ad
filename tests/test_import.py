"""Point import and export: CSV in its encodings, XLSX, every bad row reported, all or nothing, CLI and web."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import select

from helpers import csrf_from

HEADER = "code,name,area,type,location,cadence,per_period\n"


def run_import(app, campus, filename, data):
    """import_points in English, so the assertions read the msgids whatever catalogues exist."""
    from patrol.extensions import db
    from patrol.models import Campus
    from patrol.point_import import import_points

    with app.test_request_context(), force_locale("en"):
        return import_points(db.session.get(Campus, campus["campus_id"]), filename, data)


def snapshot(app):
    """Every point and area as plain tuples, to prove a failed import changed nothing."""
    from patrol.extensions import db
    from patrol.models import Area, Point

    with app.app_context():
        points = db.session.execute(select(Point.code, Point.name, Point.area_id, Point.point_type_id, Point.location,
                                           Point.cadence, Point.per_period, Point.active).order_by(Point.code)).all()
        areas = db.session.execute(select(Area.name, Area.building, Area.floor).order_by(Area.name)).all()
        return [tuple(p) for p in points], [tuple(a) for a in areas]


def points_by_code(app):
    from patrol.extensions import db
    from patrol.models import Point

    with app.app_context():
        rows = db.session.scalars(select(Point).order_by(Point.code)).all()
        return {p.code: (p.name, p.area.name, p.point_type.key, p.location, p.cadence, p.per_period, p.active)
                for p in rows}


def test_csv_creates_and_updates_points(app, campus):
    data = (HEADER +
            "A-1F-EXT-01,一楼东灭火器,教学楼A,extinguisher,东侧楼梯口,,\n"
            "B-GATE-1,北门,北门岗,门卫/周界,北门外,,\n"
            "C-DORM-1,一号宿舍,宿舍楼,Dormitory electrics,,周,2\n"
            "P-HYDRANT,消火栓（改名）,食堂,hydrant,,daily,1\n").encode()
    result = run_import(app, campus, "points.csv", data)
    assert (result.created, result.updated, result.errors) == (3, 1, [])
    points = points_by_code(app)
    assert points["A-1F-EXT-01"] == ("一楼东灭火器", "教学楼A", "extinguisher", "东侧楼梯口", "monthly", 1, True)
    assert points["B-GATE-1"] == ("北门", "北门岗", "gate", "北门外", "daily", 3, True)  # the type's 3 rounds a day
    assert points["C-DORM-1"] == ("一号宿舍", "宿舍楼", "dorm", "", "weekly", 2, True)
    assert points["P-HYDRANT"] == ("消火栓（改名）", "食堂", "hydrant", "", "daily", 1, True)
    assert len(points) == 12


def test_new_area_takes_building_and_floor_from_the_file(app, campus):
    from patrol.extensions import db
    from patrol.models import Area

    data = ("code,name,area,type,building,floor\n"
            "S-1,实验室喷淋,实验楼B,panel,实验楼B,3F\n"
            "S-2,实验室配电,实验楼B,panel,另一栋,9F\n"
            "S-3,一楼配电,教学楼A,panel,不用,5F\n").encode()
    assert run_import(app, campus, "points.csv", data).created == 3
    with app.app_context():
        areas = {a.name: (a.building, a.floor) for a in db.session.scalars(select(Area))}
    assert areas["实验楼B"] == ("实验楼B", "3F")
    assert areas["教学楼A"] == ("教学楼A", "1F")  # an existing area is left as it is


@pytest.mark.parametrize("rows,line,reason", [
    ("X-1,,教学楼A,extinguisher,,,\n", 2, "“name” is empty; it is required."),
    ("X-1,灭火器,,extinguisher,,,\n", 2, "“area” is empty; it is required."),
    ("X-1,灭火器,教学楼A,,,,\n", 2, "“type” is empty; it is required."),
    (",灭火器,教学楼A,extinguisher,,,\n", 2, "“code” is empty; it is required."),
    ("X-1,灭火器,教学楼A,fire_engine,,,\n", 2, "Unknown point type “fire_engine”."),
    ("X-1,灭火器,教学楼A,extinguisher,,hourly,\n", 2, "Unknown cadence “hourly”: use daily, weekly or monthly."),
    ("X-1,灭火器,教学楼A,extinguisher,,,0\n", 2, "“per_period” must be at least 1, not 0."),
    ("X-1,灭火器,教学楼A,extinguisher,,,-2\n", 2, "“per_period” must be at least 1, not -2."),
    ("X-1,灭火器,教学楼A,extinguisher,,,1.5\n", 2, "“per_period” must be a whole number, not “1.5”."),
    ("X-1,灭火器,教学楼A,extinguisher,,,1000\n", 2, "“per_period” must be at most 100."),
    ("X-1," + "长" * 201 + ",教学楼A,extinguisher,,,\n", 2, "“name” is too long: at most 200 characters."),
    ("X-" + "9" * 60 + ",灭火器,教学楼A,extinguisher,,,\n", 2, "“code” is too long: at most 50 characters."),
    ("X-1,灭火器,教学楼A,extinguisher,,,\nX-2,灭火器,教学楼A,extinguisher,,,\nX-1,又一个,食堂,exit,,,\n", 4,
     "Code “X-1” is also on line 2."),
    ('X-1,灭火器,教学楼A,extinguisher,"楼梯口\n左边",,\n\nX-2,灭火器,教学楼A,lamp,,,\n', 5,
     "Unknown point type “lamp”."),
])
def test_every_bad_row_is_reported_and_nothing_imported(app, campus, rows, line, reason):
    before = snapshot(app)
    good = "OK-1,好的一行,新区域,extinguisher,,,\n"
    result = run_import(app, campus, "points.csv", (HEADER + rows + good).encode())
    assert (line, reason) in result.errors
    assert (result.created, result.updated) == (0, 0)
    assert snapshot(app) == before


def test_all_problems_of_a_file_are_listed_at_once(app, campus):
    data = (HEADER +
            "X-1,,教学楼A,rocket,,yearly,0\n"
            "X-2,好,教学楼A,exit,,,\n"
            "P-HYDRANT,消火栓,食堂,hydrant,,monthly,x\n").encode()
    result = run_import(app, campus, "points.csv", data)
    assert result.errors == [
        (2, "“name” is empty; it is required."),
        (2, "Unknown point type “rocket”."),
        (2, "Unknown cadence “yearly”: use daily, weekly or monthly."),
        (2, "“per_period” must be at least 1, not 0."),
        (4, "“per_period” must be a whole number, not “x”."),
    ]


@pytest.mark.parametrize("filename,data,line,reason", [
    ("points.csv", b"", 0, "The file is empty."),
    ("points.csv", b"\xef\xbb\xbf\r\n , \r\n", 0, "The file is empty."),
    ("points.csv", HEADER.encode(), 1, "The file has a header but no points below it."),
    ("points.xls", b"\xd0\xcf\x11\xe0 old excel", 0, "Only .csv and .xlsx files can be imported."),
    ("points.txt", HEADER.encode() + b"X,a,b,exit,,,\n", 0, "Only .csv and .xlsx files can be imported."),
    ("points.xlsx", b"PK\x03\x04 not really a workbook", 0,
     "This file cannot be read as an Excel workbook (.xlsx)."),
    ("points.csv", b"code,name,area,type\nX,\xff\xfe\xff,b,exit\n", 0,
     "The file is not text in UTF-8 or GB18030; save it again as CSV (UTF-8)."),
    ("points.csv", b"code,name,location\nX,a,b\n", 1, "Missing column “area / 区域”."),
    ("points.csv", b"code,name,area,type,Code\nX,a,b,exit,Y\n", 1, "Column “Code” appears twice."),
])
def test_files_that_cannot_be_imported(app, campus, filename, data, line, reason):
    before = snapshot(app)
    result = run_import(app, campus, filename, data)
    assert (line, reason) in result.errors
    assert snapshot(app) == before


def test_chinese_headers_in_gb18030_as_excel_saves_them(app, campus):
    text = ("编号,名称,区域,类型,位置,周期,次数\r\n"
            "G-1,二楼消火栓,教学楼A,消火栓,二楼走廊,月,1\r\n"
            "G-2,三楼出口,教学楼A,安全出口,三楼西侧,日,2\r\n")
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = run_import(app, campus, "点位.csv", data)
    assert (result.created, result.errors) == (2, [])
    points = points_by_code(app)
    assert points["G-1"] == ("二楼消火栓", "教学楼A", "hydrant", "二楼走廊", "monthly", 1, True)
    assert points["G-2"] == ("三楼出口", "教学楼A", "exit", "三楼西侧", "daily", 2, True)


def test_utf8_with_bom_mixed_case_headers_and_semicolons(app, campus):
    data = "\ufeffCode;Name;AREA;Type;Per Period\nM-1;配电箱;食堂;Electrical panel;2\n".encode("utf-8")
    result = run_import(app, campus, "points.csv", data)
    assert (result.created, result.errors) == (1, [])
    assert points_by_code(app)["M-1"] == ("配电箱", "食堂", "panel", "", "monthly", 2, True)


def workbook_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.create_sheet("ignored").append(["code", "name", "area", "type"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_first_sheet_with_numbers_as_cells(app, campus):
    data = workbook_bytes([
        ["编号", "名称", "区域", "类型", "位置", "周期", "次数"],
        [101, "一号灭火器", "教学楼A", "extinguisher", "一楼", None, None],
        [None, None, None, None, None, None, None],
        ["102", "二号门岗", "南门", "gate", "南门", "daily", 2.0],
    ])
    result = run_import(app, campus, "点位.xlsx", data)
    assert (result.created, result.updated, result.errors) == (2, 0, [])
    points = points_by_code(app)
    assert points["101"] == ("一号灭火器", "教学楼A", "extinguisher", "一楼", "monthly", 1, True)
    assert points["102"] == ("二号门岗", "南门", "gate", "南门", "daily", 2, True)


def test_xlsx_errors_carry_excel_row_numbers(app, campus):
    data = workbook_bytes([
        ["code", "name", "area", "type", "per_period"],
        ["X-1", "甲", "教学楼A", "extinguisher", 1],
        [],
        ["X-2", "乙", "教学楼A", "extinguisher", -1],
    ])
    before = snapshot(app)
    result = run_import(app, campus, "points.xlsx", data)
    assert result.errors == [(4, "“per_period” must be at least 1, not -1.")]
    assert snapshot(app) == before


def test_export_then_import_round_trips(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Campus, Point
    from patrol.point_import import export_points_csv, import_points
    from patrol.points import retire_point

    with app.app_context():
        retire_point(db.session.scalar(select(Point).where(Point.code == "P-DORM")))
        db.session.commit()
    with app.test_request_context():
        exported = export_points_csv(db.session.get(Campus, campus["campus_id"]))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert list(rows[0]) == ["code", "name", "area", "type", "location", "cadence", "per_period", "active", "scan_url"]
    assert len(rows) == 9
    tokens = {code: p.token for code, p in _points(app).items()}
    assert {r["code"]: r["scan_url"] for r in rows} == {c: f"http://patrol.test/p/{t}" for c, t in tokens.items()}
    assert {r["code"]: r["active"] for r in rows}["P-DORM"] == "no"

    before = snapshot(app)
    result = run_import(app, campus, "points.csv", exported.encode("utf-8-sig"))
    assert (result.created, result.updated, result.errors) == (0, 9, [])
    assert snapshot(app) == before

    with app.test_request_context(), force_locale("en"):
        fresh = Campus(name="分校")
        db.session.add(fresh)
        db.session.commit()
        copied = import_points(fresh, "points.csv", exported.encode())
        assert (copied.created, copied.errors) == (9, [])
        again = list(csv.DictReader(io.StringIO(export_points_csv(fresh))))
    strip = [{k: v for k, v in r.items() if k != "scan_url"} for r in rows]
    assert [{k: v for k, v in r.items() if k != "scan_url"} for r in again] == strip


def _points(app):
    from patrol.extensions import db
    from patrol.models import Point

    with app.app_context():
        found = {p.code: p for p in db.session.scalars(select(Point))}
        db.session.expunge_all()
        return found


def test_active_column_retires_and_reactivates(app, campus):
    data = "code,name,area,type,active\nP-EXIT,出口,教学楼A,exit,no\nP-GATE,门,食堂,gate,\n".encode()
    assert run_import(app, campus, "points.csv", data).errors == []
    points = points_by_code(app)
    assert points["P-EXIT"][-1] is False and points["P-GATE"][-1] is True
    data = "code,name,area,type,active\nP-EXIT,出口,教学楼A,exit,是\n".encode()
    assert run_import(app, campus, "points.csv", data).errors == []
    assert points_by_code(app)["P-EXIT"][-1] is True
    bad = run_import(app, campus, "points.csv", "code,name,area,type,启用\nP-EXIT,出口,教学楼A,exit,maybe\n".encode())
    assert bad.errors == [(2, "“启用” must be yes or no, not “maybe”.")]


def test_cli_import_and_export(app, campus, tmp_path):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"  # a command has no user: it speaks the default language
    runner = app.test_cli_runner()
    good = tmp_path / "points.csv"
    good.write_bytes((HEADER + "CLI-1,命令行导入,教学楼A,exit,,,\nP-EXIT,出口改名,教学楼A,exit,,,\n").encode("gb18030"))
    result = runner.invoke(args=["points", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported: 1 new, 1 updated." in result.output
    assert points_by_code(app)["P-EXIT"][0] == "出口改名"

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "CLI-2,坏行,教学楼A,spaceship,,,\n", encoding="utf-8")
    before = snapshot(app)
    result = runner.invoke(args=["points", "import", str(bad)])
    assert result.exit_code == 1
    assert "line 2: Unknown point type “spaceship”." in result.output
    assert "nothing was imported" in result.output
    assert snapshot(app) == before

    out = tmp_path / "export.csv"
    result = runner.invoke(args=["points", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    codes = [row["code"] for row in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))]
    assert "CLI-1" in codes and len(codes) == 10


def login(auth, client):
    auth.login("admin")
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": csrf_from(client.get("/"))})


def upload(client, filename, data):
    token = csrf_from(client.get("/admin/points/import"))
    return client.post("/admin/points/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_import_page_reports_counts(app, campus, client, auth):
    login(auth, client)
    data = (HEADER + "W-1,网页导入,教学楼A,exit,,,\nP-EXIT,出口,教学楼A,exit,,,\n").encode()
    response = upload(client, "points.csv", data)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Import done: 1 created, 1 updated." in page
    assert "W-1" in page


def test_import_page_lists_bad_rows_and_imports_nothing(app, campus, client, auth):
    login(auth, client)
    before = snapshot(app)
    data = (HEADER + "W-1,网页导入,教学楼A,exit,,,\nW-2,,教学楼A,exit,,,\nW-3,名,教学楼A,exit,,,0\n").encode()
    response = upload(client, "points.csv", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert "<tr><td>3</td><td>“name” is empty; it is required.</td></tr>" in html
    assert "<tr><td>4</td><td>“per_period” must be at least 1, not 0.</td></tr>" in html
    assert snapshot(app) == before

    missing = client.post("/admin/points/import", data={"csrf_token": csrf_from(client.get("/admin/points/import"))},
                          content_type="multipart/form-data")
    assert missing.status_code == 422 and 'id="file-error">Choose a file to import.<' in missing.get_data(as_text=True)
    wrong = upload(client, "points.pdf", b"%PDF-1.4")
    assert wrong.status_code == 422
    assert "<tr><td>File</td><td>Only .csv and .xlsx files can be imported.</td></tr>" in wrong.get_data(as_text=True)


def test_export_download(app, campus, client, auth):
    login(auth, client)
    response = client.get("/admin/points/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=points.csv"
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 9 and all(r["scan_url"].startswith("http://patrol.test/p/") for r in rows)
