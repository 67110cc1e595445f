"""A real WordPress publish reaches X, Mastodon and Bluesky once each, through the plugin's signed webhook.

WordPress (PHP + MariaDB, see tests/wordpress_site.py) publishes with ``wp_insert_post``, the
relay-connector plugin sends its webhook to a real ``relay serve`` whose ``[wordpress] accounts``
name the three networks; the three emulators live in this process. An edit afterwards posts
nothing anywhere. Skips, saying why, without php, the WordPress files or MariaDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer
from relay.testing.x_emulator import EmulatorServer
from tests.crash_networks import OtherNetworks
from tests.processes import wait_for
from tests.test_wordpress_plugin import SECRET, relay_serve
from tests.test_wordpress_plugin import site as site  # the module's WordPress, started once
from tests.wordpress_site import WordPressSite

pytestmark = pytest.mark.slow


@pytest.fixture
def networks() -> Iterator[tuple[EmulatorServer, MastodonEmulatorServer, BlueskyEmulatorServer]]:
    with EmulatorServer() as x, MastodonEmulatorServer() as mastodon, BlueskyEmulatorServer() as bluesky:
        yield x, mastodon, bluesky


def test_a_wordpress_post_reaches_x_mastodon_and_bluesky_once_each(
    tmp_path: Path, site: WordPressSite,
    networks: tuple[EmulatorServer, MastodonEmulatorServer, BlueskyEmulatorServer],
) -> None:
    x, mastodon, bluesky = networks
    others = OtherNetworks()
    others.mastodon, others.bluesky = mastodon, bluesky  # type: ignore[assignment]  # plain, not slowed
    config = others.accounts_toml() + "[wordpress]\n" + others.targets_line()
    with relay_serve(tmp_path, x, config=config) as relay:
        site.configure_plugin(relay_url=relay.url, secret=SECRET)
        post_id = site.insert_post("Purger ses radiateurs avant l'hiver",
                                   excerpt="Un geste simple pour chauffer mieux.", categories=("Chauffage",))
        link = site.permalink(post_id)
        wait_for(lambda: len(x.tweets()) == 1 and len(mastodon.statuses()) == 1 and bluesky.state.post_count() == 1,
                 timeout=30, what="the post on X, Mastodon and Bluesky")
        wait_for(lambda: relay.delivery_states(post_id) == ["sent"] * 3, timeout=10, what="three deliveries sent")
        site.update_post(post_id, post_title="Purger ses radiateurs avant l'hiver (mis à jour)")
        wait_for(lambda: len(relay.webhook_ids()) == 2, timeout=10, what="the update event at relay")
        assert relay.delivery_states(post_id) == ["sent"] * 3, "the edit queued nothing"

    base = link.split("?")[0]
    [tweet] = x.tweets()
    assert "Purger ses radiateurs" in tweet.text and base.split("://", 1)[1] in tweet.text  # X links no bare IP
    assert others.links_seen() == {"mastodon": {base: 1}, "bluesky": {base: 1}}, "once on each, with the post's link"
    assert mastodon.statuses()[0].idempotency_key, "Mastodon got the delivery's Idempotency-Key"
