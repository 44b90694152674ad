"""Which hazards a list shows: one filter shared by the officer's page and the API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, select
from sqlalchemy.orm import selectinload

from .extensions import db
from .hazard_flow import local_today, overdue_clause
from .models import CATEGORIES, HAZARD_STATES, OPEN_HAZARD_STATES, SEVERITIES, Campus, Hazard
from .periods import Period
from .web import small_int

STATUS_FILTERS = ("open", *HAZARD_STATES)
# What a list row shows besides the hazard itself: loaded with the page, not one query per row.
LIST_LOADS = (selectinload(Hazard.point), selectinload(Hazard.item), selectinload(Hazard.area),
              selectinload(Hazard.assignee), selectinload(Hazard.source_check),
              selectinload(Hazard.rectified_by), selectinload(Hazard.verified_by))


@dataclass
class HazardFilter:
    status: str = ""
    severity: str = ""
    category: str = ""
    area: int | None = None
    since: datetime | None = None  # UTC, naive: last seen at or after
    overdue: bool = False
    found: Period | None = None  # first seen in this local period, not dismissed
    verified: Period | None = None  # verified in this local period

    @classmethod
    def from_args(cls, args) -> HazardFilter:
        """Read the filter from query arguments, ignoring values that are not valid choices."""
        area = args.get("area", "")
        return cls(
            status=args.get("status", "") if args.get("status", "") in STATUS_FILTERS else "",
            severity=args.get("severity", "") if args.get("severity", "") in SEVERITIES else "",
            category=args.get("category", "") if args.get("category", "") in CATEGORIES else "",
            area=small_int(area),
            overdue=args.get("overdue", "") in ("1", "true"),
            found=_period(args.get("found", "")),
            verified=_period(args.get("verified", "")),
        )

    def as_args(self) -> dict:
        args = {"status": self.status, "severity": self.severity, "category": self.category,
                "area": self.area or "", "overdue": "1" if self.overdue else "",
                "found": self.found.label if self.found else "",
                "verified": self.verified.label if self.verified else ""}
        return {k: v for k, v in args.items() if v}

    def statement(self, campus_id: int, today: date | None = None) -> Select:
        """Hazards of the campus matching the filter: major first, then the most recently seen."""
        stmt = select(Hazard).where(Hazard.campus_id == campus_id)
        if self.status == "open":
            stmt = stmt.where(Hazard.status.in_(OPEN_HAZARD_STATES))
        elif self.status:
            stmt = stmt.where(Hazard.status == self.status)
        if self.severity:
            stmt = stmt.where(Hazard.severity == self.severity)
        if self.category:
            stmt = stmt.where(Hazard.category == self.category)
        if self.area:
            stmt = stmt.where(Hazard.area_id == self.area)
        if self.since:
            stmt = stmt.where(Hazard.last_seen_at >= self.since)
        if self.overdue or self.found or self.verified:
            campus = db.session.get(Campus, campus_id)
            tz = campus.timezone if campus else "Asia/Shanghai"
            if self.overdue:
                stmt = stmt.where(overdue_clause(today or local_today(tz)))
            if self.found:
                start, end = self.found.utc_bounds(tz)
                stmt = stmt.where(Hazard.first_seen_at >= start, Hazard.first_seen_at < end,
                                  Hazard.status != "dismissed")
            if self.verified:
                start, end = self.verified.utc_bounds(tz)
                stmt = stmt.where(Hazard.verified_at >= start, Hazard.verified_at < end)
        major_first = case((Hazard.severity == "major", 0), else_=1)
        return stmt.options(*LIST_LOADS).order_by(major_first, Hazard.last_seen_at.desc(), Hazard.id.desc())


def _period(label: str) -> Period | None:
    try:
        return Period.parse(label) if label else None
    except ValueError:
        return None
