"""Kill relay at random moments under X's bad days, and count what was lost and what was doubled.

One :class:`Scenario` says how X behaves (slow answers, answers slower than relay waits, a
timeline that lags, other tweets piling up on the account), what the posts carry (images,
bare domains X turns into links), which door they come through (feeds, or the WordPress
webhook with the plugin's retries) and on which database with how many workers. :func:`run`
starts the real ``relay`` processes, SIGKILLs them at random moments, lets a last undisturbed
run settle, then counts, by each post's own link as X lists it in its entities:

* **lost**: a post relay accepted that never reached X;
* **doubled**: a post X holds more than once, or a second attempt X refused as a duplicate.

With ``networks`` naming Mastodon and Bluesky too, each post goes out on the three accounts
(:mod:`tests.crash_networks` serves those emulators, slow and lossy), and lost and doubled are
counted on each network.

The emulators live in this process, so they survive every kill. The bounded runs are in
``tests/test_crash_scenarios.py``; ``bench/crash_long.py`` runs each scenario 100 kills long
and writes RELIABILITY.md.
"""

from __future__ import annotations

import functools
import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from relay.store.engine import make_engine
from relay.store.outbox import SENT
from relay.store.store import Store
from relay.testing.x_emulator import EmulatorServer
from relay.webhooks.signatures import standard_signature
from tests.crash_networks import OtherNetworks, other_networks
from tests.feed_server import FeedServer
from tests.processes import answers_or_died, free_port, relay_env, start_relay, wait_for

SECRET = "whsec_" + "Y3Jhc2gtdGVzdHMtc2VjcmV0LWtleS0xMjM0NQ=="
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


AIM_WAIT = 6.0
"""Seconds a kill aimed at a network waits, past its random moment, for that network to hold an answer."""


@dataclass(frozen=True)
class Scenario:
    name: str
    kills: int = 6
    posts: int = 24
    database: str = "sqlite"
    """``sqlite``, or ``postgresql`` (a URL is given to :func:`run`)."""
    workers: int = 1
    """Processes sharing the work (``relay serve`` for the first, ``relay worker`` for the others)."""
    x_delay: float = 0.05
    """Seconds X takes over each post."""
    x_posts_first: bool = True
    """True: X holds the post at once and answers ``x_delay`` later; False: X works ``x_delay`` seconds
    before the post exists (a killed relay's request then lands after the restart)."""
    x_timeout: float = 1.0
    """relay's ``[x] timeout_seconds``; an ``x_delay`` above it makes every answer come too late."""
    timeline_delay: float = 0.0
    """Seconds before a new post shows in the account's timeline."""
    noise_per_kill: int = 0
    """Tweets posted on the account by someone else between kills (more than 100 newer than a claim)."""
    images: bool = False
    bare_domains: bool = False
    door: str = "feed"
    """``feed`` or ``webhook`` (the plugin's delivery, retried with the same webhook-id until 2xx)."""
    max_kill_delay: float = 2.0
    networks: tuple[str, ...] = ("x",)
    """Where each post goes: X always, and ``mastodon`` and ``bluesky`` when named (slow by ``x_delay``)."""


