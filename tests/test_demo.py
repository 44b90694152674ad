"""The demo school: built fast into an empty database, realistic, and faithful to the recording rules."""
import json
import re
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import csrf_from
from sqlalchemy import func, select

DAYS = 21
PASSWORD = "pw123456"
MAIN_USERS = ("admin", "officer", "guard", "repairer", "viewer")
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def demo(app):
    from patrol.demo import build_demo
    from patrol.setup import ensure_point_types

    with app.app_context():
        ensure_point_types()
        return build_demo(password=PASSWORD, days=DAYS)


def local_date(check) -> date:
    return (check.observed_at + timedelta(minutes=check.observed_offset)).date()


def test_demo_school_has_buildings_floors_and_points_of_every_type(app, demo):
    from patrol.extensions import db
    from patrol.models import Area, Campus, Point, PointType

    with app.app_context():
        campus = db.session.scalars(select(Campus)).one()
        assert demo["campus"] == campus.name and campus.timezone == "Asia/Shanghai"
        areas = db.session.scalars(select(Area)).all()
        assert len({a.building for a in areas}) >= 3
        assert all(a.responsible and a.campus_id == campus.id for a in areas)
        points = db.session.scalars(select(Point)).all()
        active = [p for p in points if p.active]
        assert len(active) >= 120 and demo["points"] == len(active)
        retired = [p for p in points if not p.active]
        assert retired and all(p.retired_at is not None for p in retired)
        for point_type in db.session.scalars(select(PointType)):
            of_type = [p for p in active if p.point_type_id == point_type.id]
            assert of_type, f"no {point_type.key} points"
            assert {(p.cadence, p.per_period) for p in of_type} == {(point_type.cadence, point_type.per_period)}
        extinguisher = db.session.scalars(select(PointType.id).where(PointType.key == "extinguisher")).one()
        for area in areas:
            if area.floor:  # an extinguisher on every floor
                assert any(p.area_id == area.id and p.point_type_id == extinguisher for p in active), area.name
        assert all(re.fullmatch(r"[A-Z0-9]+-(\dF-)?[A-Z]+-\d{2}", p.code) for p in points)
        assert len({p.token for p in points}) == len(points)


def test_demo_users_log_in_with_the_given_password(app, demo):
    from patrol.extensions import db
    from patrol.models import Campus, User

    assert set(demo["users"][:5]) == set(MAIN_USERS) and len(demo["users"]) > 5
    with app.app_context():
        campus_id = db.session.scalars(select(Campus.id)).one()
        users = {u.username: u for u in db.session.scalars(select(User))}
    assert set(users) == set(demo["users"])
    for username in MAIN_USERS:
        account = users[username]
        assert account.role == username and account.campus_id == campus_id and account.active
        assert account.name and not account.name.isascii()
    assert sum(u.role == "guard" for u in users.values()) >= 3
    for username in MAIN_USERS:
        client = app.test_client()
        page = client.get("/login")
        response = client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": csrf_from(page)})
        assert response.status_code == 302, username
    client = app.test_client()
    page = client.get("/login")
    response = client.post("/login", data={"username": "guard", "password": "wrong-password",
                                           "csrf_token": csrf_from(page)})
    assert response.status_code != 302


