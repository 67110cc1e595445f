"""The Mastodon and Bluesky side of the crash harness (:mod:`tests.crash_scenarios`).

Both emulators live in the test process, as X's does, so they survive every SIGKILL of relay. Each
is made slow and lossy where a kill hurts most:

* **held answers** (:class:`_SlowStatusCreation`): every other status or record is created at once
  and its answer held back ``delay`` seconds (a kill then leaves a post made but not recorded); the
  others wait ``delay`` seconds before being created (a killed relay's request lands later, maybe
  after the restart);
* **lost answers**: some creations do the work and then fail anyway, with the emulators' own
  faults (Mastodon's ``accept_then_fail`` 502, the PDS's 500 ``after_work``).

Counting is by each post's own link, as each network keeps it: the link written in a Mastodon
status, the link facets and card of a Bluesky post.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from relay.testing.bluesky_emulator import EmulatorConfig as BlueskyConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer

MASTODON_ACCOUNT = "toots"
BLUESKY_ACCOUNT = "sky"
STATUS_PATH = "/api/v1/statuses"
CREATE_RECORD = "/xrpc/com.atproto.repo.createRecord"
MASTODON_LOST_ANSWERS = frozenset({3, 6})
"""Which status creations (1 = the first) do the work and then answer 502. Only early ones: each costs
the outbox's 30 s back-off before it looks on the timeline, which then overlaps the kills."""
BLUESKY_LOST_ANSWER_EVERY = 4
"""One record creation in this many does the work, then answers 500; the publisher finds the record with
``getRecord`` at once, so these cost no back-off."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class _SlowStatusCreation:
    """An ASGI wrapper: requests to ``path`` alternate between "created, answer held ``delay`` s" and
    "wait ``delay`` s, then created"; ``before_each`` runs first (to arm a lost answer)."""

    def __init__(self, app: App, path: str, delay: float, before_each: Callable[[int], None]) -> None:
        self.app, self.path, self.delay, self.before_each = app, path, delay, before_each
        self._count = itertools.count(1)
        self._lock = threading.Lock()
        self.in_flight = 0
        """Creations received and not yet answered (a kill now leaves one relay cannot have recorded)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST" or self.delay <= 0:
            await self.app(scope, receive, send)
            return
        with self._lock:
            number = next(self._count)
            self.in_flight += 1
        try:
            await self._create(number, scope, receive, send)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _create(self, number: int, scope: Scope, receive: Receive, send: Send) -> None:
        self.before_each(number)
        receive = await _received_whole(receive)
        if number % 2:
            await asyncio.sleep(self.delay)
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(self.delay)
        for message in held:
            await send(message)


