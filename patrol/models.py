"""The tables: campuses, areas, points and their checklists, users, checks, photos, hazards."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta, timezone

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db

ROLES = ("guard", "repairer", "officer", "admin", "viewer")
CADENCES = ("daily", "weekly", "monthly")
RESULTS = ("pass", "fail", "na")
SEVERITIES = ("general", "major")
CATEGORIES = ("fire", "electrical", "building", "facilities", "food", "security", "other")
HAZARD_STATES = ("reported", "assigned", "rectified", "verified", "dismissed")
OPEN_HAZARD_STATES = ("reported", "assigned", "rectified")
LOCALES = ("zh", "en")


def utcnow() -> datetime:
    """Now in UTC, naive: every timestamp column stores UTC without an offset."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_token() -> str:
    """An unguessable point token: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


class Campus(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Default rectification deadlines (整改期限), in days after assignment, by severity.
    deadline_days_general: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    deadline_days_major: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # Optional outbound webhook: "generic" JSON or "robot" (the group-robot JSON of WeCom and DingTalk).
    webhook_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    webhook_format: Mapped[str] = mapped_column(String(10), default="generic", server_default="generic")
    # Daily rounds are due on school days; without a school calendar, that means Monday to Friday
    # unless the campus patrols every day.
    weekend_rounds: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    areas: Mapped[list[Area]] = relationship(back_populates="campus", order_by="Area.name")


class Area(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campus.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(200), default="")
    floor: Mapped[str] = mapped_column(String(50), default="")
    zone: Mapped[str] = mapped_column(String(200), default="")
    responsible: Mapped[str] = mapped_column(String(200), default="")

    campus: Mapped[Campus] = relationship(back_populates="areas")
    points: Mapped[list[Point]] = relationship(back_populates="area")

    __table_args__ = (UniqueConstraint("campus_id", "name"),)


class PointType(db.Model):
    """A kind of point (fire extinguisher, classroom...) that owns a checklist template."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    cadence: Mapped[str] = mapped_column(String(10), default="daily")
    per_period: Mapped[int] = mapped_column(Integer, default=1)

    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="point_type", order_by="ChecklistItem.position"
    )

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh

    @property
    def active_items(self) -> list[ChecklistItem]:
        return [item for item in self.items if item.active]


class ChecklistItem(db.Model):
    """One line of a template; its key never changes, so results and hazards stay comparable."""

    id: Mapped[int] = mapped_column(primary_key=True)
    point_type_id: Mapped[int] = mapped_column(ForeignKey("point_type.id"), index=True)
    key: Mapped[str] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text_zh: Mapped[str] = mapped_column(String(500))
    text_en: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10), default="general")
    photo_required: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    point_type: Mapped[PointType] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("point_type_id", "key"),)

    def text(self, locale: str) -> str:
        return self.text_en if locale == "en" else self.text_zh


