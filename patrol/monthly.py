"""The monthly report upward (月报): its figures as docs/report-schema.md defines them, and closing a month.

Hazard figures are taken as things stood at the end of the month, rebuilt from each hazard's audit trail
(HazardEvent), so a report for October says the same in November as it did on the 31st. Everything is
loaded in a handful of grouped queries: the month's relevant hazards and their events in bulk, never
one query per hazard or point.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .hazard_flow import ACTIONS, local_today
from .models import (
    CATEGORIES,
    OPEN_HAZARD_STATES,
    Area,
    Campus,
    Check,
    ChecklistItem,
    Hazard,
    HazardEvent,
    MonthlyReport,
    Point,
    ReportEvent,
    User,
    utcnow,
)
from .periods import Period, coverage_totals, local_day, to_utc
from .web import iso_utc

SCHEMA = "patrol.monthly-report"
VERSION = 1
NAME_MAX = 100
NOTE_MAX = 2000

# Every object under totals and by_category has exactly these fields, in this order. The Chinese
# words are the schema's (for the catalogue).
FIGURE_LABELS = {
    "points": _l("Points due"),  # 应查点位
    "points_complete": _l("Points fully checked"),  # 已查点位
    "checks_due": _l("Checks due"),  # 应查次数
    "checks_done": _l("Checks done"),  # 完成次数
    "completion_rate": _l("Check completion rate"),  # 排查完成率
    "checks": _l("Checks made"),  # 检查次数
    "hazards_found": _l("Hazards found"),  # 发现隐患
    "hazards_found_general": _l("General hazards"),  # 一般隐患
    "hazards_found_major": _l("Major hazards"),  # 重大隐患
    "hazards_rectified": _l("Hazards rectified"),  # 已整改
    "hazards_verified": _l("Hazards verified"),  # 已验收
    "rectification_rate": _l("Rectification rate"),  # 整改率
    "overdue": _l("Overdue hazards"),  # 逾期
    "escalated": _l("Escalated hazards"),  # 上报上级
    "carried_over": _l("Carried over"),  # 上月结转
}
FIGURES = tuple(FIGURE_LABELS)
RATES = ("completion_rate", "rectification_rate")
# Actions whose events record the assignee, deadline and severity as they were before (old_*).
FLOW_ACTIONS = frozenset(ACTIONS)


class ReportRefused(Exception):
    """Closing or reopening is not possible: 409 (not now) or 422 (bad input, see fields)."""

    def __init__(self, status: int, message, fields: dict | None = None):
        super().__init__(str(message))
        self.status = status
        self.message = str(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class HazardAt:
    """A hazard as it stood at one moment, rebuilt from its audit trail."""

    status: str
    escalated: bool
    severity: str
    deadline: date | None
    assignee_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_HAZARD_STATES


def last_month(campus: Campus, today: date | None = None) -> Period:
    """The month before the current one, on the campus clock: the report usually wanted."""
    today = today or local_today(campus.timezone)
    return Period.containing("month", today).previous()


def has_ended(month: Period, today: date) -> bool:
    return today >= month.end


def empty_figures() -> dict:
    return {name: (None if name in RATES else 0) for name in FIGURES}


def in_order(figures: dict) -> dict:
    return {name: figures[name] for name in FIGURES}


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def hazard_at(hazard, events: list, moment: datetime) -> HazardAt:
    """The hazard's state just before `moment`, from its events in time order (seen_again left out).

    Status and escalation: the last change before the moment. Severity, deadline and assignee: what the
    first flow action after the moment found (its old_* values), else what the hazard holds now.
    """
    status, escalated, first_after, later = None, None, None, None
    for event in events:
        if event.at < moment:
            if event.to_status:
                status = event.to_status
            if event.action in ("escalate", "deescalate"):
                escalated = event.action == "escalate"
            continue
        first_after = first_after or event
        if escalated is None and event.action in ("escalate", "deescalate"):
            escalated = event.action == "deescalate"
        if later is None and event.action in FLOW_ACTIONS:
            later = event
    if status is None:
        # Nothing changed it before the moment: it was as the next event found it, or as first reported.
        status = (first_after.from_status or "reported") if first_after else hazard.status
    if escalated is None:
        escalated = hazard.escalated
    if later is not None:
        return HazardAt(status, escalated, later.old_severity or hazard.severity, later.old_deadline,
                        later.old_assignee_id)
    return HazardAt(status, escalated, hazard.severity, hazard.deadline, hazard.assignee_id)


def point_categories(point_type_ids: set[int]) -> dict[int, str]:
    """Each point type's report category: the one most of its checklist items have (ties: the earliest item)."""
    rows = db.session.execute(
        select(ChecklistItem.point_type_id, ChecklistItem.category, ChecklistItem.active)
        .where(ChecklistItem.point_type_id.in_(point_type_ids))
        .order_by(ChecklistItem.point_type_id, ChecklistItem.position, ChecklistItem.id)).all()
    items: dict[int, list[str]] = defaultdict(list)
    retired: dict[int, list[str]] = defaultdict(list)
    for type_id, category, active in rows:
        (items if active else retired)[type_id].append(category)
    result = {}
    for type_id in point_type_ids:
        categories = items.get(type_id) or retired.get(type_id) or ["other"]
        counts = Counter(categories)
        best = max(counts.values())
        # Counter keeps first-seen order, so the first category reaching the maximum is the earliest item's.
        chosen = next(c for c in counts if counts[c] == best)
        result[type_id] = chosen if chosen in CATEGORIES else "other"
    return result


