"""Periods and coverage: local days, ISO weeks and months, DST, cadence rules, and a reference count."""
from __future__ import annotations

import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from patrol.periods import Period, completion_rate, coverage, coverage_totals, local_day, to_utc

BEIJING = "Asia/Shanghai"


def day(text: str) -> Period:
    return Period.containing("day", date.fromisoformat(text))


def utc(local: datetime) -> datetime:
    """An aware local time as the naive UTC that Check.observed_at stores."""
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def at(text: str, tz: str, fold: int = 0) -> datetime:
    """'2026-03-01 07:30' in `tz`, as stored naive UTC."""
    return utc(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz), fold=fold))


# ---------------------------------------------------------------------------------------------------
# Period arithmetic (no database)

def test_iso_week_across_the_year_boundary():
    last = Period.containing("week", date(2026, 12, 31))
    assert (last.label, last.start, last.end) == ("2026-W53", date(2026, 12, 28), date(2027, 1, 4))
    assert Period.containing("week", date(2027, 1, 3)) == last  # Sunday still belongs to 2026-W53
    first = Period.containing("week", date(2027, 1, 4))
    assert (first.label, first.start) == ("2027-W01", date(2027, 1, 4))
    assert last.next() == first and first.previous() == last
    assert Period.containing("week", date(2026, 1, 1)).label == "2026-W01"  # a Thursday: week 1 of 2026
    assert Period.containing("week", date(2021, 1, 1)).label == "2020-W53"  # a Friday: last week of 2020


def test_weeks_start_on_monday():
    for n in range(7):
        week = Period.containing("week", date(2026, 3, 2) + timedelta(days=n))
        assert (week.start, week.end, week.label) == (date(2026, 3, 2), date(2026, 3, 9), "2026-W10")
    assert Period.containing("week", date(2026, 3, 1)).label == "2026-W09"  # Sunday closes the week before


@pytest.mark.parametrize("year, month, days", [
    (2028, 2, 29), (2026, 2, 28), (2000, 2, 29), (2100, 2, 28), (2026, 4, 30), (2026, 12, 31),
])
def test_month_ends(year, month, days):
    period = Period.month(year, month)
    assert period.start == date(year, month, 1)
    assert (period.end - period.start).days == days
    assert period.end.day == 1 and period.label == f"{year}-{month:02d}"


def test_next_and_previous():
    assert Period.month(2026, 12).next() == Period.month(2027, 1)
    assert Period.month(2027, 1).previous() == Period.month(2026, 12)
    assert Period.month(2028, 3).previous() == Period.month(2028, 2)
    assert Period.month(2028, 2).next().start == date(2028, 3, 1)
    assert day("2026-12-31").next() == day("2027-01-01")
    assert day("2028-03-01").previous() == day("2028-02-29")
    assert day("2026-03-01").label == "2026-03-01"
    assert str(Period.containing("month", date(2026, 3, 17))) == "2026-03"
    with pytest.raises(ValueError):
        Period.containing("year", date(2026, 1, 1))


def test_parse_month():
    assert Period.parse_month("2026-03") == Period.month(2026, 3)
    assert Period.parse_month("2028-02").end == date(2028, 3, 1)


@pytest.mark.parametrize("text", [
    "", "2026", "2026-3", "26-03", "2026/03", "2026-03-01", "2026-13", "2026-00", "0000-01", " 2026-03",
    "2026-03 ", "2026-03\n", "abcd-ef", "2026-+3", "-2026-03", "２０２６-０３", "٢٠٢٦-٠٣",  # other scripts' digits
])
def test_parse_month_rejects(text):
    with pytest.raises(ValueError):
        Period.parse_month(text)




def test_beijing_morning_is_the_beijing_day():
    stored = at("2026-03-01 07:30", BEIJING)
    assert stored == datetime(2026, 2, 28, 23, 30)
    assert local_day(stored, BEIJING) == date(2026, 3, 1)
    assert to_utc(date(2026, 3, 1), BEIJING) == datetime(2026, 2, 28, 16, 0)
    assert Period.month(2026, 3).utc_bounds(BEIJING) == (datetime(2026, 2, 28, 16), datetime(2026, 3, 31, 16))