class Point(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campus.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    point_type_id: Mapped[int] = mapped_column(ForeignKey("point_type.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(300), default="")
    cadence: Mapped[str] = mapped_column(String(10), default="daily")
    per_period: Mapped[int] = mapped_column(Integer, default=1)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)

    campus: Mapped[Campus] = relationship()
    area: Mapped[Area] = relationship(back_populates="points")
    point_type: Mapped[PointType] = relationship()

    __table_args__ = (UniqueConstraint("campus_id", "code"),)


# The campuses a user belongs to: one for most, several for a district office or a guard of two sites.
user_campus = Table(
    "user_campus", db.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("campus_id", ForeignKey("campus.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(primary_key=True)
    # The campus the user is working in now, always one of `campuses`: every page and list shows it.
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campus.id"), index=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    locale: Mapped[str] = mapped_column(String(10), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Part of every session's and remember-me cookie's user id: moving it on ends them all.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    campus: Mapped[Campus | None] = relationship()
    campuses: Mapped[list[Campus]] = relationship(secondary=user_campus, order_by="Campus.name")

    @property
    def campus_ids(self) -> set[int]:
        return {campus.id for campus in self.campuses}

    @property
    def campus_names(self) -> str:
        """The user's campuses by name, for the audit log."""
        return ", ".join(sorted(campus.name for campus in self.campuses))

    def belongs_to(self, campus_id: int | None) -> bool:
        return campus_id is not None and campus_id in self.campus_ids

    def set_password(self, password: str) -> None:
        """Set a new password and end every session logged in with the old one."""
        self.password_hash = generate_password_hash(password)
        self.session_epoch = (self.session_epoch or 0) + 1

    def get_id(self) -> str:  # what Flask-Login keeps in the session and the remember-me cookie
        return f"{self.id}:{self.session_epoch or 0}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.username


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def mark_used(self) -> None:
        """Note that the token was used, at most once a minute: not a database write per API request."""
        now = utcnow()
        if self.last_used_at is None or now - self.last_used_at >= timedelta(minutes=1):
            self.last_used_at = now
            db.session.commit()


class LoginFailure(db.Model):
    """A failed login, kept for the lockout window: in the database so every worker counts the same."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str] = mapped_column(String(45), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (Index("ix_login_failure_username_at", "username", "at"),
                      Index("ix_login_failure_ip_at", "ip", "at"))


class Check(db.Model):
    """One submitted checklist at one point; client_uuid makes resends idempotent."""

    __tablename__ = "point_check"  # "check" is an SQL keyword

    id: Mapped[int] = mapped_column(primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("point.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # UTC
    observed_offset: Mapped[int] = mapped_column(Integer, default=0)  # device's UTC offset, minutes
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10), default="form")
    # None, "future" or "stale": the device's clock disagreed with received_at (see recording.clock_flag).
    # observed_at is kept as sent either way; the flag is for the officer to judge.
    clock_flag: Mapped[str | None] = mapped_column(String(10))

    point: Mapped[Point] = relationship()
    user: Mapped[User] = relationship()
    results: Mapped[list[CheckResult]] = relationship(
        back_populates="check", order_by="CheckResult.position", cascade="all, delete-orphan"
    )
    photos: Mapped[list[Photo]] = relationship(back_populates="check", foreign_keys="Photo.check_id")

    __table_args__ = (Index("ix_check_point_observed", "point_id", "observed_at"),)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.result == "fail"]


class CheckResult(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("point_check.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("checklist_item.id"))
    item_key: Mapped[str] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(String(4))
    note: Mapped[str] = mapped_column(Text, default="")

    check: Mapped[Check] = relationship(back_populates="results")
    item: Mapped[ChecklistItem] = relationship()

    __table_args__ = (UniqueConstraint("check_id", "item_key"),)


class Photo(db.Model):
    """An uploaded image, stored outside static/ under its SHA-256 and served only to allowed users."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(50), default="image/jpeg")
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("point_check.id"), index=True)
    item_key: Mapped[str | None] = mapped_column(String(50))
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazard.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="before")  # before | after
    # The SHA-256 of the bytes the phone sent (before re-encoding), for photos sent one by one after
    # their check (the outbox); sha256 above is the stored, re-encoded file's.
    client_sha256: Mapped[str | None] = mapped_column(String(64))

    check: Mapped[Check | None] = relationship(back_populates="photos", foreign_keys=[check_id])
    uploaded_by: Mapped[User] = relationship()


class PendingPhoto(db.Model):
    """A photo a check or ad-hoc report declared (by the phone's SHA-256) that has not arrived yet.

    The outbox sends a submission first and its photos one by one after it; each arrival turns its
    pending row into a Photo, and a resend of one already held is a no-op. owner_uuid is the
    client_uuid of the check or report; item_key is "" for a report.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_uuid: Mapped[str] = mapped_column(String(36), index=True)
    item_key: Mapped[str] = mapped_column(String(50), default="")
    client_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    declared_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("owner_uuid", "item_key", "client_sha256"),)


class Hazard(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campus.id"), index=True)
    point_id: Mapped[int | None] = mapped_column(ForeignKey("point.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    location: Mapped[str] = mapped_column(String(300), default="")
    item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_item.id"))
    item_key: Mapped[str | None] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10), default="general")
    status: Mapped[str] = mapped_column(String(12), default="reported", index=True)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    source_check_id: Mapped[int | None] = mapped_column(ForeignKey("point_check.id"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    client_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)  # ad-hoc reports
    content_hash: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    deadline: Mapped[date | None] = mapped_column(Date)  # campus-local day; overdue once it has ended
    measures: Mapped[str] = mapped_column(Text, default="", server_default="")  # control measures meanwhile
    rectified_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    rectified_at: Mapped[datetime | None] = mapped_column(DateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    extension_until: Mapped[date | None] = mapped_column(Date)  # a pending request for a later deadline
    extension_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set for open hazards found by a checklist item, NULL once closed: the unique index on it
    # makes "one open hazard per point and item" hold even under concurrent submissions.
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)

    point: Mapped[Point | None] = relationship()
    area: Mapped[Area | None] = relationship()
    item: Mapped[ChecklistItem | None] = relationship()
    source_check: Mapped[Check | None] = relationship()
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    rectified_by: Mapped[User | None] = relationship(foreign_keys=[rectified_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    photos: Mapped[list[Photo]] = relationship(foreign_keys="Photo.hazard_id", order_by="Photo.id")
    events: Mapped[list[HazardEvent]] = relationship(
        back_populates="hazard", order_by="HazardEvent.id"
    )

    __table_args__ = (Index("ix_hazard_campus_status", "campus_id", "status", "severity"),)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_HAZARD_STATES

    @staticmethod
    def make_open_key(point_id: int, item_key: str) -> str:
        return f"{point_id}:{item_key}"


class HazardEvent(db.Model):
    """The audit trail of a hazard: who did what, when, from which state to which; never edited."""

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    check_id: Mapped[int | None] = mapped_column(ForeignKey("point_check.id"))
    old_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    new_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    old_deadline: Mapped[date | None] = mapped_column(Date)
    new_deadline: Mapped[date | None] = mapped_column(Date)
    old_severity: Mapped[str | None] = mapped_column(String(10))
    new_severity: Mapped[str | None] = mapped_column(String(10))

    hazard: Mapped[Hazard] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    old_assignee: Mapped[User | None] = relationship(foreign_keys=[old_assignee_id])
    new_assignee: Mapped[User | None] = relationship(foreign_keys=[new_assignee_id])
    check: Mapped[Check | None] = relationship()
    photos: Mapped[list[Photo]] = relationship(foreign_keys="Photo.event_id", order_by="Photo.id")


class Notification(db.Model):
    """An in-app notice for one user about one hazard (assigned to you, fix awaiting verification...)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)

    hazard: Mapped[Hazard] = relationship()


class WebhookDelivery(db.Model):
    """One outbound webhook message, kept until sent; retried with backoff, failures shown to admins."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campus.id"), index=True)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazard.id"))
    kind: Mapped[str] = mapped_column(String(30))  # major_reported | overdue | rejected | test
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    hazard: Mapped[Hazard | None] = relationship()


class MonthlyReport(db.Model):
    """A campus's monthly report (月报) once someone closed it: the figures frozen as they were sent upward."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campus.id"))  # indexed by the unique constraint
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, campus local
    status: Mapped[str] = mapped_column(String(10), default="open")  # open (a draft) | closed
    figures: Mapped[str | None] = mapped_column(Text)  # the frozen report JSON while closed
    prepared_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    closed_by: Mapped[User | None] = relationship()
    events: Mapped[list[ReportEvent]] = relationship(back_populates="report", order_by="ReportEvent.id")

    __table_args__ = (UniqueConstraint("campus_id", "month"),)


class ReportEvent(db.Model):
    """The audit trail of a monthly report: who closed or reopened it, when and why; never edited."""

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("monthly_report.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(10))  # close | reopen
    note: Mapped[str] = mapped_column(Text, default="")
    # A close keeps the figures it froze, so what went upward stays on record after a reopen.
    figures: Mapped[str | None] = mapped_column(Text)

    report: Mapped[MonthlyReport] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class AuditEntry(db.Model):
    """One administrative change (users, roles, points, templates, settings, tokens): who, when, what; never edited."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # NULL for the command line; actor_name keeps the username (or "cli:<OS user>") as it was then.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    # NULL for what every campus shares (point types and their checklists).
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campus.id"))
    action: Mapped[str] = mapped_column(String(40), index=True)  # e.g. user.create, point.retire
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_label: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {field: [old, new]} and the like
    ip: Mapped[str] = mapped_column(String(45), default="")

    actor: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_audit_entry_campus_at", "campus_id", "at"),)


@event.listens_for(Session, "before_flush")
def _join_current_campus(session, _context, _instances) -> None:
    """A user made with a campus belongs to it: membership follows the campus they are put in."""
    for user in [obj for obj in session.new if isinstance(obj, User)]:
        with session.no_autoflush:
            current = user.campus or (session.get(Campus, user.campus_id) if user.campus_id else None)
            if current is not None and current not in user.campuses:
                user.campuses.append(current)
