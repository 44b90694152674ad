"""Monthly figures for a big school: coverage, the monthly report and the dashboard, against a hand-written
one-statement baseline timed in the same process: a fair one computing the report's coverage figures
(checked to agree with build_report's), and the old trivial one.

Run: .venv/bin/python bench/reports.py [--points 600] [--days 365] [--backend sqlite|postgresql]
         [--schools 1] [--other-days N] [--results all|fails] [--runs 20] [--url URL] [--random-page-cost 1.1]
SQLite: a file in a temporary instance folder. PostgreSQL: a fresh schema in the database named by --url or
PATROL_TEST_DATABASE_URL, dropped at the end. monthly.build_report and stats.dashboard are timed when
patrol/monthly.py and patrol/stats.py exist. Prints figures only; nothing here passes or fails.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TIMEZONE = "Asia/Shanghai"
# A boarding school (寄宿制) patrols every day. (point type, cadence, checks per period, share of the points)
MIX = [
    ("classroom", "daily", 2, 0.530),     # opened in the morning, 五关 at the end of the day
    ("exit", "daily", 1, 0.170),
    ("gate", "daily", 3, 0.020),          # 一日三巡
    ("canteen_gas", "daily", 3, 0.013),   # after each meal service
    ("dorm", "weekly", 1, 0.080),
    ("extinguisher", "monthly", 1, 0.140),
    ("hydrant", "monthly", 1, 0.030),
    ("panel", "monthly", 1, 0.017),
]
# Local (hour, minute) of each daily round, one per check of the day.
ROUNDS = {"classroom": [(7, 20), (17, 20)], "exit": [(7, 0)], "gate": [(6, 45), (12, 10), (20, 40)],
          "canteen_gas": [(7, 50), (12, 50), (18, 30)]}
BUILDINGS = ["教学楼A", "教学楼B", "教学楼C", "实验楼", "综合楼", "宿舍楼1", "宿舍楼2", "食堂"]
FLOORS = ["1F", "2F", "3F", "4F"]
ROLES = [("admin", 1), ("officer", 2), ("guard", 8), ("repairer", 3), ("viewer", 1)]
FAIL_RATE = 0.001  # per checklist item: about one check in a hundred finds something
DONE_RATE = 0.96   # share of due rounds walked
EXTRA_RATE = 0.02  # a second look at the same point the same period

CHECK_COLUMNS = ("id", "client_uuid", "point_id", "user_id", "observed_at", "observed_offset", "received_at",
                 "content_hash", "source")
RESULT_COLUMNS = ("check_id", "item_id", "item_key", "position", "result", "note")
HAZARD_COLUMNS = ("id", "campus_id", "point_id", "area_id", "location", "item_id", "item_key", "category",
                  "severity", "status", "escalated", "description", "first_seen_at", "last_seen_at", "times_seen",
                  "source_check_id", "reported_by_id", "client_uuid", "assignee_id", "deadline", "measures",
                  "rectified_by_id", "rectified_at", "verified_by_id", "verified_at", "closed_at",
                  "extension_reason", "open_key")
EVENT_COLUMNS = ("id", "hazard_id", "actor_id", "at", "action", "from_status", "to_status", "note", "check_id",
                 "old_assignee_id", "new_assignee_id", "old_deadline", "new_deadline", "old_severity",
                 "new_severity")


# ---------------------------------------------------------------------------------------------------
# The school and its year

@dataclass
class BenchPoint:
    id: int
    area_id: int
    type_key: str
    cadence: str
    per_period: int
    items: list[tuple]  # (item id, key, position, category, severity)
    weekday: int        # weekly sweeps: the day of the week they are done
    monthday: int       # monthly checks: the day of the month they are done


@dataclass
class School:
    campus_id: int
    days: int
    points: list[BenchPoint]
    users: dict[str, list[int]]
    areas: list[int]
    rng: random.Random
    fails: list[tuple] = field(default_factory=list)  # (at, check id, user id, point, item)
    checks: int = 0
    results: int = 0


def midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def add_school(number: int, points: int, days: int, seed: int):
    """The campus, its areas, users and points (ORM: a few hundred rows); checks come later, in bulk."""
    from patrol.extensions import db
    from patrol.models import Area, Campus, ChecklistItem, Point, PointType, User

    rng = random.Random(seed * 1000 + number)
    campus = Campus(name=f"基准学校 {number:02d}", timezone=TIMEZONE, weekend_rounds=True)
    db.session.add(campus)
    db.session.flush()
    areas = [Area(campus_id=campus.id, name=f"{b} {f}", building=b, floor=f) for b in BUILDINGS for f in FLOORS]
    db.session.add_all(areas)
    users: dict[str, list[User]] = {}
    for role, count in ROLES:
        users[role] = [User(campus_id=campus.id, username=f"s{number:02d}-{role}{n}", name=f"{role} {n}", role=role,
                            password_hash="bench:not-a-password") for n in range(1, count + 1)]
        db.session.add_all(users[role])
    types = {t.key: t for t in db.session.query(PointType)}
    items = {t.key: [(i.id, i.key, i.position, i.category, i.severity) for i in
                     db.session.query(ChecklistItem).filter_by(point_type_id=t.id, active=True)
                     .order_by(ChecklistItem.position)] for t in types.values()}
    db.session.flush()
    counts = [round(points * share) for *_, share in MIX]
    counts[0] += points - sum(counts)
    made: list[tuple[Point, str]] = []
    for (type_key, cadence, per_period, _), count in zip(MIX, counts):
        for n in range(count):
            area = areas[len(made) % len(areas)]
            made.append((Point(campus_id=campus.id, area_id=area.id, point_type_id=types[type_key].id,
                               code=f"{type_key[:4].upper()}-{n + 1:04d}", name=f"{type_key} {n + 1}",
                               location=area.name, cadence=cadence, per_period=per_period,
                               token=secrets.token_urlsafe(16)), type_key))
    db.session.add_all([p for p, _ in made])
    db.session.flush()
    school = School(campus.id, days,
                    [BenchPoint(p.id, p.area_id, key, p.cadence, p.per_period, items[key], rng.randrange(7),
                                rng.randint(1, 10)) for p, key in made],
                    {role: [u.id for u in group] for role, group in users.items()}, [a.id for a in areas], rng)
    db.session.commit()
    return school


def day_of_checks(school: School, day: date, zone: ZoneInfo, next_id: int, with_results: bool):
    """The checks one school made on one local day, their results, and the failed items it found."""
    rng, midnight = school.rng, midnight_utc(day, zone)
    guards = school.users["guard"]
    checks, results = [], []
    for point in school.points:
        if point.cadence == "daily":
            rounds = ROUNDS[point.type_key][:point.per_period]
            times = [r for r in rounds if rng.random() < DONE_RATE]
            if times and rng.random() < EXTRA_RATE:
                times.append(rng.choice(rounds))
        elif point.cadence == "weekly":
            due = day.weekday() == point.weekday
            times = [(15, 0)] if due and rng.random() < 0.92 else []
        else:
            due = day.day == point.monthday
            times = [(9, 30)] if due and rng.random() < 0.95 else []
        for hour, minute in times:
            at = midnight + timedelta(minutes=hour * 60 + minute + rng.randint(-30, 30), seconds=rng.randint(0, 59))
            user = guards[(point.id + hour) % len(guards)]
            checks.append((next_id, str(uuid.UUID(int=rng.getrandbits(128), version=4)), point.id, user, at, 480,
                           at + timedelta(seconds=rng.randint(2, 90)), f"{rng.getrandbits(256):064x}", "form"))
            for item in point.items:
                failed = rng.random() < FAIL_RATE
                if failed:
                    school.fails.append((at, next_id, user, point, item))
                if failed or with_results:
                    results.append((next_id, item[0], item[1], item[2], "fail" if failed else "pass",
                                    "见现场照片" if failed else ""))
            next_id += 1
    school.checks += len(checks)
    school.results += len(results)
    return checks, results


def hazards_of(school: School, now: datetime, zone: ZoneInfo, next_hazard: int):
    """Hazards from the failed items (a repeat while one is open is the same hazard seen again) plus ad-hoc
    reports, each taken through the loop as far as `now`: assigned, rectified, sometimes rejected, verified;
    a few dismissed or escalated; the late ones overdue."""
    rng = school.rng
    officers, repairers, guards = school.users["officer"], school.users["repairer"], school.users["guard"]
    found = [(at, check_id, user, point, item) for at, check_id, user, point, item in school.fails]
    start = now - timedelta(days=school.days)
    for _ in range(school.days // 4):  # 随手拍: about one ad-hoc report every four days
        at = start + timedelta(seconds=rng.randint(0, school.days * 86400))
        found.append((at, None, rng.choice(guards), None, (None, None, None, rng.choice(
            ["building", "facilities", "electrical", "other"]), "major" if rng.random() < 0.1 else "general")))
    found.sort(key=lambda f: f[0])
    hazards, events, open_by_key = [], [], {}
    for at, check_id, user, point, (item_id, item_key, _pos, category, severity) in found:
        key = (point.id, item_key) if point else None
        if key in open_by_key:
            hazard, closed = open_by_key[key]
            if closed is None or at < closed:
                hazard["last_seen_at"], hazard["times_seen"] = at, hazard["times_seen"] + 1
                status = [s for moment, s in hazard["steps"] if moment <= at][-1]
                events.append(dict(hazard_id=hazard["id"], actor_id=user, at=at, action="seen_again",
                                   from_status=status, to_status=status, note="再次发现", check_id=check_id))
                continue
        hazard = dict(id=next_hazard + len(hazards), campus_id=school.campus_id, point_id=point.id if point else None,
                      area_id=point.area_id if point else rng.choice(school.areas), location="", item_id=item_id,
                      item_key=item_key, category=category, severity=severity, status="reported", escalated=False,
                      description="检查发现问题" if point else "随手拍: 现场发现隐患", first_seen_at=at, last_seen_at=at,
                      times_seen=1, source_check_id=check_id, reported_by_id=user,
                      client_uuid=None if point else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                      assignee_id=None, deadline=None, measures="", rectified_by_id=None, rectified_at=None,
                      verified_by_id=None, verified_at=None, closed_at=None, extension_reason="", open_key=None)
        hazards.append(hazard)
        own = [dict(at=at, actor_id=user, action="reported", to_status="reported", check_id=check_id)]
        officer, repairer = rng.choice(officers), rng.choice(repairers)
        if rng.random() < 0.03:
            own.append(dict(at=at + timedelta(hours=rng.uniform(1, 8)), actor_id=officer, action="dismiss",
                            to_status="dismissed"))
        else:
            assigned = at + timedelta(hours=rng.uniform(0.5, 20))
            days = 3 if severity == "major" else 7
            deadline = assigned.replace(tzinfo=timezone.utc).astimezone(zone).date() + timedelta(days=days)
            own.append(dict(at=assigned, actor_id=officer, action="assign", to_status="assigned",
                            new_assignee_id=repairer, new_deadline=deadline))
            if rng.random() < 0.04:
                own.append(dict(at=assigned + timedelta(days=rng.uniform(1, 3)), actor_id=officer,
                                action="escalate", to_status="assigned"))
            else:
                fixed = assigned + timedelta(days=rng.uniform(0.1, 1.6 * days))
                own.append(dict(at=fixed, actor_id=repairer, action="rectify", to_status="rectified"))
                if rng.random() < 0.08:
                    rejected = fixed + timedelta(days=rng.uniform(0.1, 1))
                    fixed = rejected + timedelta(days=rng.uniform(0.3, 3))
                    own += [dict(at=rejected, actor_id=officer, action="reject", to_status="assigned"),
                            dict(at=fixed, actor_id=repairer, action="rectify", to_status="rectified")]
                own.append(dict(at=fixed + timedelta(days=rng.uniform(0.05, 2)), actor_id=officer, action="verify",
                                to_status="verified"))
        closed = None
        for step in own:
            if step["at"] > now:
                break
            step.update(hazard_id=hazard["id"], note="",
                        from_status=hazard["status"] if step["action"] != "reported" else None,
                        old_assignee_id=hazard["assignee_id"], old_deadline=hazard["deadline"],
                        old_severity=hazard["severity"])
            action = step["action"]
            hazard["status"] = step["to_status"]
            if action == "assign":
                hazard["assignee_id"], hazard["deadline"] = step["new_assignee_id"], step["new_deadline"]
            elif action == "escalate":
                hazard["escalated"] = True
            elif action == "rectify":
                hazard["rectified_by_id"], hazard["rectified_at"] = step["actor_id"], step["at"]
            elif action == "verify":
                hazard["verified_by_id"], hazard["verified_at"] = step["actor_id"], step["at"]
            if action in ("verify", "dismiss"):
                hazard["closed_at"] = closed = step["at"]
            step.update(new_assignee_id=hazard["assignee_id"], new_deadline=hazard["deadline"],
                        new_severity=hazard["severity"])
            events.append(step)
        hazard["steps"] = [(step["at"], step["to_status"]) for step in own if step["at"] <= now]
        if closed is None and key:
            hazard["open_key"] = f"{point.id}:{item_key}"
        if key:
            open_by_key[key] = (hazard, closed)
    return hazards, events


# ---------------------------------------------------------------------------------------------------
# Bulk writing: COPY on PostgreSQL, executemany on SQLite

class Writer:
    def __init__(self, session):
        self.session = session
        self.postgresql = session.get_bind().dialect.name == "postgresql"
        self.rows = 0
        self.seconds = 0.0
        self.by_table: dict[str, float] = {}

    def write(self, table: str, columns: tuple[str, ...], rows) -> None:
        started = time.perf_counter()
        raw = self.session.connection().connection.driver_connection
        if self.postgresql:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:  # the text formats SQLAlchemy's SQLite types store and compare
            rows = [tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else
                          v.isoformat() if isinstance(v, date) else v for v in row) for row in rows]
            raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            rows)
        self.rows += len(rows)
        self.seconds += time.perf_counter() - started
        self.by_table[table] = self.by_table.get(table, 0.0) + time.perf_counter() - started

    def write_dicts(self, table: str, columns: tuple[str, ...], rows: list[dict]) -> None:
        self.write(table, columns, [tuple(row.get(c) for c in columns) for row in rows])


def build(app, args, now: datetime) -> tuple[list[School], dict]:
    from sqlalchemy import func, select, text

    from patrol.extensions import db
    from patrol.models import Check, Hazard, HazardEvent
    from patrol.setup import ensure_point_types

    zone = ZoneInfo(TIMEZONE)
    timed_index = args.schools // 2
    figures = {}
    with app.app_context():
        started = time.perf_counter()
        ensure_point_types()
        schools = [add_school(n, args.points, args.days if n == timed_index else args.other_days, args.seed)
                   for n in range(args.schools)]
        figures["schools"] = time.perf_counter() - started
        writer = Writer(db.session)
        today = now.replace(tzinfo=timezone.utc).astimezone(zone).date()
        first = today - timedelta(days=max(s.days for s in schools))
        next_id = (db.session.scalar(select(func.max(Check.id))) or 0) + 1
        day, chunk = first, max(1, args.chunk_days)
        while day < today:  # day by day across the schools, as the rows would arrive
            checks, results = [], []
            for _ in range(chunk):
                if day >= today:
                    break
                for school in schools:
                    if day >= today - timedelta(days=school.days):
                        more, their_results = day_of_checks(school, day, zone, next_id, args.results == "all")
                        next_id += len(more)
                        checks += more
                        results += their_results
                day += timedelta(days=1)
            writer.write(Check.__table__.name, CHECK_COLUMNS, checks)
            writer.write("check_result", RESULT_COLUMNS, results)
            db.session.commit()
            if args.schools > 1 and (day - first).days % 28 < chunk:
                print(f"  ... {day - timedelta(days=1)}: {sum(s.checks for s in schools):,} checks so far, "
                      f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        next_hazard = (db.session.scalar(select(func.max(Hazard.id))) or 0) + 1
        next_event = (db.session.scalar(select(func.max(HazardEvent.id))) or 0) + 1
        hazards, events = [], []
        for school in schools:
            theirs, their_events = hazards_of(school, now, zone, next_hazard + len(hazards))
            hazards += theirs
            events += their_events
        events.sort(key=lambda e: (e["at"], e["hazard_id"]))
        for number, event in enumerate(events):
            event["id"] = next_event + number
        writer.write_dicts("hazard", HAZARD_COLUMNS, hazards)
        writer.write_dicts(HazardEvent.__table__.name, EVENT_COLUMNS, events)
        if writer.postgresql:  # ids given explicitly leave the sequences behind
            for table in (Check.__table__.name, "hazard", HazardEvent.__table__.name):
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT MAX(id) FROM {table}))"))
        db.session.commit()
        figures.update(total=time.perf_counter() - started, insert=writer.seconds, rows=writer.rows,
                       by_table=writer.by_table,
                       hazards=len(hazards), events=len(events))
        started = time.perf_counter()
        if writer.postgresql:  # what autovacuum would have done to a year-old database
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("campus", "area", "point", "app_user", Check.__table__.name, "check_result", "hazard",
                              HazardEvent.__table__.name):
                    conn.execute(text(f'VACUUM ANALYZE "{table}"'))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        figures["analyze"] = time.perf_counter() - started
    return schools, figures


# ---------------------------------------------------------------------------------------------------
# Timing

def timed(fn, runs: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if runs > 1 else samples[0]
    return statistics.median(samples), p95


def optional(name: str):
    """(module, None) when the module exists and imports; (None, why not) otherwise."""
    if importlib.util.find_spec(name) is None:
        return None, f"not present ({name.replace('.', '/')}.py)"
    try:
        return importlib.import_module(name), None
    except Exception as exc:  # someone's work in progress: report it, time the rest
        return None, f"import failed: {exc!r}"


def with_today(fn, today: date):
    """fn, given today= when its signature takes it."""
    try:
        takes = "today" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes = False
    return (lambda *a: fn(*a, today=today)) if takes else fn


# The old baseline, kept for continuity: checks per point in the month and hazards by severity. It does
# none of the report's work (no local days, no periods, no caps, no due, no categories or areas).
TRIVIAL = """
SELECT 'checks' AS kind, c.point_id AS point_id, COUNT(*) AS n
  FROM point_check c JOIN point p ON p.id = c.point_id
 WHERE p.campus_id = :campus AND p.active AND c.observed_at >= :start AND c.observed_at < :end
 GROUP BY c.point_id
