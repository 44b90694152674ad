"""Days, ISO weeks and months in the campus's time zone, and coverage: what was due, done and missed.

日巡视、周排查、月总查: every point has a cadence (daily, weekly or monthly) and a count per period.
Per point per period of its cadence: due = its count, done = checks observed in that local period
(at most the count), missed = due − done. A check belongs to the local period of its observed_at.
The counting is one SQL aggregation (period buckets computed here, DST-correct, passed as bounds),
so SQLite and PostgreSQL agree without time-zone functions in SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, and_, case, cast, extract, func, literal, select, union_all

from .extensions import db
from .models import CADENCES, Campus, Check, Point

KIND_OF_CADENCE = {"daily": "day", "weekly": "week", "monthly": "month"}


# Days patrol handles: far enough from datetime's limits that a period's end or its UTC bounds never overflow.
CALENDAR_START, CALENDAR_END = date(1900, 1, 1), date(9000, 1, 1)


def in_calendar(day: date) -> bool:
    return CALENDAR_START <= day < CALENDAR_END


@dataclass(frozen=True, order=True)
class Period:
    """A local calendar period [start, end): a day, an ISO week (Monday first) or a month."""

    kind: str  # day | week | month
    start: date
    end: date  # exclusive

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if not in_calendar(day):
            raise ValueError("outside the years patrol handles")
        if kind == "day":
            return cls("day", day, day + timedelta(days=1))
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return cls("week", monday, monday + timedelta(days=7))
        if kind == "month":
            first = day.replace(day=1)
            following = (first + timedelta(days=32)).replace(day=1)
            return cls("month", first, following)
        raise ValueError(f"unknown period kind {kind!r}")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls.containing("month", date(year, month, 1))

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """'2026-03' → March 2026; ValueError otherwise."""
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text or ""):
            raise ValueError("expected YYYY-MM")
        return cls.month(int(text[:4]), int(text[5:]))

    @classmethod
    def parse(cls, text: str) -> Period:
        """A label back to its period: '2026-03-05', '2026-W10' or '2026-03'; ValueError otherwise."""
        text = text or ""
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return cls.containing("day", date.fromisoformat(text))
        if re.fullmatch(r"[0-9]{4}-W[0-9]{2}", text):
            return cls.containing("week", date.fromisocalendar(int(text[:4]), int(text[6:]), 1))
        return cls.parse_month(text)

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.strftime("%Y-%m")

    def next(self) -> Period:
        return Period.containing(self.kind, self.end)

    def previous(self) -> Period:
        return Period.containing(self.kind, self.start - timedelta(days=1))

    def utc_bounds(self, tz: str) -> tuple[datetime, datetime]:
        """The period's start and end as naive UTC, the way observed_at is stored."""
        return to_utc(self.start, tz), to_utc(self.end, tz)

    def __str__(self) -> str:
        return self.label


