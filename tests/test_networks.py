"""One post, three networks, over real HTTP: a feed server, relay, and the X, Mastodon and Bluesky emulators.

Each account gets its own delivery, composed by its network's rules and carrying its own
``utm_source``; each emulator receives the post once, and polling again posts nothing more.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from relay.adapters.bluesky import BlueskyCredentials, BlueskyPublisher, parts_from_extra
from relay.adapters.dry_run import DryRunPublisher
from relay.adapters.mastodon import MastodonPublisher
from relay.adapters.safe_fetch import SafeFetcher
from relay.cli.main import cli
from relay.config.settings import load_settings
from relay.core.bluesky_text import compose_bluesky_post, grapheme_count, short_link
from relay.core.compose import ComposeOptions, fit_message, tagged_link
from relay.core.length import weighted_length
from relay.core.mastodon_text import mastodon_length
from relay.core.models import FeedDocument, Post
from relay.core.networks import Target, composer_for
from relay.core.policy import Caps
from relay.pipeline import review
from relay.pipeline.service import RelayService
from relay.store.engine import apply_migrations, make_engine
from relay.store.store import Store
from relay.testing.bluesky_emulator import EmulatorConfig as BlueskyConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer
from relay.testing.x_emulator import EmulatorServer
from relay.wiring import build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.images import png
from tests.processes import free_port, relay_env, start_relay, wait_for
from tests.test_webhook_route import relay_app
from tests.test_wordpress_editor import SITE, editor_payload, signed
from tests.three_networks import X_KEYS, accounts_toml, run_once
from tests.tracking_app import TOKEN, build_app, make_runtime

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


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


def test_review_mode_weighs_an_edited_post_by_its_own_networks_rules(sqlite_url: str) -> None:
    """In review mode each network's post waits on its own; an owner's edit is counted as that network
    counts it (Mastodon 500 with links at 23, Bluesky 300 graphemes), not as X does."""
    store = Store(make_engine(sqlite_url), review=True)
    apply_migrations(store.engine)
    targets = {name: Target(name, network, composer_for(network))
               for name, network in (("default", "x"), ("toots", "mastodon"), ("sky", "bluesky"))}
    service = RelayService(store, DryRunPublisher(), targets_for=lambda _feed: tuple(targets.values()),
                           targets=targets)
    post = Post(url="https://boulangerie-martin.fr/2026/11/galette/", title="La galette des rois, pas à pas")
    decision = service.ingest_post(post, source="webhook", options=ComposeOptions(), now=NOW)
    waiting = {row.account: row for row in store.waiting_for_review()}
    assert set(waiting) == {"default", "toots", "sky"} and len(decision.delivery_ids) == 3

    def edit(account: str, words: str) -> review.TextCheck:
        row = waiting[account]
        return review.approve(store, row.delivery_id, f"{words.strip()} {row.link}", NOW, service.measure_of)

    long_words = "Du beurre, des amandes et une fève. " * 10  # 360 characters: too long for X, fine for Mastodon
    assert edit("default", long_words).problem == review.TOO_LONG
    checked = edit("toots", long_words)
    assert checked.problem is None and checked.limit == 500 and checked.length == len(long_words.strip()) + 1 + 23
    sky = waiting["sky"]
    measure, shown = service.measure_of(sky), short_link(sky.link)
    assert shown in sky.text and sky.link not in sky.text, "Bluesky shows the link short"
    assert review.check_text("🇫🇷" * 290 + " " + shown, sky.link, measure).problem == review.TOO_LONG
    fits = review.check_text("🇫🇷" * 250 + " " + shown, sky.link, measure)
    assert fits.problem is None and fits.limit == 300 and fits.length == 251 + len(shown)
    assert review.check_text("🇫🇷 sans lien", sky.link, measure).problem == review.LINK_MISSING
    assert review.approve(store, sky.delivery_id, None, NOW, service.measure_of).problem is None, (
        "approved as composed, its short link is its link")
    queued = {d.account: d for d in store.list_deliveries(["queued"])}
    assert set(queued) == {"toots", "sky"} and queued["toots"].text.startswith("Du beurre")
    assert [row.account for row in store.waiting_for_review()] == ["default"]


def test_an_edited_bluesky_text_keeps_its_link_and_tags_where_they_now_stand() -> None:
    """The facets are byte offsets into the text as composed; after an edit in review they are found
    again over the same words, and what the owner typed (a full link, a tag) is faceted too."""
    post = Post(url="https://boulangerie-martin.fr/2026/11/galette/", title="La galette des rois 👑",
                categories=("Pâtisserie",))
    tweet = composer_for("bluesky")(post, ComposeOptions(utm_source="bluesky"), NOW.date())
    assert tweet.extra is not None
    composed = compose_bluesky_post(post, ComposeOptions(utm_source="bluesky"), today=NOW.date())
    shown = short_link(composed.link)
    edited = f"Ce week-end 🎉 : {shown} et aussi https://boulangerie-martin.fr/horaires #Pâtisserie"
    parts = parts_from_extra(edited, tweet.extra)
    raw = edited.encode("utf-8")
    assert parts.facets is not None
    spans = [(raw[f.byte_start:f.byte_end].decode("utf-8"), f.kind, f.value) for f in parts.facets]
    assert spans == [
        (shown, "link", composed.link),
        ("https://boulangerie-martin.fr/horaires", "link", "https://boulangerie-martin.fr/horaires"),
        ("#Pâtisserie", "tag", "Pâtisserie"),
    ]
    assert parts_from_extra(tweet.text, tweet.extra).facets == composed.facets, "unedited: as composed"
    assert parts.card is not None and parts.card.uri == composed.link


def test_an_authors_message_is_fitted_to_each_networks_limit(sqlite_url: str) -> None:
    """The WordPress author's message is cut for X's 280; Mastodon takes it whole, and Bluesky cuts it to
    its own 300 graphemes beside a long address (it used to refuse the X-fitted text outright)."""
    store = Store(make_engine(sqlite_url))
    apply_migrations(store.engine)
    targets = {name: Target(name, network, composer_for(network))
               for name, network in (("default", "x"), ("toots", "mastodon"), ("sky", "bluesky"))}
    service = RelayService(store, DryRunPublisher(), targets_for=lambda _feed: tuple(targets.values()),
                           targets=targets)
    post = Post(url="https://www.boulangerie-patisserie-martin-et-fils.fr/2026/11/galette-des-rois-recette/",
                title="La galette des rois 👑")
    message = "Du bon pain chaud, croustillant et doré ! " * 9
    options = ComposeOptions()
    options = replace(options, template=fit_message(message, tagged_link(post, options, today=NOW.date()))[0],
                      message=message)
    decision = service.ingest_post(post, source="webhook", options=options, now=NOW)
    assert decision.outcome == "queued" and len(decision.delivery_ids) == 3
    texts = {d.network: d.text for d in store.list_deliveries()}
    assert weighted_length(texts["x"]) <= 280 and not texts["x"].startswith(message.strip()), "cut for X"
    assert texts["mastodon"].startswith(message.strip()), "500 characters hold the whole message"
    assert mastodon_length(texts["mastodon"]) <= 500
    assert grapheme_count(texts["bluesky"]) <= 300 and texts["bluesky"].startswith("Du bon pain chaud")
    assert short_link(tagged_link(post, replace(options, utm_source="bluesky"), today=NOW.date())) in texts["bluesky"]


def test_an_entry_one_network_cannot_carry_fails_there_only(tmp_path: Path, sqlite_url: str) -> None:
    """A link no X or Mastodon post can hold (an address X and Mastodon do not see as a link weighs its
    length) is a failed delivery there, with the reason; Bluesky, which shows links short, still gets
    it, and the feed's other entries are posted everywhere. It used to stop the whole feed."""
    store = Store(make_engine(sqlite_url))
    apply_migrations(store.engine)
    targets = {name: Target(name, network, composer_for(network))
               for name, network in (("default", "x"), ("toots", "mastodon"), ("sky", "bluesky"))}
    service = RelayService(store, DryRunPublisher(), targets_for=lambda _feed: tuple(targets.values()),
                           targets=targets)
    [feed] = store.sync_feeds(["https://intranet.local/feed"], NOW)
    store.update_feed(feed.id, baseline_at=NOW)
    long_link = "http://10.0.0.7:8080/" + "chantier-" * 200
    document = FeedDocument(posts=(Post(url=long_link, title="Un très long lien", published_at=NOW),
                                   Post(url="https://plombier-nantes.fr/conseils/purge/", title="Purger",
                                        published_at=NOW)))
    result = service.ingest_feed(store.get_feed(feed.id), document, options=ComposeOptions(), backfill=0, now=NOW)
    assert result.new == 2
    by_post: dict[str, dict[str, str]] = {}
    for delivery in store.list_deliveries():
        url = store.get_post(delivery.post_id).url
        by_post.setdefault(url, {})[delivery.network] = delivery.status
        if delivery.status == "failed":
            assert delivery.last_error and "cannot carry this post" in delivery.last_error
    assert by_post[long_link] == {"x": "failed", "mastodon": "failed", "bluesky": "queued"}
    assert by_post["https://plombier-nantes.fr/conseils/purge/"] == dict.fromkeys(("x", "mastodon", "bluesky"),
                                                                                   "queued")

    # `relay outbox` names each delivery's network and account; a delivery that never had a text is not re-queued.
    config = tmp_path / "relay.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n[[accounts]]\nname = "toots"\nnetwork = "mastodon"\n'
                      'instance_url = "https://mastodon.social"\n[[accounts]]\nname = "sky"\nnetwork = "bluesky"\n'
                      'handle = "plombier.bsky.social"\n', encoding="utf-8")
    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", str(config), "outbox"], obj={}, env={}, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "Mastodon/toots" in listed.output and "Bluesky/sky" in listed.output and "X/default" in listed.output
    assert "reason: Mastodon cannot carry this post" in listed.output
    failed = next(d for d in store.list_deliveries(["failed"]) if d.network == "mastodon")
    retried = runner.invoke(cli, ["--config", str(config), "outbox", "retry", str(failed.id)], obj={}, env={})
    assert retried.exit_code == 1 and "has no text to post" in retried.output
    assert next(d for d in store.list_deliveries() if d.id == failed.id).status == "failed"


