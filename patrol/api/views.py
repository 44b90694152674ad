"""JSON API v1 for integrations and the offline client; bearer tokens; documented in docs/api.md."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import wraps

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..hazard_list import STATUS_FILTERS, HazardFilter
from ..models import ApiToken, Check, Hazard, HazardEvent, Point, utcnow
from ..recording import (
    CheckSubmission,
    Conflict,
    parse_observed_at,
    record_check,
    valid_uuid,
    validate_results,
)
from ..label_sheet import scan_url
from ..web import local_time

bp = Blueprint("api", __name__, url_prefix="/api/v1")

CHECKERS = ("guard", "officer", "admin")
READERS = ("officer", "admin", "viewer")


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
            if roles and record.user.role not in roles:
                return error(403, _("This token's user may not do this."))
            g.api_user = record.user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z") if value else None


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


def check_json(check: Check) -> dict:
    observed = local_time(check.observed_at, "UTC").astimezone(timezone(timedelta(minutes=check.observed_offset)))
    return {
        "id": check.id,
        "client_uuid": check.client_uuid,
        "point": check.point.code,
        "user": check.user.username,
        "observed_at": observed.isoformat(),
        "received_at": iso(check.received_at),
        "results": [{"item": r.item_key, "result": r.result, "note": r.note} for r in check.results],
        "photos": len(check.photos),
    }


def hazard_json(hazard: Hazard) -> dict:
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
        "first_seen_at": iso(hazard.first_seen_at),
        "last_seen_at": iso(hazard.last_seen_at),
        "times_seen": hazard.times_seen,
        "source_check": hazard.source_check.client_uuid if hazard.source_check else None,
    }


def campus_point(code: str) -> Point | None:
    return db.session.scalar(select(Point).where(Point.campus_id == g.api_user.campus_id, Point.code == code))


@bp.route("/points")
@token_required()
def points():
    rows = db.session.scalars(select(Point).where(Point.campus_id == g.api_user.campus_id, Point.active)
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
    if fields:
        return error(422, _("The check is not valid."), fields)
    item_errors = validate_results(found, results, {}, require_photos=False)
    if item_errors:
        return error(422, _("The check is not valid."),
                     {("results" if k == "results" else f"results.{k}"): v for k, v in item_errors.items()})
    submission = CheckSubmission(client_uuid=client_uuid, point=found, observed_at=observed_at,
                                 observed_raw=observed_raw.strip(), results=results, source="api")
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
        filters.since = since.astimezone(timezone.utc).replace(tzinfo=None)
    limit = min(int(request.args.get("limit", "500")) if request.args.get("limit", "").isdigit() else 500, 5000)
    rows = db.session.scalars(filters.statement(g.api_user.campus_id).limit(limit)).all()
    return jsonify({"hazards": [hazard_json(h) for h in rows], "generated_at": iso(utcnow())})


@bp.errorhandler(404)
def api_not_found(_error):
    return error(404, _("Not found."))

