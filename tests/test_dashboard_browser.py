"""The dashboard in a real browser: Debian's chromium driven by Playwright, against real uvicorn.

Signs in through the form, finds the posts (a ``<script>`` title shown as text, no alert), finds
the charts drawn with non-blank pixels, sees no console error, and saves a screenshot under
tests/artifacts/. Playwright's own browser downloads are never used: only /usr/bin/chromium.

Then, in English and French at 360 px and 1280 px: no sideways scrolling, each tweet's text and
its link on X, times in the configured zone with its name, amounts as the language writes them,
the feed's name from the config, no English word on the French page, and axe-core (the copy the
``axe-playwright-python`` test dependency ships) finding no serious or critical violation.
Screenshots go to tests/artifacts/ and /tmp/shots/. The review mode is driven end to end in
tests/test_review_browser.py.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from relay.store.schema import deliveries, posts
from tests.test_reports import add_clicks, add_snapshot
from tests.tracking_app import NOW, TOKEN, AppServer, StubRuntime, build_app, make_runtime, seed_post

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
SHOTS = Path("/tmp/shots")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCRIPT_TITLE = "<script>alert(1)</script>"

COUNT_INKED_PIXELS = """async (png) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 200 || data[i + 1] < 200) inked++;   // the chart's blue line, not the white page
  }
  return inked;
}"""


def _playwright() -> Any:
    if not CHROMIUM.exists():
        print(f"SKIPPED: {CHROMIUM} is missing; install Debian's chromium (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("SKIPPED: the playwright package is missing; pip install playwright (no browser download needed)")
        pytest.skip("the playwright package is missing: pip install playwright")
    return sync_playwright


@pytest.fixture
def seeded(sqlite_url: str) -> StubRuntime:
    runtime = make_runtime(sqlite_url)
    now = datetime.now(UTC)
    post_id, codes = seed_post(runtime, 1, title=SCRIPT_TITLE, variants=2, sent_at=now - timedelta(days=6))
    for days_ago, humans in ((6, 4), (5, 9), (3, 2), (1, 7), (0, 3)):
        add_clicks(runtime, codes[days_ago % 2], human=humans, bots=1, at=now - timedelta(days=days_ago, hours=1))
    add_snapshot(runtime, post_id, 0, impressions=900, likes=12, url_link_clicks=30)
    _, second = seed_post(runtime, 2, title="Recette n°2 : la tarte « tatin »", sent_at=now - timedelta(days=2))
    add_clicks(runtime, second[0], human=5, at=now - timedelta(days=1))
    seed_post(runtime, 3, title="Waiting in the outbox", sent=False)
    feed = runtime.store.sync_feeds(["https://blog.example/feed/"], now)[0]
    runtime.store.update_feed(feed.id, error_count=3, last_error="HTTP 503 from the blog", last_checked_at=now)
    return runtime


@pytest.fixture
def server(seeded: StubRuntime) -> Iterator[AppServer]:
    with AppServer(build_app(seeded)) as running:
        yield running


def test_dashboard_in_chromium(server: AppServer) -> None:
    sync_playwright = _playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    console_errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

            page.goto(server.base_url + "/")
            assert "/login" in page.url, "a stranger is sent to the login form"
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.base_url}/?lang=en")

            posts = page.locator("article.post")
            assert posts.count() == 3
            titles = page.locator("article.post h3").all_inner_texts()
            assert SCRIPT_TITLE in titles, "the <script> title shows as text"
            assert "Recette n°2 : la tarte « tatin »" in titles
            assert page.locator("#attention").inner_text().count("HTTP 503 from the blog") == 1

            line = page.locator("svg.overall path.line")
            assert len(line.get_attribute("d") or "") > 20
            assert line.evaluate("path => path.getTotalLength()") > 100
            chart = page.locator("svg.overall")
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 50
            png = base64.b64encode(chart.screenshot()).decode()
            spark = base64.b64encode(page.locator("article.post svg.spark").first.screenshot()).decode()
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            blank = browser.new_page()  # decode the screenshots where no CSP applies
            assert blank.evaluate(COUNT_INKED_PIXELS, png) > 200, "the overall chart is drawn"
            assert blank.evaluate(COUNT_INKED_PIXELS, spark) > 20, "the per-post chart is drawn"

            page.goto(server.base_url + "/?lang=fr")
            assert page.locator("h1").inner_text() == "relay · Tableau de bord"
            assert "Waiting in the outbox" in page.locator("#posts").inner_text()
        finally:
            browser.close()
    assert console_errors == []
    assert dialogs == [], "no script from a title ran"
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert shutil.which("chromium") or CHROMIUM.exists()


# -- every width, both languages, axe-core ------------------------------------------------------

FEED_URL = "https://boulangerie.example/feed/"
FEED_NAME = "La Boulangerie du Coin"
TWEET_TEXT = "Le pain au levain, pas à pas : farine, eau, sel et du temps. https://boulangerie.example/levain/"
TWEET_ID = "1912345678901234567"
AMOUNTS = {"fr": "1,40 $", "en": "$1.40"}
ENGLISH_ONLY = ("variant", "max ", "Human clicks", "Engagement", "queued", "sent", "Feeds", "Budget (", "/day")


def axe_script() -> str:
    """axe-core's script, from the ``axe-playwright-python`` package (a test dependency), never a copy here."""
    try:
        import axe_playwright_python
    except ImportError:
        print("SKIPPED: axe-playwright-python is missing (pip install -e '.[test]'); it ships axe-core")
        pytest.skip("axe-playwright-python is missing: pip install -e '.[test]'")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it stands."""
    page.evaluate(axe_script())
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    print(f"axe-core {results['testEngine']['version']}: " + json.dumps(
        [(v["id"], v["impact"], len(v["nodes"])) for v in results["violations"]]))
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture
def bakery(sqlite_url: str) -> StubRuntime:
    """A French bakery's relay: Paris time, a named feed, a tweet posted, $1.40 spent this month."""
    runtime = make_runtime(sqlite_url, publishing={"timezone": "Europe/Paris", "review": True},
                           feeds=[{"url": FEED_URL, "name": FEED_NAME}])
    runtime.worker.clock = NOW
    feed = runtime.store.sync_feeds([FEED_URL], NOW)[0]
    post_id, codes = seed_post(runtime, 1, title="Le pain au levain, pas à pas", variants=2,
                               tweet_ids=[TWEET_ID, "1912345678901234568"], sent_at=NOW - timedelta(hours=30))
    second, _ = seed_post(runtime, 2, title="Recette n°2 : la tarte « tatin »", sent_at=NOW - timedelta(hours=3))
    with runtime.store.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.post_id == post_id, deliveries.c.variant == 0)
                     .values(text=TWEET_TEXT, cost_usd=1.0))
        conn.execute(update(posts).where(posts.c.id.in_([post_id, second])).values(feed_id=feed.id))
    add_clicks(runtime, codes[0], human=1234, bots=3, at=NOW - timedelta(hours=20))
    add_snapshot(runtime, post_id, 0, impressions=12345, likes=12, url_link_clicks=30)
    seed_post(runtime, 3, title="Une brioche qui attend votre accord", sent=False)
    runtime.store.update_feed(feed.id, error_count=2, last_error="HTTP 503 from the blog", last_checked_at=NOW)
    return runtime


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("width", [360, 1280])
def test_dashboard_reads_well_in_both_languages_at_every_width(bakery: StubRuntime, lang: str, width: int) -> None:
    sync_playwright = _playwright()
    [waiting] = bakery.store.waiting_for_review()
    with AppServer(build_app(bakery)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800},
                                    locale="fr-FR" if lang == "fr" else "en-US")
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{server.base_url}/login?lang={lang}")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.base_url}/?lang={lang}")

            overflow = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
            assert max(overflow) <= width, f"the page is {overflow} px wide at {width} px"
            text = page.locator("body").inner_text().replace("\u00a0", " ").replace("\u202f", " ")

            tweet = page.locator("li.tweet", has_text="farine, eau, sel")
            assert tweet.count() == 1 and tweet.is_visible(), "the tweet's text is shown"
            assert TWEET_TEXT in tweet.inner_text()
            on_x = tweet.locator("a.on-x")
            assert on_x.is_visible() and on_x.get_attribute("href") == f"https://x.com/i/web/status/{TWEET_ID}"
            assert on_x.inner_text() == ("Voir sur X" if lang == "fr" else "See it on X")

            assert "Europe/Paris" in page.locator("#zone").inner_text()
            assert AMOUNTS[lang] in page.locator("#spending").inner_text().replace("\u00a0", " ")
            # 2026-11-25 12:00 UTC less 30 hours is 07:00 in Paris (UTC+1 in November).
            assert ("24 nov. 2026, 07:00" if lang == "fr" else "Nov 24, 2026, 7:00 AM") in text
            assert ("12 345" if lang == "fr" else "12,345") in text and ("1 234" if lang == "fr" else "1,234") in text
            assert text.count(FEED_NAME) >= 3, "the feed's name from the config, on its posts and in the feeds"
            if lang == "fr":
                found = [word for word in ENGLISH_ONLY if re.search(rf"(?<![\w-]){re.escape(word)}", text)]
                assert found == [], f"English words on the French page: {found}"
                assert "Robots et répétitions" not in text and "Jeton" not in text and "Taux d’engagement" not in text
            assert page.locator("#glossary dd").count() == 6, "one sentence for each figure"

            box = page.locator(f"#text-{waiting.delivery_id}").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width

            SHOTS.mkdir(exist_ok=True)
            ARTIFACTS.mkdir(exist_ok=True)
            for folder in (SHOTS, ARTIFACTS):
                page.screenshot(path=str(folder / f"dashboard-{lang}-{width}.png"), full_page=True)
            height = page.evaluate("() => document.documentElement.scrollHeight")
            for part, top in enumerate(range(0, height, 1200)):  # pieces a person (or a reviewer) can read
                page.screenshot(path=str(SHOTS / f"dashboard-{lang}-{width}-part{part + 1}.png"), full_page=True,
                                clip={"x": 0, "y": top, "width": width, "height": min(1200, height - top)})

            serious = serious_violations(page)
            assert serious == [], [(v["id"], [(n["target"], n["failureSummary"]) for n in v["nodes"]]) for v in serious]
            assert errors == []
        finally:
            browser.close()
