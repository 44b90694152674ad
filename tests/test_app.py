"""The skeleton: configuration, migrations, security headers, languages."""
import re
from pathlib import Path

import pytest
from helpers import csrf_from, point
from sqlalchemy import text

TEMPLATES = Path(__file__).resolve().parents[1] / "patrol" / "templates"


def test_migrations_build_exactly_the_schema_the_models_describe(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from patrol.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_patrol_init_creates_and_upgrades_idempotently(tmp_path, monkeypatch):
    from helpers import make_app

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = make_app(tmp_path / "instance", url)
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init"])
        assert result.exit_code == 0, result.output
        assert "Database ready" in result.output
    with app.app_context():
        from patrol.extensions import db

        keys = db.session.execute(text("SELECT key FROM point_type ORDER BY key")).scalars().all()
        assert keys == sorted(["canteen_gas", "classroom", "dorm", "exit", "extinguisher", "gate", "hydrant", "panel"])
        from alembic.script import ScriptDirectory

        from patrol.database import alembic_config

        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        db.engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path, sqlite_template):
    from helpers import make_app

    from patrol.extensions import db

    app = make_app(tmp_path / "instance", f"sqlite:///{sqlite_template}")
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        db.engine.dispose()


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    from patrol.config import load_secret_key

    monkeypatch.delenv("PATROL_SECRET_KEY", raising=False)
    first = load_secret_key(tmp_path)
    assert len(first) == 64 and (tmp_path / "secret_key").read_text().strip() == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert load_secret_key(tmp_path) == first
    monkeypatch.setenv("PATROL_SECRET_KEY", "from-the-environment")
    assert load_secret_key(tmp_path) == "from-the-environment"


def test_environment_variables_configure_the_app(tmp_path, monkeypatch):
    from patrol.config import from_environment

    monkeypatch.setenv("PATROL_DATABASE_URL", "postgresql+psycopg://u@db/patrol")
    monkeypatch.setenv("PATROL_BASE_URL", "https://patrol.school.lan/")
    settings = from_environment(tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/patrol"
    assert settings["PATROL_BASE_URL"] == "https://patrol.school.lan"
    assert settings["SESSION_COOKIE_SECURE"] is True
    monkeypatch.delenv("PATROL_DATABASE_URL")
    assert from_environment(tmp_path)["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'patrol.sqlite3'}"


def test_security_headers_and_strict_csp_on_every_page(app, campus, client, auth):
    auth.login("officer")
    for path in ["/", "/hazards", "/login", "/report", "/nope"]:
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "HX-Request" in response.headers.get("Vary", "")


@pytest.mark.parametrize("template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")))
def test_templates_have_no_inline_script_or_style(template):
    source = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), "inline <script>"
    assert not re.search(r"\sstyle=", source), "inline style attribute"
    assert "<style" not in source
    assert not re.search(r"\son[a-z]+=", source), "inline event handler"
    assert not re.search(r"(src|href)=\"(https?:)?//", source), "reference to another host"


def test_language_switch_is_remembered_for_the_user(app, campus, client, auth):
    auth.login("guard")
    page = client.get("/")
    assert "登录" not in page.get_data(as_text=True) and "退出" in page.get_data(as_text=True)
    client.post("/locale", data={"csrf_token": csrf_from(page), "locale": "en", "next": "/"})
    # a new session (another phone) gets the saved choice from the user record
    other = app.test_client()
    login = other.get("/login")
    assert "登录" in login.get_data(as_text=True)  # anonymous: Chinese by default
    other.post("/login", data={"username": "guard", "password": "password123", "csrf_token": csrf_from(login)})
    assert "Log out" in other.get("/").get_data(as_text=True)
    with app.app_context():
        from patrol.extensions import db

        assert db.session.execute(text("SELECT locale FROM app_user WHERE username='guard'")).scalar() == "en"


