"""Recognising relay's own post among the account's tweets, as X really lists them.

X rewrites every link to ``t.co`` and gives the original in ``entities.urls[].expanded_url``;
it turns bare names such as ``README.md`` into ``http://README.md``; it appends a ``t.co``
link for an attached photo, expanded to ``…/status/<id>/photo/1`` (see
../shared/x-recordings/testupdatestatuswithmedia.json). The shapes below are X's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from relay.adapters.x import RecentTweet, _restore_links
from relay.pipeline.outbox import _words, find_own_tweet

LINK = "https://plombier-nantes.fr/conseils/radiateurs/?utm_source=twitter&utm_medium=social&utm_campaign=radiateurs"
TEXT = f"Purger ses radiateurs : la méthode (voir README.md) & nos conseils {LINK}"


def listed(tweet_id: str, data: dict[str, object]) -> RecentTweet:
    text, links = _restore_links(data)
    return RecentTweet(tweet_id, text, datetime.now(UTC), str(data["text"]), links)


def as_x_lists_it(tweet_id: str = "1850000000000000001", *, link: str = LINK, photo: bool = True) -> RecentTweet:
    text = "Purger ses radiateurs : la méthode (voir https://t.co/AbCdEf1234) &amp; nos conseils https://t.co/ZyXwVu9876"
    urls: list[dict[str, object]] = [
        {"start": 41, "end": 64, "url": "https://t.co/AbCdEf1234", "expanded_url": "http://README.md",
         "display_url": "README.md"},
        {"start": 86, "end": 109, "url": "https://t.co/ZyXwVu9876", "expanded_url": link,
         "display_url": "plombier-nantes.fr/conseils/radi…"},
    ]
    if photo:
        text += " https://t.co/PhOtO12345"
        urls.append({"start": 110, "end": 133, "url": "https://t.co/PhOtO12345",
                     "expanded_url": f"https://x.com/relay/status/{tweet_id}/photo/1",
                     "display_url": "pic.x.com/PhOtO12345", "media_key": "3_1850000000000000009"})
    return listed(tweet_id, {"id": tweet_id, "text": text, "entities": {"urls": urls}})


def test_a_post_with_an_image_and_a_bare_domain_is_recognised_by_its_link() -> None:
    tweet = as_x_lists_it()
    assert tweet.links == ("http://README.md", LINK), "the photo's link is X's, not relay's"
    assert "PhOtO12345" not in tweet.text
    assert find_own_tweet(TEXT, LINK, [tweet]) is tweet


def test_another_delivery_of_the_same_post_is_not_taken_for_this_one() -> None:
    other_variant = as_x_lists_it(link=LINK + "&utm_content=republish-1")
    other_variant = RecentTweet(other_variant.id, "Un autre texte " + LINK, other_variant.created_at,
                                other_variant.display_text, other_variant.links)
    assert find_own_tweet(TEXT, LINK, [other_variant]) is None


def test_the_words_are_the_second_check_when_x_did_not_expand_the_links() -> None:
    bare = listed("5", {"id": "5", "text": "Purger ses radiateurs : la méthode (voir https://t.co/AbCdEf1234) &amp; "
                                             "nos conseils https://t.co/ZyXwVu9876"})
    assert bare.links == ()
    assert find_own_tweet(TEXT, LINK, [bare]) is bare
    tweet = as_x_lists_it(link="https://t.co/ZyXwVu9876", photo=False)
    tweet = RecentTweet(tweet.id, tweet.text, tweet.created_at, tweet.display_text, ("https://t.co/ZyXwVu9876",))
    assert find_own_tweet(TEXT, LINK, [tweet]) is tweet
    reworded = RecentTweet(tweet.id, tweet.text.replace("méthode", "technique"), tweet.created_at,
                           tweet.display_text, tweet.links)
    assert find_own_tweet(TEXT, LINK, [reworded]) is None


def test_another_blogs_post_with_the_same_words_is_never_taken_for_this_one() -> None:
    """Two blogs' "Recette n°3" differ only in their link: the crash test once lost a post to this."""
    other_blog = LINK.replace("plombier-nantes.fr", "plombier-rennes.fr")
    theirs = as_x_lists_it(link=other_blog)
    assert _words(theirs.text) == _words(TEXT.replace(LINK, other_blog)), "same words, another link"
    assert find_own_tweet(TEXT, LINK, [theirs]) is None


def test_a_tracked_link_is_matched_even_when_x_unwound_its_redirect() -> None:
    tracked = "https://relay.plombier-nantes.fr/r/k3Jx9Q"
    data = {"id": "1", "text": "Conseil https://t.co/AbCdEf1234", "entities": {"urls": [
        {"start": 8, "end": 31, "url": "https://t.co/AbCdEf1234", "expanded_url": tracked, "unwound_url": LINK}]}}
    tweet = listed("1", data)
    assert find_own_tweet(f"Conseil {tracked}", tracked, [tweet]) is tweet