@dataclass
class Outcome:
    scenario: Scenario
    kills: int = 0
    kills_while_posting: int = 0
    posts: int = 0
    on_x: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    refused_as_duplicate: int = 0
    with_image: int = 0
    seconds: float = 0.0
    seed: int = 0
    per_network: dict[str, dict[str, int]] = field(default_factory=dict)
    """For each network: how many of the posts it holds, lost, doubled."""
    wrong_ids: list[str] = field(default_factory=list)
    """Deliveries whose recorded id is not the one the network gave the post."""
    aimed_hits: dict[str, int] = field(default_factory=dict)
    """Per network, kills that landed while it held a post's answer (see ``AIM_WAIT``)."""
    recoveries: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per network, how the kills and lost answers were got over: attempts ``interrupted`` (a kill while
    posting) and ``reconciled`` (found on the network), Mastodon's replayed Idempotency-Keys, Bluesky's
    creates answered 500 (a lost answer, or the record key already taken) and getRecord look-ups."""

    def row(self) -> dict[str, object]:
        return {"scenario": self.scenario.name, "database": self.scenario.database, "workers": self.scenario.workers,
                "kills": self.kills, "kills_while_posting": self.kills_while_posting, "posts": self.posts,
                "lost": len(self.lost), "doubled": len(self.doubled) + self.refused_as_duplicate,
                "with_image": self.with_image, "networks": self.per_network, "aimed_hits": self.aimed_hits,
                "recoveries": self.recoveries,
                "seed": self.seed, "seconds": round(self.seconds, 1)}


def _title(n: int, scenario: Scenario) -> str:
    extra = " (voir README.md et ASP.NET sur plombier-nantes.fr)" if scenario.bare_domains else ""
    return f"Conseil n°{n} : purger ses radiateurs{extra}"


def _post_link(host: str, n: int) -> str:
    return f"https://{host}/conseils/{n}/"


def _feed(scenario: Scenario, host: str, images_base: str, count: int) -> bytes:
    items = []
    for n in range(1, count + 1):
        image = (f'<enclosure url="{images_base}/img/{n}.png" type="image/png" length="{len(PNG)}"/>'
                 if scenario.images else "")
        items.append(
            f"<item><title>{_title(n, scenario)}</title><link>{_post_link(host, n)}</link>"
            f'<guid isPermaLink="false">{host}-{n}</guid>'
            f"<pubDate>{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(time.time() - 3600 + n))}"
            f"</pubDate><description>Un conseil de saison, n°{n}.</description>{image}</item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{host}</title>'
            f"<link>https://{host}/</link><description>d</description>{''.join(items)}</channel></rss>").encode()


def _config(tmp_path: Path, scenario: Scenario, feeds: FeedServer, hosts: list[str], others: OtherNetworks) -> Path:
    targets = others.targets_line()
    blocks = "".join(f'[[feeds]]\nurl = "{feeds.url(f"/{host}/feed/")}"\nbackfill = 0\n{targets}' for host in hosts)
    lease = scenario.x_timeout + 10 + 5
    config = tmp_path / "relay.toml"
    config.write_text(
        "[polling]\ninterval_minutes = 0.05\njitter = 0\npublish_interval_seconds = 0.2\nlease_seconds = 5\n"
        "max_posts_per_round = 100\nspacing_minutes = 0\nhold_threshold = 1000\nfetch_pages = false\n"
        f"[publishing]\nmonthly_budget_usd = 0\nlease_seconds = {lease:g}\n"
        f"[x]\ntimeout_seconds = {scenario.x_timeout:g}\n"
        '[fetch]\nallow_hosts = ["127.0.0.1"]\n'
        f'[wordpress]\nsecret = "{SECRET}"\n{targets}[log]\nformat = "text"\n' + others.accounts_toml() + blocks,
        encoding="utf-8",
    )
    return config


class _Plugin:
    """The WordPress plugin's side: each post's webhook, re-sent with the same id until relay says 2xx."""

    def __init__(self, site: str, scenario: Scenario, images_base: str) -> None:
        self.pending: dict[int, str] = {}
        self.site, self.scenario, self.images_base = site, scenario, images_base
        self.accepted: set[int] = set()
        self._released = 0
        self._lock = threading.Lock()

    def release(self, count: int) -> None:
        """WordPress publishes posts up to ``count``: each gets its webhook, sent until accepted."""
        with self._lock:
            for n in range(self._released + 1, count + 1):
                self.pending[n] = f"wp_crash_{n}_publish"
            self._released = max(self._released, count)

    def payload(self, n: int) -> bytes:
        post = {
            "id": n, "type": "post", "link": _post_link(self.site, n),
            "guid": {"rendered": f"https://{self.site}/?p={n}"},
            "status": "publish", "date_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "modified_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "title": {"rendered": _title(n, self.scenario)},
            "excerpt": {"rendered": f"<p>Un conseil de saison, n°{n}.</p>", "protected": False},
            "content": {"rendered": "<p>Texte.</p>", "protected": False},
            "category_names": [], "tag_names": [], "password_protected": False,
        }
        if self.scenario.images:
            post["featured_image"] = {"url": f"{self.images_base}/img/{n}.png", "alt": "Un radiateur"}
        return json.dumps({"event": "publish", "site": {"url": f"https://{self.site}", "name": "Plombier"},
                           "post": post}).encode()

    def send_pending(self, base_url: str) -> None:
        for n, webhook_id in list(self.pending.items()):
            body = self.payload(n)
            stamp = int(time.time())
            headers = {"Content-Type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(stamp),
                       "webhook-signature": standard_signature(SECRET, webhook_id, stamp, body)}
            try:
                answer = httpx.post(f"{base_url}/hooks/wordpress", content=body, headers=headers, timeout=5)
            except httpx.HTTPError:
                return  # relay is down: the plugin retries later
            if answer.is_success:
                with self._lock:
                    self.pending.pop(n, None)
                    self.accepted.add(n)


@contextmanager
def _emulator(scenario: Scenario) -> Iterator[EmulatorServer]:
    with EmulatorServer(tweet_rate_limit=1_000_000, timeline_delay_seconds=scenario.timeline_delay) as server:
        for _ in range(scenario.posts * 4 + 100):
            server.inject(delay=scenario.x_delay, answer_late=scenario.x_posts_first)
        yield server


def run(scenario: Scenario, tmp_path: Path, *, database_url: str | None = None, seed: int = 20261201) -> Outcome:
    """Play the scenario; the returned :class:`Outcome` says what was lost and doubled.

    Posts are published a few at a time over the first four fifths of the kills, so kills keep
    landing while posts flow; each kill SIGKILLs one process or all of them, and only the dead are
    started again (with several workers, the living take over what the dead held).
    """
    print(f"\ncrash scenario {scenario.name!r}: seed {seed} (replay with CRASH_SEED={seed})")
    rng = random.Random(seed)
    started = time.monotonic()
    outcome = Outcome(scenario, posts=scenario.posts, seed=seed)
    hosts = [f"blog{n}.fr" for n in range(2)] if scenario.door == "feed" else []
    url = database_url or f"sqlite:///{tmp_path / 'relay.db'}"
    rounds = max(1, scenario.kills * 4 // 5)
    with _emulator(scenario) as emulator, other_networks(scenario.networks, scenario.x_delay) as others, \
            FeedServer() as feeds:
        images_base = feeds.url("").rstrip("/")
        for n in range(1, scenario.posts + 1):
            feeds.set(f"/img/{n}.png", body=PNG, content_type="image/png")
        plugin = _Plugin("plombier-nantes.fr", scenario, images_base) if scenario.door == "webhook" else None

        def release(step: int) -> None:
            visible = min(scenario.posts, -(-scenario.posts * step // rounds))
            for index, host in enumerate(hosts):
                feeds.set(f"/{host}/feed/", body=_feed(scenario, host, images_base, _share(visible, index, hosts)))
            if plugin is not None:
                plugin.release(visible)

        release(0)
        env = relay_env(RELAY_CONFIG=str(_config(tmp_path, scenario, feeds, hosts, others)), RELAY_DATABASE_URL=url,
                        RELAY_X_API_BASE_URL=emulator.base_url, RELAY_X_CONSUMER_KEY="ck",
                        RELAY_X_CONSUMER_SECRET="cs", RELAY_X_ACCESS_TOKEN="at", RELAY_X_ACCESS_TOKEN_SECRET="ats")
        processes: list[subprocess.Popen[bytes] | None] = [None] * scenario.workers
        port = 0
        try:
            for kill in range(scenario.kills + 1):
                if processes[0] is None:
                    port = free_port()
                for slot, process in enumerate(processes):
                    if process is None:
                        processes[slot] = _start(slot, env, port, tmp_path / f"relay-{slot}-{kill}.log", tmp_path)
                serve = processes[0]
                assert serve is not None
                wait_for(functools.partial(answers_or_died, port, serve), timeout=60, what="relay to answer")
                if serve.poll() is not None:
                    raise AssertionError("relay stopped at start: " + (tmp_path / f"relay-0-{kill}.log").read_text())
                if kill == 0 and hosts:
                    _wait_for_baseline(url, len(hosts))
                release(kill + 1)
                if kill == scenario.kills:
                    _settle(plugin, port, url, scenario)
                    _stop([p for p in processes if p is not None], signal.SIGTERM)
                    break
                # With Mastodon and Bluesky, kills take turns: at a random moment, or (after it) as soon as one
                # of them holds an answer, so every network sees relay die between its request and the answer.
                aims = [None, *others.names]
                aim = aims[kill % len(aims)]
                deadline = time.monotonic() + rng.uniform(0.2, scenario.max_kill_delay)
                while (now := time.monotonic()) < deadline or (
                        aim is not None and not others.answering(aim) and now < deadline + AIM_WAIT):
                    if plugin is not None:
                        plugin.send_pending(f"http://127.0.0.1:{port}")
                    time.sleep(0.05 if now < deadline else 0.01)
                if aim is not None and others.answering(aim):
                    outcome.aimed_hits[aim] = outcome.aimed_hits.get(aim, 0) + 1
                before = _own_tweets(emulator) + others.posts_made()
                victims = list(range(scenario.workers)) if rng.random() < 0.5 else [rng.randrange(scenario.workers)]
                _stop([p for slot, p in enumerate(processes) if slot in victims and p is not None], signal.SIGKILL)
                for slot in victims:
                    processes[slot] = None
                outcome.kills += 1
                if 0 < before < scenario.posts * len(scenario.networks):
                    outcome.kills_while_posting += 1
                for i in range(scenario.noise_per_kill):
                    emulator.seed_tweet(f"Un message de l'équipe n°{kill}-{i}, sans rapport "
                                        f"https://autre.example/{kill}/{i}")
        finally:  # a failed run leaves no relay behind
            _stop([p for p in processes if p is not None], signal.SIGKILL)
        _count(emulator, hosts, outcome)
        _count_others(others, hosts, outcome, url)
    outcome.seconds = time.monotonic() - started
    return outcome


def _share(visible: int, index: int, hosts: list[str]) -> int:
    """How many of the ``visible`` posts feed ``index`` shows (post n goes to feed n mod len(hosts))."""
    return len(range(index + 1, visible + 1, len(hosts)))


def _start(slot: int, env: dict[str, str], port: int, log: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Slot 0 is ``relay serve`` (the web server: /healthz, the webhook); the others ``relay worker``."""
    return start_relay(["serve"] if slot == 0 else ["worker"], {**env, "RELAY_SERVER_PORT": str(port)}, log,
                       tmp_path)