UNION ALL
SELECT h.severity, NULL, COUNT(*)
  FROM hazard h
 WHERE h.campus_id = :campus AND h.first_seen_at >= :start AND h.first_seen_at < :end
 GROUP BY h.severity
"""

# Both dialects share what follows the checks: categories, due per point, and the figures.
FAIR_TAIL = """
items AS (
    SELECT i.point_type_id, i.category,
           ROW_NUMBER() OVER (PARTITION BY i.point_type_id ORDER BY i.position, i.id) AS nth
      FROM checklist_item i
     WHERE i.active OR NOT EXISTS (SELECT 1 FROM checklist_item a WHERE a.point_type_id = i.point_type_id
                                                                  AND a.active)),
type_category AS (
    SELECT point_type_id, category
      FROM (SELECT point_type_id, category,
                   ROW_NUMBER() OVER (PARTITION BY point_type_id ORDER BY COUNT(*) DESC, MIN(nth)) AS choice
              FROM items GROUP BY point_type_id, category) AS ranked
     WHERE choice = 1),
point_category AS (
    SELECT p.id AS point_id, p.area_id, p.active, p.cadence, p.per_period,
           CASE WHEN t.category IN ({categories}) THEN t.category ELSE 'other' END AS category
      FROM point p LEFT JOIN type_category t ON t.point_type_id = p.point_type_id
     WHERE p.campus_id = :campus),
