"""The long crash runs: each scenario of tests/crash_scenarios.py with 100 SIGKILLs (or ``--kills``).

    .venv/bin/python bench/crash_long.py                  # every scenario, 100 kills each
    .venv/bin/python bench/crash_long.py --kills 20 --only webhook
    .venv/bin/python bench/crash_long.py --write RELIABILITY.md

Prints one line per scenario as it ends (kills, kills that landed while posts were flowing,
posts, lost, doubled, seconds) and, with ``--write``, replaces the table between the markers
of RELIABILITY.md. PostgreSQL scenarios use a throw-away database on
``RELAY_BENCH_POSTGRES`` (default postgresql://postgres@127.0.0.1:5432/test) and are skipped,
with a line saying so, when it does not answer. Scenarios run ``--parallel`` at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench_support import POSTGRES_ADMIN_URL, ROOT, machine, postgres_database
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.crash_scenarios import Outcome, Scenario, run
from tests.test_crash_scenarios import POSTGRES_SCENARIOS, SCENARIOS

START, END = "<!-- crash-long:start -->", "<!-- crash-long:end -->"


def postgres_answers() -> str | None:
    """None when the benchmark PostgreSQL answers, else why not."""
    engine = create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except OperationalError as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} does not answer ({exc.orig})"
    finally:
        engine.dispose()


def play(scenario: Scenario, seed: int) -> dict[str, object]:
    try:
        return _play(scenario, seed)
    except AssertionError as exc:  # a run that could not settle is a failure to report, not a reason to stop
        return {"scenario": scenario.name, "database": scenario.database, "workers": scenario.workers,
                "error": str(exc)}


def _play(scenario: Scenario, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="relay-crash-") as tmp:
        if scenario.database == "postgresql":
            if (why := postgres_answers()) is not None:
                return {"scenario": scenario.name, "skipped": why}
            with postgres_database(f"crash{seed}") as url:
                outcome: Outcome = run(scenario, Path(tmp), database_url=url, seed=seed)
        else:
            outcome = run(scenario, Path(tmp), seed=seed)
    row = outcome.row()
    row["lost_links"], row["doubled_links"] = outcome.lost, outcome.doubled
    return row


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| scenario | database | workers | kills | while posting | posts | with image | lost | doubled | time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "skipped" in row or "error" in row:
            why = f"skipped: {row['skipped']}" if "skipped" in row else f"**failed**: {row['error']}"
            lines.append(f"| {row['scenario']} | {why} | | | | | | | | |")
            continue
        lines.append(f"| {row['scenario']} | {row['database']} | {row['workers']} | {row['kills']} | "
                     f"{row['kills_while_posting']} | {row['posts']} | {row['with_image']} | **{row['lost']}** | "
                     f"**{row['doubled']}** | {row['seconds']} s |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--only", default="", help="run the scenarios whose name contains this text")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--write", metavar="FILE", help="put the table between the markers of FILE")
    args = parser.parse_args()
    # Enough posts that they keep flowing until the last kill: X's slow answers post fewer per kill.
    chosen = [replace(s, kills=args.kills, posts=max(s.posts, args.kills * (1 if s.x_delay >= 1 else 2)))
              for s in SCENARIOS + POSTGRES_SCENARIOS if args.only.lower() in s.name.lower()]
    print(f"machine: {json.dumps(machine())}", flush=True)
    rows: list[dict[str, object]] = []
    with ProcessPoolExecutor(max_workers=args.parallel) as pool:
        futures = [pool.submit(play, scenario, args.seed + n) for n, scenario in enumerate(chosen)]
        for future in futures:
            row = future.result()
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    print(table(rows))
    if args.write:
        target = (ROOT / args.write) if not Path(args.write).is_absolute() else Path(args.write)
        text = target.read_text(encoding="utf-8")
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        target.write_text(f"{head}{START}\n{table(rows)}\n{END}{tail}", encoding="utf-8")
    failed = [r for r in rows if r.get("lost") or r.get("doubled") or "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
