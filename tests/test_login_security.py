"""Login lockout, sessions ended by a password change, cookie flags, and API token revocation."""
from datetime import datetime, timedelta

import pytest
from helpers import PASSWORD, Auth, bearer, csrf_from, make_app
from sqlalchemy import func, select

START = datetime(2026, 3, 2, 1, 0)  # UTC: 09:00 in Asia/Shanghai


class Clock:
    def __init__(self):
        self.at = START

    def __call__(self):
        return self.at

    def advance(self, **delta):
        self.at += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    found = Clock()
    monkeypatch.setattr("patrol.auth.lockout.now", found)
    return found


@pytest.fixture
def limits(app):
    app.config.update(PATROL_LOGIN_MAX_FAILURES=3, PATROL_LOGIN_MAX_FAILURES_PER_IP=5,
                      PATROL_LOGIN_LOCKOUT_MINUTES=15)


def attempt(client, username, password, page=None, ip="127.0.0.1"):
    page = page or client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_from(page)},
                       environ_base={"REMOTE_ADDR": ip})


def failures(app, **where):
    from patrol.extensions import db
    from patrol.models import LoginFailure

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginFailure).filter_by(**where))


def user_id(app, username):
    from patrol.extensions import db
    from patrol.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def test_lockout_after_too_many_failures_refuses_even_the_right_password(app, campus, client, clock, limits):
    for _ in range(3):
        assert attempt(client, "guard", "wrong-password").status_code == 422
    response = attempt(client, "guard", PASSWORD)
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "登录失败次数过多。请在 15 分钟后（2026-03-02 09:15 之后）再试。" in page
    assert response.headers["Retry-After"] == "900"
    assert 'name="username"' in page and 'value="guard"' in page and PASSWORD not in page
    assert client.get("/").status_code == 302  # not logged in
    assert failures(app, username="guard") == 3  # refusals are not counted: the lockout does not grow

    clock.advance(minutes=14, seconds=59)
    assert attempt(client, "guard", PASSWORD, page=response).status_code == 429
    clock.advance(seconds=1)
    response = attempt(client, "guard", PASSWORD, page=response)  # the form of the 429 page works
    assert response.status_code == 302 and client.get("/").status_code == 200
    assert failures(app, username="guard") == 0


def test_english_lockout_message(app, campus, client, clock, limits):
    client.set_cookie("patrol_locale", "en")
    for _ in range(3):
        attempt(client, "guard", "wrong-password")
    clock.advance(minutes=14, seconds=30)
    response = attempt(client, "guard", "wrong-password")
    assert response.status_code == 429
    assert "Too many failed logins. Please try again in 1 minute (at 2026-03-02 09:15)." in response.get_data(
        as_text=True)


def test_a_success_resets_the_count_and_old_failures_expire(app, campus, client, auth, clock, limits):
    for _ in range(2):
        attempt(client, "guard", "wrong-password")
    assert attempt(client, "guard", PASSWORD).status_code == 302
    auth.logout()
    for _ in range(2):
        assert attempt(client, "guard", "wrong-password").status_code == 422
    clock.advance(minutes=16)  # those two are out of the window now
    for _ in range(2):
        assert attempt(client, "guard", "wrong-password").status_code == 422
    assert attempt(client, "guard", PASSWORD).status_code == 302


def test_lockout_is_per_username(app, campus, client, clock, limits):
    for _ in range(3):
        attempt(client, "guard", "wrong-password", ip="10.0.0.1")
    assert attempt(client, "guard", PASSWORD, ip="10.0.0.2").status_code == 429  # from anywhere
    assert attempt(client, "officer", PASSWORD, ip="10.0.0.1").status_code == 302  # others are not affected


def test_one_address_trying_many_usernames_is_limited(app, campus, client, clock, limits):
    for name in ["guard", "officer", "nobody", "admin", "viewer"]:
        assert attempt(client, name, "wrong-password", ip="10.0.0.9").status_code == 422
    assert attempt(client, "repairer", PASSWORD, ip="10.0.0.9").status_code == 429
    assert attempt(client, "repairer", PASSWORD, ip="10.0.0.10").status_code == 302
    clock.advance(minutes=15)
    auth = Auth(client)
    auth.logout()
    assert attempt(client, "repairer", PASSWORD, ip="10.0.0.9").status_code == 302


def test_the_limit_holds_across_workers(app, campus, clock, limits, tmp_path, database_url):
    """Failures are counted in the database, so another app process sees them."""
    other = make_app(tmp_path / "other", database_url, PATROL_LOGIN_MAX_FAILURES=3)
    try:
        for _ in range(2):
            attempt(app.test_client(), "guard", "wrong-password")
        attempt(other.test_client(), "guard", "wrong-password")
        assert attempt(app.test_client(), "guard", PASSWORD).status_code == 429
    finally:
        with other.app_context():
            from patrol.extensions import db

            db.session.remove()
            db.engine.dispose()


