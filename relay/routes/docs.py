"""``/docs``: the interactive API documentation, served whole from this machine.

FastAPI's default page loads Swagger UI from a CDN, so it is blank on a server without
internet (most small VPS firewalls, every air-gapped agency network). The assets come
from the ``swagger-ui-py`` package, which ships Swagger UI 5 (the first to read the
OpenAPI 3.1 that FastAPI writes) with its Apache-2.0 licence beside the files
(``swagger_ui/static/LICENSE``), and are served from here.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PREFIX = "/docs/assets"
_SPEC = find_spec("swagger_ui")  # found, not imported: the package loads YAML and templates relay does not use
STATIC = Path(_SPEC.origin if _SPEC and _SPEC.origin else "swagger_ui").parent / "static"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
}
"""The only files of the bundle the page needs; nothing else of the package is reachable."""


def install_offline_docs(app: FastAPI) -> None:
    """Add ``/docs`` (create the app with ``docs_url=None, redoc_url=None``)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PREFIX}/favicon-32x32.png",
        )

    @router.get(ASSETS_PREFIX + "/{name}")
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(status_code=404, detail="no such documentation asset")
        cache = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(str(STATIC / name), media_type=ASSETS[name], headers=cache)

    app.include_router(router)
