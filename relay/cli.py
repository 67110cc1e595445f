"""The ``relay`` command.

Every command loads the same settings (``--config`` or ``RELAY_CONFIG``, then
``RELAY_*`` variables) and turns any :class:`RelayError` into one readable line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import click

from relay import __version__
from relay.cli_support import friendly_errors as _friendly_errors
from relay.settings import Settings, load_settings

log = logging.getLogger("relay")


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"] if "settings" in ctx.obj else load_settings(ctx.obj["config"])
    ctx.obj["settings"] = settings
    return settings


def _start_logging(settings: Settings) -> None:
    from relay.logs import configure_logging

    configure_logging(level=settings.log.level, fmt=settings.log.format, secrets=settings.secret_values())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar="RELAY_CONFIG", default=None,
    help="Path to the TOML config file (default: $RELAY_CONFIG, else built-in defaults).",
)
@click.version_option(__version__, prog_name="relay")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """relay: posts every new blog post to X and measures what comes back.

    Start with `relay config check`, then `relay preview FEED_URL` to see the tweets
    relay would write, then `relay serve`.
    """
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path


@cli.command()
@click.pass_context
@_friendly_errors
def serve(ctx: click.Context) -> None:
    """Run the web server and the worker (polls feeds, posts to X).

    Applies database migrations first. Without X credentials relay runs in dry-run: it
    logs what it would post and posts nothing.
    """
    import uvicorn

    from relay.store.engine import apply_migrations
    from relay.web import create_app
    from relay.wiring import build_runtime

    settings = _settings(ctx)
    _start_logging(settings)
    runtime = build_runtime(settings)
    applied = apply_migrations(runtime.store.engine)
    if applied:
        log.info("database migrated", extra={"revisions": applied})
    if runtime.publisher.dry_run:
        log.warning("dry-run mode: no X credentials are set, so relay will log tweets instead of posting them. "
                    "Set the four [x] credentials to post for real.")
    else:
        log.info("posting to X", extra={"api_base_url": settings.x.api_base_url})
    log.info("relay starting", extra={"version": __version__, "host": settings.server.host,
                                      "port": settings.server.port, "feeds": len(settings.feeds)})
    app = create_app(runtime)
    uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_config=None, access_log=False)


@cli.command()
@click.option("--once", is_flag=True, help="Check every feed once, post what is new, then exit.")
@click.pass_context
@_friendly_errors
def poll(ctx: click.Context, once: bool) -> None:
    """Check the configured feeds and post new entries (without the web server)."""
    from relay.store.engine import apply_migrations
    from relay.wiring import build_runtime

    settings = _settings(ctx)
    _start_logging(settings)
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)

    async def run() -> None:
        try:
            if once:
                report = await runtime.worker.run_once()
                click.echo(f"posted {len(report.sent)}, retrying {len(report.retried)}, "
                           f"failed {len(report.failed)}, skipped {len(report.skipped)}"
                           + (" (dry-run)" if runtime.publisher.dry_run else ""))
                if report.blocked_reason:
                    click.echo(f"publishing paused: {report.blocked_reason}", err=True)
            else:
                await runtime.worker.run()
        finally:
            await runtime.aclose()

    asyncio.run(run())


@cli.command()
@click.pass_context
@_friendly_errors
def worker(ctx: click.Context) -> None:
    """Poll feeds and post, without the web server (run several on one PostgreSQL).

    Instances share the work through the database: each feed and each post is taken by
    one instance at a time, under a lease that frees it if that instance dies.
    """
    ctx.invoke(poll, once=False)


@cli.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (guid, url, link, text, ...).")
@click.option("--base-url", default=None, help="Resolve relative links in a feed FILE against this URL.")
@click.pass_context
@_friendly_errors
def preview(ctx: click.Context, source: str, as_json: bool, base_url: str | None) -> None:
    """Show the tweets relay would post for the entries of SOURCE (a feed URL or file).

    Never posts and never writes to the database. Settings of a matching [[feeds]]
    entry (template, hashtags, UTM campaign) are used when SOURCE is a configured URL.
    """
    from relay.preview import preview_tweets

    settings = _settings(ctx)
    today = datetime.now(UTC).date()
    for item in preview_tweets(source, settings=settings, base_url=base_url, today=today):
        if as_json:
            click.echo(json.dumps(item, ensure_ascii=False))
        else:
            click.echo(f"── {item['url']}  ({item['weighted_length']}/280)")
            click.echo(item["text"])
            click.echo()


@cli.command()
@click.pass_context
@_friendly_errors
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the database schema (relay serve also does this at start)."""
    from relay.store.engine import apply_migrations, current_revision, make_engine

    settings = _settings(ctx)
    engine = make_engine(settings.database.url)
    try:
        applied = apply_migrations(engine)
        click.echo(f"applied {', '.join(applied)}" if applied else "database already up to date")
        click.echo(f"schema revision: {current_revision(engine)}")
    finally:
        engine.dispose()


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.pass_context
@_friendly_errors
def config_check(ctx: click.Context) -> None:
    """Validate the settings and print them, with every secret redacted."""
    from relay.settings_report import render_settings

    settings = _settings(ctx.find_root())
    source = ctx.find_root().obj.get("config") or "(no file: defaults and RELAY_* variables)"
    click.echo(f"# config: {source}")
    click.echo(render_settings(settings))
    click.echo("# OK" + (" (dry-run: no X credentials)" if settings.dry_run else ""))


def _register_commands() -> None:
    from relay.cli_db import db
    from relay.cli_feeds import feeds
    from relay.cli_outbox import outbox
    from relay.cli_reports import report
    from relay.cli_republish import republish

    cli.add_command(db)
    cli.add_command(outbox)
    cli.add_command(feeds)
    cli.add_command(republish)
    cli.add_command(report)


_register_commands()


def main() -> None:
    cli(obj={})
