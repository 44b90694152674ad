"""The dashboard's numbers: completion, checks and hazards for a day, week or month, the trend, what is still due.

Definitions (one place for each; the views and charts only show them):
- Completion is periods.coverage over the period: per point per period of its cadence, due = its count,
  done = checks in that local period (at most the count). A tab's period holds the cadence periods
  periods.cadence_periods gives it (the "today" tab: today's rounds, this ISO week's sweep, this month's
  full check). Of what is not done, `still_due` is in a period that has not ended yet (today, this week,
  this month) and can still be done; `missed` is in a period that has ended. Counting starts on the day
  of the campus's first check (counted_span): nothing was asked of the app before it.
- Checks per guard: checks observed in the period at the campus's points, by who submitted them.
- Hazards: `found` = first seen in the period, not dismissed (a dismissed report was not a hazard);
  `verified` = verified in the period; `open` and `overdue` are as of now, by hazard_flow's rule, so they
  match /hazards?status=open and /hazards?overdue=1.
- Trend, per month: found and verified as above; the completion rate over the month (months that ended
  before the first check show none), with the points active today (points do not record when they were
  added); overdue at month end = open when the month ended and past the deadline in
  force then (deadline_at: from the audit trail) — for the current month, overdue now.
- Still due for a guard: the points of the areas they checked in the last USUAL_DAYS days, or every
  point if they checked none.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import and_, case, func, or_, select

from . import campuses
from .extensions import db
from .hazard_flow import local_today, overdue_clause
from .models import CADENCES, OPEN_HAZARD_STATES, Area, Campus, Check, Hazard, HazardEvent, Point, PointType, \
    User, utcnow
from .periods import KIND_OF_CADENCE, Period, PointCoverage, coverage, local_day, to_utc
from .vocab import CADENCE, CATEGORY

KINDS = ("day", "week", "month")
USUAL_DAYS = 28
# Actions after which HazardEvent.new_deadline is the deadline in force (request_extension records the
# date asked for, not a new deadline).
DEADLINE_ACTIONS = ("assign", "approve_extension", "reject")


@dataclass
class Tally:
    """Due, done, missed and still due over a group of points (a cadence, an area, a point type...)."""

    key: str | int | None
    label: str
    label_en: str = ""
    points: int = 0
    due: int = 0
    done: int = 0
    missed: int = 0  # in periods that have ended
    still_due: int = 0  # in periods still running

    @property
    def rate(self) -> float | None:
        return self.done / self.due if self.due else None

    def name(self, locale: str) -> str:
        return self.label_en if locale == "en" and self.label_en else str(self.label)

    def add(self, figures: tuple[int, int, int, int]) -> None:
        """Add one point's (due, done, missed, still due), from point_figures."""
        self.points += 1
        self.due, self.done, self.missed, self.still_due = (
            a + b for a, b in zip((self.due, self.done, self.missed, self.still_due), figures))


def point_figures(item: PointCoverage, today: date) -> tuple[int, int, int, int]:
    """A point's due, done, missed (in periods ended by today) and still due (in the running period)."""
    done = missed = still = 0
    for period in item.periods:
        n = min(item.counts.get(period, 0), item.per_period)
        done += n
        if period.end > today:
            still += item.per_period - n
        else:
            missed += item.per_period - n
    return item.per_period * len(item.periods), done, missed, still


@dataclass
class GuardChecks:
    user_id: int
    name: str
    role: str
    checks: int
    points: int  # distinct points checked


@dataclass
class HazardTally:
    key: str | int | None
    label: str
    found: int = 0
    verified: int = 0
    open: int = 0
    overdue: int = 0


@dataclass
class DuePoint:
    """A point whose current period is not complete: how many checks it still needs in it."""

    point_id: int
    code: str
    name: str
    location: str
    area_id: int
    area: str
    cadence: str
    per_period: int
    done: int
    remaining: int
    period: Period


@dataclass
class PointRow:
    """One point's line in a coverage list."""

    point_id: int
    code: str
    name: str
    area: str
    type_key: str
    cadence: str
    per_period: int
    tally: Tally


