"""The hazard loop (发现 → 上报 → 处理 → 验收): who may move a hazard where, and what it records.

One source of truth for the screens, the API and the tests: `perform` validates and applies an
action, writes its HazardEvent and notifications; `allowed_actions` says which buttons to show;
`is_overdue` / `overdue_clause` say what is overdue.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from . import campuses
from .extensions import db
from .models import (
    CATEGORIES,
    OPEN_HAZARD_STATES,
    Campus,
    SEVERITIES,
    Hazard,
    HazardEvent,
    Notification,
    Photo,
    User,
    utcnow,
)
from .photos import StoredImage
from .web import ID_MAX, small_int

MANAGERS = ("officer", "admin")
WORKERS = ("guard", "repairer", "officer", "admin")  # anyone who can be assigned a fix
NOTE_MAX = 2000

# action -> (roles that may ever take it, states it may be taken from)
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "assign": (MANAGERS, ("reported", "assigned")),
    "dismiss": (MANAGERS, ("reported", "assigned")),
    "rectify": (WORKERS, ("assigned",)),
    "request_extension": (WORKERS, ("assigned",)),
    "approve_extension": (MANAGERS, ("assigned",)),
    "refuse_extension": (MANAGERS, ("assigned",)),
    "verify": (MANAGERS, ("rectified",)),
    "reject": (MANAGERS, ("rectified",)),
    "escalate": (MANAGERS, OPEN_HAZARD_STATES),
    "deescalate": (MANAGERS, OPEN_HAZARD_STATES),
}


class ActionRefused(Exception):
    """The action cannot be taken: status 403 (never for this role), 409 (not now / not you) or 422 (bad input)."""

    def __init__(self, status: int, message, fields: dict | None = None):
        super().__init__(str(message))
        self.status = status
        self.message = str(message)
        self.fields = fields or {}


@dataclass
class ActionInput:
    """What the user sent with an action; which fields matter depends on the action."""

    note: str = ""
    assignee_id: int | None = None
    deadline: date | None = None
    severity: str = ""
    category: str = ""
    measures: str = ""
    photos: list[StoredImage] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # parse errors from the form or JSON

    @classmethod
    def from_mapping(cls, data, photos: list[StoredImage] | None = None) -> ActionInput:
        """Read form or JSON values; unparseable ones become field errors, checked by perform()."""
        values = cls(note=str(data.get("note") or "").strip(), severity=str(data.get("severity") or ""),
                     category=str(data.get("category") or ""), measures=str(data.get("measures") or "").strip(),
                     photos=photos or [])
        raw_assignee = data.get("assignee") or data.get("assignee_id")
        if raw_assignee not in (None, ""):
            exact = isinstance(raw_assignee, int) and not isinstance(raw_assignee, bool) and 0 < raw_assignee <= ID_MAX
            values.assignee_id = raw_assignee if exact else small_int(str(raw_assignee))
            if values.assignee_id is None:
                values.errors["assignee"] = str(_l("Choose a person from the list."))
        raw_deadline = data.get("deadline")
        if raw_deadline not in (None, ""):
            try:
                values.deadline = date.fromisoformat(str(raw_deadline))
            except ValueError:
                values.errors["deadline"] = str(_l("Enter a date like 2026-03-31."))
        return values


def local_today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def is_overdue(hazard: Hazard, today: date) -> bool:
    """Past its deadline day (campus local) and neither verified nor dismissed."""
    return hazard.status in OPEN_HAZARD_STATES and hazard.deadline is not None and hazard.deadline < today


def overdue_clause(today: date):
    """The same rule as is_overdue, as an SQL condition."""
    return and_(Hazard.status.in_(OPEN_HAZARD_STATES), Hazard.deadline.is_not(None), Hazard.deadline < today)


def default_deadline(hazard: Hazard, severity: str, today: date) -> date:
    """Today plus the campus's default days for this severity (小修不隔夜，大修不隔天 is the spirit)."""
    campus = db.session.get(Campus, hazard.campus_id)
    days = campus.deadline_days_major if severity == "major" else campus.deadline_days_general
    return today + timedelta(days=days)


