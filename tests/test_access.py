"""Authorization matrix: every route × every role (and anonymous) against the expected outcome."""
import io
import uuid

import pytest
from helpers import ROLES, csrf_from, jpeg_bytes

ALL = set(ROLES)
STAFF = {"officer", "admin", "viewer"}
CHECKERS = {"guard", "officer", "admin"}
ADMIN = {"admin"}
MANAGERS = {"officer", "admin"}
WORKERS = {"guard", "repairer", "officer", "admin"}

# endpoint -> roles allowed; None = public. Every endpoint of the app must be listed here.
POLICY = {
    "static": None,
    "auth.login": None,
    "auth.set_locale": None,
    "auth.logout": None,
    "auth.change_password": ALL,
    "home.index": ALL,
    "scan.check_form": ALL,
    "scan.submit_check": CHECKERS,
    "scan.go": ALL,
    "scan.report": CHECKERS,
    "hazards.index": STAFF,
    "hazards.detail": STAFF,  # and the hazard's assignee: tested in test_hazard_loop.py
    "hazards.queue": STAFF,
    "hazards.bulk_assign": MANAGERS,
    "checks.index": STAFF,
    "reports.monthly": STAFF,
    "reports.monthly_xlsx": STAFF,
    "reports.monthly_json": STAFF,
    "reports.close": MANAGERS,
    "reports.reopen": MANAGERS,
    "api.monthly_report": "api",
    "district.rollup": STAFF,
    "district.campuses": STAFF,
    "campus.index": ALL,
    "campus.enter": ALL,  # only into one's own campuses: tested in test_campuses.py
    "dashboard.index": STAFF,
    "dashboard.coverage": STAFF,
    "dashboard.due": CHECKERS,
    "hazards.act": MANAGERS,  # with action=dismiss; who may take which action: test_hazard_loop.py
    "tasks.index": WORKERS,
    "notifications.index": ALL,
    "notifications.read_all": ALL,
    "notifications.badges": None,  # anonymous get 204, not the login page: tested in test_hazard_loop.py
    "hazards.photo": "photo",  # depends on the photo: tested in test_app.py
    "api.points": "api",
    "api.point": "api",
    "api.create_check": "api",
    "api.checks": "api",
    "api.hazards": "api",
    "api.hazard": "api",
    "api.hazard_action": "api",
    "api.check": "api",
    "api.check_photo": "api",
    "scan.check_sent": ALL,
    "scan.report_sent": CHECKERS,
    "outbox.service_worker": None,
    "outbox.manifest": None,
    "outbox.index": ALL,
    "outbox.session": ALL,
    "outbox.pack": ALL,
    "outbox.check_photo": CHECKERS,
    "outbox.report_photo": CHECKERS,
    "admin.labels": {"admin", "officer"},
    "admin.labels_file": {"admin", "officer"},
    "admin.audit": ADMIN,
}


def policy(endpoint):
    if endpoint in POLICY:
        return POLICY[endpoint]
    if endpoint.startswith("admin."):
        return ADMIN
    raise AssertionError(f"{endpoint} has no expected access in the matrix: add it")


def test_every_route_is_in_the_matrix(app):
    for rule in app.url_map.iter_rules():
        policy(rule.endpoint)


@pytest.fixture
def ids(app, campus):
    """Real ids for every URL parameter, made on the campus fixture."""
    from patrol.extensions import db
    from patrol.models import ChecklistItem, Hazard, Point, PointType, User

    with app.app_context():
        point = db.session.query(Point).filter_by(code="P-EXIT").one()
        point_type = db.session.query(PointType).filter_by(key="exit").one()
        item = db.session.query(ChecklistItem).filter_by(point_type_id=point_type.id, key="unblocked").one()
        guard = db.session.query(User).filter_by(username="guard").one()
        hazard = Hazard(campus_id=point.campus_id, point_id=point.id, area_id=point.area_id, category="fire",
                        description="x", status="reported")
        db.session.add(hazard)
        db.session.commit()
        return {"token": point.token, "point_id": point.id, "area_id": point.area_id, "type_id": point_type.id,
                "item_id": item.id, "user_id": guard.id, "hazard_id": hazard.id, "code": point.code,
                "action": "dismiss", "photo_id": 1, "filename": "app.css", "month": "2026-03",
                "client_uuid": str(uuid.uuid4()), "sha256": "0" * 64}


def routes(app, ids):
    """(endpoint, method, url) for every route, with real parameters."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # Built for this rule and method: one endpoint may have several rules (GET a list, PUT an item).
            yield rule.endpoint, method, adapter.build(rule.endpoint, {name: ids[name] for name in rule.arguments},
                                                       method=method)


def request(client, method, url):
    if method == "GET":
        return client.get(url)
    token = csrf_from(client.get("/login"))
    return client.open(url, method=method, data={"csrf_token": token, "client_uuid": str(uuid.uuid4()),
                                  "photo": (io.BytesIO(jpeg_bytes()), "x.jpg")},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_access_matrix(app, campus, ids, client, auth, role):
    if role != "anonymous":
        auth.login(role)
    checked = 0
    for endpoint, method, url in routes(app, ids):
        expected = policy(endpoint)
        if expected in ("photo",) or (endpoint, method) in {("auth.logout", "POST")}:
            continue
        response = request(client, method, url)
        response.close()  # static files are streamed
        status = response.status_code
        where = f"{role} {method} {url} -> {status}"
        if expected == "api":
            assert status == 401, where  # session cookies never authorize the API
        elif expected is None:
            assert status < 500 and status != 403, where
        elif role == "anonymous":
            assert status == 302 and "/login" in response.headers["Location"], where
        elif role in expected:
            assert status not in (401, 403, 500) and not (
                status == 302 and "/login" in response.headers.get("Location", "")), where
        else:
            assert status == 403, where
        checked += 1
    assert checked > 40


def test_logout_is_post_only_and_ends_the_session(app, campus, client, auth):
    auth.login("guard")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get("/").status_code == 302
