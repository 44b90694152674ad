"""Recording what guards submit: checks (exactly once per client_uuid), and hazards from failed items."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import (
    CATEGORIES,
    RESULTS,
    Check,
    CheckResult,
    Hazard,
    HazardEvent,
    Photo,
    Point,
    User,
    utcnow,
)
from .hazard_flow import notify_new_hazard
from .periods import in_calendar
from . import photo_uploads
from .photos import StoredImage

NOTE_MAX = 2000
LOCATION_MAX = 300  # Hazard.location
CLOCK_FUTURE_TOLERANCE = timedelta(minutes=5)


class Conflict(Exception):
    """The client_uuid was already used for different content."""

    def __init__(self, message, existing_id=None):
        super().__init__(str(message))
        self.message = message
        self.existing_id = existing_id


@dataclass
class CheckSubmission:
    """A validated check, ready to record; photos are already stored files, keyed by item."""

    client_uuid: str
    point: Point
    observed_at: datetime  # aware
    observed_raw: str
    results: dict[str, tuple[str, str]]  # item key -> (result, note)
    photos: dict[str, list[StoredImage]] = field(default_factory=dict)
    source: str = "form"
    # Photos to follow one by one (photo_uploads): item key -> SHA-256 of the phone's bytes.
    declared: dict[str, list[str]] = field(default_factory=dict)

    def content_hash(self) -> str:
        canonical = {
            "point": self.point.code,
            "observed_at": self.observed_raw,
            "results": sorted([k, r, n] for k, (r, n) in self.results.items()),
        }
        return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Outcome:
    check: Check
    created: bool
    opened: list[Hazard] = field(default_factory=list)
    seen_again: list[Hazard] = field(default_factory=list)


def valid_uuid(value: str) -> str | None:
    """The canonical form of a UUID string, or None if it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        return None


def parse_observed_at(raw: str | None, tz: str, require_offset: bool) -> tuple[datetime | None, str | None]:
    """(aware datetime, error): the device's time; empty means now when the offset is not required."""
    raw = (raw or "").strip()
    if not raw:
        if require_offset:
            return None, str(_l("Required: ISO 8601 time with UTC offset, e.g. 2026-03-02T07:30:00+08:00."))
        return datetime.now(ZoneInfo(tz)).replace(microsecond=0), None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None, str(_l("Not a valid ISO 8601 time, e.g. 2026-03-02T07:30:00+08:00."))
    if not in_calendar(value.date()):
        return None, str(_l("Not a valid ISO 8601 time, e.g. 2026-03-02T07:30:00+08:00."))
    if value.tzinfo is None:
        return None, str(_l("The time must include its UTC offset, e.g. +08:00."))
    return value, None


def clock_flag(observed_utc: datetime, received_utc: datetime, window_days: int) -> str | None:
    """"future" if the device's time is more than 5 minutes after arrival, "stale" if older than the window."""
    if observed_utc - received_utc > CLOCK_FUTURE_TOLERANCE:
        return "future"
    if received_utc - observed_utc > timedelta(days=window_days):
        return "stale"
    return None


def validate_results(point: Point, raw: dict[str, tuple[str, str]], photo_counts: dict[str, int],
                     require_photos: bool) -> dict[str, str]:
    """Errors per item key (or 'results') for the point's checklist; empty when all is well."""
    errors: dict[str, str] = {}
    items = {item.key: item for item in point.point_type.active_items}
    unknown = sorted(set(raw) - set(items))
    if unknown:
        errors["results"] = str(_l("Unknown checklist items: %(keys)s", keys=", ".join(unknown)))
    for key, item in items.items():
        result, note = raw.get(key, ("", ""))
        if result not in RESULTS:
            errors[key] = str(_l("Choose pass, fail or not applicable."))
        elif len(note) > NOTE_MAX:
            errors[key] = str(_l("The note is too long (at most %(n)d characters).", n=NOTE_MAX))
        elif result == "fail" and not note.strip():
            errors[key] = str(_l("Describe what is wrong."))
        elif result == "fail" and require_photos and item.photo_required and not photo_counts.get(key):
            errors[key] = str(_l("A photo is required for this item."))
    return errors


