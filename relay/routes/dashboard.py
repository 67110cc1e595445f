"""``GET /``: the owner's dashboard, server-rendered, behind the API token.

No JavaScript framework and no CDN: Jinja2 with autoescape renders everything on the
server (a post titled ``<script>`` shows as text), charts are inline SVG, and a strict
Content-Security-Policy forbids inline scripts, so the page works offline and an
injected title could not run even if it got through. Labels exist in English and French
(``?lang=`` first, then ``Accept-Language``); they live in ``templates/_labels.html``,
next to the words they replace.

Signing in: ``/login`` takes the token and sets an HttpOnly, SameSite=Strict cookie
holding ``issued.HMAC(token, issued)``, never the token itself; changing the token signs
everyone out. HTTP Basic auth with the token as the password works too, for scripts.

Review mode (``[publishing] review``): the tweets waiting for approval head the page, each
in a form to edit, approve or skip it. Those forms carry a CSRF token (an HMAC of the
session by the API token) besides the SameSite cookie, and a form from another origin is
refused. The one script, ``/static/review.js``, shows the live count by asking
``/review/count``, so the browser counts exactly as relay does.

Numbers, amounts and times are written by :mod:`relay.routes.formatting` (Babel), times in
``[publishing] timezone``, whose name the page shows.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from relay.core.length import MAX_WEIGHTED_LENGTH
from relay.core.networks import NETWORK_NAMES
from relay.metrics.reports import Chart, NetworkTotals, PostReport, build_report, clicks_chart, network_totals
from relay.pipeline import review
from relay.routes.formatting import Formats
from relay.routes.guessing import record_failure, too_many
from relay.store.metrics_store import daily_human_clicks, daily_human_clicks_by_post, spending_by_account
from relay.store.review import ReviewRow
from relay.store.rows import DeliveryRow, FeedRow

if TYPE_CHECKING:
    from relay.wiring import Runtime

router = APIRouter(include_in_schema=False)

LANGUAGES = ("en", "fr")
SESSION_COOKIE = "relay_session"
SESSION_LIFETIME = timedelta(days=30)
CHART_DAYS = 30
POSTS_SHOWN = 50
BUDGET_WARNING = 0.8
"""Share of ``[publishing] monthly_budget_usd`` spent at which the owner is told."""
MAX_ID = 2**63 - 1
"""Ids in paths must fit the database's integers (else 422, never a 500)."""
FORM_LIMIT = 32_768
"""The most bytes of a review form or count request read (an edited text is capped far below)."""
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(css|js)$")


def _href(url: Any) -> str:
    """Only http(s) links become links: a feed can carry ``javascript:`` URLs."""
    text = str(url or "")
    return text if text.startswith(("https://", "http://")) else "#"


_env = Environment(
    loader=PackageLoader("relay", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["href"] = _href


@cache
def labels() -> dict[str, dict[str, Any]]:
    """The words of every page, by language, from ``templates/_labels.html``."""
    found: dict[str, dict[str, Any]] = _env.get_template("_labels.html").module.LABELS  # type: ignore[attr-defined]
    return found


def render(template: str, *, lang: str, words: dict[str, Any] | None = None, **context: Any) -> str:
    """A page in ``lang``; ``t`` holds its words (``words`` when a page fills some in) and ``other`` those of
    the other language."""
    other = labels()["fr" if lang == "en" else "en"]
    return _env.get_template(template).render(lang=lang, t=words or labels()[lang], other=other, **context)


def dashboard_words(lang: str, networks: list[str]) -> dict[str, Any]:
    """The dashboard's words, where visits are said to come from the networks relay posted on.

    "Visits from X" stays true for an owner who posts on X only; once Mastodon or Bluesky take
    posts too, the same figure counts their readers, and the label names them ("X, Mastodon et Bluesky").
    """
    words = dict(labels()[lang])
    names = Formats(lang).names([NETWORK_NAMES.get(n, n) for n in networks] or [NETWORK_NAMES["x"]])
    for key in ("human_clicks", "visits_30_days"):
        words[key] = words[key].format(networks=names)
    return words


DASHBOARD_HEADERS = {
    **PAGE_HEADERS,
    "content-security-policy": PAGE_HEADERS["content-security-policy"] + "; script-src 'self'; connect-src 'self'",
    "referrer-policy": "same-origin",
}
"""The dashboard runs one script, relay's own ``review.js`` (the live count); no other page runs any.
``same-origin``: links out still carry no referrer, and the review forms carry their ``Origin`` (under
``no-referrer`` a browser sends ``Origin: null``, which the forms refuse)."""


def _page(template: str, lang: str, status: int = 200, *, headers: dict[str, str] = PAGE_HEADERS,
          **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, lang=lang, **context), status_code=status, headers=headers)


def pick_language(query: str | None, accept_language: str) -> str:
    """``?lang=`` when it names a known language, else the first known one the browser asks for."""
    if query in LANGUAGES:
        return query
    weighted = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, position, tag.strip().lower()[:2]))
    for _q, _pos, tag in sorted(weighted):
        if tag in LANGUAGES:
            return tag
    return "en"