def refusal(hazard: Hazard, user: User, action: str) -> ActionRefused | None:
    """Why this user may not take this action on this hazard now, or None if they may."""
    if action not in ACTIONS:
        return ActionRefused(422, _l("Unknown action."), {"action": ", ".join(ACTIONS)})
    roles, states = ACTIONS[action]
    if user.role not in roles:
        return ActionRefused(403, _l("Your role may not do this."))
    if hazard.status not in states:
        return ActionRefused(409, _l("Not possible while the hazard is “%(status)s”.", status=status_label(hazard.status)))
    if action in ("rectify", "request_extension") and user.role not in MANAGERS and hazard.assignee_id != user.id:
        return ActionRefused(409, _l("Only the person it is assigned to can do this."))
    if action == "request_extension":
        if hazard.assignee_id != user.id:
            return ActionRefused(409, _l("Only the person it is assigned to can ask for more time."))
        if hazard.extension_until is not None:
            return ActionRefused(409, _l("An extension request is already waiting for a decision."))
    if action in ("approve_extension", "refuse_extension") and hazard.extension_until is None:
        return ActionRefused(409, _l("There is no extension request to decide."))
    if action == "verify" and hazard.rectified_by_id == user.id:
        return ActionRefused(409, _l("Someone other than the person who fixed it must verify it."))
    if action == "escalate" and hazard.escalated:
        return ActionRefused(409, _l("This hazard is already escalated."))
    if action == "deescalate" and not hazard.escalated:
        return ActionRefused(409, _l("This hazard is not escalated."))
    return None


def allowed_actions(hazard: Hazard, user: User) -> list[str]:
    return [action for action in ACTIONS if refusal(hazard, user, action) is None]


def status_label(status: str) -> str:
    from .vocab import STATUS

    return str(STATUS.get(status, status))


def _require_note(values: ActionInput, errors: dict, message) -> None:
    if not values.note:
        errors["note"] = str(message)


def validate(hazard: Hazard, user: User, action: str, values: ActionInput, today: date) -> dict[str, str]:
    """Field errors for this action's input (after the refusal checks passed)."""
    errors = dict(values.errors)
    if len(values.note) > NOTE_MAX:
        errors["note"] = str(_l("At most %(n)d characters.", n=NOTE_MAX))
    if action == "assign":
        assignee = db.session.get(User, values.assignee_id) if values.assignee_id else None
        if assignee is None or not assignee.active or not assignee.belongs_to(hazard.campus_id) \
                or assignee.role not in WORKERS:
            errors.setdefault("assignee", str(_l("Choose a person from the list.")))
        if values.severity and values.severity not in SEVERITIES:
            errors["severity"] = str(_l("Choose general or major."))
        if values.category and values.category not in CATEGORIES:
            errors["category"] = str(_l("Choose a category."))
        if values.deadline is not None and values.deadline < today:
            errors.setdefault("deadline", str(_l("The deadline cannot be in the past.")))
    elif action in ("dismiss", "escalate", "deescalate", "refuse_extension"):
        _require_note(values, errors, _l("Give a reason."))
    elif action == "reject":
        _require_note(values, errors, _l("Say what is still wrong."))
        if values.deadline is not None and values.deadline < today:
            errors.setdefault("deadline", str(_l("The deadline cannot be in the past.")))
    elif action == "rectify":
        _require_note(values, errors, _l("Describe what was done."))
        if not values.photos:
            errors["photo"] = str(_l("Add a photo of the fixed item."))
    elif action == "request_extension":
        _require_note(values, errors, _l("Give a reason."))
        if values.deadline is None:
            errors.setdefault("deadline", str(_l("Choose the new date.")))
        elif hazard.deadline is not None and values.deadline <= hazard.deadline:
            errors.setdefault("deadline", str(_l("The new date must be after the current deadline.")))
        elif values.deadline < today:
            errors.setdefault("deadline", str(_l("The deadline cannot be in the past.")))
    return errors


