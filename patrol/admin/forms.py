"""Admin forms: areas, points, checklist templates, users, imports, label sheets; the point list filter."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..extensions import db
from ..models import Area, Campus, ChecklistItem, Point, PointType, User
from ..point_import import MAX_PER_PERIOD
from ..points import cadence_for
from ..qr import LABEL_SIZES
from ..vocab import CADENCE, CATEGORY, ROLE, SEVERITY
from ..web import locale_code, small_int

KEY_PATTERN = r"^[a-z0-9_]+$"
MIN_PASSWORD = 8
LANGUAGES = [("zh", "中文"), ("en", "English")]  # each language in its own words
POINT_STATUSES = ("active", "retired", "all")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def fits(column) -> Length:
    """A Length validator taken from the column, so forms and tables never disagree."""
    return Length(max=column.property.columns[0].type.length)


def key_validators(column) -> list:
    return [DataRequired(), fits(column),
            Regexp(KEY_PATTERN, message=_l("Use lowercase letters, digits and underscores only."))]


class EmptyForm(FlaskForm):
    """No fields: the CSRF token for a POST-only button."""


class AreaForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), fits(Area.name)], filters=[strip])
    building = StringField(_l("Building"), [fits(Area.building)], filters=[strip])
    floor = StringField(_l("Floor"), [fits(Area.floor)], filters=[strip])
    zone = StringField(_l("Zone"), [fits(Area.zone)], filters=[strip])
    responsible = StringField(_l("Responsible person"), [fits(Area.responsible)], filters=[strip])

    def __init__(self, *args, campus_id: int, area: Area | None = None, **kwargs):
        super().__init__(*args, obj=area, **kwargs)
        self.campus_id, self.area = campus_id, area

    def validate_name(self, field):
        clash = db.session.scalar(select(Area.id).where(Area.campus_id == self.campus_id,
                                                        Area.name == field.data))
        if clash is not None and (self.area is None or clash != self.area.id):
            raise ValidationError(_l("There is already an area with this name."))


class PointForm(FlaskForm):
    code = StringField(_l("Code"), [DataRequired(), fits(Point.code)], filters=[strip],
                       description=_l("Printed on the label; unique on this campus."))
    name = StringField(_l("Name"), [DataRequired(), fits(Point.name)], filters=[strip])
    area_id = SelectField(_l("Area"), coerce=int)
    point_type_id = SelectField(_l("Type"), coerce=int)
    location = StringField(_l("Location"), [fits(Point.location)], filters=[strip])
    cadence = SelectField(_l("Cadence"), choices=[("", _l("As its type")), *CADENCE.items()])
    per_period = IntegerField(_l("Times per period"),
                              [Optional(), NumberRange(min=1, max=MAX_PER_PERIOD)],
                              description=_l("Left empty: as its type."))

    def __init__(self, *args, campus_id: int, point: Point | None = None, **kwargs):
        super().__init__(*args, obj=point, **kwargs)
        self.campus_id, self.point = campus_id, point
        self.area_id.choices = [(a.id, a.name) for a in db.session.scalars(
            select(Area).where(Area.campus_id == campus_id).order_by(Area.name))]
        locale = locale_code()
        self.point_type_id.choices = [(t.id, t.name(locale)) for t in point_types()]

    def validate_code(self, field):
        clash = db.session.scalar(select(Point.id).where(Point.campus_id == self.campus_id,
                                                         Point.code == field.data))
        if clash is not None and (self.point is None or clash != self.point.id):
            raise ValidationError(_l("Another point on this campus has this code."))

    def fill(self, point: Point) -> None:
        """Copy the form onto point; a blank cadence or count takes its type's default."""
        point_type = db.session.get(PointType, self.point_type_id.data)
        point.campus_id = self.campus_id
        point.code, point.name, point.location = self.code.data, self.name.data, self.location.data
        point.area_id, point.point_type_id = self.area_id.data, point_type.id
        point.cadence, point.per_period = cadence_for(point_type, self.cadence.data, self.per_period.data)


def point_types() -> list[PointType]:
    return list(db.session.scalars(select(PointType).order_by(PointType.id)))