def _stop(processes: list[subprocess.Popen[bytes]], how: signal.Signals) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(how)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_baseline(url: str, feeds_count: int) -> None:
    store = Store(make_engine(url))
    try:
        wait_for(lambda: sum(f.baseline_at is not None for f in store.list_feeds()) >= feeds_count, timeout=60,
                 what="relay's first look at every feed")
    finally:
        store.engine.dispose()


def _own_tweets(emulator: EmulatorServer) -> int:
    return sum(1 for t in emulator.tweets() if "autre.example" not in t.text)


def _settle(plugin: _Plugin | None, port: int, url: str, scenario: Scenario) -> None:
    store = Store(make_engine(url))
    try:
        def settled() -> bool:
            if plugin is not None and plugin.pending:
                plugin.send_pending(f"http://127.0.0.1:{port}")
                return False
            return len(store.list_deliveries([SENT])) >= deliveries
        # X answers one post at a time: a slow X needs time for what is still queued.
        deliveries = scenario.posts * len(scenario.networks)
        budget = 240 + scenario.posts * (scenario.x_delay + 0.2) * 1.5
        try:
            wait_for(settled, timeout=budget, what=f"all {deliveries} deliveries sent")
        except AssertionError as exc:  # say which deliveries are stuck, and why, before giving up
            stuck = [d for d in store.list_deliveries() if d.status != SENT]
            details = "; ".join(f"#{d.id} {d.status} {[a['outcome'] for a in store.attempts_for(d.id)]} "
                                f"{d.last_error}" for d in stuck[:5])
            raise AssertionError(f"{exc}: {len(stuck)} not sent, e.g. {details}") from None
        time.sleep(max(0.5, scenario.timeline_delay))
    finally:
        store.engine.dispose()


