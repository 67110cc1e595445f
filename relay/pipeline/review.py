"""Review mode: the owner approves, edits or skips each new tweet before it goes out.

A waiting delivery (``review``) is never claimed by the outbox. Approving it queues it with
the owner's text, checked here exactly as relay checks its own (twitter-text weights, every
link 23); from then on it is an ordinary delivery, under the same caps, quiet hours, budget
and exactly-once rules. Skipping it means it is never posted.

The text must keep the delivery's own link: that link is how relay recognises the post on X
after a crash (never posting it twice) and how clicks are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from relay.core.length import MAX_WEIGHTED_LENGTH, has_invalid_characters, weighted_length
from relay.core.networks import Measure
from relay.store.review import ReviewRow
from relay.store.store import Store

MAX_EDIT_CHARS = 2000
"""The most characters an edited text may hold before it is even weighed (a tweet holds at most 280)."""

EMPTY, TOO_LONG, INVALID, LINK_MISSING, GONE = "empty", "too_long", "invalid_characters", "link_missing", "gone"
"""Why an edited text is refused (the dashboard words each one in the owner's language)."""


@dataclass(frozen=True)
class TextCheck:
    """An edited text, weighed as X weighs it, and what is wrong with it (None: it may be posted)."""

    text: str
    length: int
    problem: str | None
    limit: int = MAX_WEIGHTED_LENGTH


def clean_text(text: str) -> str:
    """The text as it would be posted: one kind of line break, no space around it."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


X_MEASURE = Measure(weighted_length, MAX_WEIGHTED_LENGTH)


def check_text(text: str, link: str = "", measure: Measure = X_MEASURE) -> TextCheck:
    """Weigh ``text`` like relay weighs its own posts on that network (X by default), and say whether it
    would take it."""
    text = clean_text(text)
    if len(text) > MAX_EDIT_CHARS:
        return TextCheck(text[:MAX_EDIT_CHARS], MAX_EDIT_CHARS * 2, TOO_LONG, measure.limit)
    length = measure.count(text)
    problem = None
    if not text:
        problem = EMPTY
    elif length > measure.limit:
        problem = TOO_LONG
    elif has_invalid_characters(text):
        problem = INVALID
    elif link and link not in text and measure.shown_link(link) not in text:
        problem = LINK_MISSING
    return TextCheck(text, length, problem, measure.limit)


def approve(store: Store, delivery_id: int, text: str | None, now: datetime,
            measure_of: Callable[[ReviewRow], Measure] = lambda _row: X_MEASURE) -> TextCheck:
    """Queue a waiting post, with ``text`` when the owner edited it (None: as composed).

    ``measure_of`` gives the count and limit of the delivery's network (its account's).
    Returns the check of the text; ``problem`` is ``gone`` when the post no longer waits
    (approved or skipped already, in another tab or by another instance).
    """
    waiting = store.review_row(delivery_id)
    if waiting is None:
        return TextCheck(text or "", 0, GONE)
    checked = check_text(waiting.text if text is None else text, waiting.link, measure_of(waiting))
    if checked.problem is not None:
        return checked
    edited = checked.text != waiting.text
    if not store.approve_review(delivery_id, text=checked.text, weighted_length=checked.length, now=now,
                                edited=edited):
        return TextCheck(checked.text, checked.length, GONE)
    return checked


def skip(store: Store, delivery_id: int, now: datetime) -> bool:
    """Never post a waiting tweet; False when it no longer waits."""
    return store.skip_review(delivery_id, now)
