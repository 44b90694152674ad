"""Logging in and out, changing one's password, and choosing the interface language."""
import math
from datetime import datetime

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..extensions import db
from ..models import LOCALES, User
from ..web import LOCALE_COOKIE, format_local, same_site
from . import lockout
from .forms import ChangePasswordForm, LocaleForm, LoginForm

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce users to another host."""
    return same_site(target) or url_for("home.index")


def locked_out(until: datetime, template: str, **context):
    """The form again with 429 and when to come back: refused, but ready for the next try."""
    seconds = max(1, math.ceil((until - lockout.now()).total_seconds()))
    message = ngettext("Too many failed logins. Please try again in %(num)d minute (at %(time)s).",
                       "Too many failed logins. Please try again in %(num)d minutes (at %(time)s).",
                       math.ceil(seconds / 60), time=format_local(until))
    response = make_response(render_template(template, locked_out=message, **context), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        username, ip = form.username.data.strip(), request.remote_addr or ""
        # Checked before the password: during a lockout even the right one is refused.
        until = lockout.locked_until(username, ip)
        if until is not None:
            return locked_out(until, "auth/login.html", form=form)
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None and user.active and user.check_password(form.password.data):
            lockout.clear_failures(username)
            # A language chosen on the login page is the user's latest choice: remember it.
            chosen = request.cookies.get(LOCALE_COOKIE)
            if chosen in LOCALES and chosen != user.locale:
                user.locale = chosen
            db.session.commit()
            login_user(user, remember=True)
            return redirect(safe_next(form.next.data))
        lockout.record_failure(username, ip)
        form.password.errors.append(_("Wrong username or password."))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        # The current password is one more guess at it: the login lockout counts it too.
        username, ip = current_user.username, request.remote_addr or ""
        until = lockout.locked_until(username, ip)
        if until is not None:
            return locked_out(until, "auth/password.html", form=form)
        if current_user.check_password(form.current.data):
            current_user.set_password(form.password.data)
            db.session.commit()
            # The new epoch ends every other session; this one logs in again under it.
            login_user(current_user._get_current_object(), remember=True)
            flash(_("Your password was changed. Other devices logged in as you have been logged out."))
            return redirect(url_for("home.index"), 303)
        lockout.record_failure(username, ip)
        form.current.errors.append(_("This is not your current password."))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/password.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/locale", methods=["POST"])
def set_locale():
    form = LocaleForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
        response = make_response(redirect(safe_next(form.next.data)))
        response.set_cookie(LOCALE_COOKIE, form.locale.data, max_age=3600 * 24 * 365,
                            samesite="Lax", httponly=True)
        return response
    flash(_("Unknown language."), "error")
    return redirect(url_for("home.index"))
