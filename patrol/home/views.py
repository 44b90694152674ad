"""The start page each role lands on after logging in."""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Check, Hazard, OPEN_HAZARD_STATES

bp = Blueprint("home", __name__)


def start_of_local_day(tz: str) -> datetime:
    """Midnight today on the campus clock, as naive UTC for comparing with stored times."""
    zone = ZoneInfo(tz)
    local_midnight = datetime.combine(datetime.now(zone).date(), time(0), tzinfo=zone)
    return local_midnight.astimezone(timezone.utc).replace(tzinfo=None)


@bp.route("/")
@login_required
def index():
    campus = current_user.campus
    since = start_of_local_day(campus.timezone if campus else "Asia/Shanghai")
    my_checks = db.session.scalars(
        select(Check).where(Check.user_id == current_user.id, Check.observed_at >= since)
        .options(selectinload(Check.point), selectinload(Check.results))
        .order_by(Check.observed_at.desc())
    ).all()
    counts = dict(db.session.execute(
        select(Hazard.status, func.count()).where(Hazard.campus_id == current_user.campus_id)
        .group_by(Hazard.status)
    ).all())
    open_major = db.session.scalar(
        select(func.count()).select_from(Hazard).where(
            Hazard.campus_id == current_user.campus_id, Hazard.severity == "major",
            Hazard.status.in_(OPEN_HAZARD_STATES))
    )
    return render_template("home/index.html", campus=campus, my_checks=my_checks, counts=counts,
                           open_major=open_major)
