"""How fast relay composes tweets, against the naive composer it replaces.

Parses every feed of ../shared/corpus/feeds with ``feedparser.parse(path)``, builds a
:class:`relay.core.models.Post` per entry, then times, on one core and in this one
run, ``compose_tweet`` (cleaning, hashtags, UTM, exact X length, cuts) and a plain
f-string-and-slice composer (``f"{title} {link}"[:280]``). It also counts how many of
the naive tweets X would refuse or would carry a cut link, which is what the extra
time buys. With ``--networks``, it also times one post composed for X, Mastodon and
Bluesky (:mod:`relay.core.networks`, as a feed with three accounts does) against X alone.

    .venv/bin/python bench/bench_compose.py [--rounds 5]

Feed parsing is not timed: it is the same for both composers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import feedparser
from bench_support import cpu_model, load_average

from relay.core.compose import DEFAULT_OPTIONS, cleaned_summary, compose_tweet
from relay.core.length import _word_weight, is_valid_tweet
from relay.core.models import Post
from relay.core.networks import Target, composer_for
from relay.core.summary import summary_for

FEEDS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
TODAY = date(2024, 5, 2)


def corpus_posts() -> list[Post]:
    posts: list[Post] = []
    for path in sorted(FEEDS.iterdir()):
        for entry in feedparser.parse(str(path)).entries:
            if not entry.get("link"):
                continue
            posts.append(
                Post(
                    url=entry.link,
                    title=entry.get("title", ""),
                    summary_html=entry.get("summary", "") or entry.get("description", ""),
                    content_html=entry.content[0].value if entry.get("content") else "",
                    categories=tuple(tag.term for tag in entry.get("tags", []) if tag.get("term")),
                )
            )
    return posts


def naive_tweet(post: Post) -> str:
    return f"{post.title} {post.url}"[:280]


def relay_tweet(post: Post) -> str:
    return compose_tweet(post, today=TODAY).text


THREE = [Target(name, network, composer_for(network))
         for name, network in (("default", "x"), ("toots", "mastodon"), ("sky", "bluesky"))]


def three_networks(post: Post) -> list[str]:
    """What a feed posting to three accounts composes for one entry (each network with its own options)."""
    return [target.compose(post, target.options(DEFAULT_OPTIONS), TODAY).text for target in THREE]


def best_rate(compose: Callable[[Post], object], posts: list[Post], rounds: int) -> tuple[float, float]:
    """Posts per second: the best round (least disturbed by the machine) and the median."""
    rates = []
    for _ in range(rounds):
        _word_weight.cache_clear()  # each post is composed once in real life: no warm cache
        cleaned_summary.cache_clear()  # (only a post's own networks share its cleaned summary)
        started = time.perf_counter()
        for post in posts:
            compose(post)
        rates.append(len(posts) / (time.perf_counter() - started))
    return max(rates), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--networks", action="store_true", help="also time X, Mastodon and Bluesky together")
    args = parser.parse_args()
    if not FEEDS.exists():
        sys.exit(f"corpus not found at {FEEDS}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    posts = corpus_posts()
    feeds = len(list(FEEDS.iterdir()))
    relay_best, relay_median = best_rate(relay_tweet, posts, args.rounds)
    cleaning_best, _ = best_rate(summary_for, posts, args.rounds)
    naive_best, naive_median = best_rate(naive_tweet, posts, args.rounds)

    naive = [naive_tweet(post) for post in posts]
    refused = sum(not is_valid_tweet(text) for text in naive)
    cut_link = sum(post.url not in text for post, text in zip(posts, naive, strict=True))
    relay_invalid = sum(not is_valid_tweet(relay_tweet(post)) for post in posts)

    print(f"machine: {cpu_model()} ({os.cpu_count()} logical CPUs), {platform.system()} {platform.machine()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}; load average {load_average()}")
    print(f"posts:   {len(posts)} entries with a link from {feeds} feed files, {args.rounds} rounds, one core")
    print(f"relay compose_tweet:   {relay_best:10.0f} posts/s best, {relay_median:10.0f} median")
    print(f"f-string and slice:    {naive_best:10.0f} posts/s best, {naive_median:10.0f} median")
    print(f"ratio (best):          relay is {naive_best / relay_best:.0f}x slower")
    print(f"relay per post:        {1e6 / relay_best:.0f} µs, of which {1e6 / cleaning_best:.0f} µs HTML cleaning")
    print(
        f"naive tweets X refuses: {refused}; naive tweets with a cut link: {cut_link}; relay invalid: {relay_invalid}"
    )
    if args.networks:
        three_networks(posts[0])  # load regex (Bluesky's and Mastodon's graphemes) before timing
        three_best, three_median = best_rate(three_networks, posts, args.rounds)
        print(f"X, Mastodon, Bluesky:  {three_best:10.0f} posts/s best, {three_median:10.0f} median "
              f"({relay_best / three_best:.2f}x X alone's time per post)")


if __name__ == "__main__":
    main()
