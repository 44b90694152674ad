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
EVENT = {  # HazardEvent.action: "reported", "seen_again", or a hazard_flow action
    "reported": _l("Reported"),
    "seen_again": _l("Seen again"),
    "assign": _l("Assigned"),
    "dismiss": _l("Dismissed"),
    "rectify": _l("Marked fixed"),
    "request_extension": _l("Extension requested"),
    "approve_extension": _l("Extension approved"),
    "refuse_extension": _l("Extension refused"),
    "verify": _l("Verified"),
    "reject": _l("Fix rejected"),
    "escalate": _l("Escalated"),
    "deescalate": _l("Escalation withdrawn"),
}

ACTION = {  # what a hazard_flow action's button says
    "assign": _l("Assign"),
    "dismiss": _l("Dismiss"),
    "rectify": _l("Mark fixed"),
    "request_extension": _l("Ask for more time"),
    "approve_extension": _l("Approve the extension"),
    "refuse_extension": _l("Refuse the extension"),
    "verify": _l("Verify the fix"),
    "reject": _l("Reject the fix"),
    "escalate": _l("Escalate"),
    "deescalate": _l("Withdraw the escalation"),
}
NOTICE = {  # Notification.kind
    "reported": _l("New hazard reported"),
    "assigned": _l("Assigned to you"),
    "rectified": _l("Fixed, please verify"),
    "extension_requested": _l("More time requested"),
    "extension_approved": _l("Extension approved"),
    "extension_refused": _l("Extension refused"),
    "verified": _l("Your fix was verified"),
    "rejected": _l("Your fix was rejected"),
    "overdue": _l("Overdue"),
}


CLOCK_FLAG = {  # Check.clock_flag
    "future": _l("Clock ahead"),
    "stale": _l("Arrived late"),
}

TEMPLATE_GLOBALS = {
    "STATUS": STATUS, "SEVERITY": SEVERITY, "CATEGORY": CATEGORY, "ROLE": ROLE,
    "CADENCE": CADENCE, "RESULT": RESULT, "EVENT": EVENT, "ACTION": ACTION, "NOTICE": NOTICE,
    "CLOCK_FLAG": CLOCK_FLAG,
}
