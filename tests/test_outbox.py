"""The outbox against the X emulator's fault injection: every answer X can give.

Real tweepy publisher, real HTTP, real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest

from relay.adapters.x import XCredentials, XPublisher
from relay.core.models import Post, Tweet
from relay.core.policy import Caps
from relay.pipeline.outbox import PAUSE_RECHECK
from relay.pipeline.service import RelayService
from relay.store.engine import apply_migrations, make_engine
from relay.store.outbox import FAILED, QUEUED, SENDING, SENT, SKIPPED
from relay.store.rows import Message, NewPost
from relay.store.store import Store
from relay.testing.x_emulator import EmulatorServer

CREDENTIALS = XCredentials("ck-o", "cs-o", "at-o", "ats-o")


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    apply_migrations(engine)
    yield Store(engine)
    engine.dispose()


def service_for(store: Store, emulator: EmulatorServer, caps: Caps | None = None) -> RelayService:
    return RelayService(store, XPublisher(CREDENTIALS, api_base_url=emulator.base_url), caps=caps)


def queue(store: Store, n: int, now: datetime, *, text: str | None = None) -> int:
    url = f"https://plombier-nantes.fr/conseils/{n}/"
    tweet_text = text or f"Conseil n°{n} : purger ses radiateurs avant l'hiver {url}"
    item = NewPost(
        post=Post(url=url, title=f"Conseil n°{n}"),
        dedup_key=f"url:{url}",
        normalized_url=url,
        source="feed",
        messages=(Message("default", Tweet(text=tweet_text, link=url, weighted_length=len(tweet_text))),),
    )
    [delivery_id] = store.record_posts(None, [item], now)
    return delivery_id


def state(store: Store, delivery_id: int) -> tuple[str, list[str]]:
    [row] = [d for d in store.list_deliveries() if d.id == delivery_id]
    return row.status, [a["outcome"] for a in store.attempts_for(delivery_id)]


def now() -> datetime:
    return datetime.now(UTC)


def test_posted_once_with_tweet_id_and_cost(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    delivery_id = queue(store, 1, now())
    report = service.publish_due(now())
    assert report.sent == [delivery_id]
    [tweet] = emulator.tweets()
    [row] = store.list_deliveries([SENT])
    assert row.tweet_id == tweet.id and row.text == tweet.text
    assert state(store, delivery_id) == (SENT, ["sent"])
    assert service.publish_due(now()).sent == []


def test_429_waits_for_the_reset_header(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    delivery_id = queue(store, 1, now())
    emulator.inject(status=429, reset_in=120)
    before = now()
    assert service.publish_due(before).retried == [delivery_id]
    [row] = store.list_deliveries([QUEUED])
    assert row.next_attempt_at >= before + timedelta(seconds=119), "waits at least until x-rate-limit-reset"
    assert row.next_attempt_at <= before + timedelta(seconds=135), "plus a little jitter, not more"
    assert service.publish_due(now()).sent == [], "nothing is tried before the reset"
    assert service.publish_due(row.next_attempt_at).sent == [delivery_id]
    assert len(emulator.tweets()) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_back_off_then_post_once(store: Store, emulator: EmulatorServer, status: int) -> None:
    service = service_for(store, emulator)
    delivery_id = queue(store, 1, now())
    emulator.inject(status=status, times=2)
    t0 = now()
    assert service.publish_due(t0).retried == [delivery_id]
    first = store.list_deliveries([QUEUED])[0].next_attempt_at
    assert first >= t0 + timedelta(seconds=30)
    assert service.publish_due(first).retried == [delivery_id]
    second = store.list_deliveries([QUEUED])[0].next_attempt_at
    assert second - first >= timedelta(seconds=60), "the delay doubles"
    assert service.publish_due(second).sent == [delivery_id]
    assert len(emulator.tweets()) == 1
    assert state(store, delivery_id)[1] == ["error", "error", "sent"]


def test_accepted_but_answer_lost_is_found_not_posted_again(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    delivery_id = queue(store, 1, now())
    emulator.inject(status=503, accept_then_fail=True)
    t0 = now()
    assert service.publish_due(t0).retried == [delivery_id]
    assert len(emulator.tweets()) == 1, "X kept the tweet although it answered 503"
    retry_at = store.list_deliveries([QUEUED])[0].next_attempt_at
    assert service.publish_due(retry_at).sent == [delivery_id]
    [tweet] = emulator.tweets()
    [row] = store.list_deliveries([SENT])
    assert row.tweet_id == tweet.id
    assert state(store, delivery_id)[1] == ["error", "reconciled"]
    posts = [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == "/2/tweets"]
    assert len(posts) == 1, "relay never sent the text a second time"


def test_duplicate_is_skipped(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    text = "Déjà publié à la main https://plombier-nantes.fr/conseils/1/"
    delivery_id = queue(store, 1, now(), text=text)
    emulator.seed_tweet(text, created_at=now() - timedelta(days=3))
    report = service.publish_due(now())
    assert report.skipped == [delivery_id]
    status, outcomes = state(store, delivery_id)
    assert (status, outcomes) == (SKIPPED, ["duplicate"])
    assert "duplicate content" in store.list_deliveries([SKIPPED])[0].last_error


def test_duplicate_republish_is_varied_once(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    first = queue(store, 1, now())
    service.publish_due(now())
    post_id = store.list_deliveries([SENT])[0].post_id
    again = store.add_variant(post_id, Tweet(text=emulator.tweets()[0].text, link="x", weighted_length=1), now())
    report = service.publish_due(now())
    assert report.retried == [again] and report.sent == [again], "varied, queued again, posted"
    assert state(store, again) == (SENT, ["duplicate", "sent"])
    texts = [t.text for t in emulator.tweets()]
    assert len(texts) == 2 and texts[0] != texts[1]
    assert "utm_content=v1b" in texts[1]
    assert state(store, first)[0] == SENT


def test_too_long_is_recomposed_shorter_once_then_fails(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    delivery_id = queue(store, 1, now())
    emulator.inject(status=400, times=1)
    report = service.publish_due(now())
    assert report.retried == [delivery_id] and report.sent == [delivery_id]
    [tweet] = emulator.tweets()
    assert tweet.text.startswith("Conseil n°1 ")

    second = queue(store, 2, now())
    emulator.inject(status=400, times=2)
    assert service.publish_due(now()).failed == [second]
    assert state(store, second) == (FAILED, ["rejected", "rejected"])


@pytest.mark.parametrize(("status", "words"), [(401, "credentials"), (402, "credits"), (403, "permission")])
def test_account_problems_pause_and_keep_everything_queued(
    store: Store, emulator: EmulatorServer, status: int, words: str
) -> None:
    service = service_for(store, emulator)
    ids = [queue(store, n, now()) for n in (1, 2, 3)]
    emulator.inject(status=status, times=1)
    t0 = now()
    report = service.publish_due(t0)
    assert report.blocked_reason and words in report.blocked_reason.lower()
    assert service.blocked_reason == report.blocked_reason
    assert {d.id for d in store.list_deliveries([QUEUED])} == set(ids)
    calls = len(emulator.requests())
    later = t0 + timedelta(minutes=5)
    assert service.publish_due(later).blocked_reason is not None
    assert len(emulator.requests()) == calls, "no tight retry loop while paused"
    resumed = service.publish_due(t0 + PAUSE_RECHECK + timedelta(seconds=1))
    assert sorted(resumed.sent) == ids
    assert service.blocked_reason is None
    assert len(emulator.tweets()) == 3


def test_daily_cap_and_spacing_hold_posts_in_the_queue(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator, Caps(daily_cap=2, min_spacing=timedelta(minutes=10)))
    ids = [queue(store, n, now()) for n in (1, 2, 3)]
    t0 = now()
    report = service.publish_due(t0)
    assert report.sent == ids[:1] and "spacing" in (report.held_reason or "")
    assert service.publish_due(t0 + timedelta(minutes=11)).sent == ids[1:2]
    capped = service.publish_due(t0 + timedelta(minutes=22))
    assert capped.sent == [] and "daily cap" in (capped.held_reason or "")
    assert service.publish_due(t0 + timedelta(hours=24, minutes=1)).sent == ids[2:]


def test_quiet_hours_in_the_account_time_zone(store: Store, emulator: EmulatorServer) -> None:
    caps = Caps(quiet_start=time(22, 0), quiet_end=time(7, 0), timezone="Europe/Paris")
    service = service_for(store, emulator, caps)
    queue(store, 1, datetime(2026, 11, 1, tzinfo=UTC))
    night = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 00:30 in Paris
    held = service.publish_due(night)
    assert held.sent == [] and "quiet hours until 2026-11-26T07:00" in (held.held_reason or "")
    assert service.publish_due(datetime(2026, 11, 26, 6, 1, tzinfo=UTC)).sent != []  # 07:01 in Paris


def test_monthly_budget_stops_posting_and_tells_the_operator(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator, Caps(monthly_budget_usd=0.45))
    ids = [queue(store, n, now()) for n in (1, 2, 3)]
    report = service.publish_due(now())
    assert report.sent == ids[:2], "two posts with a link cost $0.40"
    assert "monthly budget reached" in (report.held_reason or "")
    assert service.outbox.needs_operator
    assert store.list_deliveries([QUEUED])[0].id == ids[2]


def test_crash_after_x_accepted_is_reconciled_at_start(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    posted, lost = queue(store, 1, now()), queue(store, 2, now())
    claimed = store.claim_due(now(), 2)
    assert {d.status for d in claimed} == {SENDING}
    # The process died after X accepted the first and before the second was sent.
    emulator.seed_tweet(claimed[0].text)
    # Even a sole worker restarting leaves them while the lease runs: the dead process's
    # request may still be in flight, and X lists a post only once it answered.
    assert service.outbox.recover(now()) == []
    assert sorted(service.outbox.recover(now() + timedelta(seconds=91))) == [posted, lost]
    assert state(store, posted) == (SENT, ["reconciled"])
    assert state(store, lost) == (QUEUED, ["interrupted"])
    assert service.publish_due(now()).sent == [lost]
    assert sorted(t.text for t in emulator.tweets()) == sorted(d.text for d in claimed)


def test_unexpired_lease_is_left_to_its_worker(store: Store, emulator: EmulatorServer) -> None:
    service = service_for(store, emulator)
    queue(store, 1, now())
    store.claim_due(now(), 1)
    assert service.outbox.recover(now()) == [], "another live worker may be posting it"
    assert service.outbox.recover(now() + timedelta(minutes=2)) != []


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def queue_with_image(store: Store, image_url: str, when: datetime) -> int:
    url = "https://plombier-nantes.fr/chantier/"
    text = f"Chantier du jour {url}"
    item = NewPost(
        post=Post(url=url, title="Chantier", image_url=image_url, image_alt="Une salle de bain rénovée"),
        dedup_key=f"url:{url}", normalized_url=url, source="feed",
        messages=(Message("default", Tweet(text=text, link=url, weighted_length=len(text))),),
    )
    return store.record_posts(None, [item], when)[0]


def test_featured_image_is_uploaded_with_alt_text(store: Store, emulator: EmulatorServer) -> None:
    from relay.adapters.safe_fetch import SafeFetcher
    from tests.feed_server import FeedServer

    with FeedServer() as images:
        images.set("/photo.png", body=PNG, content_type="image/png")
        service = RelayService(store, XPublisher(CREDENTIALS, api_base_url=emulator.base_url),
                               images=SafeFetcher(allow_hosts=["127.0.0.1"]))
        queue_with_image(store, images.url("/photo.png"), now())
        assert len(service.publish_due(now()).sent) == 1
    [tweet] = emulator.tweets()
    [media] = emulator.media()
    assert tweet.media_ids == (media.id,)
    assert media.alt_text == "Une salle de bain rénovée"


@pytest.mark.parametrize("where", ["missing", "private"])
def test_a_bad_image_means_a_post_without_image(store: Store, emulator: EmulatorServer, where: str) -> None:
    from relay.adapters.safe_fetch import SafeFetcher
    from tests.feed_server import FeedServer

    with FeedServer() as images:
        url = images.url("/nope.png") if where == "missing" else images.url("/photo.png")
        images.set("/photo.png", body=PNG, content_type="image/png")
        allow = ["127.0.0.1"] if where == "missing" else []
        service = RelayService(store, XPublisher(CREDENTIALS, api_base_url=emulator.base_url),
                               images=SafeFetcher(allow_hosts=allow))
        queue_with_image(store, url, now())
        assert len(service.publish_due(now()).sent) == 1
    [tweet] = emulator.tweets()
    assert tweet.media_ids == ()


def test_health_shows_why_posts_wait(tmp_path, emulator: EmulatorServer) -> None:
    import httpx

    from tests.test_webhook_route import relay_app

    with relay_app(tmp_path, emulator, config="[publishing]\nmonthly_budget_usd = 0.01\n") as app:
        queue(app.runtime.store, 1, now())
        app.runtime.service.publish_due(now())
        health = httpx.get(f"{app.url}/healthz").json()
    assert health["status"] == "ok"
    assert "monthly budget reached" in health["posts_waiting"]


# -- exactly once against X as it answers (issue: t.co links, media links, slow answers) ----------


def test_a_post_x_refuses_for_itself_fails_alone_and_the_account_keeps_posting(
    store: Store, emulator: EmulatorServer,
) -> None:
    service = service_for(store, emulator)
    refused, next_one = queue(store, 1, now()), queue(store, 2, now())
    emulator.inject(status=403, detail="You are not permitted to perform this action.")
    report = service.publish_due(now())
    assert report.failed == [refused] and report.sent == [next_one]
    assert report.blocked_reason is None and service.outbox.blocked_reason is None
    status, outcomes = state(store, refused)
    assert (status, outcomes) == (FAILED, ["refused"])
    [row] = [d for d in store.list_deliveries() if d.id == refused]
    assert "not permitted to perform this action" in (row.last_error or "")


def test_an_ambiguous_attempt_is_not_posted_again_while_x_cannot_be_asked(
    store: Store, emulator: EmulatorServer,
) -> None:
    service = service_for(store, emulator)
    delivery = queue(store, 1, now())
    emulator.inject(status=503, accept_then_fail=True)  # X posted it, and the answer was lost
    assert service.publish_due(now()).retried == [delivery]
    later = now() + timedelta(hours=2)
    emulator.inject("/2/users/me", method="GET", status=503)  # the timeline cannot be read this time
    report = service.publish_due(later)
    assert report.sent == [] and report.retried == [delivery], "it waits instead of posting blind"
    assert len(emulator.tweets()) == 1
    [row] = [d for d in store.list_deliveries() if d.id == delivery]
    assert row.status == QUEUED and row.next_attempt_at > later
    assert service.publish_due(row.next_attempt_at + timedelta(seconds=1)).sent == [delivery]
    assert len(emulator.tweets()) == 1, "found on X once it could be asked: never posted twice"
    assert state(store, delivery)[1][-1] == "reconciled"


def test_the_retry_time_counts_from_when_a_slow_attempt_ended(store: Store, emulator: EmulatorServer) -> None:
    service = RelayService(store, XPublisher(CREDENTIALS, api_base_url=emulator.base_url, timeout=(5.0, 1.0)))
    delivery = queue(store, 1, now())
    round_started = now()
    emulator.inject(delay=2.5)  # slower than the 1 s read timeout: the client gives up first
    assert service.publish_due(round_started).retried == [delivery]
    [row] = [d for d in store.list_deliveries() if d.id == delivery]
    waited = row.next_attempt_at - round_started
    assert waited >= timedelta(seconds=30) + timedelta(seconds=0.9), waited


def test_the_lease_covers_each_request_from_when_it_starts(store: Store, emulator: EmulatorServer) -> None:
    """The second post of a round whose first one was slow gets a lease counted from its own request."""
    service = service_for(store, emulator)
    queue(store, 1, now() - timedelta(minutes=10))
    queue(store, 2, now() - timedelta(minutes=10))
    emulator.inject(delay=1.5)  # X takes its time with the first post (and does post it)
    round_started = now()
    leases: list[datetime] = []
    original = service.outbox.publisher.publish

    def spy(text: str, media_ids: object = None, **delivery: object) -> object:
        [sending] = [d for d in store.list_deliveries() if d.status == SENDING]
        assert sending.lease_until is not None
        leases.append(sending.lease_until)
        return original(text, media_ids, **delivery)  # type: ignore[arg-type]

    service.outbox.publisher.publish = spy  # type: ignore[method-assign]
    assert len(service.publish_due(round_started).sent) == 2
    assert leases[0] >= round_started + timedelta(seconds=90)
    assert leases[1] >= round_started + timedelta(seconds=91.4), "counted from the second request, not the round"


def test_a_worker_whose_delivery_was_taken_over_does_not_post_it(store: Store) -> None:
    delivery_id = queue(store, 1, now())
    [claimed] = store.claim_due(now(), 1)
    assert store.take_over(delivery_id, now() + timedelta(minutes=3), lease=timedelta(seconds=90))
    assert not store.extend_lease(delivery_id, held_until=claimed.lease_until, until=now() + timedelta(minutes=9))


def test_no_request_to_x_outlives_the_lease_it_was_started_under(emulator: EmulatorServer) -> None:
    """The X client's total deadline, plus margin, fits inside the in-flight lease; and it holds."""
    import time as clock

    from relay.adapters.x import DEADLINE_SECONDS, DEFAULT_TIMEOUT
    from relay.errors import TransientPublishError
    from relay.pipeline.outbox import LEASE

    assert timedelta(seconds=DEADLINE_SECONDS + 30) <= LEASE
    assert DEFAULT_TIMEOUT[0] + DEFAULT_TIMEOUT[1] <= DEADLINE_SECONDS
    publisher = XPublisher(CREDENTIALS, api_base_url=emulator.base_url, timeout=(5.0, 30.0), deadline=1.0)
    emulator.inject(delay=4.0)
    started = clock.monotonic()
    with pytest.raises(TransientPublishError, match="did not answer in time"):
        publisher.publish("Un message qui attend trop longtemps")
    assert clock.monotonic() - started < 3.0, "the total deadline, not the 30 s read timeout, ended the wait"


def test_one_timeline_read_serves_every_delivery_to_look_for_in_a_round(store: Store, emulator: EmulatorServer) -> None:
    """X rate-limits timeline reads (900 per 15 minutes) and bills each post they return: ten deliveries
    whose answers were lost are looked for with one read of the timeline, not ten."""
    service = service_for(store, emulator)
    ids = [queue(store, n, now()) for n in range(1, 11)]
    emulator.inject(status=503, accept_then_fail=True, times=10)  # X posted each, the answers were lost
    assert sorted(service.publish_due(now(), limit=20).retried) == ids
    timeline = f"/2/users/{emulator.state.config.user_id}/tweets"
    before = sum(1 for r in emulator.requests() if r["path"] == timeline)
    report = service.publish_due(now() + timedelta(hours=1), limit=20)
    assert sorted(report.sent) == ids and len(emulator.tweets()) == 10, "each found on X, none posted twice"
    assert sum(1 for r in emulator.requests() if r["path"] == timeline) - before == 1