# (zone, day, its length in hours, its start and end in UTC)
DST_DAYS = [
    ("Europe/Berlin", "2026-03-29", 23, datetime(2026, 3, 28, 23), datetime(2026, 3, 29, 22)),
    ("Europe/Berlin", "2026-10-25", 25, datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 23)),
    ("America/New_York", "2026-03-08", 23, datetime(2026, 3, 8, 5), datetime(2026, 3, 9, 4)),
    ("America/New_York", "2026-11-01", 25, datetime(2026, 11, 1, 4), datetime(2026, 11, 2, 5)),
    # Chile changes its clocks at midnight: 2026-09-06 00:00 never happens, the day begins at 01:00.
    ("America/Santiago", "2026-09-06", 23, datetime(2026, 9, 6, 4), datetime(2026, 9, 7, 3)),
    ("America/Santiago", "2026-04-04", 25, datetime(2026, 4, 4, 3), datetime(2026, 4, 5, 4)),
]


@pytest.mark.parametrize("tz, text, hours, start, end", DST_DAYS)
def test_to_utc_on_dst_days(tz, text, hours, start, end):
    the_day = date.fromisoformat(text)
    assert to_utc(the_day, tz) == start
    assert to_utc(the_day + timedelta(days=1), tz) == end
    assert day(text).utc_bounds(tz) == (start, end)
    assert end - start == timedelta(hours=hours)
    assert local_day(start, tz) == the_day and local_day(start - timedelta(seconds=1), tz) < the_day
    assert local_day(end - timedelta(seconds=1), tz) == the_day and local_day(end, tz) > the_day


# ---------------------------------------------------------------------------------------------------
# Coverage on the database

class School:
    """A campus of our own in the fixture's database, with points and checks added in bulk."""

    def __init__(self, guard_id: int, point_type_id: int, tz: str = BEIJING, weekend_rounds: bool = False):
        from patrol.extensions import db
        from patrol.models import Area, Campus

        self.guard_id, self.point_type_id = guard_id, point_type_id
        self.campus = Campus(name=f"测试学校 {uuid.uuid4().hex[:6]}", timezone=tz, weekend_rounds=weekend_rounds)
        db.session.add(self.campus)
        db.session.flush()
        self.area = Area(campus_id=self.campus.id, name="教学楼")
        db.session.add(self.area)
        db.session.commit()
        self.point_ids: list[int] = []

    def point(self, cadence: str, per_period: int = 1, active: bool = True) -> int:
        from patrol.extensions import db
        from patrol.models import Point

        n = len(self.point_ids) + 1
        point = Point(campus_id=self.campus.id, area_id=self.area.id, point_type_id=self.point_type_id,
                      code=f"T-{n:03d}", name=f"点位 {n}", cadence=cadence, per_period=per_period, active=active,
                      retired_at=None if active else datetime(2026, 1, 1))
        db.session.add(point)
        db.session.commit()
        self.point_ids.append(point.id)
        return point.id

    def checks(self, point_id: int, *observed: datetime) -> None:
        self.add_checks([(point_id, moment) for moment in observed])

    def add_checks(self, rows: list[tuple[int, datetime]]) -> None:
        from patrol.extensions import db
        from patrol.models import Check

        if rows:
            db.session.execute(insert(Check.__table__), [
                {"client_uuid": str(uuid.uuid4()), "point_id": point_id, "user_id": self.guard_id,
                 "observed_at": moment, "observed_offset": 0, "received_at": moment, "content_hash": "0" * 64,
                 "source": "form"} for point_id, moment in rows])
            db.session.commit()

    def cover(self, within: Period, today: date):
        return coverage(self.campus, within, today=today)

    def remove(self) -> None:
        from patrol.extensions import db
        from patrol.models import Area, Campus, Check, Point

        db.session.rollback()
        if self.point_ids:
            db.session.execute(delete(Check).where(Check.point_id.in_(self.point_ids)))
            db.session.execute(delete(Point).where(Point.id.in_(self.point_ids)))
        db.session.execute(delete(Area).where(Area.id == self.area.id))
        db.session.execute(delete(Campus).where(Campus.id == self.campus.id))
        db.session.commit()


@pytest.fixture
def make_school(app, campus):
    from patrol.extensions import db
    from patrol.models import PointType, User

    with app.app_context():
        guard_id = db.session.scalar(select(User.id).where(User.username == "guard"))
        point_type_id = db.session.scalar(select(PointType.id).where(PointType.key == "classroom"))
        yield lambda **kw: School(guard_id, point_type_id, **kw)


def counts(cover, point_id) -> dict[str, int]:
    return {period.label: n for period, n in cover[point_id].counts.items() if n}


