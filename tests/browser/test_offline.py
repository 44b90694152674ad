"""Offline-first in real Chromium: the patrol pack, the outbox, photos on a link that drops.

Each test drives a phone profile on disk (so a restart keeps its service worker, cache and IndexedDB)
with the browser's own offline switch, and checks the database, not only the screen.
"""
from __future__ import annotations

import hashlib
import io
import threading

import pytest
from helpers import PASSWORD, jpeg_bytes
from PIL import Image
from playwright.sync_api import expect
from werkzeug.serving import WSGIRequestHandler, make_server

from conftest import CHROMIUM_FLAGS, PHONE, chromium_path

pytestmark = pytest.mark.browser

WAIT_MS = 20000


class FieldPhone:
    """A phone whose browser profile survives a restart: service worker, caches and outbox stay."""

    def __init__(self, browser_type, profile, server, service_workers="allow"):
        self.browser_type, self.profile, self.server, self.base = browser_type, profile, server, server.base
        self.service_workers = service_workers
        self.context = None
        self.errors: list[str] = []
        self.open()

    def open(self, offline=False):
        self.context = self.browser_type.launch_persistent_context(
            str(self.profile), executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
            service_workers=self.service_workers, offline=offline, **PHONE)
        self.context.on("console", self.console)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def console(self, message):
        # A request that cannot reach the server is logged by the browser; that is the point here.
        if message.type == "error" and not message.text.startswith("Failed to load resource: net::ERR_"):
            self.errors.append(message.text)

    def restart(self, offline):
        self.context.close()
        self.open(offline)

    def offline(self, value=True):
        self.context.set_offline(value)
        if value:
            self.server.stop()
        else:
            self.server.start()

    def goto(self, path):
        self.page.goto(self.base + path)

    def log_in(self, username, next_path="/"):
        self.goto("/login?next=" + next_path)
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(PASSWORD)
        self.page.locator("form.stack button[type=submit]").click()
        self.page.wait_for_url(lambda url: "/login" not in url)

    def wait_for_pack(self):
        """Until the service worker controls the page and the pack is on the phone."""
        self.goto("/outbox")
        expect(self.page.locator("[data-pack-status]")).to_contain_text("KB", timeout=WAIT_MS)
        self.page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)

    def outbox_rows(self):
        return self.page.locator("[data-outbox-items] li")


