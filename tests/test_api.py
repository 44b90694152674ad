"""JSON API v1 over HTTP with bearer tokens made by `patrol token create`."""
import uuid

import pytest
from helpers import bearer, point
from sqlalchemy import func, select


def check_body(**overrides):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "point": "P-EXIT",
        "observed_at": "2026-03-02T07:30:00+08:00",
        "results": [
            {"item": "unblocked", "result": "fail", "note": "出口堆放杂物"},
            {"item": "signs_lights", "result": "pass"},
            {"item": "fire_doors", "result": "na", "note": ""},
        ],
    }
    body.update(overrides)
    return body


def test_points_list_and_detail(app, campus, client, tokens):
    response = client.get("/api/v1/points", headers=bearer(tokens["viewer"]))
    data = response.get_json()
    assert response.status_code == 200
    codes = [p["code"] for p in data["points"]]
    assert codes == sorted(codes) and "P-EXIT" in codes and len(codes) == 9
    exit_point = point(app, "P-EXIT")
    detail = client.get("/api/v1/points/P-EXIT", headers=bearer(tokens["guard"])).get_json()
    assert detail["scan_url"] == f"http://patrol.test/p/{exit_point.token}"
    assert [i["key"] for i in detail["items"]] == ["unblocked", "signs_lights", "fire_doors"]
    assert detail["items"][0]["text_en"] == "Exits and stairs clear and unlocked"
    assert detail["cadence"] == "daily" and detail["type"] == "exit"
    missing = client.get("/api/v1/points/NOPE", headers=bearer(tokens["guard"]))
    assert missing.status_code == 404 and "error" in missing.get_json()


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc", "Bearer "])
def test_requests_without_a_valid_token_are_401(app, campus, client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/points", headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]


def test_post_check_201_then_replay_200_then_conflict_409(app, campus, client, tokens):
    from patrol.extensions import db
    from patrol.models import Check, Hazard

    body = check_body()
    first = client.post("/api/v1/checks", json=body, headers=bearer(tokens["guard"]))
    data = first.get_json()
    assert first.status_code == 201, data
    assert data["check"]["client_uuid"] == body["client_uuid"]
    assert data["check"]["observed_at"] == "2026-03-02T07:30:00+08:00"
    assert data["check"]["user"] == "guard"
    assert [h["item"] for h in data["hazards_opened"]] == ["unblocked"]
    assert data["hazards_opened"][0]["status"] == "reported"
    assert data["hazards_opened"][0]["severity"] == "major"

    replay = client.post("/api/v1/checks", json=body, headers=bearer(tokens["guard"]))
    assert replay.status_code == 200
    assert replay.get_json()["check"]["id"] == data["check"]["id"]
    assert [h["id"] for h in replay.get_json()["hazards_opened"]] == [data["hazards_opened"][0]["id"]]

    changed = dict(body, results=[dict(r, result="pass") for r in body["results"]])
    conflict = client.post("/api/v1/checks", json=changed, headers=bearer(tokens["guard"]))
    assert conflict.status_code == 409 and "提交编号已用于另一条检查" in conflict.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Check)) == 1
        assert db.session.scalar(select(func.count()).select_from(Hazard)) == 1


def test_repeat_fail_via_api_is_seen_again(app, campus, client, tokens):
    client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"]))
    second = client.post("/api/v1/checks", json=check_body(observed_at="2026-03-03T07:30:00+08:00"),
                         headers=bearer(tokens["officer"]))
    data = second.get_json()
    assert second.status_code == 201
    assert data["hazards_opened"] == [] and data["hazards_seen_again"][0]["times_seen"] == 2
    listed = client.get("/api/v1/hazards?status=reported", headers=bearer(tokens["viewer"])).get_json()
    assert [(h["point"], h["item"], h["times_seen"]) for h in listed["hazards"]] == [("P-EXIT", "unblocked", 2)]


