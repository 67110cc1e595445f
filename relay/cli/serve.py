"""``relay serve``, ``relay worker``, ``relay poll`` and ``relay migrate``: running relay."""

from __future__ import annotations

import asyncio
import logging

import click

from relay import __version__
from relay.cli.support import friendly_errors, settings_of, start_logging
from relay.errors import ConfigError

log = logging.getLogger("relay")


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host, 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port to listen on (default: server.port, 8080).")
@click.pass_context
@friendly_errors
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the web server and the worker (polls feeds, posts to X, Mastodon, Bluesky).

    Applies database migrations first. Without X credentials relay runs in dry-run: it
    logs what it would post and posts nothing.
    """
    import uvicorn

    from relay.core.networks import NETWORK_NAMES
    from relay.routes.app import create_app
    from relay.store.engine import apply_migrations_apart
    from relay.wiring import build_runtime

    settings = settings_of(ctx)
    if (short := settings.api.too_short()) is not None:
        raise ConfigError(short)
    host = host or settings.server.host
    port = port or settings.server.port
    start_logging(settings)
    runtime = build_runtime(settings)
    applied = apply_migrations_apart(runtime.store.engine)
    if applied:
        log.info("database migrated", extra={"revisions": applied})
    if runtime.publisher.dry_run:
        log.warning("dry-run mode: no X credentials are set, so relay will log tweets instead of posting them. "
                    "Set the four [x] credentials to post for real.")
    else:
        log.info("posting to X", extra={"api_base_url": settings.x.api_base_url})
    for account in settings.accounts:
        network = NETWORK_NAMES[account.network]
        if runtime.service.outboxes[account.name].publisher.dry_run:
            log.warning(f"dry-run for account {account.name} ({network}): its credentials are not set, so relay "
                        "will log its posts instead of posting them", extra={"account": account.name})
        else:
            log.info(f"posting to {network}", extra={"account": account.name})
    idle = settings.nothing_to_watch()
    if idle:
        log.warning(idle)
    log.info("relay starting", extra={"version": __version__, "host": host, "port": port,
                                      "feeds": len(settings.feeds)})
    app = create_app(runtime)
    # Only the configured proxy's X-Forwarded-For/-Proto are believed (client address, https).
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True,
                forwarded_allow_ips=settings.server.forwarded_allow_ips)


@click.command()
@click.option("--once", is_flag=True, help="Check every feed once, post what is new, then exit.")
@click.pass_context
@friendly_errors
def poll(ctx: click.Context, once: bool) -> None:
    """Check the configured feeds and post new entries (without the web server)."""
    from relay.store.engine import apply_migrations
    from relay.wiring import build_runtime

    settings = settings_of(ctx)
    start_logging(settings)
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)
    idle = settings.nothing_to_watch()
    if idle:
        log.warning(idle)

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


@click.command()
@click.pass_context
@friendly_errors
def worker(ctx: click.Context) -> None:
    """Poll feeds and post, without the web server (run several on one PostgreSQL).

    Instances share the work through the database: each feed and each post is taken by
    one instance at a time, under a lease that frees it if that instance dies.
    """
    ctx.invoke(poll, once=False)


@click.command()
@click.pass_context
@friendly_errors
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the database schema (relay serve also does this at start)."""
    from relay.store.engine import apply_migrations, current_revision, make_engine

    settings = settings_of(ctx)
    engine = make_engine(settings.database.url)
    try:
        applied = apply_migrations(engine)
        click.echo(f"applied {', '.join(applied)}" if applied else "database already up to date")
        click.echo(f"schema revision: {current_revision(engine)}")
    finally:
        engine.dispose()
