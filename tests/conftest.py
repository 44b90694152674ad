"""Fixtures: an app per test on SQLite and (where PATROL_TEST_DATABASE_URL is set) PostgreSQL."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helpers import FAST_HASH, ROLES, Auth, make_app

PG_URL = os.environ.get("PATROL_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_report_header(config):
    if not PG_URL:
        return "PostgreSQL: SKIPPED for every test — PATROL_TEST_DATABASE_URL is not set (CI sets it)."
    return f"PostgreSQL: {make_url(PG_URL).render_as_string(hide_password=True)}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite database made by the migrations once; each test gets a copy."""
    from patrol.database import upgrade

    path = tmp_path_factory.mktemp("template") / "patrol.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_schema():
    """A private PostgreSQL schema for this run, made by the migrations, dropped at the end."""
    if not PG_URL:
        yield None
        return
    from patrol.database import upgrade

    schema = f"patrol_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    upgrade(url_text)
    yield url_text
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def database_url(backend, tmp_path, sqlite_template, pg_schema):
    if backend == "sqlite":
        path = tmp_path / "patrol.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    engine = create_engine(pg_schema)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"))]
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_schema


@pytest.fixture
def app(tmp_path, database_url):
    app = make_app(tmp_path / "instance", database_url)
    yield app
    with app.app_context():
        from patrol.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def campus(app):
    """A small campus: two areas, one point of each default type (and a second classroom), a user per role."""
    from patrol.extensions import db
    from patrol.models import Area, Campus, Point, PointType, User
    from patrol.setup import ensure_point_types

    with app.app_context():
        ensure_point_types()
        school = Campus(name="示范中学", timezone="Asia/Shanghai")
        db.session.add(school)
        db.session.flush()
        a = Area(campus_id=school.id, name="教学楼A", building="教学楼A", floor="1F", responsible="王老师")
        b = Area(campus_id=school.id, name="食堂", building="食堂", responsible="李师傅")
        db.session.add_all([a, b])
        db.session.flush()
        for n, point_type in enumerate(db.session.query(PointType).order_by(PointType.id)):
            area = b if point_type.key == "canteen_gas" else a
            db.session.add(Point(campus_id=school.id, area_id=area.id, point_type_id=point_type.id,
                                 code=f"P-{point_type.key.upper()}", name=f"{point_type.name_zh} {n + 1:02d}",
                                 location=f"{area.name} 东侧", cadence=point_type.cadence,
                                 per_period=point_type.per_period))
        classroom = db.session.query(PointType).filter_by(key="classroom").one()
        db.session.add(Point(campus_id=school.id, area_id=a.id, point_type_id=classroom.id, code="P-CLASS-2",
                             name="高一(2)班", location="教学楼A 二楼", cadence="daily", per_period=1))
        for role in ROLES:
            user = User(username=role, name=f"{role.title()} 用户", role=role, campus_id=school.id,
                        locale="zh")
            user.password_hash = FAST_HASH
            db.session.add(user)
        db.session.commit()
        return {"campus_id": school.id, "areas": {"A": a.id, "B": b.id}}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def tokens(app, campus):
    """A bearer token per role, made through the real `patrol token create` command."""
    runner = app.test_cli_runner()
    made = {}
    for role in ROLES:
        result = runner.invoke(args=["token", "create", role, "--label", "test"])
        assert result.exit_code == 0, result.output
        made[role] = result.output.strip()
        assert len(made[role]) >= 40
    return made
