"""Fuzzing every form and API endpoint with hypothesis: no 500s, no stored script shown unescaped.

Every (endpoint, method) of the app needs a plan in PLANS: a new route fails test_every_endpoint_has_a_plan.
A plan sends one request per example: an HTML form as a role allowed to use it, with the CSRF token of the
page that shows the form; the JSON API with a bearer token; a page with a hostile query string or path.
Each answer must be below 500 (an exception in the app counts as a 500); an HTML page must not hold any of
fuzz_strategies.VECTORS raw; an API answer must be JSON, with "error" when it is 4xx. Once a request with a
script payload was accepted, the pages that show the thing again are checked too, and all of them once
more after the last example. The requests each plan sent are printed in pytest's terminal summary.

Known bugs (KNOWN_BUGS) are not sent by the plans, so that they still check everything else; each has its
smallest request in REPRODUCTIONS, a strict xfail until it is fixed and a regression test afterwards.

PATROL_FUZZ_SCALE=N multiplies the examples per plan (default 1: about a minute on SQLite);
PATROL_FUZZ_SHRINK=0 reports a failure as found instead of shrinking it; PATROL_FUZZ_SKIP_KNOWN=0 sends
the requests of known bugs too; PATROL_FUZZ_REPORT=FILE writes the counts as JSON.
"""
from __future__ import annotations

import collections
import io
import json
import os
import re
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from zoneinfo import available_timezones

import pytest
from jinja2 import BytecodeCache
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from markupsafe import escape
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

import fuzz_strategies as fs
from helpers import FAST_HASH, PASSWORD, csrf_from

SCALE = float(os.environ.get("PATROL_FUZZ_SCALE", "1"))
# PATROL_FUZZ_SKIP_KNOWN=0 sends the requests of known bugs too (to see which still fail).
SKIP_KNOWN_BUGS = os.environ.get("PATROL_FUZZ_SKIP_KNOWN", "1") != "0"
PHASES = [p for p in Phase if p is not Phase.explain and (p is not Phase.shrink or os.environ.get(
    "PATROL_FUZZ_SHRINK", "1") != "0")]

ALL_ROLES = ("guard", "repairer", "officer", "admin", "viewer")
STAFF = ("officer", "admin", "viewer")
CHECKERS = ("guard", "officer", "admin")
MANAGERS = ("officer", "admin")
WORKERS = ("guard", "repairer", "officer", "admin")
CATEGORIES = ("fire", "electrical", "building", "facilities", "food", "security", "other")
# action -> the states it may be taken from (patrol.hazard_flow.ACTIONS; "extension": a pending request)
ACTIONS = {"assign": ("reported", "assigned"), "dismiss": ("reported", "assigned"), "rectify": ("assigned",),
           "request_extension": ("assigned",), "approve_extension": ("extension",),
           "refuse_extension": ("extension",), "verify": ("rectified",), "reject": ("rectified",),
           "escalate": ("reported", "assigned", "rectified"), "deescalate": ("escalated",)}
STATES = ("reported", "assigned", "extension", "rectified", "escalated", "dismissed")
TIMEZONES = sorted(available_timezones())
# A browser, htmx, and the outbox replaying a form in the background.
HEADERS = st.sampled_from(({}, {}, {"HX-Request": "true"}, {"Accept": "application/json"}))

# (backend, "endpoint METHOD") -> counts, printed when the module ends.
STATS: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)


# The world the plans aim at: ---------------------------------------------------------------------------------

@dataclass
class World:
    campus_id: int
    users: dict[str, int]  # username -> id
    areas: list[int]
    types: dict[str, int]  # point type key -> id
    items: dict[int, list[int]]  # point type id -> item ids
    points: dict[str, dict]  # code -> {"id", "token", "items": [keys]}
    photo_id: int
    photo_sha: str  # a stored photo's hash, as a "kept" field names it
    delivery_id: int
    hazards: list[int]  # one per state of STATES
    app: object
    submissions: tuple[str, str] | None = None

    @property
    def check_uuid(self) -> str:
        """A check by the guard at P-EXIT, its photos declared but not sent (made when first asked for)."""
        self.submissions = self.submissions or declare_photos(self.app, self.points["P-EXIT"])
        return self.submissions[0]

    @property
    def report_uuid(self) -> str:
        """An ad-hoc report by the guard, its photos declared but not sent."""
        self.submissions = self.submissions or declare_photos(self.app, self.points["P-EXIT"])
        return self.submissions[1]

    def point_ids(self):
        return [p["id"] for p in self.points.values()]

    def tokens(self):
        return [p["token"] for p in self.points.values()]


@pytest.fixture
def world(app, campus) -> World:
    """The campus fixture and what the plans need: spare users, hazards in every state, a photo, a delivery,
    a check and a report waiting for their photos."""
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import ChecklistItem, Photo, Point, PointType, User, WebhookDelivery

    app.jinja_env.bytecode_cache = TEMPLATES
    with app.app_context():
        for name, role in (("victim1", "guard"), ("victim2", "repairer"), ("victim3", "viewer")):
            user = User(username=name, name=f"{name} 用户", role=role, campus_id=campus["campus_id"], locale="en")
            user.password_hash = FAST_HASH
            db.session.add(user)
        db.session.commit()
        users = {u.username: u.id for u in db.session.query(User)}
        types = {t.key: t.id for t in db.session.query(PointType)}
        items = collections.defaultdict(list)
        for item in db.session.query(ChecklistItem).order_by(ChecklistItem.position):
            items[item.point_type_id].append(item.id)
        points = {p.code: {"id": p.id, "token": p.token, "items": [i.key for i in p.point_type.active_items]}
                  for p in db.session.query(Point)}
        stored = photos.store(fs.JPEG)
        hazards = [make_hazard(app, state, campus["campus_id"], users) for state in STATES]
        photo = Photo(sha256=stored.sha256, size=stored.size, width=stored.width, height=stored.height,
                      uploaded_by_id=users["guard"], hazard_id=hazards[0])
        delivery = WebhookDelivery(campus_id=campus["campus_id"], kind="test", url="http://127.0.0.1:9/",
                                   body="{}", status="failed", attempts=7, last_error="refused")
        db.session.add_all([photo, delivery])
        db.session.commit()
        photo_id, delivery_id = photo.id, delivery.id
    return World(campus["campus_id"], users, list(campus["areas"].values()), types, dict(items), points,
                 photo_id, stored.sha256, delivery_id, hazards, app)


class TemplateCache(BytecodeCache):
    """Compiled templates shared by the apps of all the plans: each test makes a new app, and compiling
    the same templates again for each would take a good part of the module's time."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = TemplateCache()


def make_hazard(app, state: str, campus_id: int, users: dict[str, int], assignee: str = "officer") -> int:
    """A hazard at the exit point in one of STATES."""
    from patrol.extensions import db
    from patrol.models import Hazard, Point

    with app.app_context():
        point = db.session.query(Point).filter_by(code="P-EXIT").one()
        today = datetime.now(timezone.utc).date()
        hazard = Hazard(campus_id=campus_id, point_id=point.id, area_id=point.area_id, location="出口",
                        category="fire", severity="general", description="seeded", status="reported",
                        reported_by_id=users["guard"])
        if state in ("assigned", "extension", "rectified"):
            hazard.status, hazard.assignee_id, hazard.deadline = "assigned", users[assignee], today + timedelta(3)
        if state == "extension":
            hazard.extension_until, hazard.extension_reason = today + timedelta(9), "parts"
        if state == "rectified":
            hazard.status, hazard.rectified_by_id = "rectified", users[assignee]
            hazard.rectified_at = datetime.now(timezone.utc).replace(tzinfo=None)
        if state == "escalated":
            hazard.escalated = True
        if state == "dismissed":
            hazard.status, hazard.closed_at = "dismissed", datetime.now(timezone.utc).replace(tzinfo=None)
        db.session.add(hazard)
        db.session.commit()
        return hazard.id


def declare_photos(app, exit_point) -> tuple[str, str]:
    """A check and an ad-hoc report by the guard, sent as the outbox sends them: photos declared, to follow."""
    client = app.test_client()
    token = csrf_from(client.get("/login"))
    assert client.post("/login", data={"username": "guard", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    check_uuid, report_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    form = MultiDict({"csrf_token": token, "client_uuid": check_uuid})
    for key in exit_point["items"]:
        form.add(f"result-{key}", "pass")
        for sha in fs.DECLARED:
            form.add(f"photo_sha256-{key}", sha)
    assert client.post("/p/" + exit_point["token"], data=form).status_code == 201
    form = MultiDict({"csrf_token": token, "client_uuid": report_uuid, "category": "fire", "description": "seeded",
                      "location": "gate"})
    for sha in fs.DECLARED:
        form.add("photo_sha256", sha)
    assert client.post("/report", data=form).status_code == 201
    return check_uuid, report_uuid


# Known bugs: -------------------------------------------------------------------------------------------------
# A bug the fuzzing finds goes here while it waits for a fix: a predicate that recognises its requests, which
# the plans then do not send (hypothesis draws another example), so that they still check everything else;
# and its smallest request goes into REPRODUCTIONS, which marks it xfail (strict). Once it is fixed the
# xfail fails: delete the predicate, and the reproduction stays as a regression test.

@dataclass
class Sent:
    """What a request carries, as a known bug's predicate sees it."""

    backend: str
    method: str
    path: str
    segments: list[str]
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    files: list[bytes]
    json: object = None
    raw: bytes | None = None
    args: dict = field(default_factory=dict)  # the URL's arguments, as the route converted them
    multipart: bool = False

    def values(self, *names: str) -> list:
        """The query, form and (top-level) JSON values of these parameters."""
        found = [v for k, v in self.query + self.form if k in names]
        if isinstance(self.json, dict):
            found += [self.json[k] for k in names if k in self.json]
        return found


