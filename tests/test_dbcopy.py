"""``relay db copy``: a single-machine install moves to PostgreSQL (and back) with nothing lost.

The databases are real: a SQLite file in a temp dir and PostgreSQL schemas from the
``postgres_url`` fixture. Every table is seeded by walking ``metadata.sorted_tables``, so a
table or column added later is covered without touching this file; values are chosen to
hurt (aware datetimes in Europe/Paris across a DST change, JSON with accents, emoji and
nulls, NULLs in every nullable column, ids with gaps).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
    update,
)

from relay.cli.db import db
from relay.cli.main import cli
from relay.core.models import Post, Tweet
from relay.store.copy import _insert_statement
from relay.store.engine import apply_migrations, current_head, current_revision, make_engine
from relay.store.rows import Message, NewPost
from relay.store.schema import UTCDateTime, metadata
from relay.store.store import Store
from tests.conftest import fresh_postgres_schema

PARIS = ZoneInfo("Europe/Paris")
ROWS_PER_TABLE = 3
JSON_SAMPLE: dict[str, Any] = {
    "title": "Crème brûlée — l’été à Nantes 🥐",
    "categories": ["pâtisserie", "été"],
    "nested": {"none": None, "yes": True, "ratio": 0.2, "count": 7},
    "empty": [],
}


# -- seeding and reading ---------------------------------------------------------------


def _value(table: Table, column: Column[Any], index: int, ids: dict[str, list[int]]) -> Any:
    """A value for ``column`` in the ``index``-th seeded row, derived from its type alone."""
    if column.foreign_keys:
        parent = next(iter(column.foreign_keys)).column.table.name
        return ids[parent][index % len(ids[parent])]
    if column is table.autoincrement_column:
        return [17, 29, 40][index]  # gaps on purpose: ids are kept, not renumbered
    if column.nullable and not column.primary_key and index == 1:
        return None
    kind = column.type
    if isinstance(kind, UTCDateTime):
        # 2026-03-29 is the night Paris moves to summer time: offsets +01:00, then +02:00.
        return datetime(2026, 3, 28, 23, 45, 12, 345678, tzinfo=PARIS) + timedelta(hours=3 * index)
    if isinstance(kind, JSON):
        return {**JSON_SAMPLE, "row": index}
    if isinstance(kind, Boolean):
        return index % 2 == 0
    if isinstance(kind, Integer):
        return index * 3 + 1
    if isinstance(kind, Float):
        return 0.2 + index
    if isinstance(kind, String):  # Text too
        value = f"{column.name[:5]}{index}é«»’"
        return value if kind.length is None else value[: kind.length]
    raise AssertionError(f"tests/test_dbcopy.py cannot seed {table.name}.{column.name} ({kind!r}): add its type")


def seed_every_table(engine: Engine) -> None:
    """Three rows in every table (parents first), then one post and delivery through the real Store."""
    ids: dict[str, list[int]] = {}
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            rows = [{c.key: _value(table, c, i, ids) for c in table.columns} for i in range(ROWS_PER_TABLE)]
            conn.execute(insert(table), rows)
            if table.autoincrement_column is not None:
                ids[table.name] = [row[table.autoincrement_column.key] for row in rows]
    post = Post(
        url="https://boulangerie.example/galette", title="Galette des rois", categories=("fête",),
        published_at=datetime(2026, 1, 6, 8, 0, tzinfo=PARIS), summary_html="<p>Frangipane &amp; fève</p>",
    )
    tweet = Tweet(text="Galette des rois https://boulangerie.example/galette", link=post.url, weighted_length=40)
    Store(engine).record_posts(
        ids["feeds"][0],
        [NewPost(post=post, dedup_key="guid:galette", normalized_url=post.url, source="feed",
                 messages=(Message("default", tweet),))],
        datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
    )


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, read through the schema's types, in primary-key order."""
    with engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(select(table).order_by(*table.primary_key))]
            for table in metadata.sorted_tables
        }


def migrated(url: str) -> Engine:
    engine = make_engine(url)
    apply_migrations(engine)
    return engine


