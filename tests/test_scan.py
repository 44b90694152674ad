"""The guard's loop over real HTTP: open a point's form, submit it, failed items become hazards."""
import re
import uuid

import pytest
from helpers import csrf_from, jpeg_bytes, point
from sqlalchemy import func, select


def form_for(client, token):
    response = client.get(f"/p/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    keys = list(dict.fromkeys(re.findall(r'name="result-([a-z_]+)"', html)))
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    return html, keys, client_uuid, csrf_from(response)


def all_pass(keys):
    return {f"result-{k}": "pass" for k in keys}


def submit(client, token, data, files=None):
    payload = dict(data)
    for name, content in (files or {}).items():
        payload[name] = (__import__("io").BytesIO(content), "photo.jpg")
    return client.post(f"/p/{token}", data=payload, content_type="multipart/form-data")


def db_count(app, model, **filters):
    from patrol.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def test_scan_requires_login_then_lands_back_on_the_form(app, campus, client):
    p = point(app, "P-EXTINGUISHER")
    response = client.get(f"/p/{p.token}")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
    login_page = client.get(response.headers["Location"])
    response = client.post("/login", data={"username": "guard", "password": "password123",
                                           "csrf_token": csrf_from(login_page),
                                           "next": f"/p/{p.token}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/p/{p.token}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert p.name in html and p.location in html and "压力表指针在绿区" in html


def test_login_never_redirects_off_site(app, campus, client):
    page = client.get("/login")
    response = client.post("/login", data={"username": "guard", "password": "password123",
                                           "csrf_token": csrf_from(page), "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_wrong_password_keeps_username_and_shows_error(app, campus, client):
    page = client.get("/login")
    response = client.post("/login", data={"username": "guard", "password": "nope",
                                           "csrf_token": csrf_from(page)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="guard"' in html and "用户名或密码错误" in html


def test_form_shows_items_last_check_and_open_hazards(app, campus, client, auth):
    from patrol.models import Check

    auth.login("guard")
    p = point(app, "P-EXIT")
    html, keys, cu, token = form_for(client, p.token)
    assert keys == ["unblocked", "signs_lights", "fire_doors"]
    assert "从未检查" in html
    data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys),
            "result-unblocked": "fail", "note-unblocked": "楼梯口堆放桌椅",
            "observed_at": "2026-03-02T07:30:00+08:00"}
    response = submit(client, p.token, data, {"photo-unblocked": jpeg_bytes()})
    assert response.status_code == 201, response.get_data(as_text=True)
    html, *_ = form_for(client, p.token)
    assert "2026-03-02 07:30" in html and "Guard 用户" in html
    assert "楼梯口堆放桌椅" in html  # the open hazard is listed on the form
    assert db_count(app, Check) == 1


def test_unknown_or_retired_token_is_a_friendly_404(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Point

    auth.login("guard")
    response = client.get("/p/not-a-real-token")
    assert response.status_code == 404
    assert "二维码标签" in response.get_data(as_text=True)
    p = point(app, "P-PANEL")
    with app.app_context():
        db.session.get(Point, p.id).active = False
        db.session.commit()
    response = client.get(f"/p/{p.token}")
    assert response.status_code == 404 and "二维码标签" in response.get_data(as_text=True)


def test_invalid_check_comes_back_with_input_and_errors_next_to_fields(app, campus, client, auth):
    from patrol.models import Check, Hazard

    auth.login("guard")
    p = point(app, "P-EXTINGUISHER")
    _, keys, cu, token = form_for(client, p.token)
    data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys),
            "result-pressure": "fail", "note-pressure": "",           # note missing
            "result-pin_seal": "fail", "note-pin_seal": "铅封脱落",     # photo missing (required)
            "result-body": "fail", "note-body": "底部锈蚀"}             # photo optional... but photo_required here
    data.pop("result-hose")                                           # an item left unanswered
    response = submit(client, p.token, data, {"photo-body": jpeg_bytes()})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请描述存在的问题" in html               # note required for a fail
    assert "此项需要拍照" in html                    # photo required
    assert "请选择合格、不合格或不适用" in html         # unanswered item
    assert "铅封脱落" in html and "底部锈蚀" in html   # notes kept
    assert re.search(r'name="result-pin_seal" value="fail" checked', html)
    # the uploaded photo is kept for the resubmission, not lost
    kept = re.findall(r'name="kept-body" value="([0-9a-f]{64})"', html)
    assert len(kept) == 1
    item_errors = re.findall(r'<li class="item has-error" id="item-([a-z_]+)"', html)
    assert set(item_errors) == {"pressure", "pin_seal", "hose"}
    assert db_count(app, Check) == 0 and db_count(app, Hazard) == 0
    # fix it and resubmit with the kept photo: the check and its photo arrive once
    data.update({"note-pressure": "指针在红区", "result-hose": "pass", "kept-body": kept[0]})
    response = submit(client, p.token, data, {"photo-pin_seal": jpeg_bytes((10, 10, 200)),
                                              "photo-pressure": jpeg_bytes((10, 200, 10))})
    assert response.status_code == 201, response.get_data(as_text=True)
    from patrol.extensions import db
    from patrol.models import Photo
    with app.app_context():
        photos = db.session.scalars(select(Photo).order_by(Photo.item_key)).all()
        assert [(ph.item_key, ph.hazard_id is not None) for ph in photos] == [
            ("body", True), ("pin_seal", True), ("pressure", True)]
    assert db_count(app, Hazard) == 3


def test_non_image_upload_gets_a_plain_message(app, campus, client, auth):
    auth.login("guard")
    p = point(app, "P-EXTINGUISHER")
    _, keys, cu, token = form_for(client, p.token)
    data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys),
            "result-pin_seal": "fail", "note-pin_seal": "铅封脱落"}
    response = submit(client, p.token, data, {"photo-pin_seal": b"%PDF-1.4 not an image"})
    assert response.status_code == 422
    assert "不是照片" in response.get_data(as_text=True)


def test_oversized_upload_gets_a_413_page(app, campus, client, auth):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    auth.login("guard")
    p = point(app, "P-EXTINGUISHER")
    _, keys, cu, token = form_for(client, p.token)
    response = submit(client, p.token, {"csrf_token": token, "client_uuid": cu, **all_pass(keys)},
                      {"photo-body": b"\xff" * 60_000})
    assert response.status_code == 413
    assert "文件太大" in response.get_data(as_text=True)


def test_failed_item_opens_hazard_and_repeat_fail_is_the_same_hazard(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Hazard, HazardEvent, Photo

    auth.login("guard")
    p = point(app, "P-EXIT")
    for n, note in enumerate(["出口堆放杂物", "杂物仍未清理"]):
        _, keys, cu, token = form_for(client, p.token)
        data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys), "result-unblocked": "fail",
                "note-unblocked": note, "observed_at": f"2026-03-0{n + 2}T07:30:00+08:00"}
        response = submit(client, p.token, data, {"photo-unblocked": jpeg_bytes((n * 90, 20, 20))})
        assert response.status_code == 201
    with app.app_context():
        hazards = db.session.scalars(select(Hazard)).all()
        assert len(hazards) == 1
        hazard = hazards[0]
        assert hazard.status == "reported" and hazard.times_seen == 2 and hazard.item_key == "unblocked"
        assert hazard.severity == "major" and hazard.category == "fire"
        assert hazard.first_seen_at.isoformat() == "2026-03-01T23:30:00"  # 07:30 Beijing = 23:30 UTC the day before
        assert hazard.last_seen_at.isoformat() == "2026-03-02T23:30:00"
        assert [e.action for e in hazard.events] == ["reported", "seen_again"]
        assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.hazard_id == hazard.id)) == 2
        # once closed, the next fail is a new hazard
        hazard.status, hazard.open_key = "verified", None
        db.session.commit()
    _, keys, cu, token = form_for(client, p.token)
    data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys), "result-unblocked": "fail",
            "note-unblocked": "又堆了", "observed_at": "2026-03-05T07:30:00+08:00"}
    assert submit(client, p.token, data, {"photo-unblocked": jpeg_bytes()}).status_code == 201
    assert db_count(app, Hazard) == 2 and db_count(app, HazardEvent, action="reported") == 2


