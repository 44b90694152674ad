"""Administration: areas, points, checklist templates, users, imports and QR labels."""
from flask import Blueprint, render_template

from ..auth import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@roles_required("admin")
def index():
    return render_template("admin/index.html")