@pytest.mark.parametrize("change,field", [
    ({"client_uuid": "not-a-uuid"}, "client_uuid"),
    ({"point": "NOPE"}, "point"),
    ({"observed_at": "2026-03-02T07:30:00"}, "observed_at"),
    ({"observed_at": "yesterday"}, "observed_at"),
    ({"results": []}, "results"),
    ({"results": [{"item": "unblocked", "result": "maybe"}, {"item": "signs_lights", "result": "pass"},
                  {"item": "fire_doors", "result": "pass"}]}, "results.unblocked"),
    ({"results": [{"item": "unblocked", "result": "fail"}, {"item": "signs_lights", "result": "pass"},
                  {"item": "fire_doors", "result": "pass"}]}, "results.unblocked"),
    ({"results": [{"item": "signs_lights", "result": "pass"}, {"item": "fire_doors", "result": "pass"}]},
     "results.unblocked"),
    ({"results": [{"item": "bogus", "result": "pass"}, {"item": "unblocked", "result": "pass"},
                  {"item": "signs_lights", "result": "pass"}, {"item": "fire_doors", "result": "pass"}]},
     "results"),
])
def test_invalid_checks_get_field_errors_and_store_nothing(app, campus, client, tokens, change, field):
    from patrol.extensions import db
    from patrol.models import Check

    response = client.post("/api/v1/checks", json=check_body(**change), headers=bearer(tokens["guard"]))
    assert response.status_code == 422
    assert field in response.get_json()["fields"], response.get_json()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Check)) == 0


def test_non_json_body_is_400(app, campus, client, tokens):
    response = client.post("/api/v1/checks", data="nope", headers=bearer(tokens["guard"]))
    assert response.status_code == 400 and response.get_json()["error"]


@pytest.mark.parametrize("role", ["viewer", "repairer"])
def test_roles_that_may_not_post_checks(app, campus, client, tokens, role):
    response = client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens[role]))
    assert response.status_code == 403


def test_hazards_since_filter(app, campus, client, tokens):
    client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"]))
    later = check_body(point="P-GATE", observed_at="2026-04-01T20:00:00+08:00",
                       results=[{"item": "visitor_log", "result": "pass"}, {"item": "gate_locked", "result": "pass"},
                                {"item": "cctv", "result": "fail", "note": "2号摄像头黑屏"},
                                {"item": "fence", "result": "pass"}])
    assert client.post("/api/v1/checks", json=later, headers=bearer(tokens["guard"])).status_code == 201
    since = client.get("/api/v1/hazards?since=2026-03-15T00:00:00%2B08:00", headers=bearer(tokens["officer"]))
    assert [h["item"] for h in since.get_json()["hazards"]] == ["cctv"]
    everything = client.get("/api/v1/hazards", headers=bearer(tokens["officer"])).get_json()["hazards"]
    assert [h["item"] for h in everything] == ["unblocked", "cctv"]  # major first
    bad = client.get("/api/v1/hazards?since=soon", headers=bearer(tokens["officer"]))
    assert bad.status_code == 422
    bad = client.get("/api/v1/hazards?status=lost", headers=bearer(tokens["officer"]))
    assert bad.status_code == 422


def test_revoked_token_and_inactive_user_are_refused(app, campus, client, tokens):
    from patrol.extensions import db
    from patrol.models import User

    assert client.get("/api/v1/points", headers=bearer(tokens["guard"])).status_code == 200
    with app.app_context():
        db.session.scalar(select(User).filter_by(username="guard")).active = False
        db.session.commit()
    assert client.get("/api/v1/points", headers=bearer(tokens["guard"])).status_code == 401


def test_token_create_for_unknown_user_fails(app, campus):
    result = app.test_cli_runner().invoke(args=["token", "create", "nobody"])
    assert result.exit_code != 0 and "No user nobody" in result.output


