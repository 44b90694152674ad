"""The audit log page: administrative changes, newest first, filtered by action, actor and campus-local days."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, or_, select

from ..audit import changes
from ..auth import roles_required
from ..extensions import db
from ..models import AuditEntry
from ..vocab import CADENCE, CATEGORY, ROLE, SEVERITY
from ..web import is_htmx
from .forms import LANGUAGES
from .settings_forms import WEBHOOK_FORMATS
from .views import bp

ENTRIES_PER_PAGE = 50
MAX_PAGE = 100_000  # a larger page number would overflow the database's OFFSET; it would be empty anyway
ACTION_PATTERN = re.compile(r"^[a-z_]+(\.[a-z_]+)?$")

# The filter's choices: a group (every action starting with it) followed by its actions.
ACTION_GROUPS = {
    "user": _l("Users"),
    "point": _l("Points"),
    "points": _l("Point imports"),
    "area": _l("Areas"),
    "type": _l("Point types"),
    "item": _l("Checklist items"),
    "settings": _l("Campus settings"),
    "campus": _l("Campuses"),
    "webhook": _l("Webhook messages"),
    "token": _l("API tokens"),
}
ACTIONS = {
    "user.create": _l("User created"),
    "user.update": _l("User edited"),
    "user.role": _l("Role changed"),
    "user.deactivate": _l("User deactivated"),
    "user.activate": _l("User reactivated"),
    "user.password_reset": _l("Password reset"),
    "user.campuses": _l("Campuses changed"),
    "campus.create": _l("Campus created"),
    "point.create": _l("Point created"),
    "point.update": _l("Point edited"),
    "point.retire": _l("Point retired"),
    "point.reactivate": _l("Point reactivated"),
    "point.token_regenerate": _l("New QR code for a point"),
    "points.import": _l("Points imported"),
    "area.create": _l("Area created"),
    "area.update": _l("Area edited"),
    "type.create": _l("Point type created"),
    "type.update": _l("Point type edited"),
    "item.create": _l("Checklist item added"),
    "item.update": _l("Checklist item edited"),
    "item.deactivate": _l("Checklist item removed"),
    "item.activate": _l("Checklist item restored"),
    "settings.update": _l("Campus settings changed"),
    "webhook.test": _l("Webhook test message"),
    "webhook.retry": _l("Webhook message sent again"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
}
FIELDS = {
    "code": _l("Code"),
    "name": _l("Name"),
    "location": _l("Location"),
    "area": _l("Area"),
    "type": _l("Type"),
    "cadence": _l("Cadence"),
    "per_period": _l("Times per period"),
    "active": _l("Active"),
    "building": _l("Building"),
    "floor": _l("Floor"),
    "zone": _l("Zone"),
    "responsible": _l("Responsible person"),
    "key": _l("Key"),
    "name_zh": _l("Name (Chinese)"),
    "name_en": _l("Name (English)"),
    "text_zh": _l("Text (Chinese)"),
    "text_en": _l("Text (English)"),
    "category": _l("Category"),
    "severity": _l("Severity if failed"),
    "photo_required": _l("A failed check needs a photo"),
    "position": _l("Position"),
    "username": _l("Username"),
    "campus_names": _l("Campuses"),
    "role": _l("Role"),
    "locale": _l("Language"),
    "timezone": _l("Timezone"),
    "deadline_days_general": _l("Deadline for general hazards (days)"),
    "deadline_days_major": _l("Deadline for major hazards (days)"),
    "weekend_rounds": _l("Daily rounds are due on Saturdays and Sundays too"),
    "webhook_url": _l("Webhook URL"),
    "webhook_format": _l("Message format"),
    "file": _l("File"),
    "created": _l("Points created"),
    "updated": _l("Points updated"),
    "user": _l("User"),
    "label": _l("Token label"),
    "status": _l("Status"),
    "attempts": _l("Attempts"),
}
# Stored codes shown in the user's words.
VALUES = {"role": ROLE, "cadence": CADENCE, "category": CATEGORY, "severity": SEVERITY,
          "webhook_format": WEBHOOK_FORMATS, "locale": dict(LANGUAGES)}


@dataclass
class AuditFilter:
    """Which entries the page shows; values that are not valid are ignored."""

    action: str = ""  # a group ("user") or one action ("user.role")
    actor: str = ""
    since: date | None = None  # campus-local days, both included
    until: date | None = None

    @classmethod
    def from_args(cls, args) -> AuditFilter:
        action = args.get("action", "").strip()
        actor = args.get("actor", "").strip()[:120]
        return cls(action=action if ACTION_PATTERN.match(action) and len(action) <= 40 else "",
                   actor=actor if actor.isprintable() else "",  # PostgreSQL refuses NUL in a text parameter
                   since=day(args.get("since", "")), until=day(args.get("until", "")))

    def as_args(self) -> dict:
        args = {"action": self.action, "actor": self.actor,
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else ""}
        return {k: v for k, v in args.items() if v}

    def statement(self, campus_id: int, tz: str) -> Select:
        """The campus's entries and those every campus shares (checklist templates), newest first."""
        stmt = visible(campus_id).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if self.action:
            escaped = self.action.replace("_", "\\_")
            stmt = stmt.where(or_(AuditEntry.action == self.action,
                                  AuditEntry.action.like(escaped + ".%", escape="\\")))
        if self.actor:
            stmt = stmt.where(AuditEntry.actor_name == self.actor)
        start = utc_start(self.since, tz) if self.since else None
        end = utc_start(self.until, tz, days_after=1) if self.until else None
        if start is not None:
            stmt = stmt.where(AuditEntry.at >= start)
        if end is not None:
            stmt = stmt.where(AuditEntry.at < end)
        return stmt


