"""What a guard does with a phone: open a point's check form from its QR code, submit it, report hazards."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import campuses, photo_uploads, photos
from ..auth import roles_required, wants_json
from ..web import small_int
from ..extensions import db
from ..models import Area, Check, Hazard, Point, OPEN_HAZARD_STATES
from ..recording import (
    AdhocReport,
    CheckSubmission,
    Conflict,
    Outcome,
    parse_observed_at,
    record_check,
    report_hazard,
    valid_uuid,
    validate_adhoc,
    validate_results,
)

bp = Blueprint("scan", __name__)

CHECKERS = ("guard", "officer", "admin")


def get_point(token: str, move: bool = True) -> Point:
    """The active point behind a token on one of the user's campuses, or the friendly 404 page.

    Scanning a label of another of one's campuses moves one there (`move`); a submission does not,
    since the phone's outbox may send it later, when its user works somewhere else.
    """
    point = db.session.scalar(select(Point).where(Point.token == token))
    if point is None or not point.active:
        abort(404, description="point")
    allowed = campuses.enter(current_user, point.campus_id) if move else current_user.belongs_to(point.campus_id)
    if not allowed:
        abort(404, description="point")
    return point


def form_context(point: Point) -> dict:
    """What the check form shows beside the checklist: last check, open hazards here."""
    last = db.session.scalar(
        select(Check).where(Check.point_id == point.id).order_by(Check.observed_at.desc()).limit(1)
    )
    open_hazards = db.session.scalars(
        select(Hazard).where(Hazard.point_id == point.id, Hazard.status.in_(OPEN_HAZARD_STATES))
        .order_by(Hazard.severity.desc(), Hazard.last_seen_at.desc())
    ).all()
    return {"point": point, "last": last, "open_hazards": open_hazards,
            "may_check": current_user.role in CHECKERS}


@bp.route("/p/<token>")
@login_required
def check_form(token):
    point = get_point(token)
    return render_template("scan/check.html", client_uuid=str(uuid.uuid4()), values={},
                           kept={}, errors={}, **form_context(point))


@bp.route("/p/<token>", methods=["POST"])
@roles_required(*CHECKERS)
def submit_check(token):
    point = get_point(token, move=False)
    form = request.form
    items = point.point_type.active_items
    values = {item.key: (form.get(f"result-{item.key}", ""), form.get(f"note-{item.key}", ""))
              for item in items}
    errors: dict[str, str] = {}
    client_uuid = valid_uuid(form.get("client_uuid", ""))
    if client_uuid is None:
        errors["form"] = _("This form is damaged (no submission id). Reload the page and try again.")
    observed_at, observed_error = parse_observed_at(form.get("observed_at"), point.campus.timezone,
                                                    require_offset=False)
    if observed_error:
        errors["form"] = observed_error
    stored, kept, declared = {}, {}, {}
    for item in items:
        stored[item.key], photo_error = photos.collect(
            form.getlist(f"kept-{item.key}"), photos.uploaded_files(request.files, f"photo-{item.key}"))
        kept[item.key] = [image.sha256 for image in stored[item.key]]
        declared[item.key], well_formed = photo_uploads.valid_hashes(form.getlist(f"photo_sha256-{item.key}"))
        if photo_error:
            errors[item.key] = photo_error
        elif not well_formed:
            errors[item.key] = _("A photo to follow must be named by its SHA-256 (64 hex digits).")
    counts = {key: len(stored[key]) + len(declared[key]) for key in stored}
    for key, message in validate_results(point, values, counts, require_photos=True).items():
        errors.setdefault(key, message)
    if errors:
        return render_check_errors(point, client_uuid, values, kept, errors, 422)
    submission = CheckSubmission(
        client_uuid=client_uuid, point=point, observed_at=observed_at,
        observed_raw=form.get("observed_at", "").strip(), results=values,
        photos={k: v for k, v in stored.items() if v}, declared={k: v for k, v in declared.items() if v},
    )
    try:
        outcome = record_check(current_user, submission)
    except Conflict as exc:
        errors["form"] = str(exc.message)
        return render_check_errors(point, str(uuid.uuid4()), values, kept, errors, 409)
    status = 201 if outcome.created else 200
    if wants_json():
        return jsonify(sent_json(outcome.check.client_uuid, outcome.created,
                                 url_for("outbox.check_photo", client_uuid=client_uuid),
                                 url_for("scan.check_sent", token=point.token, client_uuid=client_uuid))), status
    return render_template("scan/done.html", point=point, outcome=outcome), status


def sent_json(client_uuid: str, created: bool, photos_url: str, done_url: str) -> dict:
    """What the outbox is told after a submission arrived: the photos still to send, and where."""
    return {"client_uuid": client_uuid, "created": created, "missing_photos": photo_uploads.missing(client_uuid),
            "photos_url": photos_url, "done_url": done_url}


def render_check_errors(point, client_uuid, values, kept, errors, status):
    if wants_json():
        return refused_json(errors, status)
    # htmx ignores 4xx responses: it gets the same page with 200 so it can swap it in.
    return render_template("scan/check.html", client_uuid=client_uuid, values=values, kept=kept,
                           errors=errors, **form_context(point)), (200 if request.headers.get("HX-Request") else status)


def refused_json(errors: dict[str, str], status: int):
    """A refused submission for the outbox: the message to show and the error of each field."""
    message = errors.get("form") or _("Please correct the items marked below.")
    return jsonify({"error": message, "fields": {k: v for k, v in errors.items() if k != "form"}}), status


@bp.route("/p/<token>/sent/<client_uuid>")
@login_required
def check_sent(token, client_uuid):
    """The confirmation of a check the phone sent in the background (the outbox), as after a plain submit."""
    point = get_point(token, move=False)
    check = db.session.scalar(select(Check).where(Check.client_uuid == client_uuid, Check.point_id == point.id,
                                                  Check.user_id == current_user.id))
    if check is None:
        abort(404)
    return render_template("scan/done.html", point=point, outcome=Outcome(check, created=True))


@bp.route("/go")
@login_required
def go():
    """Open a point by its printed code, for a phone whose camera cannot scan."""
    code = request.args.get("code", "").strip()
    point = db.session.scalar(select(Point).where(Point.campus_id == current_user.campus_id,
                                                  Point.code == code, Point.active))
    if point is None:
        flash(_("No active point with code “%(code)s”.", code=code), "error")
        return redirect(url_for("home.index"))
    return redirect(url_for("scan.check_form", token=point.token))


def campus_points():
    return db.session.scalars(select(Point).where(Point.campus_id == current_user.campus_id, Point.active)
                              .order_by(Point.code)).all()


def campus_areas():
    return db.session.scalars(select(Area).where(Area.campus_id == current_user.campus_id)
                              .order_by(Area.name)).all()


@bp.route("/report", methods=["GET", "POST"])
@roles_required(*CHECKERS)
def report():
    """Report a hazard on the spot (随手拍), at a point or a described place."""
    values = request.form if request.method == "POST" else {
        "point": request.args.get("point", ""), "client_uuid": str(uuid.uuid4())}
    offline = request.method == "GET" and request.args.get("offline") == "1"
    errors: dict[str, str] = {}
    kept: list[str] = []
    status = 200
    if request.method == "POST":
        status = 422
        point = None
        # The campus the form was filled in: the outbox may send it after its user moved to another.
        campus_id = small_int(values.get("campus", ""))
        if not current_user.belongs_to(campus_id):
            campus_id = current_user.campus_id
        if values.get("label") and not values.get("point"):
            # Reported from the offline page of a label the phone's pack did not know.
            labelled = db.session.scalar(select(Point).where(Point.token == values["label"]))
            if labelled is not None and labelled.active and current_user.belongs_to(labelled.campus_id):
                values = dict(values, point=labelled.code)
                campus_id = labelled.campus_id
        if values.get("point"):
            point = db.session.scalar(select(Point).where(Point.campus_id == campus_id,
                                                          Point.code == values["point"], Point.active))
            if point is None:
                errors["point"] = _("Choose a point from the list.")
        area_id = None
        if values.get("area"):
            chosen = small_int(values["area"])
            area = db.session.get(Area, chosen) if chosen else None
            if area is None or area.campus_id != campus_id:
                errors["area"] = _("Choose an area from the list.")
            else:
                area_id = area.id
        client_uuid = valid_uuid(values.get("client_uuid", ""))
        if client_uuid is None:
            errors["form"] = _("This form is damaged (no submission id). Reload the page and try again.")
        stored, photo_error = photos.collect(request.form.getlist("kept"),
                                             photos.uploaded_files(request.files, "photo"))
        kept = [image.sha256 for image in stored]
        declared, well_formed = photo_uploads.valid_hashes(request.form.getlist("photo_sha256"))
        if photo_error:
            errors["photo"] = photo_error
        elif not well_formed:
            errors["photo"] = _("A photo to follow must be named by its SHA-256 (64 hex digits).")
        for key, message in validate_adhoc(values.get("category", ""), values.get("description", ""),
                                           values.get("location", ""), point if not errors.get("point") else None).items():
            errors.setdefault(key, message)
        if not errors:
            adhoc = AdhocReport(client_uuid=client_uuid, campus_id=campus_id, point=point,
                                area_id=area_id, location=values.get("location", ""),
                                category=values["category"], description=values["description"],
                                photos=stored, declared=declared)
            try:
                hazard, created = report_hazard(current_user, adhoc)
            except Conflict as exc:
                errors["form"] = str(exc.message)
                values = dict(values, client_uuid=str(uuid.uuid4()))
                status = 409
            else:
                if wants_json():
                    return jsonify(sent_json(hazard.client_uuid, created,
                                             url_for("outbox.report_photo", client_uuid=client_uuid),
                                             url_for("scan.report_sent", client_uuid=client_uuid))), (201 if created else 200)
                return render_template("scan/reported.html", hazard=hazard), (201 if created else 200)
        if wants_json():
            return refused_json(errors, status)
    if request.headers.get("HX-Request"):
        status = 200
    return render_template("scan/report.html", values=values, errors=errors, kept=kept, offline=offline,
                           points=campus_points(), areas=campus_areas()), status


@bp.route("/report/sent/<client_uuid>")
@roles_required(*CHECKERS)
def report_sent(client_uuid):
    """The confirmation of a report the phone sent in the background (the outbox)."""
    hazard = db.session.scalar(select(Hazard).where(Hazard.client_uuid == client_uuid,
                                                    Hazard.reported_by_id == current_user.id))
    if hazard is None:
        abort(404)
    return render_template("scan/reported.html", hazard=hazard)
