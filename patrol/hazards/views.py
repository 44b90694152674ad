"""The officer's hazard list and hazard page, and the photos behind them."""
from flask import Blueprint, abort, render_template, request, send_file
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import photos
from ..auth import roles_required
from ..extensions import db
from ..hazard_list import HazardFilter
from ..models import Area, Hazard, Photo
from ..web import is_htmx

bp = Blueprint("hazards", __name__)

READERS = ("officer", "admin", "viewer")


def get_hazard(hazard_id: int) -> Hazard:
    hazard = db.session.get(Hazard, hazard_id)
    if hazard is None or hazard.campus_id != current_user.campus_id:
        abort(404)
    return hazard


@bp.route("/hazards")
@roles_required(*READERS)
def index():
    filters = HazardFilter.from_args(request.args)
    page = db.paginate(filters.statement(current_user.campus_id), per_page=50, error_out=False)
    context = {"page": page, "filters": filters}
    if is_htmx():
        return render_template("hazards/_list.html", **context)
    areas = db.session.scalars(select(Area).where(Area.campus_id == current_user.campus_id)
                               .order_by(Area.name)).all()
    return render_template("hazards/index.html", areas=areas, **context)


@bp.route("/hazards/<int:hazard_id>")
@roles_required(*READERS)
def detail(hazard_id):
    return render_template("hazards/detail.html", hazard=get_hazard(hazard_id))


def may_see_photo(photo: Photo) -> bool:
    """Staff of the campus see every photo of it; others only the photos they took."""
    if photo.uploaded_by_id == current_user.id:
        return True
    if current_user.role not in READERS:
        return False
    owner = photo.uploaded_by
    return owner is not None and owner.campus_id == current_user.campus_id


@bp.route("/photos/<int:photo_id>")
@login_required
def photo(photo_id):
    record = db.session.get(Photo, photo_id)
    if record is None or not may_see_photo(record):
        abort(404)
    path = photos.path_for(record.sha256)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=record.content_type, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
