"""The hazard loop over real HTTP: assign, rectify with a photo, verify; every refusal; queue, tasks, badges."""
import io
import re
from datetime import timedelta

import pytest
from helpers import PASSWORD, Auth, csrf_from, jpeg_bytes, point
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash


# ---- helpers -------------------------------------------------------------------------------------

def today():
    from patrol.hazard_flow import local_today

    return local_today("Asia/Shanghai")  # the campus fixture's timezone


def login(app, username, locale="en"):
    """A client of its own for this user, in English so the assertions read the msgids."""
    client = app.test_client()
    response = Auth(client).login(username)
    assert response.status_code == 302, response.get_data(as_text=True)
    client.csrf = csrf_from(client.get("/"))
    if locale == "en":
        client.post("/locale", data={"csrf_token": client.csrf, "locale": "en", "next": "/"})
    return client


def post(client, url, data=None, photo=None, htmx=False):
    payload = {"csrf_token": client.csrf, **(data or {})}
    if photo is not None:
        payload["photo"] = (io.BytesIO(photo), "after.jpg")
    headers = {"HX-Request": "true", "HX-Boosted": "true"} if htmx else {}
    return client.post(url, data=payload, headers=headers,
                       content_type="multipart/form-data" if photo is not None else None)


def act(client, hazard_id, action, data=None, photo=None, htmx=False):
    return post(client, f"/hazards/{hazard_id}/actions/{action}", data, photo, htmx)


def user_id(app, username):
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def add_user(app, username, role):
    from patrol.extensions import db
    from patrol.models import Campus, User

    with app.app_context():
        campus_id = db.session.scalar(select(Campus.id))
        user = User(username=username, name=f"{username} 师傅", role=role, campus_id=campus_id, locale="zh",
                    password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
        db.session.add(user)
        db.session.commit()
        return user.id


def make_hazard(app, code="P-CLASS-2", severity="general", description="窗户玻璃破裂"):
    """A reported hazard at a point, as a guard's failed check would leave it."""
    from patrol.extensions import db
    from patrol.models import Hazard, HazardEvent, User

    p = point(app, code)
    with app.app_context():
        guard = db.session.scalar(select(User).where(User.username == "guard"))
        hazard = Hazard(campus_id=p.campus_id, point_id=p.id, area_id=p.area_id, location=p.location,
                        category="building", severity=severity, status="reported", description=description,
                        reported_by_id=guard.id)
        db.session.add(hazard)
        db.session.flush()
        db.session.add(HazardEvent(hazard=hazard, actor_id=guard.id, action="reported", to_status="reported"))
        db.session.commit()
        return hazard.id


def advance(app, hazard_id, username, action, **values):
    """Move a hazard on through hazard_flow directly (the set-up, not what is under test)."""
    from patrol import photos
    from patrol.extensions import db
    from patrol.hazard_flow import ActionInput, perform
    from patrol.models import Hazard, User

    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == username))
        stored = [photos.store(jpeg_bytes((20, 160, 20)))] if action == "rectify" else []
        perform(db.session.get(Hazard, hazard_id), user, action, ActionInput.from_mapping(values, photos=stored))


def assigned_hazard(app, assignee="repairer", **kwargs):
    hazard_id = make_hazard(app, **kwargs)
    advance(app, hazard_id, "officer", "assign", assignee=user_id(app, assignee))
    return hazard_id


def rectified_hazard(app, rectifier="repairer", **kwargs):
    hazard_id = assigned_hazard(app, **kwargs)
    advance(app, hazard_id, rectifier, "rectify", note="已修好")
    return hazard_id


def snapshot(app, hazard_id):
    """The hazard row and how many events, notifications and photos it has: to prove a refusal changed nothing."""
    from patrol.extensions import db
    from patrol.models import Hazard, HazardEvent, Notification, Photo

    with app.app_context():
        hazard = db.session.get(Hazard, hazard_id)
        row = {column.key: getattr(hazard, column.key) for column in Hazard.__table__.columns}
        counts = {model.__name__: db.session.scalar(select(func.count()).select_from(model)
                                                    .where(model.hazard_id == hazard_id))
                  for model in (HazardEvent, Notification, Photo)}
        return row, counts


def hazard(app, hazard_id):
    from patrol.extensions import db
    from patrol.models import Hazard

    with app.app_context():
        found = db.session.get(Hazard, hazard_id)
        db.session.expunge(found)
        return found


def events(app, hazard_id):
    from patrol.extensions import db
    from patrol.models import HazardEvent

    with app.app_context():
        found = db.session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                                   .order_by(HazardEvent.id)).all()
        db.session.expunge_all()
        return found


def notifications(app, hazard_id):
    """(username, kind) of every notification about the hazard."""
    from patrol.extensions import db
    from patrol.models import Notification, User

    with app.app_context():
        return sorted(db.session.execute(select(User.username, Notification.kind).join(
            User, User.id == Notification.user_id).where(Notification.hazard_id == hazard_id)).all())


def section(html, dom_id):
    """The markup of one element with this id, up to the next element of the same kind at its level."""
    match = re.search(rf'<(section|article|form|li|tr|nav|dd|p|div|details)\b[^>]*\bid="{dom_id}"', html)
    assert match, f"#{dom_id} not on the page"
    tag = match.group(1)
    depth, position = 0, match.start()
    for found in re.finditer(rf"<(/?){tag}\b", html[position:]):
        depth += -1 if found.group(1) else 1
        if depth == 0:
            return html[position:position + found.end()]
    raise AssertionError(f"#{dom_id} is not closed")


