"""`patrol backup` and `patrol restore`: a round trip, a backup taken under write load, and refusals."""
import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from helpers import bearer, jpeg_bytes, make_app
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

PG_URL = os.environ.get("PATROL_TEST_DATABASE_URL", "")

ARCHIVE_NAME = re.compile(r"^patrol-backup-\d{8}-\d{6}(-\d+)?\.tar\.gz$")
RESULTS = [{"item": "unblocked", "result": "pass"}, {"item": "signs_lights", "result": "pass"},
           {"item": "fire_doors", "result": "pass"}]


def check_body(fail=False):
    results = [dict(RESULTS[0], result="fail", note="堆放杂物")] + RESULTS[1:] if fail else RESULTS
    return {"client_uuid": str(uuid.uuid4()), "point": "P-EXIT", "observed_at": "2026-03-02T07:30:00+08:00",
            "results": results}


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from patrol.database import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def backup(app, out: Path) -> Path:
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    archive = Path(result.stdout.strip().splitlines()[-1])
    assert archive.parent == out and archive.is_file() and ARCHIVE_NAME.match(archive.name)
    return archive


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar, tar.extractfile("manifest.json") as fh:
        return json.load(fh)


def checks_in(app) -> dict:
    """client_uuid → how many item results the check has."""
    from patrol.extensions import db
    from patrol.models import Check, CheckResult

    with app.app_context():
        rows = db.session.execute(select(Check.client_uuid, func.count(CheckResult.id))
                                  .outerjoin(CheckResult, CheckResult.check_id == Check.id)
                                  .group_by(Check.id, Check.client_uuid)).all()
        db.session.remove()
    return {str(client_uuid): n for client_uuid, n in rows}


def counts_in(app) -> dict:
    from patrol.extensions import db
    from patrol.models import Check, CheckResult, Hazard, Photo

    with app.app_context():
        found = {name: db.session.scalar(select(func.count()).select_from(model))
                 for name, model in (("checks", Check), ("check_results", CheckResult), ("hazards", Hazard),
                                     ("photos", Photo))}
        db.session.remove()
    return found


