"""Tracked short links: ``{public_url}/r/CODE`` answers 302 to the UTM-tagged post URL.

Codes are 8 characters of base62 from :mod:`secrets` (62**8, about 2e14 codes), so nobody
can walk the code space to find unpublished posts, and the unique index on ``code`` is
what guarantees a code is never handed out twice. A link never changes once written,
which is why :class:`LinkCache` may keep it in memory forever: after the first click on
a tweet, the redirect answers without touching the database.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import string
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, select
from sqlalchemy.dialects import postgresql, sqlite

from relay.store.schema import links

CODE_ALPHABET = string.digits + string.ascii_letters
CODE_LENGTH = 8
CODE_PATTERN = re.compile(r"^[0-9A-Za-z]{4,16}$")
"""What a code can look like; anything else is refused before any lookup."""
MAX_ATTEMPTS = 8


def new_code(length: int = CODE_LENGTH) -> str:
    """A random base62 code from the operating system's CSPRNG (never ``random``)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def tracked_url(public_url: str, code: str) -> str:
    """The address a tweet carries in tracked mode: ``{server.public_url}/r/CODE``."""
    return f"{public_url.rstrip('/')}/r/{code}"


def create_tracked_link(
    conn: Connection, *, post_id: int, delivery_variant: int, target_url: str, now: datetime
) -> str:
    """The code of the tracked link for one tweet of a post, created if needed.

    Runs inside the caller's transaction, so the link exists exactly when the delivery
    that carries it does. A tweet has one link: calling again for the same post and
    variant returns the same code. A collision on a fresh code (vanishingly rare) is
    resolved by ``ON CONFLICT DO NOTHING`` and a new draw, never by an exception that
    would abort the caller's PostgreSQL transaction.
    """
    existing = conn.execute(
        select(links.c.code).where(
            and_(links.c.post_id == post_id, links.c.delivery_variant == delivery_variant)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return str(existing)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for _ in range(MAX_ATTEMPTS):
        code = new_code()
        inserted = conn.execute(
            dialect.insert(links)
            .values(
                code=code,
                post_id=post_id,
                delivery_variant=delivery_variant,
                target_url=target_url,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(links.c.id)
        ).scalar_one_or_none()
        if inserted is not None:
            return code
        raced = conn.execute(
            select(links.c.code).where(
                and_(links.c.post_id == post_id, links.c.delivery_variant == delivery_variant)
            )
        ).scalar_one_or_none()
        if raced is not None:  # another transaction created this tweet's link meanwhile
            return str(raced)
    raise RuntimeError(f"could not draw an unused link code in {MAX_ATTEMPTS} attempts")


@dataclass(frozen=True)
class LinkTarget:
    """Where a code leads and which tweet it belongs to."""

    link_id: int
    code: str
    post_id: int
    delivery_variant: int
    target_url: str


def find_link(engine: Engine, code: str) -> LinkTarget | None:
    """The link for ``code``, read from the database."""
    with engine.connect() as conn:
        row = conn.execute(select(links).where(links.c.code == code)).first()
    if row is None:
        return None
    return LinkTarget(row.id, row.code, row.post_id, row.delivery_variant, row.target_url)


def links_for_posts(engine: Engine, post_ids: list[int]) -> dict[tuple[int, int], str]:
    """``{(post_id, variant): code}`` for the reports and the dashboard."""
    if not post_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(links.c.post_id, links.c.delivery_variant, links.c.code).where(
                links.c.post_id.in_(post_ids)
            )
        )
        return {(r.post_id, r.delivery_variant): r.code for r in rows}


class LinkCache:
    """Codes to targets, in memory; the redirect's only lookup on its hot path.

    Known links stay until ``max_known`` is reached (then the least recently used goes).
    Unknown codes are remembered for ``unknown_ttl`` seconds in a smaller LRU, so a
    scanner hammering random codes costs one query per code per minute, not per request.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_known: int = 200_000,
        max_unknown: int = 10_000,
        unknown_ttl: float = 60.0,
    ) -> None:
        self.engine = engine
        self.max_known = max_known
        self.max_unknown = max_unknown
        self.unknown_ttl = unknown_ttl
        self._known: OrderedDict[str, LinkTarget] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._pending: dict[str, asyncio.Future[LinkTarget | None]] = {}
        self.lookups = 0
        """Database lookups made, for tests and the metrics endpoint."""

    def cached(self, code: str) -> LinkTarget | None:
        """The link if it is in memory (no I/O; safe to call on the event loop)."""
        target = self._known.get(code)
        if target is not None:
            self._known.move_to_end(code)
        return target

    def known_unknown(self, code: str) -> bool:
        """True when ``code`` was looked up recently and did not exist (or is malformed)."""
        if not CODE_PATTERN.match(code):
            return True
        expires = self._unknown.get(code)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._unknown[code]
            return False
        return True

    async def resolve(self, code: str) -> LinkTarget | None:
        """The link for ``code``: from memory, else from the database in a worker thread.

        Concurrent misses on the same code share one query: when a tweet takes off right
        after a restart, a thousand readers arriving at once cost one lookup, not a thousand.
        """
        target = self.cached(code)
        if target is not None or self.known_unknown(code):
            return target
        pending = self._pending.get(code)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._pending[code] = pending
        try:
            self.lookups += 1
            target = await asyncio.to_thread(find_link, self.engine, code)
            self._remember(code, target)
            pending.set_result(target)
        except Exception as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved here, so a lookup nobody else awaited does not warn
            raise
        finally:
            del self._pending[code]
            if not pending.done():  # cancelled (shutdown): the others give up too
                pending.cancel()
        return target

    def _remember(self, code: str, target: LinkTarget | None) -> None:
        if target is None:
            self._unknown[code] = time.monotonic() + self.unknown_ttl
            while len(self._unknown) > self.max_unknown:
                self._unknown.popitem(last=False)
        else:
            self._known[code] = target
            while len(self._known) > self.max_known:
                self._known.popitem(last=False)
