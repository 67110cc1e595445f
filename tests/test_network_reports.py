"""The figures per network, in every output: the report, ``relay report``'s CSV, the JSON API,
Prometheus and the dashboard, over a real database (SQLite and PostgreSQL).

One article went out three times: on X (an old row, sent before deliveries kept the post's
page), on Mastodon and on Bluesky; each delivery has its own tracked link, so its clicks are
its network's. A second article was only a trial (dry-run) on Mastodon: it is not a post sent.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from relay.metrics.reports import build_report, network_totals, render_csv, render_text
from relay.store.metrics_store import figures_by_network
from relay.store.schema import deliveries
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, _playwright, serious_violations
from tests.test_prometheus import samples
from tests.test_reports import add_clicks, add_snapshot
from tests.tracking_app import NOW, TOKEN, AppServer, StubRuntime, build_app, make_runtime, seed_post

AUTH = {"Authorization": f"Bearer {TOKEN}"}
X_ID = "1912345678901234567"
TOOT_ID = "113000000000000042"
TOOT_PAGE = f"https://mastodon.example/@bakery/{TOOT_ID}"
SKY_URI = "at://did:plc:bakery/app.bsky.feed.post/3lbakery2222a"
SKY_PAGE = "https://bsky.app/profile/bakery.example/post/3lbakery2222a"


def move(runtime: StubRuntime, post_id: int, variant: int, **values: Any) -> None:
    with runtime.store.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.post_id == post_id, deliveries.c.variant == variant)
                     .values(**values))


@pytest.fixture
def three(database_url: str) -> StubRuntime:
    return seed_three(database_url)


def seed_three(url: str) -> StubRuntime:
    runtime = make_runtime(url)
    runtime.worker.clock = NOW
    post_id, codes = seed_post(runtime, 1, title="Le pain au levain", variants=3,
                               tweet_ids=[X_ID, TOOT_ID, SKY_URI], sent_at=NOW - timedelta(days=2))
    move(runtime, post_id, 1, account="toots", network="mastodon", remote_url=TOOT_PAGE)
    move(runtime, post_id, 2, account="sky", network="bluesky", remote_url=SKY_PAGE)
    add_clicks(runtime, codes[0], human=5, bots=2)
    add_clicks(runtime, codes[1], human=4, bots=1)
    add_clicks(runtime, codes[2], human=3)
    add_snapshot(runtime, post_id, 0, impressions=800, likes=10, retweets=2, replies=1, quotes=1, bookmarks=2)
    add_snapshot(runtime, post_id, 1, likes=6, retweets=3, replies=2, quotes=None, impressions=None,
                 bookmarks=None)
    add_snapshot(runtime, post_id, 2, likes=8, retweets=4, replies=0, quotes=2, impressions=None, bookmarks=None)
    trial, _ = seed_post(runtime, 2, title="Un essai", sent_at=NOW - timedelta(days=1), dry_run=True)
    move(runtime, trial, 0, account="toots", network="mastodon")
    return runtime


EXPECTED = {  # (posts sent, human clicks, likes, reposts, replies, quotes, impressions)
    "x": (1, 5, 10, 2, 1, 1, 800),
    "mastodon": (1, 4, 6, 3, 2, None, None),
    "bluesky": (1, 3, 8, 4, 0, 2, None),
}


def test_the_report_adds_up_each_network(three: StubRuntime) -> None:
    reports = build_report(three.store.engine)
    totals = network_totals(reports)
    assert [n.network for n in totals] == ["x", "mastodon", "bluesky"], "X first, then in NETWORK_NAMES order"
    assert {n.network: (n.posts_sent, n.human_clicks, n.likes, n.reposts, n.replies, n.quotes, n.impressions)
            for n in totals} == EXPECTED
    article = next(r for r in reports if r.title == "Le pain au levain")
    pages = {t.network: t.remote_url for t in article.tweets}
    assert pages == {"x": f"https://x.com/i/web/status/{X_ID}", "mastodon": TOOT_PAGE, "bluesky": SKY_PAGE}, \
        "an X row without remote_url gets X's address from its id"
    [trial] = next(r for r in reports if r.title == "Un essai").tweets
    assert trial.remote_url is None and trial.network == "mastodon", "a trial has no page anywhere"


def test_csv_and_text_name_the_network_of_each_post(three: StubRuntime) -> None:
    reports = build_report(three.store.engine)
    rows = {(r["title"], r["network"]): r for r in csv.DictReader(io.StringIO(render_csv(reports)))}
    toot = rows[("Le pain au levain", "mastodon")]
    assert (toot["account"], toot["remote_url"], toot["likes"], toot["reposts"], toot["quotes"]) == (
        "toots", TOOT_PAGE, "6", "3", "")
    assert rows[("Le pain au levain", "bluesky")]["human_clicks"] == "3"
    text = render_text(reports)
    assert SKY_PAGE in text and TOOT_PAGE in text
    assert re.search(r"Mastodon\s+sent\s+clicks 4\s+likes 6\s+reposts 3\s+replies 2\s+quotes –", text), text


def test_the_api_gives_each_delivery_its_network_and_the_totals(three: StubRuntime) -> None:
    with TestClient(build_app(three)) as client:
        listed = client.get("/api/posts", headers=AUTH).json()
        article = next(p for p in listed["posts"] if p["title"] == "Le pain au levain")
        one = client.get(f"/api/posts/{article['id']}", headers=AUTH).json()
    assert [n["network"] for n in listed["networks"]] == ["x", "mastodon", "bluesky"]
    mastodon = next(n for n in listed["networks"] if n["network"] == "mastodon")
    assert mastodon == {"network": "mastodon", "name": "Mastodon", "posts_sent": 1, "human_clicks": 4, "likes": 6,
                        "reposts": 3, "replies": 2, "quotes": None, "impressions": None}
    sky = next(t for t in article["tweets"] if t["network"] == "bluesky")
    assert {k: sky[k] for k in ("account", "network", "tweet_id", "remote_url", "likes", "reposts", "replies",
                                "quotes", "human_clicks", "impressions")} == {
        "account": "sky", "network": "bluesky", "tweet_id": SKY_URI, "remote_url": SKY_PAGE, "likes": 8,
        "reposts": 4, "replies": 0, "quotes": 2, "human_clicks": 3, "impressions": None}
    assert {n["network"]: n["human_clicks"] for n in one["networks"]} == {"x": 5, "mastodon": 4, "bluesky": 3}
    assert {s["retweets"] for s in one["snapshots"]} == {2, 3, 4}


def test_prometheus_counts_per_network_as_the_report_does(three: StubRuntime) -> None:
    with TestClient(build_app(three)) as client:
        found = samples(client.get("/metrics").text)
    for network, (sent, clicks, likes, reposts, replies, quotes, _views) in EXPECTED.items():
        assert found[("relay_network_posts_sent_total", (("network", network),))] == sent
        assert found[("relay_network_human_clicks_total", (("network", network),))] == clicks
        reactions = {kind: found.get(("relay_network_reactions", (("kind", kind), ("network", network))))
                     for kind in ("likes", "reposts", "replies", "quotes")}
        assert reactions == {"likes": likes, "reposts": reposts, "replies": replies, "quotes": quotes}, network
    assert ("relay_network_reactions", (("kind", "quotes"), ("network", "mastodon"))) not in found, \
        "Mastodon counts no quotes: no line rather than a false zero"
    assert found[("relay_posts_relayed_total", ())] == 1


def test_prometheus_and_the_report_agree(three: StubRuntime) -> None:
    """Two ways to count (SQL at scrape time, sums over the report): the same figures."""
    figures = figures_by_network(three.store.engine)
    for n in network_totals(build_report(three.store.engine)):
        mine = figures[n.network]
        assert (mine.posts_sent, mine.human_clicks) == (n.posts_sent, n.human_clicks)
        assert mine.reactions == {k: v for k, v in (("likes", n.likes), ("reposts", n.reposts),
                                                    ("replies", n.replies), ("quotes", n.quotes)) if v is not None}


def test_prometheus_names_every_network_even_before_it_posts(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    seed_post(runtime, 1)
    with TestClient(build_app(runtime)) as client:
        found = samples(client.get("/metrics").text)
    assert {labels[0][1]: value for (name, labels), value in found.items()
            if name == "relay_network_posts_sent_total"} == {"x": 1, "mastodon": 0, "bluesky": 0}


# -- the dashboard ---------------------------------------------------------------------------


@pytest.fixture
def dashboard(three: StubRuntime) -> Iterator[TestClient]:
    with TestClient(build_app(three), follow_redirects=False) as client:
        client.auth = ("", TOKEN)
        yield client


@pytest.mark.parametrize(("lang", "see", "visits", "reposts"), [
    ("en", "See it on", "Visits from X, Mastodon, and Bluesky", "Reposts"),
    ("fr", "Voir sur", "Visites venues de X, Mastodon et Bluesky", "Partages"),
])
def test_the_dashboard_links_each_post_on_its_network(dashboard: TestClient, lang: str, see: str, visits: str,
                                                      reposts: str) -> None:
    page = dashboard.get(f"/?lang={lang}")
    assert page.status_code == 200
    html = page.text
    links = dict(re.findall(r'<a class="on-network on-(\w+)" href="([^"]+)"', html))
    assert links == {"x": f"https://x.com/i/web/status/{X_ID}", "mastodon": TOOT_PAGE, "bluesky": SKY_PAGE}
    for name in ("X", "Mastodon", "Bluesky"):
        assert f">{see} {name}</a>" in html
        assert f'<span class="network">{name}</span>' in html
    assert visits in html, "the visits are said to come from every network posted on"
    section = html[html.index('id="networks"'):html.index('id="posts"')]
    assert section.count('class="network"') == 3 and f"<dt>{reposts}</dt>" in section
    mastodon_card = section[section.index('data-network="mastodon"'):section.index('data-network="bluesky"')]
    assert "<dd>6</dd>" in mastodon_card and "<dd>4</dd>" in mastodon_card, "likes and visits on Mastodon"
    assert "Quotes" not in mastodon_card and "Citations" not in mastodon_card


def test_an_x_only_dashboard_is_as_before(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    seed_post(runtime, 1, tweet_ids=[X_ID])
    with TestClient(build_app(runtime), follow_redirects=False) as client:
        client.auth = ("", TOKEN)
        html = client.get("/?lang=fr").text
    assert "Visites venues de X" in html and 'id="networks"' not in html, "one network: no table of networks"
    assert f'href="https://x.com/i/web/status/{X_ID}"' in html and ">Voir sur X</a>" in html


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_three_networks_read_well_on_a_phone(sqlite_url: str, lang: str) -> None:
    """At 360 px, in Chromium: nothing wider than the screen, each link visible, no serious axe-core finding."""
    sync_playwright = _playwright()
    runtime = seed_three(sqlite_url)
    width = 360
    with AppServer(build_app(runtime)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800},
                                    locale="fr-FR" if lang == "fr" else "en-US")
            page.goto(f"{server.base_url}/login?lang={lang}")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.base_url}/?lang={lang}")
            overflow = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
            assert max(overflow) <= width, f"the page is {overflow} px wide at {width} px"
            for network, href in (("x", f"https://x.com/i/web/status/{X_ID}"), ("mastodon", TOOT_PAGE),
                                  ("bluesky", SKY_PAGE)):
                link = page.locator(f"a.on-{network}")
                assert link.is_visible() and link.get_attribute("href") == href
                box = link.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
                card = page.locator(f"#networks li[data-network={network}]")
                card_box = card.bounding_box()
                assert card_box is not None and card_box["x"] + card_box["width"] <= width
            serious = serious_violations(page)
            assert serious == [], [(v["id"], [(n["target"], n["failureSummary"]) for n in v["nodes"]]) for v in serious]
        finally:
            browser.close()


def test_spending_lists_x_accounts_only(sqlite_url: str) -> None:
    """Mastodon and Bluesky bill nothing: their accounts get no budget card (which would read "X account: toots")."""
    runtime = make_runtime(sqlite_url, accounts=[
        {"name": "client-b", "network": "x"},
        {"name": "toots", "network": "mastodon", "instance_url": "https://mastodon.example"},
        {"name": "sky", "network": "bluesky", "handle": "bakery.example"},
    ])
    seed_post(runtime, 1)
    with TestClient(build_app(runtime), follow_redirects=False) as client:
        client.auth = ("", TOKEN)
        html = client.get("/?lang=en").text
    assert re.findall(r'<dl class="stats budget" data-account="([^"]+)"', html) == ["default", "client-b"]