# name -> does this request hit it (every bug found so far is fixed: see REPRODUCTIONS)
KNOWN_BUGS: dict[str, Callable[[Sent], bool]] = {}


# Sending requests and judging the answers: -------------------------------------------------------------------

def app_frame(exc: BaseException) -> str:
    """Where in patrol/ an exception came from (the innermost frame of the app), and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f"{os.sep}patrol{os.sep}" in f.filename]
    parts = []
    if mine:
        parts.append(f"{os.path.relpath(mine[-1].filename)}:{mine[-1].lineno} in {mine[-1].name}: {mine[-1].line}")
    if frames and (not mine or frames[-1] is not mine[-1]):
        parts.append(f"raised at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}")
    return "; ".join(parts)


def has_payload(values) -> bool:
    return any(v in str(values) for v in fs.VECTORS)


class Fuzzer:
    """One plan's run on one app: logged-in clients per role, request counts, the checks every answer passes."""

    def __init__(self, app, backend: str, key: str, world: World, tokens: dict | None, fuzzing: bool = True):
        self.app, self.backend, self.key, self.world, self.tokens = app, backend, key, world, tokens or {}
        self.fuzzing = fuzzing  # False: a known bug's reproduction, sent as it is and not counted
        self.stats = STATS[(backend, key)] if fuzzing else collections.Counter()
        self.clients: dict[str | None, object] = {}
        self.passwords: dict[str, str] = {}
        self.shows: set[tuple[str, str]] = set()  # (role, url): pages that show what this plan stores
        self.memo: dict = {}

    def cached(self, key, build: Callable):
        """Strategies are slow to build: each plan builds its own once."""
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]

    def client(self, role: str | None):
        """A test client logged in as the user of that role (None: anonymous), made once."""
        if role not in self.clients:
            client = self.app.test_client()
            if role:
                token = csrf_from(self.send(client, "GET", "/login", target=False))
                answer = self.send(client, "POST", "/login", target=False, data={
                    "username": role, "password": self.passwords.get(role, PASSWORD), "csrf_token": token})
                assert answer.status_code == 302, f"could not log in as {role}: {answer.status_code}"
            self.clients[role] = client
        return self.clients[role]

    def skip_known_bugs(self, method: str, url: str, data=None, json_body=None, raw=None, content_type=None):
        """Draw another example instead of sending a request that would only hit a known bug again."""
        parts = urlsplit(url)
        form, files = [], []
        if isinstance(data, MultiDict):
            for name, value in data.items(multi=True):
                if isinstance(value, str):
                    form.append((name, value))
                else:
                    files.append(value[0].getvalue())
        try:
            _endpoint, args = self.app.url_map.bind("patrol.test").match(parts.path, method)
        except HTTPException:
            args = {}
        sent = Sent(self.backend, method, parts.path, [unquote(s) for s in parts.path.split("/")],
                    parse_qsl(parts.query, keep_blank_values=True), form, files, json_body, raw, args,
                    (content_type or "").startswith("multipart/"))
        for bug, matches in KNOWN_BUGS.items():
            if SKIP_KNOWN_BUGS and matches(sent):
                self.stats["skipped (known bugs)"] += 1
                self.stats[f"skipped: {bug}"] += 1
                reject()

    def send(self, client, method: str, url: str, *, target: bool = True, query=None, data=None, json_body=None,
             raw: bytes | None = None, content_type: str | None = None, headers=None, api: bool = False):
        """One request. An exception or a 5xx fails; an HTML answer must hold no raw payload; an API answer must
        be JSON; a JSON answer of 4xx must say what the error is."""
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        if target and self.fuzzing:
            self.skip_known_bugs(method, url, data, json_body, raw, content_type)
        kwargs = {"headers": headers or {}}
        if data is not None:
            kwargs["data"] = data
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False, allow_nan=True)
            content_type = content_type or "application/json"
        if raw is not None:
            kwargs["data"] = raw
        if content_type:
            kwargs["content_type"] = content_type
        self.stats["requests" if target else "support requests"] += 1
        described = f"{method} {url[:300]}" + (f" body={str(kwargs['data'])[:400]!r}" if "data" in kwargs else "")
        try:
            response = client.open(url, method=method, **kwargs)
        except Exception as exc:  # the test client re-raises what the app did not handle: a 500
            raise AssertionError(f"500 ({type(exc).__name__}: {str(exc)[:300]}) at {app_frame(exc)}\n"
                                 f"request: {described}") from exc
        status = response.status_code
        if target:
            self.stats[f"{status // 100}xx"] += 1
        assert status < 500, f"{status} for {described}"
        if api and not 300 <= status < 400:  # werkzeug redirects "//" in a path to "/" with an HTML body
            assert response.is_json, f"API answered {status} {response.mimetype}, not JSON: {described}"
        if response.is_json and status >= 400:
            body = response.get_json()
            assert isinstance(body, dict) and "error" in body, f"{status} without an error key: {described}"
        if response.mimetype == "text/html":
            self.assert_escaped(response.get_data(as_text=True), described)
        response.close()
        return response

    def assert_escaped(self, html: str, described: str) -> None:
        for vector in fs.VECTORS:
            assert vector not in html, f"script payload {vector!r} shown unescaped in the answer to {described}"
            if str(escape(vector)) in html:
                self.stats["escaped payloads seen"] += 1

    def form(self, data, role: str | None, url: str, page: str, fields: dict, files: dict | None = None,
             shows=(), headers=None):
        """POST drawn fields (and files) to url as role, with the CSRF token of the page that shows the form."""
        client = self.client(role)
        mode = data.draw(fs.MODES, label="mode")
        values = data.draw(self.cached(("form", *fields.items()), lambda: fs.form_fields(fields))(mode),
                           label="fields")
        how = data.draw(st.sampled_from(["valid"] * 10 + ["missing", "garbage"]), label="csrf")
        if how == "garbage":
            values["csrf_token"] = [data.draw(fs.nasty_text(), label="csrf_token")]
        body = MultiDict([(name, value) for name, many in values.items() for value in many])
        multipart = False
        for name, spec in (files or {}).items():
            if mode == "chaos" and data.draw(st.integers(0, 4), label=f"{name} as text") == 0:
                body.add(name, data.draw(fs.nasty_text(), label=name))  # a file field sent as a plain value
                continue
            chosen = spec.good if mode in ("valid", "long") else spec.any
            for content, filename, mimetype in data.draw(chosen, label=name):
                body.add(name, (io.BytesIO(content), filename, mimetype))
                multipart = True
        multipart = multipart or data.draw(st.booleans(), label="multipart")
        if headers is None:
            headers = data.draw(HEADERS, label="headers")
        content_type = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
        if self.fuzzing:  # before fetching the token for it
            self.skip_known_bugs("POST", url, MultiDict([*body.items(multi=True)] + (
                [("csrf_token", "token")] if how == "valid" else [])), content_type=content_type)
        if how == "valid":
            body.add("csrf_token", csrf_from(self.send(client, "GET", page, target=False)))
        uploaded = [(v[1], v[0].getvalue().decode("utf-8", "replace"))
                    for _name, v in body.items(multi=True) if isinstance(v, tuple)]
        answer = self.send(client, "POST", url, data=body, headers=headers, content_type=content_type)
        self.after(answer, (values, uploaded), role, shows)
        return answer

    def after(self, answer, values, role, shows):
        """A script payload was accepted: the page it leads to and the first of `shows` are read now, every
        one of `shows` after the last example (sweep); each must show it escaped."""
        self.shows.update(shows)
        if has_payload(values):
            self.stats["payload requests"] += 1
            if answer.status_code < 400:
                self.stats["payload requests accepted"] += 1
                now = list(shows[:1])
                if answer.status_code in (301, 302, 303) and answer.location.startswith("/"):
                    now.append((role, answer.location))
                self.look(dict.fromkeys(now))

    def look(self, pages):
        for role, url in pages:
            self.send(self.client(role), "GET", url, target=False)

    def api(self, data, roles, method: str, url: str, query=None, json_body=None, raw=None, content_type=None,
            form=None):
        """A request with the bearer token of one of roles."""
        role = data.draw(st.sampled_from(roles), label="token of")
        authorization = f"Bearer {self.tokens[role]}"
        if data.draw(st.integers(0, 9), label="a wrong authorization") == 0:
            authorization = data.draw(BAD_AUTHORIZATION, label="authorization").format(token=self.tokens[role])
        return self.send(self.client(None), method, url, query=query, json_body=json_body, raw=raw,
                         content_type=content_type, data=form, api=True, headers={"Authorization": authorization})

    def sweep(self):
        """After the last example: every page that shows what the plan stored, once more, and the pages of
        the hazards it made (the newest 20)."""
        from patrol.extensions import db
        from patrol.models import Hazard

        with self.app.app_context():
            made = db.session.scalars(db.select(Hazard.id).where(Hazard.id.not_in(self.world.hazards))
                                      .order_by(Hazard.id.desc()).limit(20)).all()
        self.look(sorted(self.shows, key=str) + [("officer", f"/hazards/{h}") for h in made])


# Plans: ------------------------------------------------------------------------------------------------------

@dataclass
class Plan:
    run: Callable[[Fuzzer, object], None]
    examples: int
    api: bool = False


PLANS: dict[str, Plan] = {}


def plan(endpoint: str, method: str = "GET", examples: int = 10, api: bool = False):
    def register(run):
        key = f"{endpoint} {method}"
        assert key not in PLANS, key
        PLANS[key] = Plan(run, examples, api)
        return run
    return register


