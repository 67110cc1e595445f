"""WordPress webhook bodies to events and posts, and the rules that decide what relay does."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from relay.core.identity import dedup_key
from relay.core.models import Post
from relay.webhooks.wordpress_payload import PayloadError, WordPressEvent, decide, parse_payload

SITE = "https://blog.example"


def connector_payload(
    post_id: int = 12,
    *,
    event: str = "publish",
    status: str = "publish",
    title: str = "Le pain au levain, pas à pas",
    password: bool = False,
    site: str = SITE,
    modified: str = "2026-11-25T10:05:00",
) -> dict[str, Any]:
    """A body as the relay-connector plugin sends it (the WordPress REST post shape plus names)."""
    return {
        "event": event,
        "site": {"url": site, "name": "Cuisine &amp; Co"},
        "post": {
            "id": post_id,
            "type": "post",
            "link": f"{site}/2026/11/recette-{post_id}/",
            "guid": {"rendered": f"{site}/?p={post_id}"},
            "status": status,
            "date_gmt": "2026-11-25T10:00:00",
            "modified_gmt": modified,
            "title": {"rendered": title.replace("'", "&#8217;")},
            "excerpt": {"rendered": "" if password else "<p>Une recette simple &amp; lente.</p>\n",
                        "protected": password},
            "content": {"rendered": "" if password else "<p>Farine, eau, sel.</p>", "protected": password},
            "author_name": "Camille",
            "category_names": ["Boulangerie", "Recettes"],
            "tag_names": ["levain", "Boulangerie"],
            "featured_image": {"url": f"{site}/wp-content/uploads/pain.jpg", "alt": "Une miche dorée"},
            "password_protected": password,
        },
    }


def wp_webhooks_payload(post_id: int = 12, *, status: str = "publish", password: str = "") -> dict[str, Any]:
    """A body as the WP Webhooks plugin's post_create / post_update triggers send it."""
    return {
        "post_id": post_id,
        "post": {
            "ID": post_id,
            "post_author": "1",
            "post_date": "2026-11-25 11:00:00",
            "post_date_gmt": "2026-11-25 10:00:00",
            "post_content": "<!-- wp:paragraph --><p>Farine, eau, sel.</p><!-- /wp:paragraph -->",
            "post_title": "Le pain au levain",
            "post_excerpt": "",
            "post_status": status,
            "post_password": password,
            "post_name": f"recette-{post_id}",
            "post_modified_gmt": "2026-11-25 10:05:00",
            "guid": f"{SITE}/?p={post_id}",
            "post_type": "post",
        },
        "post_meta": {"_edit_lock": ["1764064800:1"]},
        "post_thumbnail": f"{SITE}/wp-content/uploads/pain.jpg",
        "post_permalink": f"{SITE}/2026/11/recette-{post_id}/",
        "taxonomies": {
            "category": {"boulangerie": {"term_id": 3, "name": "Boulangerie", "slug": "boulangerie"}},
            "post_tag": {"levain": {"term_id": 7, "name": "levain", "slug": "levain"}},
        },
    }


def test_the_connector_body_becomes_a_post() -> None:
    event = parse_payload(connector_payload(title="L'été du levain"))
    assert (event.event, event.status, event.password_protected, event.shape) == (
        "publish", "publish", False, "relay-connector")
    post = event.post
    assert post == Post(
        url=f"{SITE}/2026/11/recette-12/",
        title="L’été du levain",
        guid=f"{SITE}/?p=12",
        excerpt_html="<p>Une recette simple &amp; lente.</p>\n",
        content_html="<p>Farine, eau, sel.</p>",
        author="Camille",
        site="Cuisine & Co",
        categories=("Boulangerie", "Recettes", "levain"),
        published_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        image_url=f"{SITE}/wp-content/uploads/pain.jpg",
        image_alt="Une miche dorée",
        wordpress_id=12,
    )


def test_the_webhook_post_and_the_feed_post_share_one_dedup_key() -> None:
    from_webhook = parse_payload(connector_payload(12)).post
    from_feed = Post(url=f"{SITE}/2026/11/recette-12/?utm_source=rss", guid=f"{SITE}/?p=12", wordpress_id=12)
    assert dedup_key(from_webhook) == dedup_key(from_feed) == "wp:blog.example:12"


def test_title_markup_and_entities_are_decoded() -> None:
    event = parse_payload(connector_payload(title="<em>Pain</em> &amp; beurre &#8211; épisode&nbsp;2"))
    assert event.post.title == "Pain & beurre – épisode\u00a02"


def test_a_protected_post_carries_no_text() -> None:
    body = connector_payload(password=True)
    body["post"]["content"] = {"rendered": "<p>secret recipe</p>", "protected": True}
    event = parse_payload(body)
    assert event.password_protected
    assert event.post.content_html == "" and event.post.excerpt_html == ""