@dataclass
class Dashboard:
    period: Period
    today: date
    completion: Tally
    by_cadence: list[Tally]
    by_area: list[Tally]
    by_type: list[Tally]
    by_guard: list[GuardChecks]
    checks: int
    hazards: HazardTally
    hazards_by_category: list[HazardTally]
    hazards_by_area: list[HazardTally]
    still_due: dict[str, list[DuePoint]] = field(default_factory=dict)  # day | week | month


@dataclass
class TrendMonth:
    period: Period
    found: int = 0
    verified: int = 0
    overdue: int = 0  # at month end; for the current month, now
    due: int = 0
    done: int = 0
    started: bool = False  # the campus had begun checking by the month's end
    current: bool = False

    @property
    def rate(self) -> float | None:
        return self.done / self.due if self.due else None


def parse_period(text: str) -> Period:
    """A period label back to its period (see Period.parse)."""
    return Period.parse(text)


def _today(campus: Campus, today: date | None) -> date:
    return today or local_today(campus.timezone)


class PointFacts(NamedTuple):
    code: str
    name: str
    location: str
    area_id: int
    area: str
    type_key: str
    type_zh: str
    type_en: str
    cadence: str
    per_period: int


def _point_facts(campus_id: int) -> dict[int, PointFacts]:
    """What the lists show of every active point, in one query."""
    rows = db.session.execute(
        select(Point.id, Point.code, Point.name, Point.location, Point.area_id, Area.name, PointType.key,
               PointType.name_zh, PointType.name_en, Point.cadence, Point.per_period)
        .join(Area, Area.id == Point.area_id).join(PointType, PointType.id == Point.point_type_id)
        .where(Point.campus_id == campus_id, Point.active)).all()
    return {row[0]: PointFacts(*row[1:]) for row in rows}


def dashboard(campus: Campus, kind: str, today: date | None = None) -> Dashboard:
    """The figures for the day, ISO week or month containing `today` (campus local)."""
    if kind not in KINDS:
        raise ValueError(f"unknown period kind {kind!r}")
    today = _today(campus, today)
    period = Period.containing(kind, today)
    facts = _point_facts(campus.id)
    covered = coverage(campus, counted_span(campus, period) or period, today)
    total = Tally("all", "")
    cadences = {c: Tally(c, CADENCE[c]) for c in CADENCES}
    areas: dict[int, Tally] = {}
    types: dict[str, Tally] = {}
    for point_id, item in covered.items():
        fact = facts[point_id]
        figures = point_figures(item, today)
        for tally in (total, cadences[item.cadence], areas.setdefault(fact.area_id, Tally(fact.area_id, fact.area)),
                      types.setdefault(fact.type_key, Tally(fact.type_key, fact.type_zh, fact.type_en))):
            tally.add(figures)
    by_guard, checks = checks_by_user(campus, period)
    hazards, by_category, by_area = hazard_tallies(campus, period, today)
    # Today's day holds the current period of every cadence: one coverage for all three still-due lists.
    current = covered if kind == "day" else coverage(campus, Period.containing("day", today), today)
    return Dashboard(
        period=period, today=today, completion=total,
        by_cadence=[t for t in cadences.values() if t.points],
        by_area=sorted(areas.values(), key=lambda t: t.label),
        by_type=sorted(types.values(), key=lambda t: t.label),
        by_guard=by_guard, checks=checks, hazards=hazards,
        hazards_by_category=by_category, hazards_by_area=by_area,
        still_due=_due_lists(current, facts, today),
    )


def checks_by_user(campus: Campus, period: Period) -> tuple[list[GuardChecks], int]:
    """Checks observed in the period per person (every active guard, even with none), and the total."""
    start, end = period.utc_bounds(campus.timezone)
    rows = db.session.execute(
        select(Check.user_id, func.count(), func.count(func.distinct(Check.point_id)))
        .join(Point, Point.id == Check.point_id)
        .where(Point.campus_id == campus.id, Check.observed_at >= start, Check.observed_at < end)
        .group_by(Check.user_id)).all()
    counts = {user_id: (n, points) for user_id, n, points in rows}
    people = db.session.execute(
        select(User.id, User.name, User.username, User.role)
        .where(or_(User.id.in_(list(counts)), and_(campuses.members(campus.id), User.role == "guard", User.active)))
    ).all()
    result = [GuardChecks(uid, name or username, role, *counts.get(uid, (0, 0)))
              for uid, name, username, role in people]
    result.sort(key=lambda g: (-g.checks, g.name))
    return result, sum(n for n, _ in counts.values())


