"""Draining the outbox: post each delivery exactly once, whatever X or the machine does.

The rules, in the order they matter:

* a delivery is marked ``sending`` (under a lease) before X is called, so a crash leaves
  a trace; such a delivery, and any whose last attempt ended without a clear answer
  (timeout, 5xx, connection lost), is looked for among the account's recent tweets
  before it is tried again: X may have posted it before the answer was lost;
* caps, spacing, quiet hours and the monthly budget are checked before a claim, so a
  post held back stays queued and costs nothing;
* the lease is renewed the moment the request to X starts, for longer than that request
  can take (the settings check that the lease exceeds the X client's deadline), so no other
  worker (nor this one after a restart) looks for the post on X while the request may still land;
* a post is recognised on X by the link only its delivery carries (X keeps it in the
  ``t.co`` link's ``expanded_url``), not by a text X rewrites; when X cannot be asked, the
  delivery waits and relay asks again, it never posts blind;
* X's answers decide what happens next: 429 waits for the reset, 5xx backs off (timed from
  when the attempt ended), a duplicate is skipped (a republished variant is varied once), a
  too-long text is recomposed shorter once, a post X refuses for itself (reply rules,
  cashtags) fails alone, and 401/402/account-wide 403 pause the account until a human acts.
"""

from __future__ import annotations

import html
import logging
import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit, urlunsplit

from relay.core.length import find_urls
from relay.core.models import Post, Tweet
from relay.core.policy import Caps, gate, month_start, post_cost
from relay.core.ports import ImageSource, Outgoing, PostedTweet, Publisher
from relay.errors import (
    AccountBlocked,
    DuplicateContent,
    PostRefused,
    PublishError,
    RateLimited,
    RelayError,
    TransientPublishError,
    TweetRejected,
)
from relay.store.outbox import DEFAULT_ACCOUNT, FAILED, QUEUED, SENT, SKIPPED
from relay.store.rows import DeliveryRow
from relay.store.store import Store

log = logging.getLogger("relay.outbox")

RETRY_BASE = timedelta(seconds=30)
RETRY_CEILING = timedelta(hours=1)
PAUSE_RECHECK = timedelta(minutes=15)
LEASE = timedelta(seconds=90)
"""How long a post stays with its worker, from the claim and again from the start of its request to
X: the X client's total deadline (40 s, ``relay.adapters.x.DEADLINE_SECONDS``) plus a wide margin
for X's own processing and clock skew."""
RECONCILE_MARGIN = timedelta(minutes=5)
"""Clock skew between relay and X, when asking X for tweets since a delivery was claimed."""
AMBIGUOUS = frozenset({"error", "interrupted"})
"""Attempt outcomes after which X may or may not have posted the tweet."""

Recompose = Callable[[DeliveryRow, Post, str], Tweet | None]
"""``(delivery, post, why)`` -> a new text, ``why`` being ``"shorter"`` or ``"vary"``."""


@dataclass
class PublishReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    blocked_reason: str | None = None
    held_reason: str | None = None