def test_protected_flag_alone_is_enough() -> None:
    body = connector_payload()
    body["post"]["content"]["protected"] = True
    assert parse_payload(body).password_protected


def test_optional_fields_may_be_absent_or_null() -> None:
    body = connector_payload()
    post = body["post"]
    for name in ("excerpt", "content", "author_name", "category_names", "tag_names", "type", "guid"):
        del post[name]
    post["featured_image"] = None
    post["date_gmt"] = None
    del body["site"]
    event = parse_payload(body)
    assert event.post.title == "Le pain au levain, pas à pas"
    assert event.post.image_url is None and event.post.published_at is None and event.post.guid is None
    assert event.post.categories == () and event.post_type == "post"


def test_a_draft_date_of_zeroes_is_no_date() -> None:
    body = connector_payload(status="draft")
    body["post"]["date_gmt"] = "0000-00-00T00:00:00"
    assert parse_payload(body).post.published_at is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(event="delete"), "\"event\" must be one of publish, update, trash, unpublish"),
        (lambda b: b.update(post=[1]), "\"post\" must be an object"),
        (lambda b: b["post"].update(id="twelve"), "\"post.id\" must be the WordPress post ID"),
        (lambda b: b["post"].update(id=0), "\"post.id\""),
        (lambda b: b["post"].update(id=True), "\"post.id\""),
        (lambda b: b["post"].update(link="/2026/11/relative/"), "\"post.link\" must be the post's absolute"),
        (lambda b: b["post"].pop("link"), "\"post.link\" is required"),
        (lambda b: b["post"].pop("status"), "\"post.status\" is required"),
        (lambda b: b["post"].update(title={"rendered": 5}), "\"post.title\" must be a string"),
        (lambda b: b["post"].update(category_names="Boulangerie"), "\"post.category_names\" must be a list"),
        (lambda b: b["post"].update(date_gmt="yesterday"), "\"post.date_gmt\" must be a GMT date"),
    ],
)
def test_bad_bodies_say_which_field_is_wrong(change, message: str) -> None:
    body = copy.deepcopy(connector_payload())
    change(body)
    with pytest.raises(PayloadError, match=message):
        parse_payload(body)


@pytest.mark.parametrize("data", [[], "publish", None, 12, {"hello": "world"}])
def test_what_is_not_a_post_event_is_refused(data: object) -> None:
    with pytest.raises(PayloadError):
        parse_payload(data)


def test_the_wp_webhooks_shape_is_understood() -> None:
    event = parse_payload(wp_webhooks_payload())
    assert (event.event, event.status, event.shape) == ("publish", "publish", "wp-webhooks")
    post = event.post
    assert post.url == f"{SITE}/2026/11/recette-12/"
    assert post.title == "Le pain au levain"
    assert post.guid == f"{SITE}/?p=12"
    assert post.wordpress_id == 12
    assert post.categories == ("Boulangerie", "levain")
    assert post.image_url == f"{SITE}/wp-content/uploads/pain.jpg"
    assert post.published_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert "Farine" in post.content_html


@pytest.mark.parametrize(
    ("status", "expected_event"),
    [("publish", "publish"), ("future", "publish"), ("trash", "trash"), ("draft", "unpublish"),
     ("private", "unpublish"), ("pending", "unpublish")],
)
def test_wp_webhooks_events_follow_the_status(status: str, expected_event: str) -> None:
    assert parse_payload(wp_webhooks_payload(status=status)).event == expected_event


def test_wp_webhooks_without_thumbnail_or_with_password() -> None:
    body = wp_webhooks_payload(password="s3cret")
    body["post_thumbnail"] = False
    event = parse_payload(body)
    assert event.password_protected and event.post.content_html == ""
    assert event.post.image_url is None


def event_for(**kwargs: Any) -> WordPressEvent:
    return parse_payload(connector_payload(**kwargs))


@pytest.mark.parametrize(
    ("kwargs", "kind", "reason"),
    [
        ({}, "ingest", ""),
        ({"event": "update"}, "ingest_if_known", ""),
        ({"status": "future"}, "ignore", "scheduled"),
        ({"status": "draft"}, "ignore", "draft, not published"),
        ({"status": "pending"}, "ignore", "pending, not published"),
        ({"status": "private"}, "ignore", "private, not published"),
        ({"password": True}, "ignore", "password-protected"),
        ({"event": "update", "password": True}, "ignore", "password-protected"),
        ({"event": "trash", "status": "trash"}, "withdraw", ""),
        ({"event": "unpublish", "status": "draft"}, "withdraw", ""),
    ],
)
def test_decide_applies_the_relay_rules(kwargs: dict[str, Any], kind: str, reason: str) -> None:
    action = decide(event_for(**kwargs))
    assert action.kind == kind
    assert reason in action.reason


def test_other_post_types_are_ignored() -> None:
    body = connector_payload()
    body["post"]["type"] = "page"
    action = decide(parse_payload(body))
    assert action.kind == "ignore" and "'page'" in action.reason