def to_utc(day: date, tz: str) -> datetime:
    """Local midnight at the start of `day`, as naive UTC (DST-correct)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc).replace(tzinfo=None)


def local_day(observed_utc: datetime, tz: str) -> date:
    """The campus-local day a stored (naive UTC) time falls on."""
    return observed_utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz)).date()


def cadence_periods(cadence: str, within: Period, weekends: bool = True) -> list[Period]:
    """The periods of a cadence that count toward `within`: its days, its ISO weeks, or its month.

    A week counts in the month that holds its Thursday (the ISO rule for which year a week belongs
    to), so months add up to a year without counting a week twice.
    """
    kind = KIND_OF_CADENCE[cadence]
    if kind == "day":
        days = [Period.containing("day", within.start + timedelta(days=n))
                for n in range((within.end - within.start).days)]
        return days if weekends else [d for d in days if d.start.weekday() < 5]
    if kind == "week":
        if within.kind in ("day", "week"):
            return [Period.containing("week", within.start)]
        weeks, monday = [], within.start - timedelta(days=within.start.weekday())
        while monday < within.end:
            if within.start <= monday + timedelta(days=3) < within.end:
                weeks.append(Period("week", monday, monday + timedelta(days=7)))
            monday += timedelta(days=7)
        return weeks
    return [Period.containing("month", within.start)]


@dataclass
class PointCoverage:
    """One point over one reporting span: per cadence period, due / done / missed."""

    point_id: int
    cadence: str
    per_period: int
    periods: list[Period]
    counts: dict[Period, int] = field(default_factory=dict)  # checks observed in each period

    @property
    def due(self) -> int:
        return self.per_period * len(self.periods)

    @cached_property
    def done(self) -> int:
        # Read many times by reports; counts are complete once coverage() has returned.
        return sum(min(self.counts.get(p, 0), self.per_period) for p in self.periods)

    @property
    def missed(self) -> int:
        return self.due - self.done

    @property
    def checks(self) -> int:
        return sum(self.counts.get(p, 0) for p in self.periods)

    @property
    def complete(self) -> bool:
        return self.missed == 0


def coverage(campus: Campus, within: Period, today: date | None = None,
             point_ids: list[int] | None = None) -> dict[int, PointCoverage]:
    """Coverage of every active point of the campus over `within` (only periods begun by `today`).

    One grouped SQL query per cadence counts checks per point per period; the bounds come from here.
    Daily rounds are due Monday to Friday unless the campus has weekend rounds.
    """
    campus_id, tz = campus.id, campus.timezone
    today = today or datetime.now(ZoneInfo(tz)).date()
    stmt = select(Point.id, Point.cadence, Point.per_period).where(Point.campus_id == campus_id, Point.active)
    if point_ids is not None:
        stmt = stmt.where(Point.id.in_(point_ids))
    # Every point of a cadence shares one list of periods: build it once, not once per point.
    periods_of = {cadence: [p for p in cadence_periods(cadence, within, campus.weekend_rounds) if p.start <= today]
                  for cadence in CADENCES}
    result = {point_id: PointCoverage(point_id, cadence, per_period, periods_of[cadence])
              for point_id, cadence, per_period in db.session.execute(stmt).all()}
    for cadence in CADENCES:
        if periods_of[cadence] and any(c.cadence == cadence for c in result.values()):
            for point_id, index, count in _count_checks(campus_id, cadence, periods_of[cadence], tz, point_ids):
                if point_id in result:
                    result[point_id].counts[periods_of[cadence][index]] = count
    return result


def _count_checks(campus_id: int, cadence: str, periods: list[Period], tz: str,
                  point_ids: list[int] | None) -> list[tuple[int, int, int]]:
    """(point id, period index, checks) for the campus's points of one cadence, in one grouped query."""
    bounds = [p.utc_bounds(tz) for p in periods]
    scope = [Point.campus_id == campus_id, Point.active, Point.cadence == cadence,
             Check.observed_at >= bounds[0][0], Check.observed_at < bounds[-1][1]]
    if point_ids is not None:
        scope.append(Point.id.in_(point_ids))
    if _whole_days(periods, bounds):
        return _count_by_day_number(periods, bounds, scope)
    # Both bounds: periods need not touch (weekends are not due), and a check between them counts nowhere.
    bucket = case(*[(and_(Check.observed_at >= start, Check.observed_at < end), index)
                    for index, (start, end) in enumerate(bounds)], else_=-1)
    stmt = (select(Check.point_id, bucket.label("bucket"), func.count())
            .join(Point, Point.id == Check.point_id).where(*scope)
            .group_by(Check.point_id, bucket))
    return [(pid, idx, n) for pid, idx, n in db.session.connection().execute(stmt).all() if idx >= 0]


def _whole_days(periods: list[Period], bounds: list[tuple[datetime, datetime]]) -> bool:
    """True when every local day in the span is 24 h long (no daylight-saving change inside it)."""
    origin, first = bounds[0][0], periods[0].start
    return all(start - origin == timedelta(days=(p.start - first).days)
               and end - origin == timedelta(days=(p.end - first).days)
               for p, (start, end) in zip(periods, bounds))


def _count_by_day_number(periods, bounds, scope) -> list[tuple[int, int, int]]:
    """The fast path: group by whole days since the first period began, then map days to periods.

    Cheaper than the CASE over every bound, and only valid when local days are all 24 h long.
    """
    origin = bounds[0][0]
    origin_seconds = int(origin.replace(tzinfo=timezone.utc).timestamp())
    day = ((_epoch_seconds(Check.observed_at) - origin_seconds) // 86400).label("day")
    stmt = (select(Check.point_id, day, func.count())
            .join(Point, Point.id == Check.point_id).where(*scope)
            .group_by(Check.point_id, day))
    first = periods[0].start
    period_of_day = {(p.start - first).days + n: index
                     for index, p in enumerate(periods) for n in range((p.end - p.start).days)}
    totals: dict[tuple[int, int], int] = {}
    for point_id, number, count in db.session.connection().execute(stmt).all():
        index = period_of_day.get(int(number))
        if index is not None:
            totals[(point_id, index)] = totals.get((point_id, index), 0) + count
    return [(point_id, index, count) for (point_id, index), count in totals.items()]


def _epoch_seconds(column):
    """Whole seconds since 1970 of a naive-UTC timestamp column, floored, per database."""
    if db.engine.dialect.name == "sqlite":
        # unixepoch() (SQLite 3.38+) reads a timestamp about twice as fast as strftime('%s').
        if db.engine.dialect.dbapi.sqlite_version_info >= (3, 38):
            return func.unixepoch(column, type_=Integer)
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(extract("epoch", column)), BigInteger)


@dataclass(frozen=True)
class PointTotals:
    """One point over one reporting span, summed over its periods: what reports need, without the periods."""

    point_id: int
    cadence: str
    per_period: int
    due: int
    done: int
    checks: int  # observed in the counted periods (not capped)
    due_running: int = 0  # of `due`, in periods that have not ended by today
    done_running: int = 0  # of `done`, in those periods

    @property
    def missed(self) -> int:
        return self.due - self.done

    @property
    def complete(self) -> bool:
        return self.done == self.due


