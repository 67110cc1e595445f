"""Tracked mode end to end: the tweet carries {public_url}/r/CODE, which redirects and counts the click."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from relay.core.length import weighted_length
from relay.store.schema import clicks
from relay.testing.x_emulator import EmulatorServer
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import wait_for
from tests.test_webhook_route import relay_app

PUBLIC = "https://go.boulangerie.fr"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


def test_tweets_carry_tracked_links_that_redirect_and_count(tmp_path: Path, emulator: EmulatorServer) -> None:
    with FeedServer() as feeds:
        feeds.set("/feed/", body=rss_feed(range(1, 3), host="boulangerie.fr"))
        config = f'[server]\npublic_url = "{PUBLIC}"\n[[feeds]]\nurl = "{feeds.url("/feed/")}"\nbackfill = 2\n'
        with relay_app(tmp_path, emulator, config=config, RELAY_POLLING_FETCH_PAGES="false") as app:
            wait_for(lambda: len(emulator.tweets()) == 2, what="two tweets")
            codes = []
            for tweet in emulator.tweets():
                match = re.search(rf"{re.escape(PUBLIC)}/r/([A-Za-z0-9]+)", tweet.text)
                assert match, tweet.text
                assert weighted_length(tweet.text) <= 280
                codes.append(match.group(1))
            assert len(set(codes)) == 2, "one code per tweet"
            answer = httpx.get(f"{app.url}/r/{codes[0]}", headers={"User-Agent": BROWSER}, follow_redirects=False)
            assert answer.status_code == 302
            target = urlsplit(answer.headers["location"])
            assert target.netloc == "boulangerie.fr"
            assert parse_qs(target.query)["utm_source"] == ["twitter"]
            bot = httpx.get(f"{app.url}/r/{codes[0]}", headers={"User-Agent": "Twitterbot/1.0"})
            assert bot.status_code == 302
            assert httpx.get(f"{app.url}/r/nosuchcode").status_code == 404
        with app.runtime.store.engine.connect() as conn:  # the app stopped: every click was written
            humans = conn.execute(select(func.count()).select_from(clicks).where(clicks.c.human.is_(True))).scalar()
            total = conn.execute(select(func.count()).select_from(clicks)).scalar()
        assert (humans, total) == (1, 2), "the browser counts, the preview bot is stored but not counted"
