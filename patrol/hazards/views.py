"""The officer's hazard list, queue and hazard page, the actions taken there, and the photos behind them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, select

from .. import campuses, photos
from ..auth import roles_required
from ..extensions import db
from ..hazard_flow import (
    ACTIONS,
    MANAGERS,
    WORKERS,
    ActionInput,
    ActionRefused,
    allowed_actions,
    is_overdue,
    local_today,
    overdue_clause,
    perform,
    refusal,
)
from ..hazard_list import LIST_LOADS, HazardFilter
from ..models import Area, Check, Hazard, Photo, Point, User
from ..storage import photo_store
from ..tasks.views import render_tasks
from ..vocab import EVENT
from ..web import is_htmx, paginate, same_site, small_int

bp = Blueprint("hazards", __name__)

READERS = ("officer", "admin", "viewer")
QUEUE_LIMIT = 100



@dataclass
class Failure:
    """An action that was refused, to show again with the user's input and the reasons."""

    hazard_id: int
    action: str
    message: str
    status: int
    fields: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    kept: list = field(default_factory=list)


def today() -> date:
    """Today on the campus clock, once per request."""
    if "campus_today" not in g:
        campus = current_user.campus
        g.campus_today = local_today(campus.timezone if campus else "Asia/Shanghai")
    return g.campus_today


@bp.record_once
def template_globals(state):
    # Globals, not a context processor: imported form macros see them too.
    state.app.jinja_env.globals.update(campus_today=today,
                                       is_overdue=lambda hazard: is_overdue(hazard, today()))


def get_hazard(hazard_id: int) -> Hazard:
    hazard = db.session.get(Hazard, hazard_id)
    # A hazard of another of the user's campuses (a link, a notification) takes them to that campus.
    if hazard is None or not campuses.enter(current_user, hazard.campus_id):
        abort(404)
    return hazard


def may_view(hazard: Hazard) -> bool:
    """Staff see every hazard of their campus; anyone else only those assigned to them."""
    return current_user.role in READERS or hazard.assignee_id == current_user.id


def assignable_users(campus_id: int) -> list[User]:
    """People who can be given a fix, repairers first."""
    repairers_first = case((User.role == "repairer", 0), else_=1)
    return db.session.scalars(select(User).where(campuses.members(campus_id), User.active,
                                                 User.role.in_(WORKERS))
                              .order_by(repairers_first, User.name, User.username)).all()


@bp.route("/hazards")
@roles_required(*READERS)
def index():
    filters = HazardFilter.from_args(request.args)
    page = paginate(filters.statement(current_user.campus_id, today()), per_page=50)
    context = {"page": page, "filters": filters}
    if is_htmx():
        return render_template("hazards/_list.html", **context)
    areas = db.session.scalars(select(Area).where(Area.campus_id == current_user.campus_id)
                               .order_by(Area.name)).all()
    return render_template("hazards/index.html", areas=areas, **context)


def queue_sections(campus_id: int) -> dict[str, list[Hazard]]:
    """What waits for the officer: new hazards, overdue ones, fixes to verify."""
    major_first = case((Hazard.severity == "major", 0), else_=1)
    mine = select(Hazard).where(Hazard.campus_id == campus_id).options(*LIST_LOADS).limit(QUEUE_LIMIT)
    return {
        "new": db.session.scalars(mine.where(Hazard.status == "reported")
                                  .order_by(major_first, Hazard.first_seen_at, Hazard.id)).all(),
        "overdue": db.session.scalars(mine.where(overdue_clause(today()))
                                      .order_by(major_first, Hazard.deadline, Hazard.id)).all(),
        "rectified": db.session.scalars(mine.where(Hazard.status == "rectified")
                                        .order_by(Hazard.rectified_at, Hazard.id)).all(),
    }


def render_queue(status: int = 200, values=None, errors=None, failures=None):
    context = {"sections": queue_sections(current_user.campus_id), "values": values or {},
               "errors": errors or {}, "failures": failures or [],
               "assignees": assignable_users(current_user.campus_id), "campus": current_user.campus,
               "may_act": current_user.role in MANAGERS, "queue_limit": QUEUE_LIMIT}
    return render_template("hazards/queue.html", **context), status, refused_headers(status)


@bp.route("/hazards/queue")
@roles_required(*READERS)
def queue():
    return render_queue()


@bp.route("/hazards/queue/assign", methods=["POST"])
@roles_required(*MANAGERS)
def bulk_assign():
    """Assign each ticked new hazard with the same person, deadline and severity; report every failure."""
    chosen = list(dict.fromkeys(small_int(v) for v in request.form.getlist("hazard") if small_int(v)))
    if not chosen:
        errors = {"hazard": _("Tick at least one hazard.")}
        return render_queue(200 if is_htmx() else 422, request.form, errors)
    done, failures = [], []
    for hazard_id in chosen:
        hazard = db.session.get(Hazard, hazard_id)
        if hazard is None or hazard.campus_id != current_user.campus_id:
            failures.append(Failure(hazard_id, "assign", _("No such hazard."), 404))
            continue
        if hazard.status == "assigned":
            # Ticked while new, assigned by someone else since: re-assigning would silently undo their choice.
            failures.append(Failure(hazard_id, "assign", _("Meanwhile assigned to %(name)s; open it to re-assign.",
                                                           name=hazard.assignee.display_name), 409))
            continue
        try:
            perform(hazard, current_user, "assign", ActionInput.from_mapping(request.form))
        except ActionRefused as exc:
            db.session.rollback()
            failures.append(Failure(hazard_id, "assign", exc.message, exc.status, exc.fields))
        else:
            done.append(hazard_id)
    if not done:
        fields = next((f.fields for f in failures if f.fields), {})
        return render_queue(200 if is_htmx() else 422, request.form, fields, failures)
    flash(_("Assigned %(n)d of %(m)d hazards.", n=len(done), m=len(chosen)), "info")
    for failure in failures:
        reasons = "; ".join([failure.message, *failure.fields.values()])
        flash(_("Hazard #%(id)d was not assigned: %(why)s", id=failure.hazard_id, why=reasons), "error")
    return redirect(url_for("hazards.queue"), 303)