class Tally:
    """The FIGURES of each category and their total, counted together so the total is always the sum."""

    def __init__(self):
        self.totals = empty_figures()
        self.by_category = {category: empty_figures() for category in CATEGORIES}
        self.found_verified: Counter[str] = Counter()  # found in the month and verified by its end

    def add(self, category: str, name: str, n: int = 1) -> None:
        self.by_category[category][name] += n
        self.totals[name] += n

    def finish(self) -> tuple[dict, dict]:
        """(totals, by_category) with their rates, every object's fields in schema order."""
        for category, figures in [*self.by_category.items(), (None, self.totals)]:
            verified = self.found_verified[category] if category else sum(self.found_verified.values())
            figures["completion_rate"] = rate(figures["checks_done"], figures["checks_due"])
            figures["rectification_rate"] = rate(verified, figures["hazards_found"])
        return in_order(self.totals), {c: in_order(self.by_category[c]) for c in CATEGORIES}


def build_report(campus: Campus, month: Period, today: date | None = None) -> dict:
    """The month's report as the schema's dict, status draft, computed from the database now."""
    tz = campus.timezone
    today = today or local_today(tz)
    tally = Tally()
    by_area = count_coverage(tally, campus, month, today)
    listed = count_hazards(tally, campus, month, today)
    totals, by_category = tally.finish()
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "month": month.label,
        "school": {"name": campus.name, "campus_id": campus.id, "timezone": tz},
        "status": "draft",
        "generated_at": iso_utc(utcnow()),
        "closed_at": None,
        "prepared_by": None,
        "approved_by": None,
        "totals": totals,
        "by_category": by_category,
        "coverage_by_area": by_area,
        "hazards": hazard_list(listed, tz),
    }


def count_coverage(tally: Tally, campus: Campus, month: Period, today: date) -> list[dict]:
    """Points, checks due, done and observed, by category into the tally; returns coverage_by_area."""
    start_utc, end_utc = month.utc_bounds(campus.timezone)
    points = db.session.execute(select(Point.id, Point.area_id, Point.point_type_id)
                                .where(Point.campus_id == campus.id)).all()
    category_of_type = point_categories({p.point_type_id for p in points})
    category_of_point = {p.id: category_of_type[p.point_type_id] for p in points}
    area_of_point = {p.id: p.area_id for p in points}
    per_area: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # points, due, done
    # Per point due and done only: the capping and summing over periods is done in SQL.
    for point_id, cov in coverage_totals(campus, month, today).items():
        due, done = cov.due, cov.done
        if due == 0:
            continue
        category = category_of_point[point_id]
        tally.add(category, "points")
        tally.add(category, "points_complete", int(done == due))
        tally.add(category, "checks_due", due)
        tally.add(category, "checks_done", done)
        area = per_area[area_of_point[point_id]]
        area[0], area[1], area[2] = area[0] + 1, area[1] + due, area[2] + done
    observed = db.session.execute(
        select(Check.point_id, func.count()).join(Point, Point.id == Check.point_id)
        .where(Point.campus_id == campus.id, Check.observed_at >= start_utc, Check.observed_at < end_utc)
        .group_by(Check.point_id))
    for point_id, count in observed:
        tally.add(category_of_point[point_id], "checks", count)
    names = dict(db.session.execute(select(Area.id, Area.name).where(Area.campus_id == campus.id)).all())
    rows = [{"area": names.get(area_id, ""), "points": points_due, "checks_due": due, "checks_done": done,
             "missed": due - done, "completion_rate": rate(done, due)}
            for area_id, (points_due, due, done) in per_area.items()]
    return sorted(rows, key=lambda row: row["area"])


