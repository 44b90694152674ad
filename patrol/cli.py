"""The `patrol` command: set up the database, demo campus, users, tokens, points, labels, serving."""
from __future__ import annotations

import json
import os
import secrets
import sys
import unicodedata
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import func, select

from .audit import USER_FIELDS, diff, record, snapshot
from .extensions import db
from .models import ROLES, ApiToken, Area, Campus, PointType, User


def _create_app():
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, load_dotenv=False)
def main():
    """patrol — campus safety patrols."""


def require_base_url() -> None:
    """Labels and exports print scan URLs: outside a request only PATROL_BASE_URL says what they are."""
    if not current_app.config.get("PATROL_BASE_URL"):
        raise click.ClickException("Set PATROL_BASE_URL to the address phones use (e.g. http://patrol.school.lan): "
                                   "it is printed into the QR codes and scan URLs.")


def chosen_campus(named: str | None = None) -> Campus:
    """The campus a command works on: the one named (id or name), else the only one there is."""
    from .campuses import by_id_or_name

    if named:
        found = by_id_or_name(named)
        if found is None:
            raise click.ClickException(f"No campus {named!r} (see `patrol campus list`).")
        return found
    found = db.session.scalars(select(Campus).order_by(Campus.id).limit(2)).all()
    if not found:
        raise click.ClickException("No campus yet: create one with `patrol campus add NAME` (or try `patrol demo`).")
    if len(found) > 1:
        raise click.ClickException("There are several campuses: choose one with --campus ID_OR_NAME "
                                   "(see `patrol campus list`).")
    return found[0]


def echo_table(rows: list[tuple[str, ...]]) -> None:
    """Rows as aligned columns; Chinese characters take two columns in a terminal."""
    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip())


CAMPUS_OPTION = click.option("--campus", "campus_name", default=None, metavar="ID_OR_NAME",
                             help="The campus (its id or name); needed when there are several.")


def register(app: Flask) -> None:
    """Attach the commands to the app, so `patrol ...` and `flask ...` both find them."""
    for command in (init, demo, campus, user, token, points, photos_group, labels, rollup, serve, webhooks, backup, restore):
        app.cli.add_command(command)


@click.command()
@with_appcontext
def init():
    """Create the database or upgrade it to the newest schema."""
    from .database import upgrade
    from .setup import ensure_point_types

    upgrade()
    ensure_point_types()
    click.echo(f"Database ready: {safe_url(current_app.config['SQLALCHEMY_DATABASE_URI'])}")


def safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command()
@click.option("--password", default=None, help="Password for the demo users (default: demo1234).")
@click.option("--if-empty", is_flag=True, help="Do nothing if a campus already exists.")
@click.option("--days", default=90, show_default=True, help="Days of check history to make.")
@with_appcontext
def demo(password, if_empty, days):
    """Create a realistic demo campus with users, points, checks and hazards."""
    from .demo import build_demo

    if db.session.scalar(select(func.count()).select_from(Campus)):
        if if_empty:
            click.echo("Demo: a campus exists already, left as it is.")
            return
        raise click.ClickException("A campus exists already; the demo goes into an empty database.")
    password = password or "demo1234"
    summary = build_demo(password=password, days=days)
    demo_file = Path(current_app.instance_path) / "demo.json"
    demo_file.write_text(json.dumps({"password": password, "users": summary["users"]}))
    click.echo(f"Demo campus “{summary['campus']}”: {summary['points']} points, {summary['checks']} checks, "
               f"{summary['hazards']} hazards.")
    click.echo(f"Logins ({', '.join(summary['users'])}) with password: {password}")


@click.group(cls=AppGroup)
def user():
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--locale", type=click.Choice(["zh", "en"]), default="zh")
@click.option("--campus", "campus_names", multiple=True, metavar="ID_OR_NAME",
              help="A campus the user belongs to (repeatable; the first is where they start). "
                   "Needed when there are several.")
def user_add(username, role, name, password, locale, campus_names):
    """Add a user to a campus (or to several)."""
    from .campuses import set_campuses

    if db.session.scalar(select(User).where(User.username == username)):
        raise click.ClickException(f"User {username} exists already.")
    if len(password) < 8:
        raise click.ClickException("The password needs at least 8 characters.")
    chosen = [chosen_campus(named) for named in campus_names] or [chosen_campus()]
    account = User(username=username, role=role, name=name, locale=locale, active=True)
    set_campuses(account, list(dict.fromkeys(chosen)))
    account.campus = chosen[0]
    account.set_password(password)
    db.session.add(account)
    record("user.create", account, username, diff({}, snapshot(account, USER_FIELDS)), campus_id=chosen[0].id)
    db.session.commit()
    click.echo(f"User {username} ({role}) added.")


