"""The dashboard's numbers (stats), its SVG charts, the still-due lists and the pages with their links."""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from helpers import Auth, csrf_from

from patrol.periods import Period
from sqlalchemy import event, select

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 11)  # a Wednesday: ISO week 2026-W11 is 9–15 March
SVG = "{http://www.w3.org/2000/svg}"


# ---- building a history with known answers ---------------------------------------------------------

def utc(local: str) -> datetime:
    """'2026-03-11 07:30' Beijing time as naive UTC, the way observed_at is stored."""
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(timezone.utc).replace(tzinfo=None)


def ids(app):
    from patrol.extensions import db
    from patrol.models import Point, User

    with app.app_context():
        points = dict(db.session.execute(select(Point.code, Point.id)).all())
        users = dict(db.session.execute(select(User.username, User.id)).all())
        return points, users


def add_checks(app, *checks):
    """(point code, local time, username) for each check."""
    from patrol.extensions import db
    from patrol.models import Check

    points, users = ids(app)
    with app.app_context():
        for code, local, username in checks:
            db.session.add(Check(client_uuid=str(uuid.uuid4()), point_id=points[code], user_id=users[username],
                                 observed_at=utc(local), content_hash="x"))
        db.session.commit()


def add_hazard(app, campus, category, area, first_seen, status="reported", deadline=None, verified=None,
               closed=None, deadlines=()):
    """A hazard as the loop would leave it; `deadlines` are (local time, new deadline) assign/extension events."""
    from patrol.extensions import db
    from patrol.models import Hazard, HazardEvent

    with app.app_context():
        hazard = Hazard(campus_id=campus["campus_id"], area_id=campus["areas"][area] if area else None,
                        category=category, status=status, description="x", first_seen_at=utc(first_seen),
                        last_seen_at=utc(first_seen), deadline=deadline,
                        verified_at=utc(verified) if verified else None,
                        closed_at=utc(closed or verified) if (closed or verified) else None)
        db.session.add(hazard)
        db.session.flush()
        for n, (at, new_deadline) in enumerate(deadlines):
            db.session.add(HazardEvent(hazard_id=hazard.id, at=utc(at), action="assign" if n == 0 else
                                       "approve_extension", new_deadline=new_deadline))
        db.session.commit()
        return hazard.id


@pytest.fixture
def history(app, campus):
    """Checks from 4 March (the campus's first) to today, 11 March, and hazards from January on."""
    add_checks(
        app,
        ("P-DORM", "2026-03-04 09:00", "guard"),
        ("P-EXTINGUISHER", "2026-03-05 10:00", "guard"),
        ("P-CLASSROOM", "2026-03-10 17:20", "guard"),
        ("P-EXIT", "2026-03-10 23:50", "guard"),  # 15:50 UTC: still 10 March
        ("P-CANTEEN_GAS", "2026-03-10 13:05", "officer"),
        ("P-CLASSROOM", "2026-03-11 07:30", "guard"),  # 23:30 UTC on the 10th: counts on the 11th
        ("P-GATE", "2026-03-11 06:45", "guard"),
        ("P-GATE", "2026-03-11 12:10", "guard"),  # two of its three rounds today
    )
    hazards = {
        "today_fire": add_hazard(app, campus, "fire", "A", "2026-03-11 10:00"),
        "overdue": add_hazard(app, campus, "electrical", "A", "2026-03-09 09:00", "assigned",
                              deadline=date(2026, 3, 10)),
        "verified": add_hazard(app, campus, "building", "B", "2026-03-05 09:00", "verified",
                               deadline=date(2026, 3, 12), verified="2026-03-10 11:00"),
        "dismissed": add_hazard(app, campus, "fire", "A", "2026-02-20 09:00", "dismissed",
                                closed="2026-02-21 09:00"),
        "no_area": add_hazard(app, campus, "security", None, "2026-02-10 09:00", "assigned",
                              deadline=date(2026, 2, 25)),
        "late_january": add_hazard(app, campus, "facilities", "A", "2026-01-15 09:00", "verified",
                                   deadline=date(2026, 1, 20), verified="2026-02-03 09:00"),
        "extended": add_hazard(app, campus, "fire", "B", "2026-02-02 09:00", "assigned",
                               deadline=date(2026, 3, 20),
                               deadlines=[("2026-02-02 10:00", date(2026, 2, 20)),
                                          ("2026-03-03 10:00", date(2026, 3, 20))]),
        "early_today": add_hazard(app, campus, "electrical", "A", "2026-03-11 01:00", "rectified",
                                  deadline=date(2026, 3, 18)),  # 17:00 UTC on the 10th: found on the 11th
    }
    return hazards