def test_demo_checks_follow_each_points_cadence_in_beijing_time(app, demo):
    from patrol.extensions import db
    from patrol.models import Check, Point, User

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    today = datetime.now(BEIJING).date()
    window = {today - timedelta(days=n) for n in range(DAYS)}
    with app.app_context():
        checks = db.session.scalars(select(Check)).all()
        points = {p.id: p for p in db.session.scalars(select(Point))}
        types = {p.id: p.point_type.key for p in points.values()}
        roles = {u.id: u.role for u in db.session.scalars(select(User))}
    assert len(checks) == demo["checks"] > DAYS * 50
    assert all(c.observed_offset == 480 for c in checks)
    assert all(c.observed_at <= c.received_at <= now for c in checks)
    assert all(c.observed_at <= now for c in checks)
    days = {local_date(c) for c in checks}
    assert days <= window
    assert len(days) >= DAYS - 1  # today may have none yet, early in the morning
    hours = Counter((c.observed_at + timedelta(minutes=480)).hour for c in checks)
    assert min(hours) >= 6 and max(hours) <= 22 and hours[7] and hours[12] and hours[17]
    # The officer's 月总查 falls on the 3rd to 7th school day of a month, so it may lie outside the window
    # (test_the_officer_walks_the_monthly_panel_check pins a moment where it does not).
    assert "guard" in {roles[c.user_id] for c in checks} <= {"guard", "officer"}
    assert all(points[c.point_id].cadence == "monthly" for c in checks if roles[c.user_id] == "officer")
    assert all(points[c.point_id].retired_at is None or c.observed_at < points[c.point_id].retired_at
               for c in checks)

    per_period = Counter()
    for c in checks:
        point, day = points[c.point_id], local_date(c)
        period = {"daily": day, "weekly": day.isocalendar()[:2], "monthly": (day.year, day.month)}[point.cadence]
        per_period[(point.id, period)] += 1
    assert all(n <= points[pid].per_period for (pid, _period), n in per_period.items())
    assert 3 in {n for (pid, _period), n in per_period.items() if types[pid] == "gate"}  # 一日三巡

    # Daily rounds are walked on most school days, but not every single point every day.
    school_days = {local_date(c) for c in checks if types[c.point_id] == "classroom"}
    classrooms = [p for p in points.values() if types[p.id] == "classroom" and p.active]
    done = {(c.point_id, local_date(c)) for c in checks if types[c.point_id] == "classroom"}
    coverage = len(done) / (len(classrooms) * len(school_days))
    assert 0.8 <= coverage < 0.99, coverage
    assert {types[c.point_id] for c in checks} >= {"classroom", "exit", "gate", "canteen_gas", "dorm"}


def test_every_check_has_one_result_per_active_item(app, demo):
    from patrol.extensions import db
    from patrol.models import Check, CheckResult, ChecklistItem, Point

    with app.app_context():
        items = defaultdict(set)
        for item in db.session.scalars(select(ChecklistItem).where(ChecklistItem.active)):
            items[item.point_type_id].add((item.id, item.key, item.position))
        point_type = dict(db.session.execute(select(Check.id, Point.point_type_id).join(Check.point)).all())
        results = db.session.execute(select(CheckResult.check_id, CheckResult.item_id, CheckResult.item_key,
                                            CheckResult.position, CheckResult.result, CheckResult.note)).all()
    by_check = defaultdict(list)
    for check_id, item_id, key, position, _result, _note in results:
        by_check[check_id].append((item_id, key, position))
    assert set(by_check) == set(point_type)
    for check_id, answered in by_check.items():
        assert sorted(answered) == sorted(items[point_type[check_id]]), check_id
    outcome = Counter(r.result for r in results)
    assert set(outcome) == {"pass", "fail", "na"}
    assert 0.005 <= outcome["fail"] / len(results) <= 0.04
    assert outcome["pass"] / len(results) > 0.9
    assert all(r.note.strip() for r in results if r.result == "fail")


