"""Copying every row of relay's database to another database (``relay db copy``).

Why it exists: relay starts on one machine with a SQLite file; the day a second instance
is wanted (no single point of failure, many blogs), the data has to move to PostgreSQL
without losing what relay remembers (the posts it has seen, so nothing is tweeted twice,
and the tweets it has sent). The copy works in every direction, SQLite and PostgreSQL
alike, because it reads and writes through the same SQLAlchemy ``Table`` objects the
store uses: JSON columns and the ``UTCDateTime`` decorator convert values on the way out
of one database and back into the other, so neither side sees the other's encoding.

What keeps it safe:

* the source is only read, inside one read-only snapshot, so a relay still running on it
  cannot leave a half-copied delivery pointing at a post that was never copied;
* the target is migrated to the newest schema first and must be empty (``force``
  replaces its rows, and says how many), and the whole copy is one transaction on the
  target: it lands entirely or not at all;
* primary keys are kept (links, clicks and deliveries refer to them), then PostgreSQL
  sequences are moved past the copied ids, or the next new post would collide with id 1;
* row counts are compared table by table once the target has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import JSON, Connection, Engine, String, Table, bindparam, false, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from relay.core.redaction import hide_password
from relay.errors import StoreError
from relay.store.engine import apply_migrations, current_head, current_revision, driver_url, make_engine
from relay.store.schema import metadata

Say = Callable[[str], None]
"""Where progress lines go (``click.echo`` in the CLI, a list in tests)."""

SUPPORTED_PREFIXES = ("sqlite://", "postgresql://", "postgresql+psycopg://")


class DatabaseCopyError(StoreError):
    """The copy cannot start or did not complete; the message says what to do."""


@dataclass(frozen=True)
class CopyReport:
    """What a copy did, for the CLI's summary and for tests."""

    source: str
    target: str
    migrated: list[str]
    rows: dict[str, int]
    """Rows copied per table, in the order they were copied."""
    replaced: dict[str, int] = field(default_factory=dict)
    """Rows that were in the target before a forced copy, per table."""
    sequences: dict[str, int] = field(default_factory=dict)
    """PostgreSQL only: the next id each table will hand out."""
    source_changed: list[str] = field(default_factory=list)
    """Tables whose row count changed in the source while copying (relay was still running on it)."""


def copy_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    batch_size: int = 1000,
    say: Say | None = None,
) -> CopyReport:
    """Copy every relay table from ``source_url`` into ``target_url``; raises :class:`DatabaseCopyError`."""
    emit: Say = say or (lambda _line: None)
    if batch_size < 1:
        raise DatabaseCopyError("the batch size must be at least 1")
    _check_url(source_url, "source")
    _check_url(target_url, "target")
    if _same_database(source_url, target_url):
        raise DatabaseCopyError("the source and the target are the same database: give two different URLs")
    tables = list(metadata.sorted_tables)

    with _opened(source_url, "source", must_exist=True) as source, _opened(target_url, "target") as target:
        head = current_head()
        source_revision = _check_source_schema(source, head)
        emit(f"source: {safe_url(source_url)} (schema {source_revision})")
        emit(f"target: {safe_url(target_url)}")
        migrated = _migrate_target(target)
        emit(f"target schema: applied {', '.join(migrated)}" if migrated else f"target schema: already at {head}")

        existing = {name: n for name, n in _count_rows(target, tables).items() if n}
        if existing and not force:
            raise DatabaseCopyError(
                f"the target database is not empty ({_describe(existing)}). relay copies into an empty database "
                "only, so nothing is overwritten by mistake. Point --to at a new database, or add --force to "
                "delete those rows and replace them with the source's."
            )
        if existing:
            emit(f"--force: deleting {rows_text(sum(existing.values()))} already in the target ({_describe(existing)})")

        with _snapshot(source) as reader:
            expected = {table.name: _count(reader, table) for table in tables}
            copied, sequences = _copy_all(reader, target, tables, expected, replace=bool(existing),
                                          batch_size=batch_size, emit=emit)
        if sequences:
            emit("sequences moved past the copied ids: "
                 + ", ".join(f"{name} next id {next_id}" for name, next_id in sequences.items()))

        _verify(target, tables, expected)
        emit(f"verified: {len(tables)} tables, {rows_text(sum(expected.values()))}, "
             "the same counts in source and target")
        changed = [name for name, n in _count_rows(source, tables).items() if n != expected[name]]
        if changed:
            emit(f"warning: the source changed while copying ({', '.join(changed)}): relay is still running on it. "
                 "Stop it, then copy again with --force.")
    return CopyReport(
        source=safe_url(source_url), target=safe_url(target_url), migrated=migrated, rows=copied,
        replaced=existing, sequences=sequences, source_changed=changed,
    )


