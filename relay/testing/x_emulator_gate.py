"""The gate every emulated X endpoint passes first, in X's order.

Authentication (401), then the *kind* of authentication (403 "Unsupported Authentication" for an
app-only Bearer token where X acts for a user), then the caller's rate window (429; the
``x-rate-limit-*`` headers it returns go on every answer of the endpoint), then the pay-per-use
balance (402). Keeping the order in one place keeps the emulator honest about which error a
client sees first when several apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from relay.testing import x_emulator_problems as problems
from relay.testing.x_emulator_auth import AuthFailure, Caller, SignedRequest, verify_oauth1
from relay.testing.x_emulator_state import EmulatorState


@dataclass(frozen=True)
class Admitted:
    """A request that passed the gate: who sent it, and the rate headers to answer with."""

    caller: Caller
    headers: dict[str, str]


async def identify(request: Request, state: EmulatorState) -> Caller:
    """The caller of a request, or :class:`AuthFailure` (401)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        if not token or (state.config.bearer_token is not None and token != state.config.bearer_token):
            raise AuthFailure("unknown bearer token")
        return Caller("app", "app")
    if not header:
        raise AuthFailure("no Authorization header")
    content_type = request.headers.get("content-type", "")
    form = await request.body() if "application/x-www-form-urlencoded" in content_type else None
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    signed = SignedRequest(
        method=request.method,
        scheme=request.url.scheme,
        host=request.url.hostname or "",
        port=request.url.port,
        path=raw_path.decode("latin-1"),
        query=request.url.query,
        form_body=form,
    )
    params = verify_oauth1(signed, header, state.config.keys, now=state.clock())
    if not state.first_use_of_nonce(params["oauth_nonce"], params["oauth_timestamp"]):
        raise AuthFailure("oauth_nonce was already used")
    return Caller("user", f"user:{params['oauth_token']}")


async def admit(request: Request, state: EmulatorState, route: str) -> Admitted | Response:
    """Authentication, auth kind, rate window, credits: X's gate, in X's order."""
    try:
        caller = await identify(request, state)
    except AuthFailure:
        return problems.problem(401)
    user_limit, app_limit = state.limits(route)
    if not caller.is_user and app_limit is None:
        return problems.unsupported_authentication()
    window = state.count_request(route, caller.principal, user_limit if caller.is_user else app_limit or 0)
    headers = window.headers()
    if window.remaining < 0:
        return problems.problem(429, headers=headers)
    if state.credits() == 0:
        return problems.credits_depleted(state.config.developer_account_id, headers)
    return Admitted(caller, headers)
