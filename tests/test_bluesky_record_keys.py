"""Record keys of deliveries queued in the same poll round never collide, and a key that holds another
post is never taken for this one.

A poll round records every new post with the round's one ``now``, so all its deliveries share
``queued_at`` to the microsecond. The key used to be (queued_at µs, delivery id mod 1024): two
Bluesky deliveries of one round with ids 1024 apart (513 posts to ``["default", "sky"]``, say, after a
CMS migration was released) got the same key; the second create then hit the first's record, read
it back with ``getRecord``, and was marked sent with the first post's AT URI: a post lost in silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from relay.adapters.bluesky import BlueskyCredentials, BlueskyPublisher
from relay.core.bluesky_tid import is_tid, record_key_for_delivery, tid_to_int
from relay.core.ports import Outgoing
from relay.errors import PostRefused
from relay.testing.bluesky_emulator import EmulatorConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer

ROUND = datetime(2026, 1, 15, 9, 30, 12, 345678, tzinfo=UTC)
CONFIG = EmulatorConfig()


@pytest.fixture
def pds() -> Iterator[BlueskyEmulatorServer]:
    with BlueskyEmulatorServer() as server:
        yield server


@pytest.fixture
def bluesky(pds: BlueskyEmulatorServer) -> Iterator[BlueskyPublisher]:
    publisher = BlueskyPublisher(BlueskyCredentials(CONFIG.handle, CONFIG.app_password), service_url=pds.base_url,
                                 timeout=httpx.Timeout(5.0))
    yield publisher
    publisher.close()


def test_deliveries_of_one_round_get_distinct_keys_whatever_their_ids() -> None:
    keys = [record_key_for_delivery(delivery_id, ROUND) for delivery_id in range(1, 5000)]
    assert len(set(keys)) == len(keys), "one key per delivery, even 1024 ids apart"
    assert all(is_tid(key) for key in keys)
    assert record_key_for_delivery(7, ROUND) != record_key_for_delivery(7 + 1024, ROUND)


def test_later_deliveries_get_later_keys() -> None:
    """Keys still sort like the posts (the AppView lists a repository's posts by key)."""
    later = ROUND.replace(microsecond=ROUND.microsecond + 1)
    ids = [1, 1023, 1024, 1025, 2048, 5000]
    keys = [tid_to_int(record_key_for_delivery(i, ROUND)) for i in ids]
    assert keys == sorted(keys)
    assert tid_to_int(record_key_for_delivery(5001, later)) > keys[-1]


def test_two_posts_of_one_round_1024_deliveries_apart_both_reach_bluesky(
    bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer,
) -> None:
    first = bluesky.publish("Conseil n°1 https://blog.example.fr/1", outgoing=Outgoing(3, ROUND))
    second = bluesky.publish("Conseil n°2 https://blog.example.fr/2", outgoing=Outgoing(3 + 1024, ROUND))
    assert first.tweet_id != second.tweet_id, "the second post was not taken for the first"
    assert pds.state.post_count() == 2
    texts = sorted(post.record["text"] for post in pds.state.posts.values())
    assert texts == ["Conseil n°1 https://blog.example.fr/1", "Conseil n°2 https://blog.example.fr/2"]


def test_a_key_holding_another_post_is_not_taken_for_this_one(
    bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer,
) -> None:
    key = record_key_for_delivery(4, ROUND)
    bluesky.publish("Un autre billet https://blog.example.fr/autre", record_key=key)
    with pytest.raises(PostRefused, match="already holds another post"):
        bluesky.publish("Conseil n°4 https://blog.example.fr/4", record_key=key)
    assert pds.state.post_count() == 1
