"""Storage faults: an uploads folder that cannot be written, or a full disk, gives the user a clear
message and saves nothing half-way; the photo is taken again once there is room."""
import subprocess
from pathlib import Path

import pytest
from helpers import jpeg_bytes, point
from sqlalchemy import func, select

from test_outbox import put_photo, replay, sha
from test_scan import all_pass, form_for, submit


def count(app, model):
    from patrol.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def full_disk(app, tmp_path):
    """PATROL_UPLOADS on a 64 KB tmpfs filled up to its last few hundred bytes."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("DISK-FULL TEST NOT RUN: mounting a small tmpfs needs root (CI runs it): "
                    + done.stderr.decode().strip())
    filler = mount / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    app.config["PATROL_UPLOADS"] = str(mount / "uploads")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def unwritable(app, tmp_path):
    """PATROL_UPLOADS below a plain file: no folder can be made there, whoever the server runs as."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    app.config["PATROL_UPLOADS"] = str(blocker / "uploads")
    return blocker


@pytest.mark.parametrize("fault", ["full_disk", "unwritable"])
def test_a_check_with_a_photo_is_refused_whole_with_a_clear_message(app, campus, client, auth, fault, request):
    from patrol.models import Check, Hazard, Photo

    request.getfixturevalue(fault)
    auth.login("guard")
    exit_point = point(app, "P-EXIT")
    _html, keys, client_uuid, csrf = form_for(client, exit_point.token)
    data = {"csrf_token": csrf, "client_uuid": client_uuid, **all_pass(keys), "result-unblocked": "fail",
            "note-unblocked": "堆放杂物"}
    response = submit(client, exit_point.token, data, {"photo-unblocked": jpeg_bytes((9, 9, 9), (400, 300))})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "服务器无法保存照片" in page and "堆放杂物" in page  # the message, and what the guard typed
    assert (count(app, Check), count(app, Hazard), count(app, Photo)) == (0, 0, 0)
    uploads = Path(app.config["PATROL_UPLOADS"])
    assert not uploads.exists() or list(uploads.rglob("*.part")) == []


def test_the_outbox_is_told_to_send_the_photo_again_when_the_disk_is_full(app, campus, client, auth, full_disk):
    from patrol.models import PendingPhoto, Photo

    auth.login("guard")
    exit_point = point(app, "P-EXIT")
    _html, keys, client_uuid, csrf = form_for(client, exit_point.token)
    photo = jpeg_bytes((9, 9, 200), (400, 300))
    data = {"csrf_token": csrf, "client_uuid": client_uuid, **all_pass(keys), "result-unblocked": "fail",
            "note-unblocked": "堆放杂物", "photo_sha256-unblocked": sha(photo)}
    url = replay(client, exit_point.token, data).get_json()["photos_url"]
    refused = put_photo(client, url + sha(photo), photo, csrf)
    assert refused.status_code == 503 and "服务器无法保存照片" in refused.get_json()["error"]
    assert count(app, Photo) == 0 and count(app, PendingPhoto) == 1  # still expected, nothing half-saved
    (full_disk / "filler").unlink()  # the administrator makes room
    stored = put_photo(client, url + sha(photo), photo, csrf)
    assert stored.status_code == 201 and stored.get_json()["missing_photos"] == []
    assert count(app, Photo) == 1 and count(app, PendingPhoto) == 0


def test_photos_sweep_removes_only_unreferenced_old_files(app, campus, client, auth):
    """`patrol photos sweep`: a refused submit's photo stays for the grace period, then goes; a
    recorded photo stays forever."""
    import os
    import time

    from patrol import photos

    auth.login("guard")
    exit_point = point(app, "P-EXIT")
    _html, keys, client_uuid, csrf = form_for(client, exit_point.token)
    data = {"csrf_token": csrf, "client_uuid": client_uuid, **all_pass(keys), "result-unblocked": "fail",
            "note-unblocked": ""}  # refused: no note; the photo is kept for the next try
    assert submit(client, exit_point.token, data, {"photo-unblocked": jpeg_bytes((1, 1, 1))}).status_code == 422
    data["note-unblocked"] = "堆放杂物"
    assert submit(client, exit_point.token, dict(data, client_uuid=client_uuid),
                  {"photo-unblocked": jpeg_bytes((2, 2, 2))}).status_code == 201
    uploads = Path(app.config["PATROL_UPLOADS"])
    files = sorted(uploads.glob("??/*.jpg"))
    assert len(files) == 2
    runner = app.test_cli_runner()
    assert "Removed 0 photo file" in runner.invoke(args=["photos", "sweep"]).output  # both younger than 24 h
    day_ago = time.time() - 25 * 3600
    for path in files:
        os.utime(path, (day_ago, day_ago))
    assert "Removed 1 photo file" in runner.invoke(args=["photos", "sweep"]).output
    with app.app_context():
        from patrol.extensions import db
        from patrol.models import Photo

        kept = db.session.query(Photo).one().sha256
    assert [p.stem for p in uploads.glob("??/*.jpg")] == [kept]
