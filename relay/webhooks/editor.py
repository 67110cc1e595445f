"""What the WordPress editor asks relay: the tweet a post would make, and what became of a post.

The plugin asks through the WordPress server, signed with the webhook secret (the
browser never holds relay's secret). Both answers are made with the code the webhook
itself runs (:func:`relay.webhooks.wordpress.options_for_event`, the composer), so the
preview is the tweet relay would post, counted as X counts it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from relay.core.compose import compose_message, compose_tweet
from relay.core.identity import dedup_key, normalise_url
from relay.core.length import MAX_WEIGHTED_LENGTH
from relay.core.models import Post
from relay.core.networks import NETWORK_NAMES
from relay.metrics.reports import build_report
from relay.pipeline.service import RelayService
from relay.store.rows import DeliveryRow
from relay.webhooks.wordpress_payload import NOT_SHARED, WordPressEvent, decide

TWEET_ON_X = "https://x.com/i/web/status/{id}"


def preview(service: RelayService, event: WordPressEvent, *, now: datetime) -> dict[str, Any]:
    """The tweet ``event``'s post would make now, its count, and whether anything was cut."""
    options = service.options_for(None)
    if event.message:
        composed = compose_message(event.post, event.message, options, today=now.date())
        tweet, cut, uncut = composed.tweet, composed.cut, composed.uncut_length
    else:
        tweet = compose_tweet(event.post, options, today=now.date())
        cut, uncut = False, tweet.weighted_length
    body: dict[str, Any] = {
        "text": tweet.text,
        "weighted_length": tweet.weighted_length,
        "max_length": MAX_WEIGHTED_LENGTH,
        "cut": cut,
        "uncut_length": uncut,
        "custom_message": bool(event.message),
        "share": event.share,
    }
    action = decide(replace(event, event="publish", status="publish", share=True))
    if not event.share:
        body["not_posted_because"] = NOT_SHARED
    elif action.kind == "ignore" and event.password_protected:
        body["not_posted_because"] = action.reason
    return body


def post_status(service: RelayService, post: Post) -> dict[str, Any]:
    """What relay did with a WordPress post: its latest tweet, the link to it on X, the human clicks."""
    found = service.store.find_post(dedup_key(post), normalise_url(post.url))
    if found is None:
        return {"known": False, "status": "unknown", "human_clicks": 0, "tweets": 0}
    reports = build_report(service.store.engine, post_id=found[0])
    tweets = reports[0].tweets if reports else ()
    texts = service.store.texts_of(found[0])
    body: dict[str, Any] = {"known": True, "status": "not_shared", "human_clicks": 0, "tweets": len(tweets)}
    if not tweets:
        return body
    latest = tweets[-1]
    body.update(status=latest.status, human_clicks=sum(t.human_clicks for t in tweets), dry_run=latest.dry_run,
                text=texts[-1] if texts else None)
    delivered = service.store.deliveries_of(found[0])
    on_x = [d for d in delivered if d.network == "x" and d.tweet_id and not d.dry_run]
    if on_x:
        body["tweet_id"] = on_x[-1].tweet_id
        body["tweet_url"] = TWEET_ON_X.format(id=on_x[-1].tweet_id)
    body["links"] = _links_per_network(delivered)
    if latest.sent_at is not None:
        body["sent_at"] = latest.sent_at.isoformat()
    if latest.last_error and latest.status in ("failed", "skipped"):
        body["reason"] = latest.last_error
    return body


def _links_per_network(delivered: list[DeliveryRow]) -> list[dict[str, str]]:
    """The newest post on each network, with its address: ``[{"network": "Mastodon", "url": ...}, ...]``.

    The network is named as people know it (a proper noun, the same in French and English).
    """
    newest: dict[str, str] = {}
    for delivery in delivered:
        if delivery.status == "sent" and not delivery.dry_run and delivery.tweet_id:
            url = delivery.remote_url or (TWEET_ON_X.format(id=delivery.tweet_id) if delivery.network == "x" else None)
            if url:
                newest[delivery.network] = url
    return [{"network": NETWORK_NAMES.get(network, network), "url": url} for network, url in newest.items()]
