"""Backups: one .tar.gz with a consistent copy of the database, the uploads and the secret key; and restoring it."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from .extensions import db

FORMAT = "patrol-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/patrol.sqlite3"
PG_MEMBER = "database/patrol.pgdump"
SECRET_KEY_MEMBER = "secret_key"
UPLOADS = "uploads"
# What the manifest counts, as (name in the manifest, table).
COUNTED = (("campuses", "campus"), ("users", "app_user"), ("checks", "point_check"),
           ("check_results", "check_result"), ("hazards", "hazard"), ("photos", "photo"))
# A restore replaces data only when told to if any of these hold rows (point types alone are set-up, not data).
USER_DATA = ("campus", "app_user", "point_check", "hazard")
PHOTO_NAME = re.compile(r"^[0-9a-f]{2}/([0-9a-f]{64})\.jpg$")
SEARCH_PATH = re.compile(r"(?:-c\s*|--)search_path=(\S+)")


class BackupError(Exception):
    """A backup or restore that could not be done; str() says what happened, for the person at the terminal."""


class RestoreRefused(BackupError):
    """The target already holds data and replacing it was not confirmed."""


@dataclass
class Restored:
    manifest: dict
    secret_key: bool
    revision_before: str | None
    revision_after: str | None


# ---------------------------------------------------------------- where things are


def database_url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


def database_kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups know SQLite and PostgreSQL, not {backend}.")
    return backend


def sqlite_path(url: str) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"Cannot back up the SQLite database {name or '(in memory)'!r}: it is not a plain file.")
    return Path(name).resolve()


def uploads_folder() -> Path:
    return Path(current_app.config["PATROL_UPLOADS"]).resolve()


def secret_key_file() -> Path:
    return Path(current_app.instance_path) / "secret_key"


def pg_schema(url: str, connection=None) -> str:
    """The schema patrol's tables live in: the first of the URL's search_path option, else current_schema()."""
    options = make_url(url).query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    found = SEARCH_PATH.search(options)
    if found:
        first = found.group(1).split(",")[0].strip().strip('"')
        if first and first != "$user":
            return first
    if connection is None:
        with db.engine.connect() as conn:
            return conn.scalar(text("SELECT current_schema()")) or "public"
    return connection.scalar(text("SELECT current_schema()")) or "public"


def libpq(url: str) -> tuple[str, dict]:
    """A connection URI for pg_dump/pg_restore/psql without the password, and the environment carrying it."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH. Install the PostgreSQL client tools of the server's "
                          f"major version (Debian: apt install postgresql-client) and try again.")
    return path


def run_tool(args: list[str], env: dict, what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return result


# ---------------------------------------------------------------- backup


def make_backup(out_dir: Path) -> tuple[Path, dict]:
    """Write patrol-backup-YYYYmmdd-HHMMSS.tar.gz into out_dir; return its path and manifest.

    The database is copied first and the uploads after it: photo files are written before the row that
    names them is committed, so every photo in the copied database is on disk when the uploads are read.
    """
    url = database_url()
    kind = database_kind(url)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"{out_dir}: cannot create the folder ({exc.strerror or exc})") from None
    created = datetime.now().astimezone()
    with tempfile.TemporaryDirectory(prefix=".patrol-backup-", dir=out_dir) as staging:
        staging = Path(staging)
        if kind == "sqlite":
            database = copy_sqlite(sqlite_path(url), staging / "patrol.sqlite3")
            member = SQLITE_MEMBER
        else:
            database = dump_postgresql(url, staging / "patrol.pgdump")
            member = PG_MEMBER
        uploads = uploads_folder()
        photo_files = list_uploads(uploads)
        key_file = secret_key_file()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": created.isoformat(timespec="seconds"),
            "database": {"kind": kind, "file": member, "alembic_revision": database.pop("revision"),
                         **database.pop("extra")},
            "counts": database["counts"],
            "uploads": {"files": len(photo_files)},
            "secret_key": key_file.is_file(),
        }
        archive = free_name(out_dir, f"patrol-backup-{created:%Y%m%d-%H%M%S}")
        # Secret key and password hashes inside: readable by the owner only (mkstemp makes it 0600).
        fd, partial = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".part", dir=out_dir)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
                tar.add(staging / Path(member).name, arcname=member)
                if manifest["secret_key"]:
                    tar.add(key_file, arcname=SECRET_KEY_MEMBER)
                for relative in photo_files:
                    tar.add(uploads / relative, arcname=f"{UPLOADS}/{relative}")
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, archive)
        except BaseException as exc:
            Path(partial).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise BackupError(f"{out_dir}: the archive could not be written ({exc.strerror or exc}); "
                                  f"no backup was made.") from None
            raise
    return archive, manifest