def test_demo_hazards_follow_the_recording_rules_and_the_hazard_loop(app, demo):
    from patrol.extensions import db
    from patrol.hazard_flow import ACTIONS
    from patrol.models import HAZARD_STATES, OPEN_HAZARD_STATES, CheckResult, Check, Hazard, HazardEvent
    from patrol.vocab import EVENT

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with app.app_context():
        hazards = db.session.scalars(select(Hazard).order_by(Hazard.id)).all()
        events = defaultdict(list)
        for event in db.session.scalars(select(HazardEvent).order_by(HazardEvent.id)):
            events[event.hazard_id].append(event)
        fails = set(db.session.execute(select(CheckResult.check_id, CheckResult.item_key)
                                       .where(CheckResult.result == "fail")).all())
        check_point = dict(db.session.execute(select(Check.id, Check.point_id)).all())
    assert len(hazards) == demo["hazards"]
    assert {h.status for h in hazards} == set(HAZARD_STATES)
    assert any(h.escalated for h in hazards)
    assert sum(h.severity == "major" for h in hazards) >= 2
    assert {e.action for trail in events.values() for e in trail} <= set(EVENT)  # the screens have words for all

    adhoc = [h for h in hazards if h.point_id is None]
    assert len(adhoc) >= 3
    for h in adhoc:
        assert h.item_key is None and h.client_uuid and h.content_hash and h.location and h.open_key is None
    for h in hazards:
        if h.status in OPEN_HAZARD_STATES and h.point_id is not None:
            assert h.open_key == Hazard.make_open_key(h.point_id, h.item_key)
        elif h.status not in OPEN_HAZARD_STATES:
            assert h.open_key is None
    open_keys = [(h.point_id, h.item_key) for h in hazards if h.is_open and h.point_id is not None]
    assert len(open_keys) == len(set(open_keys))

    accounted = set()
    for h in hazards:
        trail = events[h.id]
        assert trail and trail[0].action == "reported" and trail[0].to_status == "reported"
        assert trail[0].at == h.first_seen_at and trail[0].actor_id == h.reported_by_id
        seen = [e for e in trail if e.action == "seen_again"]
        assert h.times_seen == 1 + len(seen)
        assert h.last_seen_at == max([h.first_seen_at] + [e.at for e in seen])
        status = "reported"
        for event in trail[1:]:
            assert h.first_seen_at < event.at <= now and event.actor_id is not None
            assert event.from_status == status, (h.id, event.action)
            if event.action == "seen_again":
                assert status in OPEN_HAZARD_STATES and event.to_status == status
            status = event.to_status
        assert status == h.status
        assert {e.action for e in trail} <= {"reported", "seen_again"} | set(ACTIONS)
        if h.point_id is not None:
            assert check_point[h.source_check_id] == h.point_id and trail[0].check_id == h.source_check_id
            for event in trail:
                if event.check_id is not None:
                    assert check_point[event.check_id] == h.point_id
                    accounted.add((event.check_id, h.item_key))
    # Every failed item became a hazard or was counted on the open one, exactly as recording.py does it.
    assert accounted == fails

    # A new hazard for a point and item only once the previous one was closed.
    by_key = defaultdict(list)
    for h in hazards:
        if h.point_id is not None:
            by_key[(h.point_id, h.item_key)].append(h)
    for same in by_key.values():
        for earlier, later in zip(same, same[1:]):
            closed = [e.at for e in events[earlier.id] if e.to_status in ("verified", "dismissed")]
            assert closed and closed[0] <= later.first_seen_at


def utc_to_local_day(moment: datetime) -> date:
    return moment.replace(tzinfo=timezone.utc).astimezone(BEIJING).date()


def replay(hazard, trail, roles, after_photos, initial_severity) -> dict:
    """Replay a hazard's events by the rules of hazard_flow: each one allowed then and chained to the one
    before; returns the state they leave, which the hazard's own columns must equal."""
    from patrol.hazard_flow import ACTIONS, MANAGERS, WORKERS

    state = {"status": "reported", "escalated": False, "assignee_id": None, "deadline": None,
             "severity": initial_severity, "rectified_by_id": None, "rectified_at": None, "verified_by_id": None,
             "verified_at": None, "closed_at": None, "extension_until": None, "extension_reason": ""}
    for event in trail[1:]:
        where = (hazard.id, event.id, event.action)
        if event.action == "seen_again":
            assert (event.old_assignee_id, event.new_assignee_id, event.old_deadline, event.new_deadline,
                    event.old_severity, event.new_severity) == (None,) * 6, where
            continue
        roles_allowed, from_states = ACTIONS[event.action]
        assert roles[event.actor_id] in roles_allowed, where
        assert event.from_status == state["status"] and event.from_status in from_states, where
        assert (event.old_assignee_id, event.old_deadline, event.old_severity) == \
            (state["assignee_id"], state["deadline"], state["severity"]), where
        day = utc_to_local_day(event.at)
        action = event.action
        if action == "assign":
            assert roles[event.new_assignee_id] in WORKERS, where
            assert event.new_deadline is not None, where
            assert event.new_deadline == state["deadline"] or event.new_deadline >= day, where
            state.update(status="assigned", assignee_id=event.new_assignee_id, deadline=event.new_deadline,
                         severity=event.new_severity)
        elif action == "rectify":
            assert roles[event.actor_id] in MANAGERS or event.actor_id == state["assignee_id"], where
            assert event.note, where
            photos = after_photos.get(event.id, [])  # perform refuses a fix without a photo
            assert photos and all(p.hazard_id == hazard.id and p.uploaded_by_id == event.actor_id
                                  and p.created_at == event.at for p in photos), where
            state.update(status="rectified", rectified_by_id=event.actor_id, rectified_at=event.at,
                         extension_until=None, extension_reason="")
        elif action == "request_extension":
            assert event.actor_id == state["assignee_id"] and state["extension_until"] is None, where
            assert event.note and event.new_deadline > state["deadline"] and event.new_deadline >= day, where
            state.update(extension_until=event.new_deadline, extension_reason=event.note)
        elif action == "approve_extension":
            assert state["extension_until"] is not None, where
            state.update(deadline=state["extension_until"], extension_until=None, extension_reason="")
        elif action == "refuse_extension":
            assert state["extension_until"] is not None and event.note, where
            state.update(extension_until=None, extension_reason="")
        elif action == "verify":
            assert event.actor_id != state["rectified_by_id"], where  # nobody verifies their own fix
            state.update(status="verified", verified_by_id=event.actor_id, verified_at=event.at,
                         closed_at=event.at, extension_until=None, extension_reason="")
        elif action == "reject":
            assert event.note and (event.new_deadline == state["deadline"] or event.new_deadline >= day), where
            state.update(status="assigned", deadline=event.new_deadline)
        elif action == "dismiss":
            assert event.note, where
            state.update(status="dismissed", closed_at=event.at, extension_until=None, extension_reason="")
        elif action in ("escalate", "deescalate"):
            assert event.note and state["escalated"] == (action == "deescalate"), where
            state["escalated"] = action == "escalate"
        assert event.to_status == state["status"], where
        assert (event.new_assignee_id, event.new_severity) == (state["assignee_id"], state["severity"]), where
        expected_deadline = state["extension_until"] if action == "request_extension" else state["deadline"]
        assert event.new_deadline == expected_deadline, where
        if action not in ("rectify",):
            assert not after_photos.get(event.id), where
    return state


