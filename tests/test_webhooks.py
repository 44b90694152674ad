"""Outbound webhooks against a real receiver on loopback: formats, backoff, failures shown to admins, never blocking."""
from __future__ import annotations

import http.cookiejar
import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import CSRF, PASSWORD, csrf_from, jpeg_bytes, make_app, point
from sqlalchemy import func, select
from werkzeug.serving import make_server

OK_ANSWER = b'{"errcode":0,"errmsg":"ok"}'


class Receiver:
    """A webhook receiver on 127.0.0.1: records each request and answers as told; can hold answers or refuse."""

    def __init__(self, listening: bool = True):
        self.requests: list[dict] = []
        self.status, self.answer = 200, OK_ANSWER
        self.garbage = False  # answer with something that is not HTTP at all
        self.hold: threading.Event | None = None  # when set here, each answer waits for this event
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer, garbage = receiver.status, receiver.answer, receiver.garbage
                receiver.requests.append({"headers": dict(self.headers), "body": body, "accepted": not garbage
                                          and 200 <= status < 300 and json.loads(answer).get("errcode", 0) == 0})
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                if garbage:
                    self.wfile.write(b"nonsense\r\n\r\n")
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        # Bound but not listening: connections are refused, as when the receiver is down.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread: threading.Thread | None = None
        if listening:
            self.listen()

    def listen(self) -> None:
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict]:
        """The bodies of the requests answered with success."""
        return [json.loads(r["body"]) for r in self.requests if r["accepted"]]

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


# --- helpers ---------------------------------------------------------------------------------

def use_webhook(app, campus, url, fmt="generic"):
    from patrol.extensions import db
    from patrol.models import Campus

    with app.app_context():
        school = db.session.get(Campus, campus["campus_id"])
        school.webhook_url, school.webhook_format = url, fmt
        db.session.commit()


def deliver(app, now=None) -> int:
    from patrol import webhooks

    with app.app_context():
        return webhooks.deliver_due(now=now)


def deliveries(app) -> list:
    from patrol.extensions import db
    from patrol.models import WebhookDelivery

    with app.app_context():
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        db.session.expunge_all()
        return rows


def check_failing(app, client, code, item, note, photo=True):
    """A guard's check over HTTP with every item passed except one failed, as the phone would send it."""
    p = point(app, code)
    page = client.get(f"/p/{p.token}")
    html = page.get_data(as_text=True)
    keys = dict.fromkeys(re.findall(r'name="result-([a-z_]+)"', html))
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    data = {"csrf_token": csrf_from(page), "client_uuid": client_uuid, **{f"result-{k}": "pass" for k in keys},
            f"result-{item}": "fail", f"note-{item}": note}
    if photo:
        data[f"photo-{item}"] = (io.BytesIO(jpeg_bytes()), "photo.jpg")
    return client.post(f"/p/{p.token}", data=data, content_type="multipart/form-data")


def hazard_by(app, description):
    from patrol.extensions import db
    from patrol.models import Hazard

    with app.app_context():
        found = db.session.scalars(select(Hazard).where(Hazard.description == description)).one()
        db.session.expunge(found)
        return found


def make_hazard(app, campus, status="rectified", deadline_days=3, description="消防通道门无法关闭",
                severity="general"):
    """A hazard on P-EXIT, assigned to the repairer (and fixed by them, unless status says otherwise)."""
    from patrol.extensions import db
    from patrol.hazard_flow import local_today
    from patrol.models import Hazard, Point, User

    with app.app_context():
        exit_point = db.session.scalar(select(Point).where(Point.code == "P-EXIT"))
        repairer = db.session.scalar(select(User).where(User.username == "repairer"))
        hazard = Hazard(campus_id=campus["campus_id"], point_id=exit_point.id, area_id=exit_point.area_id,
                        location=exit_point.location, category="fire", severity=severity, status=status,
                        description=description, assignee_id=repairer.id,
                        deadline=local_today("Asia/Shanghai") + timedelta(days=deadline_days),
                        rectified_by_id=repairer.id if status == "rectified" else None)
        db.session.add(hazard)
        db.session.commit()
        return hazard.id


def hazard_status(app, hazard_id) -> str:
    from patrol.extensions import db
    from patrol.models import Hazard

    with app.app_context():
        return db.session.scalar(select(Hazard.status).where(Hazard.id == hazard_id))


