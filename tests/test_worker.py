"""The worker loop: a wake-up that arrives during a round is never lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from relay.adapters.x import DryRunPublisher
from relay.pipeline.service import RelayService
from relay.pipeline.worker import Worker
from relay.store.engine import apply_migrations, make_engine
from relay.store.store import Store


class WakingPoller:
    """Stands in for the feed poller: a webhook wakes the worker while the first round is running."""

    def __init__(self) -> None:
        self.rounds = 0
        self.worker: Worker | None = None

    async def poll(self, now: datetime, *, only_due: bool = True) -> list[object]:
        self.rounds += 1
        if self.rounds == 1 and self.worker is not None:
            self.worker.wake()
        return []


def test_a_wake_during_a_round_starts_the_next_round_at_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    apply_migrations(engine)
    poller = WakingPoller()
    worker = Worker(RelayService(Store(engine), DryRunPublisher()), poller,  # type: ignore[arg-type]
                    now=lambda: datetime.now(UTC), tick_seconds=30)
    poller.worker = worker

    async def run_briefly() -> None:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(1.0)
        worker.stop()
        await task

    asyncio.run(run_briefly())
    engine.dispose()
    assert poller.rounds >= 2, "the wake-up during round one was lost: the next round waited for the 30 s tick"


def test_a_sole_worker_frees_feed_leases_its_dead_predecessor_held(tmp_path: Path) -> None:
    from datetime import timedelta

    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    apply_migrations(engine)
    store = Store(engine)
    now = datetime.now(UTC)
    [feed] = store.sync_feeds(["https://blog.fr/feed/"], now)
    assert store.claim_feeds([feed.id], now, limit=1, lease=timedelta(minutes=5), instance="dead") != []
    worker = Worker(RelayService(store, DryRunPublisher()), WakingPoller(),  # type: ignore[arg-type]
                    now=lambda: now, sole_worker=True)
    asyncio.run(worker.recover())
    assert store.claim_feeds([feed.id], now, limit=1, lease=timedelta(minutes=5), instance="me") != [], (
        "the restarted process can check the feed at once, not 5 minutes later"
    )
    engine.dispose()
