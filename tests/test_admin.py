"""Admin pages through real HTTP: areas, points, checklist templates, users, roles and campus scoping."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from helpers import PASSWORD, csrf_from, point

ADMIN_GETS = [
    "/admin/", "/admin/areas", "/admin/areas/new", "/admin/areas/{area}", "/admin/points",
    "/admin/points/new", "/admin/points/{point}", "/admin/points/import", "/admin/points/export.csv",
    "/admin/types", "/admin/types/new", "/admin/types/{type}", "/admin/types/{type}/items/{item}",
    "/admin/users", "/admin/users/new", "/admin/users/{user}",
]
ADMIN_POSTS = [
    "/admin/areas/new", "/admin/areas/{area}", "/admin/points/new", "/admin/points/{point}",
    "/admin/points/{point}/retire", "/admin/points/{point}/reactivate", "/admin/points/{point}/token",
    "/admin/points/import", "/admin/types/new", "/admin/types/{type}", "/admin/types/{type}/items",
    "/admin/types/{type}/items/{item}", "/admin/types/{type}/items/{item}/deactivate",
    "/admin/types/{type}/items/{item}/activate", "/admin/users/new", "/admin/users/{user}",
    "/admin/users/{user}/password",
]
LABEL_URLS = ["/admin/labels", "/admin/labels?size=small", "/admin/labels.pdf?size=small"]


def login(auth, client, role="admin"):
    """Log in and switch to English, so the assertions read the msgids whatever catalogues exist."""
    auth.login(role)
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": csrf_from(client.get("/"))})


def post(client, url, data=None, form_page=None, **kwargs):
    """POST with the session's CSRF token, read from form_page (default: the start page)."""
    token = csrf_from(client.get(form_page or "/"))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


def ids(app, campus):
    from patrol.extensions import db
    from patrol.models import ChecklistItem, Point, PointType, User

    with app.app_context():
        extinguisher = db.session.scalar(select(PointType).where(PointType.key == "extinguisher"))
        return {
            "area": campus["areas"]["A"],
            "point": db.session.scalar(select(Point.id).where(Point.code == "P-EXTINGUISHER")),
            "type": extinguisher.id,
            "item": db.session.scalar(select(ChecklistItem.id).where(
                ChecklistItem.point_type_id == extinguisher.id, ChecklistItem.key == "pressure")),
            "user": db.session.scalar(select(User.id).where(User.username == "guard")),
        }


def query(app, stmt):
    from patrol.extensions import db

    with app.app_context():
        return db.session.execute(stmt).all()


def text(response) -> str:
    return response.get_data(as_text=True)


def field_error(html: str, field_id: str) -> str:
    """The error text rendered next to a field (the forms macro gives it the id <field>-error)."""
    match = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    assert match, f"no error next to {field_id}"
    return match.group(1)


def input_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name} with a value"
    return match.group(1)


def test_index_links_every_admin_page(app, campus, client, auth):
    login(auth, client)
    html = text(client.get("/admin/"))
    for url in ("/admin/areas", "/admin/points", "/admin/points/import", "/admin/points/export.csv",
                "/admin/types", "/admin/users", "/admin/labels", "/admin/points?status=retired"):
        assert f'href="{url}"' in html
    assert "<strong>9</strong> Active points" in html


@pytest.mark.parametrize("role", ["guard", "repairer", "officer", "viewer"])
def test_only_admins_reach_admin_pages(app, campus, client, auth, role):
    from patrol.models import Point

    values = ids(app, campus)
    login(auth, client, role)
    for url in ADMIN_GETS:
        assert client.get(url.format(**values)).status_code == 403, url
    token = csrf_from(client.get("/"))
    for url in ADMIN_POSTS:
        response = client.post(url.format(**values), data={"csrf_token": token, "name": "x", "role": "admin"})
        assert response.status_code == 403, url
    for url in LABEL_URLS:
        assert client.get(url).status_code == (200 if role == "officer" else 403), url
    assert point(app, "P-EXTINGUISHER").active
    assert query(app, select(func.count()).select_from(Point))[0][0] == 9