def test_demo_hazards_replay_by_the_rectification_rules(app, demo):
    """Every hazard's columns are what its events, replayed through hazard_flow's rules, leave behind."""
    from patrol.extensions import db
    from patrol.hazard_flow import is_overdue, local_today
    from patrol.models import OPEN_HAZARD_STATES, Campus, ChecklistItem, Hazard, HazardEvent, Photo, User

    with app.app_context():
        campus = db.session.scalars(select(Campus)).one()
        hazards = db.session.scalars(select(Hazard).order_by(Hazard.id)).all()
        events = defaultdict(list)
        for event in db.session.scalars(select(HazardEvent).order_by(HazardEvent.id)):
            events[event.hazard_id].append(event)
        roles = dict(db.session.execute(select(User.id, User.role)).all())
        item_severity = dict(db.session.execute(select(ChecklistItem.id, ChecklistItem.severity)).all())
        after_photos = defaultdict(list)
        for photo in db.session.scalars(select(Photo).where(Photo.kind == "after")):
            after_photos[photo.event_id].append(photo)
        today = local_today(campus.timezone)
        overdue = {h.id: is_overdue(h, today) for h in hazards}
        db.session.expunge_all()
    assert (campus.deadline_days_general, campus.deadline_days_major) == (7, 3)
    assert None not in after_photos  # every after-photo belongs to the fix it shows

    for h in hazards:
        trail = events[h.id]
        state = replay(h, trail, roles, after_photos, item_severity[h.item_id] if h.item_id else "general")
        columns = {key: getattr(h, key) for key in state}
        assert columns == state, h.id
        flow = [e for e in trail if e.action not in ("reported", "seen_again")]
        for before, after in zip(flow, flow[1:]):  # each event takes up where the one before left off
            if before.action != "request_extension":  # its new_deadline is the date asked for
                assert after.old_deadline == before.new_deadline, (h.id, after.id)
            assert (after.old_assignee_id, after.old_severity) == (before.new_assignee_id, before.new_severity)
        if h.status in ("assigned", "rectified", "verified"):
            assert h.assignee_id is not None and h.deadline is not None, h.id
        if h.status == "verified":
            assert h.rectified_by_id and h.verified_by_id and h.verified_by_id != h.rectified_by_id, h.id
            assert h.rectified_at < h.verified_at == h.closed_at, h.id
        if h.status == "dismissed":
            assert h.closed_at == trail[-1].at and trail[-1].action == "dismiss", h.id
        if h.status in OPEN_HAZARD_STATES:
            assert h.closed_at is None and h.verified_by_id is None, h.id
        if h.severity == "major" and h.assignee_id is not None:
            assert h.measures and not h.measures.isascii(), h.id  # control measures while it is being fixed
        if h.overdue_notified_at is not None and h.is_open:
            assert h.deadline < utc_to_local_day(h.overdue_notified_at), h.id

    open_hazards = [h for h in hazards if h.is_open]
    assert any(overdue[h.id] for h in open_hazards)
    assert any(not overdue[h.id] for h in open_hazards if h.status == "assigned")
    assert all(h.overdue_notified_at is None or h.overdue_notified_at <= datetime.now(timezone.utc).replace(
        tzinfo=None) for h in hazards)
    pending = [h for h in hazards if h.extension_until is not None]
    assert 1 <= len(pending) <= 4
    for h in pending:
        asked = [e for e in events[h.id] if e.action == "request_extension"][-1]
        assert h.status == "assigned" and h.extension_until == asked.new_deadline > h.deadline
        assert h.extension_reason == asked.note and not h.extension_reason.isascii()
    approved = [e for trail in events.values() for e in trail if e.action == "approve_extension"]
    assert approved and all(e.new_deadline > e.old_deadline for e in approved)
    deadlines = Counter((e.new_deadline - utc_to_local_day(e.at)).days for trail in events.values()
                        for e in trail if e.action == "assign" and e.old_assignee_id is None)
    assert deadlines[7] and deadlines[3]  # the campus defaults, by severity
    assert len(deadlines) > 2  # and now and then a date of the officer's own
    assert {roles[h.rectified_by_id] for h in hazards if h.rectified_by_id} >= {"repairer"}
    assert any(h.verified_by_id and roles[h.verified_by_id] == "officer" for h in hazards)


