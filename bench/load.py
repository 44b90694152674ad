"""Load: `patrol serve` under concurrent clients — guards submitting checks with photos, officers reading hazard
lists — against a bare Flask route served with the same gunicorn settings, in the same run.

Run: .venv/bin/python bench/load.py [--backend sqlite|postgresql] [--database-url URL] [--seconds 20]
         [--warmup 3] [--clients 50] [--workers 2] [--threads 4] [--days 90] [--keep-alive]
Prints figures only; nothing here passes or fails.

Method
- A temporary instance folder gets `patrol init` and `patrol demo --days N`. SQLite: the file in that folder.
  PostgreSQL: a fresh schema (`options=-csearch_path=…` in the URL) in the database of --database-url or
  PATROL_TEST_DATABASE_URL (default the local `test` database), dropped at the end.
- Two servers, one after the other, never together: the baseline, bench/bare_app.py (one Flask route returning
  "ok"), run by the virtualenv's `gunicorn` command with what `patrol serve` sets — gthread workers, the same
  --workers and --threads, a 120 s timeout, no access log — and gunicorn's defaults for everything else;
  then `patrol serve` itself with PATROL_ACCESS_LOG="". Each runs as its own process group on a free loopback
  port, is ready when an HTTP request to it is answered, and is stopped (SIGTERM to the group, SIGKILL after
  15 s) when its phase ends, also on Ctrl-C, SIGTERM or an error.
- Clients are threads of this process, each with its own cookies; they share the machine's CPUs with the server,
  so the client process's CPU use and the load average are printed. Each request opens a new HTTP/1.1
  connection, as a phone's does when the guard reaches the next point: gunicorn closes idle connections after
  2 s. With --keep-alive each client holds one connection for the whole phase instead; then gunicorn's gthread
  workers keep the connections they accepted, and one worker may end up with most of them while the other
  idles (in a trial 50 of 50 bare connections and 46 of 50 patrol ones sat on one of the two workers), which
  measures one worker, not the setting.
- Every patrol client logs in through the login form before the clock starts. 70 % are guards: open a random
  active point's check form, then post it as the browser does (every field, an empty file part per photo
  input, the phone's time in observed_at): every item passes except, one check in five, one item that fails
  with a note and a ~20 KB JPEG. Each form brings its own client_uuid. The others are officers: the hazard
  list under one of several filters (the list has no text search), or the queue (one request in four). Bare
  clients GET / in a loop.
- Only requests started after the warm-up count; req/s is their number over the measured window. A request is
  an error unless it answers 200 (a submitted check: 201 created); errors are grouped by kind, status and the
  start of the body's text, and the server's log is searched for tracebacks and "database is locked".
- Afterwards every check sent is looked up in the database by its client_uuid: each one answered 201 must be
  there with all its answers, its failed item, and that item's photo (row, link to its hazard, file).
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from math import ceil
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the virtualenv's patrol and gunicorn commands
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GUNICORN_TIMEOUT = 120  # what `patrol serve` gives gunicorn
GUARD_SHARE = 0.7
FAIL_SHARE = 0.2
QUEUE_SHARE = 0.25  # of an officer's requests
FAIL_NOTE = "压力表指针在红区（负载测试）"
HAZARD_LISTS = ["/hazards", "/hazards?status=open", "/hazards?severity=major", "/hazards?overdue=1",
                "/hazards?status=verified&page=2", "/hazards?category=fire&status=open", "/hazards?area={area}"]
PATROL_KINDS = ["check form", "check submit", "hazard list", "hazard queue"]

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ITEM = re.compile(r'name="result-([a-z_]+)"')
CLIENT_UUID = re.compile(r'name="client_uuid" value="([^"]+)"')


# ---------------------------------------------------------------------------------------------------
# The instance and the servers

@dataclass
class Instance:
    folder: Path
    url: str
    schema: str | None

    def env(self) -> dict[str, str]:
        return dict(os.environ, PATROL_INSTANCE=str(self.folder), PATROL_DATABASE_URL=self.url,
                    PATROL_UPLOADS=str(self.folder / "uploads"), PATROL_ACCESS_LOG="")

    def patrol(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "patrol"), *args], env=self.env(), capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"patrol {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout


@contextmanager
def instance(backend: str, database_url: str):
    """A temporary instance folder and, on PostgreSQL, a private schema; both removed at the end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    folder = Path(tempfile.mkdtemp(prefix="patrol-bench-load-"))
    admin = schema = None
    try:
        if backend == "postgresql":
            schema = f"patrol_bench_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = create_engine(database_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
            yield Instance(folder, url.render_as_string(hide_password=False), schema)
        else:
            yield Instance(folder, f"sqlite:///{folder / 'patrol.sqlite3'}", None)
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log_path: Path):
    """Run a server in its own process group, logging to log_path; yield once it answers HTTP; stop it."""
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_ready(server, port, log_path)
        yield server
    finally:
        stop(server)


