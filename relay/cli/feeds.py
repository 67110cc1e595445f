"""``relay feeds``: each feed's health, and the operator's answer to a held feed."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from relay.cli.support import settings_of
from relay.store.rows import FeedRow


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


def describe_feed(feed: FeedRow, seo_warnings: list[str]) -> list[str]:
    """The lines `relay feeds` prints for one feed."""
    lines = [
        f"#{feed.id} {feed.url}" + (f"  ({feed.title})" if feed.title else ""),
        f"    status: {feed.status}   last check: {_when(feed.last_checked_at)}   "
        f"next check: {_when(feed.next_check_at)}   last new entry: {_when(feed.last_new_entry_at)}",
    ]
    if feed.url != feed.configured_url:
        lines.append(f"    moved permanently from {feed.configured_url}")
    if feed.error_count or feed.last_error:
        lines.append(f"    errors in a row: {feed.error_count}   last: {feed.last_error}")
    lines += [f"    SEO readiness: {warning}" for warning in seo_warnings]
    return lines


@click.group(invoke_without_command=True)
@click.pass_context
def feeds(ctx: click.Context) -> None:
    """List each feed: status, last and next check, errors, last new entry.

    A feed that suddenly showed many new entries is "held": answer with
    `relay feeds release ID` (post them) or `relay feeds discard ID` (forget them).
    """
    if ctx.invoked_subcommand is not None:
        return
    from relay.wiring import build_runtime

    runtime = build_runtime(settings_of(ctx))
    try:
        from relay.store.engine import apply_migrations

        apply_migrations(runtime.store.engine)
        rows = runtime.store.sync_feeds([f.url for f in runtime.settings.feeds], datetime.now(UTC))
        if not rows:
            click.echo("no feeds configured: add a [[feeds]] block with url = \"...\" to your config file")
        for feed in rows:
            for line in describe_feed(feed, runtime.store.latest_seo_warnings(feed.id)):
                click.echo(line)
    finally:
        runtime.store.engine.dispose()


def _answer_held(ctx: click.Context, feed_id: int, *, discard: bool) -> None:
    from relay.store.engine import apply_migrations
    from relay.wiring import build_runtime

    runtime = build_runtime(settings_of(ctx))
    try:
        apply_migrations(runtime.store.engine)
        feed = next((f for f in runtime.store.list_feeds() if f.id == feed_id), None)
        if feed is None:
            raise click.ClickException(f"no feed #{feed_id}; `relay feeds` lists them")
        if feed.status != "held":
            raise click.ClickException(f"feed #{feed_id} is {feed.status}, not held: nothing to do")
        count = runtime.service.release_held(feed_id, datetime.now(UTC), discard=discard)
        verb = "forgotten" if discard else "queued for posting"
        click.echo(f"feed #{feed_id}: {count} held entries {verb}; the feed is active again")
    finally:
        runtime.store.engine.dispose()


@feeds.command("release")
@click.argument("feed_id", type=int)
@click.pass_context
def feeds_release(ctx: click.Context, feed_id: int) -> None:
    """Post the entries held for feed FEED_ID (spaced like any other posts)."""
    _answer_held(ctx, feed_id, discard=False)


@feeds.command("discard")
@click.argument("feed_id", type=int)
@click.pass_context
def feeds_discard(ctx: click.Context, feed_id: int) -> None:
    """Forget the entries held for feed FEED_ID: they will never be posted."""
    _answer_held(ctx, feed_id, discard=True)