@user.command("campuses")
@click.argument("username")
@click.option("--add", "added", multiple=True, metavar="ID_OR_NAME", help="A campus to join (repeatable).")
@click.option("--remove", "removed", multiple=True, metavar="ID_OR_NAME", help="A campus to leave (repeatable).")
def user_campuses(username, added, removed):
    """Show, or change, the campuses a user belongs to (a district office: several)."""
    from .campuses import set_campuses

    account = db.session.scalar(select(User).where(User.username == username))
    if account is None:
        raise click.ClickException(f"No user {username}.")
    if added or removed:
        before = snapshot(account, ("campus_names",))
        leaving = {chosen_campus(named) for named in removed}
        keep = [c for c in account.campuses if c not in leaving]
        keep += [c for c in (chosen_campus(named) for named in added) if c not in keep]
        if not keep:
            raise click.ClickException("A user needs at least one campus; deactivate the user instead.")
        set_campuses(account, keep)
        changed = diff(before, snapshot(account, ("campus_names",)))
        if changed:
            record("user.campuses", account, account.username, changed, campus_id=account.campus_id)
        db.session.commit()
    for campus in account.campuses:
        here = "  (working here)" if campus.id == account.campus_id else ""
        click.echo(f"{campus.id}  {campus.name}{here}")


@click.group(cls=AppGroup)
def campus():
    """Campuses: a school's sites, or the schools of a district, on one server."""


@campus.command("add")
@click.argument("name")
@click.option("--timezone", "zone", default="Asia/Shanghai", show_default=True,
              help="IANA time zone: days, weeks and months are counted in it.")
@click.option("--weekend-rounds", is_flag=True, help="Daily rounds are due on Saturdays and Sundays too.")
def campus_add(name, zone, weekend_rounds):
    """Add a campus; give people access with `patrol user add --campus` or `patrol user campuses`."""
    from zoneinfo import available_timezones

    from .campuses import create, name_taken

    name = " ".join(name.split())
    if not name or len(name) > Campus.name.type.length:
        raise click.ClickException(f"The name needs 1 to {Campus.name.type.length} characters.")
    if zone not in available_timezones():
        raise click.ClickException(f"Unknown time zone {zone!r}: use a name like Asia/Shanghai.")
    if name_taken(name):
        raise click.ClickException(f"A campus named {name!r} exists already.")
    made = create(name, zone, weekend_rounds)
    db.session.commit()
    click.echo(f"Campus {made.id} “{made.name}” added ({zone}).")


@campus.command("list")
def campus_list():
    """Every campus: id, name, time zone, active points, people."""
    from .models import Point, user_campus

    points = dict(db.session.execute(select(Point.campus_id, func.count()).where(Point.active)
                                     .group_by(Point.campus_id)).all())
    people = dict(db.session.execute(select(user_campus.c.campus_id, func.count())
                                     .group_by(user_campus.c.campus_id)).all())
    rows = [("ID", "NAME", "TIMEZONE", "POINTS", "PEOPLE")]
    rows += [(str(c.id), c.name, c.timezone, str(points.get(c.id, 0)), str(people.get(c.id, 0)))
             for c in db.session.scalars(select(Campus).order_by(Campus.id))]
    echo_table(rows)


@click.group(cls=AppGroup)
def token():
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
def token_create(username, label):
    """Print a new API bearer token for USERNAME (shown once; only its hash is stored)."""
    account = db.session.scalar(select(User).where(User.username == username))
    if account is None:
        raise click.ClickException(f"No user {username}.")
    value = "-"
    while value.startswith("-"):  # one that starts with "-" reads as an option to `patrol token revoke`
        value = secrets.token_urlsafe(32)
    made = ApiToken(user_id=account.id, token_hash=ApiToken.hash(value), label=label)
    db.session.add(made)
    record("token.create", made, token_label(account, label), {"user": username, "label": label},
           campus_id=account.campus_id)  # never the token
    db.session.commit()
    click.echo(value)


def token_label(account: User, label: str) -> str:
    return f"{account.username} “{label}”" if label else account.username