def logged_in(app, username, password=PASSWORD):
    client = app.test_client()
    assert Auth(client).login(username, password).status_code == 302
    return client


def remember_only(app, remember_cookie):
    """A browser that was closed: its session cookie is gone, the remember-me cookie is still there."""
    client = app.test_client()
    client.set_cookie("remember_token", remember_cookie)
    return client


def test_an_admin_password_reset_ends_the_users_sessions(app, campus):
    phone = logged_in(app, "guard")
    remembered = phone.get_cookie("remember_token").value
    assert remember_only(app, remembered).get("/").status_code == 200
    admin = logged_in(app, "admin")
    target = f"/admin/users/{user_id(app, 'guard')}"
    response = admin.post(f"{target}/password", data={"password": "a-new-password",
                                                      "csrf_token": csrf_from(admin.get(target))})
    assert response.status_code == 303
    assert phone.get("/").status_code == 302
    assert remember_only(app, remembered).get("/").status_code == 302
    assert admin.get("/admin/users").status_code == 200
    assert logged_in(app, "guard", "a-new-password").get("/").status_code == 200


def test_an_admin_resetting_their_own_password_stays_logged_in(app, campus):
    admin = logged_in(app, "admin")
    elsewhere = logged_in(app, "admin")
    target = f"/admin/users/{user_id(app, 'admin')}"
    response = admin.post(f"{target}/password", data={"password": "a-new-password",
                                                      "csrf_token": csrf_from(admin.get(target))})
    assert response.status_code == 303
    assert admin.get("/admin/users").status_code == 200
    assert elsewhere.get("/admin/users").status_code == 302


def change(client, current, new, again=None):
    return client.post("/password", data={"current": current, "password": new, "again": again or new,
                                          "csrf_token": csrf_from(client.get("/password"))})


@pytest.mark.parametrize("current, new, again, error", [
    ("wrong-password", "a-new-password", None, "当前密码不正确。"),
    (PASSWORD, "a-new-password", "another-password", "两次输入的新密码不一致。"),
    (PASSWORD, "short", None, "8"),
])
def test_change_password_refuses_bad_input(app, campus, current, new, again, error):
    phone = logged_in(app, "guard")
    response = change(phone, current, new, again)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and error in page
    for secret in {current, new, again} - {None}:
        assert f'value="{secret}"' not in page
    assert logged_in(app, "guard").get("/").status_code == 200  # nothing changed


def test_changing_my_password_logs_out_my_other_devices_but_not_this_one(app, campus):
    phone = logged_in(app, "guard")
    remembered = phone.get_cookie("remember_token").value
    desk = logged_in(app, "guard")
    response = change(desk, PASSWORD, "a-new-password")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "用你的账号登录的其他设备已被退出登录" in desk.get("/").get_data(as_text=True)
    assert desk.get("/password").status_code == 200
    assert phone.get("/").status_code == 302
    assert remember_only(app, remembered).get("/").status_code == 302
    # The new remember-me cookie carries the new epoch: a closed browser comes back logged in.
    assert remember_only(app, desk.get_cookie("remember_token").value).get("/").status_code == 200
    assert Auth(app.test_client()).login("guard").status_code == 422
    assert logged_in(app, "guard", "a-new-password").get("/").status_code == 200


def test_wrong_current_passwords_count_towards_the_lockout(app, campus, clock, limits):
    phone = logged_in(app, "guard")
    for _ in range(3):
        assert change(phone, "wrong-password", "a-new-password").status_code == 422
    response = change(phone, PASSWORD, "a-new-password")
    assert response.status_code == 429 and "登录失败次数过多" in response.get_data(as_text=True)
    assert phone.get("/").status_code == 200  # still logged in; only the password is kept safe


def test_sessions_of_unknown_shape_are_ignored(app, campus):
    from patrol.auth import user_of_session

    guard = user_id(app, "guard")
    with app.app_context():
        assert user_of_session(f"{guard}:0").username == "guard"
        for value in [str(guard), f"{guard}:1", f"{guard}:x", "x:0", "", f"{guard}:²"]:
            assert user_of_session(value) is None


def cookie_flags(response) -> dict:
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _sep, rest = header.partition("=")
        found[name] = {part.strip().lower() for part in rest.split(";")[1:]}
    return found


def test_cookies_are_httponly_and_samesite_lax(app, campus, client):
    page = client.get("/login")
    response = client.post("/login", data={"username": "guard", "password": PASSWORD, "csrf_token": csrf_from(page)})
    flags = cookie_flags(response)
    for name in ("session", "remember_token"):
        assert {"httponly", "samesite=lax"} <= flags[name], name
        assert "secure" not in flags[name]  # plain http: a Secure cookie would never come back