def rows_text(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def safe_url(url: str) -> str:
    """The URL with its password masked, fit for a message or a log."""
    return hide_password(url)


# -- opening and checking --------------------------------------------------------------


def _check_url(url: str, role: str) -> None:
    if not url.startswith(SUPPORTED_PREFIXES):
        raise DatabaseCopyError(
            f"the {role} must be sqlite:///path/to/relay.db or postgresql://user@host:5432/dbname "
            f"(got {safe_url(url)})"
        )
    try:
        make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseCopyError(f"the {role} URL cannot be read ({exc}): check its port and punctuation") from None
    if url.startswith("sqlite") and _sqlite_path(url) is None:
        raise DatabaseCopyError(f"the {role} must be a SQLite file (sqlite:///path/to/relay.db), not in memory")


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    return None if not database or database == ":memory:" else Path(database)


def _same_database(source_url: str, target_url: str) -> bool:
    if source_url.startswith("sqlite") and target_url.startswith("sqlite"):
        source_path, target_path = _sqlite_path(source_url), _sqlite_path(target_url)
        return source_path is not None and target_path is not None and source_path.resolve() == target_path.resolve()
    return make_url(driver_url(source_url)) == make_url(driver_url(target_url))


@contextmanager
def _opened(url: str, role: str, *, must_exist: bool = False) -> Iterator[Engine]:
    """An engine that has answered once, so a wrong host or password fails here, in words."""
    path = _sqlite_path(url) if url.startswith("sqlite") else None
    if must_exist and path is not None and not path.is_file():
        # SQLite would create an empty file and the copy would "succeed" with nothing in it.
        raise DatabaseCopyError(f"the {role} database file {path} does not exist: check the path after sqlite:///")
    try:
        engine = make_engine(url)
    except ImportError as exc:
        raise DatabaseCopyError(
            f"PostgreSQL support is not installed ({exc.name} is missing): pip install 'psycopg[binary]>=3.1'"
        ) from exc
    try:
        try:
            with engine.connect():
                pass
        except DBAPIError as exc:
            raise DatabaseCopyError(
                f"cannot connect to the {role} database {safe_url(url)}: {_first_line(exc.orig)}. "
                "Check the host, port, database name, user and password (or PGPASSWORD)."
            ) from exc
        yield engine
    finally:
        engine.dispose()


def _known_revisions() -> set[str]:
    scripts = ScriptDirectory(str(files("relay") / "migrations"))
    return {script.revision for script in scripts.walk_revisions()}


def _check_source_schema(source: Engine, head: str | None) -> str:
    """The source must be at exactly this relay's schema: the copy reads it with this relay's tables."""
    revision = current_revision(source)
    if revision is None:
        raise DatabaseCopyError(
            "the source has no relay schema (no alembic_version table): is it the right database?"
        )
    if revision not in _known_revisions():
        raise DatabaseCopyError(
            f"the source's schema ({revision}) is newer than this version of relay knows (newest {head}): "
            "run the copy with the relay version that wrote it"
        )
    if revision != head:
        raise DatabaseCopyError(
            f"the source's schema is at {revision}, older than this relay's {head}. Upgrade it first with "
            "`relay migrate` (run with database.url or RELAY_DATABASE_URL set to the source), then copy again."
        )
    return revision


def _migrate_target(target: Engine) -> list[str]:
    revision = current_revision(target)
    if revision is not None and revision not in _known_revisions():
        raise DatabaseCopyError(
            f"the target's schema ({revision}) is newer than this version of relay knows (newest "
            f"{current_head()}): it was written by a newer relay. Copy into a new, empty database instead."
        )
    try:
        return apply_migrations(target)
    except (SQLAlchemyError, CommandError) as exc:
        raise DatabaseCopyError(f"cannot create relay's tables in the target: {_reason(exc)}") from exc


# -- reading and writing ---------------------------------------------------------------


def _copy_all(
    reader: Connection, target: Engine, tables: Sequence[Table], expected: dict[str, int], *,
    replace: bool, batch_size: int, emit: Say,
) -> tuple[dict[str, int], dict[str, int]]:
    """Every table in one transaction on the target: a failure anywhere writes no row at all."""
    copied: dict[str, int] = {}
    sequences: dict[str, int] = {}
    try:
        with target.begin() as writer:
            if replace:
                for table in reversed(tables):  # children before parents
                    writer.execute(table.delete())
            for table in tables:  # parents before children
                copied[table.name] = _copy_table(reader, writer, table, batch_size, expected[table.name], emit)
            if writer.dialect.name == "postgresql":
                sequences = _reset_sequences(writer, tables)
    except SQLAlchemyError as exc:
        raise DatabaseCopyError(f"the copy failed, and no row was written to the target: {_reason(exc)}") from exc
    return copied, sequences


@contextmanager
def _snapshot(source: Engine) -> Iterator[Connection]:
    """One read-only, consistent view of the source for the whole copy.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite: an explicit BEGIN, which
    in WAL mode pins the snapshot at the first read (pysqlite never begins on a SELECT by
    itself, so without it every table would be read at a different moment).
    """
    with source.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _count_rows(engine: Engine, tables: Sequence[Table]) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: _count(conn, table) for table in tables}


