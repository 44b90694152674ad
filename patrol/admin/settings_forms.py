"""Campus settings forms: name, timezone, default deadlines, the outbound webhook; the "send again" button."""
from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, ValidationError
from wtforms.widgets import HiddenInput

from ..campuses import name_taken
from ..models import Campus
from ..web import ID_MAX
from .forms import fits, strip

MAX_DEADLINE_DAYS = 365
# Offered in the timezone field's list; any IANA name that zoneinfo knows is accepted.
COMMON_TIMEZONES = ("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "UTC")
WEBHOOK_FORMATS = {
    "generic": _l("Generic JSON"),
    "robot": _l("Group robot (WeCom, DingTalk)"),
}


def deadline_days(label):
    return IntegerField(label, [InputRequired(), NumberRange(min=1, max=MAX_DEADLINE_DAYS)],
                        description=_l("Days after assignment, 1 to %(n)d.", n=MAX_DEADLINE_DAYS))


def name_not_taken(form, field):
    if name_taken(field.data, form.campus_id):
        raise ValidationError(_l("Another campus has this name already."))


class CampusSettingsForm(FlaskForm):
    campus_id: int | None = None  # the campus being edited, which may keep its own name

    name = StringField(_l("School name"), [DataRequired(), fits(Campus.name), name_not_taken], filters=[strip])
    timezone = StringField(_l("Timezone"), [DataRequired(), fits(Campus.timezone)], filters=[strip],
                           description=_l("An IANA name such as Asia/Shanghai: days, weeks and deadlines are counted in it."),
                           render_kw={"list": "timezones", "autocapitalize": "none", "spellcheck": "false"})
    deadline_days_general = deadline_days(_l("Deadline for general hazards (days)"))
    deadline_days_major = deadline_days(_l("Deadline for major hazards (days)"))
    weekend_rounds = BooleanField(_l("Daily rounds are due on Saturdays and Sundays too"),
                                  description=_l("Otherwise daily points are due Monday to Friday."))
    webhook_url = StringField(_l("Webhook URL"), [fits(Campus.webhook_url)], filters=[strip],
                              description=_l("Where new major hazards, overdue hazards and rejected fixes are "
                                             "posted. Leave empty to send nothing."),
                              render_kw={"type": "url", "autocapitalize": "none", "spellcheck": "false",
                                         "placeholder": "https://"})
    webhook_format = RadioField(_l("Message format"), choices=list(WEBHOOK_FORMATS.items()), default="generic")

    def validate_timezone(self, field):
        if field.data not in available_timezones():
            raise ValidationError(_l("Unknown timezone: use a name like Asia/Shanghai."))

    def validate_webhook_url(self, field):
        if not field.data:
            return
        parts = urlsplit(field.data)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(_l("Enter an address starting with http:// or https://, or leave it empty."))

    def fill(self, campus: Campus) -> None:
        """Copy the form onto the campus; an empty webhook URL turns the webhook off."""
        self.populate_obj(campus)
        campus.webhook_url = self.webhook_url.data or ""


class RetryForm(FlaskForm):
    """The "send again" button of one delivery."""

    delivery = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(1, ID_MAX)])


class NewCampusForm(FlaskForm):
    """A further campus (a school's second site, or a school of the district) on this server."""

    campus_id = None
    name = StringField(_l("School name"), [DataRequired(), fits(Campus.name), name_not_taken], filters=[strip])
    timezone = StringField(_l("Timezone"), [DataRequired(), fits(Campus.timezone)], filters=[strip],
                           default="Asia/Shanghai",
                           description=_l("An IANA name such as Asia/Shanghai: days, weeks and deadlines are counted in it."),
                           render_kw={"list": "timezones", "autocapitalize": "none", "spellcheck": "false"})
    weekend_rounds = BooleanField(_l("Daily rounds are due on Saturdays and Sundays too"),
                                  description=_l("Otherwise daily points are due Monday to Friday."))

    validate_timezone = CampusSettingsForm.validate_timezone