PNG = png()  # a real one: the PDS reads the PNG at upload (a signature and zeros is a 500)


def test_the_posts_image_goes_to_mastodon_with_its_description_and_to_bluesky_as_the_cards_thumbnail(
    sqlite_url: str, mastodon: MastodonEmulatorServer, bluesky: BlueskyEmulatorServer, feed_server: FeedServer,
) -> None:
    store = Store(make_engine(sqlite_url))
    apply_migrations(store.engine)
    feed_server.set("/photo.png", body=PNG, content_type="image/png")
    toots = MastodonPublisher(mastodon.base_url, mastodon.access_token)
    sky = BlueskyPublisher(BlueskyCredentials(BlueskyConfig.handle, BlueskyConfig.app_password),
                           service_url=bluesky.base_url)
    targets = {name: Target(name, network, composer_for(network))
               for name, network in (("toots", "mastodon"), ("sky", "bluesky"))}
    service = RelayService(store, DryRunPublisher(), accounts={"toots": (toots, Caps()), "sky": (sky, Caps())},
                           targets_for=lambda _feed: tuple(targets.values()), targets=targets,
                           images=SafeFetcher(allow_hosts=["127.0.0.1"]))
    post = Post(url="https://plombier-nantes.fr/chantier/", title="Chantier du jour : une salle de bain",
                image_url=feed_server.url("/photo.png"), image_alt="Une salle de bain rénovée, carrelage bleu")
    service.ingest_post(post, source="webhook", options=ComposeOptions(), now=NOW)
    report = service.publish_due(NOW)
    assert len(report.sent) == 2, report
    [status] = mastodon.statuses()
    [media] = mastodon.media()
    assert status.media_ids == (media.id,) and media.description == "Une salle de bain rénovée, carrelage bleu"
    assert media.data == PNG
    [record] = [p.record for p in bluesky.state.posts.values()]
    external = record["embed"]["external"]
    assert external["title"] == "Chantier du jour : une salle de bain"
    assert external["thumb"]["mimeType"] == "image/png" and external["thumb"]["size"] == len(PNG)
    toots.close()
    sky.close()


