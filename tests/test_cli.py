"""The `patrol` commands, run as a user runs them."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import select


def test_user_add_creates_a_user_who_can_log_in(app, campus, client):
    from helpers import csrf_from

    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "add", "zhang", "--role", "guard", "--name", "张保安",
                                 "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["user", "add", "zhang", "--role", "guard", "--password", "s3cret-pass"])
    assert again.exit_code != 0 and "exists already" in again.output
    short = runner.invoke(args=["user", "add", "li", "--role", "guard", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output
    page = client.get("/login")
    response = client.post("/login", data={"username": "zhang", "password": "s3cret-pass",
                                           "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert "张保安" in client.get("/").get_data(as_text=True)
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        user = db.session.scalar(select(User).filter_by(username="zhang"))
        assert user.role == "guard" and user.password_hash != "s3cret-pass" and user.campus_id == campus["campus_id"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_patrol_serve_runs_gunicorn_and_serves_the_app(tmp_path):
    env = dict(os.environ, PATROL_INSTANCE=str(tmp_path / "instance"), PATROL_ACCESS_LOG="")
    env.pop("PATROL_DATABASE_URL", None)
    init = subprocess.run([sys.executable, "-m", "patrol", "init"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "patrol", "serve", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert f"patrol is serving at http://127.0.0.1:{port}/" in server.stdout.readline()
        deadline = time.monotonic() + 30
        while True:  # wait for gunicorn to bind: poll the port, bounded
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
                    body = response.read().decode()
                    headers = response.headers
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.1)
        assert "登录" in body and "Content-Security-Policy" in headers
        assert (tmp_path / "instance" / "secret_key").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


def test_a_new_token_never_starts_with_a_dash(app, campus, monkeypatch):
    """`patrol token revoke -abc…` would read the token as an option: such tokens are never handed out."""
    import patrol.cli

    drawn = iter(["-looks-like-an-option", "plain-token-value"])
    monkeypatch.setattr(patrol.cli.secrets, "token_urlsafe", lambda n: next(drawn))
    runner = app.test_cli_runner()
    made = runner.invoke(args=["token", "create", "guard"])
    assert made.output.strip() == "plain-token-value"
    assert runner.invoke(args=["token", "revoke", made.output.strip()]).exit_code == 0
