"""JSON API v1 for integrations and the offline client; bearer tokens; documented in docs/api.md."""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone
from functools import wraps

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from .. import campuses, photo_uploads, photos
from ..check_list import CheckFilter
from ..extensions import db
from ..hazard_flow import ACTIONS, ActionInput, ActionRefused, allowed_actions, is_overdue, local_today, perform, refusal
from ..hazard_list import STATUS_FILTERS, HazardFilter
from ..models import ApiToken, Campus, Check, Hazard, HazardEvent, Point, User, utcnow
from ..recording import (
    CheckSubmission,
    Conflict,
    parse_observed_at,
    record_check,
    valid_uuid,
    validate_results,
)
from ..label_sheet import scan_url
from ..monthly import report_for
from ..periods import Period, in_calendar
from ..web import iso_utc, local_time, small_int

bp = Blueprint("api", __name__, url_prefix="/api/v1")

CHECKERS = ("guard", "officer", "admin")
READERS = ("officer", "admin", "viewer")
CHECKS_LIMIT_DEFAULT = 100
CHECKS_LIMIT_MAX = 1000


def error(status: int, message: str, fields: dict | None = None):
    body = {"error": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def token_required(*roles: str):
    """A valid, unrevoked bearer token of an active user with one of the roles."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _sep, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return error(401, _("A bearer token is required."))
            record = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token.strip())))
            if record is None or record.revoked_at is not None or not record.user.active:
                return error(401, _("This token is not valid."))
            record.mark_used()
            if roles and record.user.role not in roles:
                return error(403, _("This token's user may not do this."))
            g.api_user = record.user
            # Lists and point codes are of the user's current campus, or of ?campus=ID, another of theirs.
            g.campus_id = record.user.campus_id
            if "campus" in request.args:
                g.campus_id = small_int(request.args["campus"])
                if not record.user.belongs_to(g.campus_id):
                    return error(404, _("This token's user does not belong to that campus."))
            g.campus = db.session.get(Campus, g.campus_id) if g.campus_id else None
            return view(*args, **kwargs)

        return wrapped

    return decorator


def point_json(point: Point, with_items: bool = False) -> dict:
    data = {
        "code": point.code,
        "name": point.name,
        "location": point.location,
        "area": point.area.name,
        "type": point.point_type.key,
        "cadence": point.cadence,
        "per_period": point.per_period,
        "active": point.active,
        "scan_url": scan_url(point),
    }
    if with_items:
        data["items"] = [
            {"key": item.key, "text_zh": item.text_zh, "text_en": item.text_en, "category": item.category,
             "severity": item.severity, "photo_required": item.photo_required}
            for item in point.point_type.active_items
        ]
    return data


def check_json(check: Check, missing: list[str] | None = None) -> dict:
    observed = local_time(check.observed_at, "UTC").astimezone(timezone(timedelta(minutes=check.observed_offset)))
    return {
        "id": check.id,
        "client_uuid": check.client_uuid,
        "point": check.point.code,
        "user": check.user.username,
        "observed_at": observed.isoformat(),
        "received_at": iso_utc(check.received_at),
        "clock_flag": check.clock_flag,
        "results": [{"item": r.item_key, "result": r.result, "note": r.note} for r in check.results],
        "photos": len(check.photos),
        "missing_photos": photo_uploads.missing(check.client_uuid) if missing is None else missing,
    }


def hazard_json(hazard: Hazard, today=None) -> dict:
    today = today or local_today(hazard_campus_tz(hazard))
    return {
        "id": hazard.id,
        "point": hazard.point.code if hazard.point else None,
        "item": hazard.item_key,
        "location": hazard.location,
        "category": hazard.category,
        "severity": hazard.severity,
        "status": hazard.status,
        "escalated": hazard.escalated,
        "description": hazard.description,
        "first_seen_at": iso_utc(hazard.first_seen_at),
        "last_seen_at": iso_utc(hazard.last_seen_at),
        "times_seen": hazard.times_seen,
        "source_check": hazard.source_check.client_uuid if hazard.source_check else None,
        "assignee": hazard.assignee.username if hazard.assignee else None,
        "deadline": hazard.deadline.isoformat() if hazard.deadline else None,
        "overdue": is_overdue(hazard, today),
        "measures": hazard.measures,
        "extension_requested": ({"until": hazard.extension_until.isoformat(), "reason": hazard.extension_reason}
                                if hazard.extension_until else None),
        "rectified_by": hazard.rectified_by.username if hazard.rectified_by else None,
        "rectified_at": iso_utc(hazard.rectified_at),
        "verified_by": hazard.verified_by.username if hazard.verified_by else None,
        "verified_at": iso_utc(hazard.verified_at),
    }


def event_json(event: HazardEvent) -> dict:
    def day(value):
        return value.isoformat() if value else None

    return {
        "id": event.id,
        "action": event.action,
        "actor": event.actor.username if event.actor else None,
        "at": iso_utc(event.at),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
        "old_assignee": event.old_assignee.username if event.old_assignee else None,
        "new_assignee": event.new_assignee.username if event.new_assignee else None,
        "old_deadline": day(event.old_deadline),
        "new_deadline": day(event.new_deadline),
        "old_severity": event.old_severity,
        "new_severity": event.new_severity,
        "check": event.check.client_uuid if event.check else None,
        "photos": len(event.photos),
    }


def hazard_campus_tz(hazard: Hazard) -> str:
    campus = db.session.get(Campus, hazard.campus_id)
    return campus.timezone if campus else "Asia/Shanghai"


def campus_hazard(hazard_id: int) -> Hazard | None:
    hazard = db.session.get(Hazard, hazard_id)
    return hazard if hazard is not None and g.api_user.belongs_to(hazard.campus_id) else None


@bp.route("/hazards/<int:hazard_id>")
@token_required(*READERS, *CHECKERS, "repairer")
def hazard(hazard_id):
    found = campus_hazard(hazard_id)
    if found is None:
        return error(404, _("No such hazard."))
    return jsonify(dict(hazard_json(found), events=[event_json(e) for e in found.events],
                        allowed_actions=allowed_actions(found, g.api_user)))


@bp.route("/hazards/<int:hazard_id>/actions", methods=["POST"])
@token_required(*READERS, *CHECKERS, "repairer")
def hazard_action(hazard_id):
    """Take an action on a hazard under the same rules as the screens (403, 409, 422 as they say)."""
    found = campus_hazard(hazard_id)
    if found is None:
        return error(404, _("No such hazard."))
    if request.mimetype == "multipart/form-data":
        body, uploads = request.form, photos.uploaded_files(request.files, "photo")
        raw_photos = [upload.read() for upload in uploads]
    else:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, _("The body must be a JSON object."))
        raw_photos, problem = decode_photos(body.get("photos"))
        if problem:
            return error(422, _("Please correct the marked fields."), {"photos": problem})
    action = body.get("action")
    if not isinstance(action, str) or not action:
        return error(422, _("Please correct the marked fields."), {"action": ", ".join(ACTIONS)})
    data = dict(body.items()) if hasattr(body, "items") else {}
    assignee = data.get("assignee")
    if isinstance(assignee, str) and assignee and not assignee.isdigit():
        user = db.session.scalar(select(User).where(User.username == assignee,
                                                    campuses.members(found.campus_id)))
        data["assignee"] = user.id if user else -1
    problem = refusal(found, g.api_user, action)
    if problem:
        return error(problem.status, problem.message, problem.fields)
    stored = []
    for raw in raw_photos:
        try:
            stored.append(photos.store(raw))
        except photos.PhotoError as exc:
            return error(422, _("Please correct the marked fields."), {"photo": str(exc)})
    try:
        event = perform(found, g.api_user, action, ActionInput.from_mapping(data, photos=stored))
    except ActionRefused as exc:
        return error(exc.status, exc.message, exc.fields)
    return jsonify({"hazard": hazard_json(found), "event": event_json(event)})


def decode_photos(raw) -> tuple[list[bytes], str | None]:
    """JSON photos are base64 strings; a bad one is a field error, not a 500."""
    if raw in (None, []):
        return [], None
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        return [], _("A list of base64-encoded images.")
    try:
        return [base64.b64decode(item, validate=True) for item in raw], None
    except (binascii.Error, ValueError):
        return [], _("A list of base64-encoded images.")


def campus_point(code: str) -> Point | None:
    return db.session.scalar(select(Point).where(Point.campus_id == g.campus_id, Point.code == code))


@bp.route("/points")
@token_required()
def points():
    rows = db.session.scalars(select(Point).where(Point.campus_id == g.campus_id, Point.active)
                              .order_by(Point.code)).all()
    return jsonify({"points": [point_json(p) for p in rows]})


@bp.route("/points/<code>")
@token_required()
def point(code):
    found = campus_point(code)
    if found is None:
        return error(404, _("No point with this code."))
    return jsonify(point_json(found, with_items=True))


@bp.route("/checks", methods=["POST"])
@token_required(*CHECKERS)
def create_check():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, _("The body must be a JSON object."))
    fields: dict[str, str] = {}
    client_uuid = valid_uuid(body.get("client_uuid", ""))
    if client_uuid is None:
        fields["client_uuid"] = _("Required: a UUID made on the device when the form was opened.")
    found = campus_point(body["point"]) if isinstance(body.get("point"), str) else None
    if found is None or not found.active:
        fields["point"] = _("No active point with this code.")
    observed_raw = body.get("observed_at") if isinstance(body.get("observed_at"), str) else ""
    tz = found.campus.timezone if found else "UTC"
    observed_at, observed_error = parse_observed_at(observed_raw, tz, require_offset=True)
    if observed_error:
        fields["observed_at"] = observed_error
    results, results_error = parse_results(body.get("results"))
    if results_error:
        fields["results"] = results_error
    declared, photos_error = parse_declared_photos(body.get("photos"), results)
    if photos_error:
        fields["photos"] = photos_error
    if fields:
        return error(422, _("The check is not valid."), fields)
    item_errors = validate_results(found, results, {}, require_photos=False)
    if item_errors:
        return error(422, _("The check is not valid."),
                     {("results" if k == "results" else f"results.{k}"): v for k, v in item_errors.items()})
    submission = CheckSubmission(client_uuid=client_uuid, point=found, observed_at=observed_at,
                                 observed_raw=observed_raw.strip(), results=results, source="api",
                                 declared=declared)
    try:
        outcome = record_check(g.api_user, submission)
    except Conflict as exc:
        return error(409, str(exc.message))
    body = {
        "check": check_json(outcome.check),
        "hazards_opened": [hazard_json(h) for h in outcome.opened],
        "hazards_seen_again": [hazard_json(h) for h in outcome.seen_again],
        "created": outcome.created,
    }
    if not outcome.created:
        hazards = db.session.scalars(select(Hazard).where(
            Hazard.events.any(HazardEvent.check_id == outcome.check.id)).order_by(Hazard.id)).all()
        body["hazards_opened"] = [hazard_json(h) for h in hazards if h.source_check_id == outcome.check.id]
        body["hazards_seen_again"] = [hazard_json(h) for h in hazards if h.source_check_id != outcome.check.id]
    return jsonify(body), (201 if outcome.created else 200)


@bp.route("/checks")
@token_required(*READERS, "guard")
def checks():
    """What arrived: the campus's checks, newest received first; a guard's token lists only that guard's."""
    fields: dict[str, str] = {}
    filters = CheckFilter(user_id=g.api_user.id if g.api_user.role == "guard" else None)
    if request.args.get("point"):
        found = campus_point(request.args["point"])
        if found is None:
            fields["point"] = _("No point with this code.")
        else:
            filters.point_id = found.id
    if request.args.get("since"):
        since, problem = parse_observed_at(request.args["since"], "UTC", require_offset=True)
        if problem:
            fields["since"] = problem
        else:
            filters.since = since.astimezone(timezone.utc).replace(tzinfo=None)
    raw_limit = request.args.get("limit", "")
    limit = small_int(raw_limit) or 0
    if raw_limit and not 1 <= limit <= CHECKS_LIMIT_MAX:
        fields["limit"] = _("A whole number from 1 to %(n)d.", n=CHECKS_LIMIT_MAX)
    if fields:
        return error(422, _("Please correct the marked fields."), fields)
    limit = limit or CHECKS_LIMIT_DEFAULT
    # One more than asked tells the client that older checks were left out.
    rows = db.session.scalars(filters.statement(g.campus_id).limit(limit + 1)).all()
    missing = photo_uploads.missing_by_owner([c.client_uuid for c in rows[:limit]])
    return jsonify({"checks": [check_json(c, missing.get(c.client_uuid, [])) for c in rows[:limit]],
                    "more": len(rows) > limit,
                    "generated_at": iso_utc(utcnow())})


@bp.route("/checks/<client_uuid>")
@token_required(*READERS, "guard")
def check(client_uuid):
    """One check by its client_uuid, with the photos the server still lacks (a guard: only their own)."""
    found = db.session.scalar(select(Check).where(Check.client_uuid == client_uuid))
    if (found is None or not g.api_user.belongs_to(found.point.campus_id)
            or (g.api_user.role == "guard" and found.user_id != g.api_user.id)):
        return error(404, _("No check with this submission id has reached the server."))
    return jsonify(check_json(found))


@bp.route("/checks/<client_uuid>/photos/")
@bp.route("/checks/<client_uuid>/photos/<sha256>", methods=["PUT"])
@token_required(*CHECKERS)
def check_photo(client_uuid, sha256=None):
    """PUT one photo declared with the check (the body is the image bytes); GET the ones still missing."""
    return photo_uploads.answer(g.api_user, lambda: photo_uploads.find_check(g.api_user, client_uuid), sha256)


def parse_declared_photos(raw, results) -> tuple[dict[str, list[str]], str | None]:
    """{item key: [sha256, ...]} from the API's list of {item, sha256}, or an error message."""
    if raw in (None, []):
        return {}, None
    problem = _("A list of {item, sha256}: the item's key and the SHA-256 of the photo's bytes.")
    if not isinstance(raw, list):
        return {}, problem
    declared: dict[str, list[str]] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("item"), str) \
                or not isinstance(entry.get("sha256"), str) or entry["item"] not in results:
            return {}, problem
        hashes, well_formed = photo_uploads.valid_hashes([entry["sha256"]])
        if not well_formed or not hashes:
            return {}, problem
        declared.setdefault(entry["item"], []).extend(h for h in hashes if h not in declared.get(entry["item"], []))
    return declared, None