def record_check(user: User, sub: CheckSubmission) -> Outcome:
    """Record the check once: a resend with the same content returns it, different content raises Conflict."""
    digest = sub.content_hash()
    for attempt in range(3):
        existing = db.session.scalar(select(Check).where(Check.client_uuid == sub.client_uuid))
        if existing is not None:
            if existing.content_hash != digest or existing.point_id != sub.point.id:
                raise Conflict(
                    _l("This submission id was already used for a different check. Nothing was changed."),
                    existing.id,
                )
            _attach_missing_photos(user, existing, sub)
            db.session.commit()
            return Outcome(existing, created=False)
        try:
            outcome = _insert_check(user, sub, digest)
            db.session.commit()
            return outcome
        except IntegrityError:
            # A concurrent resend or a concurrent fail of the same item won the race: look again.
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _insert_check(user: User, sub: CheckSubmission, digest: str) -> Outcome:
    observed_utc = sub.observed_at.astimezone(timezone.utc).replace(tzinfo=None)
    offset = sub.observed_at.utcoffset() or timedelta(0)
    received_utc = utcnow()
    check = Check(
        client_uuid=sub.client_uuid,
        point=sub.point,
        user_id=user.id,
        observed_at=observed_utc,
        observed_offset=int(offset.total_seconds() // 60),
        received_at=received_utc,
        content_hash=digest,
        source=sub.source,
        # Flagged, never rewritten: a wrong phone clock or a late upload is the officer's call.
        clock_flag=clock_flag(observed_utc, received_utc, current_app.config["PATROL_OBSERVED_WINDOW_DAYS"]),
    )
    db.session.add(check)
    items = {item.key: item for item in sub.point.point_type.active_items}
    for key, (result, note) in sub.results.items():
        item = items[key]
        check.results.append(CheckResult(item_id=item.id, item_key=key, position=item.position,
                                         result=result, note=note.strip()))
    db.session.flush()
    outcome = Outcome(check, created=True)
    for key, (result, note) in sorted(sub.results.items(), key=lambda kv: items[kv[0]].position):
        hazard = None
        if result == "fail":
            hazard, opened = _hazard_for_fail(user, check, items[key], note.strip(), observed_utc)
            (outcome.opened if opened else outcome.seen_again).append(hazard)
        for stored in sub.photos.get(key, []):
            db.session.add(_photo_row(user, stored, check_id=check.id, item_key=key,
                                      hazard_id=hazard.id if hazard else None))
    photo_uploads.declare(user, check.client_uuid, sub.declared, set())
    db.session.flush()
    return outcome


def _hazard_for_fail(user, check, item, note, observed_utc) -> tuple[Hazard, bool]:
    """The open hazard for this point and item, seen again; or a new one in state reported."""
    point = check.point
    key = Hazard.make_open_key(point.id, item.key)
    hazard = db.session.scalar(select(Hazard).where(Hazard.open_key == key))
    if hazard is not None:
        hazard.times_seen += 1
        hazard.last_seen_at = max(hazard.last_seen_at, observed_utc)
        db.session.add(HazardEvent(hazard=hazard, actor_id=user.id, action="seen_again",
                                   from_status=hazard.status, to_status=hazard.status,
                                   note=note, check_id=check.id))
        return hazard, False
    hazard = Hazard(
        campus_id=point.campus_id, point_id=point.id, area_id=point.area_id,
        location=point.location, item_id=item.id, item_key=item.key,
        category=item.category, severity=item.severity, status="reported",
        description=note, first_seen_at=observed_utc, last_seen_at=observed_utc, times_seen=1,
        source_check_id=check.id, reported_by_id=user.id, open_key=key,
    )
    db.session.add(hazard)
    db.session.flush()
    db.session.add(HazardEvent(hazard=hazard, actor_id=user.id, action="reported",
                               from_status=None, to_status="reported", note=note, check_id=check.id))
    notify_new_hazard(hazard)
    return hazard, True


def _photo_row(user, stored: StoredImage, **attach) -> Photo:
    return Photo(sha256=stored.sha256, size=stored.size, width=stored.width, height=stored.height,
                 content_type="image/jpeg", uploaded_by_id=user.id, **attach)


def _attach_missing_photos(user, check: Check, sub: CheckSubmission) -> None:
    """A resend may carry photos the first attempt lost; keep each photo once per check."""
    held = {(p.item_key, p.sha256) for p in check.photos}
    hazards = {h.item_key: h.id for h in db.session.scalars(
        select(Hazard).join(Hazard.events).where(HazardEvent.check_id == check.id))}
    for key, stored_list in sub.photos.items():
        for stored in stored_list:
            if (key, stored.sha256) not in held:
                held.add((key, stored.sha256))
                db.session.add(_photo_row(user, stored, check_id=check.id, item_key=key,
                                          hazard_id=hazards.get(key)))
    photo_uploads.declare(user, check.client_uuid, sub.declared, photo_uploads.held_by_client_hash(check.photos))


@dataclass
class AdhocReport:
    """A hazard reported on the spot (随手拍), not from a checklist."""

    client_uuid: str
    campus_id: int
    point: Point | None
    area_id: int | None
    location: str
    category: str
    description: str
    photos: list[StoredImage] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)  # photos to follow (photo_uploads)

    def content_hash(self) -> str:
        canonical = [self.point.id if self.point else None, self.area_id, self.location.strip(),
                     self.category, self.description.strip()]
        return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()


