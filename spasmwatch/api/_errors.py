"""The one place where spasmwatch errors become HTTP answers.

=========================  ============================================================
error                      HTTP status
=========================  ============================================================
AuthError                  401 (missing/invalid token, with ``WWW-Authenticate``),
                           403 (``reason="forbidden"``: role not allowed)
NotFoundError              404
StoreError                 409 (``reason`` ``conflict``/``exists``), 422 (``invalid``),
                           else 400
RecordingError             404 (``reason`` ``missing``/``not_found``), else 422
ConfigError, SignalError,  422: the request asked for something the data cannot give
ImportFormatError
ModelError                 503: the server's model is unusable
other SpasmwatchError      400
=========================  ============================================================

The body is ``{"detail": <message>, "error": <class name>, "reason": <reason or null>}``.
Messages of spasmwatch errors name inputs, never health data, so they are safe to return.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from spasmwatch.errors import (
    AuthError,
    ConfigError,
    ImportFormatError,
    ModelError,
    NotFoundError,
    RecordingError,
    SignalError,
    SpasmwatchError,
    StoreError,
)

__all__ = ["install_error_handlers", "status_for"]

log = logging.getLogger("spasmwatch.api")


def status_for(exc: SpasmwatchError) -> int:
    """HTTP status code for a spasmwatch error (the table in this module's docstring)."""
    reason = exc.reason or ""
    if isinstance(exc, AuthError):
        return 403 if reason == "forbidden" else 401
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StoreError):
        if reason in {"conflict", "exists", "duplicate"}:
            return 409
        return 422 if reason == "invalid" else 400
    if isinstance(exc, RecordingError):
        return 404 if reason in {"missing", "not_found"} else 422
    if isinstance(exc, ConfigError | SignalError | ImportFormatError):
        return 422
    if isinstance(exc, ModelError):
        return 503
    return 400


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpasmwatchError)
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    log.info("%s %s -> %d %s", request.method, request.url.path, status, type(exc).__name__)
    return JSONResponse(
        {"detail": str(exc), "error": type(exc).__name__, "reason": exc.reason},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app`` (called by :func:`create_app`)."""
    app.add_exception_handler(SpasmwatchError, _handle)