# -- what the page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """One X account's month: tweets posted, what X billed, and the ceiling set for it."""

    account: str
    tweets: int
    on_posts: float
    on_reads: float
    """What X billed besides posts: reads (finding posts after a crash, metrics) and image descriptions."""
    limit: float

    @property
    def spent(self) -> float:
        return self.on_posts + self.on_reads

    @property
    def low(self) -> bool:
        return self.limit > 0 and self.spent >= BUDGET_WARNING * self.limit


@dataclass(frozen=True)
class DashboardView:
    posts: list[PostReport]
    overall: Chart
    post_charts: dict[int, Chart]
    feeds: list[FeedRow]
    outbox: dict[str, int]
    failed: list[DeliveryRow]
    blocked_reason: str | None
    feeds_in_trouble: list[FeedRow]
    budgets: list[Budget]
    dry_run: bool
    waiting: list[ReviewRow]
    """Tweets waiting for the owner's approval (review mode)."""
    review_on: bool
    feed_names: dict[int, str]
    """Feed id -> the name the owner gave it in the config (else the feed's own title, else its address)."""
    now: datetime
    networks: list[NetworkTotals]
    """Each network's figures over the posts shown (the page lists them when there is more than one)."""

    @property
    def budgets_low(self) -> list[Budget]:
        return [b for b in self.budgets if b.low]


def dashboard_view(runtime: Runtime, now: datetime) -> DashboardView:
    """Everything the dashboard shows, read in one go (blocking: run it in a thread)."""
    engine = runtime.store.engine
    since = now - timedelta(days=CHART_DAYS)
    posts = build_report(engine, limit=POSTS_SHOWN)
    by_post = daily_human_clicks_by_post(engine, since, [p.post_id for p in posts])
    feeds = runtime.store.list_feeds()
    settings = runtime.settings
    spending = spending_by_account(engine, datetime(now.year, now.month, 1, tzinfo=UTC))
    limits = {"default": settings.publishing.monthly_budget_usd}
    for account in settings.accounts:
        if account.network != "x":
            continue  # Mastodon and Bluesky bill nothing: no budget to watch
        own = account.monthly_budget_usd
        limits[account.name] = settings.publishing.monthly_budget_usd if own is None else own
    by_url = {feed.url: feed.name for feed in settings.feeds if feed.name}
    return DashboardView(
        posts=posts,
        overall=clicks_chart(daily_human_clicks(engine, since), now.date(), CHART_DAYS, width=720, height=140),
        post_charts={p.post_id: clicks_chart(by_post.get(p.post_id, {}), now.date(), CHART_DAYS) for p in posts},
        feeds=feeds,
        outbox=runtime.store.delivery_counts(),
        failed=runtime.store.list_deliveries(["failed"])[-20:],
        blocked_reason=runtime.service.blocked_reason,
        feeds_in_trouble=[f for f in feeds if f.status != "active" or f.error_count > 0],
        budgets=[Budget(name, *spending.get(name, (0, 0.0, 0.0)), limit) for name, limit in limits.items()],
        dry_run=runtime.publisher.dry_run,
        waiting=runtime.store.waiting_for_review(),
        review_on=settings.publishing.review,
        feed_names={f.id: by_url.get(f.configured_url) or f.title or f.url for f in feeds},
        now=now,
        networks=network_totals(posts),
    )


