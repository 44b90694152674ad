"""Real Chromium: the repairer marks a hazard fixed from My tasks on a phone; the officer verifies it on a desktop."""
import re

import pytest
from helpers import PASSWORD, jpeg_bytes, point
from playwright.sync_api import expect
from sqlalchemy import select

pytestmark = pytest.mark.browser


@pytest.fixture(params=["sqlite"])
def backend(request):
    return request.param


def log_in(page, base, username, next_path):
    page.goto(f"{base}/login?next={next_path}")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(f"{base}{next_path}")
    page.wait_for_load_state()  # htmx (deferred) has processed the page: forms are boosted


@pytest.fixture
def assigned(app, campus):
    """A major hazard found at the fire exit, with its before photo, assigned to the repairer."""
    from patrol import photos
    from patrol.extensions import db
    from patrol.hazard_flow import ActionInput, perform
    from patrol.models import Hazard, Photo, User

    exit_point = point(app, "P-EXIT")
    with app.test_request_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        hazard = Hazard(campus_id=exit_point.campus_id, point_id=exit_point.id, area_id=exit_point.area_id,
                        category="fire", severity="major", description="安全出口堆放桌椅",
                        reported_by_id=users["guard"].id)
        db.session.add(hazard)
        db.session.flush()
        stored = photos.store(jpeg_bytes((200, 40, 40), (800, 600)))
        db.session.add(Photo(sha256=stored.sha256, size=stored.size, width=stored.width, height=stored.height,
                             uploaded_by_id=users["guard"].id, hazard_id=hazard.id, kind="before"))
        db.session.commit()
        perform(hazard, users["officer"], "assign", ActionInput.from_mapping({"assignee": users["repairer"].id}))
        return hazard.id


def hazard_status(app, hazard_id):
    from patrol.extensions import db
    from patrol.models import Hazard

    with app.app_context():
        return db.session.get(Hazard, hazard_id).status


def test_repairer_fixes_on_a_phone_and_officer_verifies(app, live_server, phone, desktop, tmp_path, assigned):
    after_photo = tmp_path / "fixed.jpg"
    after_photo.write_bytes(jpeg_bytes((30, 180, 30), (1200, 900)))

    page = phone.new_page()
    log_in(page, live_server, "repairer", "/tasks")
    card = page.locator(f"#task-{assigned}")
    expect(card).to_be_visible()
    expect(card.locator(".tag-major")).to_be_visible()
    thumb = card.locator(".thumb img")
    expect(thumb).to_be_visible()
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabelled == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing wider than the phone
    form = card.locator(f"#rectify-{assigned}")
    expect(form.locator("input[type=file]")).to_have_attribute("capture", "environment")
    form.locator("textarea[name=note]").fill("桌椅已搬走，通道畅通")
    form.locator("input[type=file]").set_input_files(str(after_photo))
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#tasks-waiting #task-{assigned}")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/tasks")
    expect(page.locator(f"#rectify-{assigned}")).to_have_count(0)
    assert hazard_status(app, assigned) == "rectified"
    assert phone.errors == []

    officer = desktop.new_page()
    log_in(officer, live_server, "officer", f"/hazards/{assigned}")
    before, after = officer.locator("#photos-before img"), officer.locator("#photos-after img")
    expect(before).to_have_count(1)
    expect(after).to_have_count(1)
    for image in (before, after):
        officer.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    left, right = before.bounding_box(), after.bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and right["x"] >= left["x"] + left["width"]  # side by side
    expect(officer.locator("#hazard-status")).to_contain_text(re.compile(r"\S"))
    officer.evaluate("window.stillThisPage = true")
    officer.locator("#action-verify button[type=submit]").click()
    expect(officer.locator(f"#hazard-{assigned}")).to_have_attribute("data-status", "verified")
    expect(officer).to_have_url(f"{live_server}/hazards/{assigned}")
    expect(officer.locator(".timeline li[data-action=verify]")).to_have_count(1)
    assert officer.evaluate("window.stillThisPage === true")  # htmx swapped the page in, no reload
    assert hazard_status(app, assigned) == "verified"

    # the header badge refreshes itself on a custom event, without reloading the page
    unread = officer.locator("#badges [data-badge=unread] .count")
    count = int(unread.inner_text())
    from patrol.extensions import db
    from patrol.models import Notification, User

    with app.app_context():
        officer_id = db.session.scalar(select(User.id).where(User.username == "officer"))
        db.session.add(Notification(user_id=officer_id, hazard_id=assigned, kind="overdue"))
        db.session.commit()
    expect(unread).to_have_text(str(count))
    officer.evaluate("document.body.dispatchEvent(new CustomEvent('hazard-changed'))")
    expect(unread).to_have_text(str(count + 1))
    assert officer.evaluate("window.stillThisPage === true")
    assert desktop.errors == []


def test_invalid_rectify_keeps_the_photo_and_shows_the_error_in_place(app, live_server, phone, tmp_path, assigned):
    after_photo = tmp_path / "fixed.jpg"
    after_photo.write_bytes(jpeg_bytes((30, 180, 30)))
    page = phone.new_page()
    log_in(page, live_server, "repairer", "/tasks")
    form = page.locator(f"#rectify-{assigned}")
    form.locator("input[type=file]").set_input_files(str(after_photo))
    # the browser's own check stops an empty note; skip it to see the server's answer
    form.evaluate("f => f.setAttribute('novalidate', '')")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#rectify-{assigned}-note-error")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/tasks")  # not the POST's address
    expect(form.locator("input[name=kept]")).to_have_count(1)
    form.locator("textarea[name=note]").fill("已处理")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#tasks-waiting #task-{assigned}")).to_be_visible()
    assert hazard_status(app, assigned) == "rectified"
    assert phone.errors == []
