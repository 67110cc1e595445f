"""``relay republish ID|URL``: post a blog post again (or for the first time, by address)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from relay.cli.support import settings_of
from relay.errors import RelayError


@click.command()
@click.argument("post")
@click.pass_context
def republish(ctx: click.Context, post: str) -> None:
    """Queue POST again: a relay post id (see GET /api/posts or `relay report`) or the post's address.

    The text differs from every earlier tweet of the post (alternate template, its own
    utm_content). A running `relay serve` posts it within seconds.
    """
    from relay.adapters.page_post import post_from_page
    from relay.adapters.safe_fetch import SafeFetcher
    from relay.store.engine import apply_migrations
    from relay.wiring import build_runtime

    runtime = build_runtime(settings_of(ctx))
    now = datetime.now(UTC)
    try:
        apply_migrations(runtime.store.engine)
        if post.isdigit():
            if not runtime.store.has_post(int(post)):
                raise click.ClickException(f"relay has no post #{post}")
            result = runtime.service.republish(int(post), now, templates=runtime.republish_templates(int(post)))
        else:
            page = post_from_page(post, SafeFetcher(allow_hosts=runtime.settings.fetch.allow_hosts))
            result = runtime.service.republish_page(page, now, templates=runtime.settings.wordpress.republish_templates)
        click.echo(f"queued delivery #{result.delivery_id} for post #{result.post_id}:\n\n{result.text}\n")
        click.echo("relay serve will post it within seconds (or run `relay poll --once`).")
    except RelayError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.store.engine.dispose()
