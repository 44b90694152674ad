"""The audit log of administrative changes: record one entry in the change's own transaction, diff fields."""
from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEntry

# Never written into an entry, whatever a caller passes: secrets stay out of the log.
SECRET_FIELDS = frozenset({"password", "password_hash", "token", "token_hash", "session_epoch"})
# Fields holding URLs whose query string may carry a credential (a group robot's key=...).
URL_FIELDS = frozenset({"webhook_url"})
HIDDEN = "***"
# What the log compares of a user, for the admin pages and `patrol user add` alike.
USER_FIELDS = ("username", "name", "role", "locale", "active", "campus_names")


def record(action: str, target=None, label: str = "", detail: Mapping | None = None, *,
           campus_id: int | None) -> AuditEntry:
    """Add an entry for action on target to the session; the caller's commit writes both or neither.

    In a request the actor is the logged-in user and the client's address is kept; elsewhere (the
    `patrol` command) the actor is "cli:" and the OS user.
    """
    if target is not None and target.id is None:
        db.session.flush()  # a new row needs its id
    web = has_request_context() and current_user.is_authenticated
    entry = AuditEntry(
        action=action,
        actor_id=current_user.id if web else None,
        actor_name=current_user.username if web else cli_actor(),
        campus_id=campus_id,
        target_type=target_type(target) if target is not None else "",
        target_id=target.id if target is not None else None,
        target_label=label[:300],
        detail=json.dumps(clean(detail or {}), ensure_ascii=False),
        ip=(request.remote_addr or "")[:45] if has_request_context() else "",
    )
    db.session.add(entry)
    return entry


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:120]
    except (KeyError, OSError):  # no user name for this uid (e.g. a bare container)
        return "cli"


def target_type(target) -> str:
    """The kind of row, in snake case: User -> user, ChecklistItem -> checklist_item."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(target).__name__).lower()


def snapshot(obj, fields: Iterable[str]) -> dict:
    """The named attributes of obj, as a diff compares them."""
    return {name: getattr(obj, name) for name in fields}


def diff(before: Mapping, after: Mapping) -> dict[str, list]:
    """{field: [old, new]} for every field whose value changed; before is {} for something new."""
    return {name: [before.get(name), value] for name, value in after.items()
            if name not in before or before[name] != value}


def clean(detail: Mapping) -> dict:
    """Detail as JSON can hold it, without secrets."""
    return {name: plain(name, value) for name, value in detail.items() if name not in SECRET_FIELDS}


def plain(name: str, value):
    if isinstance(value, (list, tuple)):
        return [plain(name, v) for v in value]
    if isinstance(value, Mapping):
        return clean(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if name in URL_FIELDS and isinstance(value, str):
        return hide_query(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def hide_query(url: str) -> str:
    """The URL with its query values and any password hidden: robot webhooks carry their key there."""
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", f":{HIDDEN}@", 1))
    if parts.query:
        parts = parts._replace(query=urlencode(
            [(key, HIDDEN) for key, _value in parse_qsl(parts.query, keep_blank_values=True)], safe="*"))
    return urlunsplit(parts)


def changes(entry: AuditEntry) -> dict:
    """An entry's detail, read back."""
    try:
        loaded = json.loads(entry.detail or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
