"""HTTP routes. Thin on purpose: each route reads the request and calls the service."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from relay import __version__
from relay.metrics.tracking import Tracking
from relay.routes import api, dashboard, hooks, hooks_editor, redirect, republish, websub
from relay.routes.docs import install_offline_docs
from relay.routes.limits import BodyLimitMiddleware
from relay.routes.openapi_doc import install_openapi
from relay.routes.problems import install_problem_handlers

if TYPE_CHECKING:
    from relay.wiring import Runtime

log = logging.getLogger("relay.web")


def create_app(runtime: Runtime, *, run_worker: bool = True) -> FastAPI:
    """The ASGI app; with ``run_worker`` the polling/publishing loop runs beside it."""
    tracking = Tracking.for_runtime(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded so far (libraries, settings, the app) lives as long as the process: moved out of the
        # garbage collector's sight, a full collection no longer walks it while readers wait on a redirect
        # (p99 at 64 connections: 65-74 ms before, 10 ms after; bench/bench_redirect.py).
        gc.collect()
        gc.freeze()
        await tracking.start()
        task = asyncio.create_task(runtime.worker.run()) if run_worker else None
        try:
            yield
        finally:
            runtime.worker.stop()
            if task is not None:
                await task
            await tracking.stop()  # writes every click still queued: none is lost on shutdown
            await runtime.aclose()

    app = FastAPI(title="relay", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_offline_docs(app)
    install_openapi(app)
    app.state.runtime = runtime
    app.state.tracking = tracking
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(redirect.RedirectFastPath, tracking=tracking)  # outermost: the hot path skips the rest
    app.include_router(hooks.router)
    app.include_router(hooks_editor.router)
    app.include_router(republish.router)
    app.include_router(redirect.router)
    app.include_router(api.router)
    app.include_router(dashboard.router)
    app.include_router(websub.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> JSONResponse:
        """Liveness, and whether publishing is paused by something only a human can fix."""
        blocked = runtime.service.blocked_reason
        body: dict[str, Any] = {
            "status": "degraded" if blocked else "ok",
            "dry_run": runtime.publisher.dry_run,
            "version": __version__,
        }
        if blocked:
            body["action_needed"] = blocked
        if (held := runtime.service.held_reason) is not None:
            body["posts_waiting"] = held  # a cap, quiet hours or the monthly budget
        # 200 even when degraded: restarting the process would not buy credits.
        return JSONResponse(body)

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Ready when the database answers."""
        try:
            await asyncio.to_thread(_ping, runtime)
        except Exception as exc:
            log.warning("database not ready", extra={"error": type(exc).__name__})
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app


def _ping(runtime: Runtime) -> None:
    with runtime.store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