def pick(data, spec, label: str):
    return data.draw(spec.any if isinstance(spec, fs.Field) else spec, label=label)


def seg(value) -> str:
    """A value as one URL path segment."""
    return quote(str(value), safe="")


def choice(*values):
    return st.sampled_from(values)


def int_segment(real, spare=()) -> st.SearchStrategy[str]:
    """A path value for <int:...>: a real id, a small number (never one of `spare`), a huge one."""
    real, spare = sorted(real), set(spare)
    return st.one_of(st.sampled_from(real), st.sampled_from(real),
                     st.integers(0, 2 ** 31 - 1).filter(lambda n: n not in spare),
                     choice(2 ** 31, 2 ** 63, 10 ** 20, 10 ** 40)).map(str)


def text_of(max_size: int = 30):
    return st.text(fs.SAFE_CHARS, min_size=1, max_size=max_size)


# Free text whose column is short (a floor: 50), plausible values shorter still.
SHORT_TEXT = fs.Field(text_of(10), fs.text_field().bad, text=True)
MONTHS = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2020, 2027), st.integers(1, 12))
PAST_MONTHS = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2021, 2024), st.integers(1, 12))
PERIODS = choice("day", "week", "month")
# A new submission id, mostly: hypothesis's uuids() repeats the same few, and a repeat is only "already recorded".
FRESH_UUID = st.one_of(st.builds(uuid.uuid4), st.builds(uuid.uuid4), st.uuids()).map(str)
ADMIN = ("admin",)


def get_page(endpoint: str, roles, path: Callable[[Fuzzer, object], str], params: dict | None = None,
             examples: int = 10):
    """A GET page: a role allowed to see it, a drawn path, a hostile query string, sometimes asked by htmx."""
    roles = st.sampled_from(tuple(roles))
    query = fs.query(params or {})

    @plan(endpoint, "GET", examples)
    def run(fz: Fuzzer, data):
        role, url = pick(data, roles, "role"), path(fz, data) + pick(data, RAW_QUERY, "raw query")
        fz.send(fz.client(role), "GET", url, query=pick(data, query, "query"), headers=pick(data, HEADERS, "headers"))
    return run


# Now and then a query string no form would make: bad escapes, bytes that are not UTF-8, empty names.
RAW_QUERY = st.sampled_from(("",) * 9 + ("?%ZZ=%&page=%FF&&=&%00=%00", "?page&page=&page[]=1", "?a=1;page=2",
                                          "?=x&+=+&%2B=%2B", "?" + "x=1&" * 300))


def fixed(url: str):
    return lambda fz, data: url


def form_post(endpoint: str, roles, url, page, fields, files: dict | None = None, shows=(), examples: int = 12):
    """A form: POST drawn fields to `url` with the CSRF token of `page`. url, page, fields and shows may be
    functions: of (fuzzer, data), (fuzzer, url), (fuzzer,) and (fuzzer, url)."""
    roles = st.sampled_from(tuple(roles))

    @plan(endpoint, "POST", examples)
    def run(fz: Fuzzer, data):
        target = url(fz, data) if callable(url) else url
        form_page = page(fz, target) if callable(page) else page
        specs = fz.cached(("form fields", endpoint), lambda: fields(fz) if callable(fields) else fields)
        fz.form(data, pick(data, roles, "role"), target, form_page, specs, files,
                shows(fz, target) if callable(shows) else shows)
    return run


# auth ----

NEXT = fs.Field(choice("/", "/hazards", "/tasks"), fs.redirect_target())
get_page("auth.login", [None], fixed("/login"), {"next": NEXT})


@plan("auth.login", "POST", examples=12)
def login(fz, data):
    fz.form(data, None, "/login", "/login", fz.cached("fields", lambda: {
        "username": fs.either(st.sampled_from(ALL_ROLES + ("victim1", "nobody"))),
        "password": fs.either(st.just(PASSWORD)), "next": NEXT}))
    fz.clients.pop(None)  # logged in, maybe: start the next example anonymous


@plan("auth.set_locale", "POST", examples=8)
def set_locale(fz, data):
    role = pick(data, choice(None, "guard", "admin"), "role")
    fz.form(data, role, "/locale", "/login" if role is None else "/", fz.cached("fields", lambda: {
        "locale": fs.either(choice("zh", "en")), "next": NEXT}))


@plan("auth.logout", "POST", examples=5)
def logout(fz, data):
    fz.form(data, "guard", "/logout", "/", {})
    fz.clients.pop("guard")


get_page("auth.change_password", ALL_ROLES, fixed("/password"))
NEW_PASSWORD = fs.either(text_of(20).filter(lambda t: len(t.strip()) >= 8))


@plan("auth.change_password", "POST", examples=12)
def change_password(fz, data):
    current = fz.passwords.get("viewer", PASSWORD)
    new = pick(data, NEW_PASSWORD, "new password")
    answer = fz.form(data, "viewer", "/password", "/password", {
        "current": fs.Field(st.just(current), fs.nasty_text()), "password": fs.Field(st.just(new), st.just(new)),
        "again": fs.Field(st.just(new), fs.nasty_text())})
    if answer.status_code == 303:
        fz.passwords["viewer"] = new  # this client stays logged in; another logs in with the new password


# home, scan ----

get_page("home.index", ALL_ROLES, fixed("/"))
get_page("static", [None], lambda fz, data: "/static/" + quote(pick(data, fs.either(
    choice("app.css", "app.js", "outbox.js", "../patrol/__init__.py", "vendor/", "")), "filename"), safe="/"),
    examples=6)
get_page("scan.check_form", ALL_ROLES, lambda fz, data: "/p/" + seg(pick(data, fz.cached(
    "tokens", lambda: fs.either(st.sampled_from(fz.world.tokens()))), "token")))
get_page("scan.go", ALL_ROLES, fixed("/go"), {"code": choice("P-EXIT", "P-HYDRANT", "p-exit", "")})
get_page("scan.report", CHECKERS, fixed("/report"), {"point": choice("P-EXIT", "P-GATE"), "offline": choice("1")})


# A photo to follow (the outbox sends it later), named by the SHA-256 of its bytes.
TO_FOLLOW = fs.Field(st.one_of(st.just(""), st.sampled_from(sorted(fs.DECLARED))), fs.sha256s())


def check_fields(fz, code):
    """The check form of the point with this code, for every item (and one the point does not have)."""
    fields = {"client_uuid": fs.either(FRESH_UUID),
              "observed_at": fs.Field(st.one_of(st.just(""), st.builds(lambda: datetime.now(timezone.utc).isoformat())),
                                      fs.dateish())}
    for key in fz.world.points[code]["items"] + ["no_such_item"]:
        fields[f"result-{key}"] = fs.either(choice("pass", "fail", "na"))
        fields[f"note-{key}"] = fs.text_field()
        fields[f"kept-{key}"] = fs.either(st.just(fz.world.photo_sha))
        fields[f"photo_sha256-{key}"] = TO_FOLLOW
    return fields


@plan("scan.submit_check", "POST", examples=16)
def submit_check(fz, data):
    code = pick(data, choice("P-EXIT", "P-EXTINGUISHER", "P-GATE"), "point")
    token = fz.world.points[code]["token"]
    url = "/p/" + seg(pick(data, fs.Field(st.just(token), fs.nasty_text()), "token"))
    role = pick(data, st.sampled_from(CHECKERS), "role")
    fields = fz.cached(("check", code), lambda: check_fields(fz, code))
    files = fz.cached(("photos", code), lambda: {f"photo-{key}": fs.photo_field()
                                                 for key in fz.world.points[code]["items"]})
    fz.form(data, role, url, "/p/" + token, fields, files, shows=(
        (role, "/p/" + token), ("officer", "/hazards"), ("officer", "/hazards/queue"), ("officer", "/checks"),
        ("officer", "/notifications"), (role, "/"), ("viewer", "/hazards?status=open")))


def report_fields(fz):
    return {"point": fs.either(st.sampled_from(sorted(fz.world.points))),
            "area": fs.either(st.sampled_from(fz.world.areas).map(str)),
            "client_uuid": fs.either(FRESH_UUID), "category": fs.either(st.sampled_from(CATEGORIES)),
            "description": fs.text_field(), "location": fs.text_field(),
            "kept": fs.either(st.just(fz.world.photo_sha)), "photo_sha256": TO_FOLLOW,
            "label": fs.either(st.sampled_from(fz.world.tokens()))}


form_post("scan.report", CHECKERS, "/report", "/report", report_fields, {"photo": fs.photo_field()}, shows=(
    ("officer", "/hazards"), ("officer", "/hazards/queue"), ("officer", "/notifications"), ("admin", "/"),
    ("viewer", "/hazards?status=reported")), examples=16)


def submission_id(real: str):
    return fs.either(st.sampled_from([real, real.upper(), str(uuid.uuid4())]))


get_page("scan.check_sent", ALL_ROLES, lambda fz, data: "/p/{}/sent/{}".format(
    seg(pick(data, fz.cached("tokens", lambda: fs.either(st.sampled_from(fz.world.tokens()))), "token")),
    seg(pick(data, fz.cached("check", lambda: submission_id(fz.world.check_uuid)), "uuid"))))
get_page("scan.report_sent", CHECKERS, lambda fz, data: "/report/sent/" + seg(
    pick(data, fz.cached("report", lambda: submission_id(fz.world.report_uuid)), "uuid")))


# outbox ----

