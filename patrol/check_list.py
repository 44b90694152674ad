"""Which checks a list shows and how late each arrived: one filter shared by the officer's page and the API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from .models import Check, Point


@dataclass
class CheckFilter:
    point_id: int | None = None
    since: datetime | None = None  # UTC, naive: received at or after
    flagged: bool = False  # only checks with a clock flag
    user_id: int | None = None  # only this user's checks

    def statement(self, campus_id: int) -> Select:
        """Checks made at the campus's points matching the filter, newest received first."""
        stmt = (select(Check).join(Check.point).where(Point.campus_id == campus_id)
                .options(selectinload(Check.point), selectinload(Check.user),
                         selectinload(Check.results), selectinload(Check.photos)))
        if self.point_id is not None:
            stmt = stmt.where(Check.point_id == self.point_id)
        if self.since is not None:
            stmt = stmt.where(Check.received_at >= self.since)
        if self.flagged:
            stmt = stmt.where(Check.clock_flag.is_not(None))
        if self.user_id is not None:
            stmt = stmt.where(Check.user_id == self.user_id)
        return stmt.order_by(Check.received_at.desc(), Check.id.desc())


def delay(check: Check) -> timedelta:
    """How long after the device's time the server received the check (negative: the clock ran ahead)."""
    return check.received_at - check.observed_at