def _wanted(hosts: list[str], posts: int) -> set[str]:
    """Every post's own link (without relay's query string)."""
    return ({_post_link(host, n) for i, host in enumerate(hosts) for n in range(1, _share(posts, i, hosts) + 1)}
            if hosts else {_post_link("plombier-nantes.fr", n) for n in range(1, posts + 1)})


def _count(emulator: EmulatorServer, hosts: list[str], outcome: Outcome) -> None:
    """Lost and doubled, by each post's own link as X keeps it (the t.co link's expanded URL)."""
    wanted = _wanted(hosts, outcome.posts)
    seen: Counter[str] = Counter()
    for tweet in emulator.tweets():
        ours = False
        for entity in tweet.urls:
            base = entity.expanded_url.split("?")[0]
            if base in wanted:
                seen[base] += 1
                ours = True
        outcome.with_image += ours and bool(tweet.media_keys)
    outcome.on_x = sum(seen.values())
    outcome.lost = sorted(wanted - set(seen))
    outcome.doubled = sorted(link for link, count in seen.items() if count > 1)
    outcome.refused_as_duplicate = sum(
        1 for r in emulator.requests() if r["path"] == "/2/tweets" and r["status"] == 403)
    outcome.per_network["x"] = {"held": outcome.on_x, "lost": len(outcome.lost), "doubled": len(outcome.doubled)}