def reject(app, hazard_id, note="门仍无法关闭"):
    from patrol.extensions import db
    from patrol.hazard_flow import ActionInput, perform
    from patrol.models import Hazard, User

    with app.app_context():
        officer = db.session.scalar(select(User).where(User.username == "officer"))
        perform(db.session.get(Hazard, hazard_id), officer, "reject", ActionInput(note=note))


def login(auth, client, role="admin"):
    """Log in and switch to English, so assertions read the msgids."""
    auth.login(role)
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": csrf_from(client.get("/"))})


def post(client, url, data=None, form_page="/"):
    token = csrf_from(client.get(form_page))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def text(response) -> str:
    return response.get_data(as_text=True)


# --- what is sent ------------------------------------------------------------------------------

def test_new_major_hazard_is_posted_as_generic_json(app, campus, client, auth, receiver):
    use_webhook(app, campus, receiver.url)
    auth.login("guard")
    general = check_failing(app, client, "P-EXIT", "signs_lights", "应急灯不亮", photo=False)
    assert general.status_code == 201
    assert deliver(app) == 0 and receiver.requests == []  # a general hazard sends nothing

    response = check_failing(app, client, "P-EXIT", "unblocked", "楼梯口堆放桌椅")
    assert response.status_code == 201
    assert deliver(app) == 1
    hazard = hazard_by(app, "楼梯口堆放桌椅")
    exit_point = point(app, "P-EXIT")
    [request] = receiver.requests
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(request["body"])
    assert body["event"] == "major_reported"
    assert body["hazard"]["id"] == hazard.id
    assert body["hazard"]["severity"] == "major"
    assert body["hazard"]["description"] == "楼梯口堆放桌椅"
    assert body["hazard"]["location"] == f"{exit_point.name} {exit_point.location}"
    assert body["hazard"]["url"] == f"http://patrol.test/hazards/{hazard.id}"
    assert deliver(app) == 0 and len(receiver.requests) == 1
    [sent] = deliveries(app)
    assert (sent.kind, sent.status, sent.attempts, sent.hazard_id) == ("major_reported", "sent", 1, hazard.id)


def test_rejected_fix_is_posted(app, campus, receiver):
    use_webhook(app, campus, receiver.url)
    hazard_id = make_hazard(app, campus)
    reject(app, hazard_id, note="门仍无法关闭")
    assert deliver(app) == 1
    [body] = receiver.accepted()
    assert body["event"] == "rejected" and body["note"] == "门仍无法关闭"
    assert body["hazard"]["id"] == hazard_id and body["hazard"]["status"] == "assigned"


def test_overdue_hazard_is_posted_once_however_often_tick_runs(app, campus, receiver):
    from patrol import webhooks

    use_webhook(app, campus, receiver.url)
    overdue = make_hazard(app, campus, status="assigned", deadline_days=-1, description="配电箱前堆放杂物")
    make_hazard(app, campus, status="assigned", deadline_days=0, description="今天到期")  # due today: not yet overdue
    with app.app_context():
        webhooks.tick()
        webhooks.tick()
    [body] = receiver.accepted()
    assert body["event"] == "overdue" and body["hazard"]["id"] == overdue
    assert len(receiver.requests) == 1


def test_robot_format_is_a_chinese_text_message(app, campus, client, auth, receiver):
    use_webhook(app, campus, receiver.url, fmt="robot")
    auth.login("guard")
    assert check_failing(app, client, "P-EXIT", "unblocked", "安全出口被锁").status_code == 201
    assert deliver(app) == 1
    [body] = receiver.accepted()
    assert set(body) == {"msgtype", "text"} and body["msgtype"] == "text"
    assert set(body["text"]) == {"content"}
    content = body["text"]["content"]
    hazard = hazard_by(app, "安全出口被锁")
    assert "新的重大隐患" in content and f"隐患 #{hazard.id}（重大）：安全出口被锁" in content
    assert f"http://patrol.test/hazards/{hazard.id}" in content


# --- failures and retries ----------------------------------------------------------------------

FAILURES = {
    "down": r"Connection refused",
    "http_500": r"^HTTP 500$",
    "errcode": r"^errcode 310000",
    "garbage": r"nonsense",
}