def test_beijing_0730_check_counts_on_march_1(make_school):
    school = make_school(weekend_rounds=True)
    daily, weekly, monthly = school.point("daily"), school.point("weekly"), school.point("monthly")
    for point_id in (daily, weekly, monthly):
        school.checks(point_id, at("2026-03-01 07:30", BEIJING))
    school.checks(daily, at("2026-02-28 23:59:59", BEIJING))  # the last second of February, Beijing time
    end = date(2026, 3, 31)

    march, february = school.cover(Period.month(2026, 3), end), school.cover(Period.month(2026, 2), end)
    assert counts(march, daily) == {"2026-03-01": 1}
    assert counts(february, daily) == {"2026-02-28": 1}
    assert (march[monthly].done, february[monthly].done) == (1, 0)
    assert (march[monthly].checks, february[monthly].checks) == (1, 0)
    assert counts(school.cover(day("2026-03-01"), end), daily) == {"2026-03-01": 1}

    # Sunday 1 March closes ISO week 2026-W09 (Mon 23 Feb – Sun 1 Mar), whose Thursday is in February.
    w09 = Period.containing("week", date(2026, 3, 1))
    assert w09.label == "2026-W09"
    assert counts(school.cover(w09, end), weekly) == {"2026-W09": 1}
    assert counts(february, weekly) == {"2026-W09": 1}
    assert counts(march, weekly) == {}


REPEATED_HOUR = {"Europe/Berlin": "02:30", "America/New_York": "01:30", "America/Santiago": "23:30"}


@pytest.mark.parametrize("tz, text, hours, start, end", DST_DAYS)
def test_checks_around_midnight_on_dst_days(make_school, tz, text, hours, start, end):
    school = make_school(tz=tz, weekend_rounds=True)  # the changes fall on weekends
    point = school.point("daily", per_period=12)
    the_day = date.fromisoformat(text)
    before, after = (the_day - timedelta(days=1)).isoformat(), (the_day + timedelta(days=1)).isoformat()
    school.checks(point,
                  at(f"{before} 23:59:59", tz),
                  start,                      # the day's first moment (01:00 in Santiago in September)
                  at(f"{text} 00:30", tz),    # just after midnight (00:30 never happens in Santiago in September:
                                              # zoneinfo reads it with the winter offset, 01:30 summer time)
                  at(f"{text} 07:30", tz),
                  at(f"{text} 23:30", tz),
                  end - timedelta(seconds=1),
                  end,                        # the next day's first moment
                  at(f"{after} 00:30", tz))
    if hours == 25:  # the hour that happens twice in the autumn: both times are this day's
        repeated = REPEATED_HOUR[tz]
        school.checks(point, at(f"{text} {repeated}", tz, fold=0), at(f"{text} {repeated}", tz, fold=1))
    on_the_day = 5 + (2 if hours == 25 else 0)
    found = {}
    for near in (the_day - timedelta(days=1), the_day, the_day + timedelta(days=1)):
        found.update(counts(school.cover(Period.containing("month", near), the_day + timedelta(days=60)), point))
    assert found == {before: 1, text: on_the_day, after: 2}
    found = school.cover(day(text), the_day)[point]
    assert counts({point: found}, point) == {text: on_the_day}
    assert (found.due, found.done, found.checks) == (12, on_the_day, on_the_day)


def test_a_week_counts_in_the_month_holding_its_thursday(make_school):
    school = make_school()
    weekly = school.point("weekly")
    # May 2026 starts on a Friday: 1–3 May belong to the week of Thursday 30 April, which is April's.
    school.checks(weekly, at("2026-03-31 10:00", BEIJING),   # Tue of the week Mon 30 Mar–Sun 5 Apr: April's
                  at("2026-05-02 10:00", BEIJING),           # Sat of the week Mon 27 Apr–Sun 3 May: April's
                  at("2026-05-04 00:10", BEIJING),           # Mon 4 May (Sun 3 May 16:10 UTC): May's
                  at("2026-05-31 23:00", BEIJING))           # Sun 31 May, Thursday 28 May: May's
    april = school.cover(Period.month(2026, 4), date(2026, 7, 1))
    may = school.cover(Period.month(2026, 5), date(2026, 7, 1))
    assert [p.label for p in april[weekly].periods] == ["2026-W14", "2026-W15", "2026-W16", "2026-W17",
                                                         "2026-W18"]
    assert [p.label for p in may[weekly].periods] == ["2026-W19", "2026-W20", "2026-W21", "2026-W22"]
    assert counts(april, weekly) == {"2026-W14": 1, "2026-W18": 1}
    assert counts(may, weekly) == {"2026-W19": 1, "2026-W22": 1}
    assert (april[weekly].due, april[weekly].done, april[weekly].missed) == (5, 2, 3)
    assert (may[weekly].due, may[weekly].done, may[weekly].missed) == (4, 2, 2)
    # Across a year: 2026 has 53 ISO weeks and every one is reported in exactly one month.
    assert sum(school.cover(Period.month(2026, m), date(2027, 2, 1))[weekly].due for m in range(1, 13)) == 53