@token.command("revoke")
@click.argument("token_or_id", required=False)
@click.option("--user", "username", default=None, help="Revoke every token of this user.")
def token_revoke(token_or_id, username):
    """Revoke a token, given as itself or by its id (see `patrol token list`), or all of a user's tokens."""
    from .models import utcnow

    if bool(token_or_id) == bool(username):
        raise click.UsageError("Give either TOKEN_OR_ID or --user USERNAME.")
    if username:
        account = db.session.scalar(select(User).where(User.username == username))
        if account is None:
            raise click.ClickException(f"No user {username}.")
        found = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == account.id,
                                                               ApiToken.revoked_at.is_(None))
                                        .order_by(ApiToken.id)))
        if not found:
            click.echo(f"{username} has no unrevoked tokens.")
            return
    else:
        chosen = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token_or_id)))
        if chosen is None and token_or_id.isdecimal():
            chosen = db.session.get(ApiToken, int(token_or_id))
        if chosen is None:
            raise click.ClickException("No such token.")
        if chosen.revoked_at is not None:
            click.echo(f"Token {chosen.id} of {chosen.user.username} was revoked already "
                       f"({chosen.revoked_at:%Y-%m-%d %H:%M} UTC).")
            return
        found = [chosen]
    for revoked in found:
        revoked.revoked_at = utcnow()
        record("token.revoke", revoked, token_label(revoked.user, revoked.label),
               {"user": revoked.user.username, "label": revoked.label}, campus_id=revoked.user.campus_id)
        label = f" “{revoked.label}”" if revoked.label else ""
        click.echo(f"Revoked token {revoked.id}{label} of {revoked.user.username}.")
    db.session.commit()


@token.command("list")
@click.argument("username", required=False)
def token_list(username):
    """List API tokens (all, or USERNAME's): id, user, label and dates — never the tokens themselves."""
    query = select(ApiToken).join(User).order_by(ApiToken.id)
    if username:
        if db.session.scalar(select(User).where(User.username == username)) is None:
            raise click.ClickException(f"No user {username}.")
        query = query.where(User.username == username)
    found = list(db.session.scalars(query))
    if not found:
        click.echo("No tokens.")
        return

    def when(value):
        return f"{value:%Y-%m-%d %H:%M}" if value else "-"

    rows = [("ID", "USER", "LABEL", "CREATED (UTC)", "LAST USED", "REVOKED")]
    rows += [(str(t.id), t.user.username, t.label or "-", when(t.created_at), when(t.last_used_at),
              when(t.revoked_at)) for t in found]
    echo_table(rows)


@click.group(cls=AppGroup)
def points():
    """Import and export points."""


@points.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@CAMPUS_OPTION
def points_import(file, campus_name):
    """Import points from CSV or XLSX; nothing is imported if any row is bad."""
    from .point_import import import_points

    campus = chosen_campus(campus_name)

    def audit(done):
        record("points.import", campus, campus.name,
               {"file": file.name, "created": done.created, "updated": done.updated}, campus_id=campus.id)

    result = import_points(campus, file.name, file.read_bytes(), before_commit=audit)
    if result.errors:
        for line, reason in result.errors:
            click.echo(f"line {line}: {reason}" if line else reason, err=True)
        raise click.ClickException(f"{len(result.errors)} bad rows; nothing was imported.")
    click.echo(f"Imported: {result.created} new, {result.updated} updated.")


@points.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@CAMPUS_OPTION
def points_export(out, campus_name):
    """Export points as CSV, with a scan_url column."""
    from .point_import import export_points_csv

    require_base_url()
    text = export_points_csv(chosen_campus(campus_name))
    if out:
        out.write_text(text, encoding="utf-8-sig")
    else:
        click.echo(text, nl=False)


@click.group("photos", cls=AppGroup)
def photos_group():
    """Stored photo files."""


@photos_group.command("sweep")
@click.option("--older-than", "hours", default=24.0, show_default=True, type=float,  # photos.ORPHAN_GRACE_HOURS
              help="Only files at least this many hours old.")
def photos_sweep(hours):
    """Delete photo files no record refers to (from refused submits, or cut off by a crash)."""
    from . import photos

    removed = photos.sweep(older_than_seconds=hours * 3600)
    click.echo(f"Removed {len(removed)} photo file(s) that no check, hazard or event refers to.")


@click.group(cls=AppGroup)
def webhooks():
    """Outbound webhooks."""


@webhooks.command("send")
def webhooks_send():
    """Mark newly overdue hazards and send the webhook messages that are due (the server also does this itself)."""
    from .webhooks import tick
    from .models import WebhookDelivery

    tick()
    pending = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending"))
    failed = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "failed"))
    click.echo(f"Webhooks: {pending} waiting to be (re)tried, {failed} failed.")


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--area", "areas", multiple=True, help="Area name (repeatable).")
@click.option("--type", "types", multiple=True, help="Point type key, e.g. extinguisher (repeatable).")
@click.option("--size", type=click.Choice(["small", "large"]), default="small", show_default=True)
@CAMPUS_OPTION
@with_appcontext
def labels(out, areas, types, size, campus_name):
    """Write the QR label sheet for A4 as a PDF."""
    from .label_sheet import label_points, labels_for
    from .qr import labels_pdf

    require_base_url()
    campus = chosen_campus(campus_name)
    known_areas = set(db.session.scalars(select(Area.name).where(Area.campus_id == campus.id)))
    known_types = set(db.session.scalars(select(PointType.key)))
    for name in areas:
        if name not in known_areas:
            raise click.ClickException(f"No area named {name!r}.")
    for key in types:
        if key not in known_types:
            raise click.ClickException(f"No point type {key!r} (known: {', '.join(sorted(known_types))}).")
    chosen = label_points(campus, areas=areas, types=types)
    if not chosen:
        raise click.ClickException("No active points match.")
    out.write_bytes(labels_pdf(labels_for(campus, chosen), size=size, title=f"{campus.name} QR"))
    click.echo(f"{len(chosen)} labels written to {out}")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The district spreadsheet to write (.xlsx).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the spreadsheet's headers and words.")
