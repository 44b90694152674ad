"""The campuses a user belongs to, and moving to another one to work there."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .. import campuses
from ..extensions import db
from ..models import Hazard, OPEN_HAZARD_STATES, Point, user_campus
from ..web import same_site, small_int

bp = Blueprint("campus", __name__, url_prefix="/campuses")


@bp.route("")
@login_required
def index():
    ids = list(current_user.campus_ids)
    points = dict(db.session.execute(select(Point.campus_id, func.count()).where(
        Point.campus_id.in_(ids), Point.active).group_by(Point.campus_id)).all())
    open_hazards = dict(db.session.execute(select(Hazard.campus_id, func.count()).where(
        Hazard.campus_id.in_(ids), Hazard.status.in_(OPEN_HAZARD_STATES)).group_by(Hazard.campus_id)).all())
    people = dict(db.session.execute(select(user_campus.c.campus_id, func.count()).where(
        user_campus.c.campus_id.in_(ids)).group_by(user_campus.c.campus_id)).all())
    return render_template("campus/index.html", campuses=current_user.campuses, points=points,
                           open_hazards=open_hazards, people=people)


@bp.route("/enter", methods=["POST"])
@login_required
def enter():
    """Work in another of one's campuses; back to the page one came from where it means the same there."""
    chosen = small_int(request.form.get("campus", ""))
    if not campuses.enter(current_user, chosen):
        abort(404)
    flash(_("You are now working in %(name)s.", name=current_user.campus.name))
    return redirect(back_to(request.form.get("next")), 303)


def back_to(target: str | None) -> str:
    """The page to show after a move: the same list or overview, but not one object of the old campus."""
    path = same_site(target)
    if path:
        path = path.split("?", 1)[0]  # filters name the old campus's areas and points
        try:
            endpoint, arguments = current_app.url_map.bind("localhost").match(path, method="GET")
        except (HTTPException, RequestRedirect):
            endpoint, arguments = None, None
        if endpoint and not arguments and endpoint != "campus.index":
            return path
    return url_for("home.index")
