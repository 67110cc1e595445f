"""The use cases: take posts in, decide what to post, post what is due.

Written against the store and the ports only (no adapter, no settings), so every door
(feed, webhook, republish) shares the same rules and tests can drive it with fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from relay.core.compose import ComposeOptions, tagged_link
from relay.core.flood import FloodRules, Triage, triage
from relay.core.identity import dedup_key, normalise_url
from relay.core.models import FeedDocument, Post, Tweet
from relay.core.networks import NETWORK_NAMES, Measure, Target, compose_for_x, composer_for, measure_for
from relay.core.policy import Caps
from relay.core.ports import ImageSource, Publisher
from relay.core.protected import is_protected
from relay.errors import RelayError
from relay.pipeline.outbox import LEASE, Outbox, PublishReport
from relay.store.outbox import DEFAULT_ACCOUNT
from relay.store.posts import refresh_post
from relay.store.review import ReviewRow
from relay.store.rows import DeliveryRow, FeedRow, Message, NewPost, TrackedLink
from relay.store.store import Store

log = logging.getLogger("relay.service")

X_ONLY = (Target(DEFAULT_ACCOUNT, "x", compose_for_x),)
"""Where posts go when nothing else is configured: the [x] account."""

SHORT_TEMPLATE = "{title} {link}"
"""What a tweet falls back to when X says the composed one is too long."""


@dataclass(frozen=True)
class IngestResult:
    """What one look at a feed changed."""

    new: int
    queued: int
    held: int = 0
    baseline: bool = False


@dataclass(frozen=True)
class RepublishResult:
    post_id: int
    delivery_id: int
    """The first account's delivery (the feed's first target)."""
    text: str
    delivery_ids: tuple[int, ...] = ()
    """One delivery per account the post goes out on."""


@dataclass(frozen=True)
class PostDecision:
    """What a pushed post led to: ``queued``, ``already_known``, ``duplicate``, ``withdrawn``, ``unknown``,
    ``protected`` (a password-protected post, never posted)."""

    outcome: str
    post_id: int | None = None
    delivery_ids: list[int] = field(default_factory=list)


class RelayService:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        caps: Caps | None = None,
        images: ImageSource | None = None,
        options_for: Callable[[int | None], ComposeOptions] = lambda _feed_id: ComposeOptions(),
        accounts: Mapping[str, tuple[Publisher, Caps]] | None = None,
        targets_for: Callable[[int | None], Sequence[Target]] = lambda _feed_id: X_ONLY,
        targets: Mapping[str, Target] | None = None,
        lease: timedelta = LEASE,
        tracked_base_url: str | None = None,
    ) -> None:
        self.store = store
        self.tracked_base_url = tracked_base_url
        """``server.public_url`` in tracked mode: tweets then carry ``{public_url}/r/CODE``."""
        self.publisher = publisher
        self.options_for = options_for
        """Compose options of a feed (``None``: posts that came by webhook or republish)."""
        self.targets_for = targets_for
        self.targets = dict(targets or {t.account: t for t in X_ONLY})
        """Every account's target, by name (the network and composer of a delivery's account)."""
        """The accounts a feed's posts go out on, each with its network's composer
        (``None``: webhook and republish by address)."""
        self.outbox = Outbox(store, publisher, caps=caps or Caps(), recompose=self.recompose, images=images,
                             lease=lease)
        self.outboxes = {DEFAULT_ACCOUNT: self.outbox}
        for name, (account_publisher, account_caps) in (accounts or {}).items():
            self.outboxes[name] = Outbox(store, account_publisher, caps=account_caps, recompose=self.recompose,
                                         images=images, account=name, lease=lease)

    # -- taking posts in -------------------------------------------------------------

    def triage_feed(self, feed: FeedRow, document: FeedDocument, *, backfill: int, rules: FloodRules,
                    now: datetime) -> Triage:
        """Which of the feed's entries are new, and which of those to post, when (see core.flood)."""
        # A password-protected post is not even remembered: once its password is lifted, it is new.
        fresh = self._unseen([p for p in document.posts if p.url and not is_protected(p)])
        return triage(fresh, first_sight=feed.baseline_at is None, backfill=backfill, now=now, rules=rules)

    def record_feed_entries(
        self,
        feed: FeedRow,
        result: Triage,
        *,
        options: ComposeOptions,
        now: datetime,
        shown: Sequence[Post] | None = None,
    ) -> IngestResult:
        """Record a triaged look at a feed; queue a tweet for each entry to post.

        ``shown`` are the posts to tweet as enriched from their pages (canonical link,
        og:image), in the order of ``result.post``; the dedup key stays the feed's own, so
        the next look at the feed recognises them.
        """
        first_sight = feed.baseline_at is None
        enriched = list(shown) if shown is not None else [post for post, _ in result.post]
        items = [
            self._new_post(original, source="feed", options=options, now=now, post_it=True, shown=display,
                           not_before=when, feed_id=feed.id)
            for (original, when), display in zip(result.post, enriched, strict=True)
        ]
        items += [self._new_post(p, source="feed", options=options, now=now, post_it=False) for p in result.remember]
        items += [self._new_post(p, source="feed", options=options, now=now, post_it=False, held=True)
                  for p in result.held]
        queued = self.store.record_posts(feed.id, items, now)
        changes: dict[str, object] = {}
        if first_sight:
            changes["baseline_at"] = now
        elif result.post or result.held:
            changes["last_new_entry_at"] = now
        if result.held:
            changes.update(status="held", last_error=result.reason)
            log.warning("feed held: %s", result.reason, extra={"feed": feed.url, "held": len(result.held)})
        if changes:
            self.store.update_feed(feed.id, **changes)
        new = len(result.post) + len(result.remember) + len(result.held)
        log.info("feed ingested", extra={"feed": feed.url, "new": new, "queued": len(queued),
                                         "baseline": first_sight})
        return IngestResult(new=new, queued=len(queued), held=len(result.held), baseline=first_sight)

    def ingest_feed(self, feed: FeedRow, document: FeedDocument, *, options: ComposeOptions, backfill: int,
                    now: datetime, rules: FloodRules | None = None) -> IngestResult:
        """Triage and record in one step, without reading the posts' pages."""
        result = self.triage_feed(feed, document, backfill=backfill, rules=rules or FloodRules(), now=now)
        return self.record_feed_entries(feed, result, options=options, now=now)

    def release_held(self, feed_id: int, now: datetime, *, discard: bool = False) -> int:
        """The operator's answer to a held feed: post the held entries, or forget them."""
        held = self.store.held_posts(feed_id)
        options = self.options_for(feed_id)
        if discard:
            self.store.forget_held(feed_id)
        else:
            for post_id, post in held:
                self._queue_variant(post_id, post, options, now)
        self.store.update_feed(feed_id, status="active", last_error=None)
        return len(held)

    def _unseen(self, candidates: Sequence[Post]) -> list[Post]:
        keys = [dedup_key(p) for p in candidates]
        urls = [normalise_url(p.url) for p in candidates]
        known_keys, known_urls = self.store.known_posts(keys, urls)
        fresh: list[Post] = []
        batch_keys: set[str] = set()
        for post, key, url in zip(candidates, keys, urls, strict=True):
            if key in known_keys or url in known_urls or key in batch_keys:
                continue
            batch_keys.add(key)
            fresh.append(post)
        return fresh

    def _new_post(
        self, post: Post, *, source: str, options: ComposeOptions, now: datetime, post_it: bool,
        shown: Post | None = None, not_before: datetime | None = None, held: bool = False,
        feed_id: int | None = None,
    ) -> NewPost:
        """``post`` gives the identity; ``shown`` (its page-enriched version) gives the tweet."""
        display = shown or post
        messages = self._messages(display, options, now, self.targets_for(feed_id)) if post_it else ()
        return NewPost(post=display, dedup_key=dedup_key(post), normalized_url=normalise_url(post.url),
                       source=source, messages=messages, not_before=not_before, held=held)

    def _messages(self, post: Post, options: ComposeOptions, now: datetime,
                  targets: Sequence[Target]) -> tuple[Message, ...]:
        """One message per account, each composed by its network's rules (and its own ``utm_source``)."""
        today = now.date()
        messages = []
        for target in targets:
            try:
                shaped = target.options(options, post, today)
                tweet = target.compose(post, shaped, today)
            except ValueError as exc:
                # One network that cannot carry the post (a link too long for it) loses it there only.
                log.warning("no %s post can be made of this entry", NETWORK_NAMES[target.network],
                            extra={"url": post.url, "account": target.account, "error": str(exc)[:300]})
                reason = f"{NETWORK_NAMES[target.network]} cannot carry this post: {str(exc)[:300]}"
                messages.append(Message(account=target.account, network=target.network,
                                        tweet=Tweet("", post.url[:2048], 0), failure=reason))
                continue
            messages.append(Message(account=target.account, network=target.network, tweet=tweet,
                                    tracking=self._tracking(post, shaped, now, target)))
        return tuple(messages)

    def _tracking(self, post: Post, options: ComposeOptions, now: datetime, target: Target) -> TrackedLink | None:
        """In tracked mode, how to give the message its own ``/r/CODE`` link once the store made the code."""
        if not self.tracked_base_url:
            return None
        today = now.date()
        return TrackedLink(
            base_url=self.tracked_base_url,
            target_url=tagged_link(post, options, today=today),
            compose=lambda url: target.compose(post, replace(options, link_override=url), today),
        )

    def _queue_variant(self, post_id: int, post: Post, options: ComposeOptions,
                       now: datetime) -> tuple[int, str, list[int]]:
        """Queue one more message of a known post per account it goes out on.

        Returns the first delivery's id and text (as it will be posted), and every delivery's id.
        """
        targets = self.targets_for(self.store.feed_id_of(post_id))
        ids = self.store.add_messages(post_id, self._messages(post, options, now, targets), now)
        return ids[0], self.store.text_of(ids[0]), ids

    def target_of(self, delivery: DeliveryRow) -> Target:
        """The account and composer of a delivery (an account no longer configured: its network's rules)."""
        return self.targets.get(delivery.account) or Target(delivery.account, delivery.network,
                                                            composer_for(delivery.network))

    def measure_of(self, row: ReviewRow) -> Measure:
        """How a waiting post's network counts its text, and its limit (review mode)."""
        target = self.targets.get(row.account)
        return measure_for(row.network, target.compose if target is not None else None)

    def ingest_post(
        self,
        post: Post,
        *,
        source: str,
        options: ComposeOptions,
        now: datetime,
        on_update: str = "ignore",
    ) -> PostDecision:
        """One post from a door that pushes (webhook, republish by URL): queue it unless known.

        Editing a post that relay already knows posts nothing again, unless
        ``on_update="repost_if_title_changed"`` and the title really changed.
        """
        if is_protected(post):
            log.info("password-protected post not posted", extra={"url": post.url})
            return PostDecision("protected")
        key, url = dedup_key(post), normalise_url(post.url)
        existing = self.store.find_post(key, url)
        if existing is None:
            queued = self.store.record_posts(None, [self._new_post(post, source=source, options=options, now=now,
                                                                   post_it=True)], now)
            return PostDecision("queued" if queued else "duplicate", delivery_ids=queued)
        post_id, known = existing
        if post != known:
            # The door that pushed the post speaks for it now (an edited title, a new image):
            # "Relay again" and later variants are made from the post as it is, not as it was.
            refresh_post(self.store.engine, post_id, post)
        if on_update == "repost_if_title_changed" and post.title.strip() != known.title.strip():
            _, _, ids = self._queue_variant(post_id, post, options, now)
            return PostDecision("queued", post_id=post_id, delivery_ids=ids)
        return PostDecision("already_known", post_id=post_id)

    def remember_post(self, post: Post, *, source: str, now: datetime) -> PostDecision:
        """A post its author does not want on X: recorded (so the feed does not post it), never posted.

        Known already (published, unpublished, published again), whatever of it is still
        queued is withdrawn.
        """
        key, url = dedup_key(post), normalise_url(post.url)
        existing = self.store.find_post(key, url)
        if existing is not None:
            skipped = self.store.skip_queued(existing[0], now, reason="the author chose not to share this post")
            return PostDecision("not_shared", post_id=existing[0], delivery_ids=skipped)
        item = NewPost(post=post, dedup_key=key, normalized_url=url, source=source)
        self.store.record_posts(None, [item], now)
        log.info("post not shared, at its author's choice", extra={"url": post.url})
        return PostDecision("not_shared")

    def withdraw_post(self, post: Post, *, now: datetime) -> PostDecision:
        """The post was trashed or unpublished: skip whatever of it is still queued."""
        existing = self.store.find_post(dedup_key(post), normalise_url(post.url))
        if existing is None:
            return PostDecision("unknown")
        skipped = self.store.skip_queued(existing[0], now, reason="the post was withdrawn before it was posted")
        return PostDecision("withdrawn", post_id=existing[0], delivery_ids=skipped)

    # -- republishing ------------------------------------------------------------------

    def republish(self, post_id: int, now: datetime, *, templates: Sequence[str] = ()) -> RepublishResult:
        """Queue the post again with a text unlike every earlier tweet of it.

        X refuses duplicate text, so each republish takes the next alternate template and a
        ``utm_content`` of its own (which also tells the variants apart in the reports). It goes out
        on every account the post's feed posts to.
        """
        post = self.store.get_post(post_id)
        earlier = self.store.texts_of(post_id)
        feed_id = self.store.feed_id_of(post_id)
        options = self.options_for(feed_id)
        targets = self.targets_for(feed_id)
        alternates = list(templates) or [options.template]
        variant = self.store.deliveries_on(post_id, targets[0].account)
        for attempt in range(len(alternates) + 3):
            template = alternates[(variant - 1 + attempt) % len(alternates)]
            varied = replace(options, template=template, utm_content=f"republish-{variant + attempt}")
            texts = [text for target in targets if (text := _text_or_none(target, post, varied, now))]
            if not any(text in earlier for text in texts):
                delivery_id, text, ids = self._queue_variant(post_id, post, varied, now)
                log.info("republish queued", extra={"post": post_id, "delivery": delivery_id})
                return RepublishResult(post_id, delivery_id, text, tuple(ids))
        raise RelayError("could not compose a text different from the earlier tweets; add a republish template")

    def republish_page(self, post: Post, now: datetime, *, templates: Sequence[str] = ()) -> RepublishResult:
        """Republish by address: a post relay knows gets a new variant; an unknown one is posted."""
        existing = self.store.find_post(dedup_key(post), normalise_url(post.url))
        if existing is not None:
            return self.republish(existing[0], now, templates=templates)
        options = self.options_for(None)
        item = self._new_post(post, source="manual", options=options, now=now, post_it=True)
        queued = self.store.record_posts(None, [item], now)
        found = self.store.find_post(item.dedup_key, item.normalized_url)
        if not queued or found is None:
            raise RelayError("another request recorded this post at the same moment; try again")
        return RepublishResult(found[0], queued[0], self.store.text_of(queued[0]), tuple(queued))

    def evergreen(self, now: datetime, *, after: timedelta, min_gap: timedelta,
                  templates_for: Callable[[int], Sequence[str]]) -> list[RepublishResult]:
        """Re-share one older post of each blog that has been quiet for ``after`` (opt-in).

        The post chosen is the one that drew the most human clicks, never one shared within
        ``min_gap``; the re-share goes through the outbox, so caps and budget apply.
        """
        shared = []
        for feed in self.store.list_feeds():
            if feed.status != "active" or feed.baseline_at is None:
                continue
            last = self.store.last_activity(feed.id)
            if last is not None and last > now - after:
                continue
            candidate = self.store.evergreen_candidate(feed.id, now - min_gap)
            if candidate is not None:
                shared.append(self.republish(candidate, now, templates=templates_for(candidate)))
                log.info("evergreen: re-shared an older post of a quiet blog",
                         extra={"feed": feed.url, "post": candidate})
        return shared

    # -- posting -----------------------------------------------------------------------

    @property
    def blocked_reason(self) -> str | None:
        """Why X refused an account (credentials, credits), when its publishing is paused."""
        reasons = [
            reason if name == DEFAULT_ACCOUNT else f"account {name}: {reason}"
            for name, outbox in self.outboxes.items()
            if (reason := outbox.blocked_reason) is not None
        ]
        return "; ".join(reasons) or None

    @property
    def held_reason(self) -> str | None:
        """Why due posts wait (cap, spacing, quiet hours, budget), account by account."""
        reasons = [
            reason if name == DEFAULT_ACCOUNT else f"account {name}: {reason}"
            for name, outbox in self.outboxes.items()
            if (reason := outbox.held_reason) is not None
        ]
        return "; ".join(reasons) or None

    def publish_due(self, now: datetime, *, limit: int = 10) -> PublishReport:
        """Drain every account's outbox; each account has its own caps, budget and pause."""
        total = PublishReport()
        for outbox in self.outboxes.values():
            report = outbox.publish_due(now, limit=limit)
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            total.skipped += report.skipped
            total.blocked_reason = total.blocked_reason or report.blocked_reason
            total.held_reason = total.held_reason or report.held_reason
        return total

    def recover(self, now: datetime) -> list[int]:
        """Settle what crashed workers left in ``sending``, account by account."""
        return [i for outbox in self.outboxes.values() for i in outbox.recover(now)]

    def recompose(self, delivery: DeliveryRow, post: Post, why: str) -> Tweet | None:
        """A second text for a delivery the network refused: shorter (too long) or varied (duplicate)."""
        target = self.target_of(delivery)
        options = target.options(self.options_for(self.store.feed_id_of(delivery.post_id)))
        if self.tracked_base_url and delivery.link.startswith(f"{self.tracked_base_url}/r/"):
            options = replace(options, link_override=delivery.link)  # keep this tweet's tracked link
        if why == "shorter":
            options = replace(options, template=SHORT_TEMPLATE, hashtags=False)
        else:
            options = replace(options, utm_content=f"v{delivery.variant}b")
        return target.compose(post, options, delivery.created_at.date())


def _text_or_none(target: Target, post: Post, options: ComposeOptions, now: datetime) -> str | None:
    """The text ``target`` would post, or None when its network cannot carry the post at all."""
    try:
        return target.compose(post, target.options(options), now.date()).text
    except ValueError:
        return None
