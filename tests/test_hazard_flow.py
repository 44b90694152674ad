"""The hazard state machine itself: rules, events, overdue — including random action sequences (hypothesis)."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st
from sqlalchemy import func, select

TODAY = date(2026, 3, 10)


@pytest.fixture
def world(app, campus):
    """An app context with the campus's users (and a second officer) and a stored photo."""
    from helpers import jpeg_bytes

    from patrol import photos
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        second = User(username="officer2", name="第二安全员", role="officer", campus_id=campus["campus_id"],
                      password_hash="x")
        db.session.add(second)
        db.session.commit()
        users = {u.username: u for u in db.session.scalars(select(User))}
        yield {"users": users, "photo": photos.store(jpeg_bytes()), "campus_id": campus["campus_id"]}
        db.session.rollback()


def new_hazard(world, severity="general"):
    from patrol.extensions import db
    from patrol.models import Hazard, HazardEvent, Point, utcnow

    point = db.session.scalar(select(Point).filter_by(code="P-EXIT"))
    hazard = Hazard(campus_id=world["campus_id"], point_id=point.id, area_id=point.area_id, item_key="unblocked",
                    category="fire", severity=severity, status="reported", description="出口堆放杂物",
                    first_seen_at=utcnow(), last_seen_at=utcnow(), reported_by_id=world["users"]["guard"].id,
                    open_key=f"{point.id}:unblocked:{uuid.uuid4()}")
    db.session.add(hazard)
    db.session.flush()
    db.session.add(HazardEvent(hazard=hazard, actor_id=world["users"]["guard"].id, action="reported",
                               to_status="reported"))
    db.session.commit()
    return hazard


def act(world, hazard, username, action, today=TODAY, **values):
    from patrol.hazard_flow import ActionInput, perform

    photos = [world["photo"]] if values.pop("photo", False) else []
    return perform(hazard, world["users"][username], action, ActionInput(photos=photos, **values), today=today)


def refused(world, hazard, username, action, **values):
    from patrol.hazard_flow import ActionRefused

    with pytest.raises(ActionRefused) as info:
        act(world, hazard, username, action, **values)
    return info.value


def test_the_whole_loop_records_every_step(world):
    from patrol.hazard_flow import is_overdue

    users = world["users"]
    hazard = new_hazard(world, severity="major")
    act(world, hazard, "officer", "assign", assignee_id=users["repairer"].id, measures="已设置警示带")
    assert hazard.status == "assigned" and hazard.deadline == TODAY + timedelta(days=3)  # major default
    act(world, hazard, "repairer", "request_extension", deadline=TODAY + timedelta(days=10), note="等配件")
    assert hazard.extension_until == TODAY + timedelta(days=10) and hazard.deadline == TODAY + timedelta(days=3)
    act(world, hazard, "officer", "approve_extension")
    assert hazard.deadline == TODAY + timedelta(days=10) and hazard.extension_until is None
    act(world, hazard, "repairer", "rectify", note="已清理", photo=True)
    assert hazard.status == "rectified" and hazard.rectified_by_id == users["repairer"].id
    act(world, hazard, "officer", "reject", note="角落还有杂物", deadline=TODAY + timedelta(days=1))
    assert hazard.status == "assigned" and hazard.deadline == TODAY + timedelta(days=1)
    act(world, hazard, "repairer", "rectify", note="全部清理", photo=True)
    act(world, hazard, "officer", "verify")
    assert hazard.status == "verified" and hazard.open_key is None and hazard.verified_by_id == users["officer"].id
    assert not is_overdue(hazard, TODAY + timedelta(days=30))
    actions = [(e.action, e.from_status, e.to_status) for e in hazard.events]
    assert actions == [
        ("reported", None, "reported"), ("assign", "reported", "assigned"),
        ("request_extension", "assigned", "assigned"), ("approve_extension", "assigned", "assigned"),
        ("rectify", "assigned", "rectified"), ("reject", "rectified", "assigned"),
        ("rectify", "assigned", "rectified"), ("verify", "rectified", "verified"),
    ]
    rectify = hazard.events[4]
    assert [p.kind for p in rectify.photos] == ["after"] and rectify.photos[0].hazard_id == hazard.id
    assign = hazard.events[1]
    assert assign.old_assignee_id is None and assign.new_assignee_id == users["repairer"].id
    assert assign.old_deadline is None and assign.new_deadline == TODAY + timedelta(days=3)


