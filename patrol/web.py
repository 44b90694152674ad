"""Request plumbing shared by every page: locale, security headers, htmx helpers, template globals."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from werkzeug.routing import IntegerConverter

from flask import Flask, Response, abort, current_app, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

from .extensions import db
from .models import LOCALES
from .vocab import TEMPLATE_GLOBALS

LOCALE_COOKIE = "patrol_locale"
HTMX_VERSION = "2.0.11"

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def select_locale() -> str:
    """The user's saved locale, else the cookie, else Chinese (also outside requests, e.g. commands)."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    return cookie if cookie in LOCALES else "zh"


def select_timezone() -> str:
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if current_user and current_user.is_authenticated and current_user.campus:
        return current_user.campus.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def locale_code() -> str:
    return str(get_locale() or "zh")


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def same_site(target: str | None) -> str | None:
    """The target if it is a path on this site, else None: links and forms must not bounce users elsewhere."""
    if not (target and target.startswith("/") and not target.startswith("//") and "\\" not in target):
        return None
    try:
        return None if urlsplit(target).netloc else target
    except ValueError:  # e.g. "/\t/[": urlsplit drops the tab and sees a broken IPv6 host
        return None


ID_MAX = 2**31 - 1  # the largest id an INTEGER column holds on PostgreSQL


def small_int(value) -> int | None:
    """An id or count typed by a user or a script: plain ASCII digits that fit an INTEGER column, else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
        return number if number <= ID_MAX else None
    return None


class IdConverter(IntegerConverter):
    """<int:...> in URLs, but only numbers the database can hold: larger ones are a 404, not a 500."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", ID_MAX)
        super().__init__(url_map, *args, **kwargs)


def iso_utc(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 ending in Z."""
    return value.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def local_time(value: datetime | None, tz: str | None = None) -> datetime | None:
    """A stored UTC timestamp in the campus timezone."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz or select_timezone()))


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = local_time(value)
    return local.strftime(fmt) if local else ""


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages answer htmx requests with a partial: caches must key on the header.
    response.vary.add("HX-Request")
    return response


PAGE_MAX = 100_000


def paginate(statement, per_page: int):
    """db.paginate of the ?page= asked for, kept to what the database can offset (a bad one: page 1)."""
    number = min(max(request.args.get("page", 1, type=int), 1), PAGE_MAX)
    return db.paginate(statement, page=number, per_page=per_page, error_out=False)


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def reject_unreadable_input() -> None:
    """A 400 for input no view can use: NUL characters (PostgreSQL text cannot hold them), form fields
    without a name, JSON nested past Python's recursion limit. Runs before the CSRF check."""
    if "\x00" in request.path or _has_nul(list(request.args.items(multi=True))):
        abort(400)
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in FORM_TYPES:
        pairs = list(request.form.items(multi=True))
        if any(not isinstance(key, str) for key, _value in pairs) or any(not isinstance(k, str) for k in request.files) \
                or _has_nul(pairs):
            abort(400)
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            abort(400)
        if _has_nul(body):
            abort(400)


def guard_input(app: Flask) -> None:
    """Call before the CSRF protection is set up, so that its check never sees such input."""
    app.before_request(reject_unreadable_input)
    app.url_map.converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    app.after_request(_security_headers)
    app.jinja_env.globals.update(
        locale_code=locale_code,
        htmx_version=HTMX_VERSION,
        is_htmx=is_htmx,
        now_iso=lambda: iso_utc(datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)),
        **TEMPLATE_GLOBALS,
    )
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