def _copy_table(reader: Connection, writer: Connection, table: Table, batch_size: int, total: int, emit: Say) -> int:
    """Stream one table in primary-key order, ``batch_size`` rows per INSERT."""
    insert, renamed = _insert_statement(table)
    query = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=batch_size)
    check_lengths = writer.dialect.name == "postgresql"
    copied = 0
    for batch in reader.execute(query).partitions():
        rows = [dict(row._mapping) for row in batch]
        if check_lengths:
            _check_postgresql_values(table, rows)
        for row in rows:
            for key, param in renamed.items():
                row[param] = row.pop(key)
        writer.execute(insert, rows)
        copied += len(rows)
        if copied < total:
            emit(f"  {table.name}: {copied}/{total} rows")
    emit(f"  {table.name}: {rows_text(copied)}")
    return copied


def _insert_statement(table: Table) -> tuple[Any, dict[str, str]]:
    """INSERT for every column; nullable JSON columns keep SQL NULL apart from JSON ``null``.

    By default SQLAlchemy writes Python ``None`` into a JSON column as the JSON text
    ``null``; a column that was SQL NULL in the source must stay SQL NULL in the target
    (``IS NULL`` queries depend on it). Non-nullable JSON columns keep the default, as SQL
    NULL could not be stored there anyway.
    """
    renamed = {
        column.key: f"{column.key}__value"
        for column in table.columns
        if isinstance(column.type, JSON) and column.nullable
    }
    values = {key: bindparam(param, type_=JSON(none_as_null=True)) for key, param in renamed.items()}
    return (table.insert().values(values) if values else table.insert()), renamed


def _check_postgresql_values(table: Table, rows: list[dict[str, Any]]) -> None:
    """Name the row PostgreSQL would refuse, instead of failing a whole batch with no clue.

    SQLite stores a string of any length in VARCHAR(n) and accepts NUL characters;
    PostgreSQL refuses both.
    """
    limits = {
        column.key: column.type.length
        for column in table.columns
        if isinstance(column.type, String)
    }
    for row in rows:
        for key, length in limits.items():
            value = row.get(key)
            if not isinstance(value, str):
                continue
            where = f"{table.name}.{key} of the row with {_row_key(table, row)}"
            if length is not None and len(value) > length:
                raise DatabaseCopyError(
                    f"{where} has {len(value)} characters; PostgreSQL stores at most {length} there. "
                    "Shorten or delete that row in the source, then copy again."
                )
            if "\x00" in value:
                raise DatabaseCopyError(
                    f"{where} contains a NUL character, which PostgreSQL cannot store. "
                    "Remove it in the source, then copy again."
                )


def _row_key(table: Table, row: dict[str, Any]) -> str:
    return ", ".join(f"{column.key}={row.get(column.key)!r}" for column in table.primary_key.columns)


def _reset_sequences(writer: Connection, tables: Sequence[Table]) -> dict[str, int]:
    """Set each serial sequence so that its next value is ``max(id) + 1`` (1 for an empty table).

    Rows were inserted with their ids, which never advances a PostgreSQL sequence.
    """
    preparer = writer.dialect.identifier_preparer
    next_ids: dict[str, int] = {}
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = func.pg_get_serial_sequence(preparer.format_table(table), column.name)
        next_id = func.coalesce(select(func.max(column)).scalar_subquery(), 0) + 1
        done = writer.execute(select(func.setval(sequence, next_id, false()))).scalar_one_or_none()
        if done is not None:  # None: the column has no sequence, nothing to move
            next_ids[table.name] = int(done)
    return next_ids


def _verify(target: Engine, tables: Sequence[Table], expected: dict[str, int]) -> None:
    found = _count_rows(target, tables)
    wrong = {name: n for name, n in found.items() if n != expected[name]}
    if wrong:
        detail = ", ".join(f"{name} {n} instead of {expected[name]}" for name, n in wrong.items())
        raise DatabaseCopyError(
            f"the row counts differ after the copy ({detail}): something else wrote to the target meanwhile. "
            "Stop every relay using it, then copy again with --force."
        )


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def _reason(exc: BaseException) -> str:
    """The driver's own words when there are some (SQLAlchemy's wrapper adds the SQL and a link)."""
    return _first_line(exc.orig if isinstance(exc, DBAPIError) else exc)


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip() if error is not None else ""
    return text.splitlines()[0] if text else type(error).__name__
