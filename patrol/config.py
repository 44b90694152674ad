"""Configuration: defaults, overridden by PATROL_* environment variables, rooted in the instance folder."""
import os
import secrets
from pathlib import Path

MAX_UPLOAD_MB_DEFAULT = 12
OBSERVED_WINDOW_DAYS_DEFAULT = 7


def instance_path() -> Path:
    """The instance folder (data, uploads, secret key): PATROL_INSTANCE or ./instance."""
    return Path(os.environ.get("PATROL_INSTANCE", "instance")).resolve()


def load_secret_key(folder: Path) -> str:
    """PATROL_SECRET_KEY, else a key generated once into the instance folder and reused."""
    if os.environ.get("PATROL_SECRET_KEY"):
        return os.environ["PATROL_SECRET_KEY"]
    key_file = folder / "secret_key"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting together must not each write a different key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def from_environment(folder: Path) -> dict:
    """Settings read from the environment, with defaults for a single-school SQLite install."""
    database_url = os.environ.get("PATROL_DATABASE_URL") or f"sqlite:///{folder / 'patrol.sqlite3'}"
    max_mb = int(os.environ.get("PATROL_MAX_UPLOAD_MB", MAX_UPLOAD_MB_DEFAULT))
    return {
        "SECRET_KEY": load_secret_key(folder),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PATROL_BASE_URL": os.environ.get("PATROL_BASE_URL", "").rstrip("/"),
        "PATROL_UPLOADS": os.environ.get("PATROL_UPLOADS") or str(folder / "uploads"),
        "PATROL_SCHOOL_NAME": os.environ.get("PATROL_SCHOOL_NAME", ""),
        "MAX_CONTENT_LENGTH": max_mb * 1024 * 1024,
        "PATROL_MAX_UPLOAD_MB": max_mb,
        "PATROL_OBSERVED_WINDOW_DAYS": int(os.environ.get("PATROL_OBSERVED_WINDOW_DAYS",
                                                          OBSERVED_WINDOW_DAYS_DEFAULT)),
        # How often an open page tries to send the outbox (seconds); it also sends on reconnect and load.
        "PATROL_OUTBOX_RETRY_SECONDS": int(os.environ.get("PATROL_OUTBOX_RETRY_SECONDS", 30)),
        # Behind a reverse proxy: how many proxies' X-Forwarded-For / -Proto to trust (0: none).
        "PATROL_TRUSTED_PROXIES": int(os.environ.get("PATROL_TRUSTED_PROXIES", 0)),
        "PATROL_LOGIN_MAX_FAILURES": int(os.environ.get("PATROL_LOGIN_MAX_FAILURES", 5)),  # per username
        "PATROL_LOGIN_MAX_FAILURES_PER_IP": int(os.environ.get("PATROL_LOGIN_MAX_FAILURES_PER_IP", 20)),  # 0: off
        "PATROL_LOGIN_LOCKOUT_MINUTES": int(os.environ.get("PATROL_LOGIN_LOCKOUT_MINUTES", 15)),  # window and lockout
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": os.environ.get("PATROL_BASE_URL", "").startswith("https://"),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": os.environ.get("PATROL_BASE_URL", "").startswith("https://"),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "WTF_CSRF_TIME_LIMIT": None,
    }