def test_the_review_page_counts_each_waiting_post_by_its_network(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url, publishing={"review": True})
    runtime.worker.clock = NOW
    targets = {name: Target(name, network, composer_for(network))
               for name, network in (("default", "x"), ("toots", "mastodon"), ("sky", "bluesky"))}
    runtime.service = RelayService(runtime.store, DryRunPublisher(), targets=targets,
                                   targets_for=lambda _feed: tuple(targets.values()))
    post = Post(url="https://boulangerie-martin.fr/2026/11/galette/", title="La galette des rois, pas à pas")
    runtime.service.ingest_post(post, source="webhook", options=ComposeOptions(), now=NOW)
    toots = next(row for row in runtime.store.waiting_for_review() if row.network == "mastodon")
    with TestClient(build_app(runtime), base_url="http://relay.test") as client:
        assert client.post("/login?lang=fr", data={"token": TOKEN}, follow_redirects=False).status_code == 303
        page = client.get("/?lang=fr").text
        for network in ("X", "Mastodon", "Bluesky"):
            assert f"À publier sur {network}" in page
        assert "sur 500 caractères" in page and "sur 300 caractères" in page and "sur 280 caractères" in page
        assert "comme sur Mastodon" in page and "affiche le lien en court" in page
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
        assert csrf is not None
        words = "Du beurre, des amandes et une fève. " * 10
        text = f"{words.strip()} {toots.link}"
        count = client.post("/review/count?lang=fr", data={"csrf": csrf.group(1), "text": text,
                                                            "delivery": str(toots.delivery_id)}).json()
        assert count["problem"] is None and count["limit"] == 500 and count["length"] == mastodon_length(text)
        approved = client.post(f"/review/{toots.delivery_id}/approve?lang=fr", data={"csrf": csrf.group(1),
                                                                                       "text": text},
                               follow_redirects=False)
        assert approved.status_code == 303 and "done=approved" in approved.headers["location"]
    [queued] = runtime.store.list_deliveries(["queued"])
    assert (queued.network, queued.text) == ("mastodon", text)