@bp.route("/hazards/<int:hazard_id>")
@login_required
def detail(hazard_id):
    hazard = get_hazard(hazard_id)
    if not may_view(hazard):
        abort(403)
    return render_detail(hazard)


def render_detail(hazard: Hazard, failure: Failure | None = None, status: int = 200):
    photos_by_kind = {"before": [], "after": []}
    for photo in hazard.photos:
        photos_by_kind.setdefault(photo.kind, []).append(photo)
    actions = allowed_actions(hazard, current_user)
    context = {"hazard": hazard, "actions": actions, "failure": failure, "photos": photos_by_kind,
               "assignees": assignable_users(hazard.campus_id) if "assign" in actions else [],
               "campus": current_user.campus}
    return render_template("hazards/detail.html", **context), status, refused_headers(status)


def refused_headers(status: int) -> dict:
    # A re-rendered form answers a POST: a boosted htmx form must not push the POST's URL.
    return {"HX-Push-Url": "false"} if request.method == "POST" and is_htmx() else {}


def received_photos() -> tuple[list[photos.StoredImage], list[str], str | None]:
    """Photos sent now plus those kept from an earlier invalid submit (by hash), and any upload error."""
    stored, error = photos.collect(request.form.getlist("kept"), photos.uploaded_files(request.files, "photo"))
    return stored, [s.sha256 for s in stored], error


@bp.route("/hazards/<int:hazard_id>/actions/<action>", methods=["POST"])
@login_required
def act(hazard_id, action):
    """Take one step of the hazard loop; the rules and the record live in hazard_flow."""
    if action not in ACTIONS:
        abort(404)
    hazard = get_hazard(hazard_id)
    back = same_site(request.form.get("next")) or url_for("hazards.detail", hazard_id=hazard.id)
    stored, kept, photo_error = [], [], None
    if action == "rectify" and refusal(hazard, current_user, action) is None:
        stored, kept, photo_error = received_photos()
    values = ActionInput.from_mapping(request.form, photos=stored)
    if photo_error:
        values.errors["photo"] = photo_error
    try:
        perform(hazard, current_user, action, values)
    except ActionRefused as exc:
        db.session.rollback()
        fields = dict(exc.fields, **({"photo": photo_error} if photo_error else {}))
        failure = Failure(hazard.id, action, exc.message, exc.status, fields, request.form, kept)
        return refused(hazard, failure, back)
    flash(_("%(what)s: hazard #%(id)d.", what=EVENT[action], id=hazard.id), "info")
    return redirect(back, 303)


def refused(hazard: Hazard, failure: Failure, back: str):
    """Show why an action was refused where it was asked for, with the user's input."""
    # htmx does not swap 4xx responses: it gets the same page with 200.
    status = 200 if is_htmx() else failure.status
    if failure.status == 403:
        return render_template("errors/error.html", title=_("Not allowed"), message=failure.message), \
            status, refused_headers(status)
    if back == url_for("tasks.index") and current_user.role in WORKERS:
        return render_tasks(failure, status)
    if not may_view(hazard):
        return render_template("errors/error.html", title=_("Not possible"), message=failure.message), \
            status, refused_headers(status)
    return render_detail(hazard, failure, status)


def may_see_photo(photo: Photo) -> bool:
    """Staff of the campus see every photo of it; an assignee the photos of their hazard; others only their own."""
    if photo.uploaded_by_id == current_user.id:
        return True
    if current_user.role not in READERS:
        hazard = db.session.get(Hazard, photo.hazard_id) if photo.hazard_id else None
        return hazard is not None and hazard.assignee_id == current_user.id
    return current_user.belongs_to(photo_campus(photo))


def photo_campus(photo: Photo) -> int | None:
    """The campus whose hazard or check the photo shows; None for one not attached to either yet."""
    if photo.hazard_id:
        return db.session.scalar(select(Hazard.campus_id).where(Hazard.id == photo.hazard_id))
    if photo.check_id:
        return db.session.scalar(select(Point.campus_id).join(Check, Check.point_id == Point.id)
                                 .where(Check.id == photo.check_id))
    return None


@bp.route("/photos/<int:photo_id>")
@login_required
def photo(photo_id):
    record = db.session.get(Photo, photo_id)
    if record is None or not may_see_photo(record):
        abort(404)
    store = photo_store()
    if not store.exists(record.sha256):
        abort(404)
    response = store.response(record.sha256, record.content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
