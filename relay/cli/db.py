"""``relay db``: moving relay's data from one database to another.

The copy's code is only imported when the command runs.
"""

from __future__ import annotations

import click

from relay.cli.support import friendly_errors, settings_of


@click.group()
def db() -> None:
    """Move relay's data between databases (SQLite and PostgreSQL)."""


@db.command("copy")
@click.option(
    "--from", "source", metavar="URL", default=None,
    help="The database to read, e.g. sqlite:///relay.db (default: database.url of the configuration).",
)
@click.option(
    "--to", "target", metavar="URL", default=None,
    help="The database to fill, e.g. postgresql://relay@db:5432/relay (default: database.url of the configuration).",
)
@click.option("--force", is_flag=True, help="Delete the rows already in the target first (they are listed).")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per INSERT.")
@click.pass_context
@friendly_errors
def copy(ctx: click.Context, source: str | None, target: str | None, force: bool, batch_size: int) -> None:
    """Copy every table to another database, keeping ids, then check the row counts.

    The usual move is from the SQLite file of a single machine to PostgreSQL, so that
    several relay instances can share it:

    \b
        relay db copy --from sqlite:////var/lib/relay/relay.db --to postgresql://relay@db:5432/relay

    Leave out --from or --to and it is the configured database.url: on the new
    installation, `relay db copy --from sqlite:////path/relay.db` fills the database
    that installation uses, and its password never appears on a command line. Otherwise
    put the PostgreSQL password in PGPASSWORD rather than in the URL.

    Stop relay first. The target is brought to the newest schema, must be empty (or use
    --force), and is filled in one transaction: it gets everything or nothing. The source
    is only read.
    """
    from relay.store.copy import copy_database, rows_text, safe_url

    if source is None and target is None:
        raise click.UsageError("give --from, --to or both (the one left out is the configured database.url)")
    if source is None or target is None:
        configured = settings_of(ctx).database.url
        source, target = source or configured, target or configured
    report = copy_database(source, target, force=force, batch_size=batch_size, say=click.echo)
    click.echo(f"done: {rows_text(sum(report.rows.values()))} copied into {safe_url(target)}. "
               "Point database.url (or RELAY_DATABASE_URL) of every instance at it, then start relay.")