class Outbox:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        caps: Caps | None = None,
        recompose: Recompose | None = None,
        images: ImageSource | None = None,
        account: str = DEFAULT_ACCOUNT,
        lease: timedelta = LEASE,
    ) -> None:
        self.lease = lease
        self.store = store
        self.publisher = publisher
        self.caps = caps or Caps()
        self.recompose = recompose
        self.images = images
        self.account = account
        self.held_reason: str | None = None
        """Why due posts are waiting (cap, budget, quiet hours), for the health page."""
        self._timeline: tuple[datetime, Sequence[PostedTweet]] | None = None
        """The account's tweets read this round and since when: one read serves every delivery to look for
        (X rate-limits timeline reads, 900 per 15 minutes, and bills each post returned)."""
        self.needs_operator = False

    @property
    def blocked_reason(self) -> str | None:
        return self.store.account_pause(self.account)[0]

    # -- recovery ------------------------------------------------------------------------

    def recover(self, now: datetime) -> list[int]:
        """Settle deliveries a dead worker left in ``sending``: found on X -> sent, else queued again.

        Only once their lease has run out, even for a sole worker restarting: the dead worker's
        request may still be in flight, and X lists a post only after it answered. Each is taken
        over atomically first, so two instances never settle the same one, and X is searched back
        to the moment it was claimed (however many tweets came since).
        """
        taken = [
            delivery for delivery in self.store.abandoned(now, account=self.account)
            if self.store.take_over(delivery.id, now, lease=self.lease)
        ]
        if not taken:
            return []
        recent = self._recent_posts(since=min(_claimed(d) for d in taken) - RECONCILE_MARGIN)
        for delivery in taken:
            match = None if recent is None else self._find(delivery, recent)
            if match is not None:
                self._mark_sent(delivery, match.id, now, outcome="reconciled", dry_run=False, url=_url_of(match))
                log.info("found on X after a crash; not posting again",
                         extra={"delivery": delivery.id, "tweet_id": match.id})
            elif recent is None:
                self.store.finish_delivery(delivery.id, status=QUEUED, now=now, outcome="interrupted",
                                           detail="X could not be asked whether it has this post; will ask again",
                                           next_attempt_at=now + RETRY_BASE)
            else:
                self.store.finish_delivery(delivery.id, status=QUEUED, now=now, outcome="interrupted",
                                           detail="the worker stopped while posting; not on X, so it will be sent")
        return [d.id for d in taken]

    # -- publishing ----------------------------------------------------------------------

    def publish_due(self, now: datetime, *, limit: int = 10) -> PublishReport:
        """Post what is due and allowed, one delivery at a time, recording every attempt.

        ``now`` is when the round starts; each delivery is handled at the round's time plus
        what the earlier ones took, so leases and retry times never count from a stale moment.
        """
        report = PublishReport()
        started = time.monotonic()
        self._timeline = None

        def current() -> datetime:
            return now + timedelta(seconds=time.monotonic() - started)

        reason, paused_at = self.store.account_pause(self.account)
        if reason is not None and paused_at is not None and now < paused_at + PAUSE_RECHECK:
            report.blocked_reason = reason
            return report
        for _ in range(limit):
            moment = current()
            upcoming = self.store.next_due(moment, self.account)
            if upcoming is None:
                break
            verdict = gate(moment, self.caps,
                           self.store.usage(self.account, moment, month_start(moment, self.caps.timezone)),
                           cost=self._cost(upcoming.text))
            if not verdict.open:
                self._hold(verdict.reason, verdict.needs_operator)
                report.held_reason = verdict.reason
                break
            self._hold(None, False)
            claimed = self.store.claim_due(moment, 1, lease=self.lease, account=self.account)
            if not claimed:
                break
            self._publish_one(claimed[0], moment, report)
            if report.blocked_reason is not None:
                break
        return report

    def _publish_one(self, delivery: DeliveryRow, now: datetime, report: PublishReport) -> None:
        finish = self.store.finish_delivery
        started = time.monotonic()

        def ended() -> datetime:
            """The moment the attempt ended, on the caller's clock: retries count from here, not the round."""
            return now + timedelta(seconds=time.monotonic() - started)

        if self._last_outcome(delivery) in AMBIGUOUS:
            found = self._look_on_x(delivery, now, report)
            if found is None:
                finish(delivery.id, status=QUEUED, now=now, outcome="error",
                       detail="X could not be asked whether an earlier attempt posted this; relay will ask again "
                              "before posting", next_attempt_at=ended() + retry_delay(delivery.attempts))
                report.retried.append(delivery.id)
                return
            if found:
                return
        post = self.store.get_post(delivery.post_id)
        media = self._media_for(post) or None
        if not self.store.extend_lease(delivery.id, held_until=delivery.lease_until, until=ended() + self.lease):
            log.warning("another worker took this delivery over; not posting it here", extra={"delivery": delivery.id})
            return
        try:
            published = self.publisher.publish(delivery.text, media, outgoing=Outgoing(
                delivery.id, delivery.created_at, delivery.extra))
        except RateLimited as exc:
            wait_until = datetime.fromtimestamp(exc.reset_at, UTC) if exc.reset_at else ended() + RETRY_BASE
            wait_until = max(wait_until, ended()) + timedelta(seconds=random.uniform(1, 10))
            finish(delivery.id, status=QUEUED, now=now, outcome="rate_limited", detail=str(exc),
                   next_attempt_at=wait_until)
            report.retried.append(delivery.id)
        except TransientPublishError as exc:
            finish(delivery.id, status=QUEUED, now=now, outcome="error", detail=str(exc),
                   next_attempt_at=ended() + retry_delay(delivery.attempts))
            report.retried.append(delivery.id)
        except DuplicateContent as exc:
            if self._had_ambiguous_attempt(delivery) and self._look_on_x(delivery, now, report):
                return  # X has it because an earlier attempt did post it
            republished = self.store.deliveries_on(delivery.post_id, delivery.account,
                                                   before_variant=delivery.variant) > 0
            self._second_chance(delivery, post, now, report, why="vary", outcome="duplicate", error=exc,
                                final_status=SKIPPED, allowed=republished)
        except TweetRejected as exc:
            self._second_chance(delivery, post, now, report, why="shorter", outcome="rejected", error=exc,
                                final_status=FAILED, allowed=True)
        except PostRefused as exc:
            finish(delivery.id, status=FAILED, now=now, outcome="refused", detail=str(exc))
            report.failed.append(delivery.id)
            log.warning("X refused one post: %s", exc, extra={"delivery": delivery.id})
        except AccountBlocked as exc:
            self.store.set_account_pause(self.account, str(exc), now)
            finish(delivery.id, status=QUEUED, now=now, outcome="blocked", detail=str(exc),
                   next_attempt_at=ended() + PAUSE_RECHECK)
            report.blocked_reason = str(exc)
            log.error("publishing paused for account %s: %s", self.account, exc, extra={"delivery": delivery.id})
        except PublishError as exc:
            finish(delivery.id, status=FAILED, now=now, outcome="error", detail=str(exc))
            report.failed.append(delivery.id)
        else:
            if self.store.account_pause(self.account)[0] is not None:
                self.store.set_account_pause(self.account, None, now)
                log.info("publishing resumed", extra={"account": self.account})
            self._mark_sent(delivery, published.tweet_id, now, outcome="dry_run" if published.dry_run else "sent",
                            dry_run=published.dry_run, url=published.url)
            report.sent.append(delivery.id)
            log.info("dry-run: would post" if published.dry_run else "posted",
                     extra={"delivery": delivery.id, "tweet_id": published.tweet_id, "text": delivery.text})

    def _second_chance(
        self, delivery: DeliveryRow, post: Post, now: datetime, report: PublishReport, *, why: str, outcome: str,
        error: PublishError, final_status: str, allowed: bool,
    ) -> None:
        """Recompose once (shorter, or a varied republish) and queue again; a second refusal is final."""
        tried_before = any(a["outcome"] == outcome for a in self.store.attempts_for(delivery.id))
        tweet = None
        if allowed and not tried_before and self.recompose is not None:
            tweet = self.recompose(delivery, post, why)
        if tweet is not None and tweet.text != delivery.text:
            self.store.finish_delivery(delivery.id, status=QUEUED, now=now, outcome=outcome,
                                       detail=f"{error} Recomposed ({why}) and queued again.", next_attempt_at=now,
                                       tweet=tweet)
            report.retried.append(delivery.id)
            return
        self.store.finish_delivery(delivery.id, status=final_status, now=now, outcome=outcome, detail=str(error))
        (report.skipped if final_status == SKIPPED else report.failed).append(delivery.id)

    def _look_on_x(self, delivery: DeliveryRow, now: datetime, report: PublishReport) -> bool | None:
        """Look for this delivery on X since it was first tried; mark it sent when there.

        True: found (and marked sent); False: X answered and it is not there; None: X could not be asked.
        """
        since = delivery.created_at - RECONCILE_MARGIN
        if self._timeline is None or self._timeline[0] > since:
            listed = self._recent_posts(since=since)
            if listed is None:
                return None
            self._timeline = (since, listed)
        recent = self._timeline[1]
        match = self._find(delivery, recent)
        if match is None:
            return False
        self._mark_sent(delivery, match.id, now, outcome="reconciled", dry_run=False, url=_url_of(match))
        report.sent.append(delivery.id)
        return True

    def _find(self, delivery: DeliveryRow, recent: Sequence[PostedTweet]) -> PostedTweet | None:
        """The tweet that is this delivery, by its own link first, by its words second.

        A tweet some other delivery already carries is never taken for this one.
        """
        taken = self.store.tweet_ids_recorded([tweet.id for tweet in recent], self.account)
        candidates = [tweet for tweet in recent if tweet.id not in taken]
        return find_own_tweet(delivery.text, delivery.link, candidates)

    def _had_ambiguous_attempt(self, delivery: DeliveryRow) -> bool:
        return any(a["outcome"] in AMBIGUOUS for a in self.store.attempts_for(delivery.id))

    def _mark_sent(self, delivery: DeliveryRow, tweet_id: str, now: datetime, *, outcome: str, dry_run: bool,
                   url: str | None = None) -> None:
        self.store.finish_delivery(delivery.id, status=SENT, now=now, outcome=outcome, tweet_id=tweet_id,
                                   dry_run=dry_run, cost_usd=0.0 if dry_run else self._cost(delivery.text),
                                   remote_url=None if dry_run else url)

    def _media_for(self, post: Post) -> list[str]:
        """Upload the post's image; any failure means a post without image, never no post."""
        if not post.image_url or self.images is None or self.publisher.dry_run:
            return []
        try:
            data, mime = self.images.fetch_image(post.image_url)
            return [self.publisher.upload_image(data, mime, post.image_alt or None)]
        except (RelayError, OSError) as exc:
            log.warning("posting without the image", extra={"image": post.image_url, "error": str(exc)})
            return []

    def _recent_posts(self, since: datetime) -> Sequence[PostedTweet] | None:
        """The account's tweets back to ``since``, or None when X cannot be asked right now."""
        try:
            return self.publisher.recent_posts(since=since)
        except PublishError as exc:
            log.warning("cannot list recent tweets to reconcile", extra={"error": str(exc)})
            return None

    def _last_outcome(self, delivery: DeliveryRow) -> str | None:
        if delivery.attempts <= 1:
            return None
        attempts = self.store.attempts_for(delivery.id)
        return str(attempts[-1]["outcome"]) if attempts else None

    def _cost(self, text: str) -> float:
        return 0.0 if self.publisher.dry_run else post_cost(text, self.caps)

    def _hold(self, reason: str | None, needs_operator: bool) -> None:
        if reason != self.held_reason and reason is not None:
            (log.error if needs_operator else log.info)("posts held back: %s", reason)
        self.held_reason, self.needs_operator = reason, needs_operator


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff from 30 s, doubling per attempt, capped at one hour."""
    exponent = min(max(0, attempts - 1), 16)
    delay: timedelta = RETRY_BASE * (2**exponent)
    return min(delay, RETRY_CEILING)


def _url_of(tweet: PostedTweet) -> str | None:
    """Where the network shows a post found in the account's timeline (Mastodon and Bluesky say; X does not)."""
    url = getattr(tweet, "url", None)
    return str(url) if url else None


