"""Outbound webhooks: queued in the database with the action, sent after the response, retried with backoff.

A user's action only adds a WebhookDelivery row in its own transaction; a background thread in each
app process (and `patrol webhooks send`, for cron) sends what is due. A receiver that is down or slow
never blocks or fails the action; failures stay visible to the admin.
"""
from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from .extensions import db
from .models import Campus, Hazard, WebhookDelivery, utcnow

FORMATS = ("generic", "robot")
KINDS = ("major_reported", "overdue", "rejected", "test")
BACKOFF_SECONDS = (10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)  # then it is marked failed
SEND_TIMEOUT = 10
CLAIM_SECONDS = 60
POLL_SECONDS = 30

TITLES_ZH = {"major_reported": "新的重大隐患", "overdue": "隐患整改逾期", "rejected": "整改验收不通过",
             "test": "测试消息"}


def hazard_payload(hazard: Hazard | None, kind: str, note: str = "") -> dict:
    """The generic JSON body: the event and the hazard, with a link to its page."""
    body = {"event": kind, "note": note, "sent_at": datetime.now(timezone.utc).isoformat()}
    if hazard is not None:
        base = current_app.config.get("PATROL_BASE_URL", "")
        body["hazard"] = {
            "id": hazard.id, "status": hazard.status, "severity": hazard.severity, "category": hazard.category,
            "point": hazard.point.code if hazard.point else None,
            "location": (hazard.point.name + " " + hazard.point.location) if hazard.point else hazard.location,
            "description": hazard.description,
            "deadline": hazard.deadline.isoformat() if hazard.deadline else None,
            "assignee": hazard.assignee.display_name if hazard.assignee else None,
            "url": f"{base}/hazards/{hazard.id}" if base else None,
        }
    return body


def robot_payload(payload: dict) -> dict:
    """The group-robot text message that WeCom (企业微信) and DingTalk (钉钉) robots accept."""
    lines = [f"【校园安全巡查】{TITLES_ZH.get(payload['event'], payload['event'])}"]
    hazard = payload.get("hazard")
    if hazard:
        lines.append(f"隐患 #{hazard['id']}（{'重大' if hazard['severity'] == 'major' else '一般'}）：{hazard['description']}")
        lines.append(f"位置：{hazard['location'] or '—'}")
        if hazard["deadline"]:
            lines.append(f"整改期限：{hazard['deadline']}")
        if hazard["assignee"]:
            lines.append(f"整改责任人：{hazard['assignee']}")
        if hazard["url"]:
            lines.append(hazard["url"])
    if payload.get("note"):
        lines.append(f"说明：{payload['note']}")
    return {"msgtype": "text", "text": {"content": "\n".join(lines)}}


def enqueue(hazard: Hazard | None, kind: str, note: str = "", campus: Campus | None = None) -> WebhookDelivery | None:
    """Queue a message if the campus has a webhook; part of the caller's transaction (not committed)."""
    campus = campus or db.session.get(Campus, hazard.campus_id)
    if not campus or not campus.webhook_url:
        return None
    payload = hazard_payload(hazard, kind, note)
    if campus.webhook_format == "robot":
        payload = robot_payload(payload)
    delivery = WebhookDelivery(campus_id=campus.id, hazard_id=hazard.id if hazard else None, kind=kind,
                               url=campus.webhook_url, body=json.dumps(payload, ensure_ascii=False),
                               next_attempt_at=utcnow())
    db.session.add(delivery)
    _wake_after_commit()
    return delivery


def send(delivery: WebhookDelivery) -> str | None:
    """POST the body; None on a 2xx answer, else the error in words."""
    if urlsplit(delivery.url).scheme not in ("http", "https"):  # urllib would also open file:// and ftp://
        return "not an http(s) URL"
    request = urllib.request.Request(delivery.url, data=delivery.body.encode(), method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "patrol-webhook/1"})
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            answer = response.read(2000)
            if 200 <= response.status < 300:
                # WeCom and DingTalk answer 200 with an error code in the body.
                try:
                    code = json.loads(answer or b"{}").get("errcode", 0)
                except (ValueError, AttributeError):
                    code = 0
                return None if code in (0, None) else f"errcode {code}: {answer[:200].decode(errors='replace')}"
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # HTTPException: a receiver that answers garbage (BadStatusLine...) is a failed attempt, not a crash.
        return str(getattr(exc, "reason", exc))[:500]


def claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for this process for a while, so two workers never send it twice at once."""
    result = db.session.execute(
        update(WebhookDelivery)
        # Due again here: a worker whose list is stale must not resend what another one just tried.
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
               WebhookDelivery.next_attempt_at <= now,
               or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_due(now: datetime | None = None) -> int:
    """Send every pending delivery that is due; returns how many were attempted."""
    fixed, now = now, now or utcnow()
    due = db.session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now
    ).order_by(WebhookDelivery.id).limit(100)).all()
    attempted = 0
    for delivery_id in due:
        # The real time at each claim: a long batch must not hand out claims that have already run out.
        if not claim(delivery_id, fixed or utcnow()):
            continue
        delivery = db.session.get(WebhookDelivery, delivery_id)
        error = send(delivery)
        attempted += 1
        delivery.attempts += 1
        delivery.claimed_until = None
        if error is None:
            delivery.status, delivery.sent_at, delivery.last_error = "sent", utcnow(), ""
        else:
            delivery.last_error = error
            if delivery.attempts > len(BACKOFF_SECONDS):
                delivery.status = "failed"
            else:
                # From the given clock, so a caller (or a test) that moves time also moves the backoff.
                tried_at = fixed or utcnow()
                delivery.next_attempt_at = tried_at + timedelta(seconds=BACKOFF_SECONDS[delivery.attempts - 1])
        db.session.commit()
    return attempted


def retry(delivery: WebhookDelivery) -> None:
    """An admin's "send again": back to pending, due now."""
    delivery.status, delivery.next_attempt_at, delivery.claimed_until = "pending", utcnow(), None
    _wake_after_commit()


# --- the background sender -------------------------------------------------------------------

_lock = threading.Lock()


class _Sender:
    """The sending thread of one app in one process, with the events that wake and stop it."""

    def __init__(self, app: Flask):
        self.app, self.pid = app, os.getpid()
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.run, name="patrol-webhooks", daemon=True)

    def run(self) -> None:
        """Until stopped: a round when woken, and every PATROL_WEBHOOK_POLL seconds anyway."""
        while not self.stopping.is_set():
            self.wake.wait(timeout=self.app.config.get("PATROL_WEBHOOK_POLL", POLL_SECONDS))
            self.wake.clear()
            if self.stopping.is_set():
                break
            with self.app.app_context():
                try:
                    tick()
                except Exception:  # never let one bad round stop the sender
                    self.app.logger.exception("webhook sender round failed")
                    db.session.rollback()
                finally:
                    db.session.remove()


def _sender(app: Flask) -> _Sender | None:
    sender = app.extensions.get("patrol_webhooks")
    # A thread does not survive gunicorn's fork: each worker process starts its own.
    return sender if sender is not None and sender.pid == os.getpid() else None


def _wake_after_commit() -> None:
    from flask import after_this_request, has_request_context

    if not has_request_context():
        return
    sender = _sender(current_app)
    if sender is None:  # no thread in this process (tests, or cron's `patrol webhooks send`): nothing to wake
        return

    def wake_on_close(response):
        # Woken once the user's answer is complete: the action never waits for the receiver.
        response.call_on_close(sender.wake.set)
        return response

    try:
        after_this_request(wake_on_close)
    except AssertionError:  # already past the point of registering: the poll picks it up
        pass


def start_sender(app: Flask) -> None:
    """One daemon thread per app and process sends due deliveries when woken, and every POLL_SECONDS anyway."""
    if app.config.get("TESTING") and not app.config.get("PATROL_WEBHOOK_THREAD"):
        return
    if _sender(app) is not None:
        return
    with _lock:
        if _sender(app) is not None:
            return
        sender = app.extensions["patrol_webhooks"] = _Sender(app)
        sender.thread.start()


def stop_sender(app: Flask, timeout: float = SEND_TIMEOUT + 5) -> bool:
    """Stop this process's sender thread (tests, a clean shutdown); True once it has ended."""
    with _lock:
        sender = _sender(app)
        app.extensions.pop("patrol_webhooks", None)
    if sender is None:
        return True
    sender.stopping.set()
    sender.wake.set()
    sender.thread.join(timeout)
    return not sender.thread.is_alive()


def tick() -> None:
    """One round of background work: hazards that went overdue, then deliveries that are due."""
    from .hazard_flow import local_today, mark_newly_overdue

    for campus in db.session.scalars(select(Campus)).all():
        mark_newly_overdue(campus.id, local_today(campus.timezone))
    deliver_due()
