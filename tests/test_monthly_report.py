"""The monthly report (月报): every figure of a known campus history, the page, XLSX and JSON agreeing, closing."""
from __future__ import annotations

import io
import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from helpers import Auth, bearer, csrf_from, jpeg_bytes
from sqlalchemy import insert, select

MARCH = "2026-03"
# The campus fixture's points: code -> (cadence, category for reports)
# P-EXTINGUISHER, P-HYDRANT: monthly, fire · P-PANEL: monthly, electrical · P-CLASSROOM, P-CLASS-2: daily,
# buildings (five items in five categories: the first item's wins) · P-EXIT: daily, fire · P-CANTEEN_GAS:
# daily, food, the only point in area 食堂 · P-DORM: weekly, electrical · P-GATE: daily ×3, security.


def utc(local: str) -> datetime:
    """'2026-03-01T07:30' Beijing time → naive UTC, as stored."""
    return datetime.fromisoformat(local + "+08:00").astimezone(timezone.utc).replace(tzinfo=None)


def weekdays(year: int, month: int) -> list[date]:
    day, days = date(year, month, 1), []
    while day.month == month:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


class History:
    """Builds checks and hazards at chosen local times, moving hazards through the real hazard_flow rules."""

    def __init__(self, campus_id: int):
        from patrol import photos
        from patrol.extensions import db
        from patrol.models import Point, User

        self.db = db
        self.campus_id = campus_id
        self.points = {p.code: p for p in db.session.scalars(select(Point))}
        self.users = {u.username: u for u in db.session.scalars(select(User))}
        self.photo = photos.store(jpeg_bytes())
        self.checks: list[dict] = []

    def check(self, code: str, local: str) -> None:
        self.checks.append({"client_uuid": str(uuid.uuid4()), "point_id": self.points[code].id,
                            "user_id": self.users["guard"].id, "observed_at": utc(local), "observed_offset": 480,
                            "received_at": utc(local), "content_hash": "x", "source": "form"})

    def save_checks(self) -> None:
        from patrol.models import Check

        if self.checks:
            self.db.session.execute(insert(Check), self.checks)
            self.db.session.commit()
            self.checks = []

    def found(self, local: str, category: str, severity: str = "general", code: str | None = None,
              description: str = "") -> int:
        from patrol.models import Hazard, HazardEvent

        at = utc(local)
        point = self.points[code] if code else None
        hazard = Hazard(campus_id=self.campus_id, point_id=point.id if point else None,
                        area_id=point.area_id if point else None, location=point.location if point else "操场东侧",
                        category=category, severity=severity, status="reported",
                        description=description or f"{category} {local}", first_seen_at=at, last_seen_at=at,
                        reported_by_id=self.users["guard"].id)
        self.db.session.add(hazard)
        self.db.session.flush()
        self.db.session.add(HazardEvent(hazard_id=hazard.id, actor_id=self.users["guard"].id, at=at,
                                        action="reported", to_status="reported", note=hazard.description))
        self.db.session.commit()
        return hazard.id

    def act(self, hazard_id: int, username: str, action: str, local: str, **values) -> None:
        """perform() on that local day, then dated to that moment as if it had happened then."""
        from patrol.hazard_flow import ActionInput, perform
        from patrol.models import Hazard

        at = utc(local)
        hazard = self.db.session.get(Hazard, hazard_id)
        if "assignee" in values:
            values["assignee_id"] = self.users[values.pop("assignee")].id
        if isinstance(values.get("deadline"), str):
            values["deadline"] = date.fromisoformat(values["deadline"])
        photos = [self.photo] if action == "rectify" else []
        values.setdefault("note", "按计划" if action not in ("assign", "approve_extension", "verify") else "")
        event = perform(hazard, self.users[username], action, ActionInput(photos=photos, **values),
                        today=date.fromisoformat(local[:10]))
        event.at = at
        if action == "rectify":
            hazard.rectified_at = at
        if action == "verify":
            hazard.verified_at = at
        if action in ("verify", "dismiss"):
            hazard.closed_at = at
        self.db.session.commit()