def _claimed(delivery: DeliveryRow) -> datetime:
    return delivery.claimed_at or delivery.created_at


def _comparable_link(url: str) -> str:
    """X keeps the address as posted, but may percent-encode, lower-case the host or add a slash."""
    parts = urlsplit(html.unescape(url.strip()))
    path = unquote(parts.path).rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, unquote(parts.query), ""))


def _words(text: str) -> str:
    """The words of a text without its links: X rewrites every link (``t.co``, ``http://README.md``),
    appends media links and answers ``&amp;`` for ``&``; what is left must be equal."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    for span in sorted(find_urls(text), key=lambda found: found.start, reverse=True):
        text = text[:span.start] + " " + text[span.end:]
    return " ".join(text.split())


def find_own_tweet(text: str, link: str, recent: Sequence[PostedTweet]) -> PostedTweet | None:
    """The tweet of ``recent`` that is the post ``text`` carrying ``link``, if X has it.

    The link is what identifies a delivery (its own tracked code or UTM tags). The words, links
    left out, are the second check, and only for a tweet whose links X did not expand (no link
    listed, or only ``t.co`` ones): a tweet that links elsewhere is another post, however alike
    its words (two blogs' "Recette n°3"). Callers pass only tweets since the delivery was claimed
    that no other delivery holds.
    """
    wanted_link = _comparable_link(link) if link else ""
    for tweet in recent:
        if wanted_link and wanted_link in (_comparable_link(url) for url in tweet.links):
            return tweet
    wanted_words = _words(text)
    return next((tweet for tweet in recent if _links_unknown(tweet) and _words(tweet.text) == wanted_words), None)


def _links_unknown(tweet: PostedTweet) -> bool:
    """X listed no address for the tweet's links (none at all, or only its own ``t.co`` ones)."""
    return all(urlsplit(url).hostname in (None, "", "t.co") for url in tweet.links)
