"""Offline figures in real Chromium: the patrol pack of the demo campus, and sending a queued round.

Run: .venv/bin/python bench/outbox.py [--checks 50] [--days 30]

1. Builds the demo campus in a temporary instance and serves it on loopback (werkzeug, threaded).
2. A phone-sized Chromium logs in as the demo guard and downloads the patrol pack: pages, bytes, time.
3. Offline, the guard fills --checks checks from the pack (one failed item each, with a photo of
   3000×2250 px that the page downscales to 1600 px) — they go to the outbox.
4. Back online, the time until the outbox is empty: every check confirmed and every photo stored.
Baseline, same browser, same server, same run: the same number of checks posted as the plain form
posts them (one multipart request with the photo attached), one after the other.
Prints figures only; nothing here passes or fails.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def photo_like_jpeg(size=(3000, 2250)) -> bytes:
    """Blurred noise: compresses about like a phone photo of a wall or a cabinet."""
    from PIL import Image, ImageFilter

    grey = Image.effect_noise(size, 60).filter(ImageFilter.GaussianBlur(3))
    out = io.BytesIO()
    Image.merge("RGB", (grey, grey.rotate(90, expand=False), grey)).save(out, "JPEG", quality=90)
    return out.getvalue()


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fill(page, photo_path, note):
    items = page.locator("li.item")
    items.first.wait_for()
    for i in range(items.count()):
        items.nth(i).locator("input[value=pass]").check()
    first = items.first
    first.locator("input[value=fail]").check()
    first.locator("textarea").fill(note)
    first.locator("input[type=file]").set_input_files(str(photo_path))
    page.locator("form[data-check-form] button[type=submit]").click()
    page.locator("[data-queued]").wait_for()


DRAIN = """async () => {
  const start = performance.now();
  for (;;) {
    const result = await PatrolOutbox.sendAll();
    if (result === "busy") {  // the service worker (Background Sync) is sending: wait for it
      await navigator.locks.request("patrol-outbox", async () => {});
    }
    if (!(await PatrolOutbox.store.count())) return performance.now() - start;
    if (result === "retry" || result === "flag") throw new Error("outbox stuck: " + result);
  }
}"""

PLAIN = """async ([count, photoB64]) => {
  const form = document.querySelector("form[data-check-form]");
  const bytes = Uint8Array.from(atob(photoB64), c => c.charCodeAt(0));
  const blob = new Blob([bytes], {type: "image/jpeg"});
  const items = [...form.querySelectorAll("li.item")].map(li => li.id.slice(5));
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const body = new FormData();
    body.set("csrf_token", form.querySelector("[name=csrf_token]").value);
    body.set("client_uuid", crypto.randomUUID());
    items.forEach(key => body.set("result-" + key, "pass"));
    body.set("result-" + items[0], "fail");
    body.set("note-" + items[0], "baseline " + i);
    body.set("photo-" + items[0], blob, "photo.jpg");
    const response = await fetch(form.action, {method: "POST", body});
    if (response.status !== 201) throw new Error("plain post: " + response.status);
  }
  return performance.now() - start;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--days", type=int, default=30, help="days of demo history")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="patrol-bench-outbox-"))
    os.environ["PATROL_INSTANCE"] = str(instance)
    from playwright.sync_api import sync_playwright

    from conftest import CHROMIUM_FLAGS, chromium_path
    from patrol import create_app
    from patrol.database import upgrade
    from patrol.demo import build_demo
    from patrol.extensions import db
    from patrol.models import Check, PendingPhoto, Photo, Point, User
    from patrol.setup import ensure_point_types

    app = create_app({"PATROL_ACCESS_LOG": ""})
    with app.app_context():
        upgrade()
        ensure_point_types()
        build_demo(password="bench-pass", days=args.days)
        guard = db.session.query(User).filter_by(role="guard").order_by(User.id).first().username
        tokens = [t for (t,) in db.session.query(Point.token).filter_by(active=True).order_by(Point.code)]
        checks_before = db.session.query(Check).count()
    server = serve(app)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PATROL_BASE_URL"] = base
    photo = instance / "photo.jpg"
    photo.write_bytes(photo_like_jpeg())

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(instance / "profile"), executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS, **PHONE)
        page = context.pages[0]
        page.goto(f"{base}/login?next=/outbox")
        page.locator("#username").fill(guard)
        page.locator("#password").fill("bench-pass")
        started = time.perf_counter()
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_url(f"{base}/outbox")
        while not (meta := page.evaluate("PatrolOutbox.store.meta('pack')")):
            page.wait_for_timeout(50)  # a benchmark polling for its own figure, not a test
        pack_seconds = time.perf_counter() - started
        page.wait_for_function("navigator.serviceWorker.controller !== null")

        context.set_offline(True)
        queued_started = time.perf_counter()
        for n in range(args.checks):
            page.goto(f"{base}/p/{tokens[n % len(tokens)]}")
            fill(page, photo, f"bench {n}")
        queue_seconds = time.perf_counter() - queued_started
        sizes = page.evaluate("PatrolOutbox.store.all().then(items => items.map(i => i.photos[0].blob.size))")
        page.goto(f"{base}/outbox")
        context.set_offline(False)
        outbox_ms = page.evaluate(DRAIN)

        page.goto(f"{base}/p/{tokens[0]}")
        sample = photo_like_jpeg((1600, 1200))  # what the phone would attach after downscaling
        plain_ms = page.evaluate(PLAIN, [args.checks, base64.b64encode(sample).decode()])
        context.close()
    server.shutdown()

    with app.app_context():
        arrived = db.session.query(Check).count() - checks_before
        pending = db.session.query(PendingPhoto).count()
        photos = db.session.query(Photo).filter(Photo.client_sha256.isnot(None)).count()

    print(f"demo campus: {len(tokens)} active points, guard {guard}")
    print(f"patrol pack: {meta['pages']} pages, {meta['bytes'] / 1024:.0f} KB in the cache "
          f"(uncompressed), downloaded in {pack_seconds:.1f} s after login")
    print(f"queued offline: {args.checks} checks in {queue_seconds:.1f} s (form filling by the test driver); "
          f"photos downscaled on the phone from {len(photo.read_bytes()) / 1024:.0f} KB to "
          f"{sum(sizes) / len(sizes) / 1024:.0f} KB on average")
    print(f"outbox → server: {args.checks} checks + {args.checks} photos sent in {outbox_ms / 1000:.2f} s "
          f"({outbox_ms / args.checks:.0f} ms a check)")
    print(f"baseline, plain form posts with a {len(sample) / 1024:.0f} KB photo: {plain_ms / 1000:.2f} s "
          f"({plain_ms / args.checks:.0f} ms a check)")
    print(f"ratio outbox / plain: {outbox_ms / plain_ms:.2f}")
    print(f"arrived: {arrived} checks (expected {2 * args.checks}), {photos} photos sent one by one "
          f"(expected {args.checks}), {pending} still pending")


if __name__ == "__main__":
    main()