def parse_results(raw) -> tuple[dict[str, tuple[str, str]], str | None]:
    """{item key: (result, note)} from the API's list of results, or an error message."""
    if not isinstance(raw, list) or not raw:
        return {}, _("Required: a list of {item, result, note}.")
    results: dict[str, tuple[str, str]] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("item"), str):
            return {}, _("Each result needs an item key.")
        note = entry.get("note") or ""
        if not isinstance(note, str) or not isinstance(entry.get("result", ""), str):
            return {}, _("Result and note must be strings.")
        if entry["item"] in results:
            return {}, _("Item %(key)s appears twice.", key=entry["item"])
        results[entry["item"]] = (entry.get("result", ""), note)
    return results, None


@bp.route("/hazards")
@token_required(*READERS, *CHECKERS, "repairer")
def hazards():
    filters = HazardFilter.from_args(request.args)
    if request.args.get("status") and request.args["status"] not in STATUS_FILTERS:
        return error(422, _("Unknown status."), {"status": ", ".join(STATUS_FILTERS)})
    if request.args.get("since"):
        try:
            since = datetime.fromisoformat(request.args["since"])
        except ValueError:
            return error(422, _("Not a valid ISO 8601 time, e.g. 2026-03-02T07:30:00+08:00."),
                         {"since": request.args["since"]})
        if since.tzinfo is None:
            return error(422, _("The time must include its UTC offset, e.g. +08:00."), {"since": request.args["since"]})
        if not in_calendar(since.date()):
            return error(422, _("Not a valid ISO 8601 time, e.g. 2026-03-02T07:30:00+08:00."),
                         {"since": request.args["since"]})
        filters.since = since.astimezone(timezone.utc).replace(tzinfo=None)
    limit = min(small_int(request.args.get("limit", "")) or 500, 5000)
    rows = db.session.scalars(filters.statement(g.campus_id).limit(limit)).all()
    today = local_today(g.campus.timezone) if g.campus else None
    return jsonify({"hazards": [hazard_json(h, today) for h in rows], "generated_at": iso_utc(utcnow())})


@bp.route("/reports/monthly")
@token_required(*READERS)
def monthly_report():
    """The campus's monthly report (docs/report-schema.md): frozen if the month is closed, else a draft."""
    try:
        month = Period.parse_month(request.args.get("month", "").strip())
    except ValueError:
        return error(422, _("Please correct the marked fields."),
                     {"month": _("Required: a month as YYYY-MM, e.g. 2026-10.")})
    if g.campus is None:
        return error(404, _("This token's user has no campus."))
    return jsonify(report_for(g.campus, month))


@bp.errorhandler(404)
def api_not_found(_error):
    return error(404, _("Not found."))

