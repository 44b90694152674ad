"""My tasks: the hazards assigned to me, fixed on a phone and marked fixed with an "after" photo."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from ..auth import roles_required
from ..extensions import db
from ..hazard_flow import WORKERS, allowed_actions
from ..models import Campus, Hazard, User
from ..web import is_htmx

bp = Blueprint("tasks", __name__)


def my_tasks(user: User) -> dict[str, list[Hazard]]:
    """Hazards assigned to the user: to fix (earliest deadline, so the overdue, first) and awaiting verification."""
    major_first = case((Hazard.severity == "major", 0), else_=1)
    mine = (select(Hazard).where(Hazard.assignee_id == user.id, Hazard.campus_id == user.campus_id)
            .options(selectinload(Hazard.photos), selectinload(Hazard.point), selectinload(Hazard.item)))
    return {
        "open": db.session.scalars(mine.where(Hazard.status == "assigned")
                                   .order_by(Hazard.deadline, major_first, Hazard.id)).all(),
        "waiting": db.session.scalars(mine.where(Hazard.status == "rectified")
                                      .order_by(Hazard.rectified_at.desc(), Hazard.id)).all(),
    }


def tasks_elsewhere(user: User) -> list[tuple[Campus, int]]:
    """The user's other campuses where something waits for them to fix, with how many."""
    others = user.campus_ids - {user.campus_id}
    if not others:
        return []
    counts = dict(db.session.execute(select(Hazard.campus_id, func.count()).where(
        Hazard.assignee_id == user.id, Hazard.status == "assigned", Hazard.campus_id.in_(others))
        .group_by(Hazard.campus_id)).all())
    return [(campus, counts[campus.id]) for campus in user.campuses if counts.get(campus.id)]


def render_tasks(failure=None, status: int = 200):
    """The task list, with a refused action (if any) shown again on its card."""
    tasks = my_tasks(current_user)
    actions = {h.id: allowed_actions(h, current_user) for h in tasks["open"]}
    # A re-rendered form answers a POST: a boosted htmx form must not push the POST's URL.
    headers = {"HX-Push-Url": "false"} if request.method == "POST" and is_htmx() else {}
    return render_template("tasks/index.html", tasks=tasks, actions=actions, failure=failure,
                           elsewhere=tasks_elsewhere(current_user)), status, headers


@bp.route("/tasks")
@roles_required(*WORKERS)
def index():
    return render_tasks()