def wait_until_ready(server: subprocess.Popen, port: int, log_path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}:\n{log_path.read_text()[-2000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/")
            if connection.getresponse().status < 500:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise SystemExit(f"the server did not answer within {seconds:.0f} s:\n{log_path.read_text()[-2000:]}")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (gunicorn's master and workers); SIGKILL what is left after 15 s."""
    signal_group(server, signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        pass
    signal_group(server, signal.SIGKILL)
    server.wait()


def signal_group(server: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(server.pid, signal_number)
    except ProcessLookupError:  # the group is gone already
        pass


# ---------------------------------------------------------------------------------------------------
# A client

@dataclass
class Sample:
    kind: str
    started: float  # time.perf_counter()
    ms: float
    error: str | None


class Browser:
    """One client: its connection and the cookies the server set, as a phone's browser holds them."""

    def __init__(self, port: int, keep_alive: bool):
        self.port = port
        self.keep_alive = keep_alive
        self.connection: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.samples: list[Sample] = []
        self.reconnects = 0

    def get(self, kind: str, path: str) -> str | None:
        """The page's text, or None when the request failed (recorded as an error)."""
        return self.fetch(kind, "GET", path, expect=200)

    def fetch(self, kind: str, method: str, path: str, expect: int, body: bytes | None = None,
              content_type: str | None = None) -> str | None:
        started = time.perf_counter()
        try:
            status, data = self.send(method, path, body, content_type)
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, repr(exc).encode()
        error = None if status == expect else describe(status, data)
        self.samples.append(Sample(kind, started, (time.perf_counter() - started) * 1000, error))
        return data.decode("utf-8", "replace") if error is None else None

    def send(self, method: str, path: str, body: bytes | None, content_type: str | None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if not self.keep_alive:
            headers["Connection"] = "close"
        if content_type:
            headers["Content-Type"] = content_type
        while True:  # at most twice: a new connection is not retried
            reused = self.connection is not None
            self.connection = self.connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=180)
            try:
                self.connection.request(method, path, body, headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if not reused:
                    raise
                self.reconnects += 1  # the server had closed the kept connection: a browser retries too
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if response.will_close:
            self.close()
        return response.status, data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def describe(status: int, data: bytes) -> str:
    """An error as status and the start of the body's text; "database is locked" always shows."""
    text = " ".join(re.sub(r"<[^>]+>", " ", data.decode("utf-8", "replace")).split())
    locked = " [database is locked]" if "database is locked" in text else ""
    return f"{status or 'no answer'}{locked} {text[:100]!r}"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it, and its content type."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    for name, (filename, content) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f'Content-Type: {"image/jpeg" if content else "application/octet-stream"}\r\n\r\n'.encode()
                     + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def log_in(browser: Browser, username: str, password: str) -> Browser:
    page = browser.get("login", "/login")
    token = CSRF.search(page or "")
    if token:
        body = urlencode({"csrf_token": token.group(1), "next": "", "username": username, "password": password})
        browser.fetch("login", "POST", "/login", 302, body.encode(), "application/x-www-form-urlencoded")
    failed = [s.error for s in browser.samples if s.error]
    if failed or not token:
        raise SystemExit(f"login as {username} failed: {failed or 'no CSRF token on /login'}")
    browser.samples.clear()
    return browser


# ---------------------------------------------------------------------------------------------------
# What the clients do

@dataclass
class Submission:
    client_uuid: str
    items: int
    failed: str | None  # the item that failed, sent with the photo
    created: bool


@dataclass
class Campus:
    summary: str
    password: str
    guards: list[str]
    officers: list[str]
    tokens: list[str]
    hazard_lists: list[str]


def read_campus(inst: Instance, summary: str) -> Campus:
    """The demo's logins, its active points' tokens, and hazard list URLs with a real area."""
    from sqlalchemy import create_engine, text

    engine = create_engine(inst.url)
    try:
        with engine.connect() as conn:
            users = conn.execute(text("SELECT username, role FROM app_user WHERE active ORDER BY id")).all()
            tokens = list(conn.scalars(text("SELECT token FROM point WHERE active ORDER BY id")))
            area = conn.scalar(text("SELECT area_id FROM hazard GROUP BY area_id ORDER BY COUNT(*) DESC LIMIT 1"))
    finally:
        engine.dispose()
    password = json.loads((inst.folder / "demo.json").read_text())["password"]
    return Campus(summary.splitlines()[0], password, [u for u, role in users if role == "guard"],
                  [u for u, role in users if role in ("officer", "admin")], tokens,
                  [url.format(area=area) for url in HAZARD_LISTS])


def filled_check(page: str, photo: bytes, rng: random.Random) -> tuple[Submission, bytes, str] | None:
    """The check form answered: all pass, or one item failed with a note and the photo; None if no form."""
    keys = list(dict.fromkeys(ITEM.findall(page)))
    client_uuid, csrf = CLIENT_UUID.search(page), CSRF.search(page)
    if not (keys and client_uuid and csrf):
        return None
    failed = rng.choice(keys) if rng.random() < FAIL_SHARE else None
    fields = {"csrf_token": csrf.group(1), "client_uuid": client_uuid.group(1),
              "observed_at": datetime.now().astimezone().isoformat(timespec="seconds")}
    files = {}
    for key in keys:
        fields[f"result-{key}"] = "fail" if key == failed else "pass"
        fields[f"note-{key}"] = FAIL_NOTE if key == failed else ""
        files[f"photo-{key}"] = ("photo.jpg", photo) if key == failed else ("", b"")
    body, content_type = multipart(fields, files)
    return Submission(client_uuid.group(1), len(keys), failed, created=False), body, content_type


def guard(tokens: list[str], photo: bytes) -> Callable:
    def work(browser: Browser, running: Callable[[], bool], rng: random.Random) -> list[Submission]:
        sent = []
        while running():
            token = rng.choice(tokens)
            page = browser.get("check form", f"/p/{token}")
            if page is None:
                continue
            form = filled_check(page, photo, rng)
            if form is None:
                browser.samples[-1].error = "200 without a check form in it"
                continue
            submission, body, content_type = form
            submission.created = browser.fetch("check submit", "POST", f"/p/{token}", 201, body,
                                               content_type) is not None
            sent.append(submission)
        return sent
    return work


def officer(hazard_lists: list[str]) -> Callable:
    def work(browser: Browser, running: Callable[[], bool], rng: random.Random) -> list[Submission]:
        while running():
            if rng.random() < QUEUE_SHARE:
                browser.get("hazard queue", "/hazards/queue")
            else:
                browser.get("hazard list", rng.choice(hazard_lists))
        return []
    return work


def bare(browser: Browser, running: Callable[[], bool], _rng: random.Random) -> list[Submission]:
    while running():
        browser.get("bare route", "/")
    return []


def sample_photo() -> bytes:
    """A ~20 KB JPEG that compresses like a photo, not like a flat colour."""
    from PIL import Image

    size = (320, 240)
    gradient = Image.linear_gradient("L").resize(size)
    channels = [Image.blend(gradient, Image.effect_noise(size, 64), 0.2) for _ in range(3)]
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=85)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------
# Phases

@dataclass
class Phase:
    samples: list[Sample]  # warm-up included
    counted_from: float  # the end of the warm-up, time.perf_counter()
    sent: list[Submission]  # warm-up included
    cpu: float  # the client process's CPU seconds per second
    reconnects: int
    load: float  # the machine's 1-minute load average at the end

    @property
    def measured(self) -> list[Sample]:
        return [s for s in self.samples if s.started >= self.counted_from]


def run_phase(clients: list[tuple[Browser, Callable]], warmup: float, seconds: float) -> Phase:
    """Every client works from now until warm-up + seconds; the samples of the warm-up are dropped."""
    stopping = threading.Event()
    started, cpu = time.perf_counter(), time.process_time()
    counted_from, end = started + warmup, started + warmup + seconds

    def running() -> bool:
        return not stopping.is_set() and time.perf_counter() < end

    with ThreadPoolExecutor(len(clients)) as pool:
        try:
            futures = [pool.submit(work, browser, running, random.Random(n))
                       for n, (browser, work) in enumerate(clients)]
            sent = [submission for future in futures for submission in future.result()]
        finally:
            stopping.set()
    browsers = [browser for browser, _ in clients]
    for browser in browsers:
        browser.close()
    return Phase([s for b in browsers for s in b.samples], counted_from, sent,
                 (time.process_time() - cpu) / (time.perf_counter() - started), sum(b.reconnects for b in browsers),
                 os.getloadavg()[0])


def measure_bare(inst: Instance, args) -> Phase:
    port = free_port()
    command = [str(BIN / "gunicorn"), "--chdir", str(BENCH), "--bind", f"127.0.0.1:{port}",
               "--worker-class", "gthread", "--workers", str(args.workers), "--threads", str(args.threads),
               "--timeout", str(GUNICORN_TIMEOUT), "bare_app:app"]
    with serving(command, inst.env(), port, inst.folder / "bare.log"):
        return run_phase([(Browser(port, args.keep_alive), bare) for _ in range(args.clients)], args.warmup,
                         args.seconds)


def measure_patrol(inst: Instance, args, campus: Campus, photo: bytes) -> Phase:
    port = free_port()
    command = [str(BIN / "patrol"), "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(args.workers), "--threads", str(args.threads)]
    guards = round(args.clients * GUARD_SHARE)
    logins = [campus.guards[n % len(campus.guards)] if n < guards else campus.officers[n % len(campus.officers)]
              for n in range(args.clients)]
    with serving(command, inst.env(), port, inst.folder / "server.log"):
        with ThreadPoolExecutor(args.clients) as pool:
            browsers = list(pool.map(lambda username: log_in(Browser(port, args.keep_alive), username,
                                                             campus.password), logins))
        work = [guard(campus.tokens, photo) if n < guards else officer(campus.hazard_lists)
                for n in range(args.clients)]
        return run_phase(list(zip(browsers, work)), args.warmup, args.seconds)


# ---------------------------------------------------------------------------------------------------
# Figures

@dataclass
class Figures:
    count: int
    rate: float
    p50: float
    p95: float
    p99: float
    errors: int


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def figures(samples: list[Sample], seconds: float) -> Figures:
    ordered = sorted(s.ms for s in samples)
    return Figures(len(samples), len(samples) / seconds, percentile(ordered, 50), percentile(ordered, 95),
                   percentile(ordered, 99), sum(1 for s in samples if s.error))


def print_table(rows: list[tuple[str, Figures]]) -> None:
    print(f"  {'request':<22}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, f in rows:
        print(f"  {label:<22}{f.count:>8}{f.rate:>9.1f}{f.p50:>9.1f}{f.p95:>9.1f}{f.p99:>9.1f}{f.errors:>8}")


def print_ratios(rows: list[tuple[str, Figures]], base: Figures) -> None:
    print(f"  {'against the bare route':<22}{'req/s':>9}{'p50':>9}{'p95':>9}{'p99':>9}")
    for label, f in rows:
        print(f"  {label:<22}{f.rate / base.rate:>8.3f}×{f.p50 / base.p50:>8.1f}×{f.p95 / base.p95:>8.1f}×"
              f"{f.p99 / base.p99:>8.1f}×")


def print_errors(samples: list[Sample]) -> None:
    grouped = Counter((s.kind, s.error) for s in samples if s.error)
    if not grouped:
        print("errors, warm-up included: none")
        return
    locked = sum(n for (_, error), n in grouped.items() if "database is locked" in error)
    print(f"errors, warm-up included: {sum(grouped.values())}, of which \"database is locked\": {locked}")
    for (kind, error), n in grouped.most_common(12):
        print(f"  {n:>6} × {kind}: {error}")


def print_server_log(log_path: Path) -> None:
    """What the server wrote besides start and stop: tracebacks, "database is locked", gunicorn errors."""
    text = log_path.read_text(errors="replace")
    exceptions = Counter(line[:160] for line in text.splitlines()
                         if re.match(r"[\w.]+(Error|Exception|Timeout)\b", line))
    gunicorn = sum(1 for line in text.splitlines() if "[ERROR]" in line or "[CRITICAL]" in line)
    print(f"server log: {text.count('Traceback (most recent call last)')} tracebacks, "
          f"{text.count('database is locked')} mentions of \"database is locked\", {gunicorn} gunicorn errors")
    for line, n in exceptions.most_common(5):
        print(f"  {n:>6} × {line}")


# ---------------------------------------------------------------------------------------------------
# Integrity

def verify(inst: Instance, sent: list[Submission]) -> None:
    """Every check answered 201 is in the database with its answers and its photo; say which are not."""
    answers, photos = stored_checks(inst, [s.client_uuid for s in sent])
    created = [s for s in sent if s.created]
    present = [s for s in created if s.client_uuid in answers]
    complete = [s for s in present if len(answers[s.client_uuid]) == s.items and
                [k for k, result in answers[s.client_uuid] if result == "fail"] == ([s.failed] if s.failed else [])]
    with_photo = [s for s in created if s.failed]
    recorded = [p for s in with_photo for p in photos.get(s.client_uuid, []) if p[0] == s.failed]
    linked = [p for p in recorded if p[2] is not None]
    uploads = inst.folder / "uploads"  # laid out as patrol/photos.py path_for does
    on_disk = [p for p in recorded if (uploads / p[1][:2] / f"{p[1]}.jpg").is_file()]
    unanswered = [s for s in sent if not s.created]
    print(f"integrity: {len(created)} checks answered 201 (warm-up included); in the database {len(present)}, "
          f"with every answer as sent {len(complete)}")
    print(f"  photos: {len(with_photo)} sent on a failed item; {len(recorded)} recorded on it, {len(linked)} "
          f"linked to its hazard, {len(on_disk)} with their file in the uploads folder")
    print(f"  checks sent without a 201: {len(unanswered)}, "
          f"recorded anyway: {sum(1 for s in unanswered if s.client_uuid in answers)}")


def stored_checks(inst: Instance, uuids: list[str]) -> tuple[dict[str, list], dict[str, list]]:
    """By client_uuid: the (item, result) answers of each stored check, and its photos (item, sha256, hazard)."""
    from sqlalchemy import bindparam, create_engine, text

    uuids_in = bindparam("uuids", expanding=True)
    answers_sql = text("SELECT c.client_uuid, r.item_key, r.result FROM point_check c LEFT JOIN check_result r "
                       "ON r.check_id = c.id WHERE c.client_uuid IN :uuids").bindparams(uuids_in)
    photos_sql = text("SELECT c.client_uuid, p.item_key, p.sha256, p.hazard_id FROM photo p JOIN point_check c "
                      "ON c.id = p.check_id WHERE c.client_uuid IN :uuids").bindparams(uuids_in)
    answers: dict[str, list] = {}
    photos: dict[str, list] = {}
    engine = create_engine(inst.url)
    try:
        with engine.connect() as conn:
            for start in range(0, len(uuids), 500):
                chunk = {"uuids": uuids[start:start + 500]}
                for client_uuid, key, result in conn.execute(answers_sql, chunk):
                    answers.setdefault(client_uuid, []).extend([(key, result)] if key else [])
                for client_uuid, *photo in conn.execute(photos_sql, chunk):
                    photos.setdefault(client_uuid, []).append(tuple(photo))
    finally:
        engine.dispose()
    return answers, photos


# ---------------------------------------------------------------------------------------------------

def revision() -> str:
    """The checkout's commit, and whether patrol/ differs from it: the figures belong to that code."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=BENCH.parent, capture_output=True, text=True)

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode:
        return "not a git checkout"
    changed = git("status", "--porcelain", "--", "patrol").stdout.strip()
    return f"commit {head.stdout.strip()}" + (" with uncommitted changes in patrol/" if changed else "")


def print_header(args, inst: Instance, campus: Campus, photo: bytes) -> None:
    from sqlalchemy.engine import make_url

    guards = round(args.clients * GUARD_SHARE)
    where = (f"PostgreSQL schema {inst.schema} in {make_url(args.database_url).render_as_string(hide_password=True)}"
             if inst.schema else "SQLite (WAL) file in the instance folder")
    print(f"patrol load: {where}; patrol at {revision()}")
    print(f"  {campus.summary} ({args.days} days of demo history)")
    print(f"  server: gunicorn gthread, {args.workers} workers × {args.threads} threads, timeout {GUNICORN_TIMEOUT} s, "
          f"access log off, gunicorn defaults otherwise (keep-alive 2 s); patrol: `patrol serve --workers "
          f"{args.workers} --threads {args.threads}`, bare: bench/bare_app.py under the same settings")
    connections = "one kept-alive connection each" if args.keep_alive else "a new connection per request"
    print(f"  clients: {args.clients} threads of this process, {connections} — {guards} guards "
          f"({', '.join(campus.guards)}), {args.clients - guards} officers ({', '.join(campus.officers)}); "
          f"{os.cpu_count()} CPUs shared with the server")
    print(f"  each phase: {args.warmup:g} s warm-up, then {args.seconds:g} s measured; {len(campus.tokens)} points; "
          f"one check in {round(1 / FAIL_SHARE)} fails an item, with a {len(photo):,}-byte JPEG")
    print()


def print_results(args, patrol: Phase, baseline: Phase) -> None:
    measured = patrol.measured
    by_kind = [(kind, figures([s for s in measured if s.kind == kind], args.seconds)) for kind in PATROL_KINDS]
    everything = ("all patrol requests", figures(measured, args.seconds))
    base = figures(baseline.measured, args.seconds)
    print_table(by_kind + [everything, ("bare route", base)])
    print()
    print_ratios(by_kind + [everything], base)
    print(f"  check submissions / bare route throughput: {by_kind[1][1].rate / base.rate:.3f} (aim: at least 0.20)")
    print()
    print(f"client process CPU: {patrol.cpu:.0%} of one CPU in the patrol phase, {baseline.cpu:.0%} in the bare "
          f"phase; load average at the end: {patrol.load:.2f} patrol, {baseline.load:.2f} bare "
          f"({os.cpu_count()} CPUs)" + (f"; idle connections re-opened: {patrol.reconnects} patrol, "
                                         f"{baseline.reconnects} bare" if args.keep_alive else ""))
    print_errors(patrol.samples + baseline.samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("PATROL_TEST_DATABASE_URL") or DEFAULT_PG_URL,
                        help="PostgreSQL database to make a scratch schema in (default PATROL_TEST_DATABASE_URL, "
                             f"else {DEFAULT_PG_URL})")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before measuring, per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (patrol serve's default)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (patrol serve's default)")
    parser.add_argument("--days", type=int, default=90, help="days of demo history")
    parser.add_argument("--keep-alive", action="store_true",
                        help="each client keeps one connection open (default: a new connection per request)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # so the servers are stopped too

    photo = sample_photo()
    with instance(args.backend, args.database_url) as inst:
        inst.patrol("init")
        campus = read_campus(inst, inst.patrol("demo", "--days", str(args.days)))
        print_header(args, inst, campus, photo)
        baseline = measure_bare(inst, args)
        patrol = measure_patrol(inst, args, campus, photo)
        print_results(args, patrol, baseline)
        print_server_log(inst.folder / "server.log")
        verify(inst, patrol.sent)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; the servers are stopped and the scratch data removed")