@pytest.mark.parametrize("weekend_rounds, due", [(False, 22), (True, 31)])
def test_weekend_rounds_decide_whether_weekends_are_due(make_school, weekend_rounds, due):
    school = make_school(weekend_rounds=weekend_rounds)
    daily = school.point("daily")
    march = Period.month(2026, 3)  # 1 March 2026 is a Sunday: 22 weekdays, 9 weekend days
    school.checks(daily, *(at(f"2026-03-{d:02d} 08:00", BEIJING) for d in range(1, 32)))
    found = school.cover(march, date(2026, 4, 30))[daily]
    assert (found.due, found.done, found.missed) == (due, due, 0)
    assert all((p.start.weekday() < 5) or weekend_rounds for p in found.periods)
    assert len(found.periods) == due


def test_a_weekend_check_is_not_credited_to_monday(make_school):
    # Without weekend rounds the day buckets have gaps: a Saturday check once fell into Monday's bucket.
    school = make_school(weekend_rounds=False)
    daily = school.point("daily")
    school.checks(daily, at("2026-03-07 10:00", BEIJING))  # Saturday; nothing on Monday 9 March
    found = school.cover(Period.month(2026, 3), date(2026, 3, 31))[daily]
    assert counts({daily: found}, daily) == {}
    assert (found.due, found.done, found.checks) == (22, 0, 0)


def test_due_done_missed_per_period(make_school):
    school = make_school()
    gate, classroom = school.point("daily", per_period=3), school.point("daily", per_period=1)
    school.checks(gate, at("2026-03-02 07:00", BEIJING), at("2026-03-02 12:00", BEIJING))  # 2 of 3
    school.checks(classroom, *[at(f"2026-03-02 {h:02d}:00", BEIJING) for h in range(8, 13)])  # 5 of 1
    monday = school.cover(day("2026-03-02"), date(2026, 3, 2))
    assert (monday[gate].due, monday[gate].done, monday[gate].missed, monday[gate].checks) == (3, 2, 1, 2)
    assert not monday[gate].complete
    assert (monday[classroom].due, monday[classroom].done, monday[classroom].missed) == (1, 1, 0)
    assert monday[classroom].checks == 5 and monday[classroom].complete
    # Extra checks one day do not make up for a day without any.
    two_days = school.cover(Period.containing("week", date(2026, 3, 2)), date(2026, 3, 3))
    assert (two_days[classroom].due, two_days[classroom].done, two_days[classroom].missed) == (2, 1, 1)
    assert (two_days[gate].due, two_days[gate].done, two_days[gate].missed) == (6, 2, 4)
    assert completion_rate(two_days.values()) == pytest.approx(3 / 8)
    assert completion_rate([]) is None


def test_a_retired_point_is_not_counted(make_school):
    school = make_school()
    active, retired = school.point("daily"), school.point("daily", active=False)
    school.checks(retired, at("2026-03-02 08:00", BEIJING))
    school.checks(active, at("2026-03-02 08:00", BEIJING))
    found = school.cover(Period.month(2026, 3), date(2026, 3, 31))
    assert set(found) == {active}
    assert sum(c.done for c in found.values()) == 1


def test_today_limits_the_month_to_periods_begun(make_school):
    school = make_school()
    daily, weekly, monthly = school.point("daily"), school.point("weekly"), school.point("monthly")
    march = Period.month(2026, 3)
    school.checks(daily, at("2026-03-10 08:00", BEIJING), at("2026-03-12 08:00", BEIJING))
    school.checks(weekly, at("2026-03-12 08:00", BEIJING))
    found = school.cover(march, date(2026, 3, 10))  # a Tuesday
    assert [p.label for p in found[daily].periods][-1] == "2026-03-10"
    assert found[daily].due == 7 and found[daily].done == 1  # Mon 2 – Tue 10 March, weekdays
    assert [p.label for p in found[weekly].periods] == ["2026-W10", "2026-W11"]  # W11 began on Monday 9th
    assert found[weekly].done == 1  # the week has begun, so its check counts, even one after today
    assert (found[monthly].due, found[monthly].done) == (1, 0)
    not_yet = school.cover(march, date(2026, 2, 28))
    assert all(c.due == 0 and c.periods == [] and c.complete for c in not_yet.values())
    assert completion_rate(not_yet.values()) is None
    first = school.cover(march, date(2026, 3, 1))  # Sunday: no school day yet; the month and no week
    assert (first[daily].due, first[weekly].due, first[monthly].due) == (0, 0, 1)