def campus_of(app):
    from patrol.extensions import db
    from patrol.models import Campus

    return db.session.scalars(select(Campus)).one()


def figures(tally):
    return tally.due, tally.done, tally.missed, tally.still_due


def keyed(rows):
    return {row.key: row for row in rows}


# ---- the numbers -------------------------------------------------------------------------------------

def test_day_counts_checks_on_the_local_day(app, campus, history):
    from patrol import stats

    with app.app_context():
        board = stats.dashboard(campus_of(app), "day", TODAY)
    assert (board.period.start, board.period.end) == (TODAY, TODAY + timedelta(days=1))
    # daily 7 rounds (gate ×3), this week's dorm sweep, this month's 3 extinguisher/hydrant/panel checks
    assert figures(board.completion) == (11, 4, 0, 7)
    cadence = keyed(board.by_cadence)
    assert figures(cadence["daily"]) == (7, 3, 0, 4)  # the 07:30 classroom check and two gate rounds
    assert figures(cadence["weekly"]) == (1, 0, 0, 1)
    assert figures(cadence["monthly"]) == (3, 1, 0, 2)
    areas = keyed(board.by_area)
    assert figures(areas[campus["areas"]["B"]]) == (1, 0, 0, 1)
    assert figures(areas[campus["areas"]["A"]]) == (10, 4, 0, 6)
    types = keyed(board.by_type)
    assert figures(types["gate"]) == (3, 2, 0, 1) and types["gate"].name("en") == "Gate and perimeter"
    assert board.checks == 3
    assert [(g.name, g.checks, g.points) for g in board.by_guard] == [("Guard 用户", 3, 2)]
    assert (board.hazards.found, board.hazards.verified, board.hazards.open, board.hazards.overdue) == (2, 0, 5, 2)
    category = keyed(board.hazards_by_category)
    assert (category["fire"].found, category["fire"].open, category["fire"].overdue) == (1, 2, 0)
    assert (category["electrical"].found, category["electrical"].open, category["electrical"].overdue) == (1, 2, 1)
    assert (category["security"].open, category["security"].overdue) == (1, 1)
    by_area = keyed(board.hazards_by_area)
    assert (by_area[campus["areas"]["A"]].found, by_area[campus["areas"]["A"]].open) == (2, 3)
    assert (by_area[None].open, by_area[None].overdue) == (1, 1)


def test_week_and_month(app, campus, history):
    from patrol import stats

    with app.app_context():
        week = stats.dashboard(campus_of(app), "week", TODAY)
        month = stats.dashboard(campus_of(app), "month", TODAY)
    assert week.period.label == "2026-W11"
    # 9, 10, 11 March × 7 daily rounds: 6 done, 9th all missed, 10th 4 missed, 11th 4 still due
    assert figures(keyed(week.by_cadence)["daily"]) == (21, 6, 11, 4)
    assert figures(week.completion) == (25, 7, 11, 7)
    assert week.checks == 6
    assert {g.name: (g.checks, g.points) for g in week.by_guard} == {"Guard 用户": (5, 3), "Officer 用户": (1, 1)}
    assert (week.hazards.found, week.hazards.verified) == (3, 1)

    assert month.period.label == "2026-03"
    # counted from the first check on 4 March: 6 school days, weeks of 2 and 9 March, 3 monthly points
    cadence = keyed(month.by_cadence)
    assert figures(cadence["daily"]) == (42, 6, 32, 4)
    assert figures(cadence["weekly"]) == (2, 1, 0, 1)
    assert figures(month.completion) == (47, 8, 32, 7)
    assert month.checks == 8
    assert (month.hazards.found, month.hazards.verified, month.hazards.open, month.hazards.overdue) == (4, 1, 5, 2)
    assert keyed(month.hazards_by_category)["building"].verified == 1