def test_anonymous_users_are_sent_to_log_in(app, campus, client):
    values = ids(app, campus)
    for url in [*ADMIN_GETS, *LABEL_URLS]:
        response = client.get(url.format(**values))
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_create_and_edit_an_area(app, campus, client, auth):
    from patrol.models import Area

    login(auth, client)
    response = post(client, "/admin/areas/new", {"name": "实验楼B", "building": "实验楼B", "floor": "3F",
                                                 "zone": "北区", "responsible": "赵老师"}, "/admin/areas/new")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/areas")
    page = text(client.get("/admin/areas"))
    assert "实验楼B" in page and "赵老师" in page
    [(area,)] = query(app, select(Area).where(Area.name == "实验楼B"))
    assert (area.campus_id, area.floor, area.zone) == (campus["campus_id"], "3F", "北区")

    response = post(client, f"/admin/areas/{area.id}", {"name": "实验楼B", "building": "实验楼B", "floor": "4F",
                                                       "zone": "北区", "responsible": ""})
    assert response.status_code == 303
    [(floor, responsible)] = query(app, select(Area.floor, Area.responsible).where(Area.id == area.id))
    assert (floor, responsible) == ("4F", "")


def test_invalid_area_comes_back_with_input_and_error(app, campus, client, auth):
    from patrol.models import Area

    login(auth, client)
    data = {"name": "食堂", "building": "新食堂", "responsible": "周师傅"}
    response = post(client, "/admin/areas/new", data)
    assert response.status_code == 422
    html = text(response)
    assert field_error(html, "name") == "There is already an area with this name."
    assert input_value(html, "building") == "新食堂" and input_value(html, "responsible") == "周师傅"
    response = post(client, "/admin/areas/new", {"name": "  ", "building": "x" * 201},
                    headers={"HX-Request": "true"})
    assert response.status_code == 200  # htmx swaps only 2xx responses
    assert field_error(text(response), "name") and field_error(text(response), "building")
    assert query(app, select(func.count()).select_from(Area))[0][0] == 2


def test_create_point_takes_cadence_from_its_type(app, campus, client, auth):
    from patrol.models import Point

    values = ids(app, campus)
    login(auth, client)
    new = {"code": "A-1F-EXT-09", "name": "一楼灭火器 09", "area_id": str(values["area"]),
           "point_type_id": str(values["type"]), "location": "东侧楼梯口", "cadence": "", "per_period": ""}
    response = post(client, "/admin/points/new", new, "/admin/points/new")
    assert response.status_code == 303
    [(created,)] = query(app, select(Point).where(Point.code == "A-1F-EXT-09"))
    assert (created.cadence, created.per_period, created.active) == ("monthly", 1, True)
    assert response.headers["Location"].endswith(f"/admin/points/{created.id}")
    assert "A-1F-EXT-09" in text(client.get("/admin/points"))
    auth.logout()
    login(auth, client, "guard")
    scanned = client.get(f"/p/{created.token}")
    assert scanned.status_code == 200 and "一楼灭火器 09" in text(scanned)


def test_edit_point_and_explicit_cadence(app, campus, client, auth):
    values = ids(app, campus)
    login(auth, client)
    url = f"/admin/points/{values['point']}"
    assert 'value="P-EXTINGUISHER"' in text(client.get(url))
    response = post(client, url, {"code": "P-EXT-1", "name": "新名字", "area_id": str(campus["areas"]["B"]),
                                  "point_type_id": str(values["type"]), "location": "", "cadence": "weekly",
                                  "per_period": "2"})
    assert response.status_code == 303
    changed = point(app, "P-EXT-1")
    assert (changed.name, changed.area_id, changed.cadence, changed.per_period) == (
        "新名字", campus["areas"]["B"], "weekly", 2)