def _count_others(others: OtherNetworks, hosts: list[str], outcome: Outcome, url: str) -> None:
    """Lost and doubled on Mastodon and Bluesky (named ``network: link`` in the outcome's lists), and
    whether each sent delivery recorded the id the network gave its post."""
    wanted = _wanted(hosts, outcome.posts)
    for network, seen in others.links_seen().items():
        ours = Counter({link: count for link, count in seen.items() if link in wanted})
        lost = sorted(wanted - set(ours))
        doubled = sorted(link for link, count in ours.items() if count > 1)
        outcome.lost += [f"{network}: {link}" for link in lost]
        outcome.doubled += [f"{network}: {link}" for link in doubled]
        outcome.per_network[network] = {"held": sum(ours.values()), "lost": len(lost), "doubled": len(doubled)}
    remote = others.remote_ids()
    outcome.recoveries = {network: dict(counts) for network, counts in others.recoveries().items()}
    store = Store(make_engine(url))
    try:
        for delivery in store.list_deliveries([SENT]):
            network = delivery.network
            if network in remote and remote[network].get(delivery.link.split("?")[0]) != delivery.tweet_id:
                outcome.wrong_ids.append(f"{network} delivery #{delivery.id}: {delivery.tweet_id}")
            outcomes = Counter(str(a["outcome"]) for a in store.attempts_for(delivery.id))
            counts = outcome.recoveries.setdefault(network, {})
            for name in ("interrupted", "reconciled"):
                counts[name] = counts.get(name, 0) + outcomes[name]
    finally:
        store.engine.dispose()
