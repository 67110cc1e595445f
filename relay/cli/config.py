"""``relay config check``: the settings relay will really use, and whether its database answers."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from relay.cli.support import config_path, friendly_errors, settings_of
from relay.config.settings import Settings
from relay.core.redaction import hide_password
from relay.errors import RelayError


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.pass_context
@friendly_errors
def config_check(ctx: click.Context) -> None:
    """Validate the settings, print them with every secret redacted, and check the database.

    Exits 0 when the settings are valid and the database answers, 1 when the database
    does not answer, 2 when a setting is wrong.
    """
    from relay.config.report import render_settings

    settings = settings_of(ctx)
    source = config_path(ctx) or "(no file: defaults and RELAY_* variables)"
    click.echo(f"# config: {source}")
    click.echo(render_settings(settings))
    idle = settings.nothing_to_watch()
    if idle:
        click.echo(f"# warning: {idle}")
    ok, database_line = describe_database(settings)
    click.echo(f"# database: {database_line}")
    if not ok:
        raise SystemExit(1)
    click.echo("# OK" + (" (dry-run: no X credentials)" if settings.dry_run else ""))


def describe_database(settings: Settings) -> tuple[bool, str]:
    """``(answers, one line)``: whether the database answers and at which migration it is.

    Never creates anything: a SQLite file that does not exist yet is reported as such.
    """
    from relay.store.engine import current_head, current_revision, make_engine

    url = settings.database.url
    shown = hide_password(url)
    head = current_head()
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False, f"{shown} is not a database address. Write sqlite:///relay.db or postgresql://user@host/db."
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if sqlite_file not in (None, "", ":memory:") and not Path(str(sqlite_file)).exists():
        return True, f"{shown}: the file does not exist yet; relay serve will create it at migration {head}."
    try:
        engine = make_engine(url)
    except RelayError as exc:
        return False, f"{shown}: {exc}"
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        for secret in settings.secret_values():
            reason = reason.replace(secret, "********")
        return False, (f"{shown} does not answer ({reason}). Check database.url and that the database server "
                       "is running.")
    finally:
        engine.dispose()
    if revision is None:
        return True, f"{shown} answers; it is empty: relay serve will create the schema (migration {head})."
    if revision == head:
        return True, f"{shown} answers; schema at migration {revision} (current)."
    return True, f"{shown} answers; schema at migration {revision}: relay serve will upgrade it to {head}."