figures AS (  -- every point of the campus; a retired one has nothing due but its checks still count
    SELECT pc.area_id, pc.category,
           CASE WHEN pc.active THEN pc.per_period * (SELECT COUNT(*) FROM counted WHERE counted.cadence = pc.cadence)
                ELSE 0 END AS due,
           COALESCE(d.done, 0) AS done, COALESCE(d.checks, 0) AS checks
      FROM point_category pc LEFT JOIN done d ON d.point_id = pc.point_id)
SELECT 'area' AS kind, a.name AS name, COUNT(*) AS points, SUM(CASE WHEN f.due = f.done THEN 1 ELSE 0 END)
       AS points_complete, SUM(f.due) AS due, SUM(f.done) AS done
  FROM figures f JOIN area a ON a.id = f.area_id WHERE f.due > 0 GROUP BY a.name
UNION ALL
SELECT 'category', category, COUNT(*), SUM(CASE WHEN due = done THEN 1 ELSE 0 END), SUM(due), SUM(done)
  FROM figures WHERE due > 0 GROUP BY category
UNION ALL
SELECT 'checks', category, SUM(checks), NULL, NULL, NULL FROM figures GROUP BY category HAVING SUM(checks) > 0
UNION ALL
SELECT 'hazards', severity, COUNT(*), NULL, NULL, NULL
  FROM hazard
 WHERE campus_id = :campus AND first_seen_at >= :start AND first_seen_at < :end AND status != 'dismissed'
 GROUP BY severity
