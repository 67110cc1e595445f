"""``GET /metrics`` for Prometheus: counts read from the database at scrape time.

Why a custom collector instead of counters incremented in code: relay may restart, run
``relay poll`` beside ``relay serve``, or share a PostgreSQL database between
instances; the database is the only place where "posts relayed" or "deliveries by
state" is true for all of them. What only this process knows (its click queue, its
poll durations, redirects it answered) comes from in-process objects next to it.

Each app builds its own :class:`CollectorRegistry` (tests build many apps in one
process); the module-level :data:`POLL_DURATION` and :data:`REDIRECTS` are shared and
registered in each, so the poller can observe durations without knowing about the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from relay.core.networks import NETWORK_NAMES
from relay.metrics.clicks import ClickRecorder
from relay.store.metrics_store import (
    count_clicks,
    delivery_counts,
    feeds_by_status,
    figures_by_network,
    posts_relayed,
    x_errors_by_outcome,
)

log = logging.getLogger("relay.metrics")

NETWORKS = tuple(NETWORK_NAMES)

POLL_DURATION = Histogram(
    "relay_poll_duration_seconds",
    "Time one round of feed polling took (all due feeds).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=None,
)
"""Observe it from the poller: ``with POLL_DURATION.time(): await poller.poll(now)``."""

REDIRECTS = Counter(
    "relay_redirects", "Requests to /r/CODE answered by this process, by result.", ["result"], registry=None
)


class RelayCollector(Collector):
    """Reads the counts when Prometheus scrapes; reports ``relay_database_up 0`` if it cannot."""

    def __init__(
        self,
        engine: Engine,
        recorder: ClickRecorder | None = None,
        blocked_reason: Callable[[], str | None] | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.blocked_reason = blocked_reason

    def collect(self) -> Iterable[Metric]:
        yield from self._in_process()
        try:
            database = list(self._from_database())
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics: database unavailable", extra={"error": type(exc).__name__})
            yield GaugeMetricFamily("relay_database_up", "1 when the database answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("relay_database_up", "1 when the database answered this scrape.", value=1)
        yield from database

    def _from_database(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "relay_posts_relayed",
            "Articles with at least one post really published (on any network).",
            value=posts_relayed(self.engine),
        )
        states = GaugeMetricFamily("relay_deliveries", "Deliveries (tweets to post) by state.", labels=["state"])
        for state, count in delivery_counts(self.engine).items():
            states.add_metric([state], count)
        yield states
        errors = CounterMetricFamily(
            "relay_x_errors", "Delivery attempts X answered with an error, by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(x_errors_by_outcome(self.engine).items()):
            errors.add_metric([outcome], count)
        yield errors
        clicks = CounterMetricFamily(
            "relay_clicks",
            "Clicks on tracked links stored, by kind (human counts; bot, head, repeat do not).",
            labels=["kind"],
        )
        for kind, count in count_clicks(self.engine).items():
            clicks.add_metric([kind], count)
        yield clicks
        yield from self._per_network()
        feeds = GaugeMetricFamily("relay_feeds", "Configured feeds by status.", labels=["status"])
        for status, count in sorted(feeds_by_status(self.engine).items()):
            feeds.add_metric([status], count)
        yield feeds

    def _per_network(self) -> Iterable[Metric]:
        """Posts, human clicks and reactions by network; every network always has its posts and clicks line."""
        figures = figures_by_network(self.engine)
        networks = [*NETWORKS, *sorted(set(figures) - set(NETWORKS))]
        sent = CounterMetricFamily("relay_network_posts_sent", "Posts really published, by network.",
                                   labels=["network"])
        human = CounterMetricFamily("relay_network_human_clicks",
                                    "Human clicks on the tracked links of each network's posts.", labels=["network"])
        reactions = GaugeMetricFamily(
            "relay_network_reactions",
            "Reactions to the posts, by network and kind, from each post's newest reading (reposts: retweets on X, "
            "boosts on Mastodon); a kind the network does not count has no line.",
            labels=["network", "kind"],
        )
        for network in networks:
            mine = figures.get(network)
            sent.add_metric([network], mine.posts_sent if mine else 0)
            human.add_metric([network], mine.human_clicks if mine else 0)
            for kind, count in ((mine.reactions or {}) if mine else {}).items():
                reactions.add_metric([network, kind], count)
        yield sent
        yield human
        yield reactions

    def _in_process(self) -> Iterable[Metric]:
        if self.recorder is not None:
            r = self.recorder
            yield GaugeMetricFamily("relay_click_queue_depth", "Clicks accepted and not yet written.", value=r.depth)
            yield CounterMetricFamily("relay_click_writes", "Clicks written by this process.", value=r.written)
            yield CounterMetricFamily(
                "relay_clicks_dropped", "Clicks dropped because the queue was full.", value=r.dropped
            )
            yield CounterMetricFamily("relay_click_write_errors", "Failed click batch writes.", value=r.write_errors)
        if self.blocked_reason is not None:
            yield GaugeMetricFamily(
                "relay_publishing_blocked",
                "1 when publishing is paused until a human acts.",
                value=1 if self.blocked_reason() else 0,
            )


def build_registry(
    engine: Engine,
    recorder: ClickRecorder | None = None,
    blocked_reason: Callable[[], str | None] | None = None,
) -> CollectorRegistry:
    """A registry with relay's collector and the shared in-process metrics."""
    registry = CollectorRegistry()
    registry.register(RelayCollector(engine, recorder, blocked_reason))
    registry.register(POLL_DURATION)
    registry.register(REDIRECTS)
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The text exposition format (blocking: it queries the database)."""
    return generate_latest(registry)