get_page("outbox.index", ALL_ROLES, fixed("/outbox"), {"saved": choice("1", "0")}, examples=6)
get_page("outbox.session", ALL_ROLES, fixed("/outbox/session"), examples=6)
get_page("outbox.pack", ALL_ROLES, fixed("/outbox/pack"), examples=6)
get_page("outbox.manifest", [None, "guard"], fixed("/manifest.webmanifest"), examples=4)
get_page("outbox.service_worker", [None, "guard"], fixed("/sw.js"), examples=4)

# What an HTTP header can carry: latin-1, no line breaks.
CSRF_HEADER = fs.nasty_text(nul=False).map(
    lambda t: re.sub(r"[\r\n]", "", t.encode("latin-1", "replace").decode("latin-1")))
# An Authorization header that is not quite the right one (401, or accepted where it still names the token).
BAD_AUTHORIZATION = st.one_of(st.sampled_from((
    "", "Bearer", "Bearer ", "bearer {token}", "Basic {token}", "Bearer {token}x", "Bearer  {token} ",
    "Bearer {token}, Bearer x")), CSRF_HEADER.map(lambda t: t.replace("{", "").replace("}", "")))
# A declared photo with its bytes (stored: 201, already held: 200), or any hash with any bytes.
PHOTO_PUT = st.one_of(st.sampled_from(sorted(fs.DECLARED.items())),
                      st.tuples(fs.sha256s(), st.one_of(st.sampled_from(fs.FILE_BODIES), st.binary(max_size=300))))


def photo_urls(fz, data, base: str, real: str) -> tuple[str, str, bytes]:
    """(the URL of the submission's missing photos, the URL of one photo, bytes to PUT there)."""
    root = f"{base}/{seg(pick(data, fz.cached(real, lambda: submission_id(real)), 'uuid'))}/photos/"
    sha, body = pick(data, PHOTO_PUT, "photo")
    return root, root + seg(sha), body


def outbox_photo(endpoint: str, base: str, uuid_of: Callable[[World], str]):
    """The outbox's photo endpoints: GET the missing ones, PUT one photo (logged in, CSRF header as fetch sends)."""
    @plan(endpoint, "GET", examples=8)
    def missing(fz, data):
        listing, _one, _body = photo_urls(fz, data, base, uuid_of(fz.world))
        fz.send(fz.client(pick(data, st.sampled_from(CHECKERS), "role")), "GET", listing,
                headers=pick(data, HEADERS, "headers"))

    @plan(endpoint, "PUT", examples=15)
    def put(fz, data):
        _listing, one, body = photo_urls(fz, data, base, uuid_of(fz.world))
        client = fz.client(pick(data, choice("guard", "guard", "officer"), "role"))
        headers = {"Accept": "application/json"}
        how = pick(data, choice("valid", "valid", "valid", "missing", "garbage"), "csrf")
        if how == "garbage":
            headers["X-CSRFToken"] = pick(data, CSRF_HEADER, "csrf_token")
        fz.skip_known_bugs("PUT", one, raw=body)
        if how == "valid":
            session = fz.send(client, "GET", "/outbox/session", target=False, headers=headers)
            headers["X-CSRFToken"] = session.get_json()["csrf_token"]
        fz.send(client, "PUT", one, raw=body, headers=headers,
                content_type=pick(data, st.sampled_from(fs.CONTENT_TYPES), "content type"))


outbox_photo("outbox.check_photo", "/outbox/checks", lambda world: world.check_uuid)
outbox_photo("outbox.report_photo", "/outbox/reports", lambda world: world.report_uuid)


# hazards ----

HAZARD_FILTERS = {"status": choice("open", "reported", "assigned", "rectified", "verified", "dismissed"),
                  "severity": choice("general", "major"), "category": st.sampled_from(CATEGORIES),
                  "area": st.integers(0, 9).map(str), "overdue": choice("1", "true", "0"),
                  "found": st.one_of(MONTHS, fs.dateish()), "verified": st.one_of(MONTHS, fs.dateish()),
                  "page": fs.PAGE}
get_page("hazards.index", STAFF, fixed("/hazards"), HAZARD_FILTERS)
get_page("hazards.queue", STAFF, fixed("/hazards/queue"))
get_page("hazards.detail", STAFF, lambda fz, data: "/hazards/" + pick(
    data, fz.cached("hazards", lambda: int_segment(fz.world.hazards)), "id"))
get_page("hazards.photo", ALL_ROLES, lambda fz, data: "/photos/" + pick(
    data, fz.cached("photo", lambda: int_segment([fz.world.photo_id])), "id"))


def action_fields(fz):
    ids, names = sorted(map(str, fz.world.users.values())), sorted(fz.world.users)
    return {"note": fs.text_field(), "assignee": fs.either(st.one_of(st.sampled_from(ids), st.sampled_from(names))),
            "deadline": fs.either(st.dates(datetime.now().date() + timedelta(2)).map(str)),
            "severity": fs.either(choice("general", "major")), "category": fs.either(st.sampled_from(CATEGORIES)),
            "measures": fs.text_field(), "next": NEXT,
            "kept": fs.either(st.just(fz.world.photo_sha))}


def hazard_action(data) -> tuple[str, str, str]:
    """(role, state, action): mostly an action that its role may take from that state, else anything."""
    if pick(data, choice(True, True, False), "consistent"):
        action = pick(data, st.sampled_from(sorted(ACTIONS)), "action")
        state = pick(data, st.sampled_from(ACTIONS[action]), "state")
        roles = WORKERS if action in ("rectify", "request_extension") else MANAGERS
        return pick(data, st.sampled_from(roles), "role"), state, action
    return (pick(data, st.sampled_from(ALL_ROLES), "role"), pick(data, st.sampled_from(STATES), "state"),
            pick(data, fs.weighted((1, st.sampled_from(sorted(ACTIONS))), (1, fs.nasty_text())), "action"))


@plan("hazards.act", "POST", examples=25)
def act(fz, data):
    role, state, action = hazard_action(data)
    assignee = role if role in WORKERS else "officer"
    hazard = make_hazard(fz.app, state, fz.world.campus_id, fz.world.users, assignee=assignee)
    page = "/tasks" if role == "repairer" else f"/hazards/{hazard}"
    fields = fz.cached("fields", lambda: action_fields(fz))
    fz.form(data, role, f"/hazards/{hazard}/actions/{seg(action)}", page, fields,
            {"photo": fs.photo_field()}, shows=(
                ("officer", f"/hazards/{hazard}"), ("officer", "/hazards"), ("officer", "/hazards/queue"),
                (assignee, "/tasks"), (assignee, "/notifications"), ("officer", "/notifications"),
                ("viewer", "/reports/monthly?month=" + datetime.now(timezone.utc).strftime("%Y-%m"))))


@plan("hazards.bulk_assign", "POST", examples=12)
def bulk_assign(fz, data):
    hazards = [make_hazard(fz.app, "reported", fz.world.campus_id, fz.world.users) for _ in range(2)]
    fields = dict(fz.cached("fields", lambda: action_fields(fz)), hazard=fs.Field(
        st.sampled_from(hazards).map(str), st.one_of(st.sampled_from(fz.world.hazards).map(str), fs.numberish())))
    fz.form(data, pick(data, st.sampled_from(MANAGERS), "role"), "/hazards/queue/assign", "/hazards/queue",
            fields, shows=(("officer", "/hazards/queue"), ("officer", "/hazards"), ("repairer", "/tasks"),
                           ("officer", f"/hazards/{hazards[0]}")))


# checks, tasks, notifications ----

get_page("checks.index", STAFF, fixed("/checks"), {"point": choice("P-EXIT", "nope"), "since": fs.dateish(),
                                                   "flagged": choice("1", "true"), "page": fs.PAGE})
get_page("tasks.index", WORKERS, fixed("/tasks"))
get_page("notifications.index", ALL_ROLES, fixed("/notifications"), {"page": fs.PAGE})
get_page("notifications.badges", [None, *ALL_ROLES], fixed("/badges"))
form_post("notifications.read_all", ALL_ROLES, "/notifications/read", "/notifications", {}, examples=5)


# dashboard, reports, district ----

get_page("dashboard.index", STAFF, fixed("/dashboard"), {"period": PERIODS}, examples=5)
get_page("dashboard.coverage", STAFF, fixed("/dashboard/coverage"), {
    "period": PERIODS, "month": st.one_of(MONTHS, fs.dateish()), "area": st.integers(0, 9).map(str),
    "type": choice("exit", "extinguisher", "gate"), "cadence": choice("daily", "weekly", "monthly")})
get_page("dashboard.due", CHECKERS, fixed("/dashboard/due"), examples=6)
get_page("reports.monthly", STAFF, fixed("/reports/monthly"), {"month": st.one_of(MONTHS, fs.dateish())}, examples=8)
REPORT_MONTH = fs.either(st.one_of(MONTHS, fs.dateish()))
get_page("reports.monthly_json", STAFF, lambda fz, data: "/reports/monthly/" + seg(
    pick(data, REPORT_MONTH, "month")) + ".json", examples=8)
get_page("reports.monthly_xlsx", STAFF, lambda fz, data: "/reports/monthly/" + seg(
    pick(data, REPORT_MONTH, "month")) + ".xlsx", examples=6)
CLOSE_MONTH = fs.Field(PAST_MONTHS, st.one_of(MONTHS, fs.nasty_text()))


def month_urls(data, what: str) -> tuple[str, str]:
    month = pick(data, CLOSE_MONTH, "month")
    return f"/reports/monthly/{seg(month)}/{what}", f"/reports/monthly?month={quote(month, safe='')}"


@plan("reports.close", "POST", examples=10)
def close_month(fz, data):
    url, page = month_urls(data, "close")
    fz.form(data, pick(data, st.sampled_from(MANAGERS), "role"), url, page, fz.cached("fields", lambda: {
        "prepared_by": fs.text_field(), "approved_by": fs.text_field()}), shows=(("viewer", page),))


