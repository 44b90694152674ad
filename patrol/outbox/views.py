"""Offline-first: the service worker and manifest, the patrol pack, and where the outbox sends photos.

The browser keeps the app shell and the user's patrol pack (the pages a round needs) in its cache
and queues what it could not send in IndexedDB (static/outbox.js). Everything it sends is what the
plain form would have sent; this module only adds what a phone needs to do that later: a fresh
CSRF token and who is logged in, the list of pages to keep, and photo uploads one by one.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from .. import photo_uploads
from ..auth import roles_required
from ..extensions import db
from ..models import OPEN_HAZARD_STATES, ChecklistItem, Hazard, Photo, Point, utcnow
from ..scan.views import CHECKERS
from ..web import HTMX_VERSION, iso_utc, select_locale

bp = Blueprint("outbox", __name__)

SHELL_FILES = ("app.css", "app.js", "outbox.js", f"vendor/htmx-{HTMX_VERSION}.min.js", "icon.svg",
               "icon-192.png", "icon-512.png")


@lru_cache(maxsize=1)
def shell_version(static_folder: str) -> str:
    """Changes whenever a file of the app shell or the service worker itself changes."""
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        digest.update(name.encode() + b"\0" + (Path(static_folder) / name).read_bytes())
    digest.update((Path(__file__).parent.parent / "templates" / "outbox" / "sw.js").read_bytes())
    return digest.hexdigest()[:12]


def current_shell_version() -> str:
    return shell_version(current_app.static_folder)


@bp.route("/sw.js")
def service_worker():
    """The service worker, at the root so that its scope is the whole app."""
    body = render_template("outbox/sw.js", version=current_shell_version(),
                           shell=[url_for("static", filename=name) for name in SHELL_FILES]
                           + [url_for("outbox.manifest")])
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    data = {
        "name": _("Campus patrol"), "short_name": _("Patrol"), "start_url": url_for("home.index"),
        "scope": "/", "display": "standalone", "background_color": "#ffffff", "theme_color": "#0b5cad",
        "lang": "zh-CN" if select_locale() == "zh" else "en",
        "icons": [
            {"src": url_for("static", filename="icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": url_for("static", filename="icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = jsonify(data)
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/outbox")
@login_required
def index():
    """What waits on this phone: filled in by outbox.js from IndexedDB; says so when scripts are off."""
    return render_template("outbox/index.html", saved=request.args.get("saved") == "1")


@bp.route("/outbox/session")
@login_required
def session():
    """Who is logged in and a fresh CSRF token, before the outbox sends what it holds."""
    return jsonify({"user": current_user.id, "username": current_user.username,
                    "name": current_user.display_name, "csrf_token": generate_csrf(),
                    "pack_version": pack_version(pack_urls())})


def pack_urls() -> list[str]:
    """The pages this user's phone keeps for a round without a connection."""
    urls = [url_for("home.index"), url_for("outbox.index")]
    if current_user.role in CHECKERS:
        urls += [url_for("scan.report"), url_for("scan.report", offline="1"), url_for("tasks.index")]
        tokens = db.session.scalars(select(Point.token).where(Point.campus_id == current_user.campus_id,
                                                              Point.active).order_by(Point.code))
        urls += [url_for("scan.check_form", token=token) for token in tokens]
    elif current_user.role == "repairer":
        urls.append(url_for("tasks.index"))
        hazards = db.session.scalars(select(Hazard.id).where(Hazard.assignee_id == current_user.id,
                                                             Hazard.status.in_(OPEN_HAZARD_STATES))
                                     .order_by(Hazard.id)).all()
        urls += [url_for("hazards.detail", hazard_id=h) for h in hazards]
        photos = db.session.scalars(select(Photo.id).where(Photo.hazard_id.in_(hazards)).order_by(Photo.id))
        urls += [url_for("hazards.photo", photo_id=p) for p in photos]
    return urls


def pack_version(urls: list[str]) -> str:
    """Changes when the pack's pages would: points, checklists, the user's hazards, language, app shell."""
    digest = hashlib.sha256()
    digest.update(repr((current_user.id, current_user.role, select_locale(), current_shell_version(), urls)).encode())
    if current_user.role in CHECKERS:
        rows = db.session.execute(
            select(Point.id, Point.code, Point.name, Point.location, Point.area_id, Point.point_type_id,
                   ChecklistItem.id, ChecklistItem.key, ChecklistItem.position, ChecklistItem.text_zh,
                   ChecklistItem.text_en, ChecklistItem.severity, ChecklistItem.photo_required,
                   ChecklistItem.active)
            .join(ChecklistItem, ChecklistItem.point_type_id == Point.point_type_id)
            .where(Point.campus_id == current_user.campus_id, Point.active)
            .order_by(Point.id, ChecklistItem.id))
        digest.update(repr(rows.all()).encode())
    elif current_user.role == "repairer":
        rows = db.session.execute(select(Hazard.id, Hazard.status, Hazard.deadline, Hazard.severity)
                                  .where(Hazard.assignee_id == current_user.id).order_by(Hazard.id))
        digest.update(repr(rows.all()).encode())
    return digest.hexdigest()[:16]


@bp.route("/outbox/pack")
@login_required
def pack():
    """The patrol pack: the pages to keep, and a version that changes when they need fetching again."""
    urls = pack_urls()
    return jsonify({"version": pack_version(urls), "urls": urls, "generated_at": iso_utc(utcnow())})


@bp.route("/outbox/checks/<client_uuid>/photos/")
@bp.route("/outbox/checks/<client_uuid>/photos/<sha256>", methods=["PUT"])
@roles_required(*CHECKERS)
def check_photo(client_uuid, sha256=None):
    """PUT one declared photo of a check (the body is the image); GET which are still missing."""
    return photo_uploads.answer(current_user, lambda: photo_uploads.find_check(current_user, client_uuid), sha256)


@bp.route("/outbox/reports/<client_uuid>/photos/")
@bp.route("/outbox/reports/<client_uuid>/photos/<sha256>", methods=["PUT"])
@roles_required(*CHECKERS)
def report_photo(client_uuid, sha256=None):
    """PUT one declared photo of an ad-hoc report; GET which are still missing."""
    return photo_uploads.answer(current_user, lambda: photo_uploads.find_report(current_user, client_uuid), sha256)