def run_copy(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(db, ["copy", *args], env=env)


def assert_copied(source: Engine, target: Engine) -> None:
    before, after = dump(source), dump(target)
    assert set(before) == {t.name for t in metadata.sorted_tables}
    for name, rows in before.items():
        assert len(rows) >= ROWS_PER_TABLE, f"{name} was not seeded"
        assert after[name] == rows, f"{name} differs after the copy"
    # Aware datetimes come back as the same instants, in UTC, on both databases.
    feeds = {row["id"]: row for row in after["feeds"]}
    assert feeds[17]["created_at"] == datetime(2026, 3, 28, 23, 45, 12, 345678, tzinfo=PARIS)
    assert feeds[17]["created_at"].tzinfo == UTC
    assert feeds[29]["created_at"].utcoffset() == timedelta(0)
    assert feeds[29]["last_checked_at"] is None
    # JSON comes back as the same structure, accents and nulls included.
    posts = {row["dedup_key"]: row for row in after["posts"]}
    assert posts["dedup0é«»’"]["data"] == {**JSON_SAMPLE, "row": 0}
    assert posts["guid:galette"]["data"]["categories"] == ["fête"]


def assert_usable_after_copy(target: Engine) -> None:
    """New rows get fresh ids: on PostgreSQL this fails unless the sequences were moved."""
    before = dump(target)
    store = Store(target)
    now = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    feed = store.sync_feeds(["https://new-blog.example/feed/"], now)[0]
    assert feed.id > max(row["id"] for row in before["feeds"])
    post = Post(url="https://new-blog.example/premier", title="Premier billet")
    tweet = Tweet(text="Premier billet https://new-blog.example/premier", link=post.url, weighted_length=40)
    [delivery_id] = store.record_posts(
        feed.id, [NewPost(post=post, dedup_key="guid:premier", normalized_url=post.url, source="feed",
                 messages=(Message("default", tweet),))],
        now,
    )
    assert delivery_id > max(row["id"] for row in before["deliveries"])
    found = store.find_post("guid:premier", post.url)
    assert found is not None and found[0] > max(row["id"] for row in before["posts"])
    with target.begin() as conn:
        attempt = conn.execute(
            insert(metadata.tables["delivery_attempts"])
            .values(delivery_id=delivery_id, at=now, outcome="sent", detail="")
            .returning(metadata.tables["delivery_attempts"].c.id)
        ).scalar_one()
    assert attempt > max(row["id"] for row in before["delivery_attempts"])


@pytest.fixture
def other_postgres_url() -> Iterator[str]:
    """A second fresh PostgreSQL schema, for PostgreSQL -> PostgreSQL."""
    with fresh_postgres_schema() as url:
        yield url


# -- the moves -------------------------------------------------------------------------


def test_sqlite_to_postgresql_keeps_everything_and_the_copy_is_usable(sqlite_url: str, postgres_url: str) -> None:
    source = migrated(sqlite_url)
    seed_every_table(source)

    result = run_copy("--from", sqlite_url, "--to", postgres_url)

    assert result.exit_code == 0, result.output
    target = make_engine(postgres_url)
    assert current_revision(target) == current_head()
    assert_copied(source, target)
    counts = {name: len(rows) for name, rows in dump(source).items()}
    for name, count in counts.items():
        assert f"  {name}: {count} rows" in result.output
    assert "sequences moved past the copied ids" in result.output
    assert "the same counts in source and target" in result.output
    assert_usable_after_copy(target)


def test_postgresql_to_sqlite(postgres_url: str, sqlite_url: str) -> None:
    source = migrated(postgres_url)
    seed_every_table(source)

    result = run_copy("--from", postgres_url, "--to", sqlite_url)

    assert result.exit_code == 0, result.output
    target = make_engine(sqlite_url)
    assert_copied(source, target)
    assert "sequences" not in result.output  # SQLite hands out max(id) + 1 by itself
    assert_usable_after_copy(target)


def test_postgresql_to_postgresql(postgres_url: str, other_postgres_url: str) -> None:
    source = migrated(postgres_url)
    seed_every_table(source)

    result = run_copy("--from", postgres_url, "--to", other_postgres_url)

    assert result.exit_code == 0, result.output
    target = make_engine(other_postgres_url)
    assert_copied(source, target)
    assert_usable_after_copy(target)


def test_sqlite_to_sqlite_in_small_batches(tmp_path: Any) -> None:
    source_url, target_url = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    source = migrated(source_url)
    seed_every_table(source)

    result = run_copy("--from", source_url, "--to", target_url, "--batch-size", "2")

    assert result.exit_code == 0, result.output
    assert "  feeds: 2/3 rows" in result.output  # progress inside a table larger than a batch
    assert_copied(source, make_engine(target_url))


def test_source_defaults_to_the_configured_database(sqlite_url: str, tmp_path: Any) -> None:
    source = migrated(sqlite_url)
    seed_every_table(source)
    target_url = f"sqlite:///{tmp_path / 'copy.db'}"

    result = run_copy("--to", target_url, env={"RELAY_DATABASE_URL": sqlite_url, "RELAY_CONFIG": ""})

    assert result.exit_code == 0, result.output
    assert_copied(source, make_engine(target_url))


def test_target_defaults_to_the_configured_database(sqlite_url: str, tmp_path: Any) -> None:
    """On the new installation: `relay db copy --from OLD` fills the database it is configured with."""
    source = migrated(sqlite_url)
    seed_every_table(source)
    target_url = f"sqlite:///{tmp_path / 'configured.db'}"

    result = run_copy("--from", sqlite_url, env={"RELAY_DATABASE_URL": target_url, "RELAY_CONFIG": ""})

    assert result.exit_code == 0, result.output
    assert_copied(source, make_engine(target_url))


def test_from_or_to_is_required() -> None:
    result = run_copy()

    assert result.exit_code == 2
    assert "give --from, --to or both" in result.output


def test_under_the_relay_command_the_config_file_names_the_source(sqlite_url: str, tmp_path: Any) -> None:
    """`relay --config FILE db copy --to URL`, as the lead's registration will run it."""
    source = migrated(sqlite_url)
    seed_every_table(source)
    config = tmp_path / "relay.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n', encoding="utf-8")
    target_url = f"sqlite:///{tmp_path / 'copy.db'}"
    relay = cli if "db" in cli.commands else click.Group(
        name="relay", commands={**cli.commands, "db": db}, params=cli.params, callback=cli.callback,
    )

    result = CliRunner().invoke(relay, ["--config", str(config), "db", "copy", "--to", target_url], obj={})

    assert result.exit_code == 0, result.output
    assert_copied(source, make_engine(target_url))


# -- refusals --------------------------------------------------------------------------


def test_a_non_empty_target_is_refused_then_replaced_with_force(sqlite_url: str, postgres_url: str) -> None:
    source = migrated(sqlite_url)
    seed_every_table(source)
    assert run_copy("--from", sqlite_url, "--to", postgres_url).exit_code == 0
    target = make_engine(postgres_url)
    Store(target).sync_feeds(["https://only-in-target.example/feed/"], datetime(2026, 4, 2, tzinfo=UTC))
    before = dump(target)

    refused = run_copy("--from", sqlite_url, "--to", postgres_url)

    assert refused.exit_code == 1
    assert "the target database is not empty (" in refused.output
    assert f"feeds {len(before['feeds'])}" in refused.output
    assert "--force" in refused.output
    assert dump(target) == before

    forced = run_copy("--from", sqlite_url, "--to", postgres_url, "--force")

    assert forced.exit_code == 0, forced.output
    assert "--force: deleting " in forced.output and " already in the target (" in forced.output
    assert_copied(source, target)  # the target's own feed is gone, nothing is duplicated
    assert_usable_after_copy(target)


def test_a_failed_copy_leaves_the_target_empty(sqlite_url: str, postgres_url: str) -> None:
    source = migrated(sqlite_url)
    seed_every_table(source)
    feeds = metadata.tables["feeds"]
    with source.begin() as conn:  # SQLite ignores VARCHAR(2048); PostgreSQL does not
        conn.execute(update(feeds).where(feeds.c.id == 29).values(url="https://x.example/" + "a" * 3000))

    result = run_copy("--from", sqlite_url, "--to", postgres_url)

    assert result.exit_code == 1
    assert "feeds.url of the row with id=29 has 3018 characters" in result.output
    assert all(not rows for rows in dump(make_engine(postgres_url)).values())


def test_an_unreachable_target_is_named_without_its_password(sqlite_url: str) -> None:
    migrated(sqlite_url)

    result = run_copy("--from", sqlite_url, "--to", "postgresql://relay:hunter2@127.0.0.1:1/relay")

    assert result.exit_code == 1
    assert "cannot connect to the target database postgresql://relay:********@127.0.0.1:1/relay" in result.output
    assert "hunter2" not in result.output


def test_a_missing_source_file_is_not_created(tmp_path: Any) -> None:
    result = run_copy("--from", f"sqlite:///{tmp_path / 'typo.db'}", "--to", f"sqlite:///{tmp_path / 'new.db'}")

    assert result.exit_code == 1
    assert "typo.db does not exist" in result.output
    assert not (tmp_path / "typo.db").exists()
    assert not (tmp_path / "new.db").exists()


def test_source_and_target_must_differ(sqlite_url: str) -> None:
    migrated(sqlite_url)
    same = sqlite_url.replace("relay.db", "./relay.db")

    result = run_copy("--from", sqlite_url, "--to", same)

    assert result.exit_code == 1
    assert "the same database" in result.output


def test_unsupported_url(sqlite_url: str) -> None:
    result = run_copy("--from", sqlite_url, "--to", "mysql://relay@db/relay")

    assert result.exit_code == 1
    assert "the target must be sqlite:///" in result.output


def test_a_source_without_relay_schema(tmp_path: Any) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with make_engine(empty).begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))

    result = run_copy("--from", empty, "--to", f"sqlite:///{tmp_path / 'new.db'}")

    assert result.exit_code == 1
    assert "the source has no relay schema" in result.output


