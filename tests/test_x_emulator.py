"""The X emulator, over real HTTP with httpx: X's statuses, bodies and headers, and its control API.

Requests are signed with oauthlib (the library relay's publisher signs with, through tweepy), not
with the emulator's own code, so the emulator's verification is checked against an outside signer;
the signature code itself is checked against the example X documents.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuthSigner

from relay.testing.x_emulator import EmulatorServer, OAuth1Keys, config_from_args, parse_args
from relay.testing.x_emulator_auth import SignedRequest, hmac_sha1_signature, signature_base_string
from relay.testing.x_emulator_links import extract_cashtags
from tests.conftest import SHARED

KEYS = OAuth1Keys("ck-emulator", "cs-emulator", "at-emulator", "ats-emulator")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(keys=KEYS) as running:
        yield running


@pytest.fixture
def x(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    return server


def send(
    x: EmulatorServer,
    method: str,
    path: str,
    *,
    keys: OAuth1Keys | None = KEYS,
    bearer: str | None = None,
    timeout: float = 10.0,
    **kwargs: Any,
) -> httpx.Response:
    """One request to the emulator, OAuth 1.0a-signed with ``keys`` (or Bearer, or nothing)."""
    with httpx.Client(timeout=timeout) as client:
        request = client.build_request(method, x.base_url + path, **kwargs)
        if bearer is not None:
            request.headers["Authorization"] = f"Bearer {bearer}"
        elif keys is not None:
            signer = OAuthSigner(
                keys.consumer_key,
                client_secret=keys.consumer_secret,
                resource_owner_key=keys.access_token,
                resource_owner_secret=keys.access_token_secret,
            )
            _, headers, _ = signer.sign(str(request.url), http_method=method)
            request.headers["Authorization"] = headers["Authorization"]
        return client.send(request)


def control(x: EmulatorServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call to the emulator's own control API, which needs no credentials."""
    return send(x, method, path, keys=None, **kwargs)


def post_tweet(x: EmulatorServer, text: str, **kwargs: Any) -> httpx.Response:
    return send(x, "POST", "/2/tweets", json={"text": text}, **kwargs)


def test_signature_code_reproduces_the_example_x_documents() -> None:
    # X's "Creating a signature" guide: same inputs, signature hCtSmYh+iHYCEqBWrE7C7hYmtUk=.
    body = b"status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21"
    request = SignedRequest(
        "POST", "https", "api.twitter.com", None, "/1.1/statuses/update.json", "include_entities=true", body
    )
    params = {
        "oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
        "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1318622958",
        "oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        "oauth_version": "1.0",
    }
    base = signature_base_string(request, params)
    signature = hmac_sha1_signature(
        base, "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
    )
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_post_tweet_answers_201_with_a_numeric_id_and_rate_headers(x: EmulatorServer) -> None:
    before = time.time()
    answer = post_tweet(x, "Hello from relay")
    assert answer.status_code == 201
    data = answer.json()["data"]
    assert data["text"] == "Hello from relay"
    assert data["id"].isdigit() and data["edit_history_tweet_ids"] == [data["id"]]
    assert answer.headers["x-rate-limit-limit"] == "100"
    assert answer.headers["x-rate-limit-remaining"] == "99"
    assert before + 890 <= int(answer.headers["x-rate-limit-reset"]) <= time.time() + 901
    assert [(t.id, t.text) for t in x.tweets()] == [(data["id"], "Hello from relay")]


def test_ids_increase_and_links_come_back_wrapped_in_t_co(x: EmulatorServer) -> None:
    first = post_tweet(x, "one").json()["data"]["id"]
    second = post_tweet(x, "two https://example.com/a?utm_source=x and README.md").json()["data"]
    assert int(second["id"]) > int(first)
    assert second["text"].startswith("two https://t.co/") and "example.com" not in second["text"]
    lookup = send(x, "GET", "/2/tweets", params={"ids": second["id"], "tweet.fields": "entities"})
    urls = lookup.json()["data"][0]["entities"]["urls"]
    assert [u["expanded_url"] for u in urls] == ["https://example.com/a?utm_source=x", "http://README.md"]
    assert all(len(u["url"]) == 23 for u in urls)
    assert x.tweets()[-1].text == "two https://example.com/a?utm_source=x and README.md"