def perform(hazard: Hazard, user: User, action: str, values: ActionInput, today: date | None = None) -> HazardEvent:
    """Apply an action to the hazard and record it; raises ActionRefused. Commits."""
    today = today or local_today(_campus_tz(hazard))
    problem = refusal(hazard, user, action)
    if problem:
        raise problem
    errors = validate(hazard, user, action, values, today)
    if errors:
        raise ActionRefused(422, _l("Please correct the marked fields."), errors)
    # Not attached to the hazard until the end: queries below must not autoflush a half-made event.
    event = HazardEvent(hazard_id=hazard.id, actor_id=user.id, action=action, from_status=hazard.status,
                        note=values.note, old_deadline=hazard.deadline, old_assignee_id=hazard.assignee_id,
                        old_severity=hazard.severity)
    now = utcnow()
    notify: list[tuple[int, str]] = []
    if action == "assign":
        severity = values.severity or hazard.severity
        hazard.severity = severity
        hazard.category = values.category or hazard.category
        hazard.deadline = values.deadline or default_deadline(hazard, severity, today)
        if values.measures:
            hazard.measures = values.measures
        if hazard.assignee_id != values.assignee_id:
            notify.append((values.assignee_id, "assigned"))
        hazard.assignee_id = values.assignee_id
        hazard.status = "assigned"
    elif action == "dismiss":
        _close(hazard, "dismissed", now)
    elif action == "rectify":
        hazard.status, hazard.rectified_by_id, hazard.rectified_at = "rectified", user.id, now
        hazard.extension_until, hazard.extension_reason = None, ""
        notify += [(officer, "rectified") for officer in _officers(hazard, exclude=user.id)]
    elif action == "request_extension":
        hazard.extension_until, hazard.extension_reason = values.deadline, values.note
        event.new_deadline = values.deadline
        notify += [(officer, "extension_requested") for officer in _officers(hazard, exclude=user.id)]
    elif action == "approve_extension":
        hazard.deadline = hazard.extension_until
        hazard.extension_until, hazard.extension_reason = None, ""
        hazard.overdue_notified_at = None
        notify.append((hazard.assignee_id, "extension_approved"))
    elif action == "refuse_extension":
        hazard.extension_until, hazard.extension_reason = None, ""
        notify.append((hazard.assignee_id, "extension_refused"))
    elif action == "verify":
        hazard.verified_by_id, hazard.verified_at = user.id, now
        _close(hazard, "verified", now)
        if hazard.rectified_by_id:
            notify.append((hazard.rectified_by_id, "verified"))
    elif action == "reject":
        hazard.status = "assigned"
        if values.deadline:
            hazard.deadline = values.deadline
            hazard.overdue_notified_at = None
        notify.append((hazard.assignee_id, "rejected"))
    elif action == "escalate":
        hazard.escalated = True
    elif action == "deescalate":
        hazard.escalated = False
    event.to_status = hazard.status
    if action != "request_extension":
        event.new_deadline = hazard.deadline
    event.new_assignee_id = hazard.assignee_id
    event.new_severity = hazard.severity
    db.session.add(event)
    db.session.flush()
    for stored in values.photos:
        db.session.add(Photo(sha256=stored.sha256, size=stored.size, width=stored.width, height=stored.height,
                             content_type="image/jpeg", uploaded_by_id=user.id, hazard_id=hazard.id,
                             event_id=event.id, kind="after" if action == "rectify" else "before"))
    for user_id, kind in notify:
        if user_id and user_id != user.id:
            db.session.add(Notification(user_id=user_id, hazard_id=hazard.id, kind=kind, note=values.note))
    from . import webhooks

    if action == "reject":
        webhooks.enqueue(hazard, "rejected", note=values.note)
    db.session.commit()
    return event


def _close(hazard: Hazard, status: str, now: datetime) -> None:
    hazard.status, hazard.open_key, hazard.closed_at = status, None, now
    hazard.extension_until, hazard.extension_reason = None, ""


def _officers(hazard: Hazard, exclude: int | None = None) -> list[int]:
    ids = db.session.scalars(select(User.id).where(campuses.members(hazard.campus_id), User.role == "officer",
                                                   User.active)).all()
    return [i for i in ids if i != exclude]


def _campus_tz(hazard: Hazard) -> str:
    campus = db.session.get(Campus, hazard.campus_id)
    return campus.timezone if campus else "Asia/Shanghai"


def notify_new_hazard(hazard: Hazard) -> None:
    """A new hazard reaches the officers in-app; a major one also goes out by webhook. Not committed."""
    from . import webhooks

    for officer in _officers(hazard, exclude=hazard.reported_by_id):
        db.session.add(Notification(user_id=officer, hazard_id=hazard.id, kind="reported", note=hazard.description))
    if hazard.severity == "major":
        webhooks.enqueue(hazard, "major_reported", note=hazard.description)


def mark_newly_overdue(campus_id: int, today: date) -> list[Hazard]:
    """Hazards that went overdue since the last look: notify the assignee and officers once. Commits."""
    found = db.session.scalars(select(Hazard).where(Hazard.campus_id == campus_id, overdue_clause(today),
                                                    Hazard.overdue_notified_at.is_(None))).all()
    from . import webhooks

    for hazard in found:
        hazard.overdue_notified_at = utcnow()
        targets = set(_officers(hazard)) | ({hazard.assignee_id} if hazard.assignee_id else set())
        for user_id in targets:
            db.session.add(Notification(user_id=user_id, hazard_id=hazard.id, kind="overdue"))
        webhooks.enqueue(hazard, "overdue")
    db.session.commit()
    return found
