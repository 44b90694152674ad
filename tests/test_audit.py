"""The audit log: every admin change through real HTTP or the `patrol` command leaves one entry; the page."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from helpers import PASSWORD, csrf_from

IMPORT_HEADER = "code,name,area,type,location,cadence,per_period\n"


def login(auth, client, role="admin"):
    """Log in and switch to English, so the assertions read the msgids whatever catalogues exist."""
    auth.login(role)
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": csrf_from(client.get("/"))})


def post(client, url, data=None, **kwargs):
    token = csrf_from(client.get("/"))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def entries(app) -> list[dict]:
    """Every entry, oldest first, as plain values."""
    from patrol.extensions import db
    from patrol.models import AuditEntry

    with app.app_context():
        return [{"action": e.action, "actor_id": e.actor_id, "actor_name": e.actor_name, "campus_id": e.campus_id,
                 "target_type": e.target_type, "target_id": e.target_id, "target_label": e.target_label,
                 "detail": json.loads(e.detail), "raw": e.detail, "ip": e.ip, "at": e.at}
                for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def one_new(app, before: int) -> dict:
    """The single entry written since there were `before` entries."""
    found = entries(app)
    assert len(found) == before + 1, [e["action"] for e in found[before:]]
    return found[-1]


def user_id(app, username) -> int:
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def ids(app):
    from patrol.extensions import db
    from patrol.models import ChecklistItem, Point, PointType

    with app.app_context():
        extinguisher = db.session.scalar(select(PointType).where(PointType.key == "extinguisher"))
        return {
            "point": db.session.scalar(select(Point.id).where(Point.code == "P-EXTINGUISHER")),
            "type": extinguisher.id,
            "item": db.session.scalar(select(ChecklistItem.id).where(
                ChecklistItem.point_type_id == extinguisher.id, ChecklistItem.key == "pressure")),
        }


def test_area_changes_are_recorded_with_actor_target_and_diff(app, campus, client, auth):
    login(auth, client)
    admin = user_id(app, "admin")
    response = post(client, "/admin/areas/new", {"name": "实验楼B", "building": "实验楼B", "floor": "3F",
                                                 "zone": "", "responsible": "赵老师"})
    assert response.status_code == 303
    created = one_new(app, 0)
    assert (created["action"], created["actor_id"], created["actor_name"], created["campus_id"]) == (
        "area.create", admin, "admin", campus["campus_id"])
    assert created["target_type"] == "area" and created["target_label"] == "实验楼B"
    assert created["detail"]["floor"] == [None, "3F"] and created["detail"]["responsible"] == [None, "赵老师"]
    assert created["ip"] == "127.0.0.1" and created["target_id"]

    url = f"/admin/areas/{created['target_id']}"
    data = {"name": "实验楼B", "building": "实验楼B", "floor": "4F", "zone": "", "responsible": ""}
    assert post(client, url, data).status_code == 303
    updated = one_new(app, 1)
    assert updated["action"] == "area.update" and updated["target_id"] == created["target_id"]
    assert updated["detail"] == {"floor": ["3F", "4F"], "responsible": ["赵老师", ""]}
    assert post(client, url, data).status_code == 303  # saved unchanged: nothing happened, nothing recorded
    assert len(entries(app)) == 2


def test_point_changes_are_recorded(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Point

    values = ids(app)
    login(auth, client)
    new = {"code": "A-EXT-09", "name": "一楼灭火器 09", "area_id": str(campus["areas"]["A"]),
           "point_type_id": str(values["type"]), "location": "东侧楼梯口", "cadence": "", "per_period": ""}
    assert post(client, "/admin/points/new", new).status_code == 303
    created = one_new(app, 0)
    assert created["action"] == "point.create" and created["target_type"] == "point"
    assert created["target_label"] == "A-EXT-09 一楼灭火器 09"
    assert created["detail"]["area"] == [None, "教学楼A"] and created["detail"]["type"] == [None, "extinguisher"]
    assert created["detail"]["cadence"] == [None, "monthly"] and created["detail"]["active"] == [None, True]

    url = f"/admin/points/{values['point']}"
    changed = {"code": "P-EXTINGUISHER", "name": "新名字", "area_id": str(campus["areas"]["B"]),
               "point_type_id": str(values["type"]), "location": "", "cadence": "weekly", "per_period": "2"}
    assert post(client, url, changed).status_code == 303
    updated = one_new(app, 1)
    assert (updated["action"], updated["target_id"]) == ("point.update", values["point"])
    assert updated["detail"]["area"] == ["教学楼A", "食堂"]  # names, not ids
    assert updated["detail"]["cadence"] == ["monthly", "weekly"] and updated["detail"]["per_period"] == [1, 2]
    assert "code" not in updated["detail"] and "type" not in updated["detail"]

    assert post(client, f"{url}/retire").status_code == 303
    retired = one_new(app, 2)
    assert (retired["action"], retired["target_id"], retired["detail"]) == (
        "point.retire", values["point"], {"active": [True, False]})
    assert post(client, f"{url}/retire").status_code == 303  # retired already: no change, no entry
    assert post(client, f"{url}/reactivate").status_code == 303
    assert one_new(app, 3)["action"] == "point.reactivate"

    with app.app_context():
        old_token = db.session.get(Point, values["point"]).token
    assert post(client, f"{url}/token").status_code == 303
    regenerated = one_new(app, 4)
    assert (regenerated["action"], regenerated["target_id"], regenerated["detail"]) == (
        "point.token_regenerate", values["point"], {})
    with app.app_context():
        new_token = db.session.get(Point, values["point"]).token
    page = text(client.get("/admin/audit"))
    for entry in entries(app):
        assert old_token not in entry["raw"] and new_token not in entry["raw"]
    assert old_token not in page and "New QR code for a point" in page


def test_point_import_is_one_entry_and_a_bad_file_none(app, campus, client, auth):
    login(auth, client)

    def upload(data):
        token = csrf_from(client.get("/admin/points/import"))
        return client.post("/admin/points/import", data={"csrf_token": token, "file": (io.BytesIO(data), "pts.csv")},
                           content_type="multipart/form-data")

    good = (IMPORT_HEADER + "W-1,网页导入,教学楼A,exit,,,\nW-2,网页导入2,新区域,exit,,,\nP-EXIT,出口,教学楼A,exit,,,\n")
    assert upload(good.encode()).status_code == 303
    entry = one_new(app, 0)
    assert (entry["action"], entry["target_type"], entry["target_id"], entry["campus_id"]) == (
        "points.import", "campus", campus["campus_id"], campus["campus_id"])
    assert entry["detail"] == {"file": "pts.csv", "created": 2, "updated": 1}
    bad = upload((IMPORT_HEADER + "W-3,坏行,教学楼A,spaceship,,,\n").encode())
    assert bad.status_code == 422
    assert len(entries(app)) == 1


def test_template_changes_are_recorded_for_every_campus(app, campus, client, auth):
    values = ids(app)
    login(auth, client)
    assert post(client, "/admin/types/new", {"key": "eyewash", "name_zh": "洗眼器", "name_en": "Eyewash",
                                             "cadence": "weekly", "per_period": "1"}).status_code == 303
    created = one_new(app, 0)
    assert (created["action"], created["target_type"], created["target_label"], created["campus_id"]) == (
        "type.create", "point_type", "eyewash", None)
    type_url = f"/admin/types/{created['target_id']}"
    assert post(client, type_url, {"name_zh": "洗眼器", "name_en": "Eye wash", "cadence": "weekly",
                                   "per_period": "1"}).status_code == 303
    assert one_new(app, 1)["detail"] == {"name_en": ["Eyewash", "Eye wash"]}

    item = {"key": "water_flow", "text_zh": "出水正常", "text_en": "Water flows", "category": "facilities",
            "severity": "general", "position": ""}
    assert post(client, f"{type_url}/items", item).status_code == 303
    added = one_new(app, 2)
    assert (added["action"], added["target_type"], added["target_label"]) == (
        "item.create", "checklist_item", "eyewash/water_flow")
    assert added["detail"]["position"] == [None, 0] and added["detail"]["active"] == [None, True]

    item_url = f"/admin/types/{values['type']}/items/{values['item']}"
    assert post(client, item_url, {"text_zh": "压力表正常", "text_en": "Gauge in the green", "category": "fire",
                                   "severity": "major", "position": "9"}).status_code == 303
    edited = one_new(app, 3)
    assert edited["action"] == "item.update" and edited["target_label"] == "extinguisher/pressure"
    assert edited["detail"]["text_en"][1] == "Gauge in the green" and edited["detail"]["position"][1] == 9
    assert post(client, f"{item_url}/deactivate").status_code == 303
    assert one_new(app, 4)["action"] == "item.deactivate"
    assert post(client, f"{item_url}/activate").status_code == 303
    assert one_new(app, 5)["action"] == "item.activate"
    assert all(e["campus_id"] is None for e in entries(app))


def test_user_changes_are_recorded_without_passwords(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import User

    login(auth, client)
    secret = "very-secret-pass-1"
    assert post(client, "/admin/users/new", {"username": "zhang.wei", "name": "张伟", "role": "guard",
                                             "locale": "zh", "password": secret}).status_code == 303
    created = one_new(app, 0)
    zhang = user_id(app, "zhang.wei")
    assert (created["action"], created["target_type"], created["target_id"], created["target_label"]) == (
        "user.create", "user", zhang, "zhang.wei")
    assert created["detail"] == {"username": [None, "zhang.wei"], "name": [None, "张伟"], "role": [None, "guard"],
                                 "locale": [None, "zh"], "active": [None, True], "campus_names": [None, "示范中学"]}

    url = f"/admin/users/{zhang}"
    assert post(client, url, {"name": "张伟伟", "role": "guard", "locale": "zh", "active": "y"}).status_code == 303
    assert one_new(app, 1)["action"] == "user.update"
    assert post(client, url, {"name": "张伟伟", "role": "officer", "locale": "zh", "active": "y"}).status_code == 303
    role = one_new(app, 2)
    assert role["action"] == "user.role" and role["detail"] == {"role": ["guard", "officer"]}
    assert post(client, url, {"name": "张伟伟", "role": "officer", "locale": "zh"}).status_code == 303
    off = one_new(app, 3)
    assert off["action"] == "user.deactivate" and off["detail"] == {"active": [True, False]}
    assert post(client, url, {"name": "张伟伟", "role": "officer", "locale": "zh", "active": "y"}).status_code == 303
    assert one_new(app, 4)["action"] == "user.activate"

    reset = "another-secret-2"
    assert post(client, f"{url}/password", {"password": reset}).status_code == 303
    assert one_new(app, 5)["action"] == "user.password_reset"
    with app.app_context():
        password_hash = db.session.get(User, zhang).password_hash
    page = text(client.get("/admin/audit"))
    for entry in entries(app):
        for hidden in (secret, reset, password_hash, "password_hash"):
            assert hidden not in entry["raw"]
    assert secret not in page and reset not in page and "Role changed" in page and "Password reset" in page


def test_refused_and_invalid_forms_write_nothing(app, campus, client, auth):
    values = ids(app)
    admin = user_id(app, "admin")
    login(auth, client)
    refused = [
        post(client, "/admin/areas/new", {"name": "食堂"}),  # the name is taken
        post(client, f"/admin/areas/{campus['areas']['A']}", {"name": ""}),
        post(client, "/admin/points/new", {"code": "P-HYDRANT", "name": "重复", "area_id": str(campus["areas"]["A"]),
                                           "point_type_id": str(values["type"])}),
        post(client, f"/admin/points/{values['point']}", {"code": "", "name": "x"}),
        post(client, "/admin/types/new", {"key": "Bad Key", "name_zh": "x", "name_en": "x", "cadence": "daily",
                                          "per_period": "1"}),
        post(client, f"/admin/types/{values['type']}", {"name_zh": "", "name_en": "", "cadence": "daily",
                                                         "per_period": "0"}),
        post(client, f"/admin/types/{values['type']}/items", {"key": "pressure", "text_zh": "x", "text_en": "x",
                                                               "category": "fire", "severity": "general"}),
        post(client, f"/admin/types/{values['type']}/items/{values['item']}", {"text_zh": "", "category": "x"}),
        post(client, "/admin/users/new", {"username": "li", "role": "guard", "locale": "zh", "password": "short"}),
        post(client, f"/admin/users/{admin}", {"name": "Me", "role": "viewer", "locale": "zh"}),  # demote myself
        post(client, f"/admin/users/{admin}/password", {"password": "1234567"}),
        post(client, "/admin/settings", {"name": "x", "timezone": "Mars/Olympus", "deadline_days_general": "7",
                                         "deadline_days_major": "3", "webhook_format": "generic"}),
    ]
    assert [r.status_code for r in refused] == [422] * len(refused)
    assert client.post(f"/admin/points/{values['point']}/retire").status_code == 400  # no CSRF token
    assert post(client, "/admin/settings/test").status_code == 303  # no webhook URL: nothing queued
    auth.logout()
    login(auth, client, "officer")
    assert post(client, f"/admin/points/{values['point']}/retire").status_code == 403
    assert post(client, "/admin/areas/new", {"name": "新区域"}).status_code == 403
    assert entries(app) == []


def test_settings_and_webhook_actions_hide_the_robot_key(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import WebhookDelivery

    login(auth, client)
    key = "3b1f6c2a-robot-key-9d"
    data = {"name": "示范中学（东校区）", "timezone": "Asia/Shanghai", "deadline_days_general": "7",
            "deadline_days_major": "2", "weekend_rounds": "y",
            "webhook_url": f"http://127.0.0.1:9/cgi-bin/webhook/send?key={key}", "webhook_format": "robot"}
    assert post(client, "/admin/settings", data).status_code == 303
    saved = one_new(app, 0)
    assert (saved["action"], saved["target_type"], saved["target_id"]) == (
        "settings.update", "campus", campus["campus_id"])
    assert saved["detail"]["name"] == ["示范中学", "示范中学（东校区）"]
    assert saved["detail"]["deadline_days_major"] == [3, 2] and saved["detail"]["weekend_rounds"] == [False, True]
    assert saved["detail"]["webhook_url"] == ["", "http://127.0.0.1:9/cgi-bin/webhook/send?key=***"]
    assert "timezone" not in saved["detail"] and key not in saved["raw"]

    assert post(client, "/admin/settings/test").status_code == 303
    test = one_new(app, 1)
    assert test["action"] == "webhook.test" and test["target_type"] == "webhook_delivery"
    with app.app_context():
        delivery = db.session.get(WebhookDelivery, test["target_id"])
        delivery.status, delivery.attempts = "failed", 7
        db.session.commit()
    token = csrf_from(client.get("/admin/webhooks"))
    response = client.post("/admin/webhooks/retry", data={"csrf_token": token, "delivery": test["target_id"]})
    assert response.status_code == 303
    retried = one_new(app, 2)
    assert retried["action"] == "webhook.retry" and retried["detail"] == {"status": ["failed", "pending"],
                                                                          "attempts": 7}
    assert key not in text(client.get("/admin/audit"))


def test_cli_actions_are_recorded_as_the_command_line(app, campus, tmp_path):
    from patrol.extensions import db
    from patrol.models import ApiToken

    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "add", "zhao", "--role", "repairer", "--name", "赵师傅",
                                 "--password", "cli-secret-99"])
    assert result.exit_code == 0, result.output
    added = one_new(app, 0)
    assert (added["action"], added["actor_id"], added["target_label"], added["campus_id"], added["ip"]) == (
        "user.create", None, "zhao", campus["campus_id"], "")
    assert added["actor_name"].startswith("cli")
    assert added["detail"]["role"] == [None, "repairer"] and "cli-secret-99" not in added["raw"]
    assert runner.invoke(args=["user", "add", "zhao", "--role", "guard", "--password", "cli-secret-99"]).exit_code
    assert len(entries(app)) == 1  # refused: nothing recorded

    made = []
    for label in ("phone", "tablet"):
        result = runner.invoke(args=["token", "create", "zhao", "--label", label])
        assert result.exit_code == 0, result.output
        made.append(result.output.strip())
    created = entries(app)[1:]
    assert [(e["action"], e["target_type"], e["target_label"]) for e in created] == [
        ("token.create", "api_token", "zhao “phone”"), ("token.create", "api_token", "zhao “tablet”")]
    assert created[0]["detail"] == {"user": "zhao", "label": "phone"}
    with app.app_context():
        phone = db.session.scalar(select(ApiToken).where(ApiToken.label == "phone"))
        assert created[0]["target_id"] == phone.id
        hashes = [t.token_hash for t in db.session.scalars(select(ApiToken))]

    assert runner.invoke(args=["token", "revoke", made[0]]).exit_code == 0
    revoked = one_new(app, 3)
    assert (revoked["action"], revoked["target_id"], revoked["actor_id"]) == ("token.revoke", phone.id, None)
    assert runner.invoke(args=["token", "revoke", made[0]]).exit_code == 0  # revoked already
    assert len(entries(app)) == 4
    assert runner.invoke(args=["token", "revoke", "--user", "zhao"]).exit_code == 0
    assert one_new(app, 4)["target_label"] == "zhao “tablet”"
    for entry in entries(app):
        for secret in [*made, *hashes]:
            assert secret not in entry["raw"]

    good = tmp_path / "points.csv"
    good.write_text(IMPORT_HEADER + "CLI-1,命令行导入,教学楼A,exit,,,\n", encoding="utf-8")
    assert runner.invoke(args=["points", "import", str(good)]).exit_code == 0
    imported = one_new(app, 5)
    assert (imported["action"], imported["actor_id"], imported["detail"]) == (
        "points.import", None, {"file": "points.csv", "created": 1, "updated": 0})
    bad = tmp_path / "bad.csv"
    bad.write_text(IMPORT_HEADER + "CLI-2,坏行,教学楼A,spaceship,,,\n", encoding="utf-8")
    assert runner.invoke(args=["points", "import", str(bad)]).exit_code == 1
    assert len(entries(app)) == 6


def add_entries(app, campus_id, rows):
    """Entries made directly: (at in UTC, action, actor_name, campus_id or "mine")."""
    from patrol.extensions import db
    from patrol.models import AuditEntry

    with app.app_context():
        for at, action, actor, where in rows:
            db.session.add(AuditEntry(at=at, action=action, actor_name=actor, target_type="point",
                                      target_label=f"{action} by {actor}",
                                      campus_id=campus_id if where == "mine" else where, detail="{}"))
        db.session.commit()


def labels_in(html: str) -> list[str]:
    return re.findall(r"<td>\s*([a-z_.]+ by [\w:]+)\s*</td>", html)


def test_page_lists_newest_first_in_campus_time_and_filters(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Campus

    with app.app_context():
        other = Campus(name="别的学校")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    add_entries(app, campus["campus_id"], [
        (datetime(2026, 3, 1, 15, 30), "point.retire", "admin", "mine"),  # 23:30 on 1 March in Shanghai
        (datetime(2026, 3, 1, 16, 30), "user.role", "admin", "mine"),  # 00:30 on 2 March in Shanghai
        (datetime(2026, 3, 3, 2, 0), "user.create", "cli:root", "mine"),
        (datetime(2026, 3, 4, 2, 0), "type.update", "otheradmin", None),  # templates: every campus sees them
        (datetime(2026, 3, 5, 2, 0), "points.import", "admin", "mine"),
        (datetime(2026, 3, 5, 3, 0), "user.create", "stranger", other_id),
    ])
    login(auth, client)
    assert 'href="/admin/audit"' in text(client.get("/admin/"))
    page = client.get("/admin/audit")
    html = text(page)
    assert page.status_code == 200 and 'hx-get="/admin/audit"' in html
    assert labels_in(html) == ["points.import by admin", "type.update by otheradmin", "user.create by cli:root",
                               "user.role by admin", "point.retire by admin"]
    assert "2026-03-02 00:30:00" in html and "2026-03-01 23:30:00" in html
    assert "(command line)" in html and "Role changed" in html

    def shown(query):
        return labels_in(text(client.get(f"/admin/audit?{query}")))

    assert shown("action=user") == ["user.create by cli:root", "user.role by admin"]
    assert shown("action=user.role") == ["user.role by admin"]
    assert shown("action=point") == ["point.retire by admin"]  # not points.import
    assert shown("action=points") == ["points.import by admin"]
    assert shown("actor=cli:root") == ["user.create by cli:root"]
    assert shown("since=2026-03-02&until=2026-03-03") == ["user.create by cli:root", "user.role by admin"]
    assert shown("until=2026-03-01") == ["point.retire by admin"]
    assert shown("action=user&actor=admin&since=2026-03-02") == ["user.role by admin"]
    assert shown("since=nonsense&action=%27;drop") == labels_in(html)  # ignored, not an error
    partial = client.get("/admin/audit?action=user", headers={"HX-Request": "true"})
    assert "<html" not in text(partial) and 'id="audit-list"' in text(partial)
    assert labels_in(text(partial)) == ["user.create by cli:root", "user.role by admin"]
    options = text(client.get("/admin/audit"))
    assert '<option value="cli:root">' in options and "stranger" not in options


def test_page_pages_through_entries(app, campus, client, auth):
    add_entries(app, campus["campus_id"], [(datetime(2026, 3, 1, 0, n), "area.update", f"a{n:02d}", "mine")
                                           for n in range(55)])
    login(auth, client)
    first = text(client.get("/admin/audit"))
    assert "55 entries" in first and "Page 1 of 2" in first
    assert labels_in(first)[0] == "area.update by a54" and len(labels_in(first)) == 50
    second = text(client.get("/admin/audit?page=2"))
    assert labels_in(second) == [f"area.update by a{n:02d}" for n in range(4, -1, -1)]
    filtered = text(client.get("/admin/audit?action=area&page=2"))
    assert 'href="/admin/audit?page=1&amp;action=area"' in filtered


@pytest.mark.parametrize("role", ["guard", "repairer", "officer", "viewer"])
def test_only_admins_read_the_log(app, campus, client, auth, role):
    login(auth, client, role)
    assert client.get("/admin/audit").status_code == 403


def test_an_admin_password_change_of_their_own_is_recorded(app, campus, client, auth):
    admin = user_id(app, "admin")
    login(auth, client)
    assert post(client, f"/admin/users/{admin}/password", {"password": "fresh-pass-42"}).status_code == 303
    entry = one_new(app, 0)
    assert (entry["action"], entry["target_id"], entry["actor_id"]) == ("user.password_reset", admin, admin)
    assert client.get("/admin/audit").status_code == 200  # the session goes on
    assert PASSWORD not in entry["raw"] and "fresh-pass-42" not in entry["raw"]


def test_a_change_that_fails_in_the_database_leaves_no_entry(app, campus, client, auth, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from patrol.admin.forms import PointForm
    from patrol.extensions import db
    from patrol.models import Point

    values = ids(app)
    # As if another admin took the code between the check and the save: the unique constraint refuses it.
    monkeypatch.setattr(PointForm, "validate_code", lambda form, field: None)
    login(auth, client)
    data = {"code": "P-HYDRANT", "name": "撞号", "area_id": str(campus["areas"]["A"]),
            "point_type_id": str(values["type"]), "location": "", "cadence": "", "per_period": ""}
    with pytest.raises(IntegrityError):
        post(client, "/admin/points/new", data)
    assert entries(app) == []
    with app.app_context():
        assert db.session.scalar(select(Point).where(Point.name == "撞号")) is None


@pytest.mark.parametrize("query", ["since=0001-01-01", "until=9999-12-31", "since=9999-12-31&until=0001-01-01",
                                   "page=184467440737095518", "page=-3", "page=x"])
def test_hostile_filters_are_ignored_not_errors(app, campus, client, auth, query):
    add_entries(app, campus["campus_id"], [(datetime(2026, 3, 1, 2, 0), "user.role", "admin", "mine")])
    login(auth, client)
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["actor=%00", "actor=a%00b", "action=user%00"])
def test_a_nul_character_in_a_filter_is_a_plain_bad_request(app, campus, client, auth, query):
    login(auth, client)  # as everywhere: PostgreSQL text cannot hold NUL, so no page looks it up
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400 and "could not understand this request" in response.get_data(as_text=True)
