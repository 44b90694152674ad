"""Killing the server (SIGKILL) under load loses nothing it acknowledged, and leaves no orphan photo.

The real `patrol serve` (gunicorn, 2 workers) runs in its own process group against the test's database
(SQLite file or PostgreSQL schema) and uploads folder. Eight clients post checks with a declared photo
through the API and then upload the photo, as the phone's outbox does, recording every 2xx. Once enough
checks have been acknowledged the whole group gets SIGKILL mid-stream; the server is started again and
asked for what it holds.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from helpers import jpeg_bytes

ACKNOWLEDGED_BEFORE_KILL = 40
CLIENTS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, app, port):
        self.port = port
        self.env = dict(os.environ, PATROL_INSTANCE=app.instance_path,
                        PATROL_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                        PATROL_UPLOADS=app.config["PATROL_UPLOADS"], PATROL_ACCESS_LOG="",
                        PATROL_SECRET_KEY="crash-test")
        self.log = Path(app.instance_path) / "serve.log"
        self.process = None

    def start(self):
        patrol = Path(sys.executable).with_name("patrol")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(patrol), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2"],
                env=self.env, start_new_session=True, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready when it answers (polling a port, not sleeping on hope)
            try:
                if request(self.port, "GET", "/login")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
            assert self.process.poll() is None, self.log.read_text()
        raise AssertionError("patrol serve did not answer within 60 s")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Guard(threading.Thread):
    """Checks with a failed item and its photo, one after another, until the server goes away."""

    def __init__(self, port, token, n, acked, enough):
        super().__init__(daemon=True)
        self.port, self.n, self.acked, self.enough = port, n, acked, enough
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def run(self):
        sent = 0
        while True:
            client_uuid = str(uuid.uuid4())
            photo = jpeg_bytes((self.n * 20 % 256, sent % 256, 90), (320, 240))
            sha = hashlib.sha256(photo).hexdigest()
            body = json.dumps({
                "client_uuid": client_uuid, "point": "P-EXIT", "observed_at": "2026-03-02T07:30:00+08:00",
                "results": [{"item": "unblocked", "result": "fail", "note": f"guard {self.n} #{sent}"},
                            {"item": "signs_lights", "result": "pass"}, {"item": "fire_doors", "result": "pass"}],
                "photos": [{"item": "unblocked", "sha256": sha}]})
            try:
                status, _ = request(self.port, "POST", "/api/v1/checks", body, self.headers)
                if status not in (200, 201):
                    raise AssertionError(f"check answered {status}")
                self.acked["checks"].append(client_uuid)
                status, _ = request(self.port, "PUT", f"/api/v1/checks/{client_uuid}/photos/{sha}", photo,
                                    {**self.headers, "Content-Type": "image/jpeg"})
                if status not in (200, 201):
                    raise AssertionError(f"photo answered {status}")
                self.acked["photos"].append((client_uuid, sha))
            except (OSError, http.client.HTTPException):
                return  # the server was killed
            sent += 1
            if len(self.acked["checks"]) >= ACKNOWLEDGED_BEFORE_KILL:
                self.enough.set()


@pytest.fixture
def server(app, campus):
    running = Server(app, free_port())
    yield running
    running.stop()


def test_sigkill_under_load_loses_nothing_acknowledged(app, campus, tokens, server):
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import Check, Photo

    server.start()
    acked = {"checks": [], "photos": []}
    enough = threading.Event()
    guards = [Guard(server.port, tokens["guard"], n, acked, enough) for n in range(CLIENTS)]
    for guard in guards:
        guard.start()
    assert enough.wait(timeout=120), "the load never reached the kill point"
    server.kill()  # mid-stream: requests are in flight in both workers
    for guard in guards:
        guard.join(timeout=60)
    assert len(acked["checks"]) >= ACKNOWLEDGED_BEFORE_KILL

    server.start()  # recovery: SQLite replays its WAL; PostgreSQL its log
    status, body = request(server.port, "GET", "/api/v1/checks?limit=1000",
                           headers={"Authorization": f"Bearer {tokens['officer']}"})
    assert status == 200
    held = {c["client_uuid"]: c for c in json.loads(body)["checks"]}
    assert set(acked["checks"]) <= set(held)  # every acknowledged check is there ...
    for client_uuid in acked["checks"]:
        assert len(held[client_uuid]["results"]) == 3  # ... complete
    for client_uuid, _sha in acked["photos"]:
        assert held[client_uuid]["photos"] == 1 and held[client_uuid]["missing_photos"] == []

    with app.app_context():
        db.session.expire_all()
        for check in db.session.query(Check):
            assert len(check.results) == 3, "a half-written check"  # acknowledged or not: all or nothing
        for photo in db.session.query(Photo):
            assert photos.path_for(photo.sha256).is_file(), "a photo row without its file"
        # A photo written just before the kill but never committed is an orphan file: the sweep that
        # `patrol serve` runs at start (and `patrol photos sweep`) removes it; --older-than 0 here.
        removed = photos.sweep(older_than_seconds=0)
        referenced = {sha for (sha,) in db.session.query(Photo.sha256)}
        on_disk = {path.stem for path in Path(app.config["PATROL_UPLOADS"]).glob("??/*.jpg")}
        assert on_disk == referenced and not set(removed) & referenced
        assert list(Path(app.config["PATROL_UPLOADS"]).glob("??/*.part")) == []  # no half-written file
