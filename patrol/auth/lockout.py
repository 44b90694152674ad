"""Login lockout: too many failed logins for one username, or from one address, refuse logins for a while."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models import LoginFailure, utcnow


def now() -> datetime:
    """The clock of the lockout (naive UTC); tests replace it instead of sleeping."""
    return utcnow()


def period() -> timedelta:
    """How far back failures count, and how long a lockout lasts."""
    return timedelta(minutes=current_app.config["PATROL_LOGIN_LOCKOUT_MINUTES"])


def _locked_until(times: list[datetime], limit: int, at: datetime) -> datetime | None:
    """The end of the latest lockout: one starts at each failure that makes `limit` within a period."""
    if limit <= 0:
        return None
    span, until = period(), None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] < span:
            until = times[i] + span
    return until if until is not None and until > at else None


def locked_until(username: str, ip: str) -> datetime | None:
    """When logins for this username or from this address are allowed again; None if they are now."""
    at = now()
    # A lockout lasts one period after a failure whose own period held the limit: older rows cannot matter.
    since = at - 2 * period()
    config = current_app.config
    ends = []
    for column, value, limit in ((LoginFailure.username, username, config["PATROL_LOGIN_MAX_FAILURES"]),
                                 (LoginFailure.ip, ip, config["PATROL_LOGIN_MAX_FAILURES_PER_IP"])):
        times = list(db.session.scalars(select(LoginFailure.at).where(column == value, LoginFailure.at > since)
                                        .order_by(LoginFailure.at)))
        ends.append(_locked_until(times, limit, at))
    return max((end for end in ends if end is not None), default=None)


def record_failure(username: str, ip: str) -> None:
    """Count a failed login, and forget failures too old to matter."""
    at = now()
    db.session.execute(delete(LoginFailure).where(LoginFailure.at <= at - 2 * period()))
    db.session.add(LoginFailure(username=username, ip=ip, at=at))
    db.session.commit()


def clear_failures(username: str) -> None:
    """A successful login: the username's earlier failures no longer count (its address's still do)."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))