def test_still_due_lists(app, campus, history):
    from patrol import stats
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        school = campus_of(app)
        everything = stats.due_lists(school, TODAY)
        day = {d.code: (d.done, d.remaining) for d in everything.lists["day"]}
        # the classroom checked at 07:30 is done; the gate (3 a day) checked twice still needs one
        assert day == {"P-EXIT": (0, 1), "P-CLASS-2": (0, 1), "P-CANTEEN_GAS": (0, 1), "P-GATE": (2, 1)}
        assert [d.code for d in everything.lists["week"]] == ["P-DORM"]
        assert {d.code for d in everything.lists["month"]} == {"P-HYDRANT", "P-PANEL"}
        assert stats.due_counts(school, TODAY) == {"day": 4, "week": 1, "month": 2}

        guard = db.session.scalar(select(User).where(User.username == "guard"))
        mine = stats.due_lists(school, TODAY, guard)  # the guard only patrols 教学楼A
        assert mine.areas == ["教学楼A"]
        assert {d.code for d in mine.lists["day"]} == {"P-EXIT", "P-CLASS-2", "P-GATE"}
        assert [d.code for d in stats.still_due(school, "week", TODAY, guard)] == ["P-DORM"]
        # weeks later the guard has no recent checks: every point is theirs again
        later = date(2026, 5, 13)
        assert stats.due_lists(school, later, guard).areas == []
        assert len(stats.still_due(school, "day", later, guard)) == 5  # every daily point; none checked
        # at the weekend there are no daily rounds unless the campus has weekend rounds
        assert stats.still_due(school, "day", date(2026, 3, 14)) == []
        school.weekend_rounds = True
        assert len(stats.still_due(school, "day", date(2026, 3, 14))) == 5
        db.session.rollback()


def test_trend(app, campus, history):
    from patrol import stats

    with app.app_context():
        months = stats.trend(campus_of(app), 3, TODAY)
        assert [m.period.label for m in months] == ["2026-01", "2026-02", "2026-03"]
        assert [(m.found, m.verified) for m in months] == [(1, 0), (2, 1), (4, 1)]  # the dismissed one is not
        # end of January: the January hazard (verified 3 Feb); end of February: the one without an area and the
        # one whose deadline was 20 Feb then (extended to 20 March on 3 March); now: the two past their deadline
        assert [m.overdue for m in months] == [1, 2, 2]
        assert [m.started for m in months] == [False, False, True]
        assert [m.rate for m in months][:2] == [None, None]
        assert (months[2].due, months[2].done, months[2].current) == (47, 8, True)
        year = stats.trend(campus_of(app), 12, TODAY)
    assert len(year) == 12 and year[0].period.label == "2025-04" and year[-1].period.label == "2026-03"


def test_trend_counts_the_first_month_from_the_first_check(app, campus):
    from patrol import stats
    from patrol.periods import Period

    add_checks(app, ("P-CLASSROOM", "2026-02-26 08:00", "guard"))
    with app.app_context():
        school = campus_of(app)
        february = stats.trend(school, 2, TODAY)[0]
        # 26 and 27 February (Thu, Fri) × 7 daily rounds, the week of 23 February, 3 monthly points
        assert (february.due, february.done) == (14 + 1 + 3, 1)
        assert stats.counted_span(school, Period.month(2026, 2)) == Period("month", date(2026, 2, 26),
                                                                          date(2026, 3, 1))
        assert stats.counted_span(school, Period.month(2026, 1)) is None
        assert stats.counted_span(school, Period.month(2026, 3)) == Period.month(2026, 3)