def hazard_tallies(campus: Campus, period: Period,
                   today: date) -> tuple[HazardTally, list[HazardTally], list[HazardTally]]:
    """Found and verified in the period, open and overdue now: in total, by category, by area (one query)."""
    start, end = period.utc_bounds(campus.timezone)
    found = and_(Hazard.first_seen_at >= start, Hazard.first_seen_at < end, Hazard.status != "dismissed")
    verified = and_(Hazard.status == "verified", Hazard.verified_at >= start, Hazard.verified_at < end)
    is_open = Hazard.status.in_(OPEN_HAZARD_STATES)

    def total(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = db.session.execute(
        select(Hazard.category, Hazard.area_id, total(found), total(verified), total(is_open),
               total(overdue_clause(today)))
        .where(Hazard.campus_id == campus.id, or_(found, verified, is_open))
        .group_by(Hazard.category, Hazard.area_id)).all()
    area_names = dict(db.session.execute(select(Area.id, Area.name).where(Area.campus_id == campus.id)).all())
    overall = HazardTally("all", "")
    categories = {c: HazardTally(c, label) for c, label in CATEGORY.items()}
    areas: dict[int | None, HazardTally] = {}
    for category, area_id, *numbers in rows:
        category_tally = categories.setdefault(category, HazardTally(category, category))
        area_tally = areas.setdefault(area_id, HazardTally(area_id, area_names.get(area_id, "")))
        for tally in (overall, category_tally, area_tally):
            for name, n in zip(("found", "verified", "open", "overdue"), numbers):
                setattr(tally, name, getattr(tally, name) + int(n or 0))
    by_area = sorted(areas.values(), key=lambda t: (t.key is None, t.label))
    return overall, list(categories.values()), by_area


def usual_areas(campus: Campus, user: User, today: date, days: int = USUAL_DAYS) -> set[int]:
    """The areas whose points the user checked in the last `days` days up to today."""
    since, until = to_utc(today - timedelta(days=days - 1), campus.timezone), to_utc(today + timedelta(days=1),
                                                                                  campus.timezone)
    return set(db.session.scalars(
        select(Point.area_id).join(Check, Check.point_id == Point.id)
        .where(Point.campus_id == campus.id, Check.user_id == user.id, Check.observed_at >= since,
               Check.observed_at < until).distinct()))


@dataclass
class Due:
    """What is still due now, by period kind, and the usual areas it was limited to (empty: every area)."""

    lists: dict[str, list[DuePoint]]
    areas: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: len(points) for kind, points in self.lists.items()}


def due_lists(campus: Campus, today: date | None = None, user: User | None = None) -> Due:
    """Still due now: daily points today, weekly points this ISO week, monthly points this month.

    For a guard (`user` given), only the points of their usual areas, or every point if they have none.
    """
    today = _today(campus, today)
    facts = _point_facts(campus.id)
    areas = usual_areas(campus, user, today) if user is not None and user.role == "guard" else set()
    ids = [pid for pid, fact in facts.items() if fact.area_id in areas] if areas else None
    lists = _due_lists(coverage(campus, Period.containing("day", today), today, point_ids=ids), facts, today)
    names = sorted({fact.area for fact in facts.values() if fact.area_id in areas})
    return Due(lists, names)


def still_due(campus: Campus, kind: str, today: date | None = None, user: User | None = None) -> list[DuePoint]:
    """The points whose current period is not complete, of the cadence for `kind` (day: daily, week: weekly...)."""
    if kind not in KINDS:
        raise ValueError(f"unknown period kind {kind!r}")
    return due_lists(campus, today, user).lists[kind]


def _due_lists(covered: dict[int, PointCoverage], facts: dict[int, PointFacts],
               today: date) -> dict[str, list[DuePoint]]:
    lists: dict[str, list[DuePoint]] = {kind: [] for kind in KINDS}
    for point_id, item in covered.items():
        current = [p for p in item.periods if p.start <= today < p.end]
        if not current:
            continue  # e.g. daily rounds at the weekend
        done = min(item.counts.get(current[0], 0), item.per_period)
        if done >= item.per_period:
            continue
        fact = facts[point_id]
        lists[KIND_OF_CADENCE[item.cadence]].append(DuePoint(
            point_id, fact.code, fact.name, fact.location, fact.area_id, fact.area, item.cadence, item.per_period,
            done, item.per_period - done, current[0]))
    for points in lists.values():
        points.sort(key=lambda d: (d.area, d.code))
    return lists