def fetch_status(client, url):
    """The status of a GET, the response closed (photos are streamed files)."""
    response = client.get(url)
    response.close()
    return response.status_code


def text(response):
    return response.get_data(as_text=True)


def fail_item(app, client, code, key, note):
    """The guard's check at a point with one item failed, with a photo; returns the new hazard's id."""
    from patrol.extensions import db
    from patrol.models import Hazard

    p = point(app, code)
    html = text(client.get(f"/p/{p.token}"))
    keys = list(dict.fromkeys(re.findall(r'name="result-([a-z_]+)"', html)))
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    data = {"csrf_token": client.csrf, "client_uuid": client_uuid, **{f"result-{k}": "pass" for k in keys},
            f"result-{key}": "fail", f"note-{key}": note, f"photo-{key}": (io.BytesIO(jpeg_bytes()), "b.jpg")}
    response = client.post(f"/p/{p.token}", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, text(response)
    with app.app_context():
        return db.session.scalar(select(Hazard.id).where(Hazard.point_id == p.id, Hazard.item_key == key))


# ---- the whole loop ------------------------------------------------------------------------------

def test_whole_loop_guard_officer_repairer_officer(app, campus):
    from patrol.extensions import db
    from patrol.models import Campus, Photo

    guard, officer, repairer = login(app, "guard"), login(app, "officer"), login(app, "repairer")
    hazard_id = fail_item(app, guard, "P-EXTINGUISHER", "pressure", "压力表指针在红区")
    assert notifications(app, hazard_id) == [("officer", "reported")]

    # the officer sees it first in the queue's new section, and assigns it with the default deadline
    queue = text(officer.get("/hazards/queue"))
    assert f'id="hazard-{hazard_id}"' in section(queue, "queue-new")
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assign_form = section(page, "action-assign")
    options = re.findall(r'<option value="(\d+)"', section(assign_form, "action-assign"))
    assert options[0] == str(user_id(app, "repairer"))  # repairers first
    assert "campus default" in assign_form
    response = act(officer, hazard_id, "assign", {"assignee": user_id(app, "repairer"), "severity": "",
                                                  "deadline": "", "measures": "放置备用灭火器"})
    assert response.status_code == 303 and response.headers["Location"] == f"/hazards/{hazard_id}"
    with app.app_context():
        days = db.session.scalar(select(Campus.deadline_days_major))
    found = hazard(app, hazard_id)
    assert (found.status, found.assignee_id, found.deadline, found.measures) == (
        "assigned", user_id(app, "repairer"), today() + timedelta(days=days), "放置备用灭火器")
    last = events(app, hazard_id)[-1]
    assert (last.action, last.actor_id, last.from_status, last.to_status) == (
        "assign", user_id(app, "officer"), "reported", "assigned")
    assert (last.old_assignee_id, last.new_assignee_id) == (None, user_id(app, "repairer"))
    assert (last.old_deadline, last.new_deadline) == (None, today() + timedelta(days=days))
    assert ("repairer", "assigned") in notifications(app, hazard_id)
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assert "Assign: hazard" not in page  # the flash was shown once, on the redirect target
    assert "Repairer 用户" in section(page, f"hazard-{hazard_id}")

    # the repairer finds it in My tasks with the before photo, and marks it fixed with an after photo
    tasks = text(repairer.get("/tasks"))
    card = section(tasks, f"task-{hazard_id}")
    assert "压力表指针在红区" in card and (today() + timedelta(days=days)).isoformat() in card
    with app.app_context():
        before = db.session.scalar(select(Photo.id).where(Photo.hazard_id == hazard_id, Photo.kind == "before"))
    assert f"/photos/{before}" in card
    assert fetch_status(repairer, f"/photos/{before}") == 200
    assert 'capture="environment"' in section(card, f"rectify-{hazard_id}")
    assert 'name="next" value="/tasks"' in card
    response = act(repairer, hazard_id, "rectify", {"note": "已更换合格灭火器", "next": "/tasks"},
                   photo=jpeg_bytes((30, 200, 30)))
    assert response.status_code == 303 and response.headers["Location"] == "/tasks"
    found = hazard(app, hazard_id)
    assert (found.status, found.rectified_by_id) == ("rectified", user_id(app, "repairer"))
    last = events(app, hazard_id)[-1]
    assert (last.action, last.actor_id, last.from_status, last.to_status, last.note) == (
        "rectify", user_id(app, "repairer"), "assigned", "rectified", "已更换合格灭火器")
    with app.app_context():
        after = db.session.scalars(select(Photo).where(Photo.hazard_id == hazard_id, Photo.kind == "after")).all()
        assert [(p.event_id, p.uploaded_by_id) for p in after] == [(last.id, user_id(app, "repairer"))]
        after_id = after[0].id
    assert ("officer", "rectified") in notifications(app, hazard_id)
    tasks = text(repairer.get("/tasks"))
    assert f'id="task-{hazard_id}"' in section(tasks, "tasks-waiting")
    assert f'id="rectify-{hazard_id}"' not in tasks
    assert repairer.get(f"/hazards/{hazard_id}").status_code == 200  # the assignee may open it

    # the officer sees before and after side by side, and verifies
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assert f"/photos/{before}" in section(page, "photos-before")
    assert f"/photos/{after_id}" not in section(page, "photos-before")
    assert f"/photos/{after_id}" in section(page, "photos-after")
    assert f"/photos/{after_id}" in section(page, f"event-{last.id}")  # and with the event that brought it
    response = act(officer, hazard_id, "verify")
    assert response.status_code == 303
    found = hazard(app, hazard_id)
    assert (found.status, found.verified_by_id, found.open_key) == ("verified", user_id(app, "officer"), None)
    assert found.closed_at is not None
    assert [e.action for e in events(app, hazard_id)] == ["reported", "assign", "rectify", "verify"]
    assert ("repairer", "verified") in notifications(app, hazard_id)
    assert f'id="hazard-{hazard_id}"' not in text(officer.get("/hazards/queue"))
    assert f'id="task-{hazard_id}"' not in text(repairer.get("/tasks"))
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assert "Verified" in section(page, "hazard-status") and 'id="action-' not in page


def test_reject_sends_the_fix_back_with_a_new_deadline(app, campus):
    hazard_id = rectified_hazard(app)
    old = hazard(app, hazard_id).deadline
    officer, repairer = login(app, "officer"), login(app, "repairer")
    new_deadline = today() + timedelta(days=5)
    response = act(officer, hazard_id, "reject", {"note": "仍有漏水", "deadline": new_deadline.isoformat()})
    assert response.status_code == 303
    found = hazard(app, hazard_id)
    assert (found.status, found.deadline, found.assignee_id) == ("assigned", new_deadline, user_id(app, "repairer"))
    last = events(app, hazard_id)[-1]
    assert (last.action, last.actor_id, last.from_status, last.to_status, last.note) == (
        "reject", user_id(app, "officer"), "rectified", "assigned", "仍有漏水")
    assert (last.old_deadline, last.new_deadline) == (old, new_deadline)
    assert ("repairer", "rejected") in notifications(app, hazard_id)
    card = section(text(repairer.get("/tasks")), f"task-{hazard_id}")
    assert f'id="rectify-{hazard_id}"' in card and new_deadline.isoformat() in card
    page = text(officer.get(f"/hazards/{hazard_id}"))
    change = section(page, f"event-{last.id}")
    assert f"{old.isoformat()} → {new_deadline.isoformat()}" in change and "仍有漏水" in change


def test_extension_request_then_approve_moves_the_deadline(app, campus):
    hazard_id = assigned_hazard(app)
    old = hazard(app, hazard_id).deadline
    officer, repairer = login(app, "officer"), login(app, "repairer")
    wanted = old + timedelta(days=10)
    response = act(repairer, hazard_id, "request_extension",
                   {"deadline": wanted.isoformat(), "note": "等配件", "next": "/tasks"})
    assert response.status_code == 303 and response.headers["Location"] == "/tasks"
    found = hazard(app, hazard_id)
    assert (found.deadline, found.extension_until, found.extension_reason) == (old, wanted, "等配件")
    last = events(app, hazard_id)[-1]
    assert (last.action, last.actor_id, last.from_status, last.to_status) == (
        "request_extension", user_id(app, "repairer"), "assigned", "assigned")
    assert (last.old_deadline, last.new_deadline) == (old, wanted)
    assert ("officer", "extension_requested") in notifications(app, hazard_id)
    card = section(text(repairer.get("/tasks")), f"task-{hazard_id}")
    assert wanted.isoformat() in card and f'id="extension-{hazard_id}"' not in card  # one request at a time
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assert wanted.isoformat() in section(page, "hazard-extension") and "等配件" in page
    assert 'id="action-approve_extension"' in page and 'id="action-refuse_extension"' in page
    assert act(officer, hazard_id, "approve_extension").status_code == 303
    found = hazard(app, hazard_id)
    assert (found.deadline, found.extension_until, found.status) == (wanted, None, "assigned")
    last = events(app, hazard_id)[-1]
    assert (last.action, last.old_deadline, last.new_deadline) == ("approve_extension", old, wanted)
    assert ("repairer", "extension_approved") in notifications(app, hazard_id)


def test_extension_refused_needs_a_reason_and_keeps_the_deadline(app, campus):
    hazard_id = assigned_hazard(app)
    old = hazard(app, hazard_id).deadline
    advance(app, hazard_id, "repairer", "request_extension", deadline=(old + timedelta(days=3)).isoformat(),
            note="等配件")
    officer = login(app, "officer")
    before = snapshot(app, hazard_id)
    response = act(officer, hazard_id, "refuse_extension", {"note": ""})
    assert response.status_code == 422
    assert "Give a reason." in section(text(response), "action-refuse_extension")
    assert snapshot(app, hazard_id) == before
    assert act(officer, hazard_id, "refuse_extension", {"note": "本周内必须完成"}).status_code == 303
    found = hazard(app, hazard_id)
    assert (found.deadline, found.extension_until) == (old, None)
    assert [e.action for e in events(app, hazard_id)][-1] == "refuse_extension"
    assert ("repairer", "extension_refused") in notifications(app, hazard_id)


def test_dismiss_needs_a_reason_then_closes_the_hazard(app, campus):
    guard, officer = login(app, "guard"), login(app, "officer")
    hazard_id = fail_item(app, guard, "P-EXIT", "unblocked", "楼梯口有纸箱")
    before = snapshot(app, hazard_id)
    response = act(officer, hazard_id, "dismiss", {"note": "  "})
    assert response.status_code == 422
    form = section(text(response), "action-dismiss")
    assert 'id="action-dismiss-note-error"' in form and "Give a reason." in form
    assert snapshot(app, hazard_id) == before
    assert act(officer, hazard_id, "dismiss", {"note": "纸箱是临时放置，已搬走"}).status_code == 303
    found = hazard(app, hazard_id)
    assert (found.status, found.open_key) == ("dismissed", None) and found.closed_at is not None
    last = events(app, hazard_id)[-1]
    assert (last.action, last.from_status, last.to_status, last.note) == (
        "dismiss", "reported", "dismissed", "纸箱是临时放置，已搬走")


def test_escalate_and_withdraw(app, campus):
    hazard_id = assigned_hazard(app)
    officer = login(app, "officer")
    assert act(officer, hazard_id, "escalate", {"note": "需要教育局拨款"}).status_code == 303
    assert hazard(app, hazard_id).escalated is True
    last = events(app, hazard_id)[-1]
    assert (last.action, last.from_status, last.to_status, last.note) == (
        "escalate", "assigned", "assigned", "需要教育局拨款")
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assert 'id="action-escalate"' not in page and 'id="action-deescalate"' in page
    before = snapshot(app, hazard_id)
    response = act(officer, hazard_id, "escalate", {"note": "again"})
    assert response.status_code == 409 and "already escalated" in text(response)
    assert snapshot(app, hazard_id) == before
    assert act(officer, hazard_id, "deescalate", {"note": "学校自行解决"}).status_code == 303
    assert hazard(app, hazard_id).escalated is False
    assert [e.action for e in events(app, hazard_id)][-2:] == ["escalate", "deescalate"]


def setup_state(app, state):
    """A hazard in the given state (plus "extension": a pending request, "escalated")."""
    if state == "reported":
        return make_hazard(app)
    if state == "rectified":
        return rectified_hazard(app)
    hazard_id = assigned_hazard(app)
    if state == "extension":
        advance(app, hazard_id, "repairer", "request_extension", note="等配件",
                deadline=(today() + timedelta(days=20)).isoformat())
    elif state == "escalated":
        advance(app, hazard_id, "officer", "escalate", note="需要拨款")
    return hazard_id


@pytest.mark.parametrize("state, username, action, data, change", [
    ("reported", "officer", "assign", {"assignee": "repairer", "severity": "major"}, ("reported", "assigned")),
    ("assigned", "admin", "assign", {"assignee": "repairer2"}, ("assigned", "assigned")),
    ("assigned", "officer", "dismiss", {"note": "不是隐患"}, ("assigned", "dismissed")),
    ("assigned", "repairer", "rectify", {"note": "已修好"}, ("assigned", "rectified")),
    ("assigned", "repairer", "request_extension", {"note": "等配件", "deadline": 30}, ("assigned", "assigned")),
    ("extension", "officer", "approve_extension", {}, ("assigned", "assigned")),
    ("extension", "officer", "refuse_extension", {"note": "尽快完成"}, ("assigned", "assigned")),
    ("rectified", "officer", "verify", {}, ("rectified", "verified")),
    ("rectified", "officer", "reject", {"note": "仍漏水"}, ("rectified", "assigned")),
    ("reported", "officer", "escalate", {"note": "需要拨款"}, ("reported", "reported")),
    ("escalated", "officer", "deescalate", {"note": "已拨款"}, ("assigned", "assigned")),
])
def test_each_action_adds_exactly_one_event_shown_in_the_timeline(app, campus, state, username, action, data,
                                                                   change):
    add_user(app, "repairer2", "repairer")
    hazard_id = setup_state(app, state)
    data = dict(data)
    if "assignee" in data:
        data["assignee"] = user_id(app, data["assignee"])
    if "deadline" in data:
        data["deadline"] = (today() + timedelta(days=data["deadline"])).isoformat()
    old = hazard(app, hazard_id)
    count = len(events(app, hazard_id))
    client = login(app, username)
    response = act(client, hazard_id, action, data, photo=jpeg_bytes() if action == "rectify" else None)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/hazards/{hazard_id}"
    after = events(app, hazard_id)
    assert len(after) == count + 1
    event, new = after[-1], hazard(app, hazard_id)
    assert (event.action, event.actor_id, event.from_status, event.to_status) == (
        action, user_id(app, username), *change)
    assert event.note == data.get("note", "")
    assert (event.old_assignee_id, event.new_assignee_id) == (old.assignee_id, new.assignee_id)
    assert (event.old_severity, event.new_severity) == (old.severity, new.severity)
    assert event.old_deadline == old.deadline
    assert event.new_deadline == (new.extension_until if action == "request_extension" else new.deadline)
    page = text(client.get(f"/hazards/{hazard_id}"))
    item = section(page, f"event-{event.id}")
    assert f"· {username.title()} 用户" in item  # the actor
    assert ('data-change="status"' in item) == (change[0] != change[1])
    assert ('data-change="assignee"' in item) == (old.assignee_id != new.assignee_id)
    assert ('data-change="severity"' in item) == (old.severity != new.severity)
    if data.get("note"):
        assert data["note"] in item


# ---- the officer's queue and bulk assignment -----------------------------------------------------

def test_queue_orders_new_hazards_major_first_then_oldest(app, campus):
    from patrol.extensions import db
    from patrol.models import Hazard

    older = make_hazard(app, description="old general")
    newer_major = make_hazard(app, code="P-EXIT", severity="major", description="new major")
    newest = make_hazard(app, code="P-PANEL", description="new general")
    with app.app_context():
        for n, hazard_id in enumerate((older, newer_major, newest)):
            db.session.get(Hazard, hazard_id).first_seen_at = db.session.get(Hazard, hazard_id).first_seen_at \
                + timedelta(minutes=n)
        db.session.commit()
    new = section(text(login(app, "viewer").get("/hazards/queue")), "queue-new")
    assert re.findall(r'<tr id="hazard-(\d+)"', new) == [str(newer_major), str(older), str(newest)]
    assert 'name="hazard"' not in new  # a viewer sees the queue but cannot act on it


def test_bulk_assign_reports_each_hazard_that_failed(app, campus):
    first, second = make_hazard(app), make_hazard(app, code="P-PANEL", severity="major")
    gone, taken = make_hazard(app, code="P-GATE"), make_hazard(app, code="P-HYDRANT")
    add_user(app, "repairer2", "repairer")
    officer = login(app, "officer")
    queue = text(officer.get("/hazards/queue"))
    for hazard_id in (first, second, gone, taken):
        assert f'name="hazard" value="{hazard_id}"' in section(queue, "queue-new")
    # meanwhile, another officer dismissed one and assigned another
    advance(app, gone, "officer", "dismiss", note="重复上报")
    advance(app, taken, "admin", "assign", assignee=user_id(app, "repairer2"))
    before = {hazard_id: snapshot(app, hazard_id) for hazard_id in (gone, taken)}
    response = post(officer, "/hazards/queue/assign", {"hazard": [first, second, second, gone, taken, 99999],
                                                       "assignee": user_id(app, "repairer"),
                                                       "severity": "general", "deadline": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/hazards/queue"
    for hazard_id in (first, second):
        found = hazard(app, hazard_id)
        assert (found.status, found.assignee_id, found.severity, found.deadline) == (
            "assigned", user_id(app, "repairer"), "general", today() + timedelta(days=7))
        assert [e.action for e in events(app, hazard_id)] == ["reported", "assign"]  # once, though ticked twice
    assert {hazard_id: snapshot(app, hazard_id) for hazard_id in (gone, taken)} == before
    page = text(officer.get("/hazards/queue"))
    assert "Assigned 2 of 5 hazards." in page
    assert f"Hazard #{gone} was not assigned: Not possible while the hazard is “Dismissed”." in page
    assert f"Hazard #{taken} was not assigned: Meanwhile assigned to repairer2 师傅; open it to re-assign." in page
    assert "Hazard #99999 was not assigned: No such hazard." in page


def test_bulk_assign_with_bad_input_changes_nothing_and_keeps_the_input(app, campus):
    first, second = make_hazard(app), make_hazard(app, code="P-PANEL")
    officer = login(app, "officer")
    before = [snapshot(app, first), snapshot(app, second)]
    response = post(officer, "/hazards/queue/assign", {"assignee": user_id(app, "repairer")})
    assert response.status_code == 422 and "Tick at least one hazard." in text(response)
    past = (today() - timedelta(days=1)).isoformat()
    response = post(officer, "/hazards/queue/assign", {"hazard": [first, second], "assignee": "",
                                                       "deadline": past})
    html = text(response)
    assert response.status_code == 422
    assert "Choose a person from the list." in section(html, "bulk-assign")
    assert "The deadline cannot be in the past." in html and f'value="{past}"' in html
    assert f'id="failure-{first}"' in html and f'id="failure-{second}"' in html
    assert re.search(rf'name="hazard" value="{first}"[^>]* checked', html)
    assert [snapshot(app, first), snapshot(app, second)] == before
    response = post(officer, "/hazards/queue/assign", {"hazard": [first], "assignee": ""}, htmx=True)
    assert response.status_code == 200 and response.headers["HX-Push-Url"] == "false"


# ---- refusals: nothing changes, and the user is told why -----------------------------------------

@pytest.mark.parametrize("username, state, action", [
    ("guard", "reported", "assign"),
    ("repairer", "reported", "dismiss"),
    ("repairer", "rectified", "verify"),
    ("viewer", "rectified", "verify"),
    ("viewer", "assigned", "rectify"),
])
def test_wrong_role_is_403_and_changes_nothing(app, campus, username, state, action):
    hazard_id = {"reported": make_hazard, "assigned": assigned_hazard, "rectified": rectified_hazard}[state](app)
    before = snapshot(app, hazard_id)
    response = act(login(app, username), hazard_id, action, {"note": "x", "assignee": user_id(app, "repairer")},
                   photo=jpeg_bytes() if action == "rectify" else None)
    assert response.status_code == 403
    assert "Your role may not do this." in text(response)
    assert snapshot(app, hazard_id) == before


@pytest.mark.parametrize("htmx", [False, True])
def test_wrong_state_is_409_with_the_reason_shown(app, campus, htmx):
    hazard_id = make_hazard(app)
    before = snapshot(app, hazard_id)
    response = act(login(app, "officer"), hazard_id, "verify", htmx=htmx)
    assert response.status_code == (200 if htmx else 409)
    assert "Not possible while the hazard is “Reported”." in section(text(response), f"hazard-{hazard_id}")
    assert snapshot(app, hazard_id) == before


def test_the_officer_who_fixed_it_cannot_verify_it(app, campus):
    hazard_id = assigned_hazard(app)
    officer = login(app, "officer")
    assert act(officer, hazard_id, "rectify", {"note": "我自己修好了"}, photo=jpeg_bytes()).status_code == 303
    before = snapshot(app, hazard_id)
    page = text(officer.get(f"/hazards/{hazard_id}"))
    assert 'id="action-verify"' not in page and 'id="action-reject"' in page
    response = act(officer, hazard_id, "verify")
    assert response.status_code == 409
    assert "Someone other than the person who fixed it must verify it." in text(response)
    assert snapshot(app, hazard_id) == before
    assert act(login(app, "admin"), hazard_id, "verify").status_code == 303  # anyone else may


def test_a_repairer_cannot_fix_someone_elses_hazard(app, campus):
    add_user(app, "repairer2", "repairer")
    hazard_id = assigned_hazard(app, assignee="repairer2")
    repairer = login(app, "repairer")
    before = snapshot(app, hazard_id)
    response = act(repairer, hazard_id, "rectify", {"note": "修好了"}, photo=jpeg_bytes())
    assert response.status_code == 409
    html = text(response)
    assert "Only the person it is assigned to can do this." in html
    assert "窗户玻璃破裂" not in html  # nor does the refusal show a hazard they may not open
    response = act(repairer, hazard_id, "rectify", {"note": "修好了", "next": "/tasks"}, photo=jpeg_bytes())
    assert response.status_code == 409
    assert "Only the person it is assigned to can do this." in section(text(response), "refusal")
    assert snapshot(app, hazard_id) == before
    assert repairer.get(f"/hazards/{hazard_id}").status_code == 403


@pytest.mark.parametrize("state, action, data, field, message", [
    ("reported", "assign", {"assignee": "", "measures": "先拉警戒线"}, "assignee", "Choose a person from the list."),
    ("reported", "assign", {"assignee": "repairer", "deadline": "next week"}, "deadline",
     "Enter a date like 2026-03-31."),
    ("reported", "dismiss", {"note": ""}, "note", "Give a reason."),
    ("assigned", "rectify", {"note": "已修好"}, "photo", "Add a photo of the fixed item."),
    ("assigned", "request_extension", {"note": "等配件"}, "deadline", "Choose the new date."),
    ("rectified", "reject", {"note": "", "deadline": "2099-01-01"}, "note", "Say what is still wrong."),
    ("assigned", "escalate", {"note": ""}, "note", "Give a reason."),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_missing_input_is_422_with_input_kept_and_error_next_to_the_field(app, campus, state, action, data,
                                                                          field, message, htmx):
    hazard_id = {"reported": make_hazard, "assigned": assigned_hazard, "rectified": rectified_hazard}[state](app)
    data = dict(data)
    if data.get("assignee") == "repairer":
        data["assignee"] = user_id(app, "repairer")
    username = "repairer" if action in ("rectify", "request_extension") else "officer"
    before = snapshot(app, hazard_id)
    response = act(login(app, username), hazard_id, action, data, htmx=htmx)
    assert response.status_code == (200 if htmx else 422)
    if htmx:
        assert response.headers["HX-Push-Url"] == "false"  # the boosted form must not push the POST's URL
    form = section(text(response), f"action-{action}")
    error = re.search(rf'<p class="error" id="action-{action}-{field}-error">([^<]*)</p>', form)
    assert error and error.group(1) == message
    assert f'aria-describedby="action-{action}-{field}-error"' in form
    for name, value in data.items():
        if value and name != "assignee":
            assert f">{value}</textarea>" in form or f'value="{value}"' in form, name  # what the user typed
    assert snapshot(app, hazard_id) == before


def test_rectify_without_note_keeps_the_photo_for_the_resubmit(app, campus):
    from patrol.extensions import db
    from patrol.models import Photo

    hazard_id = assigned_hazard(app)
    repairer = login(app, "repairer")
    before = snapshot(app, hazard_id)
    response = act(repairer, hazard_id, "rectify", {"note": "", "next": "/tasks"}, photo=jpeg_bytes((1, 2, 250)))
    assert response.status_code == 422
    card = section(text(response), f"task-{hazard_id}")  # shown again on the task list it came from
    assert "Describe what was done." in card
    kept = re.findall(r'name="kept" value="([0-9a-f]{64})"', card)
    assert len(kept) == 1 and "1 photo already received" in card
    assert snapshot(app, hazard_id) == before
    response = act(repairer, hazard_id, "rectify", {"note": "已修好", "kept": kept[0], "next": "/tasks"})
    assert response.status_code == 303 and hazard(app, hazard_id).status == "rectified"
    with app.app_context():
        assert db.session.scalars(select(Photo.sha256).where(Photo.hazard_id == hazard_id,
                                                             Photo.kind == "after")).all() == kept


def test_not_a_photo_is_a_field_error_even_beside_a_good_one(app, campus):
    from patrol import photos

    hazard_id = assigned_hazard(app)
    repairer = login(app, "repairer")
    before = snapshot(app, hazard_id)
    response = act(repairer, hazard_id, "rectify", {"note": "已修好"}, photo=b"%PDF-1.4")
    assert response.status_code == 422
    assert "This file is not a photo" in section(text(response), "action-rectify-photo-error")
    with app.test_request_context():
        good = photos.store(jpeg_bytes()).sha256
    response = act(repairer, hazard_id, "rectify", {"note": "已修好", "kept": good}, photo=b"%PDF-1.4")
    assert response.status_code == 422  # a bad file is never dropped silently
    assert "This file is not a photo" in section(text(response), "action-rectify-photo-error")
    assert snapshot(app, hazard_id) == before


def test_unknown_action_and_other_campus_are_404(app, campus):
    hazard_id = make_hazard(app)
    officer = login(app, "officer")
    assert act(officer, hazard_id, "delete", {"note": "x"}).status_code == 404
    assert act(officer, 99999, "dismiss", {"note": "x"}).status_code == 404
    assert officer.get("/hazards/99999").status_code == 404


def test_next_only_leads_back_into_the_site(app, campus):
    officer = login(app, "officer")
    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/\\evil.example"):
        hazard_id = make_hazard(app)
        response = act(officer, hazard_id, "dismiss", {"note": "重复", "next": target})
        assert response.status_code == 303 and response.headers["Location"] == f"/hazards/{hazard_id}", target


# ---- who may see what ----------------------------------------------------------------------------

def test_assignee_sees_their_hazard_and_its_photos_others_do_not(app, campus):
    from patrol.extensions import db
    from patrol.models import Photo

    guard = login(app, "guard")
    hazard_id = fail_item(app, guard, "P-EXIT", "unblocked", "楼梯口堆放桌椅")
    with app.app_context():
        before = db.session.scalar(select(Photo.id).where(Photo.hazard_id == hazard_id))
    repairer = login(app, "repairer")
    assert repairer.get(f"/hazards/{hazard_id}").status_code == 403
    assert fetch_status(repairer, f"/photos/{before}") == 404
    advance(app, hazard_id, "officer", "assign", assignee=user_id(app, "repairer"))
    page = repairer.get(f"/hazards/{hazard_id}")
    assert page.status_code == 200 and "楼梯口堆放桌椅" in text(page)
    assert 'id="action-rectify"' in text(page) and 'id="action-assign"' not in text(page)
    assert fetch_status(repairer, f"/photos/{before}") == 200
    add_user(app, "repairer2", "repairer")
    other = login(app, "repairer2")
    assert other.get(f"/hazards/{hazard_id}").status_code == 403
    assert fetch_status(other, f"/photos/{before}") == 404
    assert text(other.get("/tasks")).count('class="card task') == 0
    assert login(app, "viewer").get("/tasks").status_code == 403


def test_officer_assigned_a_hazard_sees_it_in_my_tasks(app, campus):
    hazard_id = assigned_hazard(app, assignee="officer")
    officer = login(app, "officer")
    assert f'id="task-{hazard_id}"' in text(officer.get("/tasks"))
    badges = section(text(officer.get("/badges")), "badges")
    assert re.search(r'data-badge="tasks"><span class="count">1</span>', badges)


# ---- overdue -------------------------------------------------------------------------------------

def test_overdue_is_past_the_deadline_day_on_the_campus_clock(app, campus):
    from patrol.extensions import db
    from patrol.models import Hazard

    late = assigned_hazard(app, description="昨天到期")
    due_today = assigned_hazard(app, code="P-PANEL", description="今天到期")
    with app.app_context():
        db.session.get(Hazard, late).deadline = today() - timedelta(days=1)
        db.session.get(Hazard, due_today).deadline = today()
        db.session.commit()
    officer = login(app, "officer")
    queue = text(officer.get("/hazards/queue"))
    overdue = section(queue, "queue-overdue")
    assert f'id="hazard-{late}"' in overdue and f'id="hazard-{due_today}"' not in overdue
    listed = text(officer.get("/hazards?overdue=1"))
    assert f'id="hazard-{late}"' in listed and f'id="hazard-{due_today}"' not in listed
    assert 'name="overdue" value="1" checked' in listed
    everything = text(officer.get("/hazards"))
    assert 'class="tag-overdue"' in section(everything, f"hazard-{late}")
    assert 'class="tag-overdue"' not in section(everything, f"hazard-{due_today}")
    assert today().isoformat() in section(everything, f"hazard-{due_today}")  # the deadline column
    assert "Repairer 用户" in section(everything, f"hazard-{due_today}")     # and the assignee's
    partial = officer.get("/hazards?overdue=1&severity=general", headers={"HX-Request": "true"})
    assert f'id="hazard-{late}"' in text(partial) and "<html" not in text(partial)
    page = text(officer.get(f"/hazards/{late}"))
    assert 'class="tag-overdue"' in page
    assert 'class="tag-overdue"' not in text(officer.get(f"/hazards/{due_today}"))
    tasks = text(login(app, "repairer").get("/tasks"))
    assert re.findall(r'<article id="task-(\d+)"', tasks) == [str(late), str(due_today)]  # overdue first
    assert 'class="tag-overdue"' in section(tasks, f"task-{late}")
    badges = section(text(officer.get("/badges")), "badges")
    assert re.search(r'data-badge="overdue"><span class="count">1</span>', badges)


# ---- badges, notifications, the check form -------------------------------------------------------

def badge(html, key):
    found = re.search(rf'href="([^"]+)" class="badge[^"]*" data-badge="{key}"><span class="count">(\d+)</span>', html)
    return (found.group(1), int(found.group(2))) if found else None


def test_badges_count_what_waits_and_link_to_it(app, campus):
    make_hazard(app)
    late = assigned_hazard(app)
    rectified_hazard(app, code="P-PANEL")
    from patrol.extensions import db
    from patrol.models import Hazard

    with app.app_context():
        db.session.get(Hazard, late).deadline = today() - timedelta(days=2)
        db.session.commit()
    officer = login(app, "officer")
    html = text(officer.get("/badges"))
    assert badge(html, "new") == ("/hazards?status=reported", 1)
    assert badge(html, "overdue") == ("/hazards?overdue=1", 1)
    assert badge(html, "rectified") == ("/hazards?status=rectified", 1)
    assert badge(html, "unread")[0] == "/notifications"
    assert badge(html, "tasks") is None  # nothing assigned to the officer
    nav = section(html, "badges")
    assert 'hx-get="/badges"' in nav and 'hx-trigger="every 60s, hazard-changed from:body"' in nav
    assert 'hx-target="this"' in nav and 'hx-swap="outerHTML"' in nav
    assert "<html" not in html
    assert section(text(officer.get("/hazards/queue")), "badges") == nav  # the header includes the same partial
    repairer = text(login(app, "repairer").get("/badges"))
    assert badge(repairer, "tasks") == ("/tasks", 1) and badge(repairer, "tasks_overdue") == ("/tasks", 1)
    assert badge(repairer, "new") is None
    viewer = text(login(app, "viewer").get("/badges"))
    assert badge(viewer, "new") == ("/hazards?status=reported", 1) and badge(viewer, "tasks") is None
    anonymous = app.test_client().get("/badges")
    assert anonymous.status_code == 204 and anonymous.data == b""


def test_notifications_newest_first_unread_then_all_read(app, campus):
    guard, officer = login(app, "guard"), login(app, "officer")
    first = fail_item(app, guard, "P-EXIT", "unblocked", "出口堵塞")
    second = fail_item(app, guard, "P-EXTINGUISHER", "pressure", "压力不足")
    assert badge(text(officer.get("/badges")), "unread")[1] == 2
    page = text(officer.get("/notifications"))
    items = re.findall(r'<li id="notification-\d+" class="notice unread" data-kind="reported">.*?href="/hazards/(\d+)"',
                       page, re.S)
    assert items == [str(second), str(first)]
    response = post(officer, "/notifications/read")
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"
    page = text(officer.get("/notifications"))
    assert "notice unread" not in page and page.count('class="notice"') == 2
    assert badge(text(officer.get("/badges")), "unread")[1] == 0
    assert badge(text(guard.get("/badges")), "unread")[1] == 0  # the guard's own report notifies nobody else


def test_assignee_is_notified_and_home_links_to_tasks(app, campus):
    hazard_id = assigned_hazard(app)
    repairer = login(app, "repairer")
    page = text(repairer.get("/notifications"))
    assert re.search(rf'data-kind="assigned">.*?href="/hazards/{hazard_id}"', page, re.S)
    home = section(text(repairer.get("/")), "home-tasks")
    assert 'href="/tasks"' in home and "1 hazard to fix" in home


def test_check_form_shows_who_fixes_it_and_by_when(app, campus):
    from patrol.extensions import db
    from patrol.models import Hazard

    guard = login(app, "guard")
    hazard_id = fail_item(app, guard, "P-EXIT", "unblocked", "楼梯口堆放桌椅")
    advance(app, hazard_id, "officer", "assign", assignee=user_id(app, "repairer"),
            deadline=(today() + timedelta(days=2)).isoformat())
    token = point(app, "P-EXIT").token
    item = section(text(guard.get(f"/p/{token}")), f"hazard-{hazard_id}")
    assert "Being fixed" in item and "Repairer 用户" in item and (today() + timedelta(days=2)).isoformat() in item
    assert "tag-overdue" not in item
    with app.app_context():
        db.session.get(Hazard, hazard_id).deadline = today() - timedelta(days=1)
        db.session.commit()
    assert 'class="tag-overdue"' in section(text(guard.get(f"/p/{token}")), f"hazard-{hazard_id}")


def test_htmx_success_follows_the_redirect_to_the_whole_page(app, campus):
    hazard_id = make_hazard(app)
    officer = login(app, "officer")
    response = officer.post(f"/hazards/{hazard_id}/actions/dismiss", headers={"HX-Request": "true"},
                            data={"csrf_token": officer.csrf, "note": "误报"}, follow_redirects=True)
    assert response.status_code == 200 and response.request.path == f"/hazards/{hazard_id}"
    assert "<html" in text(response) and "Dismissed" in section(text(response), "hazard-status")
    assert "HX-Request" in response.headers["Vary"]
