"""The WordPress door's last step: a verified, parsed webhook event applied through the service.

:mod:`relay.webhooks.signatures` says whether a request is genuine,
:mod:`relay.webhooks.wordpress_payload` what it says and what the rules make of it; this
module carries the decision out with the same service every other door uses, so a post
pushed by WordPress and the same post read from the feed are one post and one tweet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from relay.config.settings import WordPressSettings
from relay.core.compose import ComposeOptions, fit_message, tagged_link
from relay.core.identity import dedup_key, normalise_url
from relay.core.models import Post
from relay.pipeline.service import RelayService
from relay.webhooks.wordpress_payload import WordPressEvent, decide

SOURCE = "wordpress"
"""``posts.source`` of the posts this door records."""


@dataclass(frozen=True)
class WebhookResult:
    """What one webhook led to, as the 202 body says it."""

    outcome: str
    """``queued``, ``already_known``, ``duplicate``, ``withdrawn``, ``unknown``, ``not_shared`` or ``ignored``."""
    reason: str = ""
    delivery_ids: list[int] = field(default_factory=list)

    def as_json(self, event: WordPressEvent) -> dict[str, Any]:
        body: dict[str, Any] = {
            "outcome": self.outcome,
            "event": event.event,
            "post": {"id": event.post.wordpress_id, "url": event.post.url, "status": event.status},
        }
        if self.reason:
            body["reason"] = self.reason
        if self.delivery_ids:
            body["delivery_ids"] = self.delivery_ids
        return body


def configured_secrets(settings: WordPressSettings) -> list[str]:
    """The secrets a signature may match: the current one, then the one being rotated out."""
    values = [settings.secret.get_secret_value(), settings.previous_secret.get_secret_value()]
    return [value for value in values if value]


def apply_wordpress_event(
    service: RelayService,
    event: WordPressEvent,
    *,
    on_update: str,
    now: datetime,
) -> WebhookResult:
    """Carry out :func:`decide` for one event (blocking: it runs on the database).

    Tweets are composed with the service's options for posts that came without a feed
    (the ``[wordpress]`` template and hashtags, as wired by :mod:`relay.wiring`).
    """
    action = decide(event)
    post = event.post
    if action.kind == "ignore":
        return WebhookResult("ignored", action.reason)
    if action.kind == "withdraw":
        withdrawn = service.withdraw_post(post, now=now)
        return WebhookResult(withdrawn.outcome, action.reason, delivery_ids=withdrawn.delivery_ids)
    if action.kind == "remember":
        remembered = service.remember_post(post, source=SOURCE, now=now)
        return WebhookResult(remembered.outcome, action.reason, delivery_ids=remembered.delivery_ids)
    if action.kind == "ingest_if_known" and not _is_known(service, post):
        return WebhookResult(
            "ignored",
            "an edit of a post relay never saw published (published before relay was set up?): not posted",
        )
    decision = service.ingest_post(post, source=SOURCE, options=options_for_event(service, event, now=now), now=now,
                                   on_update=on_update)
    return WebhookResult(decision.outcome, delivery_ids=decision.delivery_ids)


def options_for_event(service: RelayService, event: WordPressEvent, *, now: datetime) -> ComposeOptions:
    """The ``[wordpress]`` compose options, with the author's message as the template when there is one."""
    options = service.options_for(None)
    if not event.message:
        return options
    link = tagged_link(event.post, options, today=now.date())
    return replace(options, template=fit_message(event.message, link)[0], message=event.message)


def _is_known(service: RelayService, post: Post) -> bool:
    return service.store.find_post(dedup_key(post), normalise_url(post.url)) is not None
