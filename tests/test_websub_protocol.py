"""The pure halves of WebSub: hub discovery and X-Hub-Signature checks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from relay.adapters.feed_parser import parse_feed
from relay.core.models import FeedDocument
from relay.websub.discovery import discover, parse_link_header
from relay.websub.signatures import ALGORITHMS, HubSignatureError, hub_signature, verify_hub_signature

FEED = "https://blog.example/feed/"
EMPTY = FeedDocument(posts=())


# -- discovery ---------------------------------------------------------------------------------


def test_link_header_gives_hub_and_self() -> None:
    found = discover({"Link": '<https://hub.example/>; rel="hub", <https://blog.example/atom>; rel="self"'},
                     EMPTY, feed_url=FEED)
    assert (found.hub_url, found.topic_url) == ("https://hub.example/", "https://blog.example/atom")


def test_link_header_wins_over_the_document() -> None:
    document = FeedDocument(posts=(), hub_url="https://old-hub.example/", self_url="https://blog.example/old")
    found = discover({"link": "<https://hub.example/>; rel=hub"}, document, feed_url=FEED)
    assert found.hub_url == "https://hub.example/"
    assert found.topic_url == "https://blog.example/old", "self falls back to the document when the header lacks it"


def test_document_links_when_no_header() -> None:
    document = FeedDocument(posts=(), hub_url="https://pubsubhubbub.appspot.com/", self_url=FEED)
    assert discover({}, document, feed_url=FEED) == discover({"Link": ""}, document, feed_url=FEED)
    assert discover({}, document, feed_url=FEED).hub_url == "https://pubsubhubbub.appspot.com/"


def test_topic_defaults_to_the_feed_address_and_no_hub_means_none() -> None:
    assert discover({}, FeedDocument(posts=(), hub_url="https://hub.example/"), feed_url=FEED).topic_url == FEED
    assert discover({"Link": '<https://blog.example/>; rel="canonical"'}, EMPTY, feed_url=FEED).hub_url is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</hub>; rel="hub"', [("https://blog.example/hub", {"hub"})]),  # relative to the feed
        ('<https://h.example/>; rel="self hub"', [("https://h.example/", {"self", "hub"})]),
        ("<https://h.example/>;rel=HUB", [("https://h.example/", {"hub"})]),
        ('<https://a.example/>; crossorigin; rel="hub"', [("https://a.example/", {"hub"})]),
        ('<https://a.example/x,y>; title="a, b; c"; rel="hub"', [("https://a.example/x,y", {"hub"})]),
        ('<https://a.example/>; rel="hub"; rel="self"', [("https://a.example/", {"hub"})]),  # first rel counts
        ('<https://a.example/>, <https://b.example/>; rel=hub', [("https://b.example/", {"hub"})]),
        ('<ftp://a.example/>; rel="hub", <javascript:alert(1)>; rel="hub"', []),
        ('<https://a.example/; rel="hub"', []),  # unterminated
        ("garbage", []),
    ],
)
def test_link_header_parser(header: str, expected: list[tuple[str, set[str]]]) -> None:
    assert [(url, set(rels)) for url, rels in parse_link_header(header, base_url=FEED)] == expected


def test_atom_link_from_a_parsed_feed() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:x</id><updated>2026-11-01T00:00:00Z</updated>
<link rel="hub" href="https://websub.example/hub"/><link rel="self" href="https://blog.example/feed.atom"/>
<entry><title>A</title><id>urn:a</id><link href="https://blog.example/a"/><updated>2026-11-01T00:00:00Z</updated></entry>
</feed>"""
    found = discover({}, parse_feed(body, url="https://blog.example/feed.atom"), feed_url=FEED)
    assert (found.hub_url, found.topic_url) == ("https://websub.example/hub", "https://blog.example/feed.atom")


# -- signatures --------------------------------------------------------------------------------

SECRET = "3f2a-secret-that-relay-gave-the-hub"
BODY = b'<?xml version="1.0"?><feed>caf\xc3\xa9</feed>'


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_websub_algorithm_verifies(algorithm: str) -> None:
    digest = hmac.new(SECRET.encode(), BODY, getattr(hashlib, algorithm)).hexdigest()
    assert verify_hub_signature(f"{algorithm}={digest}", BODY, SECRET) == algorithm
    assert verify_hub_signature(f"{algorithm.upper()}={digest.upper()}", BODY, SECRET) == algorithm
    assert hub_signature(SECRET, BODY, algorithm) == f"{algorithm}={digest}"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no X-Hub-Signature"),
        ("", "no X-Hub-Signature"),
        ("sha256", "must look like"),
        ("md5=" + hashlib.md5(BODY).hexdigest(), "not one of"),
        ("sha256=" + "0" * 64, "does not match"),
        ("sha256=" + hmac.new(b"other secret", BODY, hashlib.sha256).hexdigest(), "does not match"),
        ("sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()[:-2], "does not match"),
        ("sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(), "does not match"),
        ("sha256=ééé", "not hexadecimal"),
    ],
)
def test_bad_signatures_are_refused_without_revealing_the_secret(header: str | None, reason: str) -> None:
    with pytest.raises(HubSignatureError, match=reason) as caught:
        verify_hub_signature(header, BODY, SECRET)
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert SECRET not in str(caught.value) and expected not in str(caught.value)


def test_a_tampered_body_fails() -> None:
    header = hub_signature(SECRET, BODY, "sha512")
    with pytest.raises(HubSignatureError):
        verify_hub_signature(header, BODY + b" ", SECRET)