def due_counts(campus: Campus, today: date | None = None, user: User | None = None) -> dict[str, int]:
    """How many points are still due today, this week and this month (see due_lists)."""
    return due_lists(campus, today, user).counts()


def coverage_rows(campus: Campus, period: Period, today: date | None = None, *, area: int | None = None,
                  point_type: str = "", cadence: str = "") -> tuple[Tally, list[PointRow]]:
    """Per point over the period: due, done, missed, still due; least complete first. With the total."""
    today = _today(campus, today)
    facts = {pid: f for pid, f in _point_facts(campus.id).items()
             if (area is None or f.area_id == area) and (not point_type or f.type_key == point_type)
             and (not cadence or f.cadence == cadence)}
    total, rows = Tally("all", ""), []
    span = counted_span(campus, period)
    covered = coverage(campus, span, today, point_ids=list(facts)) if span else {}
    for point_id, item in covered.items():
        fact = facts[point_id]
        figures = point_figures(item, today)
        tally = Tally(point_id, fact.name)
        tally.add(figures)
        total.add(figures)
        rows.append(PointRow(point_id, fact.code, fact.name, fact.area, fact.type_key, item.cadence,
                             item.per_period, tally))
    rows.sort(key=lambda r: (-(r.tally.missed + r.tally.still_due), r.area, r.code))
    return total, rows


def first_check_day(campus: Campus) -> date | None:
    """The local day of the campus's first recorded check."""
    # Per point from the (point_id, observed_at) index, not a scan of every check.
    per_point = (select(func.min(Check.observed_at)).where(Check.point_id == Point.id)
                 .correlate(Point).scalar_subquery())
    first = db.session.scalar(select(func.min(per_point)).where(Point.campus_id == campus.id))
    return local_day(first, campus.timezone) if first is not None else None


def counted_span(campus: Campus, period: Period, first: date | None | bool = False) -> Period | None:
    """The part of the period from the campus's first check on (all of it before any check; None if the
    first check came after it). `first` saves the query when the caller knows the first check day."""
    first = first_check_day(campus) if first is False else first
    if first is None or first <= period.start:
        return period
    if first >= period.end:
        return None
    return Period(period.kind, first, period.end)


def trend(campus: Campus, months: int = 12, today: date | None = None) -> list[TrendMonth]:
    """The last `months` months up to the current one, oldest first (see the module's definitions)."""
    today = _today(campus, today)
    periods = [Period.containing("month", today)]
    while len(periods) < months:
        periods.insert(0, periods[0].previous())
    result = [TrendMonth(p, current=p.start <= today < p.end) for p in periods]
    first_day = first_check_day(campus)
    cache = _EndedMonths(campus, today)
    for month in result:
        within = counted_span(campus, month.period, first_day)
        if within is None or (first_day is None and not month.current):
            continue
        month.started = True
        month.due, month.done = _completion(campus, within, today, cache)
    _hazard_trend(campus, result, today)
    return result


