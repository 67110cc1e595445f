"""The OpenAPI document, made to say what the routes really answer.

FastAPI documents ``application/json`` for its own 422 and knows nothing of what a route
returns by hand, so a client (or schemathesis, which CI runs against the live app) would
be told the wrong thing. Here, after FastAPI wrote the document: every error answer is
``application/problem+json`` with one ``Problem`` schema; every operation lists the 413
of the body limit; the token-guarded ones list 401, 429 and 503.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from relay.routes.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details: `detail` says what to do next.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status"],
}
_EVERY_OPERATION = {"413": "The body is larger than this route reads (see the README's limits)."}
_TOKEN_GUARDED = {
    "401": "No token, or not the one set in [api] token.",
    "429": "Too many wrong tokens from this address: wait for Retry-After.",
    "503": "The API is off: no [api] token is set.",
}
_TOKEN_GUARDED_PREFIX = "/api/"


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the corrected document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            app.openapi_schema = corrected(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def corrected(document: dict[str, Any]) -> dict[str, Any]:
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            extra = dict(_EVERY_OPERATION)
            if path.startswith(_TOKEN_GUARDED_PREFIX):
                extra |= _TOKEN_GUARDED
            for status, description in extra.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
    return document