def test_invalid_point_keeps_input_and_shows_errors(app, campus, client, auth):
    from patrol.models import Point

    values = ids(app, campus)
    login(auth, client)
    data = {"code": "P-HYDRANT", "name": "我的新点位", "area_id": str(values["area"]),
            "point_type_id": str(values["type"]), "location": "三楼", "cadence": "hourly", "per_period": "0"}
    response = post(client, "/admin/points/new", data)
    assert response.status_code == 422
    html = text(response)
    assert field_error(html, "code") == "Another point on this campus has this code."
    assert field_error(html, "cadence") and field_error(html, "per_period")
    assert input_value(html, "code") == "P-HYDRANT" and input_value(html, "name") == "我的新点位"
    assert input_value(html, "location") == "三楼"
    assert re.search(rf'<option selected value="{values["area"]}"|<option value="{values["area"]}" selected', html)
    # An area of another campus is not a choice here.
    other = dict(data, code="NEW-1", cadence="", per_period="", area_id="99999")
    assert post(client, "/admin/points/new", other).status_code == 422
    assert query(app, select(func.count()).select_from(Point))[0][0] == 9


def test_point_list_filters_with_and_without_htmx(app, campus, client, auth):
    login(auth, client)
    page = text(client.get(f"/admin/points?area={campus['areas']['B']}"))
    assert "<html" in page and "P-CANTEEN_GAS" in page and "P-EXTINGUISHER" not in page
    assert 'hx-get="/admin/points"' in page and 'hx-push-url="true"' in page
    partial = client.get("/admin/points?type=classroom", headers={"HX-Request": "true"})
    assert "HX-Request" in partial.headers["Vary"]
    html = text(partial)
    assert "<html" not in html and 'id="point-list"' in html
    assert "P-CLASSROOM" in html and "P-CLASS-2" in html and "P-EXIT" not in html
    found = text(client.get("/admin/points?q=class-2"))
    assert "P-CLASS-2" in found and "P-CLASSROOM" not in found


