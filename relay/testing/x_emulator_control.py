"""The emulator's own API under ``/_emulator/`` (not X's) and the middleware that plays faults.

Tests script X's bad days here: queue a fault (a status, a delay, "accept the tweet but lose the
answer", "accept the tweet and answer late", or one of X's per-post 403 refusals), drain the
credits, set a tweet's metrics, seed old tweets, slow the timeline down, say where a link
redirects, then read back what the emulator received and what it billed. The fault middleware
buffers the request body before it waits, so a delayed request is still processed after its
client gave up, exactly like a slow X that still posts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from relay.testing import x_emulator_problems as problems
from relay.testing.x_emulator_state import EmulatorState, Fault, RateWindow, StoredTweet, route_of

CONTROL_PREFIX = "/_emulator"


class FaultSpec(BaseModel):
    """Body of ``POST /_emulator/faults``."""

    method: str = "POST"
    path: str
    status: int | None = Field(default=None, ge=400, le=599)
    times: int = Field(default=1, ge=1)
    reset_in: int = Field(default=900, ge=0)
    delay: float = Field(default=0.0, ge=0)
    accept_then_fail: bool = False
    detail: str | None = None
    answer_late: bool = False
    refusal: Literal["duplicate", "reply_restricted", "cashtags", "not_permitted"] | None = None


class CreditsSpec(BaseModel):
    remaining: int | None = Field(ge=0)


class MetricsSpec(BaseModel):
    id: str
    public_metrics: dict[str, int] = Field(default_factory=dict)
    non_public_metrics: dict[str, int] = Field(default_factory=dict)


class SeedSpec(BaseModel):
    text: str
    created_at: datetime | None = None
    kind: Literal["post", "reply", "retweet"] = "post"


class TimelineSpec(BaseModel):
    delay_seconds: float = Field(ge=0)


class UnwoundSpec(BaseModel):
    """Where X finds a link to lead: ``unwound_url`` None means X could not fetch it."""

    url: str
    unwound_url: str | None
    status: int = 200


def tweet_record(tweet: StoredTweet) -> dict[str, Any]:
    """How ``GET /_emulator/tweets`` shows one tweet: as received, and as X displays it."""
    return {
        "id": tweet.id,
        "text": tweet.text,
        "display_text": tweet.display_text,
        "media_ids": list(tweet.media_ids),
        "entities": tweet.entities(),
        "kind": tweet.kind,
        "created_at": tweet.created_at.isoformat(),
        "public_metrics": tweet.public_metrics,
        "non_public_metrics": tweet.non_public_metrics,
    }


def fault_response(state: EmulatorState, fault: Fault, method: str, path: str) -> Response:
    status = fault.status or 503
    if status == 429:
        route = route_of(method, path)
        limit = state.limits(route)[0] if route else state.config.tweet_rate_limit
        window = RateWindow(limit, 0, int(state.clock()) + fault.reset_in)
        return problems.problem(429, fault.detail, headers=window.headers())
    if status == 402:
        return problems.credits_depleted(state.config.developer_account_id)
    return problems.problem(status, fault.detail)


async def buffered(response: Response) -> Response:
    """Read a streamed response to the end, so it can be dropped or re-sent whole."""
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    return Response(body, status_code=response.status_code, headers=dict(response.headers))


def install_fault_middleware(app: FastAPI, state: EmulatorState) -> None:
    @app.middleware("http")
    async def play_faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if path.startswith(CONTROL_PREFIX):
            return await call_next(request)
        await request.body()  # keep the body even if the client disconnects during a delay
        fault = state.take_fault(request.method, path, fnmatchcase)
        if fault is None:
            response = await call_next(request)
        elif fault.refusal is not None:  # X refuses the post in its logic, after auth and the rate window
            request.state.x_refusal = fault.refusal
            response = await call_next(request)
        elif fault.accept_then_fail or fault.answer_late:
            response = await buffered(await call_next(request))
            await asyncio.sleep(fault.delay)
            if fault.accept_then_fail and response.status_code < 400:
                response = fault_response(state, fault, request.method, path)
        else:
            generation = state.generation
            await asyncio.sleep(fault.delay)
            if fault.status or state.generation != generation:  # a reset meanwhile: that world is gone
                response = fault_response(state, fault, request.method, path)
            else:
                response = await call_next(request)
        auth = request.headers.get("authorization", "").split(" ", 1)[0].lower() or None
        state.log_request(
            {
                "method": request.method,
                "path": path,
                "query": request.url.query,
                "status": response.status_code,
                "auth": auth,
                "fault": fault is not None,
            }
        )
        return response


def add_control_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(f"{CONTROL_PREFIX}/tweets")
    async def list_tweets() -> dict[str, Any]:
        return {"tweets": [tweet_record(t) for t in state.tweets()]}

    @app.post(f"{CONTROL_PREFIX}/tweets", status_code=201)
    async def seed_tweet(spec: SeedSpec) -> dict[str, Any]:
        created = spec.created_at.timestamp() if spec.created_at else state.clock()
        tweet = state.create_tweet(spec.text, (), created_at=created, check_duplicate=False, kind=spec.kind)
        return tweet_record(tweet)

    @app.get(f"{CONTROL_PREFIX}/timeline")
    async def get_timeline_delay() -> dict[str, float]:
        return {"delay_seconds": state.timeline_delay()}

    @app.post(f"{CONTROL_PREFIX}/timeline")
    async def set_timeline_delay(spec: TimelineSpec) -> dict[str, float]:
        state.set_timeline_delay(spec.delay_seconds)
        return {"delay_seconds": spec.delay_seconds}

    @app.post(f"{CONTROL_PREFIX}/links")
    async def set_unwound(spec: UnwoundSpec) -> dict[str, Any]:
        state.set_unwound(spec.url, spec.unwound_url, spec.status)
        return spec.model_dump()

    @app.get(f"{CONTROL_PREFIX}/charges")
    async def list_charges() -> dict[str, Any]:
        charges = state.charges()
        return {"charges": [asdict(c) for c in charges], "spent": sum(c.credits for c in charges)}

    @app.post(f"{CONTROL_PREFIX}/reset")
    async def reset() -> dict[str, bool]:
        state.reset()
        return {"reset": True}

    @app.get(f"{CONTROL_PREFIX}/faults")
    async def list_faults() -> dict[str, Any]:
        return {"faults": [asdict(f) for f in state.faults()]}

    @app.post(f"{CONTROL_PREFIX}/faults", status_code=201)
    async def queue_fault(spec: FaultSpec) -> dict[str, Any]:
        state.add_fault(Fault(**spec.model_dump()))
        return {"queued": spec.model_dump()}

    @app.get(f"{CONTROL_PREFIX}/credits")
    async def get_credits() -> dict[str, int | None]:
        return {"remaining": state.credits()}

    @app.post(f"{CONTROL_PREFIX}/credits")
    async def set_credits(spec: CreditsSpec) -> dict[str, int | None]:
        state.set_credits(spec.remaining)
        return {"remaining": spec.remaining}

    @app.post(f"{CONTROL_PREFIX}/metrics")
    async def set_metrics(spec: MetricsSpec) -> dict[str, Any]:
        if not state.set_metrics(spec.id, spec.public_metrics, spec.non_public_metrics):
            raise HTTPException(404, f"no tweet {spec.id}")
        return tweet_record(state.find_tweets([spec.id])[spec.id])

    @app.get(f"{CONTROL_PREFIX}/media")
    async def list_media() -> dict[str, Any]:
        return {"media": [asdict(m) | {"media_key": m.key} for m in state.media()]}

    @app.get(f"{CONTROL_PREFIX}/requests")
    async def list_requests() -> JSONResponse:
        return JSONResponse({"requests": state.requests()})