"""

# The fair baseline: one hand-written statement computing what build_report's coverage figures are, by
# the rules of patrol/periods.py and monthly.point_categories. Per point, checks per period of its cadence
# (daily: the local day, only Monday to Friday unless the campus has weekend rounds; weekly: the ISO week,
# counted in the month holding its Thursday; monthly: the month), only periods begun by :today, capped at
# per_period and summed to done; due = per_period × those periods. Then points, points complete, due and
# done by area and by report category; checks observed in the month by category; hazards found in the
# month by severity (status and severity as they are now, not rebuilt from the audit trail as the report
# does, so that row is shown, not compared). Local days use the fixed +08:00 of Asia/Shanghai, which has
# no daylight saving: this only holds for the bench's campus (patrol/periods.py is DST-correct).
# :range_start/:range_end are the UTC bounds of the month widened by 3 days each side (the counted weeks').
# SQLite: dates as day numbers since 1970-01-01 (a Thursday), so a local day is integer arithmetic on
# unixepoch() (SQLite 3.38+) and its ISO week (Monday first) is (day + 3) / 7; weekday (day + 3) % 7, Monday 0.
FAIR_SQLITE = """
WITH RECURSIVE
bounds(first, after, today) AS (
    SELECT unixepoch(:month_start) / 86400, unixepoch(:month_end) / 86400, unixepoch(:today) / 86400),