# -- who may see it --------------------------------------------------------------------------


def _token(request: Request) -> str:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.api.token.get_secret_value()


def session_value(token: str, issued: int) -> str:
    """What the cookie holds: when it was issued and an HMAC keyed by the token over that."""
    mac = hmac.new(token.encode(), f"relay-dashboard:{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


def _valid_session(token: str, value: str, now: float) -> bool:
    issued_text = value.partition(".")[0]
    if not issued_text.isascii() or not issued_text.isdigit() or len(issued_text) > 12:
        return False  # a 400-digit "time" overflows a float
    if not 0 <= now - int(issued_text) <= SESSION_LIFETIME.total_seconds():
        return False
    return hmac.compare_digest(value.encode(), session_value(token, int(issued_text)).encode())


def _basic_password(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def signed_in(request: Request, token: str) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and _valid_session(token, cookie, time.time()):
        return True
    password = _basic_password(request.headers.get("authorization", ""))
    if password is None:
        return False
    if hmac.compare_digest(password.encode(), token.encode()):
        return True
    record_failure(request, "dashboard basic auth")
    return False


def _lang(request: Request) -> str:
    return pick_language(request.query_params.get("lang"), request.headers.get("accept-language", ""))


def _no_token_page(lang: str) -> HTMLResponse:
    return _page("message.html", lang, 503, title_key="no_token_title", text_key="no_token")


# -- routes ------------------------------------------------------------------------------------


@router.get("/")
async def dashboard(request: Request) -> Response:
    lang = _lang(request)
    token = _token(request)
    if not token:
        return _no_token_page(lang)
    if (limited := too_many(request)) is not None:
        return limited
    if not signed_in(request, token):
        return RedirectResponse(f"/login?lang={lang}", status_code=303, headers={"cache-control": "no-store"})
    notice = request.query_params.get("done")
    return await _dashboard_page(request, lang, notice=notice if notice in ("approved", "skipped", "gone") else None)


async def _dashboard_page(request: Request, lang: str, *, status: int = 200, notice: str | None = None,
                          refused: dict[int, tuple[str, str]] | None = None) -> HTMLResponse:
    """The dashboard; ``refused`` maps a waiting tweet to the text the owner sent and why it was refused."""
    runtime: Runtime = request.app.state.runtime
    view = await asyncio.to_thread(dashboard_view, runtime, runtime.worker.now())
    formats = Formats(lang, runtime.settings.publishing.timezone)
    return _page("dashboard.html", lang, status, headers=DASHBOARD_HEADERS, view=view, fmt=formats,
                 words=dashboard_words(lang, [n.network for n in view.networks]),
                 csrf=csrf_token(request, _token(request)), notice=notice, refused=refused or {},
                 max_length=MAX_WEIGHTED_LENGTH, max_chars=review.MAX_EDIT_CHARS, network_names=NETWORK_NAMES,
                 review_limits={item.delivery_id: runtime.service.measure_of(item).limit for item in view.waiting})


@router.get("/login")
async def login_form(request: Request) -> Response:
    lang = _lang(request)
    return _page("login.html", lang, error=False) if _token(request) else _no_token_page(lang)


@router.post("/login")
async def login(request: Request) -> Response:
    lang = _lang(request)
    token = _token(request)
    if not token:
        return _no_token_page(lang)
    if (limited := too_many(request)) is not None:
        return limited
    body = (await request.body())[:8192].decode("utf-8", "replace")
    given = (parse_qs(body).get("token") or [""])[0].strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        record_failure(request, "dashboard sign-in form")
        return _page("login.html", lang, 401, error=True)
    response = RedirectResponse(f"/?lang={lang}", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token, int(time.time())),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse(f"/login?lang={_lang(request)}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    """relay's own CSS (no CDN), cached for a day."""
    resource = files("relay") / "static" / name
    if not _STATIC_NAME.match(name) or not resource.is_file():
        return Response(status_code=404)
    return Response(
        resource.read_bytes(),
        media_type=_STATIC_TYPES[name[name.rindex(".") :]],
        headers={"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"},
    )


# -- review mode ------------------------------------------------------------------------------


def csrf_token(request: Request, token: str) -> str:
    """What the review forms carry: an HMAC, keyed by the API token, of the session they belong to."""
    session = request.cookies.get(SESSION_COOKIE) or "basic"
    return hmac.new(token.encode(), f"relay-csrf:{session}".encode(), hashlib.sha256).hexdigest()


def _same_origin(request: Request) -> bool:
    """A browser names the page a form came from; one from another site is refused."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.partition("://")[2] == request.headers.get("host", "")


async def _review_gate(request: Request, given_csrf: str | None) -> Response | None:
    """None when the request may act on the review queue; else the answer to give instead."""
    lang = _lang(request)
    token = _token(request)
    if not token:
        return _no_token_page(lang)
    if (limited := too_many(request)) is not None:
        return limited
    if not signed_in(request, token):
        return RedirectResponse(f"/login?lang={lang}", status_code=303, headers={"cache-control": "no-store"})
    expected = csrf_token(request, token)
    if not _same_origin(request) or not given_csrf or not hmac.compare_digest(given_csrf.encode(), expected.encode()):
        return _page("message.html", lang, 403, title_key="forbidden_title", text_key="forbidden")
    return None


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body())[:FORM_LIMIT].decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def _problem_words(lang: str, check: review.TextCheck) -> str:
    words: dict[str, str] = labels()[lang]["review_problems"]
    return words.get(check.problem or "", "").format(length=check.length, limit=check.limit)


@router.post("/review/{delivery_id}/approve")
async def approve_tweet(request: Request, delivery_id: int = Path(ge=1, le=MAX_ID)) -> Response:
    form = await _form(request)
    if (refusal := await _review_gate(request, form.get("csrf"))) is not None:
        return refusal
    runtime: Runtime = request.app.state.runtime
    lang = _lang(request)
    text = form.get("text")
    checked = await asyncio.to_thread(review.approve, runtime.store, delivery_id, text, runtime.worker.now(),
                                      runtime.service.measure_of)
    if checked.problem == review.GONE:
        return RedirectResponse(f"/?lang={lang}&done=gone#review", status_code=303)
    if checked.problem is not None:
        return await _dashboard_page(request, lang, status=422,
                                     refused={delivery_id: (text or "", _problem_words(lang, checked))})
    runtime.worker.wake()
    return RedirectResponse(f"/?lang={lang}&done=approved#review", status_code=303)


@router.post("/review/{delivery_id}/skip")
async def skip_tweet(request: Request, delivery_id: int = Path(ge=1, le=MAX_ID)) -> Response:
    form = await _form(request)
    if (refusal := await _review_gate(request, form.get("csrf"))) is not None:
        return refusal
    runtime: Runtime = request.app.state.runtime
    done = await asyncio.to_thread(review.skip, runtime.store, delivery_id, runtime.worker.now())
    return RedirectResponse(f"/?lang={_lang(request)}&done={'skipped' if done else 'gone'}#review", status_code=303)


@router.post("/review/count")
async def count_text(request: Request) -> Response:
    """The live count of ``review.js``: the text weighed as relay weighs it, and what is wrong, in words."""
    form = await _form(request)
    if (refusal := await _review_gate(request, form.get("csrf"))) is not None:
        return refusal
    link, measure = "", review.X_MEASURE
    delivery = form.get("delivery", "")
    if delivery.isascii() and delivery.isdigit() and 1 <= int(delivery) <= MAX_ID:
        runtime: Runtime = request.app.state.runtime
        waiting = await asyncio.to_thread(runtime.store.review_row, int(delivery))
        if waiting is not None:
            link, measure = waiting.link, runtime.service.measure_of(waiting)
    checked = review.check_text(form.get("text", ""), link, measure)
    lang = _lang(request)
    return JSONResponse(
        {"length": checked.length, "limit": checked.limit, "problem": checked.problem,
         "message": _problem_words(lang, checked), "counter": labels()[lang]["counter"].format(
             length=Formats(lang).number(checked.length), limit=checked.limit)},
        headers={"cache-control": "no-store"},
    )