def test_resend_same_uuid_same_content_returns_existing_check(app, campus, client, auth):
    from patrol.models import Check, CheckResult, Hazard, Photo

    auth.login("guard")
    p = point(app, "P-EXIT")
    _, keys, cu, token = form_for(client, p.token)
    data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys), "result-unblocked": "fail",
            "note-unblocked": "堆放杂物", "observed_at": "2026-03-02T07:30:00+08:00"}
    first = submit(client, p.token, data, {"photo-unblocked": jpeg_bytes()})
    again = submit(client, p.token, data, {"photo-unblocked": jpeg_bytes()})
    assert first.status_code == 201 and again.status_code == 200
    assert "已经记录" in again.get_data(as_text=True)
    assert db_count(app, Check) == 1 and db_count(app, CheckResult) == len(keys)
    assert db_count(app, Hazard) == 1 and db_count(app, Photo) == 1


def test_resend_same_uuid_different_content_is_a_409(app, campus, client, auth):
    from patrol.models import Check, CheckResult

    auth.login("guard")
    p = point(app, "P-EXIT")
    _, keys, cu, token = form_for(client, p.token)
    data = {"csrf_token": token, "client_uuid": cu, **all_pass(keys), "observed_at": "2026-03-02T07:30:00+08:00"}
    assert submit(client, p.token, data).status_code == 201
    data["result-fire_doors"] = "na"
    response = submit(client, p.token, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "提交编号已用于另一条检查" in html
    assert re.search(r'name="result-fire_doors" value="na" checked', html)  # the input is kept
    assert cu not in html  # a fresh id, so the guard can send it as a new check
    with app.app_context():
        from patrol.extensions import db
        stored = db.session.scalars(select(CheckResult.result).join(Check).where(Check.client_uuid == cu)).all()
        assert sorted(stored) == ["pass", "pass", "pass"]


def test_database_refuses_duplicate_client_uuid(app, campus):
    from sqlalchemy.exc import IntegrityError

    from patrol.extensions import db
    from patrol.models import Check, User

    p = point(app, "P-EXIT")
    with app.app_context():
        guard = db.session.scalar(select(User).filter_by(username="guard"))
        same = str(uuid.uuid4())
        for _ in range(2):
            db.session.add(Check(client_uuid=same, point_id=p.id, user_id=guard.id,
                                 observed_at=__import__("datetime").datetime(2026, 3, 1), content_hash="x"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize("role,status", [("repairer", 403), ("viewer", 403)])
def test_roles_that_may_not_submit_checks(app, campus, client, auth, role, status):
    auth.login(role)
    p = point(app, "P-EXIT")
    page = client.get(f"/p/{p.token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and p.name in html and "data-check-form" not in html
    keys = ["unblocked", "signs_lights", "fire_doors"]
    response = submit(client, p.token, {"csrf_token": csrf_from(page), "client_uuid": str(uuid.uuid4()),
                                        **all_pass(keys)})
    assert response.status_code == status


def test_post_without_csrf_token_is_refused(app, campus, client, auth):
    from patrol.models import Check

    auth.login("guard")
    p = point(app, "P-EXIT")
    _, keys, cu, _token = form_for(client, p.token)
    app.config["WTF_CSRF_ENABLED"] = True
    response = submit(client, p.token, {"client_uuid": cu, **all_pass(keys)})
    assert response.status_code == 400 and db_count(app, Check) == 0


def test_go_by_code_opens_the_form(app, campus, client, auth):
    auth.login("guard")
    p = point(app, "P-GATE")
    response = client.get("/go?code=P-GATE")
    assert response.status_code == 302 and response.headers["Location"] == f"/p/{p.token}"
    response = client.get("/go?code=NOPE", follow_redirects=True)
    assert "NOPE" in response.get_data(as_text=True)


def test_adhoc_report_with_photo_exactly_once(app, campus, client, auth):
    from patrol.models import Hazard, Photo

    auth.login("guard")
    page = client.get("/report")
    html = page.get_data(as_text=True)
    cu = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    data = {"csrf_token": csrf_from(page), "client_uuid": cu, "point": "", "location": "操场东北角围栏",
            "category": "facilities", "description": "篮球架底座松动"}
    bad = client.post("/report", data={**data, "description": ""})
    assert bad.status_code == 422 and "操场东北角围栏" in bad.get_data(as_text=True)
    assert "请描述隐患" in bad.get_data(as_text=True)
    payload = {**data, "photo": (__import__("io").BytesIO(jpeg_bytes()), "p.jpg")}
    first = client.post("/report", data=payload, content_type="multipart/form-data")
    assert first.status_code == 201 and "篮球架底座松动" in first.get_data(as_text=True)
    payload = {**data, "photo": (__import__("io").BytesIO(jpeg_bytes()), "p.jpg")}
    again = client.post("/report", data=payload, content_type="multipart/form-data")
    assert again.status_code == 200
    assert db_count(app, Hazard) == 1 and db_count(app, Photo) == 1
    conflict = client.post("/report", data={**data, "description": "别的内容"})
    assert conflict.status_code == 409


def test_adhoc_report_needs_a_place(app, campus, client, auth):
    auth.login("guard")
    page = client.get("/report?point=P-GATE")
    assert 'value="P-GATE" selected' in page.get_data(as_text=True)
    cu = re.search(r'name="client_uuid" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/report", data={"csrf_token": csrf_from(page), "client_uuid": cu,
                                            "category": "security", "description": "门锁坏了"})
    assert response.status_code == 422 and "请选择点位或说明位置" in response.get_data(as_text=True)


def test_check_form_stays_within_the_weak_wifi_budget(app, campus, client, auth):
    """The form a guard loads fifty times a round: ≤ 8 KB gzipped HTML, ≤ 40 KB first load, one host."""
    import gzip

    auth.login("guard")
    p = point(app, "P-EXTINGUISHER")  # the longest default checklist
    html = client.get(f"/p/{p.token}").get_data()
    assert len(gzip.compress(html)) <= 8 * 1024
    assets = re.findall(rb'(?:src|href)="([^"]+)"', html)
    assert not [a for a in assets if re.match(rb"([a-z]+:)?//", a)], "reference to another host"
    total = len(gzip.compress(html))
    for asset in {a.decode() for a in assets if a.startswith(b"/static/")}:
        with client.get(asset) as response:
            assert response.status_code == 200
            total += len(gzip.compress(response.data))
    assert total <= 40 * 1024
