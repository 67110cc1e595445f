"""``relay preview``: what relay would post for a feed, on each of its accounts, without posting or storing.

It runs the same fetch, parse, deduplicate and compose steps as the poller, so what it
shows is what relay will do: an entry that repeats an earlier one (same GUID or same
link) is shown as not posted, with why, because the poller posts it once. Each entry
shows one text per account the feed posts on (``accounts = [...]``; [wordpress]'s for a
source that is not a configured feed), composed by that account's network: X's weighted
280, Mastodon's 500 characters, Bluesky's 300 with its link and tag facets and link card.
The top-level ``text``, ``link`` and ``weighted_length`` stay X's tweet, as before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from relay.adapters.feed_parser import parse_feed
from relay.adapters.http_fetch import FeedClient
from relay.cli.support import friendly_errors, settings_of
from relay.config.settings import Settings
from relay.core.compose import ComposeOptions, compose_tweet
from relay.core.identity import dedup_key, normalise_url
from relay.core.models import FeedDocument, Post
from relay.core.networks import NETWORK_NAMES, MastodonComposer, Target
from relay.core.protected import is_protected
from relay.core.quality import DEFECT_CLASSES, WARNING_CLASSES, tweet_defects
from relay.errors import FeedError


def load_document(source: str, *, base_url: str | None = None) -> FeedDocument:
    """Fetch a feed URL, or read a feed file, and parse it."""
    if source.startswith(("http://", "https://")):
        return asyncio.run(_fetch_and_parse(source))
    path = Path(source)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {source}: {exc.strerror}. Give a feed URL or an existing file.") from None
    # A file has no address of its own: the parser resolves relative links against the feed's <link>.
    document = parse_feed(body, url=base_url or path.resolve().as_uri())
    if not document.posts and not base_url and any("without a usable link" in w for w in document.warnings):
        raise FeedError(
            f"the entries of {source} have relative links (like /2024/my-post/) and the file does not say "
            "which site they belong to. Give the blog's address: relay preview FILE --base-url https://your-blog.example/"
        )
    return document


async def _fetch_and_parse(url: str) -> FeedDocument:
    # The address was typed by the operator: its host is theirs, whatever network it is on.
    async with FeedClient(trusted_hosts=[urlsplit(url).hostname or ""]) as client:
        result = await client.fetch(url)
    if result.body is None:  # cannot happen without validators, but say so rather than crash
        raise FeedError(f"{url} answered 304 Not Modified to a request without validators")
    return parse_feed(result.body, url=result.final_url, headers=result.headers)


def preview_tweets(
    source: str, *, settings: Settings, base_url: str | None = None, today: date
) -> Iterator[dict[str, Any]]:
    """One dict per entry that has a link: what would be posted, or why it would not be."""
    from relay.wiring import compose_options

    options = next((compose_options(f) for f in settings.feeds if f.url == source), ComposeOptions())
    targets = targets_of(source, settings)
    document = load_document(source, base_url=base_url)
    first_by_key: dict[str, str] = {}
    first_by_url: dict[str, str] = {}
    for post in document.posts:
        if not post.url:
            continue
        item: dict[str, Any] = {"guid": post.guid, "url": post.url, "title": post.title, "image": post.image_url}
        key, url = dedup_key(post), normalise_url(post.url)
        earlier = first_by_key.get(key) or first_by_url.get(url)
        if earlier is not None:
            same = "GUID" if key in first_by_key else "link"
            yield {**item, "post": False,
                   "why": f"same {same} as the entry {earlier} above: relay posts it once"}
            continue
        if is_protected(post):
            yield {**item, "post": False, "why": "a password-protected post: relay never posts it"}
            continue
        first_by_key[key] = first_by_url[url] = post.url
        tweet = compose_tweet(post, options, today=today)
        defects = tweet_defects(post, tweet.text, tweet.link, keep_feed_utm=options.keep_feed_utm)
        yield {**item, "post": True, "link": tweet.link, "text": tweet.text,
               "weighted_length": tweet.weighted_length,
               "defects": [{"class": d.kind, "detail": d.detail, "warning": d.warning} for d in defects],
               "targets": [composed_for(target, post, options, today) for target in targets]}


def targets_of(source: str, settings: Settings) -> list[Target]:
    """The accounts the posts of ``source`` go out on: its [[feeds]] block's, else [wordpress]'s (as relay does)."""
    from relay.wiring import build_targets

    every = build_targets(settings)
    names = next((f.targets for f in settings.feeds if f.url == source), settings.wordpress.targets)
    return [every[name] for name in names]


def network_limit(target: Target) -> int:
    """The longest text the network takes (Mastodon: the default 500; an instance may allow more)."""
    if isinstance(target.compose, MastodonComposer):
        return target.compose.limits.max_characters
    return {"x": 280, "bluesky": 300}.get(target.network, 280)


def composed_for(target: Target, post: Post, options: ComposeOptions, today: date) -> dict[str, Any]:
    """What one account would post: its text, its length as its network counts it, its link; Bluesky's facets and card.

    Facets are UTF-8 byte ranges of the text (``byte_start`` inclusive, ``byte_end`` exclusive), as Bluesky reads them.
    """
    shown: dict[str, Any] = {"account": target.account, "network": target.network,
                             "limit": network_limit(target)}
    try:
        composed = target.compose(post, target.options(options), today)
    except ValueError as exc:
        return {**shown, "error": str(exc)}
    shown.update(text=composed.text, length=composed.weighted_length, link=composed.link)
    extra = composed.extra or {}
    if "facets" in extra:
        shown["facets"] = [{"byte_start": start, "byte_end": end, "kind": kind, "value": value}
                           for start, end, kind, value in extra["facets"]]
    if "card" in extra:
        shown["card"] = extra["card"]
    return shown


@click.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line (guid, url, post, link, text, weighted_length: the X tweet; "
                   "targets: one text per account, with its network, length and limit; why when not posted).")
@click.option("--base-url", default=None, help="Resolve relative links in a feed FILE against this URL.")
@click.option("--check", is_flag=True,
              help="List each tweet's defects by class (mojibake, boilerplate, ...); exit 1 when any is found.")
@click.pass_context
@friendly_errors
def preview(ctx: click.Context, source: str, as_json: bool, base_url: str | None, check: bool) -> None:
    """Show what relay would post for the entries of SOURCE (a feed URL or file), on each account.

    Never posts and never writes to the database. Settings of a matching [[feeds]]
    entry (template, hashtags, UTM campaign, accounts) are used when SOURCE is a
    configured URL; otherwise the accounts of [wordpress]. One text per account:
    X, Mastodon or Bluesky, each cut to its network's limit.
    With --check, lists what a reader would find wrong in each tweet instead, with a
    count per class, and exits 1 when any defect is found (accidental links such as
    README.md are warnings and do not change the exit code).
    """
    settings = settings_of(ctx)
    today = datetime.now(UTC).date()
    if check:
        _check(source, settings=settings, base_url=base_url, today=today, as_json=as_json)
        return
    shown = 0
    for item in preview_tweets(source, settings=settings, base_url=base_url, today=today):
        shown += 1
        if as_json:
            click.echo(json.dumps(item, ensure_ascii=False))
        elif item["post"]:
            click.echo(f"── {item['url']}")
            for shown_target in item["targets"]:
                _echo_target(shown_target)
        else:
            click.echo(f"── {item['url']}  (not posted: {item['why']})")
            click.echo()
    if not shown:
        click.echo(f"{source} has no entry with a link: there is nothing relay would post.", err=True)


def _echo_target(shown: dict[str, Any]) -> None:
    """One block: the network and account, the length against the limit, the text; Bluesky's links, tags and card."""
    where = f"{NETWORK_NAMES.get(shown['network'], shown['network'])}, account \"{shown['account']}\""
    if "error" in shown:
        click.echo(f"{where}: nothing can be posted: {shown['error']}")
        click.echo()
        return
    click.echo(f"{where}  ({shown['length']}/{shown['limit']})")
    click.echo(shown["text"])
    data = shown["text"].encode("utf-8")
    for facet in shown.get("facets", []):
        covered = data[facet["byte_start"]:facet["byte_end"]].decode("utf-8", errors="replace")
        if facet["kind"] == "link":
            click.echo(f"   link: {covered} -> {facet['value']}")
        else:
            click.echo(f"   tag: {covered}")
    card = shown.get("card")
    if card:
        click.echo(f"   link card: {card['title']}" + (f" | {card['description']}" if card["description"] else ""))
    click.echo()


def _check(source: str, *, settings: Settings, base_url: str | None, today: date, as_json: bool) -> None:
    counts = dict.fromkeys(DEFECT_CLASSES, 0)
    tweets = 0
    for item in preview_tweets(source, settings=settings, base_url=base_url, today=today):
        if not item["post"]:
            continue
        tweets += 1
        for defect in item["defects"]:
            counts[defect["class"]] += 1
            if as_json:
                click.echo(json.dumps({"url": item["url"], **defect}, ensure_ascii=False))
            else:
                level = "warning" if defect["warning"] else "defect"
                click.echo(f"{item['url']}  {level}: {defect['class']}: {defect['detail']}")
    errors = sum(count for name, count in counts.items() if name not in WARNING_CLASSES)
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    click.echo(f"{source}: {tweets} tweets checked; {summary}", err=True)
    if errors:
        raise SystemExit(1)
