"""Metrics back from Mastodon and Bluesky, and the figures per network, over real HTTP.

End to end: a feed entry goes out on X, Mastodon and Bluesky through relay's real
publishers and the three emulators; the emulators are given counts; the refresher reads
them back at the 1 h and 24 h checkpoints (the clock is passed in); ``relay report``, the
report builder and the X cost ledger are read back. Then each network's failures are shown
to pause only that network's reads.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import select, update

from relay.adapters.bluesky import BlueskyCredentials, BlueskyPublisher
from relay.adapters.mastodon import MastodonPublisher
from relay.cli.reports import report
from relay.config.settings import load_settings
from relay.metrics.engagement import EngagementRefresher, refresh_engagement
from relay.metrics.reports import build_report, network_totals
from relay.store.schema import deliveries, engagement_snapshots, x_costs
from relay.testing.bluesky_emulator import EmulatorConfig as BlueskyConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer
from relay.testing.x_emulator import EmulatorServer
from relay.wiring import build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.three_networks import X_KEYS, accounts_toml, run_once
from tests.tracking_app import StubRuntime, make_runtime, seed_post

GET_POSTS = "app.bsky.feed.getPosts"


def set_x_metrics(x: EmulatorServer, tweet_id: str, **public: int) -> None:
    httpx.post(f"{x.base_url}/_emulator/metrics",
               json={"id": tweet_id, "public_metrics": public, "non_public_metrics": {}}).raise_for_status()


def status_reads(mastodon: MastodonEmulatorServer) -> int:
    return sum(1 for r in mastodon.requests()
               if r["method"] == "GET" and str(r["path"]).startswith("/api/v1/statuses/"))


def snapshots_by_account(engine: Any) -> dict[str, list[dict[str, Any]]]:
    query = (select(deliveries.c.account, engagement_snapshots)
             .join(deliveries, deliveries.c.id == engagement_snapshots.c.delivery_id)
             .order_by(engagement_snapshots.c.id))
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            found.setdefault(row.account, []).append(dict(row._mapping))
    return found


def totals_of(engine: Any) -> dict[str, tuple[Any, ...]]:
    """``{network: (posts sent, human clicks, likes, reposts, replies, quotes, impressions)}`` from the report."""
    return {n.network: (n.posts_sent, n.human_clicks, n.likes, n.reposts, n.replies, n.quotes, n.impressions)
            for n in network_totals(build_report(engine))}


def test_counts_come_back_from_the_three_networks_at_the_checkpoints(
    tmp_path: Path, database_url: str, x: EmulatorServer, mastodon: MastodonEmulatorServer,
    bluesky: BlueskyEmulatorServer, feed_server: FeedServer,
) -> None:
    feed_server.set("/feed/", body=rss_feed(range(1, 2)), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "relay.toml"
    config.write_text(accounts_toml(mastodon, bluesky) + f'[[feeds]]\nurl = "{feed_server.url("/feed/")}"\n'
                      'accounts = ["default", "toots", "sky"]\n', encoding="utf-8")
    env = {"RELAY_DATABASE_URL": database_url, "RELAY_X_API_BASE_URL": x.base_url, **X_KEYS}
    settings = load_settings(str(config), environ=env)
    run_once(settings)
    feed_server.set("/feed/", body=rss_feed(range(1, 3)), headers={"Content-Type": "application/rss+xml"})
    run_once(settings)
    [tweet], [status], [post] = x.tweets(), mastodon.statuses(), list(bluesky.state.posts.values())

    set_x_metrics(x, tweet.id, impression_count=900, like_count=9, retweet_count=4, reply_count=2, quote_count=1,
                  bookmark_count=3)
    mastodon.set_counts(status.id, favourites=5, reblogs=2, replies=1)
    bluesky.state.set_counts(post.uri, likes=7, reposts=3, replies=2, quotes=1)

    runtime = build_runtime(settings)
    engine = runtime.store.engine
    try:
        sent_at = max(d.sent_at for d in runtime.store.list_deliveries(["sent"]) if d.sent_at)
        assert asyncio.run(refresh_engagement(runtime, sent_at + timedelta(minutes=30))) == 0, "nothing due yet"
        assert status_reads(mastodon) == 0 and bluesky.state.count(GET_POSTS) == 0

        assert asyncio.run(refresh_engagement(runtime, sent_at + timedelta(hours=1, minutes=1))) == 3
        snaps = snapshots_by_account(engine)
        [on_x], [toot], [sky] = snaps["default"], snaps["toots"], snaps["sky"]
        assert all(s["checkpoint"] == "1h" and s["found"] is True for s in (on_x, toot, sky))
        assert (on_x["impressions"], on_x["likes"], on_x["retweets"], on_x["replies"], on_x["quotes"],
                on_x["bookmarks"]) == (900, 9, 4, 2, 1, 3)
        assert (toot["likes"], toot["retweets"], toot["replies"]) == (5, 2, 1), "favourites, boosts, replies"
        assert (toot["quotes"], toot["impressions"], toot["bookmarks"]) == (None, None, None), \
            "Mastodon counts no quotes, views or bookmarks: left empty, not zero"
        assert (sky["likes"], sky["retweets"], sky["replies"], sky["quotes"]) == (7, 3, 2, 1)
        assert (sky["impressions"], sky["bookmarks"], sky["url_link_clicks"]) == (None, None, None)
        assert status_reads(mastodon) == 1 and bluesky.state.count(GET_POSTS) == 1

        with engine.connect() as conn:
            billed = {row.account for row in conn.execute(select(x_costs.c.account))}
        assert billed == {"default"}, "only X bills its reads; Mastodon and Bluesky reads cost nothing"

        assert totals_of(engine) == {
            "x": (1, 0, 9, 4, 2, 1, 900),
            "mastodon": (1, 0, 5, 2, 1, None, None),
            "bluesky": (1, 0, 7, 3, 2, 1, None),
        }

        mastodon.set_counts(status.id, favourites=50, reblogs=20, replies=10)
        bluesky.state.set_counts(post.uri, likes=70, reposts=30, replies=20, quotes=10)
        assert asyncio.run(refresh_engagement(runtime, sent_at + timedelta(hours=3))) == 0, "between checkpoints"
        assert asyncio.run(refresh_engagement(runtime, sent_at + timedelta(hours=24, minutes=1))) == 3
        assert [s["checkpoint"] for s in snapshots_by_account(engine)["toots"]] == ["1h", "24h"]
        totals = totals_of(engine)
        assert totals["mastodon"] == (1, 0, 50, 20, 10, None, None), "the newest reading counts"
        assert totals["bluesky"] == (1, 0, 70, 30, 20, 10, None)
        assert status_reads(mastodon) == 2 and bluesky.state.count(GET_POSTS) == 2
    finally:
        asyncio.run(runtime.aclose())

    runner = CliRunner()
    as_text = runner.invoke(report, [], obj={"config": str(config)}, env=env)
    assert as_text.exit_code == 0, as_text.output
    lines = as_text.output.splitlines()
    [mastodon_line] = [line for line in lines if line.strip().startswith("Mastodon ") and "posts 1" in line]
    assert "likes 50" in mastodon_line and "reposts 20" in mastodon_line and "quotes –" in mastodon_line
    [bluesky_line] = [line for line in lines if line.strip().startswith("Bluesky ") and "posts 1" in line]
    assert "likes 70" in bluesky_line and "quotes 10" in bluesky_line
    assert f"https://bsky.app/profile/{BlueskyConfig.handle}/post/{post.rkey}" in as_text.output
    as_json = json.loads(runner.invoke(report, ["--json"], obj={"config": str(config)}, env=env).output)
    by_network = {n["network"]: n for n in as_json["networks"]}
    assert by_network["bluesky"] == {"network": "bluesky", "name": "Bluesky", "posts_sent": 1, "human_clicks": 0,
                                     "likes": 70, "reposts": 30, "replies": 20, "quotes": 10, "impressions": None}
    tweets = {t["network"]: t for p in as_json["posts"] for t in p["tweets"]}
    toot_page = tweets["mastodon"]["remote_url"]
    assert toot_page.startswith("https://") and toot_page.endswith(f"/{status.id}"), "the status's page, as answered"
    assert tweets["mastodon"]["reposts"] == 20 and tweets["mastodon"]["account"] == "toots"
    assert tweets["x"]["remote_url"] == f"https://x.com/i/web/status/{tweet.id}"


# -- one network's trouble is its own -----------------------------------------------------------


def on_network(runtime: StubRuntime, n: int, *, account: str, network: str, post_id: str, sent_at: datetime) -> None:
    """A post sent by ``account`` on ``network`` (seeded as an X one, then moved)."""
    seeded, _ = seed_post(runtime, n, tweet_ids=[post_id], sent_at=sent_at)
    with runtime.store.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.post_id == seeded).values(account=account, network=network))


def test_a_bluesky_rate_limit_pauses_bluesky_only(sqlite_url: str, mastodon: MastodonEmulatorServer,
                                                   bluesky: BlueskyEmulatorServer) -> None:
    toots = MastodonPublisher(mastodon.base_url, mastodon.access_token)
    sky = BlueskyPublisher(BlueskyCredentials(BlueskyConfig.handle, BlueskyConfig.app_password),
                           service_url=bluesky.base_url)
    runtime = make_runtime(sqlite_url)
    sent = datetime.now(UTC) - timedelta(hours=2)
    status_id = toots.publish("A toot https://blog.example/a").tweet_id
    uri = sky.publish("A skeet https://blog.example/b").tweet_id
    on_network(runtime, 1, account="toots", network="mastodon", post_id=status_id, sent_at=sent)
    on_network(runtime, 2, account="sky", network="bluesky", post_id=uri, sent_at=sent)
    bluesky.state.inject(GET_POSTS, 429, "RateLimitExceeded", reset_in=300)
    now = sent + timedelta(hours=2)

    refresher = EngagementRefresher(runtime.store.engine, {"toots": toots, "sky": sky})
    assert refresher.refresh(now) == 1, "Mastodon is read although Bluesky refused"
    assert set(snapshots_by_account(runtime.store.engine)) == {"toots"}
    assert "sky" in refresher.paused_until and "toots" not in refresher.paused_until
    assert refresher.billed_reads == 0, "neither network bills its reads"
    assert refresher.refresh(now + timedelta(minutes=2)) == 0
    assert bluesky.state.count(GET_POSTS) == 1, "no second ask before Bluesky's reset"
    assert refresher.refresh(now + timedelta(minutes=6)) == 1
    assert set(snapshots_by_account(runtime.store.engine)) == {"toots", "sky"}


def test_a_deleted_status_is_marked_not_found_and_not_asked_again(sqlite_url: str,
                                                                  mastodon: MastodonEmulatorServer) -> None:
    toots = MastodonPublisher(mastodon.base_url, mastodon.access_token)
    runtime = make_runtime(sqlite_url)
    sent = datetime.now(UTC) - timedelta(hours=2)
    status_id = toots.publish("Soon deleted https://blog.example/c").tweet_id
    on_network(runtime, 1, account="toots", network="mastodon", post_id=status_id, sent_at=sent)
    mastodon.inject(f"/api/v1/statuses/{status_id}", method="GET", status=404)
    refresher = EngagementRefresher(runtime.store.engine, {"toots": toots})
    assert refresher.refresh(sent + timedelta(hours=2)) == 1
    [snap] = snapshots_by_account(runtime.store.engine)["toots"]
    assert snap["found"] is False and snap["likes"] is None
    assert refresher.refresh(sent + timedelta(hours=3), force=True) == 0
    assert status_reads(mastodon) == 1