@pytest.fixture
def history(app, campus):
    """March 2026 (22 weekdays, ISO weeks of 2, 9, 16 and 23 March) around a campus with known answers."""
    with app.test_request_context():
        h = History(campus["campus_id"])
        # Coverage. On the 1st at 07:30 Beijing (23:30 UTC the day before) the check is March's; at 07:00
        # on 1 April it is April's; 23:30 Beijing on 28 February stays February's.
        h.check("P-EXTINGUISHER", "2026-02-28T23:30")
        h.check("P-EXTINGUISHER", "2026-03-01T07:30")
        h.check("P-EXTINGUISHER", "2026-04-01T07:00")
        h.check("P-PANEL", "2026-03-10T09:00")
        h.check("P-PANEL", "2026-03-20T09:00")  # a second check of a once-a-month point: extra
        march = weekdays(2026, 3)
        for day in march[2:]:  # 2 and 3 March missed
            h.check("P-EXIT", f"{day}T07:05")
        h.check("P-EXIT", "2026-03-08T10:00")  # a Sunday: not due, still a check
        for day in march:
            h.check("P-CANTEEN_GAS", f"{day}T13:05")
        for day in ("2026-03-03", "2026-03-11", "2026-03-17", "2026-03-31"):  # the last is in April's week
            h.check("P-DORM", f"{day}T20:00")
        for day in march[:-1]:  # 31 March missed
            for hour in (6, 12, 20):
                h.check("P-GATE", f"{day}T{hour:02d}:40")
        h.check("P-GATE", "2026-03-02T22:00")  # a fourth round on one day: at most three count
        h.save_checks()

        ids = {}
        # Closed in January: not part of March at all.
        ids["jan_closed"] = h.found("2026-01-05T09:00", "fire", code="P-HYDRANT")
        h.act(ids["jan_closed"], "officer", "assign", "2026-01-05T10:00", assignee="repairer", deadline="2026-01-10")
        h.act(ids["jan_closed"], "repairer", "rectify", "2026-01-06T10:00")
        h.act(ids["jan_closed"], "officer", "verify", "2026-01-07T10:00")
        # Carried over, escalated in January, de-escalated during March.
        ids["deescalated"] = h.found("2026-01-15T09:00", "building", code="P-CLASSROOM")
        h.act(ids["deescalated"], "officer", "assign", "2026-01-16T10:00", assignee="repairer", deadline="2026-06-30")
        h.act(ids["deescalated"], "officer", "escalate", "2026-01-20T10:00", note="需要专项经费")
        h.act(ids["deescalated"], "officer", "deescalate", "2026-03-10T10:00", note="经费已到位")
        # Carried over, fixed and verified in March.
        ids["carried_verified"] = h.found("2026-02-10T09:00", "fire", code="P-EXIT")
        h.act(ids["carried_verified"], "officer", "assign", "2026-02-11T10:00", assignee="repairer",
              deadline="2026-03-05")
        h.act(ids["carried_verified"], "repairer", "rectify", "2026-03-03T10:00")
        h.act(ids["carried_verified"], "officer", "verify", "2026-03-04T10:00")
        # Carried over and overdue at the end of March; fixed and verified only in April.
        ids["verified_late"] = h.found("2026-02-20T09:00", "electrical", code="P-PANEL")
        h.act(ids["verified_late"], "officer", "assign", "2026-02-21T10:00", assignee="repairer",
              deadline="2026-03-10")
        h.act(ids["verified_late"], "repairer", "rectify", "2026-04-02T10:00")
        h.act(ids["verified_late"], "officer", "verify", "2026-04-03T10:00")
        # Carried over, escalated in March, de-escalated in April: escalated at the end of March.
        ids["escalated_late"] = h.found("2026-02-25T21:00", "security", code="P-GATE")
        h.act(ids["escalated_late"], "officer", "assign", "2026-02-26T10:00", assignee="repairer",
              deadline="2026-06-30")
        h.act(ids["escalated_late"], "officer", "escalate", "2026-03-20T10:00", note="围墙需教育局立项")
        h.act(ids["escalated_late"], "officer", "deescalate", "2026-04-05T10:00", note="已立项")
        # Found at 07:30 Beijing on 1 March = 23:30 UTC on 28 February: March's, still reported.
        ids["first_morning"] = h.found("2026-03-01T07:30", "fire", code="P-HYDRANT")
        # Found major in March, assigned and escalated: open.
        ids["major_escalated"] = h.found("2026-03-05T06:40", "security", "major", code="P-GATE",
                                         description="周界围栏有一处断裂")
        h.act(ids["major_escalated"], "officer", "assign", "2026-03-05T10:00", assignee="repairer",
              deadline="2026-04-30", measures="已安排保安加强巡逻")
        h.act(ids["major_escalated"], "officer", "escalate", "2026-03-06T10:00", note="需要专项经费")
        # Found general, raised to major on assignment, overdue; its deadline extended only in April.
        ids["major_overdue"] = h.found("2026-03-08T07:05", "fire", code="P-EXIT", description="疏散指示标志灯不亮")
        h.act(ids["major_overdue"], "officer", "assign", "2026-03-09T10:00", assignee="repairer",
              deadline="2026-03-12", severity="major", measures="已设置警示标识")
        h.act(ids["major_overdue"], "repairer", "request_extension", "2026-04-01T09:00", deadline="2026-04-20",
              note="灯具缺货")
        h.act(ids["major_overdue"], "officer", "approve_extension", "2026-04-02T09:00")
        # Found, fixed and verified within March.
        ids["quick_fix"] = h.found("2026-03-12T13:05", "food", code="P-CANTEEN_GAS")
        h.act(ids["quick_fix"], "officer", "assign", "2026-03-12T14:00", assignee="repairer", deadline="2026-03-19")
        h.act(ids["quick_fix"], "repairer", "rectify", "2026-03-15T10:00")
        h.act(ids["quick_fix"], "officer", "verify", "2026-03-16T10:00")
        # Dismissed in March: judged not a hazard, so not found.
        ids["dismissed"] = h.found("2026-03-18T10:00", "other")
        h.act(ids["dismissed"], "officer", "dismiss", "2026-03-19T10:00", note="不是隐患")
        # Fixed in March, verified in April: rectified but still open (and past its deadline) at the end.
        ids["rectified_open"] = h.found("2026-03-20T17:20", "building", code="P-CLASSROOM")
        h.act(ids["rectified_open"], "officer", "assign", "2026-03-20T18:00", assignee="repairer",
              deadline="2026-03-27")
        h.act(ids["rectified_open"], "repairer", "rectify", "2026-03-26T10:00")
        h.act(ids["rectified_open"], "officer", "verify", "2026-04-02T11:00")
        # An ad-hoc report, general at the end of March, made major only in April.
        ids["major_later"] = h.found("2026-03-25T10:00", "facilities")
        h.act(ids["major_later"], "officer", "assign", "2026-04-02T10:00", assignee="repairer",
              deadline="2026-04-05", severity="major")
        # Found at 07:30 Beijing on 1 April = 23:30 UTC on 31 March: April's.
        ids["april"] = h.found("2026-04-01T07:30", "other")
    return ids


