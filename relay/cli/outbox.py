"""``relay outbox``: what is waiting to be posted, what failed and why, and re-queueing."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from relay.cli.support import settings_of
from relay.core.networks import NETWORK_NAMES
from relay.errors import RelayError
from relay.store.engine import apply_migrations, make_engine
from relay.store.outbox import FAILED, QUEUED, SENDING, SKIPPED
from relay.store.store import Store


def _store(ctx: click.Context) -> Store:

    engine = make_engine(settings_of(ctx).database.url)
    apply_migrations(engine)
    return Store(engine)


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also list skipped deliveries.")
@click.pass_context
def outbox(ctx: click.Context, show_all: bool) -> None:
    """List deliveries that are queued, being sent, failed (and why).

    Re-queue a failed one with `relay outbox retry ID`.
    """
    if ctx.invoked_subcommand is not None:
        return
    store = _store(ctx)
    try:
        counts = store.delivery_counts()
        click.echo("  ".join(f"{state}: {count}" for state, count in counts.items()))
        accounts = ["default", *(account.name for account in settings_of(ctx).accounts)]
        for account in accounts:
            reason, since = store.account_pause(account)
            if reason:
                who = "" if account == "default" else f" for account {account}"
                click.echo(f"PUBLISHING PAUSED{who} since {since:%Y-%m-%d %H:%M} UTC: {reason}", err=True)
        states = [QUEUED, SENDING, FAILED] + ([SKIPPED] if show_all else [])
        rows = store.list_deliveries(states)
        if not rows:
            click.echo("nothing waiting and nothing failed")
        for row in rows:
            first_line = row.text.splitlines()[0] if row.text else ""
            when = f"next try {row.next_attempt_at:%Y-%m-%d %H:%M}" if row.status == QUEUED else ""
            on = f"{NETWORK_NAMES.get(row.network, row.network)}/{row.account}"
            click.echo(f"#{row.id:<6} {row.status:8} {on:<20} attempts={row.attempts:<3} {when}  {first_line[:60]}")
            if row.last_error:
                click.echo(f"         reason: {row.last_error}")
    finally:
        store.engine.dispose()


@outbox.command("retry")
@click.argument("delivery_id", type=int)
@click.pass_context
def outbox_retry(ctx: click.Context, delivery_id: int) -> None:
    """Put failed or skipped delivery DELIVERY_ID back in the queue."""
    store = _store(ctx)
    try:
        if not store.requeue(delivery_id, datetime.now(UTC)):
            found = next((row for row in store.list_deliveries() if row.id == delivery_id), None)
            if found is not None and not found.text:
                raise click.ClickException(f"delivery #{delivery_id} has no text to post ({found.last_error}); "
                                           "nothing re-queued")
            raise click.ClickException(
                f"delivery #{delivery_id} is not failed or skipped (see `relay outbox --all`); nothing re-queued"
            )
        click.echo(f"delivery #{delivery_id} queued again; the worker will post it shortly")
    except RelayError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.engine.dispose()