days(n) AS (
    SELECT first FROM bounds
    UNION ALL
    SELECT n + 1 FROM days, bounds WHERE n + 1 < after),
counted(cadence, period) AS (
    SELECT 'daily', n FROM days, bounds
     WHERE n <= today AND ((SELECT weekend_rounds FROM campus WHERE id = :campus) OR (n + 3) % 7 < 5)
    UNION ALL
    SELECT 'weekly', (n + 3) / 7 FROM days, bounds WHERE (n + 3) % 7 = 3 AND n - 3 <= today
    UNION ALL
    SELECT 'monthly', 0 FROM bounds WHERE first <= today),
per_period AS (
    SELECT point_id, active, cadence, per_period, period, COUNT(*) AS n, SUM(in_month) AS in_month
      FROM (SELECT c.point_id, p.active, p.cadence, p.per_period,
                   CASE p.cadence
                       WHEN 'daily' THEN (unixepoch(c.observed_at) + 28800) / 86400
                       WHEN 'weekly' THEN ((unixepoch(c.observed_at) + 28800) / 86400 + 3) / 7
                       ELSE CASE WHEN c.observed_at >= :start AND c.observed_at < :end THEN 0 END END AS period,
                   c.observed_at >= :start AND c.observed_at < :end AS in_month
              FROM point_check c JOIN point p ON p.id = c.point_id
             WHERE p.campus_id = :campus AND c.observed_at >= :range_start AND c.observed_at < :range_end)
     GROUP BY point_id, active, cadence, per_period, period),