@plan("reports.reopen", "POST", examples=10)
def reopen_month(fz, data):
    url, page = month_urls(data, "reopen")
    client = fz.client("officer")
    if pick(data, choice(True, True, False), "closed first"):  # something to reopen
        fz.send(client, "POST", url.replace("/reopen", "/close"), target=False, data={
            "csrf_token": csrf_from(fz.send(client, "GET", "/reports/monthly", target=False)),
            "prepared_by": "甲", "approved_by": "乙"})
    fz.form(data, "officer", url, page, fz.cached("fields", lambda: {"reason": fs.text_field()}),
            shows=(("viewer", page),))


get_page("district.rollup", STAFF, fixed("/district/rollup"), examples=5)
REPORT_PATHS = choice(("school", "name"), ("school", "campus_id"), ("month",), ("schema",), ("version",),
                      ("totals", "points"), ("prepared_by",), ("status",), ("hazards",), ("by_category",))


def report_files(fz):
    """Schools' monthly report files: made by the app, with hostile values put in; or garbage."""
    client = fz.client("officer")
    made = {month: json.loads(fz.send(client, "GET", f"/reports/monthly/{month}.json", target=False).get_data())
            for month in ("2024-01", "2024-02")}

    @st.composite
    def one(draw):
        report = json.loads(json.dumps(made[draw(choice(*made))]))
        for path in draw(st.lists(REPORT_PATHS, max_size=3)):
            node = report
            for step in path[:-1]:
                node = node.setdefault(step, {}) if isinstance(node, dict) else {}
            node[path[-1]] = draw(fs.xss() if path[-1] == "name" else fs.json_values(nul=False))
        body = draw(fs.weighted((2, st.just(json.dumps(report, ensure_ascii=False, allow_nan=True).encode())),
                                (1, fs.raw_bodies()),
                                (1, fs.json_values().map(lambda v: json.dumps(v, allow_nan=True).encode()))))
        name = draw(fs.weighted((2, choice("a.json", "b.json", "x.txt")), (1, fs.nasty_text(nul=False))))
        return body, name, "application/json"

    good = st.lists(st.builds(lambda m: (json.dumps(made[m]).encode(), f"{m}.json", "application/json"),
                              choice(*made)), min_size=1, max_size=2)
    return {"reports": fs.Field(good, st.lists(one(), min_size=1, max_size=3))}


@plan("district.rollup", "POST", examples=10)
def rollup(fz, data):
    fz.form(data, pick(data, st.sampled_from(STAFF), "role"), "/district/rollup", "/district/rollup",
            fz.cached("fields", lambda: {"show": fs.either(st.just("y")), "download": st.just("y")}),
            fz.cached("files", lambda: report_files(fz)))


# campuses ----

get_page("campus.index", ALL_ROLES, fixed("/campuses"), examples=4)
CAMPUS_IDS = lambda fz: {"campus": fs.either(st.one_of(  # noqa: E731
    st.just(str(fz.world.campus_id)), int_segment([fz.world.campus_id]))), "next": NEXT}
form_post("campus.enter", ALL_ROLES, "/campuses/enter", "/campuses", CAMPUS_IDS, examples=10)
get_page("district.campuses", STAFF, fixed("/district/campuses"), {
    "month": st.one_of(MONTHS, fs.dateish()), "format": choice("xlsx", "html")}, examples=6)
get_page("admin.create_campus", ADMIN, fixed("/admin/campuses/new"), examples=3)
form_post("admin.create_campus", ADMIN, "/admin/campuses/new", "/admin/campuses/new", {
    "name": fs.text_field(), "timezone": fs.either(choice("Asia/Shanghai", "UTC", "Europe/Berlin")),
    "weekend_rounds": st.sampled_from(("", "y"))}, shows=(("admin", "/campuses"), ("admin", "/admin/audit")),
    examples=8)


# admin ----

for endpoint, url in (("admin.index", "/admin/"), ("admin.areas", "/admin/areas"),
                      ("admin.export_file", "/admin/points/export.csv"), ("admin.point_type_list", "/admin/types"),
                      ("admin.users", "/admin/users"), ("admin.create_area", "/admin/areas/new"),
                      ("admin.create_point", "/admin/points/new"), ("admin.import_file", "/admin/points/import"),
                      ("admin.create_point_type", "/admin/types/new"), ("admin.create_user", "/admin/users/new"),
                      ("admin.settings", "/admin/settings")):
    get_page(endpoint, ADMIN, fixed(url), examples=5)
get_page("admin.audit", ADMIN, fixed("/admin/audit"), {
    "action": choice("user", "point.create", "settings.update", "a.b.c"), "actor": choice("admin", "Admin 用户"),
    "since": fs.dateish(), "until": fs.dateish(), "page": fs.PAGE})
get_page("admin.webhook_deliveries", ADMIN, fixed("/admin/webhooks"), {"page": fs.PAGE}, examples=6)
get_page("admin.points", ADMIN, fixed("/admin/points"), {
    "area": st.integers(0, 9).map(str), "type": choice("exit", "gate"), "status": choice("active", "retired", "all"),
    "q": choice("P-", "出口", "%", "_"), "page": fs.PAGE})
LABEL_ARGS = {"area": st.integers(0, 9).map(str), "type": choice("exit", "gate", "extinguisher"),
              "size": choice("small", "large")}
get_page("admin.labels", ("admin", "officer"), fixed("/admin/labels"), LABEL_ARGS, examples=8)
get_page("admin.labels_file", ("admin", "officer"), fixed("/admin/labels.pdf"), LABEL_ARGS, examples=5)


def ids_of(name: str, real: Callable[[World], list], spare: Callable[[World], list] = lambda w: []):
    return lambda fz, data: pick(data, fz.cached(("ids", name), lambda: int_segment(real(fz.world), spare(fz.world))),
                                 name)


AREA_ID, POINT_ID = ids_of("area", lambda w: w.areas), ids_of("point", World.point_ids)
TYPE_ID, USER_ID = ids_of("type", lambda w: w.types.values()), ids_of("user", lambda w: w.users.values())
EXIT_TYPE_ID = ids_of("exit type", lambda w: [w.types["exit"]])
EXIT_ITEM_ID = ids_of("exit item", lambda w: w.items[w.types["exit"]])
# A "small number" could be the officer the sweep logs in as afterwards: users other than the victims are spared.
VICTIM_ID = ids_of("victim", lambda w: [w.users[n] for n in ("victim1", "victim2", "victim3", "admin")],
                   lambda w: [i for n, i in w.users.items() if n not in ("victim1", "victim2", "victim3", "admin")])

get_page("admin.update_area", ADMIN, lambda fz, data: f"/admin/areas/{AREA_ID(fz, data)}")
get_page("admin.update_point", ADMIN, lambda fz, data: f"/admin/points/{POINT_ID(fz, data)}")
get_page("admin.update_point_type", ADMIN, lambda fz, data: f"/admin/types/{TYPE_ID(fz, data)}")
get_page("admin.update_item", ADMIN, lambda fz, data: f"/admin/types/{EXIT_TYPE_ID(fz, data)}/items/"
                                                      f"{EXIT_ITEM_ID(fz, data)}")
get_page("admin.update_user", ADMIN, lambda fz, data: f"/admin/users/{USER_ID(fz, data)}")

AREA_FIELDS = {"name": fs.text_field(), "building": fs.text_field(), "floor": SHORT_TEXT,
               "zone": fs.text_field(), "responsible": fs.text_field()}
AREA_SHOWS = (("admin", "/admin/areas"), ("admin", "/admin/points"), ("guard", "/report"), ("officer", "/hazards"),
              ("officer", "/dashboard/coverage"), ("officer", "/dashboard?period=month"), ("admin", "/admin/labels"),
              ("admin", "/admin/audit"))
form_post("admin.create_area", ADMIN, "/admin/areas/new", "/admin/areas/new", AREA_FIELDS, shows=AREA_SHOWS)
form_post("admin.update_area", ADMIN, lambda fz, data: f"/admin/areas/{AREA_ID(fz, data)}",
          lambda fz, url: f"/admin/areas/{fz.world.areas[0]}", AREA_FIELDS, shows=AREA_SHOWS)


def point_fields(fz):
    return {"code": fs.text_field(), "name": fs.text_field(),
            "area_id": fs.either(st.sampled_from(fz.world.areas).map(str)),
            "point_type_id": fs.either(st.sampled_from(sorted(fz.world.types.values())).map(str)),
            "location": fs.text_field(), "cadence": fs.either(choice("", "daily", "weekly", "monthly")),
            "per_period": fs.either(st.integers(1, 100).map(str))}


POINT_SHOWS = (("admin", "/admin/points?status=all"), ("officer", "/checks"), ("guard", "/report"),
               ("officer", "/dashboard/coverage?period=month"), ("guard", "/dashboard/due"),
               ("admin", "/admin/labels?size=small"), ("officer", "/hazards"), ("admin", "/admin/audit"))
form_post("admin.create_point", ADMIN, "/admin/points/new", "/admin/points/new", point_fields, shows=POINT_SHOWS)
form_post("admin.update_point", ADMIN, lambda fz, data: f"/admin/points/{POINT_ID(fz, data)}",
          lambda fz, url: f"/admin/points/{fz.world.points['P-GATE']['id']}", point_fields, shows=POINT_SHOWS)