class OneRequestPerConnection(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"  # no keep-alive: once stopped, nothing reaches the app


class Server:
    """The app on a loopback port that can be switched off and on again, like the school's Wi-Fi.

    The browser's offline switch covers pages but not the service worker (whose Background Sync
    would send behind the test's back), so "no connection" is both: the switch, and a server that
    does not answer.
    """

    def __init__(self, app):
        self.app, self.port = app, 0
        self.start()
        self.base = f"http://127.0.0.1:{self.port}"
        app.config["PATROL_BASE_URL"] = self.base

    def start(self):
        self.http = make_server("127.0.0.1", self.port, self.app, threaded=True,
                                request_handler=OneRequestPerConnection)
        self.port = self.http.server_port
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if not self.thread.is_alive():
            return
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


@pytest.fixture
def server(app, campus):
    running = Server(app)
    yield running
    running.stop()


@pytest.fixture
def field_phone(chromium, server, tmp_path):
    phone = FieldPhone(chromium.browser_type, tmp_path / "profile", server)
    yield phone
    phone.context.close()


@pytest.fixture
def page_only_phone(chromium, server, tmp_path, app):
    """No service worker (so no Background Sync behind the test's back): the page alone retries,
    once a second, and every request it makes passes through the test's fault injection."""
    app.config["PATROL_OUTBOX_RETRY_SECONDS"] = 1
    phone = FieldPhone(chromium.browser_type, tmp_path / "profile", server, service_workers="block")
    yield phone
    phone.context.close()


@pytest.fixture(params=["sqlite"])
def backend(request):
    return request.param


def add_points(app, n):
    """n more classrooms on the campus, so a round covers many labels."""
    from patrol.extensions import db
    from patrol.models import Area, Campus, Point, PointType

    with app.app_context():
        campus = db.session.query(Campus).one()
        area = db.session.query(Area).filter_by(campus_id=campus.id).first()
        classroom = db.session.query(PointType).filter_by(key="classroom").one()
        for i in range(n):
            db.session.add(Point(campus_id=campus.id, area_id=area.id, point_type_id=classroom.id,
                                 code=f"P-ROOM-{i:02d}", name=f"教室 {i:02d}", location="教学楼A"))
        db.session.commit()


def active_points(app):
    from patrol.extensions import db
    from patrol.models import Point

    with app.app_context():
        return [(p.token, p.code) for p in db.session.query(Point).filter_by(active=True).order_by(Point.code)]


def arrived(app):
    """{client_uuid: (point code, [photo client hashes])} of every check in the database, and pending photos."""
    from patrol.extensions import db
    from patrol.models import Check, PendingPhoto

    with app.app_context():
        checks = {c.client_uuid: (c.point.code, sorted(p.client_sha256 or p.sha256 for p in c.photos),
                                  len(c.results))
                  for c in db.session.query(Check)}
        return checks, db.session.query(PendingPhoto).count()


def photo_file(tmp_path, name, colour, size=(2400, 1800)):
    path = tmp_path / name
    path.write_bytes(jpeg_bytes(colour, size))
    return path


def fill_check(page, photo=None, note="灭火器压力不足"):
    """Every item passes except the first, which fails with a note (and a photo if given)."""
    items = page.locator("li.item")
    expect(items.first).to_be_visible()
    for i in range(items.count()):
        items.nth(i).locator("input[value=pass]").check()
    first = items.first
    first.locator("input[value=fail]").check()
    first.locator("textarea").fill(note)
    if photo is not None:
        first.locator("input[type=file]").set_input_files(str(photo))
    page.locator("form[data-check-form] button[type=submit]").click()


def test_a_whole_round_offline_arrives_once_with_every_photo(app, field_phone, tmp_path):
    add_points(app, 3)
    points = active_points(app)[:10]
    phone = field_phone
    phone.log_in("guard")
    phone.wait_for_pack()

    phone.offline()
    for n, (token, code) in enumerate(points):
        phone.goto(f"/p/{token}")
        expect(phone.page.locator("[data-offline-note]")).to_be_visible()
        fill_check(phone.page, photo_file(tmp_path, f"{n}.jpg", (20 * n, 80, 200 - 10 * n)))
        expect(phone.page.locator("[data-queued]")).to_be_visible()
    phone.goto("/outbox")
    expect(phone.outbox_rows()).to_have_count(10)
    expect(phone.page.locator("[data-outbox-count]")).to_have_text("10")
    assert arrived(app) == ({}, 0)

    phone.restart(offline=True)  # the browser is closed and opened again, still without a connection
    phone.goto("/outbox")
    expect(phone.outbox_rows()).to_have_count(10)
    assert arrived(app) == ({}, 0)
    phone.offline(False)
    phone.goto("/outbox")
    expect(phone.page.locator("[data-outbox-empty]")).to_be_visible(timeout=WAIT_MS)

    checks, pending = arrived(app)
    assert pending == 0
    assert sorted(code for code, _photos, _n in checks.values()) == sorted(code for _t, code in points)
    assert all(len(photos) == 1 for _code, photos, _n in checks.values())
    assert len({photos[0] for _c, photos, _n in checks.values()}) == 10  # each check its own photo
    assert_photos_downscaled(app)
    assert phone.errors == []


def assert_photos_downscaled(app):
    """The phone sent each photo at most 1600 px on its longest side; the server kept both hashes."""
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import Photo

    with app.app_context():
        for photo in db.session.query(Photo):
            data = photos.path_for(photo.sha256).read_bytes()
            assert hashlib.sha256(data).hexdigest() == photo.sha256
            with Image.open(io.BytesIO(data)) as image:
                assert max(image.size) == 1600
            assert photo.client_sha256 and len(photo.client_sha256) == 64


def server_answers(app, method, fragment):
    """The statuses the server gave to requests of this method whose path contains fragment."""
    answers = []
    inner = app.wsgi_app

    def recording(environ, start_response):
        def start(status, headers, *exc_info):
            if environ["REQUEST_METHOD"] == method and fragment in environ["PATH_INFO"]:
                answers.append(int(status.split()[0]))
            return start_response(status, headers, *exc_info)
        return inner(environ, start)

    app.wsgi_app = recording
    return answers


def test_a_dropped_upload_is_neither_lost_nor_duplicated(app, page_only_phone, tmp_path):
    """The first try of the photo never reaches the server; the second is stored but its answer is
    lost; the next is told the server has it already. One check, one photo."""
    phone = page_only_phone
    phone.log_in("guard")
    tries = []
    answers = server_answers(app, "PUT", "/photos/")

    def flaky(route):
        tries.append(route.request.method)
        if len(tries) == 1:
            return route.abort("connectionreset")
        if len(tries) == 2:
            route.fetch()  # the server gets the whole photo ...
            return route.abort("connectionreset")  # ... but the phone never hears back
        return route.continue_()

    phone.context.route("**/outbox/checks/*/photos/*", flaky)
    token, code = active_points(app)[0]
    phone.goto(f"/p/{token}")
    fill_check(phone.page, photo_file(tmp_path, "dropped.jpg", (200, 40, 40)))
    expect(phone.page.locator("[data-queued]")).to_be_visible()  # the link dropped: kept on the phone
    phone.goto("/outbox")  # opening the app again sends what waits
    expect(phone.page.locator("[data-outbox-empty]")).to_be_visible(timeout=WAIT_MS)
    assert len(tries) == 3 and answers == [201, 200]  # stored once; the resend was a no-op
    checks, pending = arrived(app)
    assert pending == 0
    assert [(c, len(p)) for c, p, _n in checks.values()] == [(code, 1)]
    with app.app_context():
        from patrol.extensions import db
        from patrol.models import Photo

        assert db.session.query(Photo).count() == 1


def test_a_server_error_twice_is_retried_until_it_arrives_once(app, page_only_phone, tmp_path):
    phone = page_only_phone
    phone.log_in("guard")
    answers = []

    def failing_twice(route):
        if route.request.method != "POST":
            return route.continue_()
        answers.append(route.request.headers.get("accept"))
        if len(answers) <= 2:
            return route.fulfill(status=500, content_type="text/html", body="<h1>Internal Server Error</h1>")
        return route.continue_()

    phone.context.route("**/p/*", failing_twice)
    token, code = active_points(app)[1]
    phone.goto(f"/p/{token}")
    fill_check(phone.page, photo_file(tmp_path, "retry.jpg", (40, 200, 40)))
    expect(phone.page.locator("[data-queued]")).to_be_visible()
    phone.goto("/outbox")  # the page sends on load and then every second until the server takes it
    expect(phone.page.locator("[data-outbox-empty]")).to_be_visible(timeout=WAIT_MS)
    # two answers of 500, then one that got through (a navigation may cut one short: then a replay)
    assert len(answers) >= 3 and set(answers) == {"application/json"}
    checks, pending = arrived(app)
    assert [(c, len(p)) for c, p, _n in checks.values()] == [(code, 1)] and pending == 0


def queue_offline(app, phone, tmp_path, n):
    """The guard, with the pack installed, checks the n-th point with no connection: it waits on the phone."""
    phone.log_in("guard")
    phone.wait_for_pack()
    token, code = active_points(app)[n]
    phone.offline()
    phone.goto(f"/p/{token}")
    fill_check(phone.page, photo_file(tmp_path, f"queued-{n}.jpg", (10, 20 * n, 10)))
    expect(phone.page.locator("[data-queued]")).to_be_visible()
    return code


def test_a_conflict_stays_in_the_outbox_with_the_servers_message(app, field_phone, tokens, tmp_path):
    phone = field_phone
    code = queue_offline(app, phone, tmp_path, 2)
    client_uuid = phone.page.evaluate("PatrolOutbox.store.all().then(items => items[0].id)")
    # Meanwhile another device used the same submission id for a different check.
    client = app.test_client()
    response = client.post("/api/v1/checks", headers={"Authorization": f"Bearer {tokens['guard']}"}, json={
        "client_uuid": client_uuid, "point": code, "observed_at": "2026-03-02T07:30:00+08:00",
        "results": [{"item": key, "result": "na"} for key in item_keys(app, code)]})
    assert response.status_code == 201

    phone.offline(False)
    phone.goto("/outbox")
    row = phone.outbox_rows()
    expect(row).to_have_count(1)
    expect(row.locator("[data-error]")).to_contain_text("此提交编号已用于另一条检查", timeout=WAIT_MS)
    expect(row).to_have_attribute("data-state", "flagged")
    phone.page.reload()  # flagged items wait for the guard: reloading does not drop or resend them
    expect(phone.outbox_rows()).to_have_count(1)
    phone.page.once("dialog", lambda dialog: dialog.accept())
    phone.outbox_rows().locator("[data-delete]").click()
    expect(phone.page.locator("[data-outbox-empty]")).to_be_visible()
    checks, _pending = arrived(app)
    assert len(checks) == 1  # only the other device's


def item_keys(app, code):
    from patrol.extensions import db
    from patrol.models import Point

    with app.app_context():
        point = db.session.query(Point).filter_by(code=code).one()
        return [item.key for item in point.point_type.active_items]


def test_without_javascript_the_plain_form_still_submits(app, chromium, live_server, tmp_path):
    context = chromium.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    token, code = active_points(app)[3]
    page.goto(f"{live_server}/login?next=/p/{token}")
    page.locator("#username").fill("guard")
    page.locator("#password").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    fill_check(page, photo_file(tmp_path, "nojs.jpg", (90, 90, 200)))
    expect(page.locator("h1")).to_have_text("检查已记录")
    checks, pending = arrived(app)
    assert [(c, len(p)) for c, p, _n in checks.values()] == [(code, 1)] and pending == 0
    context.close()


def test_an_unknown_label_offline_still_takes_a_free_text_hazard(app, field_phone, tmp_path):
    from patrol.extensions import db
    from patrol.models import Hazard

    phone = field_phone
    phone.log_in("guard")
    phone.wait_for_pack()
    add_points(app, 1)  # a label stuck up after the pack was made
    token, code = [p for p in active_points(app) if p[1] == "P-ROOM-00"][0]
    phone.offline()
    phone.goto(f"/p/{token}")
    page = phone.page
    expect(page.locator("[data-offline-report]")).to_be_visible()
    page.locator("#category").select_option("electrical")
    page.locator("#description").fill("插座冒烟")
    page.locator("#photo").set_input_files(str(photo_file(tmp_path, "smoke.jpg", (120, 120, 120))))
    page.locator("form[data-outbox] button[type=submit]").click()
    expect(page.locator("[data-queued]")).to_be_visible()
    phone.offline(False)
    phone.goto("/outbox")
    expect(page.locator("[data-outbox-empty]")).to_be_visible(timeout=WAIT_MS)
    with app.app_context():
        hazard = db.session.query(Hazard).one()
        assert (hazard.description, hazard.point.code, len(hazard.photos)) == ("插座冒烟", code, 1)


def test_a_login_that_expired_offline_keeps_the_queue(app, field_phone, tmp_path):
    phone = field_phone
    code = queue_offline(app, phone, tmp_path, 4)
    phone.context.clear_cookies()  # the session ended while the phone was in the basement
    phone.offline(False)
    phone.log_in("guard", "/outbox")
    expect(phone.page.locator("[data-outbox-empty]")).to_be_visible(timeout=WAIT_MS)
    checks, _pending = arrived(app)
    assert [c for c, _p, _n in checks.values()] == [code]


def test_a_failed_item_asks_for_its_note_and_photo_before_anything_is_queued(app, field_phone):
    """Offline there is nobody to say "a photo is required" until much later: the form says it now."""
    phone = field_phone
    phone.log_in("guard")
    extinguisher = [t for t, code in active_points(app) if code == "P-EXTINGUISHER"][0]
    phone.goto(f"/p/{extinguisher}")
    page = phone.page
    items = page.locator("li.item")
    for i in range(items.count()):
        items.nth(i).locator("input[value=pass]").check()
    gauge = page.locator("li.item").filter(has=page.locator("[data-photo-required]")).first
    gauge.locator("input[value=fail]").check()
    page.locator("form[data-check-form] button[type=submit]").click()
    assert gauge.locator("textarea").evaluate("el => el.validationMessage") != ""
    gauge.locator("textarea").fill("指针在红区")
    page.locator("form[data-check-form] button[type=submit]").click()
    assert gauge.locator("input[type=file]").evaluate("el => el.validationMessage") != ""
    expect(page.locator("[data-queued]")).to_be_hidden()
    assert page.evaluate("PatrolOutbox.store.all().then(items => items.length)") == 0
    gauge.locator("input[value=pass]").check()  # passing needs neither
    assert gauge.locator("textarea").evaluate("el => el.validity.valid")
    assert gauge.locator("input[type=file]").evaluate("el => el.validity.valid")


def rotated_jpeg(path):
    """A 3200×1600 picture whose EXIF says "rotate 90°": the phone shows it 1600 wide, 3200 high."""
    image = Image.new("RGB", (3200, 1600), (30, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    image.save(path, "JPEG", exif=exif.tobytes())
    return path


def test_the_phone_downscales_photos_and_keeps_them_upright(app, page_only_phone, tmp_path):
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import Photo

    phone = page_only_phone
    phone.log_in("guard")
    token, _code = active_points(app)[0]
    phone.goto(f"/p/{token}")
    fill_check(phone.page, rotated_jpeg(tmp_path / "portrait.jpg"))
    expect(phone.page.locator("h1")).to_have_text("检查已记录")
    with app.app_context():
        photo = db.session.query(Photo).one()
        with Image.open(photos.path_for(photo.sha256)) as stored:
            assert stored.size == (800, 1600)  # upright and at most 1600 px, as the guard saw it