def test_demo_notifications_are_the_ones_the_loop_would_send(app, demo):
    """Notifications follow the events that send them; unread ones still ask something of their reader."""
    from patrol.extensions import db
    from patrol.hazard_flow import is_overdue, local_today
    from patrol.models import Campus, Hazard, HazardEvent, Notification, User

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    sent_by = {"assigned": "assign", "rectified": "rectify", "extension_requested": "request_extension",
               "extension_approved": "approve_extension", "extension_refused": "refuse_extension",
               "verified": "verify", "rejected": "reject", "reported": "reported"}
    with app.app_context():
        campus = db.session.scalars(select(Campus)).one()
        today = local_today(campus.timezone)
        users = {u.id: u for u in db.session.scalars(select(User))}
        hazards = {h.id: h for h in db.session.scalars(select(Hazard))}
        events = defaultdict(list)
        for event in db.session.scalars(select(HazardEvent)):
            events[event.hazard_id].append(event)
        notices = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        overdue = {h.id: is_overdue(h, today) for h in hazards.values()}
        db.session.expunge_all()
    assert notices
    assert [n.created_at for n in notices] == sorted(n.created_at for n in notices)
    unread = Counter()
    for n in notices:
        hazard, user = hazards[n.hazard_id], users[n.user_id]
        assert n.created_at <= now and (n.read_at is None or n.created_at <= n.read_at <= now), n.id
        if n.kind == "overdue":  # the deadline then (an extension may have moved it since) had passed
            then = [e for e in sorted(events[hazard.id], key=lambda e: e.id) if e.at < n.created_at
                    and e.action not in ("reported", "seen_again", "request_extension")]
            assert then[-1].new_deadline < utc_to_local_day(n.created_at), n.id
            assert then[-1].to_status in ("assigned", "rectified"), n.id
            assert user.role == "officer" or user.id == hazard.assignee_id, n.id
        else:
            cause = [e for e in events[hazard.id] if e.action == sent_by[n.kind] and e.at == n.created_at]
            assert cause and cause[0].actor_id != user.id and cause[0].note == n.note, n.id
            if n.kind in ("rectified", "extension_requested", "reported"):
                assert user.role == "officer", n.id
            elif n.kind == "verified":
                assert user.id == hazard.rectified_by_id, n.id
            else:
                assert user.id == cause[0].new_assignee_id, n.id
        if n.read_at is None:
            unread[(user.username, n.kind)] += 1
            assert {"assigned": hazard.status == "assigned" and hazard.assignee_id == user.id,
                    "rejected": hazard.status == "assigned" and hazard.assignee_id == user.id,
                    "rectified": hazard.status == "rectified",
                    "extension_requested": hazard.extension_until is not None,
                    "reported": hazard.status == "reported",
                    "overdue": overdue[hazard.id]}.get(n.kind, True), n.id
    # The badges of the demo logins show something.
    assert unread[("repairer", "assigned")] and unread[("officer", "rectified")]
    assert unread[("officer", "extension_requested")] and unread[("officer", "reported")]
    assert any(n.read_at is not None for n in notices)


