"""Several campuses on one server: everyone sees only the campuses they belong to, and moves between their own.

Two campuses: 示范中学 (the `campus` fixture, with a user per role) and 北校区 (its own guard, officer and
admin). A district viewer, a roaming guard and a district admin belong to both.
"""
from __future__ import annotations

import io
import re
import uuid

import pytest
from helpers import FAST_HASH, PASSWORD, Auth, bearer, csrf_from, jpeg_bytes, point
from openpyxl import load_workbook
from sqlalchemy import select


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def north(app, campus):
    """The second campus, its people, and the people of both; a hazard with a photo in each campus."""
    from patrol.extensions import db
    from patrol.models import Area, Campus, Point, PointType, User

    with app.app_context():
        south = db.session.get(Campus, campus["campus_id"])
        school = Campus(name="北校区", timezone="Asia/Shanghai")
        db.session.add(school)
        db.session.flush()
        area = Area(campus_id=school.id, name="北楼", building="北楼", responsible="赵老师")
        db.session.add(area)
        db.session.flush()
        exit_type = db.session.scalar(select(PointType).where(PointType.key == "exit"))
        db.session.add(Point(campus_id=school.id, area_id=area.id, point_type_id=exit_type.id, code="N-EXIT",
                             name="北楼安全出口", location="北楼一层", cadence=exit_type.cadence,
                             per_period=exit_type.per_period))
        people = {"nguard": ("guard", [school]), "nofficer": ("officer", [school]), "nadmin": ("admin", [school]),
                  "district": ("viewer", [south, school]), "roamer": ("guard", [south, school]),
                  "dadmin": ("admin", [south, school]), "fixer": ("repairer", [south, school])}
        for username, (role, where) in people.items():
            user = User(username=username, name=username, role=role, campus_id=where[0].id, locale="en",
                        password_hash=FAST_HASH)
            user.campuses = list(where)
            db.session.add(user)
        db.session.commit()
        ids = {"south": south.id, "north": school.id}
    ids["south_hazard"], ids["south_photo"] = fail_exit(app, "guard", "P-EXIT", "南楼出口堆放杂物")
    ids["north_hazard"], ids["north_photo"] = fail_exit(app, "nguard", "N-EXIT", "北楼出口堆放杂物")
    return ids


def fail_exit(app, username: str, code: str, note: str) -> tuple[int, int]:
    """The guard scans the exit, fails 'unblocked' with a photo; the hazard's id and its photo's id."""
    from patrol.extensions import db
    from patrol.models import Hazard, Photo

    client = app.test_client()
    Auth(client).login(username)
    token = point(app, code).token
    page = client.get(f"/p/{token}")
    assert page.status_code == 200, text(page)
    html = text(page)
    keys = dict.fromkeys(re.findall(r'name="result-([a-z_]+)"', html))
    data = {"csrf_token": csrf_from(page), "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html)[1],
            **{f"result-{k}": "pass" for k in keys}, "result-unblocked": "fail", "note-unblocked": note,
            "photo-unblocked": (io.BytesIO(jpeg_bytes()), "photo.jpg")}
    assert client.post(f"/p/{token}", data=data, content_type="multipart/form-data").status_code == 201
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.description.contains(note)))
        photo = db.session.scalar(select(Photo.id).where(Photo.hazard_id == hazard.id))
        return hazard.id, photo


def logged_in(app, username: str):
    client = app.test_client()
    response = Auth(client).login(username)
    assert response.status_code == 302, username
    return client


def working_in(app, username: str) -> int:
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        return db.session.scalar(select(User.campus_id).where(User.username == username))


def campus_names_of(app, username: str) -> list[str]:
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        return [c.name for c in db.session.scalar(select(User).where(User.username == username)).campuses]


