"""The error bodies X API v2 answers with, reproduced so client code is tested against their real shape.

X answers errors with RFC 7807 "problem details" (``title``, ``detail``, ``type``, ``status``); a
400 adds an ``errors`` array whose items carry a ``message``, and partial failures of a lookup come
back with a 200 and per-item problems in ``errors``. The texts below are the ones X is seen to send
(public client code and bug reports quote them verbatim); where X's wording is unknown the text says
so in its own words rather than inventing a quote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

PROBLEMS = "https://api.twitter.com/2/problems"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
"""X's v2 answers say ``application/json; charset=utf-8`` (every recorded v2 exchange)."""

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG_MESSAGE = (
    "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text."
)
INVALID_MEDIA_MESSAGE = "Your media IDs are invalid."
UNSUPPORTED_AUTH_DETAIL = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)

# Per-post refusals of POST /2/tweets: X answers 403 with these details and the account can go on
# posting other texts. The texts are quoted verbatim in public client code and bug reports that hit
# them (2025-2026); the reply restriction is X's policy for replies to authors who did not engage.
REPLY_RESTRICTED_DETAIL = (
    "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged "
    "by the author of the post you are replying to."
)
CASHTAG_LIMIT_DETAIL = "Posts are limited to a maximum of one cashtag"
NOT_PERMITTED_DETAIL = "You are not permitted to perform this action."
REFUSALS = {
    "duplicate": DUPLICATE_DETAIL,
    "reply_restricted": REPLY_RESTRICTED_DETAIL,
    "cashtags": CASHTAG_LIMIT_DETAIL,
    "not_permitted": NOT_PERMITTED_DETAIL,
}
"""The named 403 refusals a test can queue (``Fault(refusal="cashtags")``), by name."""


class XJSONResponse(JSONResponse):
    """A JSON answer with X's exact content type."""

    media_type = JSON_CONTENT_TYPE


_GENERIC_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem(status: int, detail: str | None = None, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """A generic ``about:blank`` problem, the shape X uses for 401, 403, 429 and 5xx."""
    title = _GENERIC_TITLES.get(status, "Error")
    body = {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
    return XJSONResponse(body, status_code=status, headers=headers)


def invalid_request(*messages: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """400: the request itself is wrong; each message explains one problem."""
    return invalid_parameters([({}, message) for message in messages], headers=headers)


def invalid_parameters(
    problems: Sequence[tuple[Mapping[str, Sequence[str]], str]], *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """400 naming the query parameters at fault, as X does for a bad query parameter value.

    Shape as X sends it (quoted in public client code)::

        {"errors": [{"parameters": {"max_results": ["4"]},
                     "message": "The `max_results` query parameter value [4] is not between 5 and 100"}],
         "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
         "type": "https://api.twitter.com/2/problems/invalid-request"}
    """
    errors: list[dict[str, Any]] = []
    for parameters, message in problems:
        item: dict[str, Any] = {"parameters": {k: list(v) for k, v in parameters.items()}} if parameters else {}
        item["message"] = message
        errors.append(item)
    body = {
        "errors": errors,
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": f"{PROBLEMS}/invalid-request",
    }
    return XJSONResponse(body, status_code=400, headers=headers)


def bad_parameter(name: str, value: str, rule: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """400 for one query parameter: ``The `name` query parameter value [value] <rule>``."""
    message = f"The `{name}` query parameter value [{value}] {rule}"
    return invalid_parameters([({name: [value]}, message)], headers=headers)


def one_of(choices: Sequence[str]) -> str:
    """X's wording for an enumeration: ``is not one of [a,b,c]`` (no spaces, no quotes)."""
    return f"is not one of [{','.join(choices)}]"


def unsupported_authentication() -> JSONResponse:
    """403 for an app-only Bearer token on an endpoint that acts for a user."""
    body = {
        "title": "Unsupported Authentication",
        "detail": UNSUPPORTED_AUTH_DETAIL,
        "type": f"{PROBLEMS}/unsupported-authentication",
        "status": 403,
    }
    return XJSONResponse(body, status_code=403)


def credits_depleted(account_id: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """402 when the developer account's pay-per-use balance is empty.

    Shape as X sends it (quoted in several public projects hitting it on ``POST /2/tweets``):
    ``account_id`` is the developer account, not the posting user, and the ``type`` URL keeps the
    old api.twitter.com host. X has also been seen answering a leaner ``{"title": "Payment
    Required", "type": ".../credits-depleted"}``; clients must key on the status, not the title.
    """
    body = {
        "account_id": account_id,
        "title": "CreditsDepleted",
        "detail": f"Your enrolled account [{account_id}] does not have any credits to fulfill this request.",
        "type": f"{PROBLEMS}/credits",
    }
    return XJSONResponse(body, status_code=402, headers=headers)


def not_found_item(resource_type: str, parameter: str, value: str) -> dict[str, Any]:
    """One entry of the ``errors`` array of a 200 lookup, for an id that does not exist."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


def field_unauthorized_item(field: str, parameter: str, tweet_id: str) -> dict[str, Any]:
    """One entry of ``errors`` for a field the caller may not read on that tweet.

    X sends one per private metric (``non_public_metrics.impression_count`` and so on) and leaves
    the tweet out of ``data``, for app-only callers and for tweets older than 30 days alike.
    """
    return {
        "resource_type": "tweet",
        "field": field,
        "parameter": parameter,
        "resource_id": tweet_id,
        "title": "Field Authorization Error",
        "section": "data",
        "detail": (f"Sorry, you are not authorized to access '{field}' on the Tweet with {parameter} : [{tweet_id}]."),
        "value": tweet_id,
        "type": f"{PROBLEMS}/not-authorized-for-field",
    }
