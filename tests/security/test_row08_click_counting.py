"""Row 8: one address counts at most one human click per link per window, whatever its User-Agent.

Before: 1,000 hits from one address with 1,000 browser User-Agents counted as 1,000 human
clicks, and human clicks choose the evergreen re-share and the best template.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from relay.metrics.clicks import ClickEvent, ClickRecorder
from relay.store.links import find_link
from tests.test_bots import HUMANS
from tests.test_clicks import stored_clicks
from tests.tracking_app import make_runtime, seed_post


def test_a_thousand_user_agents_from_one_address_are_one_reader(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    _, codes = seed_post(runtime, 1)
    target = find_link(runtime.store.engine, codes[0])
    assert target is not None
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    agents = [f"{HUMANS[n % len(HUMANS)]} build/{n}" for n in range(1000)]

    async def run() -> None:
        recorder = ClickRecorder(runtime.store.engine)
        for n, agent in enumerate(agents):  # 1,000 hits in 10 s, one address
            recorder.submit(ClickEvent(target, start + timedelta(milliseconds=10 * n), "GET", "203.0.113.9", agent, ""))
        recorder.submit(ClickEvent(target, start + timedelta(seconds=5), "GET", "203.0.113.10", agents[0], ""))
        await recorder.flush()

    asyncio.run(run())
    rows = stored_clicks(runtime.store.engine)
    assert len(rows) == 1001, "every hit is stored"
    assert sum(1 for row in rows if row["human"]) == 2, "one reader per address"
