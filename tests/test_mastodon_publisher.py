"""The Mastodon publisher against the emulator over real HTTP: no mock of HTTP anywhere."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from relay.adapters.mastodon import MastodonPublisher, error_for_response, read_content
from relay.core.mastodon_text import MastodonLimits
from relay.core.ports import Publisher
from relay.errors import (
    AccountBlocked,
    PostRefused,
    RateLimited,
    TransientPublishError,
    TweetRejected,
)
from relay.testing.mastodon_emulator import MastodonEmulatorServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
START = 1_800_000_000.0
ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mastodon(clock: Clock) -> Iterator[MastodonEmulatorServer]:
    with MastodonEmulatorServer(clock=clock) as server:
        yield server


@pytest.fixture
def publisher(mastodon: MastodonEmulatorServer) -> Iterator[MastodonPublisher]:
    with MastodonPublisher(mastodon.base_url, mastodon.access_token, sleep=lambda _: None) as found:
        yield found


def test_it_has_the_shape_of_the_port(publisher: MastodonPublisher) -> None:
    port: Publisher = publisher
    assert port.dry_run is False
    assert "token" not in repr(publisher)


def test_a_status_is_posted(publisher: MastodonPublisher, mastodon: MastodonEmulatorServer) -> None:
    published = publisher.publish("Hello from relay https://example.com/post")
    assert [s.id for s in mastodon.statuses()] == [published.tweet_id]
    assert mastodon.statuses()[0].text == "Hello from relay https://example.com/post"


def test_a_retry_with_the_same_idempotency_key_makes_one_status(
    publisher: MastodonPublisher, mastodon: MastodonEmulatorServer
) -> None:
    mastodon.inject(status=502, accept_then_fail=True)  # posted, then the proxy failed
    with pytest.raises(TransientPublishError):
        publisher.publish("exactly once", idempotency_key="delivery-42")
    again = publisher.publish("exactly once", idempotency_key="delivery-42")
    assert mastodon.posts_created == 1
    assert [s.id for s in mastodon.statuses()] == [again.tweet_id]
    keys = [r["idempotency_key"] for r in mastodon.requests() if r["path"] == "/api/v1/statuses"]
    assert keys == ["delivery-42", "delivery-42"]


def test_without_a_key_a_retry_doubles(publisher: MastodonPublisher, mastodon: MastodonEmulatorServer) -> None:
    """Why the key matters: the same retry without it makes a second status."""
    mastodon.inject(status=502, accept_then_fail=True)
    with pytest.raises(TransientPublishError):
        publisher.publish("twice")
    publisher.publish("twice")
    assert mastodon.posts_created == 2


def test_media_is_uploaded_with_its_description_and_attached(
    publisher: MastodonPublisher, mastodon: MastodonEmulatorServer
) -> None:
    media_id = publisher.upload_image(PNG, "image/png", alt_text="Une douche à l’italienne")
    publisher.publish("with an image", [media_id], idempotency_key="k")
    [media] = mastodon.media()
    assert media.description == "Une douche à l’italienne"
    assert mastodon.statuses()[0].media_ids == (media_id,)


def test_media_still_processing_is_waited_for_boundedly() -> None:
    pauses: list[float] = []
    with MastodonEmulatorServer(media_processing_polls=2) as slow, \
            MastodonPublisher(slow.base_url, slow.access_token, sleep=pauses.append) as publisher:
        media_id = publisher.upload_image(PNG, "image/png", alt_text="alt")
        publisher.publish("after processing", [media_id])
        assert len(pauses) == 3 and slow.posts_created == 1
    with MastodonEmulatorServer(media_processing_polls=100) as stuck, \
            MastodonPublisher(stuck.base_url, stuck.access_token, sleep=lambda _: None,
                              processing_wait=3) as publisher, pytest.raises(TransientPublishError,
                                                                             match="still processing"):
        publisher.upload_image(PNG, "image/png")


def test_a_bad_token_pauses_the_account_and_is_never_shown(mastodon: MastodonEmulatorServer) -> None:
    secret = "s3cr3t-token-value"
    with MastodonPublisher(mastodon.base_url, secret) as publisher:
        with pytest.raises(AccountBlocked) as caught:
            publisher.publish("hi")
        assert "access token" in str(caught.value) and secret not in str(caught.value)
        assert secret not in repr(publisher)
        with pytest.raises(AccountBlocked):
            publisher.recent_posts()


def test_too_long_is_rejected_and_other_refusals_refuse_the_post(publisher: MastodonPublisher) -> None:
    with pytest.raises(TweetRejected, match="character limit of 500"):
        publisher.publish("a" * 501)
    with pytest.raises(PostRefused, match="blank"):
        publisher.publish("   ")


def test_a_rate_limit_carries_the_reset_time(publisher: MastodonPublisher, mastodon: MastodonEmulatorServer) -> None:
    mastodon.exhaust_rate_limit("statuses")
    with pytest.raises(RateLimited) as caught:
        publisher.publish("hi", idempotency_key="k")
    assert caught.value.reset_at == START + 300
    assert "2027-01-15 08:05:00 UTC" in str(caught.value)


def test_server_errors_and_timeouts_are_retryable(
    publisher: MastodonPublisher, mastodon: MastodonEmulatorServer
) -> None:
    mastodon.inject(status=503)
    with pytest.raises(TransientPublishError, match="retry later"):
        publisher.publish("hi")
    mastodon.inject(status=None, delay=1.0)
    with MastodonPublisher(mastodon.base_url, mastodon.access_token,
                           timeout=httpx.Timeout(0.2)) as impatient, \
            pytest.raises(TransientPublishError, match="may still have done it"):
        impatient.publish("late")


def test_an_unreachable_or_unusable_instance() -> None:
    with MastodonPublisher("http://127.0.0.1:9", "t") as publisher, pytest.raises(TransientPublishError):
        publisher.publish("hi")
    with MastodonPublisher("ftp://example.invalid", "t") as publisher, pytest.raises(AccountBlocked):
        publisher.publish("hi")


def test_recent_posts_pages_back_with_links(publisher: MastodonPublisher, mastodon: MastodonEmulatorServer) -> None:
    for n in range(45):
        mastodon.seed_status(f"Post {n}\n\n#Tag https://blog.exemple.fr/{n}?utm_source=mastodon",
                             created_at=datetime.fromtimestamp(START + 60 * n, UTC))
    found = publisher.recent_posts(max_results=42)
    assert len(found) == 42
    assert found[0].text == "Post 44\n\n#Tag https://blog.exemple.fr/44?utm_source=mastodon"
    assert found[0].links == ("https://blog.exemple.fr/44?utm_source=mastodon",)
    assert found[0].created_at == datetime.fromtimestamp(START + 60 * 44, UTC)
    assert found[-1].text.startswith("Post 3\n")
    pages = [r for r in mastodon.requests() if r["path"].endswith("/statuses") and r["method"] == "GET"]
    assert len(pages) == 2 and "max_id=" in str(pages[1]["query"])
    since = publisher.recent_posts(since=datetime.fromtimestamp(START + 60 * 40, UTC))
    assert [s.text.split("\n")[0] for s in since] == [f"Post {n}" for n in range(44, 39, -1)]


def test_metrics_and_limits(publisher: MastodonPublisher, mastodon: MastodonEmulatorServer) -> None:
    published = publisher.publish("counted")
    mastodon.set_counts(published.tweet_id, favourites=5, reblogs=2, replies=1)
    metrics = publisher.status_metrics([published.tweet_id, "1"])
    assert list(metrics) == [published.tweet_id]
    assert (metrics[published.tweet_id].favourites_count, metrics[published.tweet_id].reblogs_count,
            metrics[published.tweet_id].replies_count) == (5, 2, 1)
    assert publisher.instance_limits() == MastodonLimits()
    assert publisher.me().username == "relay"


def test_read_content_keeps_text_and_real_links() -> None:
    content = ('<p>Titre &amp; co</p><p>ligne<br />deux <a href="https://m.example/tags/x" class="mention hashtag" '
               'rel="tag">#<span>x</span></a> <span class="h-card"><a href="https://m.example/@a" '
               'class="u-url mention">@<span>a</span></a></span> <a href="https://blog.exemple.fr/p" rel="nofollow">'
               '<span class="invisible">https://</span><span class="">blog.exemple.fr/p</span>'
               '<span class="invisible"></span></a></p>')
    text, links = read_content(content)
    assert text == "Titre & co\n\nligne\ndeux #x @a https://blog.exemple.fr/p"
    assert links == ("https://blog.exemple.fr/p",)


def test_error_mapping_reads_mastodon_answers() -> None:
    def answer(status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json={"error": message})

    assert isinstance(error_for_response(answer(403, "This action is outside the authorized scopes"), "post"),
                      AccountBlocked)
    assert isinstance(error_for_response(answer(422, "Cannot attach files that have not finished processing. "
                                                     "Try again in a moment!"), "post a status"),
                      TransientPublishError)
    limited = error_for_response(httpx.Response(429, json={"error": "Too many requests"},
                                                headers={"X-RateLimit-Reset": "2027-01-15T08:05:00.019685Z"}), "post")
    assert isinstance(limited, RateLimited) and limited.reset_at == pytest.approx(START + 300.019685)


def test_no_module_but_wiring_imports_the_mastodon_publisher() -> None:
    users = []
    for path in (ROOT / "relay").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "relay.adapters.mastodon":
                users.append(path.name)
    assert set(users) <= {"wiring.py"}, users


def test_starting_relay_does_not_load_the_mastodon_adapter() -> None:
    code = "import sys, relay.wiring, relay.cli.main; print('relay.adapters.mastodon' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
