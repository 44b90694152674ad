"""Logging in and out, and choosing the interface language."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from ..extensions import db
from ..models import LOCALES, User
from ..web import LOCALE_COOKIE
from .forms import LocaleForm, LoginForm

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce users to another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and user.check_password(form.password.data):
            # A language chosen on the login page is the user's latest choice: remember it.
            chosen = request.cookies.get(LOCALE_COOKIE)
            if chosen in LOCALES and chosen != user.locale:
                user.locale = chosen
                db.session.commit()
            login_user(user, remember=True)
            return redirect(safe_next(form.next.data))
        form.password.errors.append(_("Wrong username or password."))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


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