@pytest.mark.slow
def test_serve_says_which_accounts_post_for_real_and_never_logs_their_secrets(
    tmp_path: Path, x: EmulatorServer, mastodon: MastodonEmulatorServer, bluesky: BlueskyEmulatorServer,
    feed_server: FeedServer,
) -> None:
    feed_server.set("/feed/", body=rss_feed(range(1, 3)), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "relay.toml"
    config.write_text(
        "[polling]\npublish_interval_seconds = 0.2\n"
        '[[accounts]]\nname = "toots"\nnetwork = "mastodon"\n'
        f'instance_url = "{mastodon.base_url}"\naccess_token = "{mastodon.access_token}"\n\n'
        '[[accounts]]\nname = "sky"\nnetwork = "bluesky"\nhandle = "boulangerie.bsky.social"\n\n'
        f'[[feeds]]\nurl = "{feed_server.url("/feed/")}"\nbackfill = 1\naccounts = ["default", "toots", "sky"]\n',
        encoding="utf-8")
    log = tmp_path / "serve.log"
    env = relay_env(RELAY_CONFIG=str(config), RELAY_SERVER_PORT=str(free_port()), RELAY_X_API_BASE_URL=x.base_url,
                    RELAY_LOG_LEVEL="DEBUG", **X_KEYS)
    process = start_relay(["serve"], env, log, tmp_path)
    try:
        wait_for(lambda: len(x.tweets()) == 1 and len(mastodon.statuses()) == 1
                 and "dry-run: would post" in log.read_text(encoding="utf-8"), what="the post on X, Mastodon, "
                 "and Bluesky's in dry-run")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    output = log.read_text(encoding="utf-8")
    assert "posting to Mastodon" in output
    assert "dry-run for account sky (Bluesky)" in output
    assert bluesky.state.post_count() == 0
    for secret in (mastodon.access_token, *X_KEYS.values()):
        assert secret not in output