def coverage_totals(campus: Campus, within: Period, today: date | None = None,
                    point_ids: list[int] | None = None) -> dict[int, PointTotals]:
    """coverage() summed per point (due, done, checks, and their part in periods still running).

    The same rules as coverage(), but each count is capped at the point's per_period and summed in SQL,
    so a month returns one row per point instead of one per point per day. Spans with a daylight-saving
    change are counted by coverage()'s bounds and summed here.
    """
    campus_id, tz = campus.id, campus.timezone
    today = today or datetime.now(ZoneInfo(tz)).date()
    stmt = select(Point.id, Point.cadence, Point.per_period).where(Point.campus_id == campus_id, Point.active)
    if point_ids is not None:
        stmt = stmt.where(Point.id.in_(point_ids))
    points = db.session.execute(stmt).all()
    periods_of = {cadence: [p for p in cadence_periods(cadence, within, campus.weekend_rounds) if p.start <= today]
                  for cadence in CADENCES}
    sums: dict[int, tuple[int, int, int]] = {}  # point id: (done, checks, done_running)
    branches = []
    for cadence in CADENCES:
        periods = periods_of[cadence]
        if not periods or not any(c == cadence for _, c, _ in points):
            continue
        bounds = [p.utc_bounds(tz) for p in periods]
        if _whole_days(periods, bounds) and _evenly_spaced(periods):
            branches.append(_capped_sums(campus_id, cadence, periods, bounds, today, point_ids))
            continue
        per_period = {point_id: n for point_id, c, n in points if c == cadence}
        for point_id, index, count in _count_checks(campus_id, cadence, periods, tz, point_ids):
            if point_id in per_period:
                capped = min(count, per_period[point_id])
                running = capped if periods[index].end > today else 0
                done, checks, done_running = sums.get(point_id, (0, 0, 0))
                sums[point_id] = (done + capped, checks + count, done_running + running)
    if branches:
        for point_id, done, checks, done_running in db.session.connection().execute(union_all(*branches)).all():
            sums[point_id] = (int(done), int(checks), int(done_running))
    result = {}
    for point_id, cadence, per_period in points:
        periods = periods_of[cadence]
        running = sum(1 for p in periods if p.end > today)
        done, checks, done_running = sums.get(point_id, (0, 0, 0))
        result[point_id] = PointTotals(point_id, cadence, per_period, per_period * len(periods), done, checks,
                                       per_period * running, done_running)
    return result


def _evenly_spaced(periods: list[Period]) -> bool:
    """True when the periods are all as long and start a whole number of lengths after the first."""
    length, first = (periods[0].end - periods[0].start).days, periods[0].start
    return all((p.end - p.start).days == length and (p.start - first).days % length == 0 for p in periods)


def _capped_sums(campus_id: int, cadence: str, periods: list[Period], bounds: list[tuple[datetime, datetime]],
                 today: date, point_ids: list[int] | None):
    """SELECT point id, done, checks, done in running periods: per point, for one cadence's points.

    Only for whole-day, evenly spaced periods: a check's period is then its whole seconds since the
    first period began, divided by the period's length (periods left out, e.g. weekends, are skipped).
    """
    first = periods[0].start
    length = (periods[0].end - first).days
    origin_seconds = int(bounds[0][0].replace(tzinfo=timezone.utc).timestamp())
    number = {(p.start - first).days // length: p for p in periods}
    bucket = ((_epoch_seconds(Check.observed_at) - origin_seconds) // (86400 * length)).label("bucket")
    scope = [Point.campus_id == campus_id, Point.active, Point.cadence == cadence,
             Check.observed_at >= bounds[0][0], Check.observed_at < bounds[-1][1]]
    if point_ids is not None:
        scope.append(Point.id.in_(point_ids))
    per_bucket = (select(Check.point_id, Point.per_period, bucket, func.count().label("n"))
                  .join(Point, Point.id == Check.point_id).where(*scope)
                  .group_by(Check.point_id, Point.per_period, bucket)).subquery()
    # Buckets left out count as 0 in the sums rather than being filtered: PostgreSQL would push such a
    # filter down into the scan and compute the bucket of every check twice.
    bucket, n, per_period = per_bucket.c.bucket, per_bucket.c.n, per_bucket.c.per_period
    kept = bucket.in_(list(number))
    capped = case((n < per_period, n), else_=per_period)
    running = [k for k, p in number.items() if p.end > today]
    done_running = func.sum(case((bucket.in_(running), capped), else_=0)) if running else literal(0)
    return (select(per_bucket.c.point_id, func.sum(case((kept, capped), else_=0)), func.sum(case((kept, n), else_=0)),
                   done_running)
            .group_by(per_bucket.c.point_id))


def completion_rate(items) -> float | None:
    """done ÷ due over PointCoverage items; None when nothing was due."""
    items = list(items)
    due = sum(c.due for c in items)
    return (sum(c.done for c in items) / due) if due else None