@pytest.mark.parametrize("failure", FAILURES)
def test_failing_receiver_never_fails_the_action_and_is_retried_with_backoff(app, campus, client, auth, failure):
    from patrol.models import utcnow
    from patrol.webhooks import BACKOFF_SECONDS

    receiver = Receiver(listening=failure != "down")
    try:
        if failure == "http_500":
            receiver.status = 500
        elif failure == "errcode":
            receiver.answer = b'{"errcode":310000,"errmsg":"keywords not in content"}'
        elif failure == "garbage":
            receiver.garbage = True
        use_webhook(app, campus, receiver.url)
        auth.login("guard")
        response = check_failing(app, client, "P-EXIT", "unblocked", "出口堆放杂物")
        assert response.status_code == 201  # the guard's check is recorded whatever the receiver does
        assert hazard_by(app, "出口堆放杂物").status == "reported"

        start = utcnow()
        assert deliver(app, now=start) == 1
        [waiting] = deliveries(app)
        assert (waiting.status, waiting.attempts) == ("pending", 1)
        assert re.search(FAILURES[failure], waiting.last_error), waiting.last_error
        assert waiting.next_attempt_at == start + timedelta(seconds=BACKOFF_SECONDS[0])
        assert deliver(app, now=waiting.next_attempt_at - timedelta(seconds=1)) == 0  # not due yet

        if failure == "down":
            receiver.listen()
        receiver.status, receiver.answer, receiver.garbage = 200, OK_ANSWER, False
        assert deliver(app, now=waiting.next_attempt_at) == 1
        [sent] = deliveries(app)
        assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, "")
        assert deliver(app, now=waiting.next_attempt_at + timedelta(days=1)) == 0
        assert [body["event"] for body in receiver.accepted()] == ["major_reported"]
    finally:
        receiver.close()