def test_a_wrong_secret_is_refused_with_401_like_x(x: EmulatorServer) -> None:
    wrong = OAuth1Keys(KEYS.consumer_key, "not-the-secret", KEYS.access_token, KEYS.access_token_secret)
    answer = post_tweet(x, "never posted", keys=wrong)
    assert answer.status_code == 401
    unauthorized = {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank", "status": 401}
    assert answer.json() == unauthorized
    assert x.tweets() == []


@pytest.mark.parametrize(
    "header", [None, 'OAuth oauth_consumer_key="ck-emulator"', "Basic dXNlcjpwYXNz", "OAuth garbage"]
)
def test_missing_or_malformed_auth_is_401(x: EmulatorServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = send(x, "POST", "/2/tweets", keys=None, json={"text": "no"}, headers=headers)
    assert answer.status_code == 401
    assert "x-rate-limit-limit" not in answer.headers


def test_a_replayed_signature_is_refused(x: EmulatorServer) -> None:
    signer = OAuthSigner(KEYS.consumer_key, KEYS.consumer_secret, KEYS.access_token, KEYS.access_token_secret)
    with httpx.Client(timeout=10) as client:
        request = client.build_request("POST", x.base_url + "/2/tweets", json={"text": "once"})
        _, headers, _ = signer.sign(str(request.url), http_method="POST")
        request.headers["Authorization"] = headers["Authorization"]
        assert client.send(request).status_code == 201
        assert client.send(request).status_code == 401


def test_app_only_bearer_on_post_tweets_is_403_unsupported_authentication(x: EmulatorServer) -> None:
    answer = post_tweet(x, "app only", keys=None, bearer="AAAA-app-token")
    assert answer.status_code == 403
    body = answer.json()
    assert body["title"] == "Unsupported Authentication"
    assert body["type"] == "https://api.twitter.com/2/problems/unsupported-authentication"
    assert body["detail"].startswith("Authenticating with OAuth 2.0 Application-Only is forbidden")


def test_without_configured_keys_any_well_formed_header_passes() -> None:
    with EmulatorServer() as open_x:
        anyone = OAuth1Keys("who", "ever", "any", "thing")
        assert post_tweet(open_x, "trusting", keys=anyone).status_code == 201
        malformed = {"Authorization": 'OAuth oauth_consumer_key="who"'}
        refused = send(open_x, "POST", "/2/tweets", keys=None, json={"text": "x"}, headers=malformed)
        assert refused.status_code == 401


def test_duplicate_text_is_403_with_xs_exact_detail(x: EmulatorServer) -> None:
    assert post_tweet(x, "same words").status_code == 201
    answer = post_tweet(x, "same words")
    assert answer.status_code == 403
    assert answer.json()["detail"] == "You are not allowed to create a Tweet with duplicate content."
    assert answer.headers["x-rate-limit-remaining"] == "98"
    assert len(x.tweets()) == 1


def test_length_is_weighed_by_twitter_text(x: EmulatorServer) -> None:
    assert post_tweet(x, "a" * 280).status_code == 201
    with_link = "b" * 256 + " https://example.com/" + "x" * 200  # any URL weighs 23
    assert post_tweet(x, with_link).status_code == 201
    answer = post_tweet(x, "é" * 141 + "…" * 70)  # 141 + 140 weighted
    assert answer.status_code == 400
    body = answer.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert body["errors"][0]["message"].startswith("Your Tweet text is too long.")


def test_the_per_user_window_ends_in_429_with_headers() -> None:
    with EmulatorServer(keys=KEYS, tweet_rate_limit=2) as small:
        assert post_tweet(small, "1").status_code == 201
        assert post_tweet(small, "2").headers["x-rate-limit-remaining"] == "0"
        answer = post_tweet(small, "3")
        assert answer.status_code == 429
        assert answer.json()["title"] == "Too Many Requests"
        assert answer.headers["x-rate-limit-limit"] == "2"
        assert answer.headers["x-rate-limit-remaining"] == "0"
        assert int(answer.headers["x-rate-limit-reset"]) > time.time() + 800
        assert [t.text for t in small.tweets()] == ["1", "2"]


def test_no_credits_left_is_402_credits_depleted(x: EmulatorServer) -> None:
    x.set_credits(1)
    assert post_tweet(x, "the last paid post").status_code == 201
    answer = post_tweet(x, "one too many")
    assert answer.status_code == 402
    body = answer.json()
    assert body["title"] == "CreditsDepleted"
    assert body["type"] == "https://api.twitter.com/2/problems/credits"
    assert body["detail"] == (
        f"Your enrolled account [{body['account_id']}] does not have any credits to fulfill this request."
    )
    assert "x-rate-limit-reset" in answer.headers
    assert control(x, "GET", "/_emulator/credits").json() == {"remaining": 0}


def test_users_me_needs_a_user(x: EmulatorServer) -> None:
    answer = send(x, "GET", "/2/users/me")
    me = {"id": "1500000000000000001", "name": "Relay Emulator", "username": "relay_emulator"}
    assert answer.json() == {"data": me}
    assert "x-rate-limit-remaining" in answer.headers
    assert send(x, "GET", "/2/users/me", keys=None, bearer="app").status_code == 403


def test_tweet_lookup_gives_metrics_and_reports_unknown_ids(x: EmulatorServer) -> None:
    tweet_id = post_tweet(x, "measured").json()["data"]["id"]
    x.set_metrics(tweet_id, {"like_count": 4, "impression_count": 90}, {"url_link_clicks": 3})
    fields = "public_metrics,non_public_metrics,created_at"
    answer = send(x, "GET", "/2/tweets", params={"ids": f"{tweet_id},42", "tweet.fields": fields})
    assert answer.status_code == 200
    (tweet,) = answer.json()["data"]
    assert tweet["public_metrics"] == {
        "retweet_count": 0, "reply_count": 0, "like_count": 4, "quote_count": 0, "bookmark_count": 0,
        "impression_count": 90,
    }  # fmt: skip
    private = {"impression_count": 0, "url_link_clicks": 3, "user_profile_clicks": 0}
    assert tweet["non_public_metrics"] == private
    assert datetime.strptime(tweet["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    (missing,) = answer.json()["errors"]
    assert missing["title"] == "Not Found Error" and missing["resource_id"] == "42"
    assert missing["detail"] == "Could not find tweet with ids: [42]."


def test_private_metrics_need_user_context_and_a_recent_tweet(x: EmulatorServer) -> None:
    recent = post_tweet(x, "recent").json()["data"]["id"]
    old = x.seed_tweet("old", created_at=datetime.now(UTC) - timedelta(days=31)).id
    params = {"ids": f"{recent},{old}", "tweet.fields": "non_public_metrics"}
    as_user = send(x, "GET", "/2/tweets", params=params).json()
    assert [t["id"] for t in as_user["data"]] == [recent]
    assert {e["resource_id"] for e in as_user["errors"]} == {old}
    assert {e["field"] for e in as_user["errors"]} == {
        "non_public_metrics.impression_count", "non_public_metrics.url_link_clicks",
        "non_public_metrics.user_profile_clicks",
    }  # fmt: skip
    assert all(e["title"] == "Field Authorization Error" for e in as_user["errors"])
    as_app = send(x, "GET", "/2/tweets", keys=None, bearer="app", params=params).json()
    assert "data" not in as_app and len(as_app["errors"]) == 6
    params = {"ids": old, "tweet.fields": "public_metrics"}
    public = send(x, "GET", "/2/tweets", keys=None, bearer="app", params=params)
    assert public.json()["data"][0]["public_metrics"]["like_count"] == 0


def test_lookup_refuses_bad_ids_with_400(x: EmulatorServer) -> None:
    assert send(x, "GET", "/2/tweets", params={"ids": "12,abc"}).status_code == 400
    assert send(x, "GET", "/2/tweets", params={"ids": ",".join(["1"] * 101)}).status_code == 400
    unknown_field = send(x, "GET", "/2/tweets", params={"ids": "1", "tweet.fields": "nonsense"})
    assert unknown_field.status_code == 400 and "x-rate-limit-remaining" in unknown_field.headers


def test_user_timeline_is_newest_first_and_paginates(x: EmulatorServer) -> None:
    ids = [post_tweet(x, f"post {n}").json()["data"]["id"] for n in range(7)]
    path = "/2/users/1500000000000000001/tweets"
    first = send(x, "GET", path, params={"max_results": 5, "tweet.fields": "created_at"}).json()
    assert [t["id"] for t in first["data"]] == ids[::-1][:5]
    assert first["meta"]["result_count"] == 5
    assert (first["meta"]["newest_id"], first["meta"]["oldest_id"]) == (ids[6], ids[2])
    token = first["meta"]["next_token"]
    second = send(x, "GET", path, params={"max_results": 5, "pagination_token": token}).json()
    assert [t["id"] for t in second["data"]] == [ids[1], ids[0]]
    assert "next_token" not in second["meta"]
    since = send(x, "GET", path, params={"since_id": ids[4]}).json()
    assert [t["id"] for t in since["data"]] == [ids[6], ids[5]]
    nothing = send(x, "GET", path, params={"since_id": ids[6]}).json()
    assert nothing == {"meta": {"result_count": 0}}
    assert send(x, "GET", path, params={"max_results": 4}).status_code == 400
    stranger = send(x, "GET", "/2/users/12345/tweets").json()
    assert stranger["errors"][0]["detail"] == "Could not find user with id: [12345]."


def test_media_upload_metadata_and_use_in_a_tweet(x: EmulatorServer) -> None:
    files = {"media": ("cat.png", PNG, "image/png")}
    answer = send(x, "POST", "/2/media/upload", files=files, data={"media_category": "tweet_image"})
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["size"] == len(PNG) and data["media_key"] == f"3_{data['id']}"
    alt_text = {"id": data["id"], "metadata": {"alt_text": {"text": "a cat"}}}
    described = send(x, "POST", "/2/media/metadata", json=alt_text)
    assert described.json()["data"]["associated_metadata"] == {"alt_text": {"text": "a cat"}}
    (media,) = x.media()
    assert (media.mime, media.alt_text, media.size) == ("image/png", "a cat", len(PNG))
    tweet = send(x, "POST", "/2/tweets", json={"text": "look", "media": {"media_ids": [data["id"]]}})
    assert tweet.status_code == 201 and x.tweets()[0].media_ids == (data["id"],)
    unknown = send(x, "POST", "/2/tweets", json={"text": "ghost", "media": {"media_ids": ["123"]}})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == "Your media IDs are invalid."


@pytest.mark.parametrize(
    ("content", "category", "problem"),
    [
        (b"GIF89a" + b"\0" * 100, None, "media_category"),
        (b"%PDF-1.4 not an image", "tweet_image", "Unsupported media type"),
        (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "tweet_image", "exceeds 5 MB"),
    ],
)
def test_media_upload_enforces_type_size_and_category(
    x: EmulatorServer, content: bytes, category: str | None, problem: str
) -> None:
    form = {"media_category": category} if category else {}
    answer = send(x, "POST", "/2/media/upload", files={"media": ("f", content, "image/jpeg")}, data=form)
    assert answer.status_code == 400
    assert problem in " ".join(e["message"] for e in answer.json()["errors"])
    assert x.media() == []


def test_queued_faults_answer_in_order_then_stop(x: EmulatorServer) -> None:
    queued = control(x, "POST", "/_emulator/faults", json={"path": "/2/tweets", "status": 503, "times": 2})
    assert queued.status_code == 201
    first, second, third = (post_tweet(x, f"try {n}") for n in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 201)
    assert first.json()["title"] == "Service Unavailable"
    assert [t.text for t in x.tweets()] == ["try 2"]
    assert control(x, "GET", "/_emulator/faults").json() == {"faults": []}


def test_fault_statuses_carry_xs_bodies(x: EmulatorServer) -> None:
    x.inject(status=429, reset_in=120)
    limited = post_tweet(x, "a")
    assert limited.status_code == 429
    assert abs(int(limited.headers["x-rate-limit-reset"]) - (time.time() + 120)) <= 2
    x.inject(status=402)
    assert post_tweet(x, "b").json()["title"] == "CreditsDepleted"
    x.inject(status=403, detail="Your account is suspended")
    assert post_tweet(x, "c").json()["detail"] == "Your account is suspended"
    x.inject(path="/2/users/*/tweets", method="GET", status=500)
    assert send(x, "GET", "/2/users/1500000000000000001/tweets").status_code == 500
    assert x.tweets() == []


def test_accept_then_fail_stores_the_tweet_but_answers_503(x: EmulatorServer) -> None:
    control(x, "POST", "/_emulator/faults", json={"path": "/2/tweets", "accept_then_fail": True})
    answer = post_tweet(x, "lost answer")
    assert answer.status_code == 503
    listed = control(x, "GET", "/_emulator/tweets").json()["tweets"]
    assert [t["text"] for t in listed] == ["lost answer"]
    assert post_tweet(x, "lost answer").status_code == 403  # X knows it, so a blind retry is a duplicate


def test_a_delay_holds_the_answer_and_still_processes(x: EmulatorServer) -> None:
    x.inject(delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        send(x, "POST", "/2/tweets", json={"text": "slow"}, timeout=0.2)
    deadline = time.monotonic() + 5
    while not x.tweets() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [t.text for t in x.tweets()] == ["slow"]


def test_a_reset_drops_requests_still_held_by_a_delay(x: EmulatorServer) -> None:
    x.inject(delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        post_tweet(x, "from the old world", timeout=0.1)
    x.reset()
    time.sleep(0.8)
    assert x.tweets() == []


def test_control_api_sets_credits_metrics_and_resets(x: EmulatorServer) -> None:
    assert control(x, "POST", "/_emulator/credits", json={"remaining": 0}).json() == {"remaining": 0}
    assert post_tweet(x, "broke").status_code == 402
    control(x, "POST", "/_emulator/credits", json={"remaining": None})
    tweet_id = post_tweet(x, "rich").json()["data"]["id"]
    metrics = {"id": tweet_id, "public_metrics": {"retweet_count": 2}}
    assert control(x, "POST", "/_emulator/metrics", json=metrics).json()["public_metrics"]["retweet_count"] == 2
    assert control(x, "POST", "/_emulator/metrics", json={"id": "999"}).status_code == 404
    seed = {"text": "from before", "created_at": "2020-01-02T03:04:05Z"}
    seeded = control(x, "POST", "/_emulator/tweets", json=seed)
    assert seeded.json()["created_at"].startswith("2020-01-02T03:04:05")
    assert [r["path"] for r in control(x, "GET", "/_emulator/requests").json()["requests"]] == [
        "/2/tweets", "/2/tweets",
    ]  # fmt: skip
    assert control(x, "POST", "/_emulator/reset").status_code == 200
    assert control(x, "GET", "/_emulator/tweets").json() == {"tweets": []}


def test_command_line_wants_all_four_keys_or_none(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--consumer-key", "ck"])
    assert "all four" in capsys.readouterr().err
    args = parse_args(
        ["--port", "9", "--consumer-key", "a", "--consumer-secret", "b", "--access-token", "c",
         "--access-token-secret", "d", "--credits", "3", "--tweet-rate-limit", "7"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.keys == OAuth1Keys("a", "b", "c", "d")
    assert (config.credits, config.tweet_rate_limit, args.port) == (3, 7, 9)
    assert config_from_args(parse_args([])).keys is None


# --- links and entities as X shows them --------------------------------------------------------------

TCO_FORM = re.compile(r"https://t\.co/[A-Za-z0-9]{10}")


def entities_of(x: EmulatorServer, tweet_id: str, fields: str = "entities") -> dict[str, Any]:
    answer = send(x, "GET", "/2/tweets", params={"ids": tweet_id, "tweet.fields": fields})
    data: dict[str, Any] = answer.json()["data"][0]
    return data


def test_every_url_and_bare_domain_becomes_a_tco_link_with_xs_entity(x: EmulatorServer) -> None:
    text = "Voir README.md, ASP.NET et site.fr : https://www.example.com/a/very/long/path?utm_source=x & <b>"
    posted = post_tweet(x, text).json()["data"]
    words = posted["text"].split()
    assert [w for w in words if w.startswith("https://")] == [w for w in words if TCO_FORM.fullmatch(w.rstrip(","))]
    assert posted["text"].endswith(" &amp; &lt;b&gt;"), "X answers & < > escaped"
    data = entities_of(x, posted["id"])
    assert data["text"] == posted["text"]
    urls = data["entities"]["urls"]
    assert [u["expanded_url"] for u in urls] == [
        "http://README.md", "http://ASP.NET", "http://site.fr", "https://www.example.com/a/very/long/path?utm_source=x",
    ]  # fmt: skip
    assert [u["display_url"] for u in urls] == ["README.md", "ASP.NET", "site.fr", "example.com/a/very/long/pa…"]
    for url in urls:
        assert set(url) == {"start", "end", "url", "expanded_url", "display_url", "status", "unwound_url"}
        assert TCO_FORM.fullmatch(url["url"]) and url["end"] - url["start"] == 23
        assert data["text"][url["start"] : url["end"]] == url["url"], "offsets point at the link"
        assert (url["status"], url["unwound_url"]) == (200, url["expanded_url"])
    assert x.tweets()[0].text == text, "X keeps what was sent"


def test_unwound_url_follows_what_x_finds_at_the_link(x: EmulatorServer) -> None:
    x.set_unwound("https://relay.example.com/r/Ab12", "https://blog.example.com/post")
    x.set_unwound("http://README.md", None)
    posted = post_tweet(x, "Nouveau https://relay.example.com/r/Ab12 (README.md)").json()["data"]
    first, second = entities_of(x, posted["id"])["entities"]["urls"]
    assert (first["expanded_url"], first["unwound_url"]) == ("https://relay.example.com/r/Ab12", "https://blog.example.com/post")
    assert "unwound_url" not in second and "status" not in second, "X could not fetch it"
    with EmulatorServer(keys=KEYS, unwind_links=False) as plain:
        tweet_id = post_tweet(plain, "https://example.com/p").json()["data"]["id"]
        assert "unwound_url" not in entities_of(plain, tweet_id)["entities"]["urls"][0]


def test_attached_media_add_a_tco_link_listed_with_its_media_key(x: EmulatorServer) -> None:
    ids = []
    for _ in range(2):
        files = {"media": ("cat.png", PNG, "image/png")}
        uploaded = send(x, "POST", "/2/media/upload", files=files, data={"media_category": "tweet_image"})
        ids.append(uploaded.json()["data"])
    posted = send(x, "POST", "/2/tweets", json={"text": "Deux chats", "media": {"media_ids": [m["id"] for m in ids]}})
    data = posted.json()["data"]
    assert re.fullmatch(r"Deux chats https://t\.co/[A-Za-z0-9]{10}", data["text"])
    link = data["text"].rsplit(" ", 1)[1]
    listed = entities_of(x, data["id"], "entities,attachments")
    assert listed["attachments"] == {"media_keys": [m["media_key"] for m in ids]}
    assert listed["entities"]["urls"] == [
        {"start": 11, "end": 34, "url": link, "media_key": m["media_key"],
         "expanded_url": f"https://x.com/relay_emulator/status/{data['id']}/photo/1",
         "display_url": f"pic.x.com/{link.rsplit('/', 1)[1]}"}
        for m in ids
    ]  # fmt: skip
    only_media = send(x, "POST", "/2/tweets", json={"media": {"media_ids": [ids[0]["id"]]}}).json()["data"]
    assert TCO_FORM.fullmatch(only_media["text"])


def test_cashtags_follow_twitter_texts_conformance_suite() -> None:
    import yaml

    suite = SHARED / "twitter-text" / "conformance" / "extract.yml"
    if not suite.exists():
        pytest.skip(f"{suite} is absent: put ../shared beside the repository")
    tests = yaml.safe_load(suite.read_text(encoding="utf-8"))["tests"]
    assert len(tests["cashtags"]) >= 8 and len(tests["cashtags_with_indices"]) >= 2
    for case in tests["cashtags"]:
        assert [tag for _, _, tag in extract_cashtags(case["text"])] == case["expected"], case["description"]
    for case in tests["cashtags_with_indices"]:
        expected = [(c["indices"][0], c["indices"][1], c["cashtag"]) for c in case["expected"]]
        assert extract_cashtags(case["text"]) == expected, case["description"]


# --- refusals of one post ------------------------------------------------------------------------------


def test_more_than_one_cashtag_is_refused_with_xs_403(x: EmulatorServer) -> None:
    answer = post_tweet(x, "Compare $AAPL and $TSLA")
    assert answer.status_code == 403
    assert answer.json() == {"title": "Forbidden", "detail": "Posts are limited to a maximum of one cashtag",
                             "type": "about:blank", "status": 403}
    assert "x-rate-limit-remaining" in answer.headers
    assert post_tweet(x, "Only $AAPL, and $5 is no cashtag").status_code == 201


@pytest.mark.parametrize(
    ("refusal", "detail"),
    [
        ("reply_restricted", "Reply to this conversation is not allowed because you have not been mentioned or "
                             "otherwise engaged by the author of the post you are replying to."),
        ("cashtags", "Posts are limited to a maximum of one cashtag"),
        ("not_permitted", "You are not permitted to perform this action."),
        ("duplicate", "You are not allowed to create a Tweet with duplicate content."),
    ],
)
def test_queued_refusals_answer_xs_exact_403_for_that_post_only(x: EmulatorServer, refusal: str, detail: str) -> None:
    queued = control(x, "POST", "/_emulator/faults", json={"path": "/2/tweets", "refusal": refusal})
    assert queued.status_code == 201
    refused = post_tweet(x, "refused once")
    assert refused.status_code == 403
    assert refused.json() == {"title": "Forbidden", "detail": detail, "type": "about:blank", "status": 403}
    assert refused.headers["x-rate-limit-remaining"] == "99", "refused after the gate, like X"
    assert post_tweet(x, "refused once").status_code == 201, "the account goes on posting"
    assert control(x, "POST", "/_emulator/faults", json={"path": "/2/tweets", "refusal": "nope"}).status_code == 422


# --- slow answers --------------------------------------------------------------------------------------


def test_answer_late_posts_first_then_answers_after_the_client_gave_up(x: EmulatorServer) -> None:
    x.inject(delay=1.5, answer_late=True)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        post_tweet(x, "accepted, answered late", timeout=0.5)
    assert [t.text for t in x.tweets()] == ["accepted, answered late"], "on X before the client timed out"
    assert time.monotonic() - started < 1.5
    control(x, "POST", "/_emulator/faults", json={"path": "/2/tweets", "delay": 0.3, "answer_late": True})
    late = post_tweet(x, "patient client")
    assert late.status_code == 201 and late.json()["data"]["text"] == "patient client"
    time.sleep(1.2)  # let the first held answer go before the next test resets


# --- the timeline ---------------------------------------------------------------------------------------

TIMELINE = "/2/users/1500000000000000001/tweets"


def test_timeline_pages_with_opaque_tokens_both_ways(x: EmulatorServer) -> None:
    ids = [post_tweet(x, f"post {n}").json()["data"]["id"] for n in range(12)][::-1]
    first = send(x, "GET", TIMELINE, params={"max_results": 5}).json()
    token = first["meta"]["next_token"]
    assert re.fullmatch(r"[a-z0-9]{45}", token) and token not in ids and "previous_token" not in first["meta"]
    second = send(x, "GET", TIMELINE, params={"max_results": 5, "pagination_token": token}).json()
    assert [t["id"] for t in second["data"]] == ids[5:10]
    back = send(x, "GET", TIMELINE, params={"max_results": 5, "pagination_token": second["meta"]["previous_token"]})
    assert [t["id"] for t in back.json()["data"]] == ids[:5]
    third = send(x, "GET", TIMELINE, params={"max_results": 5, "pagination_token": second["meta"]["next_token"]})
    assert [t["id"] for t in third.json()["data"]] == ids[10:] and "next_token" not in third.json()["meta"]
    bad = send(x, "GET", TIMELINE, params={"pagination_token": ids[3]})
    assert bad.status_code == 400, "a post id is not a pagination token"


def test_timeline_filters_by_time_ids_and_kind(x: EmulatorServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = x.seed_tweet("three days ago", created_at=now - timedelta(days=3)).id
    reply = x.seed_tweet("@someone a reply", created_at=now - timedelta(days=2), kind="reply").id
    boundary = x.seed_tweet("exactly at the boundary", created_at=now - timedelta(days=1, microseconds=-500_000)).id
    recent = post_tweet(x, "just now").json()["data"]["id"]

    def listed(**params: Any) -> list[str]:
        return [t["id"] for t in send(x, "GET", TIMELINE, params=params).json().get("data", [])]

    at = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed(start_time=at) == [recent, boundary], "start_time is inclusive, to the second"
    assert listed(end_time=at) == [boundary, reply, old], "end_time is inclusive, to the second"
    assert listed(until_id=boundary) == [reply, old] and listed(since_id=reply) == [recent, boundary]
    assert listed(exclude="replies") == [recent, boundary, old]
    assert listed(exclude="retweets,replies", since_id=old, until_id=recent) == [boundary]


def test_timeline_refuses_bad_parameters_with_xs_body(x: EmulatorServer) -> None:
    answer = send(x, "GET", TIMELINE, params={"max_results": 4})
    assert answer.status_code == 400 and "x-rate-limit-remaining" in answer.headers
    assert answer.json() == {
        "errors": [{"parameters": {"max_results": ["4"]},
                    "message": "The `max_results` query parameter value [4] is not between 5 and 100"}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }  # fmt: skip
    assert send(x, "GET", TIMELINE, params={"max_results": 101}).status_code == 400
    since = send(x, "GET", TIMELINE, params={"since_id": "abc"}).json()["errors"][0]
    assert since == {"parameters": {"since_id": ["abc"]},
                     "message": "The `since_id` query parameter value [abc] does not match ^[0-9]{1,19}$"}
    assert send(x, "GET", TIMELINE, params={"exclude": "likes"}).status_code == 400
    assert send(x, "GET", TIMELINE, params={"start_time": "yesterday"}).status_code == 400
    assert send(x, "GET", TIMELINE, params={"start_time": "2009-01-01T00:00:00Z"}).status_code == 400
    order = {"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}
    assert send(x, "GET", TIMELINE, params=order).status_code == 400
    unknown = send(x, "GET", TIMELINE, params={"since": "2026-01-01"}).json()["errors"][0]["message"]
    assert unknown.startswith("The query parameter [since] is not one of [end_time,exclude,")


def test_timeline_reaches_back_3200_posts_only() -> None:
    with EmulatorServer(keys=KEYS) as big:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        seeded = [big.seed_tweet(f"n{n}", created_at=start + timedelta(minutes=n)).id for n in range(3250)]
        seen: list[str] = []
        token = None
        while True:
            params: dict[str, Any] = {"max_results": 100} | ({"pagination_token": token} if token else {})
            page = send(big, "GET", TIMELINE, params=params).json()
            seen += [t["id"] for t in page.get("data", [])]
            token = page["meta"].get("next_token")
            if not token:
                break
        assert seen == seeded[::-1][:3200]


def test_a_new_post_shows_in_the_timeline_only_after_the_delay(x: EmulatorServer) -> None:
    assert control(x, "POST", "/_emulator/timeline", json={"delay_seconds": 0.6}).json() == {"delay_seconds": 0.6}
    tweet_id = post_tweet(x, "eventually consistent").json()["data"]["id"]
    assert send(x, "GET", TIMELINE).json() == {"meta": {"result_count": 0}}
    assert [t["id"] for t in send(x, "GET", "/2/tweets", params={"ids": tweet_id}).json()["data"]] == [tweet_id]
    time.sleep(0.7)
    assert [t["id"] for t in send(x, "GET", TIMELINE).json()["data"]] == [tweet_id]
    with EmulatorServer(keys=KEYS, timeline_delay_seconds=30) as slow:
        post_tweet(slow, "later")
        assert send(slow, "GET", TIMELINE).json()["meta"]["result_count"] == 0
    assert config_from_args(parse_args(["--timeline-delay", "2.5"])).timeline_delay_seconds == 2.5


# --- single post, deletion, media flow ----------------------------------------------------------------


def test_single_lookup_and_delete(x: EmulatorServer) -> None:
    tweet_id = post_tweet(x, "here then gone").json()["data"]["id"]
    single = send(x, "GET", f"/2/tweets/{tweet_id}").json()
    assert single == {"data": {"edit_history_tweet_ids": [tweet_id], "id": tweet_id, "text": "here then gone"}}
    deleted = send(x, "DELETE", f"/2/tweets/{tweet_id}")
    assert deleted.json() == {"data": {"deleted": True}} and deleted.headers["x-rate-limit-limit"] == "50"
    gone = send(x, "GET", f"/2/tweets/{tweet_id}").json()
    assert gone["errors"][0]["detail"] == f"Could not find tweet with id: [{tweet_id}]."
    assert x.tweets() == []


def test_gifs_go_through_the_chunked_upload(x: EmulatorServer) -> None:
    animated = b"GIF89a" + b"\x01\x00\x01\x00" + b"\0" * 3000
    files = {"media": ("a.gif", animated, "image/gif")}
    one_shot = send(x, "POST", "/2/media/upload", files=files,
                    data={"media_category": "tweet_image", "media_type": "image/gif"})
    assert one_shot.status_code == 400 and "image/gif" in one_shot.json()["errors"][0]["message"]
    init = {"media_type": "image/gif", "total_bytes": len(animated), "media_category": "tweet_gif"}
    started = send(x, "POST", "/2/media/upload/initialize", json=init).json()["data"]
    assert set(started) == {"id", "media_key", "expires_after_secs"} and started["media_key"] == f"16_{started['id']}"
    for index, part in enumerate((animated[:2000], animated[2000:])):
        appended = send(x, "POST", f"/2/media/upload/{started['id']}/append", files={"media": ("blob", part)},
                        data={"segment_index": str(index)})
        assert appended.status_code == 200 and "expires_at" in appended.json()["data"]
    finalized = send(x, "POST", f"/2/media/upload/{started['id']}/finalize").json()["data"]
    assert finalized["size"] == len(animated) and finalized["processing_info"]["state"] == "pending"
    early = send(x, "POST", "/2/tweets", json={"text": "gif", "media": {"media_ids": [started["id"]]}})
    assert early.status_code == 400, "not usable while X processes it"
    deadline = time.monotonic() + 5
    while True:
        status = send(x, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": started["id"]})
        if status.json()["data"]["processing_info"]["state"] == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status.json()["data"]["processing_info"]["state"] == "succeeded"
    posted = send(x, "POST", "/2/tweets", json={"text": "gif", "media": {"media_ids": [started["id"]]}})
    assert posted.status_code == 201
    listed = entities_of(x, posted.json()["data"]["id"], "attachments")
    assert listed["attachments"] == {"media_keys": [f"16_{started['id']}"]}
    short = send(x, "POST", "/2/media/upload/initialize", json=init).json()["data"]["id"]
    send(x, "POST", f"/2/media/upload/{short}/append", files={"media": ("blob", b"GIF")}, data={"segment_index": "0"})
    assert send(x, "POST", f"/2/media/upload/{short}/finalize").status_code == 400, "fewer bytes than announced"


# --- pay-per-use: reads billed as X bills them -------------------------------------------------------


def test_credits_are_spent_as_x_bills_posts_and_reads() -> None:
    with EmulatorServer(keys=KEYS, credits=1000) as x:
        post_tweet(x, "no link")  # 15
        post_tweet(x, "with README.md")  # 200, a bare domain is a URL
        tweet_ids = [t.id for t in x.tweets()]
        send(x, "GET", TIMELINE)  # owned read: 1 a post
        send(x, "GET", TIMELINE)  # the same posts the same UTC day: not billed again
        send(x, "GET", "/2/tweets", params={"ids": ",".join([*tweet_ids, "42"])})  # already billed today
        send(x, "GET", "/2/users/me")  # 10 a user
        send(x, "GET", TIMELINE, params={"max_results": 4})  # refused: not billed
        billed = [(c.item, c.count, c.credits) for c in x.charges()]
        assert billed == [
            ("post_create", 1, 15), ("post_create_with_url", 1, 200), ("owned_post_read", 2, 2), ("user_read", 1, 10),
        ]  # fmt: skip
        assert control(x, "GET", "/_emulator/credits").json() == {"remaining": 1000 - 227}
        assert control(x, "GET", "/_emulator/charges").json()["spent"] == 227
        older = x.seed_tweet("posted before, not read yet today").id
        x.set_credits(5)
        app_read = send(x, "GET", "/2/tweets", keys=None, bearer="app", params={"ids": older})
        assert app_read.status_code == 200, "a read with credits left goes through"
        assert x.charges()[-1].item == "post_read" and x.credits_left() == 0
        assert send(x, "GET", "/2/users/me").status_code == 402, "then every endpoint answers 402"