def count_hazards(tally: Tally, campus: Campus, month: Period, today: date) -> list[tuple[object, HazardAt, bool]]:
    """Hazard figures as at the end of the month into the tally; returns the hazards the report lists."""
    tz = campus.timezone
    start_utc = to_utc(month.start, tz)
    # The month as far as it has gone: its end once over, the end of today while it runs.
    cutoff = to_utc(max(month.start, min(month.end, today + timedelta(days=1))), tz)
    overdue_before = min(month.end, today)  # a deadline day before this had ended
    # Every hazard that existed by the cutoff and was not closed before the month began, in one query,
    # and their events in another.
    relevant = (Hazard.campus_id == campus.id, Hazard.first_seen_at < cutoff,
                or_(Hazard.closed_at.is_(None), Hazard.closed_at >= start_utc))
    hazards = db.session.execute(
        select(Hazard.id, Hazard.category, Hazard.severity, Hazard.status, Hazard.escalated, Hazard.deadline,
               Hazard.assignee_id, Hazard.first_seen_at).where(*relevant)).all()
    trail: dict[int, list] = defaultdict(list)
    for event in db.session.execute(
            select(HazardEvent.hazard_id, HazardEvent.at, HazardEvent.action, HazardEvent.from_status,
                   HazardEvent.to_status, HazardEvent.old_deadline, HazardEvent.old_severity,
                   HazardEvent.old_assignee_id)
            .where(HazardEvent.hazard_id.in_(select(Hazard.id).where(*relevant)),
                   HazardEvent.action != "seen_again")  # repeat findings change nothing counted here
            .order_by(HazardEvent.hazard_id, HazardEvent.at, HazardEvent.id)):
        trail[event.hazard_id].append(event)

    listed = []
    for hazard in hazards:
        events = trail.get(hazard.id, [])
        category = hazard.category if hazard.category in CATEGORIES else "other"
        at_end = hazard_at(hazard, events, cutoff)
        if hazard.first_seen_at < start_utc:
            if hazard_at(hazard, events, start_utc).is_open:
                tally.add(category, "carried_over")
        elif at_end.status != "dismissed":  # dismissed by the month's end: judged not a hazard
            tally.add(category, "hazards_found")
            tally.add(category, "hazards_found_major" if at_end.severity == "major" else "hazards_found_general")
            if at_end.status == "verified":
                tally.found_verified[category] += 1
        in_month = [e.action for e in events if start_utc <= e.at < cutoff]
        tally.add(category, "hazards_rectified", int("rectify" in in_month))
        tally.add(category, "hazards_verified", int("verify" in in_month))
        if not at_end.is_open:
            continue
        overdue = at_end.deadline is not None and at_end.deadline < overdue_before
        tally.add(category, "overdue", int(overdue))
        tally.add(category, "escalated", int(at_end.escalated))
        if at_end.severity == "major" or overdue or at_end.escalated:
            listed.append((hazard, at_end, overdue))
    return listed


def hazard_list(listed: list[tuple[object, HazardAt, bool]], tz: str) -> list[dict]:
    """The report's list of major, overdue and escalated hazards, major first, with their details."""
    if not listed:
        return []
    ids = [hazard.id for hazard, _state, _overdue in listed]
    details = {row.id: row for row in db.session.execute(
        select(Hazard.id, Hazard.location, Hazard.description, Hazard.measures, Point.code,
               Point.location.label("point_location"), Area.name.label("area_name"), ChecklistItem.text_zh)
        .outerjoin(Point, Point.id == Hazard.point_id)
        .outerjoin(Area, Area.id == Hazard.area_id)
        .outerjoin(ChecklistItem, ChecklistItem.id == Hazard.item_id)
        .where(Hazard.id.in_(ids)))}
    assignees = {state.assignee_id for _h, state, _o in listed if state.assignee_id}
    names = {uid: name or username for uid, name, username in db.session.execute(
        select(User.id, User.name, User.username).where(User.id.in_(assignees)))} if assignees else {}
    rows = []
    for hazard, state, overdue in listed:
        detail = details[hazard.id]
        rows.append({
            "id": hazard.id,
            "category": hazard.category if hazard.category in CATEGORIES else "other",
            "severity": state.severity,
            "status": state.status,
            "escalated": state.escalated,
            "overdue": overdue,
            "point": detail.code,
            "location": detail.location or detail.point_location or detail.area_name or "",
            "finding": detail.description or detail.text_zh or "",
            "measures": detail.measures or "",
            "deadline": state.deadline.isoformat() if state.deadline else None,
            "assignee": names.get(state.assignee_id),
            "first_seen": local_day(hazard.first_seen_at, tz).isoformat(),
        })
    rows.sort(key=lambda r: (r["severity"] != "major", not r["overdue"], r["deadline"] or "9999", r["id"]))
    return rows


