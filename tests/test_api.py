"""The JSON API and the dashboard's doors: who gets in, what they see, how errors look."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.test_reports import add_clicks, add_snapshot
from tests.tracking_app import NOW, TOKEN, StubRuntime, build_app, make_runtime, seed_post

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCRIPT_TITLE = "<script>alert(1)</script> & co"


@pytest.fixture
def runtime(database_url: str) -> StubRuntime:
    runtime = make_runtime(database_url)
    post_id, codes = seed_post(runtime, 1, title=SCRIPT_TITLE, variants=2, sent_at=NOW - timedelta(days=2))
    add_clicks(runtime, codes[1], human=4, bots=2)
    add_snapshot(runtime, post_id, 1, impressions=400, likes=8, url_link_clicks=12)
    seed_post(runtime, 2, title="Newer post", sent_at=NOW)
    return runtime


@pytest.fixture
def client(runtime: StubRuntime) -> Iterator[TestClient]:
    with TestClient(build_app(runtime), follow_redirects=False) as test_client:
        yield test_client


# -- the JSON API ----------------------------------------------------------------------------


def test_api_without_or_with_a_wrong_token_is_401_problem_json(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = client.get("/api/posts", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        body = answer.json()
        assert body["status"] == 401 and body["detail"] and TOKEN not in answer.text


def test_api_without_a_configured_token_says_what_to_set(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url, token="")
    with TestClient(build_app(runtime)) as client:
        answer = client.get("/api/posts", headers=AUTH)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "[api] token" in answer.json()["detail"]


def test_list_posts(client: TestClient) -> None:
    answer = client.get("/api/posts", headers=AUTH)
    assert answer.status_code == 200
    posts = answer.json()["posts"]
    assert [p["title"] for p in posts] == ["Newer post", SCRIPT_TITLE]
    assert posts[1]["human_clicks"] == 4 and posts[1]["x_link_clicks"] == 12 and posts[1]["best_variant"] == "v1"
    assert [t["variant"] for t in posts[1]["tweets"]] == [0, 1]
    since = client.get("/api/posts", params={"since": (NOW - timedelta(days=1)).date().isoformat()}, headers=AUTH)
    assert [p["title"] for p in since.json()["posts"]] == ["Newer post"]
    assert len(client.get("/api/posts", params={"limit": 1}, headers=AUTH).json()["posts"]) == 1


def test_bad_parameters_are_400_problem_json(client: TestClient) -> None:
    for params in ({"since": "last week"}, {"limit": 0}):
        answer = client.get("/api/posts", params=params, headers=AUTH)
        assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"


def test_one_post_with_snapshots_and_clicks_by_day(client: TestClient, runtime: StubRuntime) -> None:
    post_id = client.get("/api/posts", headers=AUTH).json()["posts"][1]["id"]
    answer = client.get(f"/api/posts/{post_id}", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["title"] == SCRIPT_TITLE
    assert [(s["checkpoint"], s["impressions"]) for s in body["snapshots"]] == [("24h", 400)]
    assert isinstance(body["human_clicks_by_day"], dict)
    missing = client.get("/api/posts/999999", headers=AUTH)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/posts/{post_id}").status_code == 401


# -- the dashboard's doors ------------------------------------------------------------------------


def test_the_dashboard_sends_strangers_to_the_login_form(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    form = client.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "script-src" not in form.headers["content-security-policy"], "no script may run at all"


def test_login_sets_an_httponly_strict_cookie_that_is_not_the_token(client: TestClient) -> None:
    wrong = client.post("/login", data={"token": "nope"})
    assert wrong.status_code == 401 and "not the one" in wrong.text
    answer = client.post("/login", data={"token": TOKEN})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/?")
    cookie = answer.headers["set-cookie"]
    assert "relay_session=" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert TOKEN not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Newer post" in page.text
    client.post("/logout")
    assert client.get("/").status_code == 303


def test_a_forged_or_stale_cookie_is_refused(client: TestClient) -> None:
    from relay.routes.dashboard import session_value

    now = int(time.time())  # the dashboard checks sessions against the real clock
    client.cookies.set("relay_session", session_value(TOKEN, now - 60))
    assert client.get("/").status_code == 200, "a fresh session signed with the token gets in"
    client.cookies.set("relay_session", session_value("another-token", now - 60))
    assert client.get("/").status_code == 303
    client.cookies.set("relay_session", session_value(TOKEN, now - 31 * 24 * 3600))  # older than 30 days
    assert client.get("/").status_code == 303


def test_basic_auth_with_the_token_as_password(client: TestClient) -> None:
    good = base64.b64encode(f"owner:{TOKEN}".encode()).decode()
    bad = base64.b64encode(b"owner:guess").decode()
    assert client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert client.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 303


def test_titles_are_escaped_and_labels_follow_the_language(client: TestClient) -> None:
    client.post("/login", data={"token": TOKEN})
    page = client.get("/")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page.text
    assert "Visits from X" in page.text and "<svg" in page.text
    french = client.get("/?lang=fr")
    assert 'lang="fr"' in french.text and "Visites venues de X" in french.text
    browser = client.get("/", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.8"})
    assert "Tableau de bord" in browser.text
    english = client.get("/", headers={"Accept-Language": "de-DE,en;q=0.5,fr;q=0.4"})
    assert "Dashboard" in english.text


def test_without_a_token_the_dashboard_says_how_to_turn_it_on(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url, token="")
    with TestClient(build_app(runtime)) as client:
        for path in ("/", "/login"):
            answer = client.get(path)
            assert answer.status_code == 503 and "[api] token" in answer.text


def test_the_stylesheet_is_served_locally(client: TestClient) -> None:
    css = client.get("/static/relay.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/missing.css").status_code == 404


def test_a_nearly_spent_budget_needs_the_owners_action(sqlite_url: str) -> None:
    from datetime import UTC, datetime

    runtime = make_runtime(sqlite_url, publishing={"monthly_budget_usd": 0.5})
    for n in range(3):  # 3 × $0.20 this month, over 80% of $0.50
        seed_post(runtime, n, sent_at=datetime.now(UTC))
    with TestClient(build_app(runtime)) as client:
        page = client.get("/", auth=("owner", TOKEN))
    attention = page.text.split('id="attention"')[1].split("</section>")[0]
    assert "80% or more of this month" in attention and "$0.60" in attention and "$0.50" in attention


def test_the_budget_table_counts_what_x_billed_for_reads(sqlite_url: str) -> None:
    from datetime import UTC, datetime

    from relay.core.policy import POSTS_READ
    from relay.store.costs import record_charge

    runtime = make_runtime(sqlite_url, publishing={"monthly_budget_usd": 10})
    seed_post(runtime, 1, sent_at=datetime.now(UTC))
    record_charge(runtime.store.engine, account="default", kind=POSTS_READ, resources=[str(n) for n in range(30)],
                  unit_usd=0.005, now=datetime.now(UTC))
    with TestClient(build_app(runtime)) as client:
        page = client.get("/?lang=en", auth=("owner", TOKEN)).text
        french = client.get("/?lang=fr", auth=("owner", TOKEN)).text
    budget = page.split('class="stats budget"')[1].split("</dl>")[0]
    assert "of which reading figures" in budget and "$0.150" in budget and "$0.35" in budget, budget
    assert "dont lecture des chiffres" in french and "0,150\u00a0$" in french
