"""Record keys for Bluesky posts, derived from the delivery so that a retry names the same record.

An AT Protocol repository holds at most one record per (collection, record key). When relay
chooses the key itself, a retry of a delivery whose first attempt did land (timeout, crash after
the request left) names the same record: the PDS does not make a second post, and relay can look
the first one up with ``com.atproto.repo.getRecord``.

``app.bsky.feed.post`` declares ``"key": "tid"`` in its lexicon. The reference PDS checks only the
generic record-key syntax, but the AppView ignores posts whose key is not a TID (a post stored with
rkey ``cgp-post-1752671295481`` never showed in its author's feed: bluesky-social/social-app#8654),
so relay's keys are always TIDs.

A TID (atproto.com/specs/tid) is a 64-bit integer, top bit 0, 53 bits of microseconds since the
Unix epoch and 10 bits of "clock identifier", written as 13 characters of base32-sortable
(``234567abcdefghijklmnopqrstuvwxyz``). Pure code: no clock, no randomness.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

BASE32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
"""The spec's syntax: 13 characters, the first at most ``j`` (the top bit is always 0)."""
TID_LENGTH = 13
MAX_TID_VALUE = (1 << 63) - 1
CLOCK_ID_BITS = 10


def tid_from_int(value: int) -> str:
    """``value`` (0 to 2**63 - 1) written as a TID: the same integer always gives the same key."""
    if not 0 <= value <= MAX_TID_VALUE:
        raise ValueError(f"a TID holds 0 to 2**63 - 1, not {value}")
    chars = []
    for _ in range(TID_LENGTH):
        chars.append(BASE32_SORTABLE[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_to_int(tid: str) -> int:
    """The integer a TID stands for; ``ValueError`` when ``tid`` is not TID syntax."""
    if not TID_PATTERN.match(tid):
        raise ValueError(f"{tid!r} is not a TID")
    value = 0
    for char in tid:
        value = (value << 5) | BASE32_SORTABLE.index(char)
    return value


def is_tid(text: str) -> bool:
    return bool(TID_PATTERN.match(text))


def record_key_for_delivery(delivery_id: int, queued_at: datetime) -> str:
    """The record key of delivery ``delivery_id`` queued at ``queued_at`` (both stored, so stable).

    The timestamp part is when the delivery was queued plus ``delivery_id // 1024`` microseconds, the
    clock identifier the delivery id modulo 1024: so keys sort like posts, look like the keys
    Bluesky's own clients make, and every delivery of one poll round (all queued at the round's one
    moment) gets its own. With the id modulo 1024 alone, two deliveries of a round 1024 ids apart
    shared a key, and the second was taken for the first (found under its key) and never posted.
    """
    if delivery_id < 0:
        raise ValueError(f"a delivery id is 0 or more, not {delivery_id}")
    moment = queued_at if queued_at.tzinfo else queued_at.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if micros < 0:
        raise ValueError(f"a delivery queued before 1970 ({queued_at.isoformat()}) has no TID")
    micros += delivery_id >> CLOCK_ID_BITS
    return tid_from_int((micros << CLOCK_ID_BITS) | (delivery_id % (1 << CLOCK_ID_BITS)))
