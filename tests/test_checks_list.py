"""What arrived and when: clock flags on checks, the API listing and the officer's checks page."""
import io
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from helpers import bearer, csrf_from, jpeg_bytes, point

BEIJING = timezone(timedelta(hours=8))


def device_time(**ago) -> str:
    """The phone's time now minus `ago`, as a phone in Beijing sends it."""
    return (datetime.now(BEIJING) - timedelta(**ago)).replace(microsecond=0).isoformat()


def api_check(client, token, observed_at, code="P-EXIT"):
    """Post an all-pass check of the point through the API; the check as the server describes it."""
    items = client.get(f"/api/v1/points/{code}", headers=bearer(token)).get_json()["items"]
    body = {"client_uuid": str(uuid.uuid4()), "point": code, "observed_at": observed_at,
            "results": [{"item": item["key"], "result": "pass"} for item in items]}
    response = client.post("/api/v1/checks", json=body, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["check"]


def form_check(client, code, observed_at):
    """Submit P-EXIT's form as the logged-in user, the first item failed with a photo."""
    p = point(client.application, code)
    page = client.get(f"/p/{p.token}")
    html = page.get_data(as_text=True)
    keys = list(dict.fromkeys(re.findall(r'name="result-([a-z_]+)"', html)))
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    data = {"csrf_token": csrf_from(page), "client_uuid": client_uuid, "observed_at": observed_at,
            **{f"result-{k}": "pass" for k in keys}, "result-unblocked": "fail", "note-unblocked": "出口堆放杂物",
            "photo-unblocked": (io.BytesIO(jpeg_bytes()), "photo.jpg")}
    response = client.post(f"/p/{p.token}", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    return client_uuid


def stored(app, client_uuid):
    from patrol.extensions import db
    from patrol.models import Check

    with app.app_context():
        check = db.session.query(Check).filter_by(client_uuid=client_uuid).one()
        return check.observed_at, check.observed_offset, check.clock_flag


def test_clock_flag_rule():
    from patrol.recording import clock_flag

    received = datetime(2026, 3, 2, 0, 0)
    assert clock_flag(received, received, 7) is None
    assert clock_flag(received + timedelta(minutes=5), received, 7) is None
    assert clock_flag(received + timedelta(minutes=5, seconds=1), received, 7) == "future"
    assert clock_flag(received - timedelta(days=7), received, 7) is None
    assert clock_flag(received - timedelta(days=7, seconds=1), received, 7) == "stale"
    assert clock_flag(received - timedelta(days=2), received, 1) == "stale"


def test_window_is_read_from_the_environment(tmp_path, monkeypatch):
    from patrol.config import from_environment

    monkeypatch.delenv("PATROL_OBSERVED_WINDOW_DAYS", raising=False)
    assert from_environment(tmp_path)["PATROL_OBSERVED_WINDOW_DAYS"] == 7
    monkeypatch.setenv("PATROL_OBSERVED_WINDOW_DAYS", "2")
    assert from_environment(tmp_path)["PATROL_OBSERVED_WINDOW_DAYS"] == 2


@pytest.mark.parametrize("ago, flag", [
    ({"minutes": -10}, "future"),    # the phone's clock runs 10 minutes ahead
    ({"minutes": -3}, None),         # a little ahead is normal clock drift
    ({"hours": 2}, None),
    ({"days": 8}, "stale"),
])
def test_api_check_is_accepted_and_flagged_never_rewritten(app, campus, client, tokens, ago, flag):
    sent = device_time(**ago)
    check = api_check(client, tokens["guard"], sent)
    assert check["clock_flag"] == flag
    assert check["observed_at"] == sent  # exactly as the phone said
    observed, offset, stored_flag = stored(app, check["client_uuid"])
    assert observed == datetime.fromisoformat(sent).astimezone(timezone.utc).replace(tzinfo=None)
    assert offset == 480 and stored_flag == flag


def test_a_smaller_window_flags_sooner(app, campus, client, tokens):
    app.config["PATROL_OBSERVED_WINDOW_DAYS"] = 1
    assert api_check(client, tokens["guard"], device_time(hours=20))["clock_flag"] is None
    assert api_check(client, tokens["guard"], device_time(days=2))["clock_flag"] == "stale"


def test_form_check_from_long_ago_is_flagged_with_its_time_kept(app, campus, client, auth, tokens):
    auth.login("guard")
    client_uuid = form_check(client, "P-EXIT", "2020-01-01T08:00:00+08:00")
    observed, offset, flag = stored(app, client_uuid)
    assert observed == datetime(2020, 1, 1, 0, 0) and offset == 480 and flag == "stale"
    listed = client.get("/api/v1/checks", headers=bearer(tokens["officer"])).get_json()["checks"]
    assert [(c["client_uuid"], c["observed_at"], c["clock_flag"], c["photos"]) for c in listed] == [
        (client_uuid, "2020-01-01T08:00:00+08:00", "stale", 1)]


def test_form_check_made_now_is_not_flagged(app, campus, client, auth):
    auth.login("guard")
    assert stored(app, form_check(client, "P-EXIT", device_time(minutes=1)))[2] is None


def test_api_listing_newest_received_first_with_photo_counts(app, campus, client, auth, tokens):
    first = api_check(client, tokens["guard"], device_time(hours=1))
    auth.login("guard")
    second = form_check(client, "P-EXIT", device_time(minutes=30))
    third = api_check(client, tokens["officer"], device_time(minutes=5), code="P-EXIT")
    response = client.get("/api/v1/checks", headers=bearer(tokens["viewer"]))
    data = response.get_json()
    assert response.status_code == 200 and data["more"] is False and data["generated_at"].endswith("Z")
    assert [c["client_uuid"] for c in data["checks"]] == [third["client_uuid"], second, first["client_uuid"]]
    assert [c["photos"] for c in data["checks"]] == [0, 1, 0]
    row = data["checks"][1]
    assert row["point"] == "P-EXIT" and row["user"] == "guard" and row["received_at"].endswith("Z")
    assert {"item": "unblocked", "result": "fail", "note": "出口堆放杂物"} in row["results"]
    limited = client.get("/api/v1/checks?limit=2", headers=bearer(tokens["admin"])).get_json()
    assert len(limited["checks"]) == 2 and limited["more"] is True


def test_api_listing_filters_by_point_and_since(app, campus, client, tokens):
    from patrol.extensions import db
    from patrol.models import Check

    old = api_check(client, tokens["guard"], device_time(days=3))
    new = api_check(client, tokens["guard"], device_time(minutes=2))
    other = api_check(client, tokens["guard"], device_time(minutes=1), code="P-CLASSROOM")
    with app.app_context():  # the first arrived three days ago
        check = db.session.query(Check).filter_by(client_uuid=old["client_uuid"]).one()
        check.received_at -= timedelta(days=3)
        db.session.commit()

    def listed(query):
        response = client.get(f"/api/v1/checks?{query}", headers=bearer(tokens["officer"]))
        assert response.status_code == 200, response.get_json()
        return [c["client_uuid"] for c in response.get_json()["checks"]]

    assert listed("point=P-EXIT") == [new["client_uuid"], old["client_uuid"]]
    since = (datetime.now(BEIJING) - timedelta(days=1)).isoformat()
    assert listed(f"since={since.replace('+', '%2B')}") == [other["client_uuid"], new["client_uuid"]]
    assert listed(f"point=P-EXIT&since={since.replace('+', '%2B')}") == [new["client_uuid"]]
    assert listed("since=2000-01-01T00:00:00Z") == [other["client_uuid"], new["client_uuid"], old["client_uuid"]]


@pytest.mark.parametrize("query, field", [
    ("point=NOPE", "point"),
    ("since=2026-03-02T07:30:00", "since"),   # no offset
    ("since=yesterday", "since"),
    ("limit=0", "limit"),
    ("limit=many", "limit"),
    ("limit=1001", "limit"),
])
def test_api_listing_invalid_input_is_422_with_fields(app, campus, client, tokens, query, field):
    response = client.get(f"/api/v1/checks?{query}", headers=bearer(tokens["officer"]))
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {field}


def test_api_listing_roles(app, campus, client, tokens):
    mine = api_check(client, tokens["guard"], device_time(minutes=3))
    theirs = api_check(client, tokens["officer"], device_time(minutes=2))
    for role in ("officer", "admin", "viewer"):
        checks = client.get("/api/v1/checks", headers=bearer(tokens[role])).get_json()["checks"]
        assert [c["client_uuid"] for c in checks] == [theirs["client_uuid"], mine["client_uuid"]], role
    guard = client.get("/api/v1/checks", headers=bearer(tokens["guard"])).get_json()["checks"]
    assert [c["client_uuid"] for c in guard] == [mine["client_uuid"]]  # a guard sees only their own
    assert client.get("/api/v1/checks", headers=bearer(tokens["repairer"])).status_code == 403
    assert client.get("/api/v1/checks").status_code == 401


def test_checks_page_shows_flags_and_filters(app, campus, client, auth, tokens):
    future = api_check(client, tokens["guard"], device_time(minutes=-30), code="P-CLASSROOM")
    normal = api_check(client, tokens["guard"], device_time(minutes=20))
    auth.login("guard")
    form_check(client, "P-EXIT", "2020-01-01T08:00:00+08:00")
    assert "/checks" not in client.get("/").get_data(as_text=True)  # not in a guard's nav
    auth.logout()
    auth.login("officer")
    response = client.get("/checks")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'href="/checks"' in html
    assert "3 条检查记录" in html
    assert f'id="check-{future["id"]}"' in html and f'id="check-{normal["id"]}"' in html
    assert "设备时间超前" in html and "手机时钟可能不准" in html
    assert "迟到上报" in html and "早 7 天以上" in html
    assert "2020-01-01 08:00" in html  # the phone's time, in campus time, as sent
    assert "晚到 20 分钟" in html or "晚到 19 分钟" in html
    # plain GET, no JavaScript: only the flagged ones
    flagged = client.get("/checks?flagged=1").get_data(as_text=True)
    assert "2 条检查记录" in flagged and f'id="check-{normal["id"]}"' not in flagged
    assert 'name="flagged" value="1" checked' in flagged
    # htmx: the partial alone, keyed on the header
    partial = client.get("/checks?point=P-EXIT", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    assert body.lstrip().startswith('<section id="check-list"') and "<html" not in body
    assert "2 条检查记录" in body and f'id="check-{future["id"]}"' not in body
    # since a day on the campus calendar: none arrived tomorrow
    tomorrow = (datetime.now(BEIJING) + timedelta(days=1)).date().isoformat()
    assert "没有符合筛选条件的检查记录" in client.get(f"/checks?since={tomorrow}").get_data(as_text=True)
    assert "3 条检查记录" in client.get("/checks?since=2020-01-01").get_data(as_text=True)
    unknown = client.get("/checks?point=NOPE").get_data(as_text=True)
    assert "没有此编号的点位" in unknown and "0 条检查记录" in unknown


def test_checks_page_paginates(app, campus, client, auth, tokens):
    for _n in range(51):
        api_check(client, tokens["guard"], device_time(minutes=1))
    auth.login("viewer")
    first = client.get("/checks?point=P-EXIT").get_data(as_text=True)
    assert first.count('<tr id="check-') == 50 and "/checks?page=2&amp;point=P-EXIT" in first
    second = client.get("/checks?page=2&point=P-EXIT").get_data(as_text=True)
    assert second.count('<tr id="check-') == 1