class PointTypeForm(FlaskForm):
    name_zh = StringField(_l("Name (Chinese)"), [DataRequired(), fits(PointType.name_zh)], filters=[strip])
    name_en = StringField(_l("Name (English)"), [DataRequired(), fits(PointType.name_en)], filters=[strip])
    cadence = SelectField(_l("Default cadence"), choices=list(CADENCE.items()))
    per_period = IntegerField(_l("Default times per period"),
                              [InputRequired(), NumberRange(min=1, max=MAX_PER_PERIOD)], default=1)


class NewPointTypeForm(PointTypeForm):
    key = StringField(_l("Key"), key_validators(PointType.key), filters=[strip],
                      description=_l("Lowercase letters, digits and underscores; it never changes afterwards."))

    def validate_key(self, field):
        if db.session.scalar(select(PointType.id).where(PointType.key == field.data)) is not None:
            raise ValidationError(_l("There is already a point type with this key."))


class ItemForm(FlaskForm):
    text_zh = StringField(_l("Text (Chinese)"), [DataRequired(), fits(ChecklistItem.text_zh)], filters=[strip])
    text_en = StringField(_l("Text (English)"), [DataRequired(), fits(ChecklistItem.text_en)], filters=[strip])
    category = SelectField(_l("Category"), choices=list(CATEGORY.items()))
    severity = SelectField(_l("Severity if failed"), choices=list(SEVERITY.items()))
    photo_required = BooleanField(_l("A failed check needs a photo"))
    position = IntegerField(_l("Position"), [Optional(), NumberRange(min=0, max=10000)],
                            description=_l("Items are listed by position; left empty: at the end."))


class NewItemForm(ItemForm):
    key = StringField(_l("Key"), key_validators(ChecklistItem.key), filters=[strip],
                      description=_l("Lowercase letters, digits and underscores; it never changes afterwards."))

    def __init__(self, *args, point_type: PointType, **kwargs):
        super().__init__(*args, **kwargs)
        self.point_type = point_type

    def validate_key(self, field):
        if any(item.key == field.data for item in self.point_type.items):
            raise ValidationError(_l("This checklist already has an item with this key."))


class CampusChoice:
    """The campuses a user belongs to, among those of the admin editing them (others are left as they are).

    Shown only to an admin of several campuses; with one, the user simply belongs to it.
    """

    campuses = SelectMultipleField(_l("Campuses"), coerce=int, widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput())

    def choose_campuses(self, actor: User, user: User | None) -> None:
        self.offered = {campus.id: campus for campus in actor.campuses}
        self.campuses.choices = [(campus.id, campus.name) for campus in actor.campuses]
        self.keeps = [c for c in user.campuses if c.id not in self.offered] if user else []
        if not self.is_submitted():
            self.campuses.data = ([c.id for c in user.campuses if c.id in self.offered] if user
                                  else [actor.campus_id])
        self.several = len(self.offered) > 1

    def chosen_campuses(self) -> list[Campus]:
        return self.keeps + [self.offered[i] for i in self.campuses.data or [] if i in self.offered]

    def validate_campuses(self, field):
        if not self.several:  # not shown: the admin's own campus
            field.data = list(self.offered)
        if not self.chosen_campuses():
            raise ValidationError(_l("Choose at least one campus."))


class NewUserForm(CampusChoice, FlaskForm):
    username = StringField(_l("Username"), [DataRequired(), fits(User.username),
                                            Regexp(r"^[\w.@-]+$", message=_l("No spaces: letters, digits and . _ - @ only."))],
                           filters=[strip], render_kw={"autocomplete": "off", "autocapitalize": "none"})
    name = StringField(_l("Name"), [fits(User.name)], filters=[strip])
    role = SelectField(_l("Role"), choices=list(ROLE.items()))
    locale = SelectField(_l("Language"), choices=LANGUAGES)
    password = PasswordField(_l("Password"), [DataRequired(), Length(min=MIN_PASSWORD, max=200)],
                             render_kw={"autocomplete": "new-password"})

    def validate_username(self, field):
        if db.session.scalar(select(User.id).where(User.username == field.data)) is not None:
            raise ValidationError(_l("This username is taken."))


