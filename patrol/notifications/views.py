"""In-app notices about hazards, and the header badges counting what waits for the user."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..hazard_flow import WORKERS, local_today, overdue_clause
from ..hazards.views import READERS, may_view
from ..models import Hazard, Notification, utcnow
from ..web import paginate

bp = Blueprint("notifications", __name__)



def badge_counts() -> dict[str, int]:
    """What waits for the current user: unread notices, the campus queue (staff), their own tasks."""
    user = current_user
    campus_today = local_today(user.campus.timezone if user.campus else "Asia/Shanghai")
    counts = {"unread": db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))}
    if user.role in READERS:
        new, overdue, rectified = db.session.execute(select(
            func.count(case((Hazard.status == "reported", 1))),
            func.count(case((overdue_clause(campus_today), 1))),
            func.count(case((Hazard.status == "rectified", 1))),
        ).where(Hazard.campus_id == user.campus_id)).one()
        counts.update(new=new, overdue=overdue, rectified=rectified)
    if user.role in WORKERS:
        tasks, tasks_overdue = db.session.execute(select(
            func.count(),
            func.count(case((overdue_clause(campus_today), 1))),
        ).where(Hazard.campus_id == user.campus_id, Hazard.assignee_id == user.id,
                Hazard.status == "assigned")).one()
        if tasks or user.role == "repairer":
            counts.update(tasks=tasks, tasks_overdue=tasks_overdue)
    return counts


@bp.record_once
def template_globals(state):
    state.app.jinja_env.globals.update(badge_counts=badge_counts)


@bp.route("/badges")
def badges():
    """The header badges alone, for htmx to refresh in place."""
    if not current_user.is_authenticated:
        # A lapsed session: answering with the login page would paste it into the header.
        return "", 204
    return render_template("notifications/_badges.html")


@bp.route("/notifications")
@login_required
def index():
    page = paginate(select(Notification).where(Notification.user_id == current_user.id)
                    .options(selectinload(Notification.hazard).selectinload(Hazard.item),
                             selectinload(Notification.hazard).selectinload(Hazard.point))
                    .order_by(Notification.created_at.desc(), Notification.id.desc()), per_page=50)
    return render_template("notifications/index.html", page=page, may_view=may_view)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_all():
    """Mark every notice of the current user read."""
    db.session.execute(update(Notification).where(Notification.user_id == current_user.id,
                                                  Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    flash(_("All notifications marked read."), "info")
    return redirect(url_for("notifications.index"), 303)