def test_failed_after_every_retry_shows_to_admin_and_can_be_sent_again(app, campus, client, auth, receiver):
    from patrol.models import utcnow
    from patrol.webhooks import BACKOFF_SECONDS

    receiver.status = 503
    use_webhook(app, campus, receiver.url)
    hazard_id = make_hazard(app, campus)
    reject(app, hazard_id)
    now = utcnow()
    for attempt in range(1, len(BACKOFF_SECONDS) + 2):
        assert deliver(app, now=now) == 1
        [delivery] = deliveries(app)
        assert delivery.attempts == attempt
        now = delivery.next_attempt_at
    assert (delivery.status, delivery.last_error) == ("failed", "HTTP 503")
    assert deliver(app, now=now + timedelta(days=30)) == 0
    assert len(receiver.requests) == len(BACKOFF_SECONDS) + 1 and receiver.accepted() == []

    login(auth, client)
    index = text(client.get("/admin/"))
    assert 'href="/admin/settings"' in index and "(1 webhook message failed)" in index
    page = text(client.get("/admin/webhooks"))
    row = re.search(rf'<tr id="delivery-{delivery.id}" class="delivery-failed">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "Failed" in row and "HTTP 503" in row and "Fix rejected" in row and "Send again" in row
    assert f'href="/hazards/{hazard_id}"' in row

    response = post(client, "/admin/webhooks/retry", {"delivery": delivery.id}, "/admin/webhooks")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/webhooks"
    [again] = deliveries(app)
    assert again.status == "pending"
    receiver.status = 200
    assert deliver(app) == 1
    [sent] = deliveries(app)
    assert sent.status == "sent"
    assert [body["event"] for body in receiver.accepted()] == ["rejected"]
    assert "webhook message failed" not in text(client.get("/admin/"))
    assert "Sent" in text(client.get("/admin/webhooks"))
    response = post(client, "/admin/webhooks/retry", {"delivery": delivery.id}, "/admin/webhooks")
    assert response.status_code == 303 and "already sent" in text(client.get("/admin/webhooks"))
    assert [d.status for d in deliveries(app)] == ["sent"] and len(receiver.accepted()) == 1


def test_failed_deliveries_are_listed_first(app, campus, client, auth, receiver):
    from patrol.extensions import db
    from patrol.models import WebhookDelivery

    use_webhook(app, campus, receiver.url)
    with app.app_context():
        for n in range(3):
            db.session.add(WebhookDelivery(campus_id=campus["campus_id"], kind="test", url=receiver.url, body="{}",
                                           status="failed" if n == 0 else "sent", last_error=f"error {n}"))
        db.session.commit()
    login(auth, client)
    page = text(client.get("/admin/webhooks"))
    assert re.findall(r'<tr id="delivery-(\d+)"', page) == ["1", "3", "2"]
    assert "1 message failed after every retry" in page


# --- never blocking, never twice ---------------------------------------------------------------

@pytest.fixture
def served(app, campus, tmp_path, database_url):
    """A second app on the same database, with its background sender on, served over real HTTP."""
    from patrol import webhooks
    from patrol.extensions import db

    threaded = make_app(tmp_path / "instance", database_url, PATROL_WEBHOOK_THREAD=True, PATROL_WEBHOOK_POLL=0.05)
    server = make_server("127.0.0.1", 0, threaded, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield threaded, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()
    assert webhooks.stop_sender(threaded)
    with threaded.app_context():
        db.session.remove()
        db.engine.dispose()


class KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    """A urllib client with its own cookies, like one browser tab."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                       KeepRedirects)


def fetch(opener, url, form=None) -> tuple[int, str, str]:
    """GET (or POST the form) over real HTTP: status, Location, body."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status, response.headers.get("Location", ""), response.read().decode()
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, answer.headers.get("Location", ""), answer.read().decode()


def test_a_blocked_receiver_never_blocks_the_action(app, campus, served, receiver):
    from patrol.extensions import db
    from patrol.models import WebhookDelivery

    _, base = served
    use_webhook(app, campus, receiver.url)
    hazard_id = make_hazard(app, campus)
    officer = browser()
    _, _, page = fetch(officer, f"{base}/login")
    status, _, _ = fetch(officer, f"{base}/login", {"username": "officer", "password": PASSWORD,
                                                    "csrf_token": CSRF.search(page).group(1)})
    assert status == 302
    status, _, page = fetch(officer, f"{base}/hazards/{hazard_id}")
    assert status == 200
    receiver.hold = threading.Event()

    status, location, _ = fetch(officer, f"{base}/hazards/{hazard_id}/actions/reject",
                                {"note": "仍有杂物", "csrf_token": CSRF.search(page).group(1)})
    assert status == 303 and location.endswith(f"/hazards/{hazard_id}")
    assert not receiver.hold.is_set()  # the action is done; the receiver has not been allowed to answer
    assert hazard_status(app, hazard_id) == "assigned"
    assert receiver.arrived.wait(10)  # the sender thread reached the receiver and is held there
    status, _, _ = fetch(officer, f"{base}/hazards/{hazard_id}")
    assert status == 200  # the app keeps serving meanwhile
    [held] = deliveries(app)
    assert (held.status, held.attempts) == ("pending", 0)

    receiver.hold.set()
    deadline = time.monotonic() + 10
    with app.app_context():
        while db.session.scalar(select(WebhookDelivery.status)) != "sent":
            assert time.monotonic() < deadline, "the background sender did not finish"
            db.session.rollback()
            time.sleep(0.02)
    [sent] = deliveries(app)
    # One attempt, and it succeeded: the only send was the held one, answered after the action returned.
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, "")
    assert [body["event"] for body in receiver.accepted()] == ["rejected"]


def test_a_claim_keeps_a_second_worker_from_sending(app, campus, receiver):
    from patrol import webhooks
    from patrol.extensions import db
    from patrol.models import Campus, utcnow

    use_webhook(app, campus, receiver.url)
    with app.app_context():
        delivery = webhooks.enqueue(None, "test", campus=db.session.get(Campus, campus["campus_id"]))
        db.session.commit()
        delivery_id, now = delivery.id, utcnow()
        assert webhooks.claim(delivery_id, now) is True
        assert webhooks.claim(delivery_id, now) is False  # the second worker
        assert webhooks.deliver_due(now=now) == 0
        # A worker that died mid-send holds its claim only CLAIM_SECONDS.
        later = now + timedelta(seconds=webhooks.CLAIM_SECONDS + 1)
        assert webhooks.deliver_due(now=later) == 1
        assert webhooks.claim(delivery_id, later) is False  # sent: nobody claims it again
    assert len(receiver.accepted()) == 1


def test_a_worker_with_a_stale_list_does_not_resend_before_the_backoff(app, campus, receiver):
    from patrol import webhooks
    from patrol.extensions import db
    from patrol.models import Campus, utcnow

    receiver.status = 500
    use_webhook(app, campus, receiver.url)
    with app.app_context():
        delivery = webhooks.enqueue(None, "test", campus=db.session.get(Campus, campus["campus_id"]))
        db.session.commit()
        delivery_id, now = delivery.id, utcnow()
        assert webhooks.deliver_due(now=now) == 1  # one worker tries and fails
        # Another worker that listed it as due before that attempt must leave it to the backoff.
        assert webhooks.claim(delivery_id, now) is False
    assert len(receiver.requests) == 1


def test_only_http_addresses_are_ever_opened(app, campus):
    from patrol.extensions import db
    from patrol.models import WebhookDelivery

    with app.app_context():
        db.session.add(WebhookDelivery(campus_id=campus["campus_id"], kind="test", url="file:///etc/passwd", body="{}"))
        db.session.commit()
    assert deliver(app) == 1
    [refused] = deliveries(app)
    assert (refused.status, refused.last_error) == ("pending", "not an http(s) URL")


def test_two_workers_racing_send_each_message_once(app, campus, receiver):
    from patrol import webhooks
    from patrol.extensions import db
    from patrol.models import Campus

    use_webhook(app, campus, receiver.url)
    with app.app_context():
        school = db.session.get(Campus, campus["campus_id"])
        for n in range(6):
            webhooks.enqueue(None, "test", note=f"message {n}", campus=school)
        db.session.commit()
    start, attempted, errors = threading.Barrier(2), [], []

    def worker():
        with app.app_context():
            try:
                start.wait(5)
                attempted.append(webhooks.deliver_due())
            except Exception as exc:  # reported below, not lost in the thread
                errors.append(exc)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(30)
    assert errors == [] and sum(attempted) == 6
    notes = sorted(body["note"] for body in receiver.accepted())
    assert notes == [f"message {n}" for n in range(6)]  # each exactly once
    assert {d.status for d in deliveries(app)} == {"sent"}


# --- the admin's settings ----------------------------------------------------------------------

SETTINGS = {"name": "示范中学", "timezone": "Asia/Shanghai", "deadline_days_general": "7",
            "deadline_days_major": "3", "webhook_url": "", "webhook_format": "generic"}


def campus_row(app, campus):
    from patrol.extensions import db
    from patrol.models import Campus

    with app.app_context():
        found = db.session.get(Campus, campus["campus_id"])
        db.session.expunge(found)
        return found


def field_error(html, field_id):
    match = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    assert match, f"no error next to {field_id}"
    return match.group(1)


def input_value(html, name):
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name} with a value"
    return match.group(1)