class _EndedMonths:
    """Due and done of months that have ended, kept per app: a year of checks is not re-read on every view.

    Checks are only ever added (never edited or deleted), so an entry stays right until a check stored
    after it falls in its month, or the campus's points (cadence, count, active) or weekend rule change.
    """

    LIMIT = 1000

    def __init__(self, campus: Campus, today: date):
        self.store: dict = current_app.extensions.setdefault("patrol.stats.months", {})
        if len(self.store) > self.LIMIT:
            self.store.clear()
        points = db.session.execute(select(Point.id, Point.cadence, Point.per_period)
                                    .where(Point.campus_id == campus.id, Point.active).order_by(Point.id)).all()
        self.key = (campus.id, campus.timezone, campus.weekend_rounds, hash(tuple(map(tuple, points))))
        self.today, self.tz = today, campus.timezone
        self.latest = db.session.scalar(select(func.max(Check.id))) or 0
        self.campus_id = campus.id
        self.late: list[tuple[int, datetime]] = []  # checks stored after late_since
        self.late_since = self.latest

    def _stored_after(self, seen: int) -> list[tuple[int, datetime]]:
        if seen < self.late_since:
            self.late_since = seen
            self.late = db.session.execute(
                select(Check.id, Check.observed_at).join(Point, Point.id == Check.point_id)
                .where(Point.campus_id == self.campus_id, Check.id > seen)).all()
        return [(check_id, at) for check_id, at in self.late if check_id > seen]

    def get(self, span: Period) -> tuple[int, int] | None:
        entry = self.store.get((self.key, span)) if span.end <= self.today else None
        if entry is None:
            return None
        due, done, seen = entry
        if seen < self.latest:
            start, end = span.utc_bounds(self.tz)
            if any(start <= at < end for _, at in self._stored_after(seen)):
                return None
            self.store[(self.key, span)] = (due, done, self.latest)
        return due, done

    def put(self, span: Period, due: int, done: int) -> None:
        if span.end <= self.today:
            self.store[(self.key, span)] = (due, done, self.latest)


def _completion(campus: Campus, span: Period, today: date, cache: _EndedMonths) -> tuple[int, int]:
    """Due and done over the span, from the cache when the month has ended and nothing has changed."""
    known = cache.get(span)
    if known is not None:
        return known
    items = coverage(campus, span, today).values()
    due, done = sum(item.due for item in items), sum(item.done for item in items)
    cache.put(span, due, done)
    return due, done


def _hazard_trend(campus: Campus, result: list[TrendMonth], today: date) -> None:
    tz = campus.timezone
    bounds = [m.period.utc_bounds(tz) for m in result]
    range_start, range_end = bounds[0][0], bounds[-1][1]
    hazards = db.session.execute(
        select(Hazard.id, Hazard.status, Hazard.first_seen_at, Hazard.verified_at, Hazard.closed_at,
               Hazard.deadline)
        .where(Hazard.campus_id == campus.id, Hazard.first_seen_at < range_end,
               or_(Hazard.closed_at.is_(None), Hazard.closed_at >= range_start))).all()
    changes = deadline_changes(campus, range_end)
    now = min(utcnow(), to_utc(today + timedelta(days=1), tz))
    for month, (start, end) in zip(result, bounds):
        # Overdue at month end is judged on the morning after it, the way mark_newly_overdue sees it.
        cutoff_day, moment = (today, now) if month.current else (month.period.end, end)
        for hazard_id, status, first_seen, verified_at, closed_at, deadline in hazards:
            if start <= first_seen < end and status != "dismissed":
                month.found += 1
            if status == "verified" and verified_at is not None and start <= verified_at < end:
                month.verified += 1
            closed = closed_at or verified_at
            still_open = status in OPEN_HAZARD_STATES or (closed is not None and closed >= moment)
            if first_seen < moment and still_open:
                in_force = deadline_at(changes.get(hazard_id), deadline, moment)
                if in_force is not None and in_force < cutoff_day:
                    month.overdue += 1


def deadline_changes(campus: Campus, until: datetime) -> dict[int, list[tuple[datetime, date | None]]]:
    """Per hazard, (when, new deadline) from the audit trail, in time order."""
    rows = db.session.execute(
        select(HazardEvent.hazard_id, HazardEvent.at, HazardEvent.new_deadline)
        .join(Hazard, Hazard.id == HazardEvent.hazard_id)
        .where(Hazard.campus_id == campus.id, HazardEvent.action.in_(DEADLINE_ACTIONS), HazardEvent.at < until)
        .order_by(HazardEvent.at, HazardEvent.id)).all()
    changes: dict[int, list] = defaultdict(list)
    for hazard_id, at, new_deadline in rows:
        changes[hazard_id].append((at, new_deadline))
    return changes


def deadline_at(changes: list[tuple[datetime, date | None]] | None, current: date | None,
                moment: datetime) -> date | None:
    """The deadline in force at `moment`: the last deadline set by then; the current one if none was recorded."""
    if not changes:
        return current
    in_force = None
    for at, deadline in changes:
        if at > moment:
            break
        in_force = deadline
    return in_force