def test_an_older_source_must_be_migrated_first(sqlite_url: str, tmp_path: Any) -> None:
    source = migrated(sqlite_url)
    with source.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))

    result = run_copy("--from", sqlite_url, "--to", f"sqlite:///{tmp_path / 'new.db'}")

    assert result.exit_code == 1
    assert f"the source's schema is at 0001, older than this relay's {current_head()}" in result.output
    assert "relay migrate" in result.output


def test_a_target_written_by_a_newer_relay_is_refused(sqlite_url: str, postgres_url: str) -> None:
    migrated(sqlite_url)
    target = migrated(postgres_url)
    with target.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))

    result = run_copy("--from", sqlite_url, "--to", postgres_url)

    assert result.exit_code == 1
    assert "the target's schema (9999_future) is newer than this version of relay knows" in result.output


def test_a_source_written_by_a_newer_relay_is_refused(sqlite_url: str, tmp_path: Any) -> None:
    source = migrated(sqlite_url)
    with source.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))

    result = run_copy("--from", sqlite_url, "--to", f"sqlite:///{tmp_path / 'new.db'}")

    assert result.exit_code == 1
    assert "the source's schema (9999_future) is newer" in result.output


# -- the JSON NULL detail --------------------------------------------------------------


def test_nullable_json_keeps_sql_null_apart_from_json_null(database_url: str) -> None:
    """relay's JSON columns are NOT NULL today; the copy must still be right for a nullable one."""
    scratch = MetaData()
    table = Table("json_scratch", scratch, Column("id", Integer, primary_key=True), Column("doc", JSON),
                  Column("note", Text))
    engine = make_engine(database_url)
    scratch.create_all(engine)
    statement, _renamed = _insert_statement(table)
    with engine.begin() as conn:
        conn.execute(statement, [{"id": 1, "doc__value": None, "note": "a"},
                                 {"id": 2, "doc__value": {"k": [1, None]}, "note": "b"}])
        nulls = conn.execute(select(table.c.id).where(table.c.doc.is_(None))).scalars().all()
        docs = conn.execute(select(table.c.doc).order_by(table.c.id)).scalars().all()
    assert nulls == [1]
    assert docs == [None, {"k": [1, None]}]