def test_refusals_say_why_with_the_right_status(world):
    users = world["users"]
    hazard = new_hazard(world)
    assert refused(world, hazard, "guard", "assign", assignee_id=users["repairer"].id).status == 403
    assert refused(world, hazard, "viewer", "rectify", note="x", photo=True).status == 403
    assert refused(world, hazard, "officer", "verify").status == 409           # not rectified yet
    assert refused(world, hazard, "officer", "dismiss").status == 422          # reason required
    assert refused(world, hazard, "officer", "assign", assignee_id=users["viewer"].id).status == 422
    past = refused(world, hazard, "officer", "assign", assignee_id=users["repairer"].id,
                   deadline=TODAY - timedelta(days=1))
    assert past.status == 422 and set(past.fields) == {"deadline"}
    act(world, hazard, "officer", "assign", assignee_id=users["repairer"].id)
    assert refused(world, hazard, "guard", "rectify", note="x", photo=True).status == 409  # not the assignee
    missing = refused(world, hazard, "repairer", "rectify", note="")
    assert missing.status == 422 and set(missing.fields) == {"note", "photo"}
    assert refused(world, hazard, "officer", "request_extension", note="x",
                   deadline=TODAY + timedelta(days=30)).status == 409  # only the assignee asks
    assert refused(world, hazard, "officer", "approve_extension").status == 409  # nothing to decide
    # an officer who fixed it may not verify it; another officer may
    act(world, hazard, "officer", "rectify", note="我自己修好了", photo=True)
    assert refused(world, hazard, "officer", "verify").status == 409
    act(world, hazard, "officer2", "verify")
    assert hazard.status == "verified"
    for action in ("assign", "dismiss", "rectify", "escalate"):
        assert refused(world, hazard, "officer2", action, note="x", assignee_id=users["repairer"].id,
                       photo=True).status == 409


def test_escalation_is_a_flag_beside_the_state(world):
    hazard = new_hazard(world)
    assert refused(world, hazard, "officer", "deescalate", note="x").status == 409
    act(world, hazard, "officer", "escalate", note="需要区里拨款")
    assert hazard.escalated and hazard.status == "reported"
    assert refused(world, hazard, "officer", "escalate", note="again").status == 409
    act(world, hazard, "officer", "deescalate", note="学校自筹解决")
    assert not hazard.escalated


def test_overdue_is_the_same_in_python_and_sql(world):
    from patrol.extensions import db
    from patrol.hazard_flow import is_overdue, overdue_clause
    from patrol.models import Hazard

    users = world["users"]
    due_yesterday, due_today, done = new_hazard(world), new_hazard(world), new_hazard(world)
    for hazard, deadline in ((due_yesterday, TODAY - timedelta(days=1)), (due_today, TODAY), (done, TODAY - timedelta(days=5))):
        act(world, hazard, "officer", "assign", assignee_id=users["repairer"].id, today=deadline, deadline=deadline)
    act(world, done, "repairer", "rectify", note="ok", photo=True)
    act(world, done, "officer", "verify")
    assert [is_overdue(h, TODAY) for h in (due_yesterday, due_today, done)] == [True, False, False]
    in_sql = db.session.scalars(select(Hazard.id).where(overdue_clause(TODAY))).all()
    assert in_sql == [due_yesterday.id]


def test_new_major_hazard_and_fix_notify_the_right_people(world, app):
    from patrol.extensions import db
    from patrol.hazard_flow import notify_new_hazard
    from patrol.models import Notification

    users = world["users"]
    hazard = new_hazard(world, severity="major")
    notify_new_hazard(hazard)
    db.session.commit()
    act(world, hazard, "officer", "assign", assignee_id=users["repairer"].id)
    act(world, hazard, "repairer", "rectify", note="修好", photo=True)
    act(world, hazard, "officer", "reject", note="没修好")
    got = sorted((n.kind, db.session.get(type(users["guard"]), n.user_id).username)
                 for n in db.session.scalars(select(Notification).where(Notification.hazard_id == hazard.id)))
    assert got == [("assigned", "repairer"), ("rectified", "officer"), ("rectified", "officer2"),
                   ("rejected", "repairer"), ("reported", "officer"), ("reported", "officer2")]


# --- random action sequences -------------------------------------------------------------------

ACTORS = ["guard", "repairer", "officer", "officer2", "admin", "viewer"]
# Weighted: dismissing ends the story early, so it is drawn less often than the loop's own steps.
ACTION_NAMES = ["assign", "assign", "rectify", "rectify", "rectify", "verify", "verify", "reject", "reject",
                "request_extension", "approve_extension", "refuse_extension", "escalate", "deescalate",
                "dismiss", "bogus"]
ACTORS = ["guard", "repairer", "officer", "officer2", "admin", "viewer"]


