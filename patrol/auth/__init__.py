"""Who is asking: login loading, role checks, login-session epochs."""
from __future__ import annotations

from functools import wraps

from flask import abort, flash, jsonify, redirect, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_login.utils import login_url

from ..extensions import db
from ..models import User

def init_login(manager) -> None:
    manager.login_view = "auth.login"
    manager.login_message = _l("Please log in to continue.")
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(user_id: str):
        return user_of_session(user_id)

    @manager.unauthorized_handler
    def unauthorized():
        # The outbox (fetch with Accept: application/json) needs a 401 it can act on, not the login page.
        if wants_json():
            return jsonify({"error": _("Please log in to continue."), "code": "login"}), 401
        flash(manager.login_message, manager.login_message_category)
        return redirect(login_url(manager.login_view, next_url=request.url))


def wants_json() -> bool:
    """A script asking for JSON (the API, or the outbox replaying a form), not a person asking for a page."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def user_of_session(user_id: str) -> User | None:
    """The user of a session or remember-me cookie ("id:epoch"), unless a password change has ended it."""
    ident, _sep, epoch = user_id.partition(":")
    if not (ident.isdecimal() and epoch.isdecimal()):
        return None
    user = db.session.get(User, int(ident))
    return user if user is not None and user.session_epoch == int(epoch) else None


def roles_required(*roles: str):
    """Only logged-in users with one of these roles; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)  # errors.py answers JSON to wants_json()
            return view(*args, **kwargs)

        return wrapped

    return decorator
