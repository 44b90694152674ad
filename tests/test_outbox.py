"""The outbox's side of the server over real HTTP: replayed forms answered in JSON, photos one by one
(named by the phone's SHA-256, a resend is a no-op, the server says which are missing), the patrol
pack, the service worker and the manifest."""
import hashlib
import io
import threading
import uuid

import pytest
from helpers import bearer, csrf_from, jpeg_bytes, point
from PIL import Image
from sqlalchemy import func, select

from test_scan import all_pass, form_for

JSON = {"Accept": "application/json"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def replay(client, token, data, headers=JSON):
    """What outbox.js sends: the form's fields, photos named by their hash instead of attached."""
    return client.post(f"/p/{token}", data=data, headers=headers, content_type="multipart/form-data")


def put_photo(client, url, data, csrf):
    return client.put(url, data=data, headers={**JSON, "X-CSRFToken": csrf, "Content-Type": "image/jpeg"})


def count(app, model, **filters):
    from patrol.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


@pytest.fixture
def failed_check(app, campus, client, auth):
    """A guard's check of the exit with a failed item declaring two photos, replayed as the outbox does."""
    auth.login("guard")
    exit_point = point(app, "P-EXIT")
    _html, keys, client_uuid, csrf = form_for(client, exit_point.token)
    photos = [jpeg_bytes((200, 10, 10), (2000, 1500)), jpeg_bytes((10, 10, 200), (800, 600))]
    data = {"csrf_token": csrf, "client_uuid": client_uuid, **all_pass(keys), "result-unblocked": "fail",
            "note-unblocked": "堆放杂物", "observed_at": "2026-03-02T07:30:00+08:00",
            "photo_sha256-unblocked": [sha(p) for p in photos]}
    return {"token": exit_point.token, "data": data, "photos": photos, "csrf": csrf, "uuid": client_uuid}


def test_a_replayed_check_is_answered_in_json_with_the_photos_still_missing(app, client, failed_check):
    from patrol.models import Check, Hazard, PendingPhoto, Photo

    first = replay(client, failed_check["token"], failed_check["data"])
    assert first.status_code == 201 and first.is_json
    body = first.get_json()
    hashes = [sha(p) for p in failed_check["photos"]]
    assert body["created"] is True and body["missing_photos"] == hashes
    assert body["photos_url"] == f"/outbox/checks/{failed_check['uuid']}/photos/"
    assert body["done_url"] == f"/p/{failed_check['token']}/sent/{failed_check['uuid']}"
    # the hazard exists at once; its photos follow
    assert count(app, Check) == 1 and count(app, Hazard) == 1 and count(app, Photo) == 0
    assert count(app, PendingPhoto) == 2

    again = replay(client, failed_check["token"], failed_check["data"])
    assert again.status_code == 200 and again.get_json()["missing_photos"] == hashes
    assert count(app, Check) == 1 and count(app, PendingPhoto) == 2  # declared once, not twice

    listing = client.get(body["photos_url"], headers=JSON)
    assert listing.get_json() == {"missing_photos": hashes}


def test_photos_arrive_once_each_and_a_resend_is_a_no_op(app, client, failed_check):
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import Hazard, PendingPhoto, Photo

    url = replay(client, failed_check["token"], failed_check["data"]).get_json()["photos_url"]
    big, small = failed_check["photos"]
    stored = put_photo(client, url + sha(big), big, failed_check["csrf"])
    assert stored.status_code == 201
    assert stored.get_json() == {"created": True, "missing_photos": [sha(small)]}
    resent = put_photo(client, url + sha(big), big, failed_check["csrf"])
    assert resent.status_code == 200 and resent.get_json() == {"created": False, "missing_photos": [sha(small)]}
    last = put_photo(client, url + sha(small), small, failed_check["csrf"])
    assert last.status_code == 201 and last.get_json()["missing_photos"] == []
    assert count(app, Photo) == 2 and count(app, PendingPhoto) == 0
    with app.app_context():
        hazard = db.session.query(Hazard).one()
        held = {p.client_sha256: p for p in hazard.photos}  # attached to the hazard of the failed item
        assert set(held) == {sha(big), sha(small)}
        photo = held[sha(big)]
        on_disk = photos.path_for(photo.sha256).read_bytes()
        assert sha(on_disk) == photo.sha256 != photo.client_sha256  # re-encoded; both hashes kept
        with Image.open(io.BytesIO(on_disk)) as image:
            assert max(image.size) == 1600
    # the confirmation page the phone opens afterwards
    done = client.get(f"/p/{failed_check['token']}/sent/{failed_check['uuid']}")
    assert done.status_code == 200 and "堆放杂物" in done.get_data(as_text=True)


def test_a_damaged_or_foreign_photo_is_refused_and_nothing_is_saved(app, client, auth, failed_check):
    from patrol.models import PendingPhoto, Photo

    url = replay(client, failed_check["token"], failed_check["data"]).get_json()["photos_url"]
    big, _small = failed_check["photos"]
    csrf = failed_check["csrf"]
    truncated = put_photo(client, url + sha(big), big[: len(big) // 2], csrf)  # the link dropped mid-way
    assert truncated.status_code == 422 and "校验值不符" in truncated.get_json()["error"]
    not_declared = put_photo(client, url + sha(b"other"), b"other", csrf)
    assert not_declared.status_code == 409
    text = b"just text, not a photo"
    data = dict(failed_check["data"], client_uuid=str(uuid.uuid4()), **{"photo_sha256-unblocked": sha(text)})
    text_url = replay(client, failed_check["token"], data).get_json()["photos_url"]
    not_image = put_photo(client, text_url + sha(text), text, csrf)
    assert not_image.status_code == 422 and not_image.get_json()["error"]
    assert count(app, Photo) == 0 and count(app, PendingPhoto) == 3
    unknown = put_photo(client, f"/outbox/checks/{uuid.uuid4()}/photos/{sha(big)}", big, csrf)
    assert unknown.status_code == 404

    no_token = client.put(url + sha(big), data=big, headers={**JSON, "Content-Type": "image/jpeg"})
    assert no_token.status_code == 400 and no_token.get_json()["code"] == "csrf"

    auth.logout()
    auth.login("officer")
    officer_csrf = csrf_from(client.get("/"))
    someone_else = put_photo(client, url + sha(big), big, officer_csrf)
    assert someone_else.status_code == 403 and count(app, Photo) == 0


def test_two_resends_at_once_store_the_photo_once(app, client, failed_check):
    from patrol.models import Photo

    url = replay(client, failed_check["token"], failed_check["data"]).get_json()["photos_url"]
    big, _small = failed_check["photos"]
    cookie = client.get_cookie("session").value
    statuses = []

    def send():
        other = app.test_client()
        other.set_cookie("session", cookie)
        statuses.append(put_photo(other, url + sha(big), big, failed_check["csrf"]).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert count(app, Photo) == 1


def test_a_replay_the_server_refuses_is_answered_in_json(app, client, failed_check):
    data = dict(failed_check["data"], **{"note-unblocked": ""})
    refused = replay(client, failed_check["token"], data)
    assert refused.status_code == 422
    assert list(refused.get_json()["fields"]) == ["unblocked"] and refused.get_json()["error"]
    replay(client, failed_check["token"], failed_check["data"])
    conflict = replay(client, failed_check["token"], dict(failed_check["data"], **{"note-unblocked": "别的"}))
    assert conflict.status_code == 409 and "另一条检查" in conflict.get_json()["error"]
    bad_hash = replay(client, failed_check["token"], dict(failed_check["data"], client_uuid=str(uuid.uuid4()),
                                                           **{"photo_sha256-unblocked": "not-a-hash"}))
    assert bad_hash.status_code == 422 and "SHA-256" in bad_hash.get_json()["fields"]["unblocked"]


def test_a_declared_photo_counts_for_a_required_photo(app, campus, client, auth):
    """The extinguisher's gauge needs a photo when it fails: declaring it is enough to be accepted."""
    auth.login("guard")
    extinguisher = point(app, "P-EXTINGUISHER")
    _html, keys, client_uuid, csrf = form_for(client, extinguisher.token)
    data = {"csrf_token": csrf, "client_uuid": client_uuid, **all_pass(keys), "result-pressure": "fail",
            "note-pressure": "红区"}
    assert replay(client, extinguisher.token, data).status_code == 422
    data["photo_sha256-pressure"] = sha(jpeg_bytes())
    assert replay(client, extinguisher.token, data).status_code == 201


def test_an_expired_login_gets_a_401_the_outbox_can_act_on(app, campus, client):
    p = point(app, "P-EXIT")
    # without a session there is no valid CSRF token either: the outbox then asks who is logged in
    response = client.post(f"/p/{p.token}", data={"client_uuid": str(uuid.uuid4())}, headers=JSON)
    assert response.status_code == 400 and response.get_json()["code"] == "csrf"
    session = client.get("/outbox/session", headers=JSON)
    assert session.status_code == 401 and session.get_json()["code"] == "login"
    listing = client.get(f"/outbox/checks/{uuid.uuid4()}/photos/", headers=JSON)
    assert listing.status_code == 401 and listing.get_json()["code"] == "login"
    page = client.get(f"/p/{p.token}")  # a person still gets the login page
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_an_offline_report_from_an_unknown_label_finds_its_point(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Hazard

    auth.login("guard")
    offline_page = client.get("/report?offline=1").get_data(as_text=True)
    assert "data-offline-report" in offline_page and "不在本机的巡查包中" in offline_page
    exit_point = point(app, "P-EXIT")
    photo = jpeg_bytes()
    response = client.post("/report", headers=JSON, content_type="multipart/form-data", data={
        "csrf_token": csrf_from(client.get("/report")), "client_uuid": str(uuid.uuid4()), "label": exit_point.token,
        "category": "fire", "description": "安全出口灯不亮", "photo_sha256": sha(photo)})
    assert response.status_code == 201
    body = response.get_json()
    assert body["missing_photos"] == [sha(photo)] and body["photos_url"].startswith("/outbox/reports/")
    arrived = put_photo(client, body["photos_url"] + sha(photo), photo, csrf_from(client.get("/report")))
    assert arrived.status_code == 201 and arrived.get_json()["missing_photos"] == []
    with app.app_context():
        hazard = db.session.query(Hazard).one()
        assert (hazard.point.code, hazard.description, len(hazard.photos)) == ("P-EXIT", "安全出口灯不亮", 1)
    assert "安全出口灯不亮" in client.get(body["done_url"]).get_data(as_text=True)


def test_the_api_takes_photos_the_same_way(app, campus, client, tokens):
    from patrol.models import Photo

    photo = jpeg_bytes((1, 2, 3), (300, 200))
    client_uuid = str(uuid.uuid4())
    created = client.post("/api/v1/checks", headers=bearer(tokens["guard"]), json={
        "client_uuid": client_uuid, "point": "P-EXIT", "observed_at": "2026-03-02T07:30:00+08:00",
        "results": [{"item": "unblocked", "result": "fail", "note": "堵塞"}, {"item": "signs_lights", "result": "pass"},
                    {"item": "fire_doors", "result": "pass"}],
        "photos": [{"item": "unblocked", "sha256": sha(photo)}]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["check"]["missing_photos"] == [sha(photo)]
    url = f"/api/v1/checks/{client_uuid}/photos/"
    assert client.get(url, headers=bearer(tokens["guard"])).get_json() == {"missing_photos": [sha(photo)]}
    stored = client.put(url + sha(photo), data=photo, headers=bearer(tokens["guard"]))
    assert stored.status_code == 201
    again = client.put(url + sha(photo), data=photo, headers=bearer(tokens["guard"]))
    assert again.status_code == 200 and again.get_json()["created"] is False
    one = client.get(f"/api/v1/checks/{client_uuid}", headers=bearer(tokens["guard"])).get_json()
    assert (one["photos"], one["missing_photos"]) == (1, [])
    listed = client.get("/api/v1/checks?point=P-EXIT", headers=bearer(tokens["officer"])).get_json()["checks"]
    assert [(c["client_uuid"], c["photos"], c["missing_photos"]) for c in listed] == [(client_uuid, 1, [])]
    assert count(app, Photo) == 1
    bad = client.post("/api/v1/checks", headers=bearer(tokens["guard"]), json={
        "client_uuid": str(uuid.uuid4()), "point": "P-EXIT", "observed_at": "2026-03-02T07:30:00+08:00",
        "results": [{"item": "unblocked", "result": "pass"}], "photos": [{"item": "nope", "sha256": "x"}]})
    assert bad.status_code == 422 and "photos" in bad.get_json()["fields"]
    # someone else's check is not theirs to read or add to
    assert client.get(f"/api/v1/checks/{client_uuid}", headers=bearer(tokens["viewer"])).status_code == 200
    assert client.put(url + sha(photo), data=photo, headers=bearer(tokens["officer"])).status_code == 403


def test_the_pack_lists_every_active_form_and_changes_when_they_do(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import ChecklistItem, Point

    auth.login("guard")
    pack = client.get("/outbox/pack", headers=JSON).get_json()
    with app.app_context():
        tokens = [t for (t,) in db.session.query(Point.token).filter_by(active=True)]
    assert {f"/p/{t}" for t in tokens} <= set(pack["urls"])
    assert {"/", "/outbox", "/report", "/report?offline=1"} <= set(pack["urls"])
    for url in pack["urls"]:  # every page of the pack opens for this user
        assert client.get(url).status_code == 200, url
    assert client.get("/outbox/pack").get_json()["version"] == pack["version"]  # stable while nothing changes

    with app.app_context():
        item = db.session.query(ChecklistItem).filter_by(key="unblocked").one()
        item.text_zh = "通道畅通无阻"
        db.session.commit()
    changed = client.get("/outbox/pack").get_json()["version"]
    assert changed != pack["version"]
    with app.app_context():
        db.session.query(Point).filter_by(code="P-EXIT").one().active = False
        db.session.commit()
    retired = client.get("/outbox/pack").get_json()
    assert retired["version"] != changed and len(retired["urls"]) == len(pack["urls"]) - 1
    assert client.get("/outbox/session").get_json()["pack_version"] == retired["version"]


def test_a_repairers_pack_holds_their_hazards_and_photos(app, campus, client, auth):
    from patrol.extensions import db
    from patrol.models import Hazard, Photo, Point, User

    with app.app_context():
        repairer = db.session.query(User).filter_by(username="repairer").one()
        guard = db.session.query(User).filter_by(username="guard").one()
        p = db.session.query(Point).filter_by(code="P-EXIT").one()
        mine = Hazard(campus_id=p.campus_id, point_id=p.id, category="fire", description="门锁坏",
                      status="assigned", assignee_id=repairer.id)
        other = Hazard(campus_id=p.campus_id, point_id=p.id, category="fire", description="别人的",
                       status="assigned", assignee_id=guard.id)
        db.session.add_all([mine, other])
        db.session.flush()
        db.session.add(Photo(sha256="a" * 64, size=1, width=1, height=1, uploaded_by_id=guard.id, hazard_id=mine.id))
        db.session.commit()
        mine_id, other_id = mine.id, other.id
    auth.login("repairer")
    urls = client.get("/outbox/pack").get_json()["urls"]
    assert f"/hazards/{mine_id}" in urls and f"/hazards/{other_id}" not in urls
    assert any(u.startswith("/photos/") for u in urls) and not any(u.startswith("/p/") for u in urls)


def test_service_worker_and_manifest(app, campus, client):
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    body = worker.get_data(as_text=True)
    assert 'importScripts("/static/outbox.js")' in body and "patrol-shell-" in body
    version = body.split('"patrol-shell-')[1].split('"')[0]
    assert len(version) == 12 and "/static/app.js" in body

    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json()
    assert data["start_url"] == "/" and data["display"] == "standalone" and data["name"]
    for icon in data["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200
        if icon["type"] == "image/png":
            with Image.open(io.BytesIO(response.get_data())) as image:
                assert f"{image.width}x{image.height}" == icon["sizes"]
        response.close()
