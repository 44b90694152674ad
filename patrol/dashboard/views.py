"""The dashboard: today / this week / this month, the 12-month trend, coverage lists and what is still due."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from .. import stats
from ..auth import roles_required
from ..charts import Datum, Series, bar_chart, bar_list, line_chart
from ..extensions import db
from ..hazard_flow import local_today
from ..models import CADENCES, Area, Campus, PointType
from ..periods import Period
from ..web import locale_code, small_int

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

READERS = ("officer", "admin", "viewer")
ROUNDS = ("guard", "officer", "admin")
TREND_MONTHS = 12


@bp.record_once
def template_globals(state):
    state.app.jinja_env.globals.update(due_summary=due_summary, period_last_day=last_day)


def last_day(period: Period) -> date:
    return period.end - timedelta(days=1)


def due_summary() -> dict[str, int]:
    """For the start page: how many points are still due today, this week and this month for this user."""
    campus = current_user.campus
    return stats.due_counts(campus, user=current_user) if campus else {}


def the_campus() -> Campus:
    campus = current_user.campus
    if campus is None:
        abort(404)
    return campus


def period_kind() -> str:
    kind = request.args.get("period", "day")
    return kind if kind in stats.KINDS else "day"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


@bp.route("")
@roles_required(*READERS)
def index():
    campus = the_campus()
    kind = period_kind()
    board = stats.dashboard(campus, kind)
    months = stats.trend(campus, TREND_MONTHS, board.today)
    return render_template("dashboard/index.html", board=board, kind=kind, months=months,
                           charts=dashboard_charts(board, kind, months), percent=percent,
                           hazard_args=hazard_args)


def hazard_args(figure: str, period: Period, **filters) -> dict:
    """The /hazards query behind a figure: found, verified, open or overdue, with category or area."""
    args = {k: v for k, v in filters.items() if v not in (None, "")}
    if figure == "found":
        args["found"] = period.label
    elif figure == "verified":
        args.update(status="verified", verified=period.label)
    elif figure == "open":
        args["status"] = "open"
    elif figure == "overdue":
        args["overdue"] = 1
    return args


def dashboard_charts(board: stats.Dashboard, kind: str, months: list[stats.TrendMonth]) -> dict[str, Markup]:
    """The SVGs of the page: completion by area, checks per person, hazards by category, the trend."""
    lc = locale_code()
    areas = [(t.name(lc), Datum(round(t.rate * 100) if t.rate is not None else None,
                                _("%(name)s: %(done)d of %(due)d checks done", name=t.name(lc), done=t.done, due=t.due),
                                url_for("dashboard.coverage", period=kind, area=t.key), percent(t.rate)))
             for t in board.by_area if t.due]
    guards = [(g.name, Datum(g.checks, _("%(name)s: %(n)d checks at %(p)d points", name=g.name, n=g.checks,
                                         p=g.points))) for g in board.by_guard]
    categories = [(str(t.label), Datum(t.found, _("%(what)s: %(n)d found", what=t.label, n=t.found),
                                       url_for("hazards.index", **hazard_args("found", board.period, category=t.key))))
                  for t in board.hazards_by_category]
    labels = [m.period.start.strftime("%m\n%Y" if n == 0 or m.period.start.month == 1 else "%m")
              for n, m in enumerate(months)]
    found = [Datum(m.found, _("%(month)s: %(n)d found", month=m.period.label, n=m.found),
                   url_for("hazards.index", found=m.period.label)) for m in months]
    verified = [Datum(m.verified, _("%(month)s: %(n)d verified", month=m.period.label, n=m.verified),
                      url_for("hazards.index", status="verified", verified=m.period.label)) for m in months]
    rates = [Datum(round(m.rate * 100, 1) if m.rate is not None else None,
                   _("%(month)s: %(rate)s of checks done", month=m.period.label, rate=percent(m.rate)),
                   url_for("dashboard.coverage", period="month", month=m.period.label)) for m in months]
    return {
        "areas": bar_list(areas, label=_("Checks done by area, per cent"), x_label=_("Per cent of checks done"),
                          top=100) if areas else Markup(),
        "guards": bar_list(guards, label=_("Checks per person"), x_label=_("Checks")) if guards else Markup(),
        "categories": bar_list(categories, label=_("Hazards found by category"), x_label=_("Hazards found"),
                               key="found"),
        "found_verified": bar_chart(labels, [Series(_("Found"), found, "found"),
                                             Series(_("Verified"), verified, "verified")],
                                    label=_("Hazards found and verified per month"), x_label=_("Month"),
                                    y_label=_("Hazards"), width=600, height=270),
        "completion": line_chart(labels, rates, label=_("Checks done per month, per cent"), x_label=_("Month"),
                                 y_label=_("Per cent done"), width=600, height=270),
    }


@bp.route("/coverage")
@roles_required(*READERS)
def coverage():
    """The points behind a completion figure: due, done, missed and still due in the period."""
    campus = the_campus()
    today = local_today(campus.timezone)
    kind = period_kind()
    period = Period.containing(kind, today)
    month = request.args.get("month", "")
    if month:
        try:
            period = Period.parse_month(month)
        except ValueError:
            abort(404)
        kind = "month"
    area = request.args.get("area", "")
    area_id = small_int(area)
    point_type = request.args.get("type", "")
    cadence = request.args.get("cadence", "")
    cadence = cadence if cadence in CADENCES else ""
    total, rows = stats.coverage_rows(campus, period, today, area=area_id, point_type=point_type, cadence=cadence)
    areas = db.session.scalars(select(Area).where(Area.campus_id == campus.id).order_by(Area.name)).all()
    types = db.session.scalars(select(PointType).order_by(PointType.id)).all()
    filters = {k: v for k, v in {"area": area_id, "type": point_type, "cadence": cadence}.items() if v}
    return render_template("dashboard/coverage.html", period=period, kind=kind, month=month, total=total,
                           rows=rows, areas=areas, types=types, area_id=area_id, point_type=point_type,
                           cadence=cadence, filters=filters, percent=percent)


@bp.route("/due")
@roles_required(*ROUNDS)
def due():
    """Still due today, this week and this month: a guard's usual areas, everything for officers."""
    campus = the_campus()
    today = local_today(campus.timezone)
    return render_template("dashboard/due.html", due=stats.due_lists(campus, today, current_user), today=today,
                           guard=current_user.role == "guard")