def free_name(folder: Path, stem: str) -> Path:
    candidate, n = folder / f"{stem}.tar.gz", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}.tar.gz"
    return candidate


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now().timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def list_uploads(uploads: Path) -> list[str]:
    """The finished files under uploads (relative, sorted); half-written `.part` files are left out."""
    if not uploads.is_dir():
        return []
    return sorted(p.relative_to(uploads).as_posix() for p in uploads.rglob("*")
                  if p.is_file() and not p.name.endswith(".part"))


def copy_sqlite(source: Path, target: Path) -> dict:
    """Copy the live database with SQLite's online backup API (one step, so one consistent snapshot)."""
    if not source.is_file():
        raise BackupError(f"No database at {source}: run `patrol init` first.")
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            return {"revision": sqlite_revision(dst), "counts": count_rows(dst.execute), "extra": {}}
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"The SQLite backup of {source} failed: {exc}") from None
    finally:
        src.close()


def sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def count_rows(execute) -> dict:
    counts = {}
    for name, table in COUNTED:
        try:
            row = execute(f'SELECT count(*) FROM "{table}"').fetchone()
        except (sqlite3.OperationalError, ValueError):
            continue  # an older schema without this table
        counts[name] = row[0]
    return counts


def dump_postgresql(url: str, target: Path) -> dict:
    """pg_dump of patrol's schema, in the very snapshot the manifest's counts were read from."""
    pg_dump = pg_tool("pg_dump")
    conninfo, env = libpq(url)
    engine = db.engine
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
            schema = pg_schema(url, conn)
            tables = set(inspect(conn).get_table_names(schema=schema))
            revision = (conn.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version'))
                        if "alembic_version" in tables else None)
            counts = {name: conn.scalar(text(f'SELECT count(*) FROM "{schema}"."{table}"'))
                      for name, table in COUNTED if table in tables}
            server = conn.scalar(text("SHOW server_version"))
            run_tool([pg_dump, "--format=custom", f"--schema={schema}", "--no-owner", "--no-privileges",
                      "--no-password", f"--snapshot={snapshot}", f"--file={target}", f"--dbname={conninfo}"],
                     env, "pg_dump")
    return {"revision": revision, "counts": counts, "extra": {"schema": schema, "server_version": server}}


# ---------------------------------------------------------------- restore