def test_settings_page_shows_and_saves_the_campus(app, campus, client, auth):
    login(auth, client)
    page = text(client.get("/admin/settings"))
    assert input_value(page, "name") == "示范中学" and input_value(page, "timezone") == "Asia/Shanghai"
    assert input_value(page, "deadline_days_general") == "7" and input_value(page, "deadline_days_major") == "3"
    assert '<option value="Asia/Shanghai">' in page  # the timezone suggestions
    data = {**SETTINGS, "name": "示范中学（东校区）", "timezone": "Asia/Urumqi", "deadline_days_general": "365",
            "deadline_days_major": "1", "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            "webhook_format": "robot"}
    response = post(client, "/admin/settings", data, "/admin/settings")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/settings"
    saved = campus_row(app, campus)
    assert (saved.name, saved.timezone, saved.deadline_days_general, saved.deadline_days_major) == (
        "示范中学（东校区）", "Asia/Urumqi", 365, 1)
    assert (saved.webhook_url, saved.webhook_format) == (data["webhook_url"], "robot")
    assert "Settings saved." in text(client.get("/admin/settings"))

    response = post(client, "/admin/settings", {**data, "webhook_url": "  "}, "/admin/settings")
    assert response.status_code == 303
    assert campus_row(app, campus).webhook_url == ""  # empty turns the webhook off


@pytest.mark.parametrize("field, value, message", [
    ("timezone", "Mars/Olympus", "Unknown timezone"),
    ("timezone", "../../etc/passwd", "Unknown timezone"),
    ("deadline_days_general", "0", "between 1 and 365"),
    ("deadline_days_major", "366", "between 1 and 365"),
    ("deadline_days_major", "three", "Not a valid integer"),
    ("webhook_url", "ftp://hooks.example/x", "http:// or https://"),
    ("webhook_url", "javascript:alert(1)", "http:// or https://"),
    ("webhook_url", "https://", "http:// or https://"),
    ("name", "", "This field is required"),
])
def test_invalid_settings_come_back_with_the_error_and_the_input(app, campus, client, auth, field, value, message):
    login(auth, client)
    data = {**SETTINGS, "name": "新名字", "webhook_url": "http://hooks.example/in", "webhook_format": "robot",
            field: value}
    response = post(client, "/admin/settings", data, "/admin/settings")
    html = text(response)
    assert response.status_code == 422
    assert message in field_error(html, field)
    if field != "name":
        assert input_value(html, "name") == "新名字"
    assert input_value(html, field if field != "name" else "webhook_url") == (value if field != "name"
                                                                             else "http://hooks.example/in")
    assert re.search(r'<input[^>]*checked[^>]*value="robot"|<input[^>]*value="robot"[^>]*checked', html)
    unchanged = campus_row(app, campus)
    assert (unchanged.name, unchanged.timezone, unchanged.webhook_url) == ("示范中学", "Asia/Shanghai", "")


def test_send_a_test_message_from_settings(app, campus, client, auth, receiver):
    login(auth, client)
    response = post(client, "/admin/settings/test", form_page="/admin/settings")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/settings"
    assert "Save a webhook URL first" in text(client.get("/admin/settings")) and deliveries(app) == []

    use_webhook(app, campus, receiver.url, fmt="robot")
    page = text(client.get("/admin/settings"))
    assert "Send a test message" in page and receiver.url in page
    response = post(client, "/admin/settings/test", form_page="/admin/settings")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/webhooks"
    listing = text(client.get("/admin/webhooks"))
    assert "Test message queued" in listing and "Test message" in listing and "Waiting" in listing
    assert deliver(app) == 1
    [body] = receiver.accepted()
    assert body["msgtype"] == "text" and "测试消息" in body["text"]["content"]
    [sent] = deliveries(app)
    assert (sent.kind, sent.status, sent.hazard_id) == ("test", "sent", None)
    assert "Sent" in text(client.get("/admin/webhooks"))


@pytest.mark.parametrize("role", ["guard", "repairer", "officer", "viewer"])
def test_only_admins_reach_settings_and_deliveries(app, campus, client, auth, role, receiver):
    from patrol.extensions import db
    from patrol.models import Campus, WebhookDelivery

    use_webhook(app, campus, receiver.url)
    with app.app_context():
        db.session.add(WebhookDelivery(campus_id=campus["campus_id"], kind="test", url=receiver.url, body="{}",
                                       status="failed", attempts=8, last_error="HTTP 500"))
        db.session.commit()
    auth.login(role)
    for url in ("/admin/settings", "/admin/webhooks"):
        assert client.get(url).status_code == 403, url
    token = csrf_from(client.get("/"))
    for url, data in [("/admin/settings", {**SETTINGS, "name": "x"}), ("/admin/settings/test", {}),
                      ("/admin/webhooks/retry", {"delivery": "1"})]:
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    assert campus_row(app, campus).name == "示范中学"
    assert [(d.status, d.kind) for d in deliveries(app)] == [("failed", "test")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campus)) == 1


