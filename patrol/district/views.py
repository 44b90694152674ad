"""District roll-up: upload schools' monthly report files, or see one's own campuses side by side; the XLSX."""
from __future__ import annotations

import io

from flask import Blueprint, render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField
from wtforms import SubmitField

from ..auth import roles_required
from ..monthly import last_month, report_for
from ..periods import Period
from ..rollup import (
    FIGURE_LABELS,
    RATES,
    REPORT_STATUS,
    XLSX_MIMETYPE,
    RollupError,
    RollupRefused,
    combine,
    district_xlsx,
    roll_up,
)

bp = Blueprint("district", __name__, url_prefix="/district")

ROLLUP_ROLES = ("officer", "admin", "viewer")


class RollupForm(FlaskForm):
    reports = MultipleFileField(_l("Monthly report files (.json)"),
                                [FileRequired(_l("Choose one or more monthly report files."))])
    show = SubmitField(_l("Show the figures"))
    download = SubmitField(_l("Download XLSX"))


@bp.route("/rollup", methods=["GET", "POST"])
@roles_required(*ROLLUP_ROLES)
def rollup():
    form = RollupForm()
    district, problems = None, []
    if form.validate_on_submit():
        try:
            district = roll_up((upload.filename, upload.read()) for upload in form.reports.data)
        except RollupRefused as refused:
            problems = refused.errors
        else:
            if form.download.data:
                return send_file(io.BytesIO(district_xlsx(district)), mimetype=XLSX_MIMETYPE, as_attachment=True,
                                 download_name=f"district-{district.month}.xlsx")
    status = 422 if form.is_submitted() and (problems or form.errors) else 200
    return render_template("district/rollup.html", form=form, district=district, problems=problems,
                           figure_labels=FIGURE_LABELS, rates=RATES, report_status=REPORT_STATUS), status


@bp.route("/campuses")
@roles_required(*ROLLUP_ROLES)
def campuses():
    """The month's reports of every campus the user belongs to, rolled up as the district would (also XLSX)."""
    month, problem, district, status = last_month(current_user.campus), None, None, 200
    raw = request.args.get("month", "").strip()
    if raw:
        try:
            month = Period.parse_month(raw)
        except ValueError:
            problem, status = _("Choose a month like 2026-10."), 422
    if problem is None:
        try:
            district = combine([(campus.name, report_for(campus, month)) for campus in current_user.campuses])
        except RollupError as refused:
            problem, status = str(refused), 409
    if district is not None and request.args.get("format") == "xlsx":
        return send_file(io.BytesIO(district_xlsx(district)), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=f"campuses-{district.month}.xlsx")
    return render_template("district/campuses.html", month=month, district=district, problem=problem,
                           figure_labels=FIGURE_LABELS, rates=RATES, report_status=REPORT_STATUS), status
