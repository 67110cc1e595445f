"""Password-protected WordPress posts are never posted, from a feed or from a webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.adapters.x import DryRunPublisher
from relay.core.compose import ComposeOptions
from relay.core.models import FeedDocument, Post
from relay.core.protected import has_protected_title, is_protected
from relay.pipeline.service import RelayService
from relay.store.engine import apply_migrations, make_engine
from relay.store.store import Store
from relay.webhooks.wordpress_payload import decide, parse_payload

# (title WordPress writes, description WordPress writes), per site language.
PROTECTED_FORMS = {
    "en": ("Protected: How to Start a Second Podcast", "There is no excerpt because this is a protected post."),
    "fr": ("Protégé\u00a0: Le pain au levain", "Il n’y a pas d’extrait car cet article est protégé."),
    "de": ("Geschützt: Sauerteigbrot", "Es gibt keinen Textauszug, da dies ein geschützter Beitrag ist."),
    "es": ("Protegido: Pan de masa madre", "No hay extracto porque es una entrada protegida."),
    "it": ("Protetto: Pane a lievitazione naturale", "Non c’è alcun riassunto perché questo è un articolo protetto."),
    "pt": ("Protegido: Pão de fermentação natural", "Não há excerto porque este é um artigo protegido."),
    "nl": ("Beveiligd: Zuurdesembrood", "Er is geen samenvatting omdat dit een beveiligd bericht is."),
}


@pytest.mark.parametrize("language", sorted(PROTECTED_FORMS))
def test_the_no_excerpt_sentence_marks_a_protected_post(language: str) -> None:
    title, description = PROTECTED_FORMS[language]
    assert has_protected_title(title)
    post = Post(url="https://blog.example/p/", title=title, summary_html=f"<p>{description}</p>")
    assert is_protected(post)
    # the sentence alone, without the title prefix, is proof too
    assert is_protected(Post(url="https://blog.example/p/", title="Pain", summary_html=description))


def test_the_password_form_marks_a_protected_post() -> None:
    form = ('<form action="https://blog.example/wp-login.php?action=postpass" class="post-password-form" '
            'method="post"><p>Ce contenu est protégé par un mot de passe.</p>'
            '<input name="post_password" type="password" /></form>')
    assert is_protected(Post(url="https://blog.example/p/", title="Protégé : Recette", content_html=form))


def test_a_title_that_only_starts_like_the_prefix_is_not_proof() -> None:
    real = Post(url="https://blog.example/p/", title="Protected: the wetlands we saved",
                summary_html="<p>Ten years of work for a marsh near the river.</p>")
    assert not is_protected(real)
    empty = Post(url="https://blog.example/p/", title="Protected: the wetlands we saved")
    assert is_protected(empty), "a prefixed title and nothing else is WordPress's protected form"
    assert not is_protected(Post(url="https://blog.example/p/", title="Protection des données",
                                 summary_html="Il n’y a pas de quoi avoir peur."))


def test_a_feed_never_posts_a_protected_entry(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    apply_migrations(engine)
    store = Store(engine)
    service = RelayService(store, DryRunPublisher())
    now = datetime.now(UTC)
    feed = store.sync_feeds(["https://blog.example/feed/"], now - timedelta(days=1))[0]
    store.update_feed(feed.id, baseline_at=now - timedelta(days=1))
    feed = store.get_feed(feed.id)
    posts = [
        Post(url=f"https://blog.example/{lang}/", title=title, summary_html=description, published_at=now)
        for lang, (title, description) in PROTECTED_FORMS.items()
    ]
    public = Post(url="https://blog.example/public/", title="Le pain", summary_html="<p>Une recette.</p>",
                  published_at=now)
    result = service.ingest_feed(feed, FeedDocument(posts=(*posts, public)), options=ComposeOptions(),
                                 backfill=0, now=now)
    assert result.queued == 1
    assert result.new == 1, "protected entries are not even remembered: once public, they are new"


def test_a_protected_post_pushed_to_the_service_is_not_queued(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    apply_migrations(engine)
    service = RelayService(Store(engine), DryRunPublisher())
    title, description = PROTECTED_FORMS["fr"]
    post = Post(url="https://blog.example/fr/", title=title, excerpt_html=description)
    decision = service.ingest_post(post, source="webhook", options=ComposeOptions(), now=datetime.now(UTC))
    assert decision.outcome == "protected" and not decision.delivery_ids


@pytest.mark.parametrize("shape", ["relay-connector", "wp-webhooks"])
def test_a_webhook_whose_text_is_the_protected_stand_in_is_ignored(shape: str) -> None:
    """A hand-made sender that forgets the ``protected`` flags still sends WordPress's stand-in text."""
    title, description = PROTECTED_FORMS["de"]
    if shape == "relay-connector":
        body: dict[str, object] = {
            "event": "publish",
            "post": {"id": 7, "type": "post", "link": "https://blog.example/?p=7", "status": "publish",
                     "title": {"rendered": title}, "excerpt": {"rendered": f"<p>{description}</p>"},
                     "content": {"rendered": ""}},
        }
    else:
        body = {"post_id": 7, "post_permalink": "https://blog.example/?p=7",
                "post": {"ID": 7, "post_title": title, "post_status": "publish", "post_type": "post",
                         "post_password": "", "post_excerpt": description, "post_content": ""}}
    action = decide(parse_payload(body))
    assert action.kind == "ignore" and "password" in action.reason