def day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def utc_start(local_day: date, tz: str, days_after: int = 0) -> datetime | None:
    """When a campus-local day (or one so many days after it) begins, as the naive UTC the table stores;
    None at the ends of the calendar (year 1, year 9999), where there is no bound to apply."""
    try:
        start = datetime.combine(local_day + timedelta(days=days_after), time(0), ZoneInfo(tz))
        return start.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:
        return None


def visible(campus_id: int) -> Select:
    return select(AuditEntry).where(or_(AuditEntry.campus_id == campus_id, AuditEntry.campus_id.is_(None)))


def actors(campus_id: int) -> list[str]:
    """Everyone who appears in the campus's log, for the actor filter."""
    stmt = visible(campus_id).with_only_columns(AuditEntry.actor_name).distinct().order_by(AuditEntry.actor_name)
    return list(db.session.scalars(stmt))


def shown(field: str, value) -> str:
    """A value from an entry's detail in the user's words."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    words = VALUES.get(field, {})
    return str(words.get(value, value)) if isinstance(value, str) else str(value)


def describe(entry: AuditEntry) -> list[tuple[str, str, str | None]]:
    """(field, value or old value, new value or None) for each line of an entry's detail."""
    lines = []
    created = entry.action.endswith(".create")
    for field, value in changes(entry).items():
        label = str(FIELDS.get(field, field))
        if isinstance(value, list) and len(value) == 2 and created and value[0] is None:
            lines.append((label, shown(field, value[1]), None))  # something new: just its values
        elif isinstance(value, list) and len(value) == 2:
            lines.append((label, shown(field, value[0]), shown(field, value[1])))
        else:
            lines.append((label, shown(field, value), None))
    return lines


@bp.route("/audit")
@roles_required("admin")
def audit():
    filters = AuditFilter.from_args(request.args)
    campus = current_user.campus
    tz = campus.timezone if campus else "Asia/Shanghai"
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    page = db.paginate(filters.statement(current_user.campus_id, tz), page=number, per_page=ENTRIES_PER_PAGE,
                       error_out=False)
    context = {"page": page, "filters": filters, "actions": ACTIONS, "describe": describe}
    if is_htmx():
        return render_template("admin/_audit.html", **context)
    return render_template("admin/audit.html", groups=ACTION_GROUPS, actors=actors(current_user.campus_id),
                           **context)
