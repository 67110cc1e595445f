"""Per-post reports over a real database, in each format, and the ``relay report`` command."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from relay.cli.reports import report
from relay.metrics.reports import build_report, clicks_chart, render_csv, render_json, render_text
from relay.store.links import find_link
from relay.store.metrics_store import insert_clicks, save_snapshots
from tests.tracking_app import NOW, StubRuntime, make_runtime, seed_post


def add_clicks(runtime: StubRuntime, code: str, *, human: int, bots: int = 0, at: datetime = NOW) -> None:
    link = find_link(runtime.store.engine, code)
    assert link is not None
    rows = [
        {"link_id": link.link_id, "post_id": link.post_id, "delivery_variant": link.delivery_variant,
         "clicked_at": at + timedelta(seconds=n), "method": "GET", "referrer_host": "t.co",
         "ua_class": "human" if n < human else "preview", "ua_name": None if n < human else "Twitterbot",
         "client_hash": f"{n:032x}", "human": n < human, "reason": None if n < human else "bot"}
        for n in range(human + bots)
    ]
    insert_clicks(runtime.store.engine, rows)


def add_snapshot(runtime: StubRuntime, post_id: int, variant: int, **counters: int) -> None:
    [delivery] = [d for d in runtime.store.list_deliveries() if d.post_id == post_id and d.variant == variant]
    row = {"delivery_id": delivery.id, "checkpoint": "24h", "taken_at": NOW + timedelta(days=1), "found": True,
           "impressions": 0, "likes": 0, "retweets": 0, "replies": 0, "quotes": 0, "bookmarks": 0,
           "url_link_clicks": None, "user_profile_clicks": None}
    save_snapshots(runtime.store.engine, [{**row, **counters}])


@pytest.fixture
def seeded(database_url: str) -> StubRuntime:
    runtime = make_runtime(database_url)
    first, codes = seed_post(runtime, 1, title='Économies d’énergie, "vraiment" ?', variants=2,
                             sent_at=NOW - timedelta(days=3))
    add_clicks(runtime, codes[0], human=3, bots=5)
    add_clicks(runtime, codes[1], human=7, bots=1)
    add_snapshot(runtime, first, 0, impressions=1000, likes=10, retweets=5, url_link_clicks=20,
                 user_profile_clicks=5)
    add_snapshot(runtime, first, 1, impressions=1000, likes=30, url_link_clicks=40)
    _, codes2 = seed_post(runtime, 2, title="Second post", sent_at=NOW)
    add_clicks(runtime, codes2[0], human=2)
    seed_post(runtime, 3, title="Not sent yet", sent=False, sent_at=NOW)
    return runtime


def test_report_rows_add_up(seeded: StubRuntime) -> None:
    reports = build_report(seeded.store.engine)
    assert [r.title for r in reports] == ["Not sent yet", "Second post", 'Économies d’énergie, "vraiment" ?']
    energy = reports[-1]
    assert [t.label for t in energy.tweets] == ["v0", "v1"]
    assert [(t.human_clicks, t.other_clicks) for t in energy.tweets] == [(3, 5), (7, 1)]
    assert (energy.human_clicks, energy.other_clicks) == (10, 6)
    assert energy.x_link_clicks == 60 and energy.impressions == 2000
    assert energy.tweets[0].engagement_rate == pytest.approx(0.04)  # (10+5+20+5)/1000
    assert energy.engagement_rate == pytest.approx(0.055)  # (40+70)/2000
    assert energy.best_variant == "v1"
    assert reports[1].best_variant is None, "one tweet: nothing to compare"
    assert reports[0].tweets[0].status == "queued" and reports[0].impressions is None


def test_a_tie_names_no_winner(database_url: str) -> None:
    runtime = make_runtime(database_url)
    _, codes = seed_post(runtime, 1, variants=2)
    add_clicks(runtime, codes[0], human=4)
    add_clicks(runtime, codes[1], human=4)
    assert build_report(runtime.store.engine)[0].best_variant is None


def test_since_keeps_recent_posts_only(seeded: StubRuntime) -> None:
    titles = [r.title for r in build_report(seeded.store.engine, since=NOW - timedelta(days=1))]
    assert titles == ["Not sent yet", "Second post"]


def test_json_csv_and_text_renderings(seeded: StubRuntime) -> None:
    reports = build_report(seeded.store.engine)
    data = json.loads(render_json(reports))
    energy = data["posts"][-1]
    assert energy["human_clicks"] == 10 and energy["best_variant"] == "v1"
    assert energy["tweets"][1]["x_link_clicks"] == 40 and energy["tweets"][1]["tracked_code"]
    assert energy["first_seen_at"].startswith((NOW - timedelta(days=3)).date().isoformat())

    lines = list(csv.DictReader(io.StringIO(render_csv(reports))))
    assert len(lines) == 4, "one line per tweet"
    assert lines[-1]["title"] == 'Économies d’énergie, "vraiment" ?' and lines[-1]["human_clicks"] == "7"
    assert lines[-1]["best_variant"] == "v1" and lines[0]["impressions"] == ""

    text = render_text(reports)
    assert "Économies d’énergie" in text and "human clicks 10 (+6 bots/repeats)" in text
    assert "best: v1" in text and "engagement 5.50%" in text
    assert render_text([]) == "No relayed posts in this period."


def test_the_chart_covers_every_day_and_scales_to_the_peak() -> None:
    end = NOW.date()
    chart = clicks_chart({end: 10, end - timedelta(days=2): 5}, end, 7, width=100, height=50)
    assert len(chart.days) == 7 and chart.counts[-1] == 10 and chart.counts[-3] == 5 and chart.total == 15
    points = chart.line.removeprefix("M").split(" L")
    assert len(points) == 7 and points[-1].endswith(",2.0") and points[0].endswith(",48.0")


def test_relay_report_command(seeded: StubRuntime, database_url: str) -> None:
    runner = CliRunner()
    env = {"RELAY_DATABASE_URL": database_url}
    as_json = runner.invoke(report, ["--json"], obj={"config": None}, env=env)
    assert as_json.exit_code == 0, as_json.output
    assert len(json.loads(as_json.output)["posts"]) == 3
    as_csv = runner.invoke(report, ["--csv", "--since", (NOW - timedelta(days=1)).strftime("%Y-%m-%d")],
                           obj={"config": None}, env=env)
    assert as_csv.exit_code == 0 and len(as_csv.output.strip().splitlines()) == 3
    as_text = runner.invoke(report, [], obj={"config": None}, env=env)
    assert as_text.exit_code == 0 and "Second post" in as_text.output
    both = runner.invoke(report, ["--json", "--csv"], obj={"config": None}, env=env)
    assert both.exit_code == 2 and "choose one" in both.output
    future = runner.invoke(report, ["--since", "2099-01-01"], obj={"config": None}, env=env)
    assert future.output.startswith("No relayed posts in this period.")
    assert "X billed nothing in this period." in future.output


def test_relay_report_explains_a_bad_config() -> None:
    result = CliRunner().invoke(report, [], obj={"config": None}, env={"RELAY_DATABASE_URL": "mysql://nope"})
    assert result.exit_code == 2 and "database.url" in result.output and "Traceback" not in result.output

