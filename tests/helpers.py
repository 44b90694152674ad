"""Helpers shared by the tests: logging in, reading CSRF tokens, making photos, finding points."""
import io
import os
import re

from PIL import Image
from werkzeug.security import generate_password_hash

PASSWORD = "password123"
# A cheap hash of PASSWORD made once: the real method is slow by design.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
ROLES = ("guard", "repairer", "officer", "admin", "viewer")


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, username, password=PASSWORD):
        response = self.client.get("/login")
        token = csrf_from(response)
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})

    def logout(self):
        token = csrf_from(self.client.get("/"))
        return self.client.post("/logout", data={"csrf_token": token})


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "page has no CSRF token"
    return match.group(1)


def jpeg_bytes(color=(200, 30, 30), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def point(app, code):
    from patrol.extensions import db
    from patrol.models import Point

    with app.app_context():
        found = db.session.query(Point).filter_by(code=code).one()
        db.session.expunge(found)
        return found


def make_app(instance, database_url, **config):
    os.environ["PATROL_INSTANCE"] = str(instance)
    from patrol import create_app

    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PATROL_BASE_URL": "http://patrol.test",
        "PATROL_UPLOADS": str(instance / "uploads"),
    }
    settings.update(config)
    return create_app(settings)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