def test_cookies_are_secure_when_served_over_https(app, campus, tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PATROL_BASE_URL", "https://patrol.test")
    secure = make_app(tmp_path / "https", database_url, PATROL_BASE_URL="https://patrol.test")
    try:
        client = secure.test_client()
        page = client.get("/login", base_url="https://patrol.test")
        response = client.post("/login", base_url="https://patrol.test",
                               headers={"Referer": "https://patrol.test/login"},  # CSRF over https checks it
                               data={"username": "guard", "password": PASSWORD, "csrf_token": csrf_from(page)})
        assert response.status_code == 302
        flags = cookie_flags(response)
        for name in ("session", "remember_token"):
            assert {"secure", "httponly", "samesite=lax"} <= flags[name], name
    finally:
        with secure.app_context():
            from patrol.extensions import db

            db.session.remove()
            db.engine.dispose()


def token_ids(app, username):
    from patrol.extensions import db
    from patrol.models import ApiToken, User

    with app.app_context():
        return list(db.session.scalars(select(ApiToken.id).join(User).where(User.username == username)
                                       .order_by(ApiToken.id)))


def test_revoke_a_token_by_itself(app, campus, client, tokens):
    runner = app.test_cli_runner()
    assert client.get("/api/v1/points", headers=bearer(tokens["officer"])).status_code == 200
    result = runner.invoke(args=["token", "revoke", tokens["officer"]])
    assert result.exit_code == 0, result.output
    assert f"Revoked token {token_ids(app, 'officer')[0]} “test” of officer." in result.output
    assert tokens["officer"] not in result.output
    assert client.get("/api/v1/points", headers=bearer(tokens["officer"])).status_code == 401
    assert client.get("/api/v1/points", headers=bearer(tokens["viewer"])).status_code == 200
    again = runner.invoke(args=["token", "revoke", tokens["officer"]])
    assert again.exit_code == 0 and "revoked already" in again.output


def test_revoke_a_token_by_id(app, campus, client, tokens):
    runner = app.test_cli_runner()
    [viewer_token] = token_ids(app, "viewer")
    result = runner.invoke(args=["token", "revoke", str(viewer_token)])
    assert result.exit_code == 0 and f"Revoked token {viewer_token} " in result.output
    assert client.get("/api/v1/points", headers=bearer(tokens["viewer"])).status_code == 401
    assert client.get("/api/v1/points", headers=bearer(tokens["officer"])).status_code == 200


def test_revoke_all_of_a_users_tokens(app, campus, client, tokens):
    runner = app.test_cli_runner()
    second = runner.invoke(args=["token", "create", "guard", "--label", "phone"]).output.strip()
    result = runner.invoke(args=["token", "revoke", "--user", "guard"])
    assert result.exit_code == 0, result.output
    assert result.output.count("Revoked token") == 2 and "“phone”" in result.output
    for value in (tokens["guard"], second):
        assert client.get("/api/v1/points", headers=bearer(value)).status_code == 401
    assert client.get("/api/v1/points", headers=bearer(tokens["officer"])).status_code == 200
    assert "no unrevoked tokens" in runner.invoke(args=["token", "revoke", "--user", "guard"]).output


@pytest.mark.parametrize("args, message", [
    (["no-such-token"], "No such token"),
    (["99999"], "No such token"),
    (["--user", "nobody"], "No user nobody"),
    ([], "Give either"),
])
def test_revoke_refuses_what_it_cannot_find(app, campus, tokens, args, message):
    result = app.test_cli_runner().invoke(args=["token", "revoke", *args])
    assert result.exit_code != 0 and message in result.output


def test_token_list_shows_tokens_but_never_the_tokens_themselves(app, campus, client, tokens):
    runner = app.test_cli_runner()
    client.get("/api/v1/points", headers=bearer(tokens["viewer"]))
    runner.invoke(args=["token", "revoke", "--user", "guard"])
    result = runner.invoke(args=["token", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "USER", "LABEL", "CREATED", "(UTC)", "LAST", "USED", "REVOKED"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert set(rows) == {"guard", "repairer", "officer", "admin", "viewer"}
    assert rows["officer"][-2:] == ["-", "-"]  # never used, not revoked
    assert rows["viewer"][-1] == "-" and rows["viewer"][-2] != "-"  # used just now
    assert rows["guard"][-1] != "-"  # revoked
    for value in tokens.values():
        assert value not in result.output
    only = runner.invoke(args=["token", "list", "viewer"])
    assert only.exit_code == 0 and len(only.output.splitlines()) == 2
    assert "No user nobody" in runner.invoke(args=["token", "list", "nobody"]).output


def test_last_used_is_noted_at_most_once_a_minute(app, campus, client, tokens):
    from patrol.extensions import db
    from patrol.models import ApiToken

    def last_used():
        with app.app_context():
            return db.session.scalar(select(ApiToken.last_used_at).where(
                ApiToken.token_hash == ApiToken.hash(tokens["viewer"])))

    assert last_used() is None
    client.get("/api/v1/points", headers=bearer(tokens["viewer"]))
    first = last_used()
    assert first is not None
    client.get("/api/v1/points", headers=bearer(tokens["viewer"]))
    assert last_used() == first