def draw_step(data, hazard, users):
    """An action with, most of the time, a plausible actor and input — so sequences get deep —
    and otherwise anyone with anything, so every refusal is exercised."""
    action = data.draw(st.sampled_from(ACTION_NAMES))
    if data.draw(st.integers(0, 9)) < 8:
        if action in ("rectify", "request_extension") and hazard.assignee_id:
            actor = next(name for name, u in users.items() if u.id == hazard.assignee_id)
        else:
            actor = data.draw(st.sampled_from(["officer", "officer2", "admin"]))
        values = {"note": "原因说明", "photo": True,
                  "assignee": data.draw(st.sampled_from(["repairer", "guard", "officer2"])),
                  "offset": data.draw(st.sampled_from([None, 1, 5, 20]))}
    else:
        actor = data.draw(st.sampled_from(ACTORS))
        values = {"note": data.draw(st.sampled_from(["", "x"])), "photo": data.draw(st.booleans()),
                  "assignee": data.draw(st.sampled_from([None, "repairer", "viewer"])),
                  "offset": data.draw(st.sampled_from([None, -3, 0, 2]))}
    return action, actor, values, data.draw(st.integers(min_value=0, max_value=12))


def snapshot(hazard):
    columns = [c.key for c in hazard.__table__.columns]
    return {c: getattr(hazard, c) for c in columns}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), length=st.integers(min_value=1, max_value=25), severity=st.sampled_from(["general", "major"]))
def test_random_action_sequences_keep_the_invariants(world, data, length, severity):
    from patrol.extensions import db
    from patrol.hazard_flow import ACTIONS, ActionRefused, is_overdue, overdue_clause
    from patrol.models import OPEN_HAZARD_STATES, Hazard, HazardEvent

    users = world["users"]
    hazard = new_hazard(world, severity)
    today = TODAY
    for _ in range(length):
        action, actor, values, days = draw_step(data, hazard, users)
        today = today + timedelta(days=days)
        before = snapshot(hazard)
        events_before = len(hazard.events)
        try:
            act(world, hazard, actor, action, today=today, note=values["note"], photo=values["photo"],
                assignee_id=users[values["assignee"]].id if values["assignee"] else None,
                deadline=today + timedelta(days=values["offset"]) if values["offset"] is not None else None)
        except ActionRefused as refusal:
            db.session.rollback()
            db.session.refresh(hazard)
            assert snapshot(hazard) == before, "a refused action changed the hazard"
            assert len(hazard.events) == events_before, "a refused action wrote an event"
            roles = ACTIONS.get(action, ((), ()))[0]
            if action in ACTIONS and users[actor].role not in roles:
                assert refusal.status == 403
            else:
                assert refusal.status in (409, 422)
            continue
        db.session.refresh(hazard)
        assert len(hazard.events) == events_before + 1, "every state change has exactly one event"
        event = hazard.events[-1]
        assert (event.action, event.actor_id, event.from_status, event.to_status) == (
            action, users[actor].id, before["status"], hazard.status)
    observe(f"ends {hazard.status}{' escalated' if hazard.escalated else ''}")
    observe(f"verified after a rejection: {hazard.status == 'verified' and any(e.action == 'reject' for e in hazard.events)}")
    # the event chain replays to the hazard's state
    chain = [(e.from_status, e.to_status) for e in hazard.events]
    assert all(prev[1] == nxt[0] for prev, nxt in zip(chain, chain[1:]))
    assert chain[-1][1] == hazard.status
    assert hazard.escalated == (sum(e.action == "escalate" for e in hazard.events)
                                > sum(e.action == "deescalate" for e in hazard.events))
    if hazard.status == "verified":
        assert hazard.verified_by_id != hazard.rectified_by_id
        verify = [e for e in hazard.events if e.action == "verify"][-1]
        last_fix = [e for e in hazard.events if e.action == "rectify"][-1]
        assert verify.actor_id != last_fix.actor_id
    assert (hazard.open_key is None) == (hazard.status not in OPEN_HAZARD_STATES)
    if hazard.status in ("assigned", "rectified"):
        assert hazard.assignee_id is not None and hazard.deadline is not None
    for probe in (today - timedelta(days=1), today, today + timedelta(days=5), today + timedelta(days=40)):
        expected = hazard.status in OPEN_HAZARD_STATES and hazard.deadline is not None and hazard.deadline < probe
        assert is_overdue(hazard, probe) == expected
        in_sql = db.session.scalar(select(func.count()).select_from(Hazard).where(
            Hazard.id == hazard.id, overdue_clause(probe)))
        assert in_sql == int(expected)
    assert db.session.scalar(select(func.count()).select_from(HazardEvent).where(
        HazardEvent.hazard_id == hazard.id)) == len(hazard.events)