def read_manifest(archive: Path) -> dict:
    """The manifest of a patrol backup; BackupError for anything else (not gzip, not tar, no manifest)."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            member = tar.getmember(MANIFEST)
            with tar.extractfile(member) as fh:
                manifest = json.loads(fh.read().decode("utf-8"))
    except KeyError:
        raise BackupError(f"{archive} is not a patrol backup: it has no {MANIFEST}.") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError(f"{archive} cannot be read as a patrol backup (.tar.gz): {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError):
        raise BackupError(f"{archive} is not a patrol backup: its {MANIFEST} is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is not a patrol backup: its {MANIFEST} is of another kind.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(f"{archive} was written by a newer patrol (backup format {version}); "
                          f"this one reads format {FORMAT_VERSION} and older. Upgrade patrol first.")
    return manifest


def unpack(archive: Path, manifest: dict, staging: Path) -> None:
    """Extract and check every member: known names only, database present, photos matching their hashes."""
    allowed = {MANIFEST, SECRET_KEY_MEMBER, manifest["database"].get("file")}
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                name = member.name
                if name in allowed or name == UPLOADS or name.startswith(UPLOADS + "/"):
                    continue
                raise BackupError(f"{archive} holds an unexpected file {name!r}; nothing was restored.")
            tar.extractall(staging, filter="data")
    except BackupError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError(f"{archive} is damaged ({exc}); nothing was restored.") from None
    if not (staging / manifest["database"]["file"]).is_file():
        raise BackupError(f"{archive} has no database file; nothing was restored.")
    for relative in list_uploads(staging / UPLOADS):
        found = PHOTO_NAME.match(relative)
        if found and hashlib.sha256((staging / UPLOADS / relative).read_bytes()).hexdigest() != found.group(1):
            raise BackupError(f"{archive}: the photo {relative} does not match its checksum; nothing was restored.")


def existing_data() -> dict:
    """Rows in the tables that hold a school's data, and files in the uploads folder (empty dict: nothing)."""
    url = database_url()
    if database_kind(url) == "sqlite" and not sqlite_path(url).exists():
        found = {}
    else:
        with db.engine.connect() as conn:
            schema = pg_schema(url, conn) if conn.dialect.name == "postgresql" else None
            tables = set(inspect(conn).get_table_names(schema=schema))
            prefix = f'"{schema}".' if schema else ""
            found = {table: n for table in USER_DATA if table in tables
                     and (n := conn.scalar(text(f'SELECT count(*) FROM {prefix}"{table}"')))}
    files = len(list_uploads(uploads_folder()))
    if files:
        found["uploaded files"] = files
    return found


def restore_backup(archive: Path, replace: bool = False) -> Restored:
    """Put a backup's database, uploads and secret key in place of the current ones, then upgrade the schema.

    Everything is unpacked and checked before anything is touched. The uploads are swapped in first and
    swapped back if the database cannot be restored, so a failure leaves things as they were.
    """
    from .database import upgrade

    archive = Path(archive)
    manifest = read_manifest(archive)
    url = database_url()
    kind = database_kind(url)
    source = manifest.get("database", {})
    if source.get("kind") != kind:
        raise BackupError(f"{archive} holds a {source.get('kind')} database but this server uses {kind}; "
                          f"a backup restores into the same kind of database.")
    if kind == "postgresql":
        schema = pg_schema(url)
        if source.get("schema") != schema:
            raise BackupError(f"{archive} holds the PostgreSQL schema {source.get('schema')!r} but this server "
                              f"uses {schema!r}: point PATROL_DATABASE_URL at that schema "
                              f"(options=-csearch_path={source.get('schema')}) to restore it.")
    found = existing_data()
    if found and not replace:
        held = ", ".join(f"{n} {table}" for table, n in found.items())
        raise RestoreRefused(f"This server already holds data ({held}). Restoring replaces all of it with the "
                             f"backup of {manifest.get('created_at')}; run again with --yes to do that.")
    uploads = uploads_folder()
    uploads.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".patrol-restore-", dir=uploads.parent) as staging:
        staging = Path(staging)
        unpack(archive, manifest, staging)
        database_file = staging / source["file"]
        if kind == "sqlite":
            check_sqlite(database_file, archive)
        else:
            restore_script = postgresql_script(database_file, staging, archive)
        revision_before = source.get("alembic_revision")
        new_uploads = staging / UPLOADS
        new_uploads.mkdir(exist_ok=True)
        old_uploads = staging / "uploads-before-restore"
        had_uploads = uploads.exists()
        try:
            if had_uploads:
                os.replace(uploads, old_uploads)
            os.replace(new_uploads, uploads)
        except OSError as exc:
            if had_uploads and old_uploads.exists() and not uploads.exists():
                os.replace(old_uploads, uploads)
            raise BackupError(f"The uploads folder {uploads} could not be replaced ({exc.strerror or exc}); "
                              f"nothing was restored.") from None
        db.session.remove()
        db.engine.dispose()  # no connection of ours may hold the old file or the tables
        try:
            if kind == "sqlite":
                replace_sqlite(database_file, sqlite_path(url))
            else:
                run_script(url, pg_schema(url), restore_script)
        except BaseException as exc:
            shutil.rmtree(uploads, ignore_errors=True)
            if had_uploads:
                os.replace(old_uploads, uploads)
            if isinstance(exc, BackupError):
                raise BackupError(f"{exc} The database and uploads were left as they were.") from None
            raise
        secret_key = restore_secret_key(staging / SECRET_KEY_MEMBER)
    try:
        upgrade(url)
        from .setup import ensure_point_types

        ensure_point_types()
        db.session.commit()
    except Exception as exc:
        raise BackupError(f"The backup was restored (schema revision {revision_before}) but upgrading it to "
                          f"this version failed: {exc}. Fix the cause and run `patrol init`.") from None
    with db.engine.connect() as conn:
        revision_after = conn.scalar(text("SELECT version_num FROM alembic_version"))
    return Restored(manifest, secret_key, revision_before, revision_after)