for endpoint, what in (("admin.retire", "retire"), ("admin.reactivate", "reactivate"),
                       ("admin.regenerate_token", "token")):
    form_post(endpoint, ADMIN, lambda fz, data, what=what: f"/admin/points/{POINT_ID(fz, data)}/{what}",
              "/admin/points/new", {}, examples=5)


def xlsx_bytes(rows) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError
    book = Workbook()
    for row in rows:
        try:
            book.active.append(row)
        except IllegalCharacterError:  # control characters: leave such a row out
            continue
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


IMPORT_COLUMNS = {
    "code": fs.either(st.integers(0, 999).map(lambda n: f"F-{n}")), "name": fs.text_field(),
    "area": fs.Field(st.one_of(choice("教学楼A", "食堂"), fs.xss()), fs.text_field().bad, text=True),
    "type": fs.either(choice("exit", "gate", "灭火器", "Fire extinguisher", "EXTINGUISHER")),
    "location": fs.text_field(), "cadence": fs.either(choice("", "daily", "周", "每月")),
    "per_period": fs.either(st.one_of(st.just(""), st.integers(1, 100).map(str))),
    "active": fs.either(choice("", "yes", "no", "是", "0")), "building": fs.text_field(),
    "floor": SHORT_TEXT}
CHINESE_HEADERS = {"code": "编号", "name": "名称", "area": "区域", "type": "类型", "location": "位置", "cadence": "周期",
                   "per_period": "次数", "building": "楼栋", "floor": "楼层", "active": "启用"}
IMPORT_ROWS = fs.form_fields(IMPORT_COLUMNS, extra=False)
IMPORT_NAMES = fs.Field(choice("points.csv", "points.xlsx", "POINTS.CSV"),
                        st.one_of(choice("points.txt", "csv", ".csv"), fs.nasty_text(nul=False)))


@st.composite
def import_file(draw, good: bool):
    """A points file: rows made like a form's fields (all plausible, one cell hostile or too long, or anything),
    under English, Chinese or hostile headers; as CSV in some encoding, or XLSX; or not a table at all."""
    import csv
    columns = list(IMPORT_COLUMNS)
    header = draw(st.one_of(st.just(columns), st.just([CHINESE_HEADERS[c] for c in columns]),
                            *([] if good else [st.lists(fs.nasty_text(nul=False), max_size=5)])))
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        cells = draw(IMPORT_ROWS("valid" if good else draw(fs.MODES)))
        rows.append([(cells.get(c) or [""])[0] for c in columns])
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    try:
        csv_bytes = out.getvalue().encode(draw(choice("utf-8", "utf-8-sig", "utf-16", "gb18030")))
    except UnicodeEncodeError:
        csv_bytes = out.getvalue().encode("utf-8")
    name = draw(IMPORT_NAMES.good if good else IMPORT_NAMES.any)
    if name.lower().endswith(".xlsx"):
        body = xlsx_bytes([header, *rows])
    else:
        body = csv_bytes if good else draw(st.one_of(st.just(csv_bytes), st.just(csv_bytes), st.just(csv_bytes),
                                                     st.sampled_from(fs.FILE_BODIES), st.binary(max_size=300)))
    return body, name, "text/csv"


form_post("admin.import_file", ADMIN, "/admin/points/import", "/admin/points/import", {},
          {"file": fs.Field(st.lists(import_file(True), min_size=1, max_size=1),
                            st.lists(import_file(False), min_size=0, max_size=2))}, shows=POINT_SHOWS, examples=16)
KEY = fs.either(st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True))
TYPE_FIELDS = {"key": KEY, "name_zh": fs.text_field(), "name_en": fs.text_field(),
               "cadence": fs.either(choice("daily", "weekly", "monthly")),
               "per_period": fs.either(st.integers(1, 100).map(str))}
TYPE_SHOWS = (("admin", "/admin/types"), ("admin", "/admin/points"), ("admin", "/admin/labels"),
              ("admin", "/admin/points/new"), ("officer", "/dashboard/coverage"), ("admin", "/admin/audit"))
form_post("admin.create_point_type", ADMIN, "/admin/types/new", "/admin/types/new", TYPE_FIELDS, shows=TYPE_SHOWS)
form_post("admin.update_point_type", ADMIN, lambda fz, data: f"/admin/types/{TYPE_ID(fz, data)}",
          lambda fz, url: f"/admin/types/{fz.world.types['exit']}", TYPE_FIELDS, shows=TYPE_SHOWS)
ITEM_FIELDS = {"key": KEY, "text_zh": fs.text_field(), "text_en": fs.text_field(),
               "category": fs.either(st.sampled_from(CATEGORIES)), "severity": fs.either(choice("general", "major")),
               "photo_required": fs.either(choice("y", "")), "position": fs.either(st.integers(0, 10000).map(str))}


def item_shows(fz, url):
    return (("admin", f"/admin/types/{fz.world.types['exit']}"), ("guard", "/p/" + fz.world.points["P-EXIT"]["token"]),
            ("admin", "/admin/audit"))


def type_page(fz, url):
    return f"/admin/types/{fz.world.types['exit']}"


def item_url(suffix: str = ""):
    return lambda fz, data: f"/admin/types/{EXIT_TYPE_ID(fz, data)}/items/{EXIT_ITEM_ID(fz, data)}{suffix}"


form_post("admin.create_item", ADMIN, lambda fz, data: f"/admin/types/{EXIT_TYPE_ID(fz, data)}/items", type_page,
          ITEM_FIELDS, shows=item_shows)
form_post("admin.update_item", ADMIN, item_url(), type_page, ITEM_FIELDS, shows=item_shows)
form_post("admin.activate_item", ADMIN, item_url("/activate"), type_page, {}, examples=5)
form_post("admin.deactivate_item", ADMIN, item_url("/deactivate"), type_page, {}, examples=5)
USER_SHOWS = (("admin", "/admin/users"), ("officer", "/hazards/queue"), ("admin", "/admin/"),
              ("officer", "/dashboard?period=month"), ("admin", "/admin/audit"))
form_post("admin.create_user", ADMIN, "/admin/users/new", "/admin/users/new", {
    "username": fs.either(st.from_regex(r"[\w.@-]{1,20}", fullmatch=True)), "name": fs.text_field(),
    "role": fs.either(st.sampled_from(ALL_ROLES)), "locale": fs.either(choice("zh", "en")),
    "password": fs.either(st.just("long enough password"))}, shows=USER_SHOWS)
form_post("admin.update_user", ADMIN, lambda fz, data: f"/admin/users/{VICTIM_ID(fz, data)}",
          lambda fz, url: f"/admin/users/{fz.world.users['victim1']}", {
              "name": fs.text_field(), "role": fs.either(st.sampled_from(ALL_ROLES)),
              "locale": fs.either(choice("zh", "en")), "active": fs.either(choice("y", ""))}, shows=USER_SHOWS)
form_post("admin.reset_password", ADMIN, lambda fz, data: f"/admin/users/{VICTIM_ID(fz, data)}/password",
          lambda fz, url: f"/admin/users/{fz.world.users['victim1']}", {"password": NEW_PASSWORD}, examples=8)
form_post("admin.settings", ADMIN, "/admin/settings", "/admin/settings", {
    "name": fs.text_field(), "timezone": fs.either(st.sampled_from(TIMEZONES)),
    "deadline_days_general": fs.either(st.integers(1, 365).map(str)),
    "deadline_days_major": fs.either(st.integers(1, 365).map(str)), "weekend_rounds": fs.either(choice("y", "")),
    "webhook_url": fs.either(choice("", "http://127.0.0.1:9/hook", "https://example.invalid/x?key=1")),
    "webhook_format": fs.either(choice("generic", "robot"))},
    shows=(("admin", "/admin/settings"), ("guard", "/"), ("officer", "/reports/monthly"), ("officer", "/dashboard"),
           ("admin", "/admin/webhooks"), ("officer", "/admin/labels?size=small"), ("admin", "/admin/audit")))
form_post("admin.send_test_message", ADMIN, "/admin/settings/test", "/admin/settings", {}, examples=5)
form_post("admin.retry_delivery", ADMIN, "/admin/webhooks/retry", "/admin/webhooks",
          lambda fz: {"delivery": fs.either(st.just(str(fz.world.delivery_id)))}, examples=8)


# API ----

def api_get(endpoint: str, roles, path: Callable[[Fuzzer, object], str], params: dict | None = None,
            examples: int = 10):
    query = fs.query(params or {})

    @plan(endpoint, "GET", examples, api=True)
    def run(fz, data):
        url = path(fz, data) + pick(data, RAW_QUERY, "raw query")
        fz.api(data, roles, "GET", url, query=pick(data, query, "query"))
    return run


api_get("api.points", ALL_ROLES, fixed("/api/v1/points"), examples=5)
api_get("api.point", ALL_ROLES, lambda fz, data: "/api/v1/points/" + seg(pick(data, fz.cached(
    "codes", lambda: fs.either(st.sampled_from(sorted(fz.world.points)))), "code")))
api_get("api.checks", ("guard", *STAFF), fixed("/api/v1/checks"), {
    "point": choice("P-EXIT", "P-GATE"), "since": st.one_of(st.just("2020-01-01T00:00:00Z"), fs.dateish()),
    "limit": st.one_of(st.integers(1, 1000).map(str), fs.numberish())}, examples=12)
api_get("api.check", ("guard", *STAFF), lambda fz, data: "/api/v1/checks/" + seg(pick(data, fz.cached(
    "check", lambda: submission_id(fz.world.check_uuid)), "uuid")))
api_get("api.hazards", ALL_ROLES, fixed("/api/v1/hazards"), dict(
    HAZARD_FILTERS, since=st.one_of(st.just("2020-01-01T00:00:00+08:00"), fs.dateish()),
    limit=st.one_of(st.integers(1, 5000).map(str), fs.numberish())), examples=12)