def campus_and(app, month):
    from patrol.extensions import db
    from patrol.models import Campus
    from patrol.periods import Period

    return db.session.scalar(select(Campus)), Period.parse_month(month)


def build(app, month=MARCH, today=None):
    from patrol.monthly import build_report

    with app.app_context():
        campus, period = campus_and(app, month)
        return build_report(campus, period, today)


def figures(**values):
    """A FIGURES object: zeros and null rates unless given."""
    base = {"points": 0, "points_complete": 0, "checks_due": 0, "checks_done": 0, "completion_rate": None,
            "checks": 0, "hazards_found": 0, "hazards_found_general": 0, "hazards_found_major": 0,
            "hazards_rectified": 0, "hazards_verified": 0, "rectification_rate": None, "overdue": 0,
            "escalated": 0, "carried_over": 0}
    assert set(values) <= set(base)
    return dict(base, **values)


MARCH_BY_CATEGORY = {
    "fire": figures(points=3, points_complete=1, checks_due=24, checks_done=21, completion_rate=0.875, checks=22,
                    hazards_found=2, hazards_found_general=1, hazards_found_major=1, hazards_rectified=1,
                    hazards_verified=1, rectification_rate=0.0, overdue=1, carried_over=1),
    "electrical": figures(points=2, points_complete=1, checks_due=5, checks_done=4, completion_rate=0.8, checks=6,
                          overdue=1, carried_over=1),
    "building": figures(points=2, checks_due=44, completion_rate=0.0, hazards_found=1, hazards_found_general=1,
                        hazards_rectified=1, rectification_rate=0.0, overdue=1, carried_over=1),
    "facilities": figures(hazards_found=1, hazards_found_general=1, rectification_rate=0.0),
    "food": figures(points=1, points_complete=1, checks_due=22, checks_done=22, completion_rate=1.0, checks=22,
                    hazards_found=1, hazards_found_general=1, hazards_rectified=1, hazards_verified=1,
                    rectification_rate=1.0),
    "security": figures(points=1, checks_due=66, checks_done=63, completion_rate=0.9545, checks=64, hazards_found=1,
                        hazards_found_major=1, rectification_rate=0.0, escalated=2, carried_over=1),
    "other": figures(),
}
MARCH_TOTALS = figures(points=9, points_complete=3, checks_due=161, checks_done=110, completion_rate=0.6832,
                       checks=114, hazards_found=6, hazards_found_general=4, hazards_found_major=2,
                       hazards_rectified=3, hazards_verified=2, rectification_rate=0.1667, overdue=3, escalated=2,
                       carried_over=4)


