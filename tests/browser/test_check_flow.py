"""Real Chromium on a phone viewport: scan → fail an item with a photo → submit → the officer sees it."""
import re

import pytest
from helpers import PASSWORD, jpeg_bytes, point
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TEXT = {
    "zh": {"fail": "不合格", "pass": "合格", "submit": "提交检查", "done": "检查已记录",
           "item": "压力表指针在绿区", "status": "已上报", "major": "重大隐患", "switch": "English"},
    "en": {"fail": "Fail", "pass": "Pass", "submit": "Submit check", "done": "Check recorded",
           "item": "Pressure gauge needle in the green zone", "status": "Reported", "major": "Major",
           "switch": None},
}


def log_in(page, base, username, next_path=None, locale="zh"):
    page.goto(base + (next_path or "/login"))
    if locale == "en":
        page.get_by_role("button", name="English").click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").click()


@pytest.fixture(params=["sqlite"])
def backend(request):
    return request.param


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_guard_fails_item_with_photo_and_officer_sees_hazard(app, live_server, phone, desktop, tmp_path, locale):
    t = TEXT[locale]
    extinguisher = point(app, "P-EXTINGUISHER")
    photo = tmp_path / "gauge.jpg"
    photo.write_bytes(jpeg_bytes((220, 20, 20), (1200, 900)))

    page = phone.new_page()
    log_in(page, live_server, "guard", f"/p/{extinguisher.token}", locale)
    # after logging in the guard lands back on the scanned point's form
    expect(page.locator("h1")).to_have_text(extinguisher.name)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabelled == []
    items = page.locator("li.item")
    for i in range(items.count()):
        items.nth(i).get_by_label(t["pass"], exact=True).check()
    pressure = page.locator("#item-pressure")
    pressure.get_by_label(t["fail"], exact=True).check()
    # the note and photo fields appear once "fail" is chosen
    expect(pressure.locator("textarea")).to_be_visible()
    pressure.locator("textarea").fill("压力表指针在红区")
    pressure.locator("input[type=file]").set_input_files(str(photo))
    page.get_by_role("button", name=t["submit"]).click()
    expect(page.locator("h1")).to_have_text(t["done"])
    expect(page.locator(".done")).to_contain_text("压力表指针在红区")
    assert phone.errors == []

    officer = desktop.new_page()
    log_in(officer, live_server, "officer", "/hazards", locale)
    row = officer.locator("#hazard-list tbody tr").filter(has_text=t["item"])
    expect(row).to_have_count(1)
    officer.wait_for_load_state("load")  # htmx is deferred: filtering is plain HTML until it runs
    expect(row).to_contain_text(t["status"])
    expect(row).to_contain_text(t["major"])
    # htmx filtering swaps the list and pushes a bookmarkable URL
    officer.locator("select[name=severity]").select_option("general")
    expect(officer).to_have_url(re.compile(r"severity=general"))
    expect(officer.locator("#hazard-list tbody tr").filter(has_text=t["item"])).to_have_count(0)
    officer.reload()
    expect(officer.locator("select[name=severity]")).to_have_value("general")
    officer.locator("select[name=severity]").select_option("major")
    row = officer.locator("#hazard-list tbody tr").filter(has_text=t["item"])
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(officer.locator(".facts")).to_contain_text("压力表指针在红区")
    image = officer.locator(".photos img")
    expect(image).to_have_count(1)
    # the photo really loads (served to the officer), downscaled on the server to at most 1600 px
    assert officer.evaluate("img => img.naturalWidth", image.element_handle()) == 1200
    assert desktop.errors == []