def check_sqlite(path: Path, archive: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{archive}: the database inside is damaged ({exc}); nothing was restored.") from None
    if ok != "ok":
        raise BackupError(f"{archive}: the database inside fails SQLite's integrity check ({ok}); "
                          f"nothing was restored.")


def replace_sqlite(new: Path, target: Path) -> None:
    """Move the restored file over the live one in one rename; a stale -wal must not be replayed onto it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".restore", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(new, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    except OSError as exc:
        Path(partial).unlink(missing_ok=True)
        raise BackupError(f"{target} could not be replaced ({exc.strerror or exc}).") from None


def postgresql_script(dump: Path, staging: Path, archive: Path) -> Path:
    """The dump as one SQL script, without its CREATE SCHEMA (the schema is kept, with its owner and grants)."""
    pg_restore = pg_tool("pg_restore")
    pg_tool("psql")
    env = dict(os.environ)
    listing = run_tool([pg_restore, "--list", str(dump)], env, f"Reading the database dump in {archive}").stdout
    kept = [line for line in listing.splitlines()
            if not re.match(r"^\d+; \d+ \d+ (SCHEMA|COMMENT - SCHEMA) ", line)]
    use_list = staging / "restore.list"
    use_list.write_text("\n".join(kept) + "\n")
    script = staging / "restore.sql"
    run_tool([pg_restore, "--no-owner", "--no-privileges", "--no-comments", f"--use-list={use_list}",
              f"--file={script}", str(dump)], env, f"Reading the database dump in {archive}")
    return script


def run_script(url: str, schema: str, script: Path) -> None:
    """Empty the schema and load the dump in ONE transaction: it all happens, or none of it."""
    psql = pg_tool("psql")
    conninfo, env = libpq(url)
    literal = "'" + schema.replace("'", "''") + "'"
    quoted = '"' + schema.replace('"', '""') + '"'
    empty_schema = f"""
CREATE SCHEMA IF NOT EXISTS {quoted};
DO $patrol$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = {literal} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP
    EXECUTE format('DROP %s IF EXISTS %I.%I CASCADE',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, {literal}, r.relname);
  END LOOP;
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = {literal} AND c.relkind = 'S' LOOP
    EXECUTE format('DROP SEQUENCE IF EXISTS %I.%I CASCADE', {literal}, r.relname);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS routine FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = {literal} LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.routine);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = {literal} AND t.typtype IN ('e', 'd', 'r', 'm')
              OR (n.nspname = {literal} AND t.typtype = 'c'
                  AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I.%I CASCADE', {literal}, r.typname);
  END LOOP;
END
$patrol$;
"""
    run_tool([psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", "--single-transaction",
              f"--dbname={conninfo}", f"--command={empty_schema}", f"--file={script}"],
             env, "Restoring the PostgreSQL database (psql)")


def restore_secret_key(unpacked: Path) -> bool:
    """Put the backed-up secret key in the instance folder, so sessions and remember-me cookies stay valid."""
    if not unpacked.is_file():
        return False
    target = secret_key_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=".secret_key.", dir=target.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(unpacked.read_bytes())
    os.replace(partial, target)
    return True
