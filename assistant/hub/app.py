"""The hub's web application: the device API and the staff pages in one FastAPI app."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from assistant import __version__
from assistant.hub import api, web
from assistant.hub.limits import BodyLimit, parse_proxies
from assistant.hub.service import Hub
from assistant.sync.device import write_private

SECRET_FILE = "session.secret"
STATIC = Path(__file__).with_name("static")


def session_secret(home: Path) -> str:
    """The key that signs staff cookies: made once, kept in the hub's home (0600)."""
    path = home / SECRET_FILE
    if not path.exists():
        write_private(path, secrets.token_hex(32).encode())
    return path.read_text().strip()


def create_app(
    hub: Hub, *, secure_cookies: bool = False, trusted_proxies: list[str] | None = None
) -> FastAPI:
    """The hub's app. Run it with uvicorn's ``proxy_headers=False``: the client address is taken
    from ``X-Forwarded-For`` only when the connection comes from one of *trusted_proxies*."""
    app = FastAPI(title="assistant hub", version=__version__, docs_url=None, redoc_url=None)
    app.state.hub = hub
    app.state.trusted_proxies = parse_proxies(trusted_proxies or [])
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(hub.home),
        session_cookie="assistant_hub",
        max_age=8 * 3600,
        same_site="strict",
        https_only=secure_cookies,
    )
    # outermost of ours: every body is capped before anything (sessions, forms, JSON) reads it
    app.add_middleware(BodyLimit, upload_cap=lambda: hub.max_upload_bytes)
    app.include_router(api.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(web.NotLoggedIn)
    async def _login_first(request: Request, exc: web.NotLoggedIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/v1/"):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return HTMLResponse(
            web.TEMPLATES.get_template("error.html").render(
                status=exc.status_code, detail=exc.detail
            ),
            exc.status_code,
        )

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; media-src 'self'; style-src 'self'; form-action 'self'",
        )
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
