"""The monthly report (月报): the printable page, its spreadsheet and JSON, closing and reopening a month."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import roles_required
from ..extensions import db
from ..hazard_flow import local_today
from ..models import CATEGORIES, Campus
from ..monthly import (
    FIGURE_LABELS,
    FIGURES,
    RATES,
    ReportRefused,
    close_month,
    find_record,
    has_ended,
    last_month,
    reopen_month,
    report_for,
)
from ..periods import Period
from ..report_xlsx import monthly_workbook

bp = Blueprint("reports", __name__, url_prefix="/reports")

READERS = ("officer", "admin", "viewer")
MANAGERS = ("officer", "admin")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def user_campus() -> Campus:
    campus = current_user.campus
    if campus is None:
        abort(404)
    return campus


def month_or_404(text: str) -> Period:
    try:
        return Period.parse_month(text)
    except ValueError:
        abort(404)


@bp.route("/monthly")
@roles_required(*READERS)
def monthly():
    campus = user_campus()
    raw = request.args.get("month", "").strip()
    if not raw:
        return render_monthly(campus, last_month(campus))
    try:
        month = Period.parse_month(raw)
    except ValueError:
        flash(_("Choose a month like 2026-10."), "error")
        return render_monthly(campus, last_month(campus), status=400)
    return render_monthly(campus, month)


def render_monthly(campus: Campus, month: Period, refused: ReportRefused | None = None, form: str = "",
                   status: int = 200):
    """The report page; `refused` is a failed close or reopen (`form`) to show again with its input."""
    today = local_today(campus.timezone)
    record = find_record(campus.id, month)
    context = {
        "campus": campus, "month": month, "report": report_for(campus, month, today), "record": record,
        "labels": FIGURE_LABELS, "figures": FIGURES, "rates": RATES, "categories": CATEGORIES,
        "may_manage": current_user.role in MANAGERS, "ended": has_ended(month, today),
        "previous": month.previous(), "following": month.next(), "current": Period.containing("month", today),
        "refused": refused, "form": form, "values": request.form if refused else {},
    }
    return render_template("reports/monthly.html", **context), status


@bp.route("/monthly/<month>/close", methods=["POST"])
@roles_required(*MANAGERS)
def close(month):
    campus, period = user_campus(), month_or_404(month)
    try:
        close_month(campus, period, current_user, request.form.get("prepared_by", ""),
                    request.form.get("approved_by", ""))
    except ReportRefused as exc:
        db.session.rollback()
        return render_monthly(campus, period, exc, "close", exc.status)
    flash(_("%(month)s is closed: its figures are frozen.", month=period.label), "info")
    return redirect(url_for("reports.monthly", month=period.label), 303)


@bp.route("/monthly/<month>/reopen", methods=["POST"])
@roles_required(*MANAGERS)
def reopen(month):
    campus, period = user_campus(), month_or_404(month)
    try:
        reopen_month(campus, period, current_user, request.form.get("reason", ""))
    except ReportRefused as exc:
        db.session.rollback()
        return render_monthly(campus, period, exc, "reopen", exc.status)
    flash(_("%(month)s is open again: its report is a draft.", month=period.label), "info")
    return redirect(url_for("reports.monthly", month=period.label), 303)


@bp.route("/monthly/<month>.xlsx")
@roles_required(*READERS)
def monthly_xlsx(month):
    campus, period = user_campus(), month_or_404(month)
    return download(monthly_workbook(report_for(campus, period)), XLSX, f"monthly-report-{period.label}.xlsx")


@bp.route("/monthly/<month>.json")
@roles_required(*READERS)
def monthly_json(month):
    campus, period = user_campus(), month_or_404(month)
    body = json.dumps(report_for(campus, period), ensure_ascii=False, indent=2)
    return download(body.encode(), "application/json", f"monthly-report-{period.label}.json")


def download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A draft changes with the data; a browser must not keep an old copy.
    response.headers["Cache-Control"] = "private, no-store"
    return response
