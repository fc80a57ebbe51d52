"""The application factory: API routers, live socket, pages and static files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from spasmwatch._version import __version__
from spasmwatch.api import _live, _routes, _routes_reports
from spasmwatch.api._auth import TokenStore
from spasmwatch.api._bus import LiveBus
from spasmwatch.api._errors import install_error_handlers
from spasmwatch.api._recordings import RecordingIndex

__all__ = ["STATIC_DIR", "create_app"]

#: Hand-written pages, scripts and styles (no CDN, no build step).
STATIC_DIR = Path(__file__).parent / "static"

_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _open_store(store_path: Path) -> Any:
    from spasmwatch.store import EventStore

    return EventStore(store_path)


def create_app(
    store_path: str | Path,
    *,
    data_dir: str | Path | None = None,
    live_bus: LiveBus | None = None,
    store: Any = None,
    title: str = "spasmwatch",
) -> FastAPI:
    """The spasmwatch web service.

    Parameters
    ----------
    store_path : str or Path
        The event store's SQLite file (created and migrated if missing). API tokens live in
        the same file (table ``api_tokens``), with who sees whom (clinician assignments,
        studies): every query is limited to the caller's wearers (``_scope.Scope``).
    data_dir : str or Path, optional
        Folder whose sub-folders (and ``recordings/`` sub-folders) holding a
        ``manifest.json`` are served as recordings, besides those in the store's index.
    live_bus : LiveBus, optional
        Where live events come from (the monitor pipeline publishes into it). Without one,
        ``/api/live`` says ``"live": false`` and relays nothing.
    store : EventStore, optional
        An already open store on ``store_path`` (default: open one).
    title : str
        Title in the OpenAPI schema.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (``spasmwatch serve`` does). OpenAPI at ``/openapi.json``.
    """
    path = Path(store_path)
    event_store = store if store is not None else _open_store(path)
    tokens = TokenStore(path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        if live_bus is not None:
            live_bus.close()

    app = FastAPI(
        title=title,
        version=__version__,
        description=(
            "spasmwatch: episodes, summaries, recordings, labels, diary, prompts and exports "
            "of an objective spasm log. A self-monitoring and research tool, not a diagnostic "
            "device. Every /api endpoint needs 'Authorization: Bearer <token>' (see "
            "`spasmwatch token create`); each lists the roles it admits. A wearer token sees "
            "its own wearer, a clinician the wearers assigned to them, a researcher the "
            "pseudonymised wearers of their studies; another wearer's object is a 404."
        ),
        lifespan=lifespan,
    )
    app.state.store = event_store
    app.state.tokens = tokens
    app.state.bus = live_bus
    app.state.recordings = RecordingIndex(event_store, None if data_dir is None else Path(data_dir))
    install_error_handlers(app)
    app.include_router(_routes.router)
    app.include_router(_routes_reports.router)
    app.include_router(_live.router)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Pages take ?token= once: never leak it in a Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        else:
            response.headers.setdefault("Content-Security-Policy", _CSP)
        return response

    def page(name: str) -> Callable[[], FileResponse]:
        def serve_page() -> FileResponse:
            return FileResponse(STATIC_DIR / name, media_type="text/html")

        return serve_page

    pages = {"/": "index.html", "/live": "live.html", "/timeline": "timeline.html",
             "/recordings": "recordings.html"}  # fmt: skip
    for path, name in pages.items():
        app.add_api_route(
            path,
            page(name),
            methods=["GET"],
            include_in_schema=False,
            response_class=HTMLResponse,
        )

    @app.get("/recordings/{recording_id}", include_in_schema=False, response_class=HTMLResponse)
    def recording_page(recording_id: str) -> FileResponse:
        return FileResponse(STATIC_DIR / "recording.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
