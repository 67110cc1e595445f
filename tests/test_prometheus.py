"""``GET /metrics``: valid Prometheus text, with counts read from the database at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from relay.metrics.prometheus import POLL_DURATION
from tests.test_reports import add_clicks
from tests.tracking_app import NOW, StubRuntime, build_app, make_runtime, seed_post


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by name and sorted labels (parsing proves the format)."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def runtime(database_url: str) -> StubRuntime:
    runtime = make_runtime(database_url)
    _, codes = seed_post(runtime, 1, variants=2, sent_at=NOW - timedelta(days=1))
    add_clicks(runtime, codes[0], human=3, bots=2)
    seed_post(runtime, 2, sent=False)
    seed_post(runtime, 3, sent_at=NOW, dry_run=True)
    [queued] = [d for d in runtime.store.list_deliveries() if d.status == "queued"]
    runtime.store.finish_delivery(queued.id, status="queued", now=NOW, outcome="rate_limited", detail="429",
                                  next_attempt_at=NOW + timedelta(minutes=15))
    runtime.store.finish_delivery(queued.id, status="failed", now=NOW, outcome="rejected", detail="400 too long")
    return runtime


def test_metrics_are_valid_prometheus_text_with_database_counts(runtime: StubRuntime) -> None:
    POLL_DURATION.observe(0.3)
    with TestClient(build_app(runtime)) as client:
        client.get("/r/Nope1234")
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert found[("relay_database_up", ())] == 1
    assert found[("relay_posts_relayed_total", ())] == 1, "dry-runs are not relayed posts"
    assert found[("relay_deliveries", (("state", "sent"),))] == 3
    assert found[("relay_deliveries", (("state", "failed"),))] == 1
    assert found[("relay_deliveries", (("state", "queued"),))] == 0
    assert found[("relay_x_errors_total", (("outcome", "rate_limited"),))] == 1
    assert found[("relay_x_errors_total", (("outcome", "rejected"),))] == 1
    assert found[("relay_clicks_total", (("kind", "human"),))] == 3
    assert found[("relay_clicks_total", (("kind", "bot"),))] == 2
    assert found[("relay_click_queue_depth", ())] == 0
    assert found[("relay_redirects_total", (("result", "unknown"),))] >= 1
    assert found[("relay_publishing_blocked", ())] == 0
    assert found[("relay_poll_duration_seconds_count", ())] >= 1
    assert found[("relay_poll_duration_seconds_bucket", (("le", "0.5"),))] >= 1
    assert "# TYPE relay_poll_duration_seconds histogram" in answer.text


def test_a_scrape_still_answers_when_the_database_does_not(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    with TestClient(build_app(runtime)) as client:
        with runtime.store.engine.begin() as conn:
            conn.execute(text("DROP TABLE clicks"))
        answer = client.get("/metrics")
    assert answer.status_code == 200
    found = samples(answer.text)
    assert found[("relay_database_up", ())] == 0
    assert ("relay_click_queue_depth", ()) in found


def test_blocked_publishing_shows(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = make_runtime(sqlite_url)
    paused = property(lambda _self: "X says the account has no credits left")
    monkeypatch.setattr(type(runtime.service), "blocked_reason", paused)
    with TestClient(build_app(runtime)) as client:
        found = samples(client.get("/metrics").text)
    assert found[("relay_publishing_blocked", ())] == 1
