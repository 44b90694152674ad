"""Who is asking: login loading, role checks, login-session epochs."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..extensions import db
from ..models import User

def init_login(manager) -> None:
    manager.login_view = "auth.login"
    manager.login_message = _l("Please log in to continue.")
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(user_id: str):
        return user_of_session(user_id)


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
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
