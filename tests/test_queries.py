"""Lists load their rows with the page: the number of queries does not grow with the number of rows."""
import pytest
from helpers import Auth
from sqlalchemy import event


def add_hazards(app, campus, n, status="assigned"):
    from patrol.extensions import db
    from patrol.models import Hazard, Notification, Point, User, utcnow

    with app.app_context():
        points = db.session.query(Point).all()
        officer = db.session.query(User).filter_by(username="officer").one()
        repairer = db.session.query(User).filter_by(username="repairer").one()
        for i in range(n):
            point = points[i % len(points)]
            item = point.point_type.active_items[0]
            hazard = Hazard(campus_id=campus["campus_id"], point_id=point.id, area_id=point.area_id, item_id=item.id,
                            item_key=item.key, category=item.category, status=status, description=f"第{i}处",
                            assignee_id=repairer.id if status == "assigned" else None, first_seen_at=utcnow(), last_seen_at=utcnow())
            db.session.add(hazard)
            db.session.flush()
            db.session.add(Notification(user_id=officer.id, hazard_id=hazard.id, kind="reported"))
        db.session.commit()


def queries_for(app, client, url):
    from patrol.extensions import db

    count = [0]

    def counter(*_args, **_kwargs):
        count[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert response.status_code == 200
    return count[0]


@pytest.mark.parametrize("url", ["/hazards", "/notifications", "/"])
def test_list_pages_do_not_query_per_row(app, campus, client, url):
    Auth(client).login("officer")
    add_hazards(app, campus, 3)
    few = queries_for(app, client, url)
    add_hazards(app, campus, 30)
    many = queries_for(app, client, url)
    assert many == few


def test_the_officers_queue_does_not_query_per_row(app, campus, client):
    Auth(client).login("officer")
    add_hazards(app, campus, 3, status="reported")
    few = queries_for(app, client, "/hazards/queue")
    add_hazards(app, campus, 30, status="reported")
    assert queries_for(app, client, "/hazards/queue") == few