def find_record(campus_id: int, month: Period) -> MonthlyReport | None:
    return db.session.scalar(select(MonthlyReport).where(MonthlyReport.campus_id == campus_id,
                                                         MonthlyReport.month == month.label))


def report_for(campus: Campus, month: Period, today: date | None = None) -> dict:
    """The frozen report if the month is closed, else a draft built now."""
    record = find_record(campus.id, month)
    if record is not None and record.status == "closed" and record.figures:
        return json.loads(record.figures)
    return build_report(campus, month, today)


def _clean(value, limit: int) -> tuple[str, str | None]:
    text = str(value or "").strip()
    if not text:
        return text, None
    if len(text) > limit:
        return text, str(_l("At most %(n)d characters.", n=limit))
    return text, None


def _record(campus_id: int, month: Period) -> MonthlyReport:
    """The month's row, made (open) on first use; a concurrent maker wins and we use its row."""
    record = find_record(campus_id, month)
    if record is None:
        db.session.add(MonthlyReport(campus_id=campus_id, month=month.label, status="open"))
        try:
            db.session.commit()
        except IntegrityError:  # the unique constraint: someone made it meanwhile
            db.session.rollback()
        record = find_record(campus_id, month)
    return record


def close_month(campus: Campus, month: Period, user: User, prepared_by: str, approved_by: str,
                today: date | None = None) -> MonthlyReport:
    """Freeze the month's figures with who prepared and approved them; raises ReportRefused. Commits."""
    today = today or local_today(campus.timezone)
    if not has_ended(month, today):
        raise ReportRefused(409, _l("%(month)s has not ended yet: it can be closed from %(day)s.",
                                    month=month.label, day=month.end.isoformat()))
    existing = find_record(campus.id, month)
    if existing is not None and existing.status == "closed":
        raise ReportRefused(409, _l("%(month)s is closed already.", month=month.label))
    fields = {}
    prepared_by, problem = _clean(prepared_by, NAME_MAX)
    if problem or not prepared_by:
        fields["prepared_by"] = problem or str(_l("Who prepared the report?"))
    approved_by, problem = _clean(approved_by, NAME_MAX)
    if problem or not approved_by:
        fields["approved_by"] = problem or str(_l("Who approved the report?"))
    if fields:
        raise ReportRefused(422, _l("Please correct the marked fields."), fields)
    record = _record(campus.id, month)
    now = utcnow()
    report = build_report(campus, month, today)
    report.update(status="closed", closed_at=iso_utc(now), prepared_by=prepared_by, approved_by=approved_by)
    frozen = json.dumps(report, ensure_ascii=False)
    # Only an open row changes: of two officers closing at once, one wins and the other gets 409.
    changed = db.session.execute(
        update(MonthlyReport).where(MonthlyReport.id == record.id, MonthlyReport.status == "open")
        .values(status="closed", figures=frozen, prepared_by=prepared_by, approved_by=approved_by,
                closed_by_id=user.id, closed_at=now)).rowcount
    if changed != 1:
        db.session.rollback()
        raise ReportRefused(409, _l("%(month)s is closed already.", month=month.label))
    db.session.add(ReportEvent(report_id=record.id, actor_id=user.id, at=now, action="close", figures=frozen))
    db.session.commit()
    db.session.refresh(record)
    return record


def reopen_month(campus: Campus, month: Period, user: User, reason: str) -> MonthlyReport:
    """Unfreeze a closed month, with the reason on record; its report is a draft again. Commits."""
    record = find_record(campus.id, month)
    if record is None or record.status != "closed":
        raise ReportRefused(409, _l("%(month)s is not closed.", month=month.label))
    reason, problem = _clean(reason, NOTE_MAX)
    if problem or not reason:
        raise ReportRefused(422, _l("Please correct the marked fields."),
                            {"reason": problem or str(_l("Give a reason."))})
    changed = db.session.execute(
        update(MonthlyReport).where(MonthlyReport.id == record.id, MonthlyReport.status == "closed")
        .values(status="open", figures=None, prepared_by=None, approved_by=None, closed_by_id=None,
                closed_at=None)).rowcount
    if changed != 1:
        db.session.rollback()
        raise ReportRefused(409, _l("%(month)s is not closed.", month=month.label))
    db.session.add(ReportEvent(report_id=record.id, actor_id=user.id, action="reopen", note=reason))
    db.session.commit()
    db.session.refresh(record)
    return record
