"""The in-process parts the web routes share for measuring: the link cache, clicks, Prometheus.

:class:`Tracking` holds the link cache (the redirect's only lookup), the click recorder
(its queue and background writer) and the Prometheus registry. One per app, kept on
``app.state.tracking``; the app's lifespan starts it and stops it, and stopping writes
every queued click.
"""


from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from relay.metrics.clicks import ClickRecorder
from relay.metrics.engagement import Runtime
from relay.metrics.prometheus import build_registry
from relay.store.links import LinkCache


@dataclass
class Tracking:
    links: LinkCache
    clicks: ClickRecorder
    registry: CollectorRegistry

    @classmethod
    def for_runtime(cls, runtime: Runtime, *, batch_size: int = 256, flush_interval: float = 0.25) -> Tracking:
        engine = runtime.store.engine
        clicks = ClickRecorder(engine, batch_size=batch_size, flush_interval=flush_interval)
        registry = build_registry(engine, clicks, lambda: runtime.service.blocked_reason)
        return cls(LinkCache(engine), clicks, registry)

    async def start(self) -> None:
        """Start the click writer (call from the lifespan, before ``yield``)."""
        await self.clicks.start()

    async def stop(self) -> None:
        """Write every queued click (call from the lifespan, after the server stopped serving)."""
        await self.clicks.stop()


__all__ = ["Tracking"]
