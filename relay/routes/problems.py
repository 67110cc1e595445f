"""Errors as RFC 9457 problem details (``application/problem+json``), for every route.

One shape for every error a client can get, so a script or the WordPress plugin reads
``detail`` and knows what to fix: ``{"type", "title", "status", "detail", ...}``. Routes
return :func:`problem` directly; :func:`install_problem_handlers` converts what FastAPI
raises by itself (unknown path, wrong method, invalid input, a crash) into the same shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_MEDIA_TYPE = "application/problem+json"

DatabaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A row id: a whole number from 1 to 2**63 - 1.")]
"""Ids in paths: one the database cannot hold is a 422 here, not a driver overflow (a 500)."""

log = logging.getLogger("relay.web")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        """ASCII JSON: a detail that quotes hostile input (a lone surrogate) still encodes."""
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def problem(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response. ``title`` defaults to the status phrase; ``extra`` adds members.

    ``type`` stays ``about:blank`` unless given in ``extra``, as RFC 9457 allows when the
    status and title say enough.
    """
    body: dict[str, Any] = {"type": "about:blank", "title": title or _phrase(status), "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return ProblemResponse(jsonable_encoder(body), status_code=status, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Make FastAPI's own errors (404, 405, 422, 500) answer in problem+json too."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _phrase(exc.status_code) else None
    if exc.status_code == 404 and detail is None:
        detail = f"there is nothing at {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        if detail is None:
            detail = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed) or 'another'}"
    extra: dict[str, Any] = {}
    if not isinstance(exc.detail, str):
        extra["errors"] = exc.detail
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem(exc.status_code, detail=detail, headers=headers, **extra)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "")}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:3])
    return problem(422, "Invalid request", summary or "the request does not match what this endpoint expects",
                   errors=errors)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path, "method": request.method})
    return problem(500, detail="relay failed on this request; the details are in relay's log")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in _routes(request.app.router.routes):
        match, _ = route.matches({**request.scope, "method": "GET"}) if hasattr(route, "matches") else (None, None)
        if match is not None and match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI keeps them behind the router; relay's have no prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