def test_demo_photos_are_stored_and_attached_to_failed_items(app, demo):
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import CheckResult, Hazard, HazardEvent, Photo

    with app.app_context():
        stored = db.session.scalars(select(Photo)).all()
        assert stored
        assert all(photos.path_for(p.sha256).is_file() for p in stored)
        assert len({p.sha256 for p in stored}) <= 10  # a handful of images, shared
        on_checks = [p for p in stored if p.check_id is not None]
        assert on_checks and {p.kind for p in stored} == {"before", "after"}
        for p in on_checks:
            result = db.session.scalar(select(CheckResult.result).where(CheckResult.check_id == p.check_id,
                                                                        CheckResult.item_key == p.item_key))
            assert result == "fail"
            assert db.session.get(Hazard, p.hazard_id).item_key == p.item_key
        adhoc = db.session.scalars(select(Hazard).where(Hazard.point_id.is_(None))).all()
        assert all(h.photos for h in adhoc)
        for p in stored:  # after-photos show a fix and hang on its event; the others on none
            if p.kind == "after":
                event = db.session.get(HazardEvent, p.event_id)
                assert event.action == "rectify" and event.hazard_id == p.hazard_id and p.check_id is None
            else:
                assert p.event_id is None


def test_demo_leaves_the_database_ready_for_real_work(app, demo):
    """Explicit ids must not trip up the next ordinary insert (PostgreSQL sequences)."""
    from patrol.extensions import db
    from patrol.models import Check, Hazard, Point, User
    from patrol.recording import AdhocReport, CheckSubmission, record_check, report_hazard

    with app.app_context():
        last_check = db.session.scalar(select(func.max(Check.id)))
        last_hazard = db.session.scalar(select(func.max(Hazard.id)))
        guard = db.session.scalars(select(User).where(User.username == "guard")).one()
        point = db.session.scalars(select(Point).where(Point.active).order_by(Point.code)).first()
        item = point.point_type.active_items[0]
        was_open = db.session.scalar(select(Hazard).where(
            Hazard.open_key == Hazard.make_open_key(point.id, item.key)))
        observed = datetime.now(BEIJING).replace(microsecond=0)
        results = {i.key: ("pass", "") for i in point.point_type.active_items}
        results[item.key] = ("fail", "演示之后的新检查")
        outcome = record_check(guard, CheckSubmission(str(uuid.uuid4()), point, observed, observed.isoformat(),
                                                      results))
        assert outcome.created and outcome.check.id > last_check
        if was_open:
            assert [h.id for h in outcome.seen_again] == [was_open.id]
        else:
            assert outcome.opened and outcome.opened[0].id > last_hazard
        hazard, created = report_hazard(guard, AdhocReport(str(uuid.uuid4()), point.campus_id, None, None,
                                                           "操场西侧", "facilities", "球门松动"))
        assert created and hazard.id > last_hazard


def test_demo_command_fills_an_empty_database_once(app):
    from patrol.extensions import db
    from patrol.models import Campus, Check
    from patrol.setup import ensure_point_types

    with app.app_context():
        ensure_point_types()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--password", "pw123456", "--days", "14"])
    assert result.exit_code == 0, result.output
    numbers = re.search(r"(\d+) points, (\d+) checks, (\d+) hazards", result.output)
    assert numbers and int(numbers[1]) >= 120 and int(numbers[2]) > 14 * 30 and int(numbers[3]) > 0
    assert "pw123456" in result.output and all(name in result.output for name in MAIN_USERS)
    saved = json.loads((Path(app.instance_path) / "demo.json").read_text())
    assert saved["password"] == "pw123456" and set(saved["users"][:5]) == set(MAIN_USERS)
    with app.app_context():
        counts = (db.session.scalar(select(func.count()).select_from(Campus)),
                  db.session.scalar(select(func.count()).select_from(Check)))
        db.session.remove()
    assert counts[0] == 1 and counts[1] == int(numbers[2])

    again = runner.invoke(args=["demo", "--password", "pw123456", "--days", "14"])
    assert again.exit_code != 0 and "A campus exists already" in again.output
    quiet = runner.invoke(args=["demo", "--if-empty"])
    assert quiet.exit_code == 0 and "left as it is" in quiet.output
    with app.app_context():
        assert (db.session.scalar(select(func.count()).select_from(Campus)),
                db.session.scalar(select(func.count()).select_from(Check))) == counts


