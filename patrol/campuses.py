"""Which campuses a user belongs to, the one they are working in, and moving between them.

A user belongs to one or more campuses (`user_campus`) and works in one of them at a time
(`User.campus_id`): every page, list and report shows that campus only. Someone who belongs to
several (a district office, a repairer serving two sites) switches in the header; opening a label or
a hazard of another of their campuses moves them there. Nobody ever sees a campus they do not belong to.
"""
from __future__ import annotations

from sqlalchemy import select

from .audit import diff, record, snapshot
from .extensions import db
from .models import Campus, User, user_campus

CAMPUS_FIELDS = ("name", "timezone", "weekend_rounds")  # what the log keeps of a new campus


def members(campus_id: int):
    """SQL condition: the user belongs to the campus."""
    return User.id.in_(select(user_campus.c.user_id).where(user_campus.c.campus_id == campus_id))


def enter(user: User, campus_id: int | None) -> bool:
    """Work in this campus from now on if the user belongs to it; False (nothing changed) otherwise. Commits."""
    if campus_id is not None and campus_id == user.campus_id:
        return True
    if not user.belongs_to(campus_id):
        return False
    user.campus_id = campus_id
    db.session.commit()
    return True


def set_campuses(user: User, campuses: list[Campus]) -> None:
    """Give the user exactly these campuses; if the one they work in is gone, they move to the first left."""
    user.campuses = sorted(campuses, key=lambda c: (c.name, c.id))
    if user.campus_id not in {c.id for c in campuses}:
        user.campus = user.campuses[0] if user.campuses else None


def name_taken(name: str, except_id: int | None = None) -> bool:
    """Campus names are unique: the district roll-up, `--campus NAME` and people's campus lists go by name."""
    taken = select(Campus.id).where(Campus.name == name)
    if except_id is not None:
        taken = taken.where(Campus.id != except_id)
    return db.session.scalar(taken.limit(1)) is not None


def create(name: str, timezone: str, weekend_rounds: bool) -> Campus:
    """A new campus, audited as campus.create (the caller commits)."""
    made = Campus(name=name, timezone=timezone, weekend_rounds=weekend_rounds)
    db.session.add(made)
    db.session.flush()
    record("campus.create", made, made.name, diff({}, snapshot(made, CAMPUS_FIELDS)), campus_id=made.id)
    return made


def by_id_or_name(text: str) -> Campus | None:
    """A campus named on the command line: its id or its exact name."""
    text = (text or "").strip()
    if text.isdecimal() and len(text) <= 10:
        found = db.session.get(Campus, int(text))
        if found is not None:
            return found
    return db.session.scalar(select(Campus).where(Campus.name == text).order_by(Campus.id).limit(1))
