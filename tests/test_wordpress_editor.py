"""The WordPress editor's controls, relay's side: the author's message and "Share on X" carried in
the webhook, the preview and status questions, and the connection test (``/hooks/wordpress/ping``).

Unit tests for the payload and the composer first, then relay served by uvicorn with the X
emulator behind it (the helpers of tests/test_webhook_route.py).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.core.compose import MAX_MESSAGE_CHARS, compose_message, fit_message, message_template
from relay.core.length import weighted_length
from relay.core.models import Post
from relay.testing.x_emulator import EmulatorServer
from relay.webhooks.signatures import standard_signature
from relay.webhooks.wordpress_payload import PayloadError, decide, parse_payload
from tests.processes import wait_for
from tests.test_webhook_route import SECRET, RelayApp, relay_app
from tests.test_wordpress_payload import connector_payload

SITE = "https://boulangerie-martin.fr"
TODAY = date(2026, 11, 25)
LINK = (f"{SITE}/2026/11/recette-{{id}}/?utm_source=twitter&utm_medium=social"
        "&utm_campaign=recette-{id}")


def editor_payload(post_id: int, *, share: bool | None = True, message: str | None = None, **kw: Any) -> dict[str, Any]:
    body = connector_payload(post_id, site=SITE, **kw)
    if share is not None or message is not None:
        body["relay"] = {k: v for k, v in (("share", share), ("message", message)) if v is not None}
    return body


# -- the payload ----------------------------------------------------------------------------------


def test_the_authors_choices_are_read_from_the_payload() -> None:
    event = parse_payload(editor_payload(3, share=False, message="  Du nouveau : {title}  "))
    assert (event.share, event.message) == (False, "Du nouveau : {title}")
    plain = parse_payload(connector_payload(3))
    assert (plain.share, plain.message) == (True, ""), "a plugin without the editor controls shares as before"
    long = parse_payload(editor_payload(3, message="x" * 5000))
    assert len(long.message) == MAX_MESSAGE_CHARS
    for wrong in ({"share": "no"}, {"message": 12}, "yes"):
        body = connector_payload(3)
        body["relay"] = wrong
        with pytest.raises(PayloadError, match="relay"):
            parse_payload(body)


def test_an_opted_out_post_is_remembered_on_publish_and_withdrawn_on_edit() -> None:
    assert decide(parse_payload(editor_payload(4, share=False))).kind == "remember"
    assert decide(parse_payload(editor_payload(4, share=False, event="update"))).kind == "withdraw"
    assert decide(parse_payload(editor_payload(4, share=True))).kind == "ingest"


# -- the composer ---------------------------------------------------------------------------------


POST = Post(url=f"{SITE}/pain/", title="Le pain {bio}", excerpt_html="<p>Farine, eau, sel.</p>",
            categories=("Boulangerie",))
TAGGED = f"{SITE}/pain/?utm_source=twitter&utm_medium=social&utm_campaign=le-pain-bio"


def test_a_message_is_exactly_the_tweet_with_its_placeholders_filled() -> None:
    composed = compose_message(POST, "Tout chaud : {title} ! {hashtags}\n{link}", today=TODAY)
    assert composed.tweet.text == f"Tout chaud : Le pain {{bio}} ! #Boulangerie\n{TAGGED}"
    assert not composed.cut and composed.uncut_length == composed.tweet.weighted_length
    # No {link}: it goes at the end. Unknown placeholders and repeats stay as written.
    assert compose_message(POST, "{title} {title} {prix}", today=TODAY).tweet.text == (
        f"Le pain {{bio}} {{title}} {{prix}} {TAGGED}"
    )
    assert message_template("") == "{link}"


def test_a_message_too_long_is_cut_like_relay_cuts_and_says_so() -> None:
    message = "Notre boulangerie vous présente son pain du jour, cuit au feu de bois. " * 6 + "{link}"
    composed = compose_message(POST, message, today=TODAY)
    assert composed.cut and composed.uncut_length > 280
    assert weighted_length(composed.tweet.text) <= 280 and composed.tweet.text.endswith(TAGGED)
    assert composed.tweet.text.startswith("Notre boulangerie vous présente son pain du jour")
    template, cut = fit_message(message)
    assert cut and template.endswith("{link}")
    summary = compose_message(POST.__class__(url=POST.url, title="T", excerpt_html="<p>" + "Mot long. " * 80),
                              "{summary} {link}", today=TODAY)
    assert summary.cut and summary.tweet.weighted_length <= 280


# -- over HTTP ------------------------------------------------------------------------------------


def signed(relay: RelayApp, path: str, payload: Any, *, secret: str = SECRET, timestamp: int | None = None,
           content_type: str = "application/json") -> httpx.Response:
    raw = json.dumps(payload).encode()
    webhook_id = f"wp_question_{time.monotonic_ns()}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": standard_signature(secret, webhook_id, timestamp, raw)}
    return httpx.post(relay.url + path, content=raw, headers=headers, timeout=30)


@pytest.fixture
def emulator() -> Any:
    with EmulatorServer() as server:
        yield server


@pytest.mark.slow
def test_the_webhook_honours_the_message_and_the_opt_out(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator) as relay:
        queued = relay.send(editor_payload(21, message="Sortie du four : {title} {link} #miam"))
        assert queued.json()["outcome"] == "queued"
        wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the tweet of the message")
        assert emulator.tweets()[0].text == f"Sortie du four : Le pain au levain, pas à pas {LINK.format(id=21)} #miam"

        skipped = relay.send(editor_payload(22, share=False))
        assert skipped.status_code == 202 and skipped.json()["outcome"] == "not_shared"
        assert "chose not to share" in skipped.json()["reason"]
        # Switched on again on a later edit: an edit never posts ("Relay again" does).
        assert relay.send(editor_payload(22, event="update", modified="2026-11-25T11:00:00")).json()["outcome"] \
            == "already_known"
        time.sleep(0.5)
        assert len(emulator.tweets()) == 1


@pytest.mark.slow
def test_switching_share_off_while_queued_withdraws_the_tweet(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator, run_worker=False) as relay:
        assert relay.send(editor_payload(23)).json()["outcome"] == "queued"
        off = relay.send(editor_payload(23, share=False, event="update", modified="2026-11-25T10:30:00"))
        assert off.json()["outcome"] == "withdrawn"
        assert relay.delivery_states() == ["skipped"]


@pytest.mark.slow
def test_an_edited_title_is_what_relay_again_posts(tmp_path: Path, emulator: EmulatorServer) -> None:
    """Before: relay kept the post as first published, so a republish after a title edit used the old title."""
    with relay_app(tmp_path, emulator, run_worker=False) as relay:
        assert relay.send(editor_payload(24, title="Ancien titre")).json()["outcome"] == "queued"
        edited = relay.send(editor_payload(24, title="Nouveau titre", event="update", modified="2026-11-25T12:00:00"))
        assert edited.json()["outcome"] == "already_known"
        post_id = relay.runtime.service.store.find_post("wp:boulangerie-martin.fr:24", "")[0]
        result = relay.runtime.service.republish(post_id, relay.runtime.worker.now())
        assert "Nouveau titre" in result.text and "Ancien titre" not in result.text


@pytest.mark.slow
def test_the_connection_test_says_what_is_wrong(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator) as relay:
        good = signed(relay, "/hooks/wordpress/ping", {"ping": True})
        assert good.status_code == 200, good.text
        assert good.json()["ok"] is True and abs(good.json()["relay_time"] - time.time()) < 5
        wrong = signed(relay, "/hooks/wordpress/ping", {}, secret="another-secret-of-32-characters!!")
        assert wrong.status_code == 401 and wrong.json()["reason"] == "secret"
        late = signed(relay, "/hooks/wordpress/ping", {}, timestamp=int(time.time()) - 3600)
        assert late.status_code == 401 and late.json()["reason"] == "clock"
        assert abs(late.json()["relay_time"] - time.time()) < 5
        # A wrong secret with a wrong clock is a wrong secret: the clock is told only to the secret's holder.
        both = signed(relay, "/hooks/wordpress/ping", {}, secret="x" * 32, timestamp=int(time.time()) - 3600)
        assert both.json()["reason"] == "secret"
        unsigned = httpx.post(relay.url + "/hooks/wordpress/ping", json={}, timeout=10)
        assert unsigned.status_code == 401 and unsigned.json()["reason"] == "unsigned"
        big = signed(relay, "/hooks/wordpress/ping", {"pad": "x" * 9000})
        assert big.status_code == 413
        for answer in (good, wrong, late, unsigned, big):
            assert SECRET not in answer.text and SECRET.removeprefix("whsec_") not in answer.text
    (tmp_path / "none").mkdir()
    with relay_app(tmp_path / "none", emulator, RELAY_WORDPRESS_SECRET="") as unset:
        refused = signed(unset, "/hooks/wordpress/ping", {})
        assert refused.status_code == 503 and "[wordpress] secret" in refused.json()["detail"]


@pytest.mark.slow
def test_the_preview_is_the_tweet_relay_would_post(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator) as relay:
        message = "Sortie du four : {title} {link}"
        answer = signed(relay, "/hooks/wordpress/preview", editor_payload(25, message=message, status="draft"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["text"] == f"Sortie du four : Le pain au levain, pas à pas {LINK.format(id=25)}"
        assert body["weighted_length"] == weighted_length(body["text"]) and body["max_length"] == 280
        assert body["cut"] is False and body["custom_message"] is True
        long = signed(relay, "/hooks/wordpress/preview", editor_payload(25, message="Du pain chaud ! " * 30))
        assert long.json()["cut"] is True and long.json()["weighted_length"] <= 280
        assert long.json()["uncut_length"] > 280
        default = signed(relay, "/hooks/wordpress/preview", editor_payload(25, share=False)).json()
        assert "Le pain au levain" in default["text"] and default["custom_message"] is False
        assert "chose not to share" in default["not_posted_because"]
        assert signed(relay, "/hooks/wordpress/preview", editor_payload(25), secret="y" * 32).status_code == 401
        assert signed(relay, "/hooks/wordpress/preview", {"post": {}}).status_code == 422
        time.sleep(0.3)
        assert emulator.tweets() == [], "a preview posts nothing"


@pytest.mark.slow
def test_the_status_links_to_the_tweet_on_x(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator) as relay:
        ask = {"post": {"id": 26, "link": f"{SITE}/2026/11/recette-26/"}}
        unknown = signed(relay, "/hooks/wordpress/status", ask)
        assert unknown.status_code == 200 and unknown.json()["known"] is False
        relay.send(editor_payload(26))
        wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the tweet")
        wait_for(lambda: signed(relay, "/hooks/wordpress/status", ask).json()["status"] == "sent", timeout=10,
                 what="the sent status")
        status = signed(relay, "/hooks/wordpress/status", ask).json()
        tweet_id = emulator.tweets()[0].id
        assert status["tweet_url"] == f"https://x.com/i/web/status/{tweet_id}"
        assert status["human_clicks"] == 0 and "Le pain au levain" in status["text"]
        relay.send(editor_payload(27, share=False))
        other = signed(relay, "/hooks/wordpress/status", {"post": {"id": 27, "link": f"{SITE}/2026/11/recette-27/"}})
        assert other.json() == {"known": True, "status": "not_shared", "human_clicks": 0, "tweets": 0}
        assert signed(relay, "/hooks/wordpress/status", {"post": {"id": 0}}).status_code == 422
        assert signed(relay, "/hooks/wordpress/status", ask, secret="z" * 32).status_code == 401


def test_a_long_message_fits_beside_a_link_x_weighs_in_full() -> None:
    """An address X does not see as a link (an IP and port, a made-up domain) weighs its length: before,
    the message was fitted beside a 23-character link and composing it then failed."""
    post = Post(url="http://127.0.0.1:8123/2026/11/la-fougasse-aux-olives/", title="La fougasse")
    composed = compose_message(post, "Du bon pain chaud, croustillant et doré ! " * 12, today=TODAY)
    assert composed.cut and weighted_length(composed.tweet.text) <= 280
    assert composed.tweet.text.endswith(composed.tweet.link)