done AS (
    SELECT point_id,
           SUM(CASE WHEN active AND (cadence, period) IN (SELECT cadence, period FROM counted)
                    THEN MIN(n, per_period) ELSE 0 END) AS done,
           SUM(in_month) AS checks
      FROM per_period GROUP BY point_id),
""" + FAIR_TAIL

FAIR_POSTGRESQL = """
WITH
days(d) AS (
    SELECT CAST(g AS date) FROM generate_series(CAST(:month_start AS date), CAST(:month_end AS date) - 1,
                                                interval '1 day') AS g),
begun(cadence, start) AS (
    SELECT 'daily', d FROM days
     WHERE (SELECT weekend_rounds FROM campus WHERE id = :campus) OR EXTRACT(ISODOW FROM d) < 6
    UNION ALL
    SELECT 'weekly', d - 3 FROM days WHERE EXTRACT(ISODOW FROM d) = 4
    UNION ALL
    SELECT 'monthly', CAST(:month_start AS date)),
counted(cadence, start) AS (SELECT cadence, start FROM begun WHERE start <= :today),
per_period AS (
    SELECT point_id, active, cadence, per_period, start, COUNT(*) AS n, SUM(in_month) AS in_month
      FROM (SELECT c.point_id, p.active, p.cadence, p.per_period,
                   CASE p.cadence
                       WHEN 'daily' THEN CAST(c.observed_at + interval '8 hours' AS date)
                       WHEN 'weekly' THEN CAST(date_trunc('week', c.observed_at + interval '8 hours') AS date)
                       ELSE CAST(date_trunc('month', c.observed_at + interval '8 hours') AS date) END AS start,
                   CASE WHEN c.observed_at >= :start AND c.observed_at < :end THEN 1 ELSE 0 END AS in_month
              FROM point_check c JOIN point p ON p.id = c.point_id
             WHERE p.campus_id = :campus AND c.observed_at >= :range_start AND c.observed_at < :range_end) AS local
     GROUP BY point_id, active, cadence, per_period, start),
done AS (
    SELECT point_id,
           SUM(CASE WHEN active AND (cadence, start) IN (SELECT cadence, start FROM counted)
                    THEN LEAST(n, per_period) ELSE 0 END) AS done,
           SUM(in_month) AS checks
      FROM per_period GROUP BY point_id),
""" + FAIR_TAIL


def fair_figures(rows) -> dict:
    """The fair baseline's rows as the report's figures: totals, by category and by area (only what it computes)."""
    totals = {"points": 0, "points_complete": 0, "checks_due": 0, "checks_done": 0, "checks": 0}
    by_category, by_area, hazards = {}, {}, {}
    for kind, name, *numbers in rows:
        points, complete, due, done = (None if n is None else int(n) for n in numbers)  # PostgreSQL: Decimal
        if kind == "category":
            figures = {"points": points, "points_complete": complete, "checks_due": due, "checks_done": done}
            by_category.setdefault(name, {}).update(figures)
            for key, value in figures.items():
                totals[key] += value
        elif kind == "checks":
            by_category.setdefault(name, {})["checks"] = points
            totals["checks"] += points
        elif kind == "area":
            by_area[name] = {"points": points, "checks_due": due, "checks_done": done}
        else:
            hazards[name] = points
    return {"totals": totals, "by_category": by_category, "by_area": by_area, "hazards": hazards}


def report_figures(report: dict) -> dict:
    """The same figures read from build_report's dict (categories with nothing due or checked left out)."""
    names = ("points", "points_complete", "checks_due", "checks_done", "checks")
    by_category = {}
    for category, figures in report["by_category"].items():
        if figures["points"]:
            by_category[category] = {n: figures[n] for n in names[:4]}
        if figures["checks"]:
            by_category.setdefault(category, {})["checks"] = figures["checks"]
    return {"totals": {n: report["totals"][n] for n in names}, "by_category": by_category,
            "by_area": {row["area"]: {n: row[n] for n in ("points", "checks_due", "checks_done")}
                        for row in report["coverage_by_area"]},
            "hazards": {"general": report["totals"]["hazards_found_general"],
                        "major": report["totals"]["hazards_found_major"]}}