api_get("api.hazard", ALL_ROLES, lambda fz, data: "/api/v1/hazards/" + pick(
    data, fz.cached("hazards", lambda: int_segment(fz.world.hazards)), "id"))
api_get("api.monthly_report", STAFF, fixed("/api/v1/reports/monthly"), {"month": st.one_of(MONTHS, fs.dateish())})
api_get("api.check_photo", CHECKERS, lambda fz, data: photo_urls(fz, data, "/api/v1/checks", fz.world.check_uuid)[0],
        examples=6)


@plan("api.check_photo", "PUT", examples=15, api=True)
def api_check_photo(fz, data):
    _listing, one, body = photo_urls(fz, data, "/api/v1/checks", fz.world.check_uuid)
    fz.api(data, ("guard", "guard", "officer"), "PUT", one, raw=body,
           content_type=pick(data, st.sampled_from(fs.CONTENT_TYPES), "content type"))


BODY_KINDS = choice("good", "good", "good", "json", "raw", "form")
RAW_TYPES = choice("application/json", "text/plain", "application/json; charset=latin-1",
                   "application/x-www-form-urlencoded")


def send_body(fz, data, roles, url, good) -> tuple[object, object]:
    """POST a JSON body (plausible or anything), bytes that are not JSON, or a form; (answer, what was sent)."""
    kind = pick(data, BODY_KINDS, "kind")
    if kind in ("good", "json"):
        body = pick(data, good if kind == "good" else fs.json_values(), "body")
        return fz.api(data, roles, "POST", url, json_body=body), body
    if kind == "raw":
        raw = pick(data, fs.raw_bodies(), "raw")
        return fz.api(data, roles, "POST", url, raw=raw, content_type=pick(data, RAW_TYPES, "content type")), raw
    mode = pick(data, fs.MODES, "mode")
    values = pick(data, fz.cached("api form", lambda: fs.form_fields({"action": choice(*ACTIONS), "note": fs.xss()}))(
        mode), "form")
    return fz.api(data, roles, "POST", url, form=MultiDict([(k, v) for k, vs in values.items() for v in vs]),
                  content_type="multipart/form-data"), values


CHECK_KEYS = choice("client_uuid", "point", "observed_at", "results", "results.0", "photos", "photos.0", "extra")


def check_body(fz):
    """A check as the API takes it, made up like a form (fuzz_strategies.MODES): right, so it is stored; one
    key holding anything or left out; one note too long; or every part anything."""
    now = st.builds(lambda: datetime.now(timezone.utc).isoformat())
    note = fs.text_field()

    @st.composite
    def build(draw):
        mode = draw(fs.MODES)
        code = draw(choice("P-EXIT", "P-EXTINGUISHER", "P-GATE"))
        items = fz.world.points[code]["items"]
        notes = note.any if mode == "chaos" else note.good
        results = [{"item": key, "result": draw(choice("pass", "fail", "na")), "note": draw(notes)} for key in items]
        body = {"client_uuid": draw(FRESH_UUID), "point": code, "results": results,
                "observed_at": draw(fs.Field(now, fs.dateish()).any if mode == "chaos" else now)}
        if draw(st.booleans()):
            body["photos"] = draw(st.lists(st.fixed_dictionaries({"item": st.sampled_from(items), "sha256": choice(
                *fs.DECLARED)}), max_size=3))
        if mode == "long":
            results[draw(st.integers(0, len(results) - 1))]["note"] = draw(fs.long_text())
        for key in draw(st.lists(CHECK_KEYS, min_size=1, max_size=2 if mode == "chaos" else 1)
                        if mode in ("mutate", "chaos") else st.just([])):
            if key == "results.0":
                results[0] = draw(fs.json_values())
            elif key == "photos.0":
                body["photos"] = [{"item": draw(st.sampled_from(items + ["nope"])), "sha256": draw(fs.sha256s())}]
            elif key == "observed_at" and draw(st.booleans()):
                body[key] = draw(fs.dateish())
            elif draw(st.booleans()):
                body[key] = draw(fs.weighted((1, st.sampled_from(fs.HUGE_NUMBERS)), (1, fs.json_values())))
            else:
                body.pop(key, None)
        return body

    return build()


@plan("api.create_check", "POST", examples=30, api=True)
def api_create_check(fz, data):
    answer, sent = send_body(fz, data, CHECKERS, "/api/v1/checks", fz.cached("body", lambda: check_body(fz)))
    fz.after(answer, sent, "officer", (("officer", "/hazards"), ("officer", "/hazards/queue"), ("officer", "/checks"),
                                       ("guard", "/p/" + fz.world.points["P-EXIT"]["token"])))


def action_body(fz, action: str):
    fields = action_fields(fz)
    photos = st.one_of(st.sampled_from([[fs.b64(fs.JPEG)], [fs.b64(fs.PNG)]]), st.lists(fs.b64_garbage(), max_size=3),
                       fs.json_values())

    @st.composite
    def build(draw):
        body = {"action": action}
        for key, spec in fields.items():
            if draw(st.booleans()):
                body[key] = draw(fs.json_field(spec.any))
        if action == "rectify" or draw(st.booleans()):
            body["photos"] = draw(photos)
        return body

    return build()


@plan("api.hazard_action", "POST", examples=30, api=True)
def api_hazard_action(fz, data):
    role, state, action = hazard_action(data)
    hazard = make_hazard(fz.app, state, fz.world.campus_id, fz.world.users,
                         assignee=role if role in WORKERS else "officer")
    hazard_id = pick(data, st.one_of(st.just(str(hazard)), st.just(str(hazard)), int_segment([hazard])), "id")
    url = f"/api/v1/hazards/{hazard_id}/actions"
    if pick(data, choice("json", "json", "multipart"), "as") == "json":
        answer, sent = send_body(fz, data, (role,), url, fz.cached(("body", action), lambda: action_body(fz, action)))
    else:
        values = pick(data, fz.cached("form", lambda: fs.form_fields(dict(
            fz.cached("fields", lambda: action_fields(fz)), action=fs.either(st.sampled_from(sorted(ACTIONS)))))
        )(pick(data, fs.MODES, "mode")), "form")
        body = MultiDict([(k, v) for k, vs in values.items() for v in vs])
        for content, filename, mimetype in pick(data, fs.photo_field(), "photo"):
            body.add("photo", (io.BytesIO(content), filename, mimetype))
        answer, sent = fz.api(data, (role,), "POST", url, form=body, content_type="multipart/form-data"), values
    fz.after(answer, sent, "officer", (("officer", f"/hazards/{hazard}"), ("officer", "/hazards/queue"),
                                       ("officer", "/notifications"), ("officer", "/hazards")))


# Bugs the fuzzing found, and their smallest requests: ------------------------------------------------------

BUGS = {
    "int-overflow": "an integer beyond the database's was bound to a query (SQLite OverflowError, PostgreSQL "
                    "NumericValueOutOfRange): URL ids (werkzeug's int converter has no maximum), ?page= "
                    "(OFFSET (page - 1) * per page), ids in form fields and JSON bodies",
    "isdigit-int": "int(v) if v.isdigit(): isdigit() is also true for \"²\" and for 5000 digits, which int() refuses",
    "calendar-edge": "a day, week or month in year 1 or 9999 (a filter, a report month, a check's observed_at): "
                     "the period after it, or its start in UTC, is out of datetime's range (OverflowError)",
    "deep-json": "a JSON body nested deeper than the recursion limit: get_json(silent=True) lets RecursionError out",
    "infinite-assignee": "ActionInput.from_mapping's int(assignee) caught TypeError and ValueError only: JSON "
                         "Infinity raises OverflowError",
    "rollup-long-number": "a report file with a number of more than 4300 digits: json.loads raises a ValueError "
                          "that is not the JSONDecodeError load_report catches",
    "import-long-number": "point_import.check_row took any run of digits as per_period; int() refuses more than 4300",
    "nul-postgresql": "PostgreSQL text cannot hold NUL (psycopg DataError), stored or looked up",
    "report-location-length": "an ad-hoc report's location was not checked against its column (300): PostgreSQL "
                              "refuses it on insert",
    "next-not-a-url": "web.same_site: \"/\\t/[\" passed the prefix checks, then urlsplit (which drops the tab, "
                      "leaving \"//[\") raised ValueError",
    "nameless-multipart-part": "a multipart part without a name (werkzeug files it under None) and no CSRF token: "
                               "Flask-WTF's CSRFProtect._get_csrf_token calls key.endswith() on every form key",
}


@dataclass
class Reproduction:
    bug: str  # its name in BUGS (and in KNOWN_BUGS while it is not fixed)
    send: Callable[[Fuzzer], object]  # sends the smallest request that failed
    backends: tuple[str, ...] = ("sqlite", "postgresql")  # where it failed
    api: bool = False


def beyond(fz) -> int:
    """The smallest id the database's INTEGER cannot hold."""
    return 2 ** 31 if fz.backend == "postgresql" else 2 ** 63


def post_form(fz, role: str | None, url: str, page: str, fields: dict, files: dict | None = None):
    client = fz.client(role)
    body = dict(fields, csrf_token=csrf_from(fz.send(client, "GET", page, target=False)))
    for name, (content, filename) in (files or {}).items():
        body[name] = (io.BytesIO(content), filename)
    return fz.send(client, "POST", url, data=body, content_type="multipart/form-data")


def api_call(fz, role: str, method: str, url: str, **kwargs):
    return fz.send(fz.client(None), method, url, api=True, headers={"Authorization": f"Bearer {fz.tokens[role]}"},
                   **kwargs)