def test_trend_sees_late_checks_and_changed_points(app, campus, monkeypatch):
    """Ended months are kept between views, until a check for them arrives late or the points change."""
    from patrol import stats
    from patrol.extensions import db
    from patrol.models import Point

    spans = []
    counted = stats.coverage
    def counting(campus, span, *args, **kwargs):
        spans.append(span)
        return counted(campus, span, *args, **kwargs)

    monkeypatch.setattr(stats, "coverage", counting)

    def february():
        month = stats.trend(campus_of(app), 2, TODAY)[0]
        return month.due, month.done

    add_checks(app, ("P-CLASSROOM", "2026-02-26 08:00", "guard"))
    with app.app_context():
        assert february() == (18, 1)
        assert february() == (18, 1)
        assert [s.label for s in spans] == ["2026-02", "2026-03", "2026-03"]  # February was counted once
    add_checks(app, ("P-EXIT", "2026-03-10 08:00", "guard"))
    with app.app_context():
        assert february() == (18, 1) and len(spans) == 4  # a March check leaves February as it was
    add_checks(app, ("P-EXIT", "2026-02-27 08:00", "guard"))  # sent from a phone's queue days later
    with app.app_context():
        assert february() == (18, 2)
        db.session.scalar(select(Point).where(Point.code == "P-GATE")).per_period = 2
        db.session.commit()
        assert february() == (16, 2)


def test_period_labels_parse_back():
    from patrol.periods import Period
    from patrol.stats import parse_period

    for kind in ("day", "week", "month"):
        period = Period.containing(kind, TODAY)
        assert parse_period(period.label) == period
    with pytest.raises(ValueError):
        parse_period("2026-W1x")


def test_dashboard_queries_do_not_grow_with_points(app, campus, history):
    """Grouped queries: 60 more points cost no more statements."""
    from patrol import stats
    from patrol.extensions import db
    from patrol.models import Point

    def statements():
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            stats.dashboard(campus_of(app), "month", TODAY)
            stats.trend(campus_of(app), 3, TODAY)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    with app.app_context():
        before = statements()
        template = db.session.scalar(select(Point).where(Point.code == "P-GATE"))
        for n in range(60):
            db.session.add(Point(campus_id=template.campus_id, area_id=template.area_id,
                                 point_type_id=template.point_type_id, code=f"X-{n}", name=f"X {n}",
                                 cadence=["daily", "weekly", "monthly"][n % 3], per_period=1))
        db.session.commit()
        db.session.expire_all()
        assert statements() == before


# ---- the charts ----------------------------------------------------------------------------------

def test_charts_are_svg_with_one_element_per_value():
    from patrol.charts import Datum, Series, bar_chart, bar_list, line_chart

    labels = ["01", "02", "03"]
    found = [Datum(n, f"found {n}", f"/hazards?found=2026-0{i + 1}") for i, n in enumerate((3, 0, 7))]
    verified = [Datum(n, f"verified {n}") for n in (1, 2, 5)]
    series = [Series("Found", found, "found"), Series("Verified", verified, "verified")]
    svg = ET.fromstring(str(bar_chart(labels, series, label="Found & verified <per month>", x_label="Month",
                                      y_label="Hazards")))
    assert svg.tag == SVG + "svg" and svg.get("role") == "img" and svg.get("viewBox").startswith("0 0 ")
    assert svg.get("aria-label") == "Found & verified <per month>"
    assert svg.find(SVG + "title").text == "Found & verified <per month>"
    bars = [el for el in svg.iter(SVG + "rect") if "bar" in el.get("class", "").split()]
    assert len(bars) == 6
    assert [b.find(SVG + "title").text for b in bars] == ["found 3", "verified 1", "found 0", "verified 2",
                                                          "found 7", "verified 5"]
    links = [a.get("href") for a in svg.iter(SVG + "a")]
    assert links == ["/hazards?found=2026-01", "/hazards?found=2026-02", "/hazards?found=2026-03"]
    texts = ["".join(t.itertext()) for t in svg.iter(SVG + "text")]
    assert {"Month", "Hazards", "01", "03"} <= set(texts)
    assert not any(el.get("style") for el in svg.iter())

    line = ET.fromstring(str(line_chart(labels, [Datum(50, "a", "/x?a=1&b=2"), Datum(None, "none"), Datum(100, "c")],
                                        label="rate", x_label="Month", y_label="%")))
    dots = list(line.iter(SVG + "circle"))
    assert len(dots) == 2 and [a.get("href") for a in line.iter(SVG + "a")] == ["/x?a=1&b=2"]
    assert list(line.iter(SVG + "polyline")) == []  # a gap: no two neighbouring values to join

    rows = ET.fromstring(str(bar_list([("教学楼A 一个很长很长很长的区域名称", Datum(80, "80%", "/a")), ("B", Datum(0, "0"))],
                                      label="areas", x_label="%", top=100)))
    assert len([r for r in rows.iter(SVG + "rect") if "bar" in r.get("class")]) == 2
    names = [(t.find(SVG + "title").text, t.find(SVG + "title").tail) for t in rows.iter(SVG + "text")
             if t.find(SVG + "title") is not None]
    assert names[0][0] == "教学楼A 一个很长很长很长的区域名称" and names[0][1].endswith("…")  # cut, whole in the tooltip
    assert names[1] == ("B", "B")


