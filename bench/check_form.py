"""Check-form budget: bytes a phone downloads and server time, against a bare Flask route in the same process.

Run: .venv/bin/python bench/check_form.py [--days 90] [--requests 300]
Prints figures only; nothing here passes or fails.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=90, help="days of demo history")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    os.environ["PATROL_INSTANCE"] = tempfile.mkdtemp(prefix="patrol-bench-")
    from patrol import create_app
    from patrol.database import upgrade
    from patrol.demo import build_demo
    from patrol.extensions import db
    from patrol.models import Point
    from patrol.setup import ensure_point_types

    app = create_app({"PATROL_BASE_URL": "http://patrol.bench"})

    @app.route("/__bare")
    def bare():
        return "ok"

    with app.app_context():
        upgrade()
        ensure_point_types()
        started = time.perf_counter()
        summary = build_demo(password="bench-pass", days=args.days)
        demo_seconds = time.perf_counter() - started
        tokens = {p.point_type.key: p.token for p in db.session.query(Point).filter_by(active=True)}

    client = app.test_client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "guard", "password": "bench-pass", "csrf_token": csrf})

    print(f"demo campus: {summary['points']} points, {summary['checks']} checks, {summary['hazards']} hazards "
          f"({args.days} days) built in {demo_seconds:.1f} s")
    print()
    print(f"{'point type':<14}{'HTML bytes':>11}{'gzipped':>9}{'first load gz':>15}")
    assets = {}
    for key, token in sorted(tokens.items()):
        html = client.get(f"/p/{token}").get_data()
        for src in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
            if src not in assets:
                assets[src] = client.get(src.decode()).get_data()
        first = gz(html) + sum(gz(body) for body in assets.values())
        print(f"{key:<14}{len(html):>11}{gz(html):>9}{first:>15}")
    print("assets (gzipped): " + ", ".join(f"{k.decode().rsplit('/', 1)[-1]} {gz(v)}" for k, v in assets.items()))
    other_hosts = [u for u in re.findall(rb'(?:src|href|action)="([^"]+)"', html) if re.match(rb"[a-z]+://", u)]
    print(f"references to other hosts in the form: {len(other_hosts)}")
    print()

    heaviest = tokens["extinguisher"]
    for _ in range(20):  # warm up templates and connections
        client.get(f"/p/{heaviest}")
        client.get("/__bare")
    form = timed(lambda: client.get(f"/p/{heaviest}"), args.requests)
    baseline = timed(lambda: client.get("/__bare"), args.requests)
    p50_form, p50_bare = statistics.median(form), statistics.median(baseline)
    p95_form = statistics.quantiles(form, n=20)[18]
    print(f"server time, {args.requests} requests in-process (test client, SQLite):")
    print(f"  check form (extinguisher): p50 {p50_form:.2f} ms, p95 {p95_form:.2f} ms")
    print(f"  bare Flask route:          p50 {p50_bare:.2f} ms")
    print(f"  ratio check form / bare:   {p50_form / p50_bare:.1f}x")


if __name__ == "__main__":
    main()