@with_appcontext
def rollup(files, out, lang):
    """Combine schools' monthly report files (JSON) into one district spreadsheet; any bad file writes nothing."""
    from flask_babel import force_locale

    from .rollup import RollupError, RollupRefused, district_xlsx, roll_up

    with force_locale("en"):
        loaded, unreadable = [], []
        for file in files:
            try:
                loaded.append((str(file), file.read_bytes()))
            except OSError as exc:
                unreadable.append(RollupError(str(file), f"cannot be read ({exc.strerror or exc})"))
        try:
            district = roll_up(loaded) if loaded else None
            errors = unreadable
        except RollupRefused as refused:
            errors = unreadable + refused.errors
        if errors:
            for error in errors:
                click.echo(str(error), err=True)
            raise click.ClickException(f"{out} was not written.")
    with force_locale(lang):
        workbook = district_xlsx(district)
    try:
        out.write_bytes(workbook)
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot be written ({exc.strerror or exc})") from None
    count = len(district.schools)
    click.echo(f"{count} {'school' if count == 1 else 'schools'}, month {district.month} → {out}")


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the archive (default: instance/backups).")
@with_appcontext
def backup(out):
    """Copy the database (while the app runs), uploads and secret key into one .tar.gz; print its path."""
    from .backup import BackupError, make_backup

    try:
        archive, manifest = make_backup(out or Path(current_app.instance_path) / "backups")
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    counts = manifest["counts"]
    click.echo(f"Backup: {counts.get('checks', 0)} checks, {counts.get('hazards', 0)} hazards, "
               f"{counts.get('photos', 0)} photos, {manifest['uploads']['files']} files "
               f"(database revision {manifest['database']['alembic_revision']}).", err=True)
    click.echo(str(archive))


@click.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database and uploads that already hold data.")
@with_appcontext
def restore(archive, yes):
    """Put a backup's database, uploads and secret key back, then upgrade the schema. Stop the server first."""
    from .backup import BackupError, restore_backup

    try:
        restored = restore_backup(archive, replace=yes)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    counts = restored.manifest["counts"]
    click.echo(f"Restored the backup of {restored.manifest['created_at']}: {counts.get('checks', 0)} checks, "
               f"{counts.get('hazards', 0)} hazards, {counts.get('photos', 0)} photos, "
               f"{restored.manifest['uploads']['files']} files.")
    if restored.revision_before != restored.revision_after:
        click.echo(f"Database schema upgraded from {restored.revision_before} to {restored.revision_after}.")
    click.echo("Secret key restored: existing sessions stay valid." if restored.secret_key else
               "The backup holds no secret key (PATROL_SECRET_KEY was set?): the current one is kept.")


def lan_address() -> str | None:
    """This machine's address as its own name resolves, if that is not loopback (no packet is sent)."""
    import socket

    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return None
    return None if address.startswith("127.") else address


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--show-demo-logins", is_flag=True, help="Print the demo users and password.")
@with_appcontext
def serve(host, port, workers, threads, show_demo_logins):
    """Serve the app with gunicorn (waitress where gunicorn cannot run)."""
    app = current_app._get_current_object()
    from . import photos

    photos.sweep(older_than_seconds=photos.ORPHAN_GRACE_HOURS * 3600)  # leftovers of a crash or refused submits
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"patrol is serving at http://{shown}:{port}/")
    if host in ("0.0.0.0", "::"):
        lan = lan_address()
        click.echo(f"Phones on the school network: http://{lan}:{port}/" if lan else
                   "Phones on the school network: use this machine's LAN address")
    demo_file = Path(app.instance_path) / "demo.json"
    if show_demo_logins and demo_file.exists():
        info = json.loads(demo_file.read_text())
        click.echo(f"Demo logins: {', '.join(info['users'])} — password: {info['password']}")
    sys.stdout.flush()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # Windows: no gunicorn
        from waitress import serve as waitress_serve

        waitress_serve(app, host=host, port=port, threads=threads * workers)
        return

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 120)
            access_log = os.environ.get("PATROL_ACCESS_LOG", "-")  # "" turns it off
            if access_log:
                self.cfg.set("accesslog", access_log)

        def load(self):
            return app

    db.engine.dispose()  # no connection may cross the fork into the workers
    Server().run()