def validate_adhoc(category: str, description: str, location: str, point: Point | None) -> dict[str, str]:
    errors = {}
    if category not in CATEGORIES:
        errors["category"] = str(_l("Choose a category."))
    if not description.strip():
        errors["description"] = str(_l("Describe the hazard."))
    elif len(description) > NOTE_MAX:
        errors["description"] = str(_l("The description is too long (at most %(n)d characters).", n=NOTE_MAX))
    if point is None and not location.strip():
        errors["location"] = str(_l("Choose a point or describe where it is."))
    elif len(location.strip()) > LOCATION_MAX:
        errors["location"] = str(_l("The place is too long (at most %(n)d characters).", n=LOCATION_MAX))
    return errors


def report_hazard(user: User, report: AdhocReport) -> tuple[Hazard, bool]:
    """Record an ad-hoc hazard once per client_uuid; (hazard, created)."""
    digest = report.content_hash()
    existing = db.session.scalar(select(Hazard).where(Hazard.client_uuid == report.client_uuid))
    if existing is not None:
        if existing.content_hash != digest:
            raise Conflict(_l("This submission id was already used for a different report. Nothing was changed."),
                           existing.id)
        held = {p.sha256 for p in existing.photos}
        for stored in report.photos:
            if stored.sha256 not in held:
                db.session.add(_photo_row(user, stored, hazard_id=existing.id))
        photo_uploads.declare(user, existing.client_uuid, {photo_uploads.REPORT_ITEM: report.declared},
                              photo_uploads.held_by_client_hash(existing.photos))
        db.session.commit()
        return existing, False
    now = utcnow()
    point = report.point
    hazard = Hazard(
        campus_id=report.campus_id,
        point_id=point.id if point else None,
        area_id=point.area_id if point else report.area_id,
        location=report.location.strip() or (point.location if point else ""),
        category=report.category, severity="general", status="reported",
        description=report.description.strip(), first_seen_at=now, last_seen_at=now,
        reported_by_id=user.id, client_uuid=report.client_uuid, content_hash=digest,
    )
    db.session.add(hazard)
    db.session.flush()
    db.session.add(HazardEvent(hazard=hazard, actor_id=user.id, action="reported",
                               to_status="reported", note=hazard.description))
    notify_new_hazard(hazard)
    for stored in report.photos:
        db.session.add(_photo_row(user, stored, hazard_id=hazard.id))
    photo_uploads.declare(user, hazard.client_uuid, {photo_uploads.REPORT_ITEM: report.declared}, set())
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return report_hazard(user, report)
    return hazard, True
