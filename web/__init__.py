"""Hunar's web app: `create_app(settings)` wires the order book into Flask, connecting nothing yet."""

from __future__ import annotations

from flask import Flask, render_template

from orders.context import AppContext
from orders.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,
    )
    ctx = AppContext.from_settings(settings)
    app.extensions["hunar"] = ctx

    @app.get("/")
    def index() -> str:
        import configurator

        return render_template("index.html", families=configurator.all_families())

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.after_request
    def security_headers(resp):  # type: ignore[no-untyped-def]
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy", "default-src 'self'")
        return resp

    return app
