"""The dashboard in a real browser: Debian's chromium driven by Playwright, against real uvicorn.

Signs in through the form, finds the posts (a ``<script>`` title shown as text, no alert), finds
the charts drawn with non-blank pixels, sees no console error, and saves a screenshot under
tests/artifacts/. Playwright's own browser downloads are never used: only /usr/bin/chromium.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.test_reports import add_clicks, add_snapshot
from tests.tracking_app import TOKEN, AppServer, StubRuntime, build_app, make_runtime, seed_post

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
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
        finally:
            browser.close()
    assert console_errors == []
    assert dialogs == [], "no script from a title ran"
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert shutil.which("chromium") or CHROMIUM.exists()
