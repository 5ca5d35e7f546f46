"""One error shape for the API, `{"error": {"code", "message", "fields"}}`, and HTML pages for people."""

from __future__ import annotations

from flask import Flask, Response, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from orders.errors import (
    DomainError,
    DuplicateSubmission,
    IllegalTransition,
    NotFound,
    StaleVersion,
    UnknownFamily,
)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: 404,
    UnknownFamily: 404,
    DuplicateSubmission: 409,
    IllegalTransition: 409,
    StaleVersion: 409,
}


class ApiError(Exception):
    """An HTTP-level refusal raised by a view (bad body, missing auth, rate limit)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    resp.status_code = status
    return resp


def domain_status(exc: DomainError) -> int:
    for cls, status in STATUS_BY_ERROR.items():
        if isinstance(exc, cls):
            return status
    return 422


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _html(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, message=message), status


UNAVAILABLE_RETRY_S = 5


def database_unavailable(exc: BaseException) -> bool:
    """A lost or refused database connection (restart, failover, full pool): worth a retry."""
    if isinstance(exc, DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _unavailable(
    app: Flask, exc: Exception, what: str = "database"
) -> tuple[str, int, dict[str, str]] | Response:
    """503 with Retry-After: a backing service is away for a moment; try again shortly."""
    app.logger.warning(
        "%s unavailable on %s %s: %s",
        what,
        request.method,
        request.path,
        str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__,
    )
    message = f"the {what} is unavailable right now; please try again in a few seconds"
    if not wants_json():
        if "_login_user" not in g:  # loading the user needs the database: render as anonymous
            g._login_user = app.login_manager.anonymous_user()  # type: ignore[attr-defined]
        page, status = _html(503, "Service unavailable", message)
        return page, status, {"Retry-After": str(UNAVAILABLE_RETRY_S)}
    resp = error_response(503, "service_unavailable", message)
    resp.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
    return resp


def init_app(app: Flask) -> None:
    @app.errorhandler(DBAPIError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def _database_error(exc: Exception) -> ResponseReturnValue:
        if not database_unavailable(exc):
            raise exc  # a real bug (bad SQL, constraint): the 500 handler logs it
        return _unavailable(app, exc)

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def _queue_error(exc: Exception) -> ResponseReturnValue:
        return _unavailable(app, exc, "job queue")

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        if not wants_json():
            return _html(exc.status, exc.code.replace("_", " "), exc.message)
        resp = error_response(exc.status, exc.code, exc.message, exc.fields)
        resp.headers.update(exc.headers)
        return resp

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> ResponseReturnValue:
        status = domain_status(exc)
        if not wants_json():
            return _html(status, "Not found" if status == 404 else "Cannot do that", exc.message)
        return error_response(status, exc.code, exc.message, exc.fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if status == 413:
            message = f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        if not wants_json():
            return _html(status, exc.name, message)
        resp = error_response(status, code, message)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return resp

    @app.errorhandler(500)
    def _server_error(exc: Exception) -> ResponseReturnValue:
        # Flask has already logged the traceback; the client gets no internals.
        message = "something went wrong on our side; it has been logged"
        if not wants_json():
            return _html(500, "Server error", message)
        return error_response(500, "internal_error", message)
