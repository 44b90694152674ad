"""Photos sent one by one after their check or report, so a weak link never loses or duplicates one.

The phone declares each photo of a submission by the SHA-256 of the bytes it will send (the submission
records a PendingPhoto per declaration), then sends each photo on its own, addressed by the submission's
client_uuid and that hash. An arrival is checked against its hash, re-encoded like any upload
(photos.store) and becomes a Photo that keeps both hashes; a photo already held is a no-op; and every
answer says which declared photos are still missing, so the phone knows when it is done.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import jsonify, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from . import photos
from .extensions import db
from .models import Check, Hazard, HazardEvent, PendingPhoto, Photo, User

REPORT_ITEM = ""  # the item_key of a report's photos


class UploadRefused(Exception):
    """A photo the server will not take; status and message for the client."""

    def __init__(self, status: int, message):
        super().__init__(str(message))
        self.status = status
        self.message = str(message)


@dataclass
class Arrival:
    created: bool  # False: the server already had this photo
    missing: list[str]


def valid_hashes(raw: list[str]) -> tuple[list[str], bool]:
    """The distinct well-formed SHA-256 hex strings of raw (lower-cased), and whether all were."""
    hashes = [h.strip().lower() for h in raw if h and h.strip()]
    good = [h for h in hashes if photos.SHA256_HEX.match(h)]
    return list(dict.fromkeys(good)), len(good) == len(hashes)


def declare(user: User, owner_uuid: str, declared: dict[str, list[str]], held: set[tuple[str, str]]) -> None:
    """Add a pending row per declared (item, hash) not held already nor pending; caller commits."""
    pending = {(p.item_key, p.client_sha256) for p in db.session.scalars(
        select(PendingPhoto).where(PendingPhoto.owner_uuid == owner_uuid))}
    for item_key, hashes in declared.items():
        for sha in hashes:
            if (item_key, sha) not in held and (item_key, sha) not in pending:
                pending.add((item_key, sha))
                db.session.add(PendingPhoto(owner_uuid=owner_uuid, item_key=item_key, client_sha256=sha,
                                            user_id=user.id))


def held_by_client_hash(photo_rows) -> set[tuple[str, str]]:
    return {(p.item_key or REPORT_ITEM, p.client_sha256) for p in photo_rows if p.client_sha256}


def missing(owner_uuid: str) -> list[str]:
    """The hashes of the photos declared for this submission that have not arrived, in declared order."""
    rows = db.session.scalars(select(PendingPhoto.client_sha256).where(PendingPhoto.owner_uuid == owner_uuid)
                              .order_by(PendingPhoto.id)).all()
    return list(dict.fromkeys(rows))


def missing_by_owner(owner_uuids: list[str]) -> dict[str, list[str]]:
    """missing() for many submissions in one query (for lists)."""
    result: dict[str, list[str]] = {}
    if owner_uuids:
        for owner, sha in db.session.execute(
                select(PendingPhoto.owner_uuid, PendingPhoto.client_sha256)
                .where(PendingPhoto.owner_uuid.in_(owner_uuids)).order_by(PendingPhoto.id)):
            if sha not in result.setdefault(owner, []):
                result[owner].append(sha)
    return result


def find_check(user: User, client_uuid: str) -> Check:
    check = db.session.scalar(select(Check).where(Check.client_uuid == client_uuid))
    if check is None or not user.belongs_to(check.point.campus_id):
        raise UploadRefused(404, _l("No check with this submission id has reached the server."))
    if check.user_id != user.id:
        raise UploadRefused(403, _l("Only the person who made this check can add its photos."))
    return check


def find_report(user: User, client_uuid: str) -> Hazard:
    hazard = db.session.scalar(select(Hazard).where(Hazard.client_uuid == client_uuid))
    if hazard is None or not user.belongs_to(hazard.campus_id):
        raise UploadRefused(404, _l("No report with this submission id has reached the server."))
    if hazard.reported_by_id != user.id:
        raise UploadRefused(403, _l("Only the person who made this report can add its photos."))
    return hazard


def receive(user: User, owner: Check | Hazard, sha256: str, data: bytes) -> Arrival:
    """Take one declared photo of a check or report; a photo held already is a no-op."""
    sha256 = sha256.lower()
    owner_uuid = owner.client_uuid
    rows = db.session.scalars(select(PendingPhoto).where(PendingPhoto.owner_uuid == owner_uuid,
                                                         PendingPhoto.client_sha256 == sha256)
                              .order_by(PendingPhoto.id)).all()
    if not rows:
        held = db.session.scalar(select(Photo.id).where(Photo.client_sha256 == sha256, _photos_of(owner)).limit(1))
        if held is None:
            raise UploadRefused(409, _l("This photo was not declared with its check; nothing was saved."))
        return Arrival(False, missing(owner_uuid))
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UploadRefused(422, _l("The photo arrived incomplete or damaged (its checksum does not match). It will be sent again."))
    try:
        stored = photos.store(data)
    except photos.PhotoNotSaved as exc:
        raise UploadRefused(503, str(exc)) from None  # the server's trouble: the phone tries again later
    except photos.PhotoError as exc:
        raise UploadRefused(422, str(exc)) from None
    hazards = _hazards_by_item(owner)
    for row in rows:
        # Only the request that removes the pending row adds the photo: a concurrent resend finds it gone.
        taken = db.session.execute(delete(PendingPhoto).where(PendingPhoto.id == row.id)).rowcount
        if not taken:
            db.session.rollback()
            return Arrival(False, missing(owner_uuid))
        db.session.add(Photo(
            sha256=stored.sha256, client_sha256=sha256, size=stored.size, width=stored.width,
            height=stored.height, content_type="image/jpeg", uploaded_by_id=user.id,
            check_id=owner.id if isinstance(owner, Check) else None,
            item_key=row.item_key or None,
            hazard_id=owner.id if isinstance(owner, Hazard) else hazards.get(row.item_key),
        ))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Arrival(False, missing(owner_uuid))
    return Arrival(True, missing(owner_uuid))


def _photos_of(owner: Check | Hazard):
    return Photo.check_id == owner.id if isinstance(owner, Check) else Photo.hazard_id == owner.id


def _hazards_by_item(owner: Check | Hazard) -> dict[str, int]:
    """For a check: the hazard each failed item opened or was seen again on, by item key."""
    if not isinstance(owner, Check):
        return {}
    return {key: hazard_id for key, hazard_id in db.session.execute(
        select(Hazard.item_key, Hazard.id).join(Hazard.events).where(HazardEvent.check_id == owner.id))}


def answer(user: User, find_owner, sha256: str | None):
    """The photo endpoints' answer (web and API): PUT one photo (201 stored, 200 held already), or GET
    the list still missing; refusals as JSON with their status."""
    try:
        owner = find_owner()
        if sha256 is None:
            return jsonify({"missing_photos": missing(owner.client_uuid)})
        arrival = receive(user, owner, sha256, request.get_data(cache=False))
    except UploadRefused as exc:
        return jsonify({"error": exc.message}), exc.status
    return jsonify({"created": arrival.created, "missing_photos": arrival.missing}), (201 if arrival.created else 200)