def measure(app, school: School, args, now: datetime) -> None:
    from sqlalchemy import Date, DateTime, bindparam, text

    from patrol import periods
    from patrol.extensions import db
    from patrol.models import CATEGORIES, Campus

    zone = ZoneInfo(TIMEZONE)
    today = now.replace(tzinfo=timezone.utc).astimezone(zone).date()
    month = periods.Period.containing("month", today).previous()
    # The month's bounds in UTC, by hand: local midnight of its first day and of the next month's.
    month_end = (month.start.replace(day=28) + timedelta(days=4)).replace(day=1)
    start, end = midnight_utc(month.start, zone), midnight_utc(month_end, zone)
    trivial_sql = text(TRIVIAL).bindparams(bindparam("start", type_=DateTime), bindparam("end", type_=DateTime))
    postgresql = args.backend == "postgresql"
    fair_sql = text((FAIR_POSTGRESQL if postgresql else FAIR_SQLITE).format(
        categories=", ".join(f"'{c}'" for c in CATEGORIES))).bindparams(
        *[bindparam(name, type_=DateTime) for name in ("start", "end", "range_start", "range_end")],
        *[bindparam(name, type_=Date) for name in ("month_start", "month_end", "today")])
    fair_params = {"campus": school.campus_id, "start": start, "end": end,
                   "range_start": midnight_utc(month.start - timedelta(days=3), zone),
                   "range_end": midnight_utc(month_end + timedelta(days=3), zone),
                   "month_start": month.start, "month_end": month_end, "today": today}

    def trivial(campus):
        return db.session.execute(trivial_sql, {"campus": campus.id, "start": start, "end": end}).all()

    def fair(campus):
        return db.session.execute(fair_sql, fair_params).all()

    candidates = [("fair baseline: one SQL statement", fair, None),
                  ("trivial statement (old baseline)", trivial, None),
                  ("periods.coverage(last month)", lambda c: periods.coverage(c, month, today=today), None)]
    if hasattr(periods, "coverage_totals"):
        candidates.append(("periods.coverage_totals(last month)",
                           lambda c: periods.coverage_totals(c, month, today=today), None))
    monthly, why = optional("patrol.monthly")
    report = monthly and with_today(monthly.build_report, today)
    candidates.append(("monthly.build_report(campus, month)", report and (lambda c: report(c, month)), why))
    stats, why = optional("patrol.stats")
    dashboard = stats and with_today(stats.dashboard, today)
    candidates.append(('stats.dashboard(campus, "month") *', dashboard and (lambda c: dashboard(c, "month")), why))

    print(f"month {month.label} ({TIMEZONE}), today {today}; {args.runs} runs after {args.warmup} warm-up, "
          f"each in a fresh session as a request would be; load average {load()}")
    with app.app_context():
        def run(op):
            db.session.remove()
            return op(db.session.get(Campus, school.campus_id))

        got = run(candidates[2][1])
        due, done = sum(c.due for c in got.values()), sum(c.done for c in got.values())
        found = {kind: n for kind, _, n in run(trivial) if kind != "checks"}
        in_month = sum(n for kind, _, n in run(trivial) if kind == "checks")
        print(f"  that month: {len(got)} points, {due} checks due, {done} done ({done / due:.1%}), "
              f"{in_month} checks observed, hazards found {found}")
        compare(fair_figures(run(fair)), report and report_figures(run(lambda c: report(c, month))))
        print(f"  {'':<38}{'p50 ms':>9}{'p95 ms':>9}{'× fair':>9}{'× trivial':>11}")
        base = {}
        for label, op, why in candidates:
            if op is None:
                print(f"  {label:<38}{why}")
                continue
            try:
                p50, p95 = timed(lambda op=op: run(op), args.runs, args.warmup)
            except Exception as exc:  # a report module mid-change: say so, time the others
                db.session.rollback()
                print(f"  {label:<38}failed: {exc!r}")
                continue
            base.setdefault(op, p50)
            fair_ms, trivial_ms = base.get(fair), base.get(trivial)
            ratios = "".join(f"{p50 / ms:>{width}.1f}x" if ms else f"{'':>{width + 1}}"
                             for ms, width in ((fair_ms, 8), (trivial_ms, 10)))
            print(f"  {label:<38}{p50:>9.2f}{p95:>9.2f}{ratios}")
        print(f"  * the dashboard's month is the current one, {today:%Y-%m} to date; the others are {month.label}")
        print(f"  load average after: {load()}")
        db.session.remove()


def load() -> str:
    return f"{' '.join(f'{n:.2f}' for n in os.getloadavg())} (1, 5, 15 min) on {os.cpu_count()} CPUs"


