"""The officer's list of checks as they arrived: when the phone says, when the server got them, clock flags."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth import roles_required
from ..check_list import CheckFilter, delay
from ..extensions import db
from ..periods import in_calendar
from ..models import Check, Point
from ..web import is_htmx, paginate

bp = Blueprint("checks", __name__)

READERS = ("officer", "admin", "viewer")


@dataclass
class PageFilter:
    """The page's filter as the user typed it: a point code, a campus-local day, flagged only."""

    point_code: str = ""
    since_day: date | None = None
    flagged: bool = False

    @classmethod
    def from_args(cls, args) -> PageFilter:
        """Read the filter from query arguments, ignoring values that are not valid."""
        try:
            since_day = date.fromisoformat(args.get("since", "").strip()) if args.get("since", "").strip() else None
        except ValueError:
            since_day = None
        if since_day and not in_calendar(since_day):
            since_day = None
        return cls(point_code=args.get("point", "").strip(), since_day=since_day,
                   flagged=args.get("flagged", "") in ("1", "true"))

    def as_args(self) -> dict:
        args = {"point": self.point_code, "since": self.since_day.isoformat() if self.since_day else "",
                "flagged": "1" if self.flagged else ""}
        return {k: v for k, v in args.items() if v}

    def to_check_filter(self, campus_id: int, tz: str) -> tuple[CheckFilter, bool]:
        """The shared filter, and whether the point code was unknown (then it matches nothing, not everything)."""
        point_id = None
        if self.point_code:
            point_id = db.session.scalar(select(Point.id).where(Point.campus_id == campus_id,
                                                                Point.code == self.point_code))
        unknown = bool(self.point_code) and point_id is None
        since = None
        if self.since_day:
            start = datetime.combine(self.since_day, time(0), ZoneInfo(tz))
            since = start.astimezone(timezone.utc).replace(tzinfo=None)
        return CheckFilter(point_id=0 if unknown else point_id, since=since, flagged=self.flagged), unknown


def format_delay(value: timedelta) -> str:
    """How late a check arrived, in words: minutes, hours or days."""
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return _("at once")
    if minutes < 60:
        return _("%(m)d min later", m=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)d h %(m)d min later", h=hours, m=minutes)
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h later", d=days, h=hours)


def clock_explanation(check: Check) -> str:
    if check.clock_flag == "future":
        return _("The phone's time is more than 5 minutes after the server received it: the phone's clock "
                 "is probably wrong.")
    if check.clock_flag == "stale":
        return _("The phone's time is more than %(n)d days before the server received it: a late upload "
                 "or a wrong phone clock.", n=current_app.config["PATROL_OBSERVED_WINDOW_DAYS"])
    return ""


@bp.record_once
def template_globals(state):
    state.app.jinja_env.globals.update(check_delay=lambda check: format_delay(delay(check)),
                                       clock_explanation=clock_explanation)


@bp.route("/checks")
@roles_required(*READERS)
def index():
    filters = PageFilter.from_args(request.args)
    campus = current_user.campus
    shared, unknown_point = filters.to_check_filter(current_user.campus_id,
                                                    campus.timezone if campus else "Asia/Shanghai")
    page = paginate(shared.statement(current_user.campus_id), per_page=50)
    context = {"page": page, "filters": filters, "unknown_point": unknown_point}
    if is_htmx():
        return render_template("checks/_list.html", **context)
    points = db.session.scalars(select(Point).where(Point.campus_id == current_user.campus_id)
                                .order_by(Point.code)).all()
    return render_template("checks/index.html", points=points, **context)