def test_hazard_loop_through_the_api(app, campus, client, tokens):
    """assign → rectify (base64 photo) → verify, with the same refusals as the screens."""
    import base64

    from helpers import jpeg_bytes

    opened = client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"])).get_json()
    hazard_id = opened["hazards_opened"][0]["id"]
    url = f"/api/v1/hazards/{hazard_id}/actions"

    refused = client.post(url, json={"action": "assign", "assignee": "repairer"}, headers=bearer(tokens["guard"]))
    assert refused.status_code == 403
    wrong_state = client.post(url, json={"action": "verify"}, headers=bearer(tokens["officer"]))
    assert wrong_state.status_code == 409 and wrong_state.get_json()["error"]
    bad = client.post(url, json={"action": "assign", "assignee": "nobody"}, headers=bearer(tokens["officer"]))
    assert bad.status_code == 422 and "assignee" in bad.get_json()["fields"]
    unknown = client.post(url, json={"action": "explode"}, headers=bearer(tokens["officer"]))
    assert unknown.status_code == 422 and "action" in unknown.get_json()["fields"]

    assigned = client.post(url, json={"action": "assign", "assignee": "repairer", "deadline": "2099-01-31",
                                      "measures": "已设置警示带"}, headers=bearer(tokens["officer"]))
    body = assigned.get_json()
    assert assigned.status_code == 200, body
    assert body["hazard"]["status"] == "assigned" and body["hazard"]["assignee"] == "repairer"
    assert body["hazard"]["deadline"] == "2099-01-31" and body["hazard"]["overdue"] is False
    assert body["event"]["action"] == "assign" and body["event"]["new_assignee"] == "repairer"

    no_photo = client.post(url, json={"action": "rectify", "note": "已清理"}, headers=bearer(tokens["repairer"]))
    assert no_photo.status_code == 422 and "photo" in no_photo.get_json()["fields"]
    not_image = client.post(url, json={"action": "rectify", "note": "已清理", "photos": ["bm90IGFuIGltYWdl"]},
                            headers=bearer(tokens["repairer"]))
    assert not_image.status_code == 422 and "photo" in not_image.get_json()["fields"]
    photo = base64.b64encode(jpeg_bytes()).decode()
    fixed = client.post(url, json={"action": "rectify", "note": "已清理", "photos": [photo]},
                        headers=bearer(tokens["repairer"]))
    assert fixed.status_code == 200 and fixed.get_json()["hazard"]["rectified_by"] == "repairer"
    assert fixed.get_json()["event"]["photos"] == 1

    verified = client.post(url, json={"action": "verify"}, headers=bearer(tokens["officer"]))
    assert verified.status_code == 200 and verified.get_json()["hazard"]["status"] == "verified"

    detail = client.get(f"/api/v1/hazards/{hazard_id}", headers=bearer(tokens["viewer"])).get_json()
    assert [e["action"] for e in detail["events"]] == ["reported", "assign", "rectify", "verify"]
    assert detail["verified_by"] == "officer" and detail["allowed_actions"] == []
    assert client.get("/api/v1/hazards/99999", headers=bearer(tokens["viewer"])).status_code == 404


def test_officer_cannot_verify_own_fix_through_the_api(app, campus, client, tokens):
    import io

    from helpers import jpeg_bytes

    opened = client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"])).get_json()
    url = f"/api/v1/hazards/{opened['hazards_opened'][0]['id']}/actions"
    client.post(url, json={"action": "assign", "assignee": "officer"}, headers=bearer(tokens["officer"]))
    # multipart works too, for clients that upload files
    fixed = client.post(url, data={"action": "rectify", "note": "自己修好了",
                                   "photo": (io.BytesIO(jpeg_bytes()), "after.jpg")},
                        headers=bearer(tokens["officer"]), content_type="multipart/form-data")
    assert fixed.status_code == 200
    own = client.post(url, json={"action": "verify"}, headers=bearer(tokens["officer"]))
    assert own.status_code == 409
    other = client.post(url, json={"action": "verify"}, headers=bearer(tokens["admin"]))
    assert other.status_code == 200 and other.get_json()["hazard"]["verified_by"] == "admin"
