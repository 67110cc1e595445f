"""Opening the database and bringing its schema up to date.

SQLite gets WAL (readers never block the writer), foreign keys and a busy timeout, which
is what one process with a web server and a worker thread needs. PostgreSQL URLs are
routed to psycopg 3.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from relay.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments) is imported only where a migration runs: a long-running
# `relay serve` migrates in a child process and never holds those libraries in memory.


def driver_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    """An engine configured for relay's workload on either database."""
    url = driver_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
        # A database host that drops packets would otherwise hang start-up and `config check` forever.
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"PostgreSQL support is not installed ({exc.name} is missing). Install it with: "
            ".venv/bin/pip install 'psycopg[binary]>=3.1'"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("relay") / "migrations"))
    return config


def apply_migrations(engine: Engine) -> list[str]:
    """Upgrade to the newest revision; returns the revisions applied (empty when current)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Instances starting together on an empty database migrate one after the other.
                connection.execute(text("SELECT pg_advisory_xact_lock(7265001)"))
            before = MigrationContext.configure(connection).get_current_revision()
            if before == head:
                return []
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(f"cannot migrate the database: {exc.orig}. Check database.url.") from exc
    script = ScriptDirectory.from_config(config)
    return sorted(rev.revision for rev in script.iterate_revisions(head, before))


def current_head() -> str | None:
    """The newest migration shipped with this version of relay."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def apply_migrations_apart(engine: Engine) -> list[str]:
    """:func:`apply_migrations` in a short-lived child process, for a process that runs for months.

    Migrating loads Alembic, Mako and Pygments (about 15 MB that Python never gives back);
    done in a child, the server keeps only what it serves with. An in-memory SQLite database
    exists only in this process, so it is migrated here.
    """
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return apply_migrations(engine)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(_migrate, url).result()


def _migrate(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return apply_migrations(engine)
    finally:
        engine.dispose()