def test_same_seed_same_school_and_holidays_are_quiet(tmp_path, sqlite_template):
    """Deterministic for a seed and a moment; no classroom rounds over the National Day holiday."""
    import shutil

    from helpers import make_app
    from patrol.demo import build_demo
    from patrol.extensions import db
    from patrol.models import Check, CheckResult, Hazard, HazardEvent, Notification, Point, PointType
    from patrol.setup import ensure_point_types

    moment = datetime(2026, 10, 9, 12, 0, tzinfo=timezone.utc)  # 20:00 in Beijing

    def snapshot(name, seed):
        path = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, path)
        app = make_app(tmp_path / name, f"sqlite:///{path}")
        with app.app_context():
            ensure_point_types()
            build_demo(password=PASSWORD, days=14, seed=seed, now=moment)
            checks = db.session.execute(select(Point.code, PointType.key, Check.observed_at, Check.observed_offset,
                                               Check.client_uuid, Check.content_hash)
                                        .join(Check.point).join(Point.point_type).order_by(Check.id)).all()
            results = db.session.execute(select(CheckResult.check_id, CheckResult.item_key, CheckResult.result,
                                                CheckResult.note).order_by(CheckResult.id)).all()
            hazards = db.session.execute(select(Hazard.status, Hazard.description, Hazard.first_seen_at,
                                                Hazard.times_seen, Hazard.assignee_id, Hazard.deadline,
                                                Hazard.verified_by_id, Hazard.extension_until)
                                         .order_by(Hazard.id)).all()
            events = db.session.execute(select(HazardEvent.hazard_id, HazardEvent.action, HazardEvent.at,
                                               HazardEvent.new_deadline).order_by(HazardEvent.id)).all()
            notices = db.session.execute(select(Notification.user_id, Notification.kind, Notification.created_at,
                                                Notification.read_at).order_by(Notification.id)).all()
            db.session.remove()
            db.engine.dispose()
        return checks, results, hazards, events, notices

    first = snapshot("first", 2026)
    assert first == snapshot("second", 2026)
    assert first != snapshot("other", 7)

    checks = first[0]
    assert max(c.observed_at for c in checks) <= moment.replace(tzinfo=None)
    holiday = {date(2026, 10, d) for d in range(1, 8)}
    by_day = Counter((c.key, (c.observed_at + timedelta(minutes=c.observed_offset)).date()) for c in checks)
    assert not any(by_day[("classroom", d)] for d in holiday)
    assert all(by_day[("gate", d)] for d in holiday)  # the gates are guarded every day
    assert by_day[("classroom", date(2026, 10, 9))] and by_day[("classroom", date(2026, 9, 30))]


def test_the_officer_walks_the_monthly_panel_check(app):
    """月总查: once a month the officer goes through every electrical panel, on one early school day."""
    from patrol.demo import build_demo
    from patrol.extensions import db
    from patrol.models import Check, Point, PointType, User
    from patrol.setup import ensure_point_types

    moment = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # the window holds 3 to 11 November
    with app.app_context():
        ensure_point_types()
        build_demo(password=PASSWORD, days=21, seed=2026, now=moment)
        rows = db.session.execute(select(Point.id, PointType.key, Point.active, Check.observed_at,
                                         Check.observed_offset, User.role)
                                  .join(Check.point).join(Point.point_type).join(Check.user)).all()
        panels = set(db.session.scalars(select(Point.id).join(Point.point_type)
                                        .where(PointType.key == "panel", Point.active)))
    by_officer = [r for r in rows if r.role == "officer"]
    assert by_officer and {r.key for r in by_officer} == {"panel"}
    days = {(r.observed_at + timedelta(minutes=r.observed_offset)).date() for r in by_officer}
    assert len(days) == 1 and date(2026, 11, 4) <= days.pop() <= date(2026, 11, 10)
    assert 0.8 * len(panels) <= len({r.id for r in by_officer}) <= len(panels)
