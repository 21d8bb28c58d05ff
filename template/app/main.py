"""The FastAPI application: routes, error handling and start-up migrations."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from app import health, metrics, tasks
from app._defaults import SERVICE_NAME
from app.config import get_settings
from app.database import get_engine, reset_engine
from app.errors import install_error_handlers
from app.middleware import HeadAsGet, RequestObserver, ResponseHeaders
from app.migrate import migrate_in_background

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    logger.info("%s starting; database %s", SERVICE_NAME, settings.safe_database_url)
    get_engine()  # now, so request threads never race to create it
    # Each gunicorn worker migrates in its own lifespan, not the arbiter before the fork: a
    # thread does not survive a fork, and the advisory lock lets workers and replicas race
    stop_migrating = migrate_in_background(app, settings) if settings.run_migrations else None
    try:
        yield
    finally:
        if stop_migrating is not None:
            stop_migrating.set()
        # Close pooled connections so the database sees a clean disconnect
        reset_engine()
        logger.info("%s stopped", SERVICE_NAME)


def create_app() -> FastAPI:
    """Build the app; settings are read at start-up, not at import."""
    # No trailing-slash redirects: Starlette builds their Location from the client's Host header
    app = FastAPI(title=SERVICE_NAME, version="0.1.0", lifespan=lifespan, redirect_slashes=False)
    install_error_handlers(app)
    # Added last, so they wrap the 413 middleware too: every answer gets HEAD and the headers
    app.add_middleware(HeadAsGet)
    app.add_middleware(ResponseHeaders)
    # Outermost: the id, the count and the access line cover every answer, a 413 too
    app.add_middleware(RequestObserver)
    app.include_router(health.router)
    app.include_router(tasks.router)
    app.add_api_route("/metrics", serve_metrics, methods=["GET"], include_in_schema=False)
    return app


async def serve_metrics(request: Request) -> Response:
    """Prometheus' scrape target, on the API's own port (the spec's "Metrics" says why)."""
    if not get_settings().metrics_enabled:
        return Response('{"detail":"Not Found"}', 404, media_type="application/json")
    return await metrics.metrics(request)


app = create_app()