def test_every_figure_of_a_known_month(app, campus, history):
    report = build(app)
    assert report["schema"] == "patrol.monthly-report" and report["version"] == 1
    assert report["month"] == MARCH and report["status"] == "draft"
    assert report["school"] == {"name": "示范中学", "campus_id": campus["campus_id"], "timezone": "Asia/Shanghai"}
    assert report["closed_at"] is None and report["prepared_by"] is None and report["approved_by"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", report["generated_at"])
    assert list(report["by_category"]) == ["fire", "electrical", "building", "facilities", "food", "security",
                                           "other"]
    for category, expected in MARCH_BY_CATEGORY.items():
        assert report["by_category"][category] == expected, category
    assert report["totals"] == MARCH_TOTALS
    assert list(report["totals"]) == list(MARCH_TOTALS)
    assert report["coverage_by_area"] == [
        {"area": "教学楼A", "points": 8, "checks_due": 139, "checks_done": 88, "missed": 51,
         "completion_rate": 0.6331},
        {"area": "食堂", "points": 1, "checks_due": 22, "checks_done": 22, "missed": 0, "completion_rate": 1.0},
    ]


def test_the_hazard_list_is_as_at_the_end_of_the_month(app, campus, history):
    hazards = build(app)["hazards"]
    assert [h["id"] for h in hazards] == [history["major_overdue"], history["major_escalated"],
                                          history["verified_late"], history["rectified_open"],
                                          history["escalated_late"]]
    first = hazards[0]
    # Today it has an April deadline and is not overdue; at the end of March it was overdue since the 12th.
    assert first == {"id": history["major_overdue"], "category": "fire", "severity": "major", "status": "assigned",
                     "escalated": False, "overdue": True, "point": "P-EXIT", "location": "教学楼A 东侧",
                     "finding": "疏散指示标志灯不亮", "measures": "已设置警示标识", "deadline": "2026-03-12",
                     "assignee": "Repairer 用户", "first_seen": "2026-03-08"}
    by_id = {h["id"]: h for h in hazards}
    assert by_id[history["major_escalated"]]["escalated"] is True
    assert by_id[history["major_escalated"]]["overdue"] is False
    assert by_id[history["major_escalated"]]["measures"] == "已安排保安加强巡逻"
    # Verified in April: still being fixed at the end of March.
    assert by_id[history["verified_late"]]["status"] == "assigned"
    assert by_id[history["verified_late"]]["overdue"] is True
    assert by_id[history["rectified_open"]]["status"] == "rectified"
    assert by_id[history["escalated_late"]]["escalated"] is True
    assert by_id[history["escalated_late"]]["severity"] == "general"


def test_month_boundaries_in_local_time(app, campus, history):
    """February ends at 16:00 UTC on 28 February; figures as they stood then."""
    february = build(app, "2026-02")
    totals = february["totals"]
    # Found 10, 20 and 25 February; the hazard of 07:30 Beijing on 1 March is not February's.
    assert totals["hazards_found"] == 3 and totals["hazards_found_general"] == 3
    assert totals["carried_over"] == 1  # escalated in January, open on 1 February
    assert totals["escalated"] == 1  # the one de-escalated only in March
    assert totals["overdue"] == 0
    assert totals["checks"] == 1  # the extinguisher at 23:30 Beijing on 28 February
    assert [h["id"] for h in february["hazards"]] == [history["deescalated"]]
    april = build(app, "2026-04")
    assert april["totals"]["hazards_found"] == 1  # 07:30 Beijing on 1 April
    # By the end of April the extended deadline (20 April) and the 30 April one had passed too; the earliest
    # deadline first (5 April: made major on 2 April).
    assert [h["id"] for h in april["hazards"]] == [history["major_later"], history["major_overdue"],
                                                   history["major_escalated"]]
    assert all(h["severity"] == "major" and h["overdue"] for h in april["hazards"])


def test_only_periods_begun_count_in_the_current_month(app, campus, history):
    report = build(app, "2026-04", today=date(2026, 4, 1))
    totals = report["totals"]
    # 1 April is a Wednesday: monthly points 3, one day of five daily points (the gate ×3) 7, the week of
    # 30 March (its Thursday is 2 April) 1.
    assert totals["points"] == 9 and totals["checks_due"] == 11
    # The extinguisher at 07:00 on 1 April; the dormitory on 31 March, in the week that counts for April.
    assert totals["checks_done"] == 2 and totals["checks"] == 1
    assert totals["hazards_found"] == 1  # 07:30 on 1 April
    assert totals["carried_over"] == 8
    assert totals["overdue"] == 3  # deadlines 10, 12 and 27 March; the extension is approved only on 2 April
    assert totals["hazards_verified"] == 0


# ---- over HTTP: the page, the spreadsheet, the JSON, closing and reopening ------------------------------

def login(app, username, locale="en"):
    """A client of its own for this user, in English unless asked otherwise."""
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    client.csrf = csrf_from(client.get("/"))
    if locale == "en":
        client.post("/locale", data={"csrf_token": client.csrf, "locale": "en", "next": "/"})
    return client


def post(client, url, data=None):
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})})