def files_in(folder: Path) -> dict:
    """relative path → sha256 of every file under folder."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def rectify_with_photo(client, tokens, color):
    """A failed check whose hazard is assigned, rectified with a photo (a Photo row and a file) and verified."""
    opened = client.post("/api/v1/checks", json=check_body(fail=True), headers=bearer(tokens["guard"]))
    assert opened.status_code == 201, opened.get_json()
    url = f"/api/v1/hazards/{opened.get_json()['hazards_opened'][0]['id']}/actions"
    assigned = client.post(url, json={"action": "assign", "assignee": "repairer"}, headers=bearer(tokens["officer"]))
    assert assigned.status_code == 200, assigned.get_json()
    photo = base64.b64encode(jpeg_bytes(color=color)).decode()
    fixed = client.post(url, json={"action": "rectify", "note": "已清理", "photos": [photo]},
                        headers=bearer(tokens["repairer"]))
    assert fixed.status_code == 200, fixed.get_json()
    verified = client.post(url, json={"action": "verify"}, headers=bearer(tokens["officer"]))
    assert verified.status_code == 200, verified.get_json()  # closed: the next failure opens a new hazard


@pytest.fixture
def fresh_database(backend, tmp_path, database_url):
    """The URL of a database that has never been used: a new SQLite file, or a new PostgreSQL database
    (with the same search_path schema option as the test database, since a restore keeps the schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'patrol.sqlite3'}"
        return
    name = f"patrol_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_app(tmp_path, fresh_database):
    app = make_app(tmp_path / "fresh", fresh_database)
    yield app
    with app.app_context():
        from patrol.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_backup_then_restore_gives_back_exactly_what_was_backed_up(app, campus, client, tokens, tmp_path, backend):
    for n in range(3):
        assert client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"])).status_code == 201
    rectify_with_photo(client, tokens, (200, 30, 30))
    rectify_with_photo(client, tokens, (30, 200, 30))
    uploads = Path(app.config["PATROL_UPLOADS"])
    checks, counts, files = checks_in(app), counts_in(app), files_in(uploads)
    assert len(files) == 2 and counts["photos"] == 2 and counts["checks"] == 5
    secret_key = (Path(app.instance_path) / "secret_key").read_text()

    archive = backup(app, tmp_path / "backups")
    manifest = manifest_of(archive)
    assert manifest["format"] == "patrol-backup" and manifest["format_version"] == 1
    assert manifest["database"]["kind"] == backend
    assert manifest["database"]["alembic_revision"] == head_revision()
    assert {k: manifest["counts"][k] for k in counts} == counts
    assert manifest["uploads"] == {"files": 2} and manifest["secret_key"] is True
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", manifest["created_at"])
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {f"uploads/{name}" for name in files} <= names and "secret_key" in names
    assert os.stat(archive).st_mode & 0o077 == 0  # password hashes and the secret key inside

    # Life goes on after the backup: more checks and photos, then the uploads are lost.
    client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"]))
    rectify_with_photo(client, tokens, (30, 30, 200))
    for path in sorted(uploads.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()

    runner = app.test_cli_runner()
    refused = runner.invoke(args=["restore", str(archive)])
    assert refused.exit_code != 0 and "--yes" in refused.output and "already holds data" in refused.output
    assert len(checks_in(app)) == 7  # nothing was touched

    restored = runner.invoke(args=["restore", str(archive), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "Secret key restored" in restored.output
    assert checks_in(app) == checks
    assert counts_in(app) == counts
    assert files_in(uploads) == files
    assert (Path(app.instance_path) / "secret_key").read_text() == secret_key
    # The restored server works: it takes new checks.
    assert client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"])).status_code == 201


def test_backup_under_write_load_restores_every_acknowledged_check(app, campus, tokens, tmp_path, fresh_app,
                                                                  database_url):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/checks"
    lock = threading.Lock()
    acked, sent, errors = [], set(), []
    warmed_up, backup_started, stop = threading.Event(), threading.Event(), threading.Event()
    during_backup = []

    def post(body):
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **bearer(tokens["guard"])})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    def writer():
        for n in range(5000):  # bounded, whatever happens to the events
            if stop.is_set():
                return
            body = check_body(fail=n % 7 == 0)
            with lock:
                sent.add(body["client_uuid"])
            status = post(body)
            with lock:
                if status == 201:
                    acked.append(body["client_uuid"])
                    if backup_started.is_set():
                        during_backup.append(body["client_uuid"])
                else:
                    errors.append(status)
                if len(acked) >= 20:
                    warmed_up.set()

    writing = threading.Thread(target=writer)
    writing.start()
    try:
        assert warmed_up.wait(timeout=120), f"the writer did not get going: {errors}"
        with lock:
            acked_before = list(acked)
            backup_started.set()
        env = dict(os.environ, PATROL_INSTANCE=app.instance_path, PATROL_DATABASE_URL=database_url,
                   PATROL_UPLOADS=app.config["PATROL_UPLOADS"])
        made = subprocess.run([sys.executable, "-m", "patrol", "backup", "--out", str(tmp_path / "backups")],
                              env=env, capture_output=True, text=True, timeout=300)
        with lock:
            acked_during = len(during_backup)
    finally:
        stop.set()
        writing.join(timeout=120)
        server.shutdown()
        serving.join()
        server.server_close()
    assert not writing.is_alive()
    assert made.returncode == 0, made.stderr
    assert errors == []
    assert acked_during > 0, "no check was written while the backup ran"
    archive = Path(made.stdout.strip().splitlines()[-1])

    result = fresh_app.test_cli_runner().invoke(args=["restore", str(archive)])  # empty: no --yes needed
    assert result.exit_code == 0, result.output
    restored = checks_in(fresh_app)
    missing = [u for u in acked_before if u not in restored]
    assert missing == [], f"{len(missing)} acknowledged checks are not in the backup"
    assert all(restored[u] == 3 for u in acked_before)
    assert set(restored.values()) == {3}, "a check without all its results"
    assert set(restored) <= sent
    assert manifest_of(archive)["counts"]["checks"] == len(restored)
    assert counts_in(fresh_app)["check_results"] == 3 * len(restored)


def test_restore_of_an_older_backup_upgrades_it(backend, tmp_path, fresh_app, fresh_database):
    if backend == "sqlite":
        old_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:  # the old schema goes into the fresh database: restore then brings it back there
        old_url = fresh_database
        engine = create_engine(old_url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{make_url(old_url).query["options"].split("=")[1]}"'))
        engine.dispose()
    from alembic import command

    from patrol.database import alembic_config

    command.upgrade(alembic_config(old_url), "0004")
    old = make_app(tmp_path / "old", old_url)
    archive = backup(old, tmp_path / "backups")
    with old.app_context():
        from patrol.extensions import db

        db.engine.dispose()
    assert manifest_of(archive)["database"]["alembic_revision"] == "0004"
    result = fresh_app.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert f"upgraded from 0004 to {head_revision()}" in result.output
    with fresh_app.app_context():
        from patrol.extensions import db

        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()
        db.session.remove()


def tar_gz(members: dict) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def manifest(**changes) -> bytes:
    body = {"format": "patrol-backup", "format_version": 1, "created_at": "2026-03-02T07:30:00+08:00",
            "database": {"kind": "sqlite", "file": "database/patrol.sqlite3", "alembic_revision": "0005"},
            "counts": {}, "uploads": {"files": 0}, "secret_key": False}
    body.update(changes)
    return json.dumps(body).encode()


def manifest_in(archive: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar, tar.extractfile("manifest.json") as fh:
        return fh.read()


BAD_ARCHIVES = {
    "not gzip": (lambda real: b"just some text, not an archive", "cannot be read as a patrol backup"),
    "foreign tar": (lambda real: tar_gz({"notes.txt": b"hello"}), "has no manifest.json"),
    "truncated": (lambda real: real[: len(real) // 2], "cannot be read as a patrol backup"),
    "bad manifest": (lambda real: tar_gz({"manifest.json": b"{nope"}), "not valid JSON"),
    "other format": (lambda real: tar_gz({"manifest.json": b'{"format": "x"}'}), "of another kind"),
    "newer format": (lambda real: tar_gz({"manifest.json": manifest(format_version=99)}), "newer patrol"),
    "path escape": (lambda real: tar_gz({"manifest.json": manifest_in(real), "../evil": b"x"}), "unexpected file"),
}


@pytest.mark.parametrize("kind", BAD_ARCHIVES)
def test_a_corrupt_or_foreign_archive_is_refused_and_changes_nothing(app, campus, client, tokens, tmp_path, kind):
    assert client.post("/api/v1/checks", json=check_body(), headers=bearer(tokens["guard"])).status_code == 201
    real = backup(app, tmp_path / "backups").read_bytes()
    make, message = BAD_ARCHIVES[kind]
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(make(real))
    before = checks_in(app)
    result = app.test_cli_runner().invoke(args=["restore", str(bad), "--yes"])
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert checks_in(app) == before


def test_a_backup_of_the_other_database_kind_is_refused(app, campus, tmp_path, backend):
    other = "postgresql" if backend == "sqlite" else "sqlite"
    bad = tmp_path / "other.tar.gz"
    bad.write_bytes(tar_gz({"manifest.json": manifest(database={"kind": other, "file": "database/x"})}))
    result = app.test_cli_runner().invoke(args=["restore", str(bad), "--yes"])
    assert result.exit_code != 0 and f"holds a {other} database" in result.output


# PostgreSQL only (SQLite needs no pg_dump); without PATROL_TEST_DATABASE_URL it has no case to run.
@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
def test_backup_without_pg_dump_says_so(app, campus, tmp_path, backend, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(tmp_path / "backups")])
    assert result.exit_code != 0 and "pg_dump was not found" in result.output
    assert list((tmp_path / "backups").iterdir()) == []  # no half-written archive left behind


def test_a_restore_that_fails_midway_leaves_everything_as_it_was(app, campus, client, tokens, tmp_path, backend,
                                                                monkeypatch):
    from patrol import backup as backups

    rectify_with_photo(client, tokens, (200, 30, 30))
    archive = backup(app, tmp_path / "backups")
    rectify_with_photo(client, tokens, (30, 200, 30))
    uploads = Path(app.config["PATROL_UPLOADS"])
    checks, files = checks_in(app), files_in(uploads)
    if backend == "sqlite":
        def failing(new, target):
            raise backups.BackupError(f"{target} could not be replaced (No space left on device).")

        monkeypatch.setattr(backups, "replace_sqlite", failing)
    else:  # a real failure at the very end of the psql transaction, after the tables were dropped and reloaded
        script = backups.postgresql_script

        def failing(*args):
            made = script(*args)
            made.write_text(made.read_text() + "\nSELECT 1 / 0;\n")
            return made

        monkeypatch.setattr(backups, "postgresql_script", failing)
    result = app.test_cli_runner().invoke(args=["restore", str(archive), "--yes"])
    assert result.exit_code != 0
    assert "left as they were" in result.output and ("No space" in result.output or "division by zero" in result.output)
    assert checks_in(app) == checks
    assert files_in(uploads) == files