def test_point_ids_limit_the_points(make_school):
    school = make_school()
    one, two = school.point("daily"), school.point("monthly")
    found = coverage(school.campus, Period.month(2026, 3), today=date(2026, 3, 31), point_ids=[two])
    assert set(found) == {two} and one not in found


# ---------------------------------------------------------------------------------------------------
# A reference count in plain Python over the raw rows, against coverage() on random data

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kathmandu"]
MONTHS = [(2026, m) for m in range(1, 13)] + [(2027, 1)]
EDGES = [time(0, 0), time(0, 0, 1), time(0, 30), time(1, 30), time(2, 30), time(7, 30), time(23, 30),
         time(23, 59, 59)]


def month_days(year: int, month: int) -> list[date]:
    days, current = [], date(year, month, 1)
    while current.month == month:
        days.append(current)
        current += timedelta(days=1)
    return days


def reference(rows, points, tz, weekend_rounds, year, month, today):
    """{point id: (due, done, checks, {period label: checks})} for the active points, from raw rows."""
    zone = ZoneInfo(tz)
    by_day: Counter = Counter()
    for point_id, observed in rows:
        by_day[point_id, observed.replace(tzinfo=timezone.utc).astimezone(zone).date()] += 1
    days = month_days(year, month)
    result = {}
    for point_id, (cadence, per_period, active) in points.items():
        if not active:
            continue
        if cadence == "daily":
            due = {d.isoformat(): by_day[point_id, d] for d in days
                   if d <= today and (weekend_rounds or d.isoweekday() <= 5)}
        elif cadence == "weekly":
            due = {}
            for thursday in (d for d in days if d.isoweekday() == 4 and d - timedelta(days=3) <= today):
                iso_year, week, _ = thursday.isocalendar()
                due[f"{iso_year}-W{week:02d}"] = sum(
                    n for (pid, d), n in by_day.items() if pid == point_id and d.isocalendar()[:2] == (iso_year, week))
        else:
            due = {} if date(year, month, 1) > today else {f"{year}-{month:02d}": sum(
                n for (pid, d), n in by_day.items() if pid == point_id and (d.year, d.month) == (year, month))}
        result[point_id] = (per_period * len(due), sum(min(n, per_period) for n in due.values()),
                            sum(due.values()), {label: n for label, n in due.items() if n})
    return result


POINTS = st.lists(st.tuples(st.sampled_from(["daily", "daily", "weekly", "monthly"]), st.integers(1, 3),
                            st.sampled_from([True, True, True, False])), min_size=1, max_size=5)
# A check's day: days from the 1st, around the month's first and last days more often than chance
# would; or (None, n) days from `today`, to hit the last period begun.
DAYS = st.one_of(st.sampled_from([-1, 0, 27, 28, 29, 30, 31]), st.integers(-35, 65),
                 st.tuples(st.none(), st.integers(-1, 1)))
CHECKS = st.lists(st.tuples(st.integers(0, 4), DAYS, st.one_of(st.sampled_from(EDGES), st.times()),
                            st.integers(0, 1)), max_size=60)


@contextmanager
def planted(make_school, weekend_rounds, tz, year_month, points, checks, today_offset):
    """A school with the drawn points and checks; (school, today, every check row, the reference's figures)."""
    from patrol.extensions import db
    from patrol.models import Check

    year, month = year_month
    first = date(year, month, 1)
    today = first + timedelta(days=today_offset)
    school = make_school(tz=tz, weekend_rounds=weekend_rounds)
    try:
        ids = [school.point(cadence, per_period, active) for cadence, per_period, active in points]
        zone = ZoneInfo(tz)
        local_days = [today + timedelta(days=d[1]) if isinstance(d, tuple) else first + timedelta(days=d)
                      for _, d, _, _ in checks]
        school.add_checks([
            (ids[index % len(ids)], utc(datetime.combine(the_day, moment, tzinfo=zone).replace(fold=fold)))
            for (index, _, moment, fold), the_day in zip(checks, local_days)])
        rows = db.session.execute(select(Check.point_id, Check.observed_at)).all()  # every check there is
        note(f"today={today} rows={sorted((pid, str(o)) for pid, o in rows if pid in ids)}")
        yield school, today, reference(rows, dict(zip(ids, points)), tz, weekend_rounds, year, month, today)
    finally:
        school.remove()