def compare(fair: dict, report: dict | None) -> None:
    """Print whether the fair baseline computed the report's coverage figures (so the ratio is like for like)."""
    if report is None:
        print("  fair baseline vs build_report: no report to compare with")
        return
    agree = True
    for part in ("totals", "by_category", "by_area"):
        if fair[part] != report[part]:
            agree = False
            print(f"  DISAGREE on {part}:\n    baseline {fair[part]}\n    report   {report[part]}")
    totals = fair["totals"]
    print(f"  fair baseline vs build_report: {'AGREE' if agree else 'DISAGREE'} on totals (points "
          f"{totals['points']}, complete {totals['points_complete']}, due {totals['checks_due']}, done "
          f"{totals['checks_done']}, checks {totals['checks']}), {len(fair['by_category'])} categories and "
          f"{len(fair['by_area'])} areas (points, due, done)")
    hazards = {s: fair["hazards"].get(s, 0) for s in ("general", "major")}
    print(f"  hazards found by severity: baseline {hazards} (status now), report {report['hazards']} "
          f"(as at the month's end){'' if hazards == report['hazards'] else ' - differ: not compared'}")


# ---------------------------------------------------------------------------------------------------

def planner_settings(app, random_page_cost: float | None) -> str:
    """Give the app's PostgreSQL connections the asked random_page_cost; describe what they use."""
    from sqlalchemy import event, text

    from patrol.extensions import db

    with app.app_context():
        if random_page_cost is not None:
            @event.listens_for(db.engine, "connect")
            def set_cost(dbapi_connection, _record):
                with dbapi_connection.cursor() as cursor:
                    cursor.execute(f"SET random_page_cost = {float(random_page_cost)}")
                dbapi_connection.commit()

        db.engine.dispose()
        with db.engine.connect() as connection:
            return f" (random_page_cost {connection.execute(text('SHOW random_page_cost')).scalar()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=600, help="points per school")
    parser.add_argument("--days", type=int, default=365, help="days of history of the timed school")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--schools", type=int, default=1, help="schools in the database; the middle one is timed")
    parser.add_argument("--other-days", type=int, help="days of history of the other schools (default --days)")
    parser.add_argument("--results", choices=("all", "fails"), default="all",
                        help="checklist results: every item of every check, or only the failed ones")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--chunk-days", type=int, default=7, help="days of checks written per batch")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--random-page-cost", type=float, metavar="COST",
                        help="PostgreSQL: the planner's random_page_cost for the app's connections (the server's "
                             "default is 4, meant for spinning disks; 1.1 suits SSDs)")
    parser.add_argument("--url", default=os.environ.get("PATROL_TEST_DATABASE_URL", ""),
                        help="PostgreSQL database to make a scratch schema in (default PATROL_TEST_DATABASE_URL)")
    args = parser.parse_args()
    args.other_days = args.days if args.other_days is None else args.other_days
    if args.days < 32:
        parser.error("--days must be at least 32: the timed month needs its history")

    instance = Path(tempfile.mkdtemp(prefix="patrol-bench-reports-"))
    os.environ["PATROL_INSTANCE"] = str(instance)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from patrol import create_app
    from patrol.database import upgrade

    admin, schema = None, None
    if args.backend == "postgresql":
        if not args.url:
            parser.error("--backend postgresql needs --url or PATROL_TEST_DATABASE_URL")
        schema = f"patrol_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(args.url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(args.url).update_query_dict({"options": f"-csearch_path={schema}"})
        url = url.render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{instance / 'bench.sqlite3'}"
    try:
        upgrade(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PATROL_BASE_URL": "http://patrol.bench"})
        planner = planner_settings(app, args.random_page_cost) if schema else ""
        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        schools, figures = build(app, args, now)
        timed_school = schools[args.schools // 2]
        where = f"PostgreSQL schema {schema}" if schema else "SQLite file"
        print(f"{args.schools} school(s) × {args.points} points in a {where}{planner}; timed school: {args.days} days"
              + (f", the other {args.schools - 1}: {args.other_days} days" if args.schools > 1 else ""))
        print(f"  timed school: {timed_school.checks:,} checks, {timed_school.results:,} checklist results "
              f"({args.results}), {len(timed_school.fails):,} failed items")
        print(f"  all schools: {sum(s.checks for s in schools):,} checks, {sum(s.results for s in schools):,} "
              f"results, {figures['hazards']:,} hazards, {figures['events']:,} hazard events")
        print(f"  built in {figures['total']:.1f} s (campuses/points/users {figures['schools']:.1f} s, bulk insert "
              f"{figures['insert']:.1f} s for {figures['rows']:,} rows = {figures['rows'] / figures['insert']:,.0f}"
              f" rows/s: " + ", ".join(f"{t} {s:.1f} s" for t, s in figures["by_table"].items())
              + f"); {'VACUUM ANALYZE' if schema else 'ANALYZE'} {figures['analyze']:.1f} s")
        print()
        measure(app, timed_school, args, now)
        with app.app_context():
            from patrol.extensions import db

            db.engine.dispose()
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
