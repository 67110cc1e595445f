"""One post, three networks, over real HTTP: a feed server, relay, and the X, Mastodon and Bluesky emulators.

Each account gets its own delivery, composed by its network's rules and carrying its own
``utm_source``; each emulator receives the post once, and polling again posts nothing more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from relay.config.settings import Settings, load_settings
from relay.core.bluesky_text import grapheme_count
from relay.core.length import weighted_length
from relay.core.mastodon_text import mastodon_length
from relay.store.engine import apply_migrations
from relay.testing.bluesky_emulator import EmulatorConfig as BlueskyConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer
from relay.testing.x_emulator import EmulatorServer
from relay.wiring import build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import wait_for
from tests.test_webhook_route import relay_app
from tests.test_wordpress_editor import SITE, editor_payload, signed

X_KEYS = {
    "RELAY_X_CONSUMER_KEY": "ck-net",
    "RELAY_X_CONSUMER_SECRET": "cs-net",
    "RELAY_X_ACCESS_TOKEN": "at-net",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-net",
}


@pytest.fixture
def x() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def mastodon() -> Iterator[MastodonEmulatorServer]:
    with MastodonEmulatorServer() as server:
        yield server


@pytest.fixture
def bluesky() -> Iterator[BlueskyEmulatorServer]:
    with BlueskyEmulatorServer() as server:
        yield server


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def accounts_toml(mastodon: MastodonEmulatorServer, bluesky: BlueskyEmulatorServer) -> str:
    return (
        '[[accounts]]\nname = "toots"\nnetwork = "mastodon"\n'
        f'instance_url = "{mastodon.base_url}"\naccess_token = "{mastodon.access_token}"\n\n'
        '[[accounts]]\nname = "sky"\nnetwork = "bluesky"\n'
        f'handle = "{BlueskyConfig.handle}"\napp_password = "{BlueskyConfig.app_password}"\n'
        f'service_url = "{bluesky.base_url}"\n\n'
    )


def run_once(settings: Settings) -> None:
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)

    async def run() -> None:
        try:
            await runtime.worker.run_once()
        finally:
            await runtime.aclose()

    asyncio.run(run())


def utm_source(link: str) -> str:
    return parse_qs(urlsplit(link).query)["utm_source"][0]


def test_a_feed_entry_reaches_x_mastodon_and_bluesky_once_each(
    tmp_path: Path, database_url: str, x: EmulatorServer, mastodon: MastodonEmulatorServer,
    bluesky: BlueskyEmulatorServer, feed_server: FeedServer,
) -> None:
    feed_server.set("/feed/", body=rss_feed(range(1, 3)), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "relay.toml"
    config.write_text(accounts_toml(mastodon, bluesky) + f'[[feeds]]\nurl = "{feed_server.url("/feed/")}"\n'
                      'accounts = ["default", "toots", "sky"]\n', encoding="utf-8")
    env = {"RELAY_DATABASE_URL": database_url, "RELAY_X_API_BASE_URL": x.base_url, **X_KEYS}
    settings = load_settings(str(config), environ=env)

    run_once(settings)
    assert x.tweets() == [] and mastodon.statuses() == [] and bluesky.state.post_count() == 0, "baseline"

    feed_server.set("/feed/", body=rss_feed(range(1, 4)), headers={"Content-Type": "application/rss+xml"})
    run_once(settings)
    run_once(settings)  # a second look posts nothing more anywhere

    [tweet] = x.tweets()
    [status] = mastodon.statuses()
    [post] = bluesky.state.posts.values()
    assert "n°3" in tweet.text and "n°3" in status.text and "n°3" in post.record["text"]
    assert weighted_length(tweet.text) <= 280
    assert mastodon_length(status.text) <= 500
    assert grapheme_count(post.record["text"]) <= 300
    tweet_link = next(w for w in tweet.text.split() if w.startswith("http"))
    status_link = next(w for w in status.text.split() if w.startswith("http"))
    [card] = [post.record["embed"]["external"]]
    assert utm_source(tweet_link) == "twitter"
    assert utm_source(status_link) == "mastodon"
    assert utm_source(card["uri"]) == "bluesky"
    link_facets = [f for f in post.record["facets"] if f["features"][0]["$type"].endswith("#link")]
    assert [f["features"][0]["uri"] for f in link_facets] == [card["uri"]], "the short link shown points to it whole"
    assert status.idempotency_key, "Mastodon got the delivery's Idempotency-Key"

    runtime = build_runtime(settings)
    try:
        sent = {d.account: d for d in runtime.store.list_deliveries(["sent"])}
        assert set(sent) == {"default", "toots", "sky"}
        assert {d.network for d in sent.values()} == {"x", "mastodon", "bluesky"}
        assert sent["sky"].tweet_id == post.uri
        assert sent["sky"].remote_url == f"https://bsky.app/profile/{BlueskyConfig.handle}/post/{post.rkey}"
        assert sent["toots"].tweet_id == status.id and sent["toots"].remote_url
        assert sent["default"].remote_url == f"https://x.com/i/web/status/{tweet.id}"
        assert len({d.variant for d in sent.values()}) == 3, "each delivery has its own variant (and tracked link)"
    finally:
        asyncio.run(runtime.aclose())


@pytest.mark.slow
def test_a_wordpress_post_reaches_the_three_networks_and_the_editor_links_to_each(
    tmp_path: Path, x: EmulatorServer, mastodon: MastodonEmulatorServer, bluesky: BlueskyEmulatorServer,
) -> None:
    config = accounts_toml(mastodon, bluesky) + '[wordpress]\naccounts = ["default", "toots", "sky"]\n'
    with relay_app(tmp_path, x, config=config) as relay:
        relay.send(editor_payload(31))
        wait_for(lambda: len(x.tweets()) == 1 and len(mastodon.statuses()) == 1
                 and bluesky.state.post_count() == 1, timeout=15, what="the post on the three networks")
        ask = {"post": {"id": 31, "link": f"{SITE}/2026/11/recette-31/"}}
        wait_for(lambda: len(signed(relay, "/hooks/wordpress/status", ask).json().get("links", [])) == 3,
                 timeout=10, what="the three links")
        status = signed(relay, "/hooks/wordpress/status", ask).json()
        [post] = bluesky.state.posts.values()
        assert status["tweet_url"] == f"https://x.com/i/web/status/{x.tweets()[0].id}", "X's link, not another's"
        assert {link["network"]: link["url"] for link in status["links"]} == {
            "X": status["tweet_url"],
            "Mastodon": next(d.remote_url for d in relay.runtime.store.list_deliveries() if d.network == "mastodon"),
            "Bluesky": f"https://bsky.app/profile/{BlueskyConfig.handle}/post/{post.rkey}",
        }
        relay.send(editor_payload(31, event="update"))  # an edit posts nothing again, anywhere
        time.sleep(0.5)
        assert (len(x.tweets()), len(mastodon.statuses()), bluesky.state.post_count()) == (1, 1, 1)
