"""patrol: campus safety patrols — QR check points, hazards and reports for schools."""
from flask import Flask

from . import config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, security headers."""
    instance = config.instance_path()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.from_environment(instance))
    if test_config:
        app.config.update(test_config)
    if app.config.get("PATROL_TRUSTED_PROXIES"):
        # The client's real address matters: login lockout counts failures per address.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PATROL_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from . import auth, database, web
    from .extensions import babel, csrf, db, login_manager

    database.configure(app)
    db.init_app(app)
    web.guard_input(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale, timezone_selector=web.select_timezone)
    auth.init_login(login_manager)
    web.init_app(app)

    from .admin.views import bp as admin_bp
    from .api.views import bp as api_bp
    from .auth.views import bp as auth_bp
    from .campus.views import bp as campus_bp
    from .checks.views import bp as checks_bp
    from .dashboard.views import bp as dashboard_bp
    from .district.views import bp as district_bp
    from .errors import bp as errors_bp
    from .hazards.views import bp as hazards_bp
    from .home.views import bp as home_bp
    from .notifications.views import bp as notifications_bp
    from .outbox.views import bp as outbox_bp
    from .reports.views import bp as reports_bp
    from .scan.views import bp as scan_bp
    from .tasks.views import bp as tasks_bp

    for blueprint in (auth_bp, home_bp, campus_bp, scan_bp, hazards_bp, checks_bp, tasks_bp, notifications_bp, dashboard_bp,
                      reports_bp, district_bp, admin_bp, outbox_bp, errors_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # bearer tokens, not cookies: no CSRF to forge
    app.register_blueprint(api_bp)

    from . import webhooks
    from .cli import register

    app.before_request(lambda: webhooks.start_sender(app))
    register(app)
    return app