async def _received_whole(receive: Receive) -> Receive:
    """Read the request's body now, and give the app a ``receive`` that hands it over.

    The request has then reached the server, as a real one has once sent: a client killed while the
    server waits must not stop the work (uvicorn answers ``http.disconnect`` instead of a body not yet read).
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class SlowMastodon(MastodonEmulatorServer):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.gate: _SlowStatusCreation | None = None
        super().__init__()

    def _arm(self, number: int) -> None:
        if number in MASTODON_LOST_ANSWERS:
            self.inject(STATUS_PATH, status=502, accept_then_fail=True)

    def app(self) -> Any:
        self.gate = _SlowStatusCreation(super().app(), STATUS_PATH, self.delay, self._arm)
        return self.gate


class SlowBluesky(BlueskyEmulatorServer):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.gate: _SlowStatusCreation | None = None
        super().__init__()

    def _arm(self, number: int) -> None:
        if number % BLUESKY_LOST_ANSWER_EVERY == 2:
            self.state.inject("com.atproto.repo.createRecord", 500, "InternalServerError", "Internal Server Error",
                              after_work=True)

    def app(self) -> Any:
        self.gate = _SlowStatusCreation(super().app(), CREATE_RECORD, self.delay, self._arm)
        return self.gate


@dataclass
class OtherNetworks:
    """The Mastodon and Bluesky emulators a scenario posts to besides X (either may be absent)."""

    mastodon: SlowMastodon | None = None
    bluesky: SlowBluesky | None = None
    stack: ExitStack = field(default_factory=ExitStack)

    @property
    def accounts(self) -> list[str]:
        """The ``accounts = [...]`` of a feed or of ``[wordpress]``: X's default account, then these."""
        return ["default"] + [MASTODON_ACCOUNT] * bool(self.mastodon) + [BLUESKY_ACCOUNT] * bool(self.bluesky)

    def accounts_toml(self) -> str:
        blocks = ""
        if self.mastodon is not None:
            blocks += (f'[[accounts]]\nname = "{MASTODON_ACCOUNT}"\nnetwork = "mastodon"\n'
                       f'instance_url = "{self.mastodon.base_url}"\naccess_token = "{self.mastodon.access_token}"\n')
        if self.bluesky is not None:
            blocks += (f'[[accounts]]\nname = "{BLUESKY_ACCOUNT}"\nnetwork = "bluesky"\n'
                       f'handle = "{BlueskyConfig.handle}"\napp_password = "{BlueskyConfig.app_password}"\n'
                       f'service_url = "{self.bluesky.base_url}"\n')
        return blocks

    def targets_line(self) -> str:
        """The line a ``[[feeds]]`` or ``[wordpress]`` block needs to post to every network here."""
        if self.mastodon is None and self.bluesky is None:
            return ""
        return "accounts = [" + ", ".join(f'"{name}"' for name in self.accounts) + "]\n"

    @property
    def names(self) -> list[str]:
        return ["mastodon"] * bool(self.mastodon) + ["bluesky"] * bool(self.bluesky)

    def answering(self, network: str) -> bool:
        """Whether ``network`` holds a creation it has not answered yet (the moment to kill relay)."""
        server = self.mastodon if network == "mastodon" else self.bluesky
        return server is not None and server.gate is not None and server.gate.in_flight > 0

    def posts_made(self) -> int:
        """Statuses and records these networks hold (to tell whether a kill landed while posting)."""
        made = len(self.mastodon.statuses()) if self.mastodon else 0
        return made + (self.bluesky.state.post_count() if self.bluesky else 0)

    def links_seen(self) -> dict[str, Counter[str]]:
        """Per network, how many posts carry each link (the query string left out)."""
        seen: dict[str, Counter[str]] = {}
        if self.mastodon is not None:
            seen["mastodon"] = Counter(
                base for status in self.mastodon.statuses()
                for base in {word.split("?")[0] for word in status.text.split() if word.startswith("http")})
        if self.bluesky is not None:
            with self.bluesky.state.lock:
                records = [post.record for post in self.bluesky.state.posts.values()]
            seen["bluesky"] = Counter(base for record in records for base in _record_links(record))
        return seen

    def recoveries(self) -> dict[str, Counter[str]]:
        """What the emulators saw of relay's retries: Idempotency-Key replays, creates answered 500."""
        seen: dict[str, Counter[str]] = {}
        if self.mastodon is not None:
            seen["mastodon"] = Counter({"idempotent_replays": self.mastodon.idempotent_replays})
        if self.bluesky is not None:
            with self.bluesky.state.lock:
                calls = list(self.bluesky.state.calls)
            creates = [status for _, nsid, status in calls if nsid == "com.atproto.repo.createRecord"]
            seen["bluesky"] = Counter({"creates_answered_500": creates.count(500),
                                       "get_record": sum(nsid == "com.atproto.repo.getRecord" for _, nsid, _ in calls)})
        return seen

    def remote_ids(self) -> dict[str, dict[str, str]]:
        """Per network, the id each post link was given there (status id, AT URI)."""
        ids: dict[str, dict[str, str]] = {}
        if self.mastodon is not None:
            ids["mastodon"] = {word.split("?")[0]: status.id for status in self.mastodon.statuses()
                               for word in status.text.split() if word.startswith("http")}
        if self.bluesky is not None:
            with self.bluesky.state.lock:
                posts = list(self.bluesky.state.posts.values())
            ids["bluesky"] = {base: post.uri for post in posts for base in _record_links(post.record)}
        return ids


def _record_links(record: dict[str, Any]) -> set[str]:
    links = {str(feature.get("uri", "")).split("?")[0] for facet in record.get("facets") or []
             for feature in facet.get("features") or [] if str(feature.get("$type", "")).endswith("#link")}
    external = (record.get("embed") or {}).get("external") or {}
    if external.get("uri"):
        links.add(str(external["uri"]).split("?")[0])
    return links - {""}


@contextmanager
def other_networks(names: tuple[str, ...], delay: float) -> Iterator[OtherNetworks]:
    """Serve the emulators ``names`` asks for (``mastodon``, ``bluesky``), slow by ``delay`` seconds."""
    with ExitStack() as stack:
        found = OtherNetworks(stack=stack)
        if "mastodon" in names:
            found.mastodon = stack.enter_context(SlowMastodon(delay))
        if "bluesky" in names:
            found.bluesky = stack.enter_context(SlowBluesky(delay))
        yield found