def test_anonymous_users_are_sent_to_log_in(app, campus, client):
    for url in ("/admin/settings", "/admin/webhooks"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_another_campus_cannot_see_or_resend_a_delivery(app, campus, client, auth, receiver):
    from helpers import FAST_HASH

    from patrol.extensions import db
    from patrol.models import Campus, User, WebhookDelivery

    with app.app_context():
        other = Campus(name="第二中学")
        db.session.add(other)
        db.session.flush()
        admin2 = User(username="admin2", role="admin", campus_id=other.id, password_hash=FAST_HASH)
        delivery = WebhookDelivery(campus_id=campus["campus_id"], kind="test", url=receiver.url, body="{}",
                                   status="failed", attempts=8, last_error="HTTP 500")
        db.session.add_all([admin2, delivery])
        db.session.commit()
        delivery_id = delivery.id
    login(auth, client, "admin2")
    assert f"delivery-{delivery_id}" not in text(client.get("/admin/webhooks"))
    response = post(client, "/admin/webhooks/retry", {"delivery": delivery_id}, "/admin/webhooks")
    assert response.status_code == 404
    assert [d.status for d in deliveries(app)] == ["failed"]


def test_settings_switch_weekend_rounds(app, campus, client, auth):
    """Daily points are due Monday to Friday unless the campus patrols at weekends too."""
    from helpers import csrf_from

    from patrol.extensions import db
    from patrol.models import Campus

    auth.login("admin")
    page = client.get("/admin/settings")
    assert 'name="weekend_rounds"' in page.get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "name": "示范中学", "timezone": "Asia/Shanghai",
            "deadline_days_general": "7", "deadline_days_major": "3", "webhook_url": "",
            "webhook_format": "generic", "weekend_rounds": "y"}
    assert client.post("/admin/settings", data=form).status_code == 303
    with app.app_context():
        assert db.session.get(Campus, campus["campus_id"]).weekend_rounds is True
    form.pop("weekend_rounds")
    assert client.post("/admin/settings", data=form).status_code == 303
    with app.app_context():
        assert db.session.get(Campus, campus["campus_id"]).weekend_rounds is False