# ---- the pages -----------------------------------------------------------------------------------

def login(app, username):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    client.post("/locale", data={"csrf_token": csrf_from(client.get("/")), "locale": "en", "next": "/"})
    return client


def today_local():
    return datetime.now(TZ).date()


@pytest.fixture
def today_rounds(app, campus):
    """Daily rounds every day (the tests may run at a weekend); the gate checked twice today, a classroom once."""
    from patrol.extensions import db
    from patrol.models import Campus

    with app.app_context():
        db.session.get(Campus, campus["campus_id"]).weekend_rounds = True
        db.session.commit()
    day = today_local().isoformat()
    add_checks(app, ("P-GATE", f"{day} 00:01", "guard"), ("P-GATE", f"{day} 00:02", "guard"),
               ("P-CLASSROOM", f"{day} 00:03", "guard"))
    return ids(app)[0]


def svgs(body):
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", body, re.S)]


def test_dashboard_page_figures_link_to_their_lists(app, campus, today_rounds):
    add_hazard(app, campus, "fire", "A", (datetime.now(TZ) - timedelta(days=40)).strftime("%Y-%m-%d %H:%M"),
               "assigned", deadline=today_local() - timedelta(days=2))
    client = login(app, "officer")
    for kind in ("day", "week", "month"):
        response = client.get(f"/dashboard?period={kind}")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert 'aria-current="page"' in body and f'id="tab-{kind}"' in body
        assert "style=" not in body and "<style" not in body and "<script>" not in body
    body = client.get("/dashboard?period=month").get_data(as_text=True)
    assert 'href="/dashboard/coverage?period=month&amp;area=%d"' % campus["areas"]["A"] in body
    assert 'href="/dashboard/coverage?period=month&amp;cadence=daily"' in body
    assert 'href="/dashboard/coverage?period=month&amp;type=gate"' in body
    assert 'href="/hazards?category=fire&amp;status=open"' in body
    assert 'href="/hazards?category=fire&amp;overdue=1"' in body
    assert f'href="/hazards?area={campus["areas"]["A"]}&amp;overdue=1"' in body
    month = datetime.now(TZ).strftime("%Y-%m")
    assert f'href="/hazards?found={month}"' in body

    charts = svgs(body)
    assert len(charts) == 5 and all(c.get("role") == "img" and c.get("aria-label") for c in charts)
    trend = next(c for c in charts if "bar-chart" in c.get("class"))
    assert len([r for r in trend.iter(SVG + "rect") if "bar" in r.get("class").split()]) == 24
    hrefs = {a.get("href") for a in trend.iter(SVG + "a")}
    assert f"/hazards?found={month}" in hrefs and f"/hazards?status=verified&verified={month}" in hrefs
    line = next(c for c in charts if "line-chart" in c.get("class"))
    assert len(list(line.iter(SVG + "circle"))) == 1  # only this month has checks
    assert {a.get("href") for a in line.iter(SVG + "a")} == {f"/dashboard/coverage?period=month&month={month}"}

    # The click-through shows as many hazards as the figure says.
    overdue = re.search(r'<li id="figure-overdue"[^>]*><a href="([^"]+)"><strong>(\d+)</strong>', body)
    assert overdue.group(2) == "1"
    listed = client.get(overdue.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "1 hazard" in listed


def test_coverage_list(app, campus, today_rounds):
    client = login(app, "viewer")
    body = client.get(f"/dashboard/coverage?period=day&area={campus['areas']['A']}").get_data(as_text=True)
    gate = re.search(r'<tr id="point-%d".*?</tr>' % today_rounds["P-GATE"], body, re.S).group(0)
    assert re.findall(r'class="(?:due|done|missed|still-due)[^"]*">(\d+)<', gate) == ["3", "2", "0", "1"]
    assert f'id="point-{today_rounds["P-CANTEEN_GAS"]}"' not in body  # another area
    month = client.get("/dashboard/coverage?month=2026-01")
    assert month.status_code == 200 and "2026-01-31" in month.get_data(as_text=True)
    assert client.get("/dashboard/coverage?month=2026-1").status_code == 404


def test_still_due_page_and_start_page(app, campus, today_rounds):
    client = login(app, "guard")
    body = client.get("/dashboard/due").get_data(as_text=True)
    day = body.split('id="due-day"')[1].split("</section>")[0]
    gate = re.search(r'<li id="due-point-%d".*?</li>' % today_rounds["P-GATE"], day, re.S).group(0)
    assert "2 of 3 done" in gate and '<strong class="remaining">1 to go</strong>' in gate
    assert f'id="due-point-{today_rounds["P-CLASSROOM"]}"' not in day  # checked today
    assert f'id="due-point-{today_rounds["P-EXIT"]}"' in day
    assert 'id="due-scope"' in body
    home = client.get("/").get_data(as_text=True)
    assert 'href="/dashboard/due"' in home and 'id="home-due"' in home
    assert 'href="/dashboard"' in login(app, "viewer").get("/").get_data(as_text=True)


@pytest.mark.parametrize("username, allowed", [
    ("officer", {"/dashboard", "/dashboard/coverage", "/dashboard/due"}),
    ("admin", {"/dashboard", "/dashboard/coverage", "/dashboard/due"}),
    ("viewer", {"/dashboard", "/dashboard/coverage"}),
    ("guard", {"/dashboard/due"}),
    ("repairer", set()),
])
def test_who_sees_what(app, campus, username, allowed):
    client = login(app, username)
    for url in ("/dashboard", "/dashboard/coverage", "/dashboard/due"):
        assert client.get(url).status_code == (200 if url in allowed else 403), url
    assert client.get("/").status_code == 200


def test_anonymous_is_sent_to_login(client, campus):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_links_use_the_hazard_list_filter(app, campus):
    """Every /hazards link on the page carries only arguments the hazard list reads, and it reads them all."""
    from patrol.hazard_list import HazardFilter

    add_hazard(app, campus, "fire", "A", datetime.now(TZ).strftime("%Y-%m-%d %H:%M"))
    body = login(app, "officer").get("/dashboard?period=week").get_data(as_text=True)
    links = [urlsplit(h.replace("&amp;", "&")) for h in re.findall(r'href="(/hazards\?[^"]+)"', body)]
    assert links
    for link in links:
        args = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert set(args) <= {"status", "category", "area", "overdue", "found", "verified"}
        known = HazardFilter.from_args(args).as_args()
        assert {k: str(v) for k, v in known.items()} == args


def test_found_and_verified_links_list_exactly_the_counted_hazards(app, campus):
    """The dashboard's "found this week" figure and the list behind it agree."""
    today = datetime.now(TZ)
    add_hazard(app, campus, "fire", "A", today.strftime("%Y-%m-%d %H:%M"))
    add_hazard(app, campus, "fire", "A", (today - timedelta(days=40)).strftime("%Y-%m-%d %H:%M"))
    client = login(app, "officer")
    week = Period.containing("week", today.date()).label
    listed = client.get(f"/hazards?found={week}").get_data(as_text=True)
    assert len(re.findall(r'<tr id="hazard-\d+"', listed)) == 1
    everything = client.get("/hazards").get_data(as_text=True)
    assert len(re.findall(r'<tr id="hazard-\d+"', everything)) == 2
