"""Real-Chromium fixtures: the app served on loopback in a thread, a phone-sized page."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
REQUIRED = os.environ.get("PATROL_REQUIRE_BROWSER") == "1"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    custom = os.environ.get("PATROL_CHROMIUM")
    if custom:
        return custom
    return next((p for p in CHROMIUM_CANDIDATES if shutil.which(p)), None)


@pytest.fixture(scope="session")
def chromium():
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if path is None or sync_playwright is None:
        reason = ("BROWSER TESTS NOT RUN: no Chromium found (install Debian's `chromium` package "
                  "or set PATROL_CHROMIUM)" if path is None else "BROWSER TESTS NOT RUN: playwright missing")
        if REQUIRED:
            pytest.fail(reason + " — and PATROL_REQUIRE_BROWSER=1 makes them mandatory.")
        pytest.skip(reason)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app, campus):
    """The test app served over real HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["PATROL_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app.config["PATROL_BASE_URL"]
    server.shutdown()
    thread.join()


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}


@pytest.fixture
def phone(chromium):
    """A fresh phone-sized browser context; collects console errors (CSP violations show there)."""
    context = chromium.new_context(**PHONE)
    context.errors = []
    context.on("console", lambda msg: msg.type == "error" and context.errors.append(msg.text))
    yield context
    context.close()


@pytest.fixture
def desktop(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.errors = []
    context.on("console", lambda msg: msg.type == "error" and context.errors.append(msg.text))
    yield context
    context.close()
