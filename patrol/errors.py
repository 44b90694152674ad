"""Error pages: plain, friendly, in the user's language; the 500 handler rolls the session back."""
from flask import Blueprint, jsonify, render_template
from flask_babel import gettext as _

from .auth import wants_json
from .extensions import db

bp = Blueprint("errors", __name__)


def _page(status: int, title: str, message: str):
    if wants_json():
        return jsonify({"error": title, "message": message}), status
    return render_template("errors/error.html", title=title, message=message), status


@bp.app_errorhandler(400)
def bad_request(error):
    description = getattr(error, "description", "")
    if "CSRF" in str(description):
        if wants_json():  # the outbox fetches a fresh token and sends again
            return jsonify({"error": _("The form expired"), "code": "csrf"}), 400
        return _page(400, _("The form expired"), _("Please go back, reload the page and submit again."))
    return _page(400, _("Bad request"), _("The server could not understand this request."))


@bp.app_errorhandler(403)
def forbidden(_error):
    return _page(403, _("Not allowed"), _("Your role does not have access to this page."))


@bp.app_errorhandler(404)
def not_found(error):
    if getattr(error, "description", "") == "point":
        return _page(404, _("Unknown label"), _("This QR label does not belong to an active point. It may have been replaced or retired; please tell the safety officer."))
    return _page(404, _("Not found"), _("There is nothing at this address."))


@bp.app_errorhandler(405)
def method_not_allowed(_error):
    return _page(405, _("Not allowed"), _("This address does not accept that kind of request."))


@bp.app_errorhandler(413)
def too_large(_error):
    from flask import current_app

    return _page(413, _("File too large"), _("The upload is larger than %(mb)d MB. Please take a smaller photo and try again.", mb=current_app.config["PATROL_MAX_UPLOAD_MB"]))


@bp.app_errorhandler(500)
def server_error(_error):
    db.session.rollback()
    return _page(500, _("Something went wrong"), _("The server hit an error. Nothing half-saved was kept; please try again."))