def reference_agrees(make_school, weekend_rounds, tz, year_month, points, checks, today_offset):
    with planted(make_school, weekend_rounds, tz, year_month, points, checks, today_offset) as (school, today,
                                                                                                expected):
        found = school.cover(Period.month(*year_month), today)
        got = {pid: (c.due, c.done, c.checks, counts(found, pid)) for pid, c in found.items()}
        assert got == expected
        assert all(c.missed == c.due - c.done >= 0 for c in found.values())


# The explain phase replays a failure hundreds of times against the database: minutes, for no news.
AGREEMENT = settings(max_examples=400, deadline=None,
                     phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("weekend_rounds", [True, False])
@AGREEMENT
@given(tz=st.sampled_from(ZONES), year_month=st.sampled_from(MONTHS), points=POINTS, checks=CHECKS,
       today_offset=st.integers(-5, 70))
def test_reference_agrees_with_coverage(make_school, weekend_rounds, tz, year_month, points, checks, today_offset):
    reference_agrees(make_school, weekend_rounds, tz, year_month, points, checks, today_offset)


def totals_agree(make_school, weekend_rounds, tz, year_month, points, checks, today_offset):
    """coverage_totals (capped and summed in SQL) against the plain-Python reference and coverage()."""
    with planted(make_school, weekend_rounds, tz, year_month, points, checks, today_offset) as (school, today,
                                                                                                expected):
        within = Period.month(*year_month)
        totals = coverage_totals(school.campus, within, today=today)
        assert {pid: (t.due, t.done, t.checks) for pid, t in totals.items()} == {
            pid: (due, done, checks) for pid, (due, done, checks, _) in expected.items()}
        # The part in periods still running, from coverage() (itself checked against the reference above).
        found = coverage(school.campus, within, today=today)
        running = {pid: [p for p in c.periods if p.end > today] for pid, c in found.items()}
        assert {pid: (t.due_running, t.done_running) for pid, t in totals.items()} == {
            pid: (c.per_period * len(running[pid]), sum(min(c.counts.get(p, 0), c.per_period) for p in running[pid]))
            for pid, c in found.items()}


@pytest.mark.parametrize("weekend_rounds", [True, False])
@AGREEMENT
@given(tz=st.sampled_from(ZONES), year_month=st.sampled_from(MONTHS), points=POINTS, checks=CHECKS,
       today_offset=st.integers(-5, 70))
def test_reference_agrees_with_coverage_totals(make_school, weekend_rounds, tz, year_month, points, checks,
                                              today_offset):
    totals_agree(make_school, weekend_rounds, tz, year_month, points, checks, today_offset)


@pytest.mark.parametrize("kind, day, today", [
    ("day", date(2026, 3, 4), date(2026, 3, 4)),      # the dashboard's current periods: a running day
    ("week", date(2026, 3, 4), date(2026, 3, 4)),
    ("month", date(2026, 3, 4), date(2026, 3, 4)),
    ("month", date(2026, 3, 4), date(2026, 4, 2)),    # a month that has ended
])
def test_coverage_totals_match_coverage_for_other_spans(make_school, kind, day, today):
    school = make_school(tz="Asia/Shanghai", weekend_rounds=False)
    try:
        ids = [school.point(cadence, per_period, True) for cadence, per_period in
               [("daily", 2), ("weekly", 1), ("monthly", 1), ("daily", 1)]]
        zone = ZoneInfo("Asia/Shanghai")
        school.add_checks([(ids[n % 4], utc(datetime.combine(date(2026, 2, 26) + timedelta(days=n // 3),
                                                              time(7 + n % 3, 30), tzinfo=zone)))
                           for n in range(120)])
        within = Period.containing(kind, day)
        found = coverage(school.campus, within, today=today)
        totals = coverage_totals(school.campus, within, today=today)
        for pid, c in found.items():
            running = [p for p in c.periods if p.end > today]
            assert (totals[pid].due, totals[pid].done, totals[pid].checks, totals[pid].due_running,
                    totals[pid].done_running) == (
                c.due, c.done, c.checks, c.per_period * len(running),
                sum(min(c.counts.get(p, 0), c.per_period) for p in running))
    finally:
        school.remove()
