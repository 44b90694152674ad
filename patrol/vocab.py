"""The words for stored codes (statuses, severities, categories, roles...) in the user's language."""
from flask_babel import lazy_gettext as _l

STATUS = {
    "reported": _l("Reported"),
    "assigned": _l("Being fixed"),
    "rectified": _l("Fixed, awaiting verification"),
    "verified": _l("Verified"),
    "dismissed": _l("Dismissed"),
}
SEVERITY = {"general": _l("General"), "major": _l("Major")}
CATEGORY = {
    "fire": _l("Fire safety"),
    "electrical": _l("Electrical"),
    "building": _l("Buildings"),
    "facilities": _l("Facilities and equipment"),
    "food": _l("Canteen and food"),
    "security": _l("Security and gates"),
    "other": _l("Other"),
}
ROLE = {
    "guard": _l("Guard"),
    "repairer": _l("Repairer"),
    "officer": _l("Safety officer"),
    "admin": _l("Administrator"),
    "viewer": _l("Viewer"),
}
CADENCE = {"daily": _l("Daily"), "weekly": _l("Weekly"), "monthly": _l("Monthly")}
RESULT = {"pass": _l("Pass"), "fail": _l("Fail"), "na": _l("N/A")}
EVENT = {
    "reported": _l("Reported"),
    "seen_again": _l("Seen again"),
    "assigned": _l("Assigned"),
    "rectified": _l("Marked fixed"),
    "verified": _l("Verified"),
    "rejected": _l("Fix rejected"),
    "dismissed": _l("Dismissed"),
    "escalated": _l("Escalated"),
    "deescalated": _l("Escalation withdrawn"),
}


def choices(mapping: dict) -> list[tuple[str, str]]:
    return list(mapping.items())


TEMPLATE_GLOBALS = {
    "STATUS": STATUS, "SEVERITY": SEVERITY, "CATEGORY": CATEGORY, "ROLE": ROLE,
    "CADENCE": CADENCE, "RESULT": RESULT, "EVENT": EVENT,
}