def test_language_cookie_for_anonymous_visitors(app, campus, client):
    page = client.get("/login")
    response = client.post("/locale", data={"csrf_token": csrf_from(page), "locale": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"
    assert "Log in" in client.get("/login").get_data(as_text=True)
    bad = client.post("/locale", data={"csrf_token": csrf_from(page), "locale": "fr", "next": "/login"})
    assert bad.status_code == 302 and "Log in" in client.get("/login").get_data(as_text=True)


def test_every_message_has_a_chinese_translation():
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1]
    with (root / "patrol/translations/zh/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog
                  if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    method_map = [("patrol/**.py", "python"), ("patrol/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    missing = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map=method_map, keywords=keywords):
        msgid = message if isinstance(message, str) else message[0]
        if msgid not in translated:
            missing.add(msgid)
    assert sorted(missing) == []


def test_photos_are_served_only_to_allowed_users(app, campus, client, auth):
    import io
    import uuid

    from helpers import jpeg_bytes

    auth.login("guard")
    page = client.get("/report")
    client.post("/report", data={"csrf_token": csrf_from(page), "client_uuid": str(uuid.uuid4()),
                                 "location": "操场", "category": "facilities", "description": "单杠松动",
                                 "photo": (io.BytesIO(jpeg_bytes()), "x.jpg")}, content_type="multipart/form-data")
    from patrol.extensions import db
    from patrol.models import Photo

    with app.app_context():
        photo_id = db.session.query(Photo).one().id
    with client.get(f"/photos/{photo_id}") as response:
        assert response.status_code == 200  # the guard who took it
    auth.logout()
    assert client.get(f"/photos/{photo_id}").status_code == 302  # anonymous → login
    auth.login("repairer")
    assert client.get(f"/photos/{photo_id}").status_code == 404
    auth.logout()
    auth.login("viewer")
    with client.get(f"/photos/{photo_id}") as response:
        assert response.status_code == 200 and response.data[:3] == b"\xff\xd8\xff"
        assert "private" in response.headers["Cache-Control"]
    # stored outside static/: not reachable as a static file
    with app.app_context():
        sha = db.session.query(Photo).one().sha256
    assert client.get(f"/static/{sha}.jpg").status_code == 404
    assert str(Path(app.config["PATROL_UPLOADS"])).startswith(app.instance_path)


def test_photo_exif_location_is_removed(app, campus, client, auth):
    import io
    import uuid

    from PIL import Image

    image = Image.new("RGB", (80, 60), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (31.0, 12.0, 0.0)}  # GPS IFD
    raw = io.BytesIO()
    image.save(raw, "JPEG", exif=exif)
    assert b"PhoneMaker" in raw.getvalue()
    auth.login("guard")
    page = client.get("/report")
    client.post("/report", data={"csrf_token": csrf_from(page), "client_uuid": str(uuid.uuid4()),
                                 "location": "操场", "category": "other", "description": "x",
                                 "photo": (io.BytesIO(raw.getvalue()), "x.jpg")}, content_type="multipart/form-data")
    from patrol import photos
    from patrol.extensions import db
    from patrol.models import Photo

    with app.app_context():
        stored = photos.path_for(db.session.query(Photo).one().sha256).read_bytes()
    assert b"PhoneMaker" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()


def test_point_form_points_to_its_own_scan_url(app, campus):
    p = point(app, "P-EXIT")
    assert len(p.token) >= 22  # 128 random bits, URL-safe


def test_every_translation_formats_like_its_message():
    """Templates format every message with %: a stray % in a translation would be a 500."""
    from collections import defaultdict

    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1]
    with (root / "patrol/translations/zh/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    broken = []
    for message in catalog:
        if not message.id:
            continue
        for translated in (message.string if isinstance(message.string, tuple) else (message.string,)):
            try:
                translated % defaultdict(lambda: 1)
            except (ValueError, TypeError, KeyError) as exc:
                broken.append((message.id, translated, str(exc)))
    assert broken == []


@pytest.mark.parametrize("hops,expected", [(0, "10.9.9.9"), (1, "203.0.113.7")])
def test_trusted_proxies_decide_the_client_address(tmp_path, sqlite_template, hops, expected):
    """Behind a proxy the lockout must count the real client, not the proxy; unconfigured, headers are ignored."""
    from flask import request

    from helpers import make_app

    from patrol.extensions import db

    app = make_app(tmp_path / "instance", f"sqlite:///{sqlite_template}", PATROL_TRUSTED_PROXIES=hops)
    app.add_url_rule("/__address", "address", lambda: request.remote_addr)
    response = app.test_client().get("/__address", headers={"X-Forwarded-For": "203.0.113.7"},
                                     environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.get_data(as_text=True) == expected
    with app.app_context():
        db.engine.dispose()