def shown(name, value):
    """How the page shows a figure."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}%" if name.endswith("_rate") else str(value)


def page_figures(html: str) -> dict[str, dict[str, str]]:
    rows = re.findall(r'<tr id="figures-(\w+)">(.*?)</tr>', html, re.S)
    return {row: dict(re.findall(r'<td data-figure="(\w+)">([^<]*)</td>', cells)) for row, cells in rows}


def workbook(data: bytes):
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(data))


def without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


def test_page_spreadsheet_and_json_agree(app, campus, history):
    from patrol.models import CATEGORIES
    from patrol.monthly import FIGURES

    viewer = login(app, "viewer")
    page = viewer.get(f"/reports/monthly?month={MARCH}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    download = viewer.get(f"/reports/monthly/{MARCH}.json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"] == f'attachment; filename="monthly-report-{MARCH}.json"'
    data = json.loads(download.get_data(as_text=True))
    assert without_time(data) == without_time(build(app))
    assert data["totals"] == MARCH_TOTALS

    # The page: every figure of every category and the total, as the JSON has it.
    on_page = page_figures(html)
    assert list(on_page) == [*CATEGORIES, "total"]
    for row, values in on_page.items():
        source = data["totals"] if row == "total" else data["by_category"][row]
        assert values == {name: shown(name, source[name]) for name in FIGURES}, row
    assert "示范中学" in html and MARCH in html and "Draft" in html
    for hazard in data["hazards"]:
        assert f'id="hazard-{hazard["id"]}"' in html
    assert html.index(f'id="hazard-{history["major_overdue"]}"') < html.index(f'id="hazard-{history["escalated_late"]}"')
    assert "已设置警示标识" in html and "2026-03-12" in html
    assert "<th scope=\"row\">食堂</th><td>1</td><td>22</td><td>22</td><td>0</td><td>100.0%</td>" in html

    # The spreadsheet: the same numbers, as numbers.
    response = viewer.get(f"/reports/monthly/{MARCH}.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == f'attachment; filename="monthly-report-{MARCH}.xlsx"'
    book = workbook(response.data)
    assert book.sheetnames == ["Summary", "Hazards", "Coverage"]
    summary = book["Summary"]
    assert "示范中学" in summary["A1"].value and MARCH in summary["A1"].value
    assert summary.freeze_panes == "B5"
    assert [c.value for c in summary[4]] == ["Category", "Points due", "Points fully checked", "Checks due",
                                             "Checks done", "Check completion rate", "Checks made", "Hazards found",
                                             "General hazards", "Major hazards", "Hazards rectified",
                                             "Hazards verified", "Rectification rate", "Overdue hazards",
                                             "Escalated hazards", "Carried over"]
    labels = ["Fire safety", "Electrical", "Buildings", "Facilities and equipment", "Canteen and food",
              "Security and gates", "Other", "Total"]
    for offset, (label, key) in enumerate(zip(labels, [*CATEGORIES, "total"])):
        row = [c.value for c in summary[5 + offset]]
        source = data["totals"] if key == "total" else data["by_category"][key]
        assert row == [label, *[source[name] for name in FIGURES]], label
    assert summary["F12"].number_format == "0.0%" and summary["B12"].number_format == "0"
    assert summary["F12"].value == 0.6832 and summary["B12"].value == 9

    hazards = book["Hazards"]
    assert hazards.freeze_panes == "B5"
    assert [c.value for c in hazards[4]][:9] == ["No.", "Severity", "Category", "Point", "Location", "Finding",
                                                 "Control measures", "Deadline", "Status"]
    rows = [[c.value for c in row] for row in hazards.iter_rows(min_row=5)]
    assert [r[0] for r in rows] == [h["id"] for h in data["hazards"]]
    assert rows[0][1:9] == ["Major", "Fire safety", "P-EXIT", "教学楼A 东侧", "疏散指示标志灯不亮", "已设置警示标识",
                            datetime(2026, 3, 12), "Being fixed"]
    assert rows[0][9:] == [None, "Yes", "Repairer 用户", datetime(2026, 3, 8)]

    coverage = book["Coverage"]
    assert [c.value for c in coverage[4]] == ["Area", "Points due", "Checks due", "Checks done", "Missed checks",
                                              "Check completion rate"]
    assert [[c.value for c in row] for row in coverage.iter_rows(min_row=5)] == [
        [a["area"], a["points"], a["checks_due"], a["checks_done"], a["missed"], a["completion_rate"]]
        for a in data["coverage_by_area"]]
    assert coverage["F5"].number_format == "0.0%"


def test_spreadsheet_headers_follow_the_language(app, campus, history):
    chinese = login(app, "officer", locale="zh")
    book = workbook(chinese.get(f"/reports/monthly/{MARCH}.xlsx").data)
    assert book.worksheets[0]["A4"].value == "类别"  # Chinese by default
    assert book.worksheets[1]["B4"].value == "等级"
    english = login(app, "admin")
    assert workbook(english.get(f"/reports/monthly/{MARCH}.xlsx").data).worksheets[0]["A4"].value == "Category"


def test_the_page_defaults_to_last_month_and_rejects_a_bad_month(app, campus):
    from patrol.hazard_flow import local_today
    from patrol.periods import Period

    officer = login(app, "officer")
    last = Period.containing("month", local_today("Asia/Shanghai")).previous()
    page = officer.get("/reports/monthly")
    assert page.status_code == 200 and f'id="report-{last.label}"' in page.get_data(as_text=True)
    assert officer.get("/reports/monthly?month=2026-13").status_code == 400
    assert officer.get("/reports/monthly/2026-3.json").status_code == 404
    assert officer.get("/reports/monthly/nonsense.xlsx").status_code == 404


def test_closing_freezes_the_figures(app, campus, history):
    from patrol.extensions import db
    from patrol.models import MonthlyReport
    from patrol.monthly import build_report, report_for

    before = build(app)
    officer = login(app, "officer")
    closed = post(officer, f"/reports/monthly/{MARCH}/close", {"prepared_by": "李国强", "approved_by": "周建华"})
    assert closed.status_code == 303
    assert closed.headers["Location"].endswith(f"/reports/monthly?month={MARCH}")

    # Data that arrives afterwards: a check synced late, a hazard fixed and verified with back-dated entries.
    with app.test_request_context():
        h = History(campus["campus_id"])
        h.check("P-HYDRANT", "2026-03-15T09:00")
        h.save_checks()
        h.act(history["major_escalated"], "repairer", "rectify", "2026-03-29T10:00")
        h.act(history["major_escalated"], "officer", "verify", "2026-03-30T10:00")
        campus_row, march = campus_and(app, MARCH)
        frozen = report_for(campus_row, march)
        now = build_report(campus_row, march)
        record = db.session.scalar(select(MonthlyReport))
        closed_at = record.closed_at

    assert frozen["status"] == "closed"
    assert frozen["prepared_by"] == "李国强" and frozen["approved_by"] == "周建华"
    assert frozen["closed_at"] == closed_at.isoformat() + "Z"
    for key in ("totals", "by_category", "coverage_by_area", "hazards", "school", "month"):
        assert frozen[key] == before[key], key
    assert now["status"] == "draft"
    assert now["totals"]["checks_done"] == before["totals"]["checks_done"] + 1
    assert now["totals"]["hazards_verified"] == before["totals"]["hazards_verified"] + 1
    assert now["totals"]["escalated"] == before["totals"]["escalated"] - 1

    # Everyone sees the frozen report: page, JSON, spreadsheet.
    viewer = login(app, "viewer")
    html = viewer.get(f"/reports/monthly?month={MARCH}").get_data(as_text=True)
    assert "李国强" in html and "周建华" in html and "Closed" in html
    assert page_figures(html)["total"]["checks_done"] == str(before["totals"]["checks_done"])
    assert 'id="report-close"' not in html and 'id="report-reopen"' not in html  # viewers do not manage
    assert json.loads(viewer.get(f"/reports/monthly/{MARCH}.json").data) == frozen
    book = workbook(viewer.get(f"/reports/monthly/{MARCH}.xlsx").data)
    assert book["Summary"]["E12"].value == before["totals"]["checks_done"]

    # Closing twice is a conflict.
    again = post(officer, f"/reports/monthly/{MARCH}/close", {"prepared_by": "李国强", "approved_by": "周建华"})
    assert again.status_code == 409 and "closed already" in again.get_data(as_text=True)


def test_reopening_needs_a_reason_and_is_audited(app, campus, history):
    from patrol.extensions import db
    from patrol.models import MonthlyReport, User
    from patrol.monthly import report_for

    officer = login(app, "officer")
    not_yet = post(officer, f"/reports/monthly/{MARCH}/reopen", {"reason": "更正"})
    assert not_yet.status_code == 409 and "is not closed" in not_yet.get_data(as_text=True)
    post(officer, f"/reports/monthly/{MARCH}/close", {"prepared_by": "李国强", "approved_by": "周建华"})
    page = officer.get(f"/reports/monthly?month={MARCH}").get_data(as_text=True)
    assert 'id="report-reopen"' in page and 'id="report-close"' not in page

    admin = login(app, "admin")
    missing = post(admin, f"/reports/monthly/{MARCH}/reopen", {"reason": "  "})
    assert missing.status_code == 422 and "Give a reason." in missing.get_data(as_text=True)
    reopened = post(admin, f"/reports/monthly/{MARCH}/reopen", {"reason": "补录3月29日的整改记录"})
    assert reopened.status_code == 303

    with app.app_context():
        campus_row, march = campus_and(app, MARCH)
        record = db.session.scalar(select(MonthlyReport))
        assert record.status == "open" and record.figures is None and record.closed_at is None
        events = [(e.action, db.session.get(User, e.actor_id).username, e.note, e.figures is not None)
                  for e in record.events]
        assert events == [("close", "officer", "", True), ("reopen", "admin", "补录3月29日的整改记录", False)]
        # The close keeps what was frozen, even now the month is open again.
        assert json.loads(record.events[0].figures)["prepared_by"] == "李国强"
        report = report_for(campus_row, march)
        assert report["status"] == "draft" and report["prepared_by"] is None and report["closed_at"] is None
    page = admin.get(f"/reports/monthly?month={MARCH}").get_data(as_text=True)
    assert "补录3月29日的整改记录" in page and 'id="report-close"' in page

    # It can be closed again, by other people.
    assert post(admin, f"/reports/monthly/{MARCH}/close",
                {"prepared_by": "王老师", "approved_by": "周建华"}).status_code == 303


def test_closing_needs_names_and_an_ended_month(app, campus, history):
    from patrol.extensions import db
    from patrol.hazard_flow import local_today
    from patrol.models import MonthlyReport
    from patrol.periods import Period

    officer = login(app, "officer")
    refused = post(officer, f"/reports/monthly/{MARCH}/close", {"prepared_by": "李国强", "approved_by": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Who approved the report?" in html and 'value="李国强"' in html
    too_long = post(officer, f"/reports/monthly/{MARCH}/close", {"prepared_by": "李" * 101, "approved_by": "周"})
    assert too_long.status_code == 422 and "At most 100 characters." in too_long.get_data(as_text=True)

    current = Period.containing("month", local_today("Asia/Shanghai"))
    early = post(officer, f"/reports/monthly/{current.label}/close", {"prepared_by": "李", "approved_by": "周"})
    assert early.status_code == 409
    assert f"{current.label} has not ended yet: it can be closed from {current.end.isoformat()}." in \
        early.get_data(as_text=True)
    page = officer.get(f"/reports/monthly?month={current.label}").get_data(as_text=True)
    assert 'id="report-close"' not in page and "once it has ended" in page
    with app.app_context():
        assert db.session.scalar(select(MonthlyReport).where(MonthlyReport.status == "closed")) is None


def test_closing_without_csrf_is_refused(app, campus, history):
    officer = login(app, "officer")
    response = officer.post(f"/reports/monthly/{MARCH}/close", data={"prepared_by": "李", "approved_by": "周"})
    assert response.status_code == 400


@pytest.mark.parametrize("role, may_read, may_manage", [
    ("guard", False, False), ("repairer", False, False), ("viewer", True, False),
    ("officer", True, True), ("admin", True, True),
])
def test_who_may_read_and_close(app, campus, role, may_read, may_manage):
    client = login(app, role)
    for url in (f"/reports/monthly?month={MARCH}", f"/reports/monthly/{MARCH}.xlsx",
                f"/reports/monthly/{MARCH}.json"):
        assert client.get(url).status_code == (200 if may_read else 403), url
    close = post(client, f"/reports/monthly/{MARCH}/close", {})
    reopen = post(client, f"/reports/monthly/{MARCH}/reopen", {"reason": "x"})
    assert close.status_code == (422 if may_manage else 403)
    assert reopen.status_code == (409 if may_manage else 403)
    html = client.get(f"/reports/monthly?month={MARCH}").get_data(as_text=True) if may_read else ""
    assert ('id="report-close"' in html) == may_manage


def test_anonymous_users_are_sent_to_log_in(app, campus):
    client = app.test_client()
    for url in ("/reports/monthly", f"/reports/monthly/{MARCH}.xlsx", f"/reports/monthly/{MARCH}.json"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---- the JSON API ---------------------------------------------------------------------------------------



def test_api_serves_the_report(app, campus, history, tokens):
    from patrol.monthly import close_month

    client = app.test_client()
    for role in ("viewer", "officer", "admin"):
        response = client.get(f"/api/v1/reports/monthly?month={MARCH}", headers=bearer(tokens[role]))
        assert response.status_code == 200, role
        assert without_time(response.get_json()) == without_time(build(app))
    for role in ("guard", "repairer"):
        response = client.get(f"/api/v1/reports/monthly?month={MARCH}", headers=bearer(tokens[role]))
        assert response.status_code == 403 and response.get_json()["error"]
    assert client.get(f"/api/v1/reports/monthly?month={MARCH}").status_code == 401

    with app.test_request_context():
        from patrol.extensions import db
        from patrol.models import User

        campus_row, march = campus_and(app, MARCH)
        officer = db.session.scalar(select(User).where(User.username == "officer"))
        close_month(campus_row, march, officer, "李国强", "周建华")
    data = client.get(f"/api/v1/reports/monthly?month={MARCH}", headers=bearer(tokens["viewer"])).get_json()
    assert data["status"] == "closed" and data["approved_by"] == "周建华"
    assert data["totals"] == MARCH_TOTALS


@pytest.mark.parametrize("query", ["", "?month=", "?month=2026-3", "?month=2026-13", "?month=march",
                                   "?month=2026-03-01"])
def test_api_wants_a_month(app, campus, tokens, query):
    response = app.test_client().get(f"/api/v1/reports/monthly{query}", headers=bearer(tokens["viewer"]))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] and "YYYY-MM" in body["fields"]["month"]