def report_form(**fields) -> dict:
    return dict({"client_uuid": str(uuid.uuid4()), "category": "fire", "description": "d", "location": "l"}, **fields)


REPRODUCTIONS: dict[str, Reproduction] = {
    "GET /hazards/<2**31 or 2**63>": Reproduction(
        "int-overflow", lambda fz: fz.send(fz.client("officer"), "GET", f"/hazards/{beyond(fz)}")),
    "GET /hazards?page=10**18": Reproduction(
        "int-overflow", lambda fz: fz.send(fz.client("officer"), "GET", f"/hazards?page={10 ** 18}")),
    "POST /report area=<2**31 or 2**63>": Reproduction(
        "int-overflow", lambda fz: post_form(fz, "guard", "/report", "/report", report_form(area=str(beyond(fz))))),
    "POST /api/v1/hazards/<id>/actions assignee=<2**31 or 2**63>": Reproduction(
        "int-overflow", lambda fz: api_call(fz, "officer", "POST", f"/api/v1/hazards/{fz.world.hazards[0]}/actions",
                                            json_body={"action": "assign", "assignee": beyond(fz)}), api=True),
    "GET /hazards?area=²": Reproduction(
        "isdigit-int", lambda fz: fz.send(fz.client("officer"), "GET", "/hazards?area=%C2%B2")),
    "GET /api/v1/checks?limit=²": Reproduction(
        "isdigit-int", lambda fz: api_call(fz, "officer", "GET", "/api/v1/checks?limit=%C2%B2"), api=True),
    "GET /hazards?found=9999-12": Reproduction(
        "calendar-edge", lambda fz: fz.send(fz.client("officer"), "GET", "/hazards?found=9999-12")),
    "GET /api/v1/reports/monthly?month=9999-12": Reproduction(
        "calendar-edge", lambda fz: api_call(fz, "officer", "GET", "/api/v1/reports/monthly?month=9999-12"), api=True),
    "POST /api/v1/checks observed_at=0001-01-01T00:00:00+08:00": Reproduction(
        "calendar-edge", lambda fz: api_call(fz, "guard", "POST", "/api/v1/checks", json_body={
            "client_uuid": str(uuid.uuid4()), "point": "P-EXIT", "observed_at": "0001-01-01T00:00:00+08:00",
            "results": [{"item": key, "result": "pass"} for key in fz.world.points["P-EXIT"]["items"]]}), api=True),
    "GET /checks?since=0001-01-01": Reproduction(
        "calendar-edge", lambda fz: fz.send(fz.client("officer"), "GET", "/checks?since=0001-01-01")),
    "POST /api/v1/checks [[[...": Reproduction(
        "deep-json", lambda fz: api_call(fz, "guard", "POST", "/api/v1/checks", raw=b"[" * 100_000,
                                         content_type="application/json"), api=True),
    "POST /api/v1/hazards/<id>/actions assignee=Infinity": Reproduction(
        "infinite-assignee", lambda fz: api_call(
            fz, "officer", "POST", f"/api/v1/hazards/{fz.world.hazards[0]}/actions",
            raw=b'{"action": "assign", "assignee": Infinity}', content_type="application/json"), api=True),
    "POST /district/rollup a report with a 5000-digit number": Reproduction(
        "rollup-long-number", lambda fz: post_form(fz, "officer", "/district/rollup", "/district/rollup", {}, {
            "reports": (b'{"month": ' + b"1" * 5000 + b"}", "a.json")})),
    "POST /admin/points/import per_period of 5000 digits": Reproduction(
        "import-long-number", lambda fz: post_form(fz, "admin", "/admin/points/import", "/admin/points/import", {}, {
            "file": (("code,name,area,type,per_period\nX-1,x,教学楼A,exit," + "9" * 5000).encode(), "p.csv")})),
    "GET /go?code=a%00b": Reproduction(
        "nul-postgresql", lambda fz: fz.send(fz.client("guard"), "GET", "/go?code=a%00b"), ("postgresql",)),
    "POST /report description=a\\x00b": Reproduction(
        "nul-postgresql", lambda fz: post_form(fz, "guard", "/report", "/report", report_form(description="a\x00b")),
        ("postgresql",)),
    "POST /login, a multipart part without a name, no CSRF token": Reproduction(
        "nameless-multipart-part", lambda fz: fz.send(
            fz.client(None), "POST", "/login", raw=b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
            content_type="multipart/form-data; boundary=b")),
    "POST /locale next=/<tab>/[": Reproduction(
        "next-not-a-url", lambda fz: post_form(fz, None, "/locale", "/login", {"locale": "en", "next": "/\t/["})),
    "POST /report location of 301 characters": Reproduction(
        "report-location-length", lambda fz: post_form(fz, "guard", "/report", "/report",
                                                       report_form(location="L" * 301)), ("postgresql",)),
}


# The tests: --------------------------------------------------------------------------------------------------

CHECKED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def test_every_endpoint_has_a_plan(app):
    missing = sorted(f"{rule.endpoint} {method}" for rule in app.url_map.iter_rules()
                     for method in rule.methods & CHECKED_METHODS if f"{rule.endpoint} {method}" not in PLANS)
    assert not missing, f"endpoints without a fuzz plan in tests/test_fuzz.py: {missing}"


def test_every_bug_has_a_reproduction():
    assert set(KNOWN_BUGS) <= set(BUGS) == {r.bug for r in REPRODUCTIONS.values()}


@pytest.mark.parametrize("case", sorted(REPRODUCTIONS))
def test_bug_reproduction(request, app, backend, world, case):
    """The smallest request of each bug the fuzzing found: no 500. Marked xfail (strict) while the bug is known
    and not fixed."""
    reproduction = REPRODUCTIONS[case]
    if reproduction.bug in KNOWN_BUGS and backend in reproduction.backends:
        request.applymarker(pytest.mark.xfail(strict=True, raises=AssertionError,
                                              reason=f"bug: {reproduction.bug}: {BUGS[reproduction.bug]}"))
    tokens = request.getfixturevalue("tokens") if reproduction.api else None
    reproduction.send(Fuzzer(app, backend, case, world, tokens, fuzzing=False))


def test_the_escape_check_sees_a_raw_payload(app, backend, world):
    fz = Fuzzer(app, backend, "self-test", world, None, fuzzing=False)
    fz.assert_escaped(f"<p>{escape(fs.VECTORS[1])}</p>", "an escaped page")
    with pytest.raises(AssertionError, match="unescaped"):
        fz.assert_escaped(f"<p>x{fs.VECTORS[1]}y</p>", "a page showing a payload raw")


def test_no_plan_without_an_endpoint(app):
    routes = {f"{rule.endpoint} {method}" for rule in app.url_map.iter_rules() for method in rule.methods}
    assert not sorted(set(PLANS) - routes)


def summary_lines() -> list[str]:
    columns = ("requests", "2xx", "3xx", "4xx", "skipped (known bugs)", "support requests", "payload requests",
               "payload requests accepted", "escaped payloads seen", "milliseconds")
    heads = ("sent", "2xx", "3xx", "4xx", "skipped", "support", "payload", "accepted", "escaped", "ms")
    lines = ["sent: fuzzed requests sent; skipped: drawn but not sent (a known bug); support: logins, CSRF pages and "
             "pages re-read for payloads; payload / accepted: fuzzed requests holding a script payload / of those, "
             "answered below 400; escaped: pages that showed a payload escaped",
             f"{'backend':10} {'endpoint':34} " + " ".join(f"{h:>8}" for h in heads)]
    totals = collections.defaultdict(collections.Counter)
    for (backend, key), counts in sorted(STATS.items()):
        totals[backend].update(counts)
        lines.append(f"{backend:10} {key:34} " + " ".join(f"{counts[c]:>8}" for c in columns))
    for backend, counts in sorted(totals.items()):
        plans = sum(1 for b, _ in STATS if b == backend)
        lines.append(f"{backend:10} {f'TOTAL ({plans} plans)':34} " + " ".join(f"{counts[c]:>8}" for c in columns))
        skipped = {k[len("skipped: "):]: v for k, v in counts.items() if k.startswith("skipped: ")}
        lines.append(f"{backend:10} skipped as known bugs: {skipped or 'none'}")
    return lines


class Summary:
    """A plugin, registered by the first fuzz test, that prints the counts in pytest's terminal summary."""

    def pytest_terminal_summary(self, terminalreporter):
        if STATS:
            terminalreporter.write_sep("=", "fuzzing: requests per endpoint")
            for line in summary_lines():
                terminalreporter.write_line(line)
        if os.environ.get("PATROL_FUZZ_REPORT"):
            with open(os.environ["PATROL_FUZZ_REPORT"], "w") as out:
                json.dump({f"{b} {k}": dict(c) for (b, k), c in STATS.items()}, out, indent=1, sort_keys=True)


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    if not request.config.pluginmanager.has_plugin("patrol-fuzz-summary"):
        request.config.pluginmanager.register(Summary(), "patrol-fuzz-summary")


@pytest.mark.parametrize("key", sorted(PLANS))
def test_fuzz(request, app, backend, world, key):
    fuzz_plan = PLANS[key]
    tokens = request.getfixturevalue("tokens") if fuzz_plan.api else None
    fz = Fuzzer(app, backend, key, world, tokens)
    started = time.monotonic()

    @settings(max_examples=max(1, round(fuzz_plan.examples * SCALE)), deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True, phases=PHASES)
    @given(data=st.data())
    def run(data):
        fuzz_plan.run(fz, data)

    try:
        run()
        fz.sweep()
    finally:
        fz.stats["milliseconds"] += round((time.monotonic() - started) * 1000)