class UserForm(CampusChoice, FlaskForm):
    name = StringField(_l("Name"), [fits(User.name)], filters=[strip])
    role = SelectField(_l("Role"), choices=list(ROLE.items()))
    locale = SelectField(_l("Language"), choices=LANGUAGES)
    active = BooleanField(_l("Active (may log in)"))

    def __init__(self, *args, user: User, actor: User, **kwargs):
        super().__init__(*args, obj=user, **kwargs)
        # An admin who demotes or locks out themselves can leave a campus with no admin at all.
        self.is_self = user.id == actor.id
        self.actor = actor
        self.choose_campuses(actor, user)

    def validate_campuses(self, field):
        super().validate_campuses(field)
        if self.is_self and self.actor.campus_id not in (field.data or []):
            raise ValidationError(_l("You cannot leave the campus you are working in; switch to another first."))

    def populate_obj(self, obj):
        for name in ("name", "role", "locale", "active"):
            getattr(self, name).populate_obj(obj, name)

    def validate_role(self, field):
        if self.is_self and field.data != "admin":
            raise ValidationError(_l("You cannot take away your own administrator role."))

    def validate_active(self, field):
        if self.is_self and not field.data:
            raise ValidationError(_l("You cannot deactivate your own account."))


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), [DataRequired(), Length(min=MIN_PASSWORD, max=200)],
                             render_kw={"autocomplete": "new-password"})


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or Excel (.xlsx) file"), [FileRequired(_l("Choose a file to import."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})


SIZE_NAMES = {"small": _l("Small"), "large": _l("Large")}


def size_label(key: str):
    spec = LABEL_SIZES[key]
    return _l("%(size)s: %(w)d × %(h)d mm, %(n)d per page", size=SIZE_NAMES[key], w=spec.width,
              h=spec.height, n=spec.columns * spec.rows)


class LabelSheetForm(FlaskForm):
    """Which points go on a label sheet: read from the query string, so no CSRF."""

    class Meta:
        csrf = False

    area = SelectMultipleField(_l("Areas"), coerce=int, widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput())
    type = SelectMultipleField(_l("Types"), widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput())
    size = RadioField(_l("Label size"), choices=[(key, size_label(key)) for key in LABEL_SIZES],
                      default="small")

    def __init__(self, formdata, *, campus_id: int, **kwargs):
        super().__init__(formdata, **kwargs)
        self.area.choices = [(a.id, a.name) for a in db.session.scalars(
            select(Area).where(Area.campus_id == campus_id).order_by(Area.name))]
        locale = locale_code()
        self.type.choices = [(t.key, t.name(locale)) for t in point_types()]

    def as_args(self) -> dict:
        return {"area": self.area.data or [], "type": self.type.data or [], "size": self.size.data}


@dataclass
class PointFilter:
    """Which points the admin list shows; values that are not valid choices are ignored."""

    area: int | None = None
    type: str = ""
    status: str = "active"
    q: str = ""

    @classmethod
    def from_args(cls, args) -> PointFilter:
        area = args.get("area", "")
        status = args.get("status", "")
        return cls(area=small_int(area),
                   type=args.get("type", "").strip()[:50],
                   status=status if status in POINT_STATUSES else "active",
                   q=args.get("q", "").strip()[:100])

    def as_args(self) -> dict:
        args = {"area": self.area or "", "type": self.type,
                "status": "" if self.status == "active" else self.status, "q": self.q}
        return {k: v for k, v in args.items() if v}

    def statement(self, campus_id: int) -> Select:
        """Points of the campus matching the filter, in code order."""
        stmt = (select(Point).where(Point.campus_id == campus_id)
                .options(selectinload(Point.area), selectinload(Point.point_type))
                .order_by(Point.code))
        if self.status != "all":
            stmt = stmt.where(Point.active == (self.status == "active"))
        if self.area:
            stmt = stmt.where(Point.area_id == self.area)
        if self.type:
            stmt = stmt.where(Point.point_type.has(PointType.key == self.type))
        if self.q:
            pattern = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(Point.code.ilike(pattern, escape="\\"),
                                  Point.name.ilike(pattern, escape="\\")))
        return stmt