def test_point_list_paginates(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Point

    base = point(app, "P-EXIT")
    with app.app_context():
        db.session.add_all([Point(campus_id=base.campus_id, area_id=base.area_id, point_type_id=base.point_type_id,
                                  code=f"Z-{n:03d}", name=f"出口 {n}") for n in range(60)])
        db.session.commit()
    login(auth, client)
    first = text(client.get("/admin/points"))
    assert "69 points" in first and "Z-040" in first and "Z-041" not in first
    assert 'href="/admin/points?page=2"' in first
    second = text(client.get("/admin/points?page=2"))
    assert "Z-041" in second and "Z-059" in second and "Page 2 of 2" in second


def test_retire_hides_the_point_until_reactivated(app, campus, client, auth):
    values = ids(app, campus)
    target = point(app, "P-EXTINGUISHER")
    login(auth, client)
    assert client.get(f"/admin/points/{values['point']}/retire").status_code == 405
    assert client.post(f"/admin/points/{values['point']}/retire").status_code == 400  # no CSRF token
    response = post(client, f"/admin/points/{values['point']}/retire")
    assert response.status_code == 303
    retired = point(app, "P-EXTINGUISHER")
    assert not retired.active and retired.retired_at is not None and retired.token == target.token
    row = f'id="point-{values["point"]}"'
    assert row not in text(client.get("/admin/points"))
    assert row in text(client.get("/admin/points?status=retired"))
    assert row in text(client.get("/admin/points?status=all"))
    assert "P-EXTINGUISHER" not in text(client.get("/admin/labels?size=small"))
    assert client.get(f"/p/{target.token}").status_code == 404

    assert post(client, f"/admin/points/{values['point']}/reactivate").status_code == 303
    back = point(app, "P-EXTINGUISHER")
    assert back.active and back.retired_at is None
    assert client.get(f"/p/{target.token}").status_code == 200


def test_new_token_kills_the_old_label(app, campus, client, auth):
    values = ids(app, campus)
    old = point(app, "P-EXTINGUISHER").token
    login(auth, client)
    response = post(client, f"/admin/points/{values['point']}/token")
    assert response.status_code == 303
    new = point(app, "P-EXTINGUISHER").token
    assert new != old and len(new) >= 22
    assert f"/p/{new}" in text(client.get(f"/admin/points/{values['point']}"))
    auth.logout()
    login(auth, client, "guard")
    assert client.get(f"/p/{old}").status_code == 404
    assert client.get(f"/p/{new}").status_code == 200


def test_point_types_and_checklist_items(app, campus, client, auth):
    from patrol.models import ChecklistItem, PointType

    login(auth, client)
    response = post(client, "/admin/types/new", {"key": "eyewash", "name_zh": "洗眼器", "name_en": "Eyewash",
                                                 "cadence": "weekly", "per_period": "1"})
    assert response.status_code == 303
    [(eyewash,)] = query(app, select(PointType).where(PointType.key == "eyewash"))
    assert "Eyewash" in text(client.get("/admin/types"))

    bad = post(client, "/admin/types/new", {"key": "Eye Wash", "name_zh": "洗眼器2", "name_en": "", "cadence": "weekly",
                                            "per_period": "1"})
    assert bad.status_code == 422
    assert field_error(text(bad), "key") == "Use lowercase letters, digits and underscores only."
    assert field_error(text(bad), "name_en") and input_value(text(bad), "name_zh") == "洗眼器2"

    url = f"/admin/types/{eyewash.id}/items"
    item = {"key": "water_flow", "text_zh": "出水正常", "text_en": "Water flows", "category": "facilities",
            "severity": "general", "position": ""}
    assert post(client, url, item).status_code == 303
    assert post(client, url, dict(item, key="clean", text_en="Bowl clean", photo_required="y")).status_code == 303
    duplicate = post(client, url, dict(item, text_zh="重复"))
    assert duplicate.status_code == 422
    html = text(duplicate)
    assert field_error(html, "key") == "This checklist already has an item with this key."
    assert input_value(html, "text_zh") == "重复"
    assert 'value="Eyewash"' in html  # the type's own form is still filled in
    assert field_error(text(post(client, url, dict(item, key="Bad-Key"))), "key")
    rows = query(app, select(ChecklistItem.key, ChecklistItem.position, ChecklistItem.photo_required)
                 .where(ChecklistItem.point_type_id == eyewash.id).order_by(ChecklistItem.position))
    assert [tuple(r) for r in rows] == [("water_flow", 0, False), ("clean", 1, True)]

    assert post(client, f"/admin/types/{eyewash.id}", {"name_zh": "洗眼器", "name_en": "Eye wash station",
                                                        "cadence": "monthly", "per_period": "1"}).status_code == 303
    [(renamed,)] = query(app, select(PointType).where(PointType.id == eyewash.id))
    assert (renamed.key, renamed.name_en, renamed.cadence) == ("eyewash", "Eye wash station", "monthly")


def test_item_key_never_changes_and_removal_deactivates(app, campus, client, auth):
    from patrol.models import ChecklistItem

    values = ids(app, campus)
    token = point(app, "P-EXTINGUISHER").token
    login(auth, client)
    url = f"/admin/types/{values['type']}/items/{values['item']}"
    assert "pressure" in text(client.get(url))
    response = post(client, url, {"key": "renamed", "text_zh": "压力表正常", "text_en": "Gauge in the green",
                                  "category": "fire", "severity": "major", "photo_required": "y", "position": "9"})
    assert response.status_code == 303
    [(item,)] = query(app, select(ChecklistItem).where(ChecklistItem.id == values["item"]))
    assert (item.key, item.text_en, item.position) == ("pressure", "Gauge in the green", 9)

    invalid = post(client, url, {"text_zh": "", "text_en": "Still here", "category": "nonsense", "severity": "major"})
    assert invalid.status_code == 422
    assert field_error(text(invalid), "text_zh") and field_error(text(invalid), "category")
    assert input_value(text(invalid), "text_en") == "Still here"

    assert "Gauge in the green" in text(client.get(f"/p/{token}"))
    assert post(client, f"{url}/deactivate").status_code == 303
    [(item,)] = query(app, select(ChecklistItem).where(ChecklistItem.id == values["item"]))
    assert item.active is False
    assert "Gauge in the green" not in text(client.get(f"/p/{token}"))
    assert "Removed" in text(client.get(f"/admin/types/{values['type']}"))
    assert post(client, f"{url}/activate").status_code == 303
    assert "Gauge in the green" in text(client.get(f"/p/{token}"))


def test_create_user_who_can_then_log_in(app, campus, client, auth):
    from patrol.models import User

    login(auth, client)
    short = post(client, "/admin/users/new", {"username": "zhang.wei", "name": "张伟", "role": "guard",
                                              "locale": "zh", "password": "short"}, "/admin/users/new")
    assert short.status_code == 422
    html = text(short)
    assert "8" in field_error(html, "password")
    assert input_value(html, "username") == "zhang.wei" and input_value(html, "name") == "张伟"
    taken = post(client, "/admin/users/new", {"username": "guard", "role": "guard", "locale": "zh",
                                              "password": "long enough"})
    assert field_error(text(taken), "username") == "This username is taken."

    created = post(client, "/admin/users/new", {"username": "zhang.wei", "name": "张伟", "role": "guard",
                                                "locale": "en", "password": "patrol-2024"})
    assert created.status_code == 303
    assert "zhang.wei" in text(client.get("/admin/users"))
    [(user,)] = query(app, select(User).where(User.username == "zhang.wei"))
    assert (user.campus_id, user.role, user.locale, user.active) == (campus["campus_id"], "guard", "en", True)
    auth.logout()
    assert auth.login("zhang.wei", "patrol-2024").status_code == 302


def test_edit_user_and_reset_password(app, campus, client, auth):
    from patrol.models import User

    values = ids(app, campus)
    login(auth, client)
    url = f"/admin/users/{values['user']}"
    response = post(client, url, {"name": "老王", "role": "repairer", "locale": "en", "active": "y"}, url)
    assert response.status_code == 303
    [(user,)] = query(app, select(User).where(User.id == values["user"]))
    assert (user.name, user.role, user.locale, user.active) == ("老王", "repairer", "en", True)

    weak = post(client, f"{url}/password", {"password": "1234567"})
    assert weak.status_code == 422 and field_error(text(weak), "password")
    assert 'value="老王"' in text(weak)
    assert post(client, f"{url}/password", {"password": "new-secret-1"}).status_code == 303

    assert post(client, url, {"name": "老王", "role": "repairer", "locale": "en"}).status_code == 303  # unticked
    auth.logout()
    assert auth.login("guard", "new-secret-1").status_code == 422  # deactivated
    client.get("/")
    login(auth, client)
    post(client, url, {"name": "老王", "role": "repairer", "locale": "en", "active": "y"})
    auth.logout()
    assert auth.login("guard", PASSWORD).status_code == 422
    assert auth.login("guard", "new-secret-1").status_code == 302


def test_admin_cannot_demote_or_deactivate_themselves(app, campus, client, auth):
    from patrol.models import User

    [(me,)] = query(app, select(User.id).where(User.username == "admin"))
    login(auth, client)
    url = f"/admin/users/{me}"
    response = post(client, url, {"name": "Me", "role": "viewer", "locale": "zh"}, url)
    assert response.status_code == 422
    html = text(response)
    assert field_error(html, "role") == "You cannot take away your own administrator role."
    assert field_error(html, "active") == "You cannot deactivate your own account."
    assert input_value(html, "name") == "Me"
    [(role, active)] = query(app, select(User.role, User.active).where(User.id == me))
    assert (role, active) == ("admin", True)


def test_other_campuses_are_invisible(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Area, Campus, Point, PointType, User

    with app.app_context():
        other = Campus(name="别的学校")
        db.session.add(other)
        db.session.flush()
        area = Area(campus_id=other.id, name="别处")
        db.session.add(area)
        db.session.flush()
        gate = db.session.scalar(select(PointType).where(PointType.key == "gate"))
        elsewhere = Point(campus_id=other.id, area_id=area.id, point_type_id=gate.id, code="OTHER-1", name="别的门")
        stranger = User(username="stranger", role="guard", campus_id=other.id, password_hash="x")
        db.session.add_all([elsewhere, stranger])
        db.session.commit()
        found = {"area": area.id, "point": elsewhere.id, "user": stranger.id}
    login(auth, client)
    for url in ("/admin/areas/{area}", "/admin/points/{point}", "/admin/users/{user}"):
        assert client.get(url.format(**found)).status_code == 404
    assert post(client, f"/admin/points/{found['point']}/retire").status_code == 404
    assert "OTHER-1" not in text(client.get("/admin/points?status=all"))
    assert "stranger" not in text(client.get("/admin/users"))
