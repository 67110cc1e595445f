"""The real tweepy publisher against the X emulator over HTTP: no mock of tweepy anywhere.

The emulator verifies OAuth 1.0a signatures with the same four secrets, over the URL it received,
so every passing call here also proves the base-URL rewrite re-signed the request for the URL it
was really sent to.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from relay.adapters.x import DryRunPublisher, XCredentials, XPublisher, rewrite_url
from relay.core.ports import Publisher
from relay.errors import (
    AccountBlocked,
    DuplicateContent,
    PublishError,
    RateLimited,
    TransientPublishError,
    TweetRejected,
)
from relay.testing.x_emulator import EmulatorServer, OAuth1Keys

SECRETS = XCredentials(
    consumer_key="ck-3f9a1c",
    consumer_secret="cs-SECRET-77d2e0",
    access_token="at-SECRET-5b8c44",
    access_token_secret="ats-SECRET-0e61fa",
)
KEYS = OAuth1Keys("ck-3f9a1c", "cs-SECRET-77d2e0", "at-SECRET-5b8c44", "ats-SECRET-0e61fa")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(keys=KEYS) as running:
        yield running


@pytest.fixture
def x(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    return server


@pytest.fixture
def publisher(x: EmulatorServer) -> XPublisher:
    return XPublisher(SECRETS, api_base_url=x.base_url, timeout=(2.0, 5.0))


def wait_for_tweet(x: EmulatorServer, text: str, within: float = 5.0) -> None:
    """Let a delayed request land, so it cannot leak into the next test after the reset."""
    deadline = time.monotonic() + within
    while text not in [t.text for t in x.tweets()]:
        assert time.monotonic() < deadline, f"{text!r} never reached the emulator"
        time.sleep(0.05)


def failure_of(publisher: XPublisher, text: str) -> PublishError:
    with pytest.raises(PublishError) as caught:
        publisher.publish(text)
    return caught.value


def test_publish_posts_through_the_configured_base_url(x: EmulatorServer, publisher: XPublisher) -> None:
    as_port: Publisher = publisher
    published = as_port.publish("A new post: https://blog.example.com/p/1?utm_source=x")
    (received,) = x.tweets()
    assert received.text == "A new post: https://blog.example.com/p/1?utm_source=x"
    assert published.tweet_id == received.id and not published.dry_run
    assert published.text == received.display_text  # X answers with the link wrapped in t.co
    assert published.text.startswith("A new post: https://t.co/")
    assert [(r["method"], r["path"], r["auth"]) for r in x.requests()] == [("POST", "/2/tweets", "oauth")]


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8399", "http://127.0.0.1:8399/2/tweets?ids=1,2"),
        ("https://proxy.internal/x-api/", "https://proxy.internal/x-api/2/tweets?ids=1,2"),
        ("https://api.twitter.com", "https://api.twitter.com/2/tweets?ids=1,2"),
    ],
)
def test_rewrite_url_keeps_path_and_query(base: str, expected: str) -> None:
    assert rewrite_url("https://api.twitter.com/2/tweets?ids=1,2", base) == expected


def test_rewrite_url_leaves_other_hosts_alone() -> None:
    elsewhere = "https://upload.twitter.com/1.1/media/upload.json"
    assert rewrite_url(elsewhere, "http://127.0.0.1:1") == elsewhere


def test_wrong_secret_is_account_blocked(x: EmulatorServer) -> None:
    wrong = XCredentials(SECRETS.consumer_key, "cs-wrong", SECRETS.access_token, SECRETS.access_token_secret)
    error = failure_of(XPublisher(wrong, api_base_url=x.base_url), "never")
    assert isinstance(error, AccountBlocked)
    assert "credentials" in str(error) and "401" in str(error)
    assert x.tweets() == []


def test_duplicate_is_duplicate_content(publisher: XPublisher) -> None:
    publisher.publish("Said once")
    assert isinstance(failure_of(publisher, "Said once"), DuplicateContent)


def test_too_long_is_tweet_rejected(publisher: XPublisher) -> None:
    error = failure_of(publisher, "x" * 281)
    assert isinstance(error, TweetRejected) and "too long" in str(error)


def test_429_is_rate_limited_until_xs_reset(x: EmulatorServer, publisher: XPublisher) -> None:
    x.inject(status=429, reset_in=120)
    error = failure_of(publisher, "later")
    assert isinstance(error, RateLimited)
    assert error.reset_at is not None and abs(error.reset_at - (time.time() + 120)) <= 2


def test_an_exhausted_window_is_rate_limited() -> None:
    with EmulatorServer(keys=KEYS, tweet_rate_limit=1) as small:
        publisher = XPublisher(SECRETS, api_base_url=small.base_url)
        publisher.publish("first")
        error = failure_of(publisher, "second")
        assert isinstance(error, RateLimited) and error.reset_at is not None and error.reset_at > time.time()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(x: EmulatorServer, publisher: XPublisher, status: int) -> None:
    x.inject(status=status)
    assert isinstance(failure_of(publisher, "retry me"), TransientPublishError)
    publisher.publish("retry me")  # the fault was one-shot: the same text goes through afterwards


def test_no_credits_is_account_blocked_saying_buy_credits(x: EmulatorServer, publisher: XPublisher) -> None:
    x.set_credits(0)
    error = failure_of(publisher, "costs money")
    assert isinstance(error, AccountBlocked)
    assert "credits" in str(error) and "402" in str(error)


@pytest.mark.parametrize(("status", "hint"), [(401, "credentials"), (403, "permission")])
def test_auth_faults_are_account_blocked(x: EmulatorServer, publisher: XPublisher, status: int, hint: str) -> None:
    x.inject(status=status)
    error = failure_of(publisher, "blocked")
    assert isinstance(error, AccountBlocked) and hint in str(error)


def test_a_slow_x_is_a_transient_timeout(x: EmulatorServer) -> None:
    x.inject(delay=1.5)
    impatient = XPublisher(SECRETS, api_base_url=x.base_url, timeout=(2.0, 0.3))
    started = time.monotonic()
    error = failure_of(impatient, "slow")
    assert isinstance(error, TransientPublishError) and "in time" in str(error)
    assert time.monotonic() - started < 1.2  # the adapter's timeout, not the 1.5 s delay, ended it
    wait_for_tweet(x, "slow")  # X got the request and posts it anyway: why a timeout must reconcile


def test_an_unreachable_x_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    publisher = XPublisher(SECRETS, api_base_url=f"http://127.0.0.1:{closed_port}")
    assert isinstance(failure_of(publisher, "nobody home"), TransientPublishError)


def test_a_lost_answer_is_transient_and_the_tweet_is_found_when_reconciling(
    x: EmulatorServer, publisher: XPublisher
) -> None:
    x.inject(accept_then_fail=True)
    text = "Posted, but the answer was lost: https://blog.example.com/p/2"
    assert isinstance(failure_of(publisher, text), TransientPublishError)
    as_port: Publisher = publisher
    (listed,) = as_port.recent_posts()
    assert listed.id == x.tweets()[0].id
    assert listed.text == text and publisher.recent_tweets(publisher.me().id)[0].display_text != text
    assert listed.created_at is not None and abs(listed.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_no_secret_in_any_error_or_repr(x: EmulatorServer, publisher: XPublisher) -> None:
    errors: list[BaseException] = []
    for status in (401, 402, 403, 429, 500):
        x.inject(status=status)
        errors.append(failure_of(publisher, f"status {status}"))
    x.inject(delay=1.0)
    errors.append(failure_of(XPublisher(SECRETS, api_base_url=x.base_url, timeout=(1.0, 0.2)), "slow"))
    wait_for_tweet(x, "slow")
    publisher.publish("dup")
    errors.append(failure_of(publisher, "dup"))
    texts = [repr(SECRETS), str(SECRETS), repr(publisher)]
    for error in errors:
        texts += [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
    secrets = [SECRETS.consumer_secret, SECRETS.access_token, SECRETS.access_token_secret, "SECRET"]
    assert not [(secret, text) for text in texts for secret in secrets if secret in text]
    assert all("Authorization" not in text and "oauth_signature" not in text for text in texts)


def test_recent_tweets_follow_pagination_and_since_id(x: EmulatorServer, publisher: XPublisher) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    seeded = [x.seed_tweet(f"old post {n}", created_at=start + timedelta(minutes=n)) for n in range(130)]
    newest = publisher.publish("newest post")
    account = publisher.me()
    listed = publisher.recent_tweets(account.id, max_results=200)
    assert [t.id for t in listed] == [newest.tweet_id] + [t.id for t in reversed(seeded)]
    assert [r["path"] for r in x.requests()].count(f"/2/users/{account.id}/tweets") == 2
    since = publisher.recent_tweets(account.id, since_id=seeded[-2].id)
    assert [t.text for t in since] == ["newest post", "old post 129"]
    assert len(publisher.recent_tweets(account.id, max_results=7)) == 7


def test_me_is_asked_once(x: EmulatorServer, publisher: XPublisher) -> None:
    assert publisher.me() == publisher.me()
    assert publisher.me().username == "relay_emulator"
    assert [r["path"] for r in x.requests()] == ["/2/users/me"]


def test_tweet_metrics_private_counters_until_30_days(x: EmulatorServer, publisher: XPublisher) -> None:
    fresh = publisher.publish("fresh").tweet_id
    old = x.seed_tweet("old", created_at=datetime.now(UTC) - timedelta(days=40)).id
    x.set_metrics(fresh, public={"like_count": 3, "impression_count": 50}, non_public={"url_link_clicks": 9})
    x.set_metrics(old, public={"retweet_count": 2})
    metrics = publisher.tweet_metrics([fresh, old, "1234"])
    assert set(metrics) == {fresh, old}
    counted = metrics[fresh]
    assert (counted.like_count, counted.impression_count, counted.url_link_clicks) == (3, 50, 9)
    assert metrics[old].retweet_count == 2 and metrics[old].url_link_clicks is None
    assert metrics[old].user_profile_clicks is None


def test_upload_image_with_alt_text_then_post_it(x: EmulatorServer, publisher: XPublisher) -> None:
    media_id = publisher.upload_image(PNG, "image/png", alt_text="The post's cover")
    (media,) = x.media()
    assert (media.id, media.alt_text, media.size) == (media_id, "The post's cover", len(PNG))
    publisher.publish("With a picture", media_ids=[media_id])
    assert x.tweets()[0].media_ids == (media_id,)


def test_upload_of_a_non_image_is_rejected(publisher: XPublisher) -> None:
    with pytest.raises(TweetRejected):
        publisher.upload_image(b"<html>not an image</html>", "image/png")


def test_upload_errors_are_mapped_the_same_way(x: EmulatorServer, publisher: XPublisher) -> None:
    x.inject(path="/2/media/upload", status=503)
    with pytest.raises(TransientPublishError):
        publisher.upload_image(PNG, "image/png")


def test_dry_run_posts_nothing_and_logs_the_text(caplog: pytest.LogCaptureFixture) -> None:
    dry: Publisher = DryRunPublisher()
    with caplog.at_level(logging.INFO, logger="relay.publisher"):
        first, second = dry.publish("Would say this"), dry.publish("And this")
    assert dry.dry_run and list(dry.recent_posts()) == []
    assert (first.tweet_id, second.tweet_id) == ("dry-run-1", "dry-run-2")
    assert first.dry_run and first.text == "Would say this"
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]
    assert "Would say this" in caplog.records[0].getMessage()


def test_a_gif_goes_through_the_chunked_upload_and_waits_for_processing(x: EmulatorServer,
                                                                        publisher: XPublisher) -> None:
    """X takes GIFs only through the chunked upload (``tweet_gif``), and a post naming media still
    being processed is refused: relay uploads in segments, waits for ``succeeded``, then posts."""
    import relay.adapters.x as x_adapter

    gif = b"GIF89a" + bytes(range(256)) * 40_000  # ~10 MB: three segments of at most 4 MB
    started = time.monotonic()
    media_id = publisher.upload_image(gif, "image/gif", alt_text="Une flamme qui danse")
    assert time.monotonic() - started >= 0.9, "relay waited for X's processing (1 s in the emulator)"
    [media] = [m for m in x.media() if m.id == media_id]
    assert (media.category, media.mime, media.size, media.state) == ("tweet_gif", "image/gif", len(gif), "succeeded")
    assert len(media.segments) == -(-len(gif) // x_adapter.CHUNK_BYTES)
    assert media.alt_text == "Une flamme qui danse"
    posted = publisher.publish("Le feu de bois, en image https://boulangerie.example/feu/", [media_id])
    assert [t.media_ids for t in x.tweets() if t.id == posted.tweet_id] == [(media_id,)]