def fetched(client, url) -> int:
    """The status of a GET, its body read and the file it streams closed."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response.status_code


def post(client, url, data, page="/"):
    return client.post(url, data={**data, "csrf_token": csrf_from(client.get(page))})


def test_each_campus_sees_only_its_own_lists(app, north):
    south_officer, north_officer = logged_in(app, "officer"), logged_in(app, "nofficer")
    for url, south_sign, north_sign in (("/hazards", "南楼出口", "北楼出口"), ("/hazards?status=all", "南楼出口", "北楼出口"),
                                        ("/checks", "P-EXIT", "N-EXIT")):
        south_page, north_page = text(south_officer.get(url)), text(north_officer.get(url))
        assert (south_sign in south_page) and (north_sign not in south_page), url
        assert (north_sign in north_page) and (south_sign not in north_page), url
    south_admin, north_admin = logged_in(app, "admin"), logged_in(app, "nadmin")
    assert "P-EXIT" in text(south_admin.get("/admin/points")) and "N-EXIT" not in text(south_admin.get("/admin/points"))
    assert "N-EXIT" in text(north_admin.get("/admin/points")) and "P-EXIT" not in text(north_admin.get("/admin/points"))
    users = text(north_admin.get("/admin/users"))
    assert "nguard" in users and "district" in users and ">officer<" not in users and "/admin/users/1\"" not in users
    south_users = text(south_admin.get("/admin/users"))
    assert "nguard" not in south_users and "district" in south_users and "roamer" in south_users
    # Nobody who belongs to one campus gets a campus switcher.
    assert 'name="campus"' not in text(south_officer.get("/hazards"))


def test_objects_of_a_campus_one_does_not_belong_to_are_not_found(app, north):
    from patrol.extensions import db
    from patrol.models import Hazard, Point, User

    with app.app_context():
        north_point = db.session.scalar(select(Point).where(Point.code == "N-EXIT"))
        nguard = db.session.scalar(select(User.id).where(User.username == "nguard"))
        token, north_point_id = north_point.token, north_point.id
    officer = logged_in(app, "officer")
    assert officer.get(f"/hazards/{north['north_hazard']}").status_code == 404
    assert fetched(officer, f"/photos/{north['north_photo']}") == 404
    assert fetched(officer, f"/photos/{north['south_photo']}") == 200
    refused = post(officer, f"/hazards/{north['north_hazard']}/actions/dismiss", {"note": "不是我们的"})
    assert refused.status_code == 404
    with app.app_context():
        assert db.session.get(Hazard, north["north_hazard"]).status == "reported"
    guard = logged_in(app, "guard")
    assert guard.get(f"/p/{token}").status_code == 404
    typed = guard.get("/go?code=N-EXIT", follow_redirects=True)  # a code typed in is of one's own campus
    assert "N-EXIT" in text(typed) and "北楼安全出口" not in text(typed)
    admin = logged_in(app, "admin")
    assert admin.get(f"/admin/points/{north_point_id}").status_code == 404
    assert admin.get(f"/admin/users/{nguard}").status_code == 404
    assert post(admin, f"/admin/users/{nguard}/password", {"password": "another-pass-123",
                                                           "confirm": "another-pass-123"}).status_code == 404
    assert working_in(app, "officer") == north["south"]


def test_the_api_answers_for_the_campus_one_works_in_or_names(app, north, tokens):
    runner = app.test_cli_runner()
    made = {name: runner.invoke(args=["token", "create", name]).output.strip() for name in ("nguard", "district")}
    codes = [p["code"] for p in app.test_client().get("/api/v1/points", headers=bearer(tokens["guard"])).json["points"]]
    assert "P-EXIT" in codes and "N-EXIT" not in codes
    north_codes = app.test_client().get("/api/v1/points", headers=bearer(made["nguard"])).json["points"]
    assert [p["code"] for p in north_codes] == ["N-EXIT"]
    client = app.test_client()
    assert client.get(f"/api/v1/hazards/{north['north_hazard']}", headers=bearer(tokens["officer"])).status_code == 404
    assert client.get(f"/api/v1/hazards/{north['south_hazard']}", headers=bearer(tokens["officer"])).status_code == 200
    listed = client.get("/api/v1/hazards", headers=bearer(tokens["officer"])).json["hazards"]
    assert [h["id"] for h in listed] == [north["south_hazard"]]
    # Someone of both campuses: their current campus by default, another of theirs by ?campus=ID, never a stranger's.
    both = bearer(made["district"])
    assert [h["id"] for h in client.get("/api/v1/hazards", headers=both).json["hazards"]] == [north["south_hazard"]]
    there = client.get(f"/api/v1/hazards?campus={north['north']}", headers=both).json["hazards"]
    assert [h["id"] for h in there] == [north["north_hazard"]]
    assert client.get(f"/api/v1/hazards/{north['north_hazard']}", headers=both).status_code == 200
    report = client.get(f"/api/v1/reports/monthly?month=2026-03&campus={north['north']}", headers=both).json
    assert report["school"]["name"] == "北校区"
    stranger = client.get(f"/api/v1/points?campus={north['north']}", headers=bearer(tokens["guard"]))
    assert stranger.status_code == 404 and "不属于该校区" in stranger.json["error"]
    assert client.get("/api/v1/points?campus=999", headers=both).status_code == 404


def test_a_check_posted_through_the_api_for_another_campus_lands_there(app, north):
    from patrol.extensions import db
    from patrol.models import Check, Point

    token = app.test_cli_runner().invoke(args=["token", "create", "roamer"]).output.strip()
    body = {"client_uuid": str(uuid.uuid4()), "point": "N-EXIT", "observed_at": "2026-03-02T07:30:00+08:00",
            "results": [{"item": "unblocked", "result": "pass"}, {"item": "signs_lights", "result": "pass"},
                        {"item": "fire_doors", "result": "pass"}]}
    client = app.test_client()
    here = client.post("/api/v1/checks", json=body, headers=bearer(token))
    assert here.status_code == 422 and "point" in here.json["fields"]  # N-EXIT is no code of 示范中学
    there = client.post(f"/api/v1/checks?campus={north['north']}", json=body, headers=bearer(token))
    assert there.status_code == 201, there.json
    with app.app_context():
        stored = db.session.scalar(select(Check).where(Check.client_uuid == body["client_uuid"]))
        assert db.session.get(Point, stored.point_id).campus_id == north["north"]


def test_a_member_of_two_campuses_switches_between_them(app, north):
    client = logged_in(app, "district")
    page = text(client.get("/hazards"))
    assert "南楼出口" in page and "北楼出口" not in page
    assert 'action="/campuses/enter"' in page and "北校区" in page  # the switcher in the header
    moved = post(client, "/campuses/enter", {"campus": north["north"], "next": "/hazards"}, page="/hazards")
    assert moved.status_code == 303 and moved.headers["Location"].endswith("/hazards")
    page = text(client.get(moved.headers["Location"]))
    assert "北楼出口" in page and "南楼出口" not in page and "You are now working in 北校区." in page
    assert working_in(app, "district") == north["north"]
    # From one hazard of the old campus, back to the start page rather than to a page of the other campus.
    back = post(client, "/campuses/enter", {"campus": north["south"], "next": f"/hazards/{north['north_hazard']}"})
    assert back.status_code == 303 and back.headers["Location"].endswith("/")
    # Filters name the old campus's areas: dropped.
    back = post(client, "/campuses/enter", {"campus": north["north"], "next": "/hazards?area=3"})
    assert back.headers["Location"].endswith("/hazards")
    offsite = post(client, "/campuses/enter", {"campus": north["south"], "next": "https://evil.example/"})
    assert offsite.headers["Location"].endswith("/") and "evil" not in offsite.headers["Location"]
    assert working_in(app, "district") == north["south"]


def test_nobody_enters_a_campus_they_do_not_belong_to(app, north):
    client = logged_in(app, "officer")
    assert post(client, "/campuses/enter", {"campus": north["north"], "next": "/hazards"}).status_code == 404
    assert post(client, "/campuses/enter", {"campus": "x", "next": "/"}).status_code == 404
    assert working_in(app, "officer") == north["south"]
    listed = text(client.get("/campuses"))
    assert "示范中学" in listed and "北校区" not in listed


def test_opening_a_hazard_of_ones_other_campus_moves_one_there(app, north):
    client = logged_in(app, "district")
    detail = client.get(f"/hazards/{north['north_hazard']}")
    assert detail.status_code == 200 and "北楼出口堆放杂物" in text(detail)
    assert working_in(app, "district") == north["north"]
    assert fetched(client, f"/photos/{north['north_photo']}") == 200
    assert fetched(client, f"/photos/{north['south_photo']}") == 200  # still theirs, wherever they work
    page = text(client.get("/campuses"))
    assert len(re.findall(r'<tr id="campus-\d+"', page)) == 2 and page.count("Working here") == 1


def test_a_roaming_guard_scans_a_label_of_their_other_campus(app, north):
    from patrol.extensions import db
    from patrol.models import Check, Point

    client = logged_in(app, "roamer")
    token = point(app, "N-EXIT").token
    page = client.get(f"/p/{token}")
    assert page.status_code == 200 and "北楼安全出口" in text(page)
    assert working_in(app, "roamer") == north["north"]
    html = text(page)
    form = {"csrf_token": csrf_from(page), "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html)[1],
            **{f"result-{k}": "pass" for k in dict.fromkeys(re.findall(r'name="result-([a-z_]+)"', html))}}
    # Meanwhile they switched back (another tab); the queued form still reaches the north campus, exactly once.
    post(client, "/campuses/enter", {"campus": north["south"], "next": "/"})
    assert client.post(f"/p/{token}", data=form).status_code == 201
    assert client.post(f"/p/{token}", data=form).status_code == 200  # the replay is the same check
    with app.app_context():
        stored = db.session.scalars(select(Check).where(Check.client_uuid == form["client_uuid"])).all()
        assert len(stored) == 1 and db.session.get(Point, stored[0].point_id).campus_id == north["north"]
    assert working_in(app, "roamer") == north["south"]


def test_an_adhoc_report_goes_to_the_campus_the_form_was_opened_in(app, north):
    from patrol.extensions import db
    from patrol.models import Hazard

    client = logged_in(app, "roamer")
    post(client, "/campuses/enter", {"campus": north["north"], "next": "/"})
    page = client.get("/report")
    html = text(page)
    assert f'name="campus" value="{north["north"]}"' in html
    data = {"csrf_token": csrf_from(page), "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html)[1],
            "campus": str(north["north"]), "point": "", "location": "北楼操场", "category": "facilities",
            "description": "北楼篮球架松动"}
    post(client, "/campuses/enter", {"campus": north["south"], "next": "/"})
    assert client.post("/report", data=data).status_code == 201
    # A campus the user does not belong to is not taken from the form: the report stays in theirs.
    guard = logged_in(app, "guard")
    page = guard.get("/report")
    html = text(page)
    sneaky = {"csrf_token": csrf_from(page), "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html)[1],
              "campus": str(north["north"]), "point": "", "location": "南楼操场", "category": "facilities",
              "description": "南楼篮球架松动"}
    assert guard.post("/report", data=sneaky).status_code == 201
    with app.app_context():
        by_text = dict(db.session.execute(select(Hazard.description, Hazard.campus_id)).all())
    assert by_text["北楼篮球架松动"] == north["north"] and by_text["南楼篮球架松动"] == north["south"]


def test_a_repairer_of_two_campuses_is_told_of_work_waiting_at_the_other(app, north):
    from patrol.extensions import db
    from patrol.models import Hazard, User

    with app.app_context():
        fixer = db.session.scalar(select(User.id).where(User.username == "fixer"))
    officer = logged_in(app, "nofficer")
    page = text(officer.get(f"/hazards/{north['north_hazard']}"))
    assert f'<option value="{fixer}"' in page  # a member of 北校区 too: one of the people to choose
    assigned = post(officer, f"/hazards/{north['north_hazard']}/actions/assign",
                    {"assignee": fixer, "severity": "", "deadline": "", "measures": "设置警示带"})
    assert assigned.status_code == 303
    with app.app_context():
        assert db.session.get(Hazard, north["north_hazard"]).assignee_id == fixer
    client = logged_in(app, "fixer")
    tasks = text(client.get("/tasks"))
    assert "北楼出口堆放杂物" not in tasks and "1 more to fix at 北校区." in tasks
    moved = post(client, "/campuses/enter", {"campus": north["north"], "next": "/tasks"}, page="/tasks")
    tasks = text(client.get(moved.headers["Location"]))
    assert "北楼出口堆放杂物" in tasks and "more to fix at" not in tasks


def test_an_admin_gives_only_campuses_of_their_own(app, north):
    from patrol.extensions import db
    from patrol.models import AuditEntry, User

    with app.app_context():
        guard_id = db.session.scalar(select(User.id).where(User.username == "guard"))
        roamer_id = db.session.scalar(select(User.id).where(User.username == "roamer"))
    south_admin = logged_in(app, "admin")
    page = text(south_admin.get(f"/admin/users/{guard_id}"))
    assert 'name="campuses"' not in page  # one campus of their own: nothing to choose
    roamer_page = text(south_admin.get(f"/admin/users/{roamer_id}"))
    assert "北校区" in roamer_page  # "also belongs to", not a choice
    # Editing the roamer from 示范中学 leaves their 北校区 as it is, even when the form names it.
    saved = post(south_admin, f"/admin/users/{roamer_id}", {"name": "流动保安", "role": "guard", "locale": "zh",
                                                            "active": "y", "campuses": [str(north["south"])]},
                 page=f"/admin/users/{roamer_id}")
    assert saved.status_code in (302, 303)
    assert sorted(campus_names_of(app, "roamer")) == sorted(["北校区", "示范中学"])

    district_admin = logged_in(app, "dadmin")
    page = text(district_admin.get(f"/admin/users/{guard_id}"))
    assert page.count('name="campuses"') == 2
    form = {"name": "Guard 用户", "role": "guard", "locale": "zh", "active": "y",
            "campuses": [str(north["south"]), str(north["north"])]}
    assert post(district_admin, f"/admin/users/{guard_id}", form, page=f"/admin/users/{guard_id}").status_code in (302, 303)
    assert sorted(campus_names_of(app, "guard")) == sorted(["北校区", "示范中学"])
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.campuses")
                                   .order_by(AuditEntry.id.desc())).first()
        assert entry is not None and "北校区" in str(entry.detail)
    # Nobody's campuses can be emptied, and an admin cannot leave the campus they are working in.
    empty = post(district_admin, f"/admin/users/{guard_id}", {**form, "campuses": []}, page=f"/admin/users/{guard_id}")
    assert empty.status_code == 422 and "Choose at least one campus." in text(empty)
    with app.app_context():
        dadmin_id = db.session.scalar(select(User.id).where(User.username == "dadmin"))
    leave = post(district_admin, f"/admin/users/{dadmin_id}", {"name": "dadmin", "role": "admin", "locale": "en",
                                                                "active": "y", "campuses": [str(north["north"])]},
                 page=f"/admin/users/{dadmin_id}")
    assert leave.status_code == 422 and "You cannot leave the campus you are working in" in text(leave)
    assert 'value="dadmin"' in text(leave)  # the input comes back
    assert sorted(campus_names_of(app, "dadmin")) == sorted(["北校区", "示范中学"])


def test_an_admin_creates_a_user_in_several_campuses(app, north):
    client = logged_in(app, "dadmin")
    form = {"username": "wang", "name": "王电工", "role": "repairer", "locale": "zh", "password": PASSWORD,
            "campuses": [str(north["north"]), str(north["south"])]}
    made = post(client, "/admin/users/new", form, page="/admin/users/new")
    assert made.status_code in (302, 303), text(made)
    assert sorted(campus_names_of(app, "wang")) == sorted(["北校区", "示范中学"])
    assert working_in(app, "wang") == north["south"]  # made in 示范中学, where dadmin works
    # A campus id the admin does not belong to is refused, and nothing is made.
    lone = logged_in(app, "admin")
    refused = post(lone, "/admin/users/new", {**form, "username": "li", "campuses": [str(north["north"])]},
                   page="/admin/users/new")
    assert refused.status_code == 422 and 'value="li"' in text(refused)
    with app.app_context():
        from patrol.extensions import db
        from patrol.models import User

        assert db.session.scalar(select(User).where(User.username == "li")) is None
    # Without a campus field (one campus of their own, so none is shown) the user joins the admin's campus.
    del form["campuses"]
    assert post(lone, "/admin/users/new", {**form, "username": "li"}, page="/admin/users/new").status_code in (302, 303)
    assert campus_names_of(app, "li") == ["示范中学"]


def test_an_admin_creates_a_campus_and_works_in_it(app, north):
    from patrol.extensions import db
    from patrol.models import AuditEntry, Campus

    client = logged_in(app, "nadmin")
    bad = post(client, "/admin/campuses/new", {"name": "西校区", "timezone": "Mars/Olympus"},
               page="/admin/campuses/new")
    assert bad.status_code == 422 and 'value="西校区"' in text(bad) and "Mars/Olympus" in text(bad)
    made = post(client, "/admin/campuses/new", {"name": "西校区", "timezone": "Asia/Urumqi"},
                page="/admin/campuses/new")
    assert made.status_code in (302, 303)
    with app.app_context():
        west = db.session.scalar(select(Campus).where(Campus.name == "西校区"))
        assert west.timezone == "Asia/Urumqi"
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.campus_id == west.id)) == "campus.create"
        west_id = west.id
    assert working_in(app, "nadmin") == west_id
    # Names are unique: the roll-up and --campus go by them. Renaming a campus to another's name is refused too.
    twice = post(client, "/admin/campuses/new", {"name": "北校区", "timezone": "Asia/Shanghai"}, page="/admin/campuses/new")
    assert twice.status_code == 422 and "Another campus has this name already." in text(twice)
    settings = {"name": "示范中学", "timezone": "Asia/Urumqi", "deadline_days_general": "7", "deadline_days_major": "3",
                "webhook_url": "", "webhook_format": "generic"}
    renamed = post(client, "/admin/settings", settings, page="/admin/settings")
    assert renamed.status_code == 422 and "Another campus has this name already." in text(renamed)
    assert post(client, "/admin/settings", {**settings, "name": "西校区"}, page="/admin/settings").status_code == 303
    assert sorted(campus_names_of(app, "nadmin")) == sorted(["北校区", "西校区"])
    assert "P-EXIT" not in text(client.get("/admin/points")) and "N-EXIT" not in text(client.get("/admin/points"))
    assert logged_in(app, "officer").get("/admin/campuses/new").status_code == 403


def test_all_my_campuses_side_by_side_on_the_page_and_in_the_spreadsheet(app, north):
    client = logged_in(app, "district")
    page = client.get("/district/campuses?month=2026-03")
    html = text(page)
    assert page.status_code == 200 and "北校区" in html and "示范中学" in html
    sheet = client.get("/district/campuses?month=2026-03&format=xlsx")
    assert sheet.status_code == 200 and sheet.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(sheet.data))
    cells = {str(cell.value) for row in book.worksheets[0].iter_rows() for cell in row if cell.value is not None}
    assert {"北校区", "示范中学"} <= cells
    assert client.get("/district/campuses?month=March").status_code == 422
    lone = text(logged_in(app, "officer").get("/district/campuses?month=2026-03"))
    assert "示范中学" in lone and "北校区" not in lone
    assert logged_in(app, "roamer").get("/district/campuses").status_code == 403


def test_cli_campus_add_list_and_user_campuses(app, north):
    from patrol.extensions import db
    from patrol.models import AuditEntry, Campus

    runner = app.test_cli_runner()
    added = runner.invoke(args=["campus", "add", "东校区", "--timezone", "Asia/Shanghai", "--weekend-rounds"])
    assert added.exit_code == 0 and "东校区" in added.output, added.output
    assert runner.invoke(args=["campus", "add", "东校区"]).exit_code != 0
    assert "Unknown time zone" in runner.invoke(args=["campus", "add", "南校区", "--timezone", "Nowhere"]).output
    listed = runner.invoke(args=["campus", "list"]).output
    lines = {line.split()[1]: line.split() for line in listed.splitlines()[1:]}
    assert set(lines) == {"示范中学", "北校区", "东校区"} and lines["东校区"][3:] == ["0", "0"]
    with app.app_context():
        east = db.session.scalar(select(Campus).where(Campus.name == "东校区"))
        assert east.weekend_rounds and db.session.scalar(
            select(AuditEntry.action).where(AuditEntry.campus_id == east.id)) == "campus.create"

    made = runner.invoke(args=["user", "add", "zhao", "--role", "viewer", "--password", "s3cret-pass",
                               "--campus", "东校区", "--campus", str(north["north"])])
    assert made.exit_code == 0, made.output
    assert sorted(campus_names_of(app, "zhao")) == sorted(["东校区", "北校区"])
    with app.app_context():
        assert working_in(app, "zhao") == db.session.scalar(select(Campus.id).where(Campus.name == "东校区"))
    # With several campuses, a command that needs one says so instead of picking one.
    ambiguous = runner.invoke(args=["user", "add", "qian", "--role", "guard", "--password", "s3cret-pass"])
    assert ambiguous.exit_code != 0 and "--campus" in ambiguous.output
    assert "--campus" in runner.invoke(args=["points", "export"]).output
    exported = runner.invoke(args=["points", "export", "--campus", "北校区"])
    assert exported.exit_code == 0 and "N-EXIT" in exported.output and "P-EXIT" not in exported.output
    assert "No campus 'nowhere'" in runner.invoke(args=["points", "export", "--campus", "nowhere"]).output

    changed = runner.invoke(args=["user", "campuses", "zhao", "--add", "示范中学", "--remove", "东校区"])
    assert changed.exit_code == 0, changed.output
    assert sorted(campus_names_of(app, "zhao")) == sorted(["北校区", "示范中学"])
    assert "(working here)" in changed.output  # moved off the campus they left
    assert working_in(app, "zhao") != east.id
    emptied = runner.invoke(args=["user", "campuses", "zhao", "--remove", "北校区", "--remove", "示范中学"])
    assert emptied.exit_code != 0 and "at least one campus" in emptied.output
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "user.campuses")) is not None


def test_migration_0009_keeps_everyone_in_the_campus_they_had(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text as sql

    from patrol.database import alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = alembic_config(url)
    command.upgrade(config, "0008")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sql("INSERT INTO campus (id, name, timezone, weekend_rounds) VALUES (1, '甲', 'Asia/Shanghai', 0),"
                         " (2, '乙', 'Asia/Shanghai', 0)"))
        for n, campus_id in enumerate((1, 2, 2)):
            conn.execute(sql("INSERT INTO app_user (username, name, role, campus_id, password_hash, active, locale,"
                             " session_epoch, created_at) VALUES (:u, '', 'guard', :c, 'x', 1, 'zh', 0, '2026-01-01 00:00:00')"),
                         {"u": f"u{n}", "c": campus_id})
    command.upgrade(config, "head")
    with engine.connect() as conn:
        rows = conn.execute(sql("SELECT u.username, m.campus_id FROM user_campus m JOIN app_user u ON u.id = m.user_id"
                                " ORDER BY u.username")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("u0", 1), ("u1", 2), ("u2", 2)]
