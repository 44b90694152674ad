"""Administration: areas, points, checklist templates, users, imports and QR labels; each change audited."""
from __future__ import annotations

import base64
import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from markupsafe import Markup
from sqlalchemy import func, select

from .. import campuses
from ..audit import USER_FIELDS, diff, record, snapshot
from ..auth import roles_required
from ..extensions import db
from ..label_sheet import label_points, labels_for, scan_url
from ..models import Area, ChecklistItem, Point, PointType, User, new_token
from ..point_import import export_points_csv, import_points
from ..points import reactivate_point, retire_point
from ..qr import LABEL_SIZES, Label, labels_pdf, qr_png, qr_svg
from ..web import ID_MAX, is_htmx, paginate
from .forms import (
    AreaForm,
    EmptyForm,
    ImportForm,
    ItemForm,
    LabelSheetForm,
    NewItemForm,
    NewPointTypeForm,
    NewUserForm,
    PasswordForm,
    PointFilter,
    PointForm,
    PointTypeForm,
    UserForm,
    point_types,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

LABEL_MAKERS = ("admin", "officer")
AREA_FIELDS = ("name", "building", "floor", "zone", "responsible")
TYPE_FIELDS = ("key", "name_zh", "name_en", "cadence", "per_period")
ITEM_FIELDS = ("key", "text_zh", "text_en", "category", "severity", "photo_required", "position", "active")


def invalid() -> int:
    """The status of a form sent back with errors: htmx ignores 4xx responses, so it gets 200."""
    return 200 if is_htmx() else 422


def render_form(template: str, form, **context):
    return render_template(template, form=form, **context), (invalid() if form.is_submitted() else 200)


def see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


def get_own(model, object_id: int):
    """A row of the admin's own campus, or 404: other campuses' ids do not exist here."""
    found = db.session.get(model, object_id) if 0 < object_id <= ID_MAX else None
    if found is None or found.campus_id != current_user.campus_id:
        abort(404)
    return found


def get_point_type(type_id: int) -> PointType:
    return db.session.get(PointType, type_id) or abort(404)


def get_item(point_type: PointType, item_id: int) -> ChecklistItem:
    item = db.session.get(ChecklistItem, item_id)
    if item is None or item.point_type_id != point_type.id:
        abort(404)
    return item


def campus_areas() -> list[Area]:
    return list(db.session.scalars(select(Area).where(Area.campus_id == current_user.campus_id)
                                   .order_by(Area.name)))


def require_post_form() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


def record_changes(action: str, target, label: str, before: dict, after: dict, *, campus_id: int | None) -> None:
    """Audit an edit, unless it changed nothing."""
    changed = diff(before, after)
    if changed:
        record(action, target, label, changed, campus_id=campus_id)


def point_fields(point: Point) -> dict:
    """What the audit log compares of a point: its area and type by name, not by id."""
    area, point_type = db.session.get(Area, point.area_id), db.session.get(PointType, point.point_type_id)
    return {"code": point.code, "name": point.name, "location": point.location,
            "area": area.name if area else None, "type": point_type.key if point_type else None,
            "cadence": point.cadence, "per_period": point.per_period, "active": point.active}


def point_label(point: Point) -> str:
    return f"{point.code} {point.name}"


def item_label(item: ChecklistItem, point_type: PointType) -> str:
    return f"{point_type.key}/{item.key}"


@bp.route("/")
@roles_required("admin")
def index():
    campus_id = current_user.campus_id
    counted = dict(db.session.execute(select(Point.active, func.count()).where(Point.campus_id == campus_id)
                                      .group_by(Point.active)).all())
    counts = {
        "areas": db.session.scalar(select(func.count()).select_from(Area).where(Area.campus_id == campus_id)),
        "points": counted.get(True, 0),
        "retired": counted.get(False, 0),
        "types": db.session.scalar(select(func.count()).select_from(PointType)),
        "users": db.session.scalar(select(func.count()).select_from(User).where(campuses.members(campus_id))),
    }
    return render_template("admin/index.html", counts=counts)


@bp.route("/areas")
@roles_required("admin")
def areas():
    rows = db.session.execute(
        select(Area, func.count(Point.id))
        .outerjoin(Point, (Point.area_id == Area.id) & Point.active)
        .where(Area.campus_id == current_user.campus_id).group_by(Area.id).order_by(Area.name)
    ).all()
    return render_template("admin/areas.html", rows=rows)


@bp.route("/areas/new", methods=["GET", "POST"])
@roles_required("admin")
def create_area():
    form = AreaForm(campus_id=current_user.campus_id)
    if form.validate_on_submit():
        area = Area(campus_id=current_user.campus_id)
        form.populate_obj(area)
        db.session.add(area)
        record("area.create", area, area.name, diff({}, snapshot(area, AREA_FIELDS)),
               campus_id=current_user.campus_id)
        db.session.commit()
        flash(_("Area “%(name)s” saved.", name=area.name))
        return see_other("admin.areas")
    return render_form("admin/area_form.html", form, area=None)


@bp.route("/areas/<int:area_id>", methods=["GET", "POST"])
@roles_required("admin")
def update_area(area_id):
    area = get_own(Area, area_id)
    form = AreaForm(campus_id=current_user.campus_id, area=area)
    if form.validate_on_submit():
        before = snapshot(area, AREA_FIELDS)
        form.populate_obj(area)
        record_changes("area.update", area, area.name, before, snapshot(area, AREA_FIELDS),
                       campus_id=current_user.campus_id)
        db.session.commit()
        flash(_("Area “%(name)s” saved.", name=area.name))
        return see_other("admin.areas")
    return render_form("admin/area_form.html", form, area=area)


@bp.route("/points")
@roles_required("admin")
def points():
    filters = PointFilter.from_args(request.args)
    page = paginate(filters.statement(current_user.campus_id), per_page=50)
    context = {"page": page, "filters": filters}
    if is_htmx():
        return render_template("admin/_points.html", **context)
    return render_template("admin/points.html", areas=campus_areas(), types=point_types(), **context)


@bp.route("/points/new", methods=["GET", "POST"])
@roles_required("admin")
def create_point():
    form = PointForm(campus_id=current_user.campus_id)
    if form.validate_on_submit():
        point = Point(active=True)
        form.fill(point)
        db.session.add(point)
        record("point.create", point, point_label(point), diff({}, point_fields(point)),
               campus_id=current_user.campus_id)
        db.session.commit()
        flash(_("Point %(code)s saved.", code=point.code))
        return see_other("admin.update_point", point_id=point.id)
    return render_form("admin/point_form.html", form, point=None)


@bp.route("/points/<int:point_id>", methods=["GET", "POST"])
@roles_required("admin")
def update_point(point_id):
    point = get_own(Point, point_id)
    form = PointForm(campus_id=current_user.campus_id, point=point)
    if form.validate_on_submit():
        before = point_fields(point)
        form.fill(point)
        record_changes("point.update", point, point_label(point), before, point_fields(point),
                       campus_id=current_user.campus_id)
        db.session.commit()
        flash(_("Point %(code)s saved.", code=point.code))
        return see_other("admin.update_point", point_id=point.id)
    url = scan_url(point)
    preview = "data:image/png;base64," + base64.b64encode(qr_png(url, box_size=4)).decode()
    return render_form("admin/point_form.html", form, point=point, button=EmptyForm(), url=url,
                       preview=preview)


@bp.route("/points/<int:point_id>/retire", methods=["POST"])
@roles_required("admin")
def retire(point_id):
    require_post_form()
    point = get_own(Point, point_id)
    if point.active:
        retire_point(point)
        record("point.retire", point, point_label(point), {"active": [True, False]},
               campus_id=point.campus_id)
    db.session.commit()
    flash(_("Point %(code)s retired: its label no longer opens it.", code=point.code))
    return see_other("admin.update_point", point_id=point.id)


@bp.route("/points/<int:point_id>/reactivate", methods=["POST"])
@roles_required("admin")
def reactivate(point_id):
    require_post_form()
    point = get_own(Point, point_id)
    if not point.active:
        reactivate_point(point)
        record("point.reactivate", point, point_label(point), {"active": [False, True]},
               campus_id=point.campus_id)
    db.session.commit()
    flash(_("Point %(code)s is active again.", code=point.code))
    return see_other("admin.update_point", point_id=point.id)


@bp.route("/points/<int:point_id>/token", methods=["POST"])
@roles_required("admin")
def regenerate_token(point_id):
    require_post_form()
    point = get_own(Point, point_id)
    point.token = new_token()
    record("point.token_regenerate", point, point_label(point), campus_id=point.campus_id)  # never the token
    db.session.commit()
    flash(_("Point %(code)s has a new QR code. Print its label again: the old label no longer opens it.",
            code=point.code))
    return see_other("admin.update_point", point_id=point.id)


@bp.route("/points/import", methods=["GET", "POST"])
@roles_required("admin")
def import_file():
    form = ImportForm()
    result = None
    if form.validate_on_submit():
        upload, campus = form.file.data, current_user.campus
        filename = upload.filename or ""

        def audit(done):
            record("points.import", campus, campus.name,
                   {"file": filename, "created": done.created, "updated": done.updated}, campus_id=campus.id)

        result = import_points(campus, filename, upload.read(), before_commit=audit)
        if not result.errors:
            flash(_("Import done: %(created)d created, %(updated)d updated.",
                    created=result.created, updated=result.updated))
            return see_other("admin.points", status="all")
    return render_form("admin/import.html", form, result=result)


@bp.route("/points/export.csv")
@roles_required("admin")
def export_file():
    # The BOM makes Excel open the file as UTF-8 instead of the system code page.
    body = export_points_csv(current_user.campus).encode("utf-8-sig")
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=points.csv"})


@bp.route("/types")
@roles_required("admin")
def point_type_list():
    in_use = dict(db.session.execute(
        select(Point.point_type_id, func.count()).where(Point.campus_id == current_user.campus_id, Point.active)
        .group_by(Point.point_type_id)).all())
    return render_template("admin/types.html", types=point_types(), in_use=in_use)


@bp.route("/types/new", methods=["GET", "POST"])
@roles_required("admin")
def create_point_type():
    form = NewPointTypeForm()
    if form.validate_on_submit():
        point_type = PointType()
        form.populate_obj(point_type)
        db.session.add(point_type)
        # Templates are shared by every campus: so are their entries (no campus).
        record("type.create", point_type, point_type.key, diff({}, snapshot(point_type, TYPE_FIELDS)),
               campus_id=None)
        db.session.commit()
        flash(_("Point type “%(name)s” saved; now add its checklist items.", name=point_type.name_en))
        return see_other("admin.update_point_type", type_id=point_type.id)
    return render_form("admin/type_new.html", form)


def render_type_page(point_type: PointType, form: PointTypeForm, item_form: NewItemForm, status: int = 200):
    return render_template("admin/type.html", point_type=point_type, form=form, item_form=item_form,
                           button=EmptyForm()), status


@bp.route("/types/<int:type_id>", methods=["GET", "POST"])
@roles_required("admin")
def update_point_type(type_id):
    point_type = get_point_type(type_id)
    form = PointTypeForm(obj=point_type)
    if form.validate_on_submit():
        before = snapshot(point_type, TYPE_FIELDS)
        form.populate_obj(point_type)
        record_changes("type.update", point_type, point_type.key, before, snapshot(point_type, TYPE_FIELDS),
                       campus_id=None)
        db.session.commit()
        flash(_("Point type “%(name)s” saved.", name=point_type.name_en))
        return see_other("admin.update_point_type", type_id=point_type.id)
    item_form = NewItemForm(formdata=None, point_type=point_type)
    return render_type_page(point_type, form, item_form, invalid() if form.is_submitted() else 200)


@bp.route("/types/<int:type_id>/items", methods=["POST"])
@roles_required("admin")
def create_item(type_id):
    point_type = get_point_type(type_id)
    form = NewItemForm(point_type=point_type)
    if form.validate_on_submit():
        item = ChecklistItem(point_type_id=point_type.id, key=form.key.data, active=True)
        fill_item(item, form, point_type)
        db.session.add(item)
        record("item.create", item, item_label(item, point_type), diff({}, snapshot(item, ITEM_FIELDS)),
               campus_id=None)
        db.session.commit()
        flash(_("Item “%(key)s” added.", key=item.key))
        return see_other("admin.update_point_type", type_id=point_type.id)
    return render_type_page(point_type, PointTypeForm(formdata=None, obj=point_type), form, invalid())


def fill_item(item: ChecklistItem, form: ItemForm, point_type: PointType) -> None:
    """Copy the form onto item; without a position, a new item goes last and an old one stays put."""
    for name in ("text_zh", "text_en", "category", "severity", "photo_required"):
        setattr(item, name, getattr(form, name).data)
    if form.position.data is not None:
        item.position = form.position.data
    elif item.position is None:
        item.position = max((other.position for other in point_type.items), default=-1) + 1


@bp.route("/types/<int:type_id>/items/<int:item_id>", methods=["GET", "POST"])
@roles_required("admin")
def update_item(type_id, item_id):
    point_type = get_point_type(type_id)
    item = get_item(point_type, item_id)
    form = ItemForm(obj=item)
    if form.validate_on_submit():
        before = snapshot(item, ITEM_FIELDS)
        fill_item(item, form, point_type)
        record_changes("item.update", item, item_label(item, point_type), before, snapshot(item, ITEM_FIELDS),
                       campus_id=None)
        db.session.commit()
        flash(_("Item “%(key)s” saved.", key=item.key))
        return see_other("admin.update_point_type", type_id=point_type.id)
    return render_form("admin/item_form.html", form, point_type=point_type, item=item)


@bp.route("/types/<int:type_id>/items/<int:item_id>/deactivate", methods=["POST"])
@roles_required("admin")
def deactivate_item(type_id, item_id):
    require_post_form()
    point_type = get_point_type(type_id)
    item = get_item(point_type, item_id)
    # Never deleted: past checks and open hazards refer to the item by its key.
    if item.active:
        item.active = False
        record("item.deactivate", item, item_label(item, point_type), {"active": [True, False]}, campus_id=None)
    db.session.commit()
    flash(_("Item “%(key)s” removed from the checklist.", key=item.key))
    return see_other("admin.update_point_type", type_id=type_id)


@bp.route("/types/<int:type_id>/items/<int:item_id>/activate", methods=["POST"])
@roles_required("admin")
def activate_item(type_id, item_id):
    require_post_form()
    point_type = get_point_type(type_id)
    item = get_item(point_type, item_id)
    if not item.active:
        item.active = True
        record("item.activate", item, item_label(item, point_type), {"active": [False, True]}, campus_id=None)
    db.session.commit()
    flash(_("Item “%(key)s” is back on the checklist.", key=item.key))
    return see_other("admin.update_point_type", type_id=type_id)


def get_own_user(user_id: int) -> User:
    """A user of the admin's campus, or 404."""
    found = db.session.get(User, user_id)
    if found is None or not found.belongs_to(current_user.campus_id):
        abort(404)
    return found


@bp.route("/users")
@roles_required("admin")
def users():
    found = db.session.scalars(select(User).where(campuses.members(current_user.campus_id))
                               .order_by(User.active.desc(), User.username))
    return render_template("admin/users.html", users=list(found))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def create_user():
    form = NewUserForm()
    form.choose_campuses(current_user, None)
    if form.validate_on_submit():
        account = User(username=form.username.data, name=form.name.data,
                       role=form.role.data, locale=form.locale.data, active=True)
        chosen = form.chosen_campuses()
        campuses.set_campuses(account, chosen)
        if current_user.campus in chosen:  # made here: works here first
            account.campus = current_user.campus
        account.set_password(form.password.data)
        db.session.add(account)
        record("user.create", account, account.username, diff({}, snapshot(account, USER_FIELDS)),
               campus_id=account.campus.id)
        db.session.commit()
        flash(_("User %(username)s created.", username=account.username))
        return see_other("admin.users")
    return render_form("admin/user_new.html", form)


def user_action(changed: dict) -> str:
    """One entry per save, named by its weightiest change: the role, then whether the user may log in."""
    if "role" in changed:
        return "user.role"
    if "active" in changed:
        return "user.activate" if changed["active"][1] else "user.deactivate"
    if set(changed) == {"campus_names"}:
        return "user.campuses"
    return "user.update"


def render_user_page(account: User, form: UserForm, password_form: PasswordForm, status: int = 200):
    return render_template("admin/user.html", account=account, form=form, password_form=password_form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def update_user(user_id):
    account = get_own_user(user_id)
    form = UserForm(user=account, actor=current_user)
    if form.validate_on_submit():
        before = snapshot(account, USER_FIELDS)
        form.populate_obj(account)
        campuses.set_campuses(account, form.chosen_campuses())
        changed = diff(before, snapshot(account, USER_FIELDS))
        if changed:
            record(user_action(changed), account, account.username, changed, campus_id=account.campus_id)
        db.session.commit()
        flash(_("User %(username)s saved.", username=account.username))
        return see_other("admin.users")
    return render_user_page(account, form, PasswordForm(formdata=None),
                            invalid() if form.is_submitted() else 200)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def reset_password(user_id):
    account = get_own_user(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        account.set_password(form.password.data)  # ends the user's sessions
        record("user.password_reset", account, account.username, campus_id=account.campus_id)  # never the password
        db.session.commit()
        if account.id == current_user.id:  # an admin resetting their own: this session goes on
            login_user(account, remember=True)
        flash(_("New password set for %(username)s.", username=account.username))
        return see_other("admin.update_user", user_id=account.id)
    return render_user_page(account, UserForm(formdata=None, user=account, actor=current_user), form, invalid())


def chosen_labels(form: LabelSheetForm) -> list[Label]:
    campus = current_user.campus
    return labels_for(campus, label_points(campus, area_ids=form.area.data or (), types=form.type.data or ()))


@bp.route("/labels")
@roles_required(*LABEL_MAKERS)
def labels():
    form = LabelSheetForm(request.args, campus_id=current_user.campus_id)
    sheet, status = None, 200
    if request.args:
        if form.validate():
            sheet = [(label, Markup(qr_svg(label.url))) for label in chosen_labels(form)]
        else:
            status = 422
    size = form.size.data if form.size.data in LABEL_SIZES else "small"
    return render_template("admin/labels.html", form=form, sheet=sheet, size=size,
                           spec=LABEL_SIZES[size]), status


@bp.route("/labels.pdf")
@roles_required(*LABEL_MAKERS)
def labels_file():
    form = LabelSheetForm(request.args, campus_id=current_user.campus_id)
    if not form.validate():
        abort(400)
    chosen = chosen_labels(form)
    if not chosen:
        flash(_("No active points match: there is nothing to print."), "error")
        return see_other("admin.labels", **form.as_args())
    pdf = labels_pdf(chosen, size=form.size.data, title=_("%(school)s · QR labels", school=chosen[0].school))
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                     download_name=f"qr-labels-{form.size.data}.pdf")
from . import audit_log, settings  # noqa: F401,E402
