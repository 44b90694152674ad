"""Campus settings and the outbound webhook's deliveries: routes on the admin blueprint."""
from __future__ import annotations

from flask import abort, flash, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, case, func, select

from .. import campuses, webhooks
from ..audit import diff, record, snapshot
from ..auth import roles_required
from ..extensions import db
from ..models import Campus, WebhookDelivery
from ..web import paginate
from .forms import EmptyForm
from .settings_forms import COMMON_TIMEZONES, WEBHOOK_FORMATS, CampusSettingsForm, NewCampusForm, RetryForm
from .views import bp, get_own, render_form, require_post_form, see_other

DELIVERIES_PER_PAGE = 50
SETTINGS_FIELDS = ("name", "timezone", "deadline_days_general", "deadline_days_major", "weekend_rounds",
                   "webhook_url", "webhook_format")
DELIVERY_STATUS = {"pending": _l("Waiting"), "sent": _l("Sent"), "failed": _l("Failed")}
WEBHOOK_KIND = {
    "major_reported": _l("New major hazard"),
    "overdue": _l("Hazard overdue"),
    "rejected": _l("Fix rejected"),
    "test": _l("Test message"),
}


def delivery_label(delivery: WebhookDelivery) -> str:
    return f"#{delivery.id} {delivery.kind}"


def own_campus() -> Campus:
    return current_user.campus or abort(404)


def delivery_counts(campus_id: int) -> dict[str, int]:
    """How many of the campus's deliveries are in each status (missing: none)."""
    return dict(db.session.execute(
        select(WebhookDelivery.status, func.count()).where(WebhookDelivery.campus_id == campus_id)
        .group_by(WebhookDelivery.status)).all())


def failed_count(campus_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.campus_id == campus_id, WebhookDelivery.status == "failed"))


def deliveries_statement(campus_id: int) -> Select:
    """The campus's deliveries: failed ones first (they need the admin), then newest first."""
    failed_first = case((WebhookDelivery.status == "failed", 0), else_=1)
    return (select(WebhookDelivery).where(WebhookDelivery.campus_id == campus_id)
            .order_by(failed_first, WebhookDelivery.id.desc()))


@bp.context_processor
def webhook_failures():
    # A function, so only the pages that show the count (the admin index) run the query.
    return {"failed_webhook_count": lambda: failed_count(current_user.campus_id)}


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings():
    campus = own_campus()
    form = CampusSettingsForm(obj=campus)
    form.campus_id = campus.id
    if form.validate_on_submit():
        before = snapshot(campus, SETTINGS_FIELDS)
        form.fill(campus)
        changed = diff(before, snapshot(campus, SETTINGS_FIELDS))
        if changed:  # the webhook URL's query (a robot's key) is hidden by the audit log itself
            record("settings.update", campus, campus.name, changed, campus_id=campus.id)
        db.session.commit()
        flash(_("Settings saved."))
        return see_other("admin.settings")
    return render_form("admin/settings.html", form, campus=campus, button=EmptyForm(),
                       timezones=COMMON_TIMEZONES, formats=WEBHOOK_FORMATS, counts=delivery_counts(campus.id),
                       statuses=DELIVERY_STATUS)


@bp.route("/campuses/new", methods=["GET", "POST"])
@roles_required("admin")
def create_campus():
    """Another campus on this server; its maker belongs to it and goes there to set it up."""
    form = NewCampusForm()
    if form.validate_on_submit():
        campus = campuses.create(form.name.data, form.timezone.data, form.weekend_rounds.data)
        current_user.campuses.append(campus)
        db.session.commit()
        campuses.enter(current_user, campus.id)
        flash(_("Campus %(name)s created: you are working in it now. Add its areas, points and people.",
                name=campus.name))
        return see_other("admin.index")
    return render_form("admin/campus_new.html", form, timezones=COMMON_TIMEZONES)


@bp.route("/settings/test", methods=["POST"])
@roles_required("admin")
def send_test_message():
    require_post_form()
    campus = own_campus()
    delivery = webhooks.enqueue(None, "test", campus=campus)
    if delivery is None:
        flash(_("Save a webhook URL first: there is nowhere to send the test message."), "error")
        return see_other("admin.settings")
    db.session.flush()  # the label shows the delivery's id
    record("webhook.test", delivery, delivery_label(delivery), campus_id=campus.id)
    db.session.commit()
    flash(_("Test message queued: its outcome shows in the list below within a few seconds."))
    return see_other("admin.webhook_deliveries")


@bp.route("/webhooks")
@roles_required("admin")
def webhook_deliveries():
    campus = own_campus()
    page = paginate(deliveries_statement(campus.id), per_page=DELIVERIES_PER_PAGE)
    return render_template("admin/webhooks.html", campus=campus, page=page, counts=delivery_counts(campus.id),
                           statuses=DELIVERY_STATUS, kinds=WEBHOOK_KIND)


@bp.route("/webhooks/retry", methods=["POST"])
@roles_required("admin")
def retry_delivery():
    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    delivery = get_own(WebhookDelivery, form.delivery.data)
    if delivery.status == "sent":
        flash(_("This message was already sent."), "error")
    else:
        before = delivery.status
        webhooks.retry(delivery)
        record("webhook.retry", delivery, delivery_label(delivery),
               {"status": [before, delivery.status], "attempts": delivery.attempts}, campus_id=delivery.campus_id)
        db.session.commit()
        flash(_("The message will be sent again in a moment."))
    return see_other("admin.webhook_deliveries")
