"""Password-protected WordPress posts, recognised in whatever door they came through.

WordPress lists a password-protected post in its feed as published, with the title
prefixed ("Protected: …", in the site's language: "Protégé : …", "Geschützt: …") and,
in place of the excerpt, "There is no excerpt because this is a protected post." (also
translated); the content is the password form. A tweet of it announces a post no
reader can open, so such posts are never posted.

A title prefix alone is not proof (a post may be called "Protected: the wetlands"):
it counts only when the post has no text besides. The no-excerpt sentence and the
password form are proof on their own.
"""

from __future__ import annotations

import html
import re

from relay.core.models import Post

PROTECTED_TITLE_PREFIXES = (
    "protected:",  # en
    "protégé :",  # fr
    "protégé:",
    "geschützt:",  # de
    "protegido:",  # es, pt
    "protegida:",
    "protetto:",  # it
    "beveiligd:",  # nl
)
"""WordPress's "Protected: %s" as its translations write it (casefolded, no-break space as space)."""

_NO_EXCERPT = re.compile(
    "|".join(
        [
            r"there is no excerpt because this is a protected post",  # en
            r"il n'y a pas d'extrait car (?:cet article|ce contenu|cette publication) est protégée?",  # fr
            r"es gibt keinen (?:text)?auszug,? (?:da|weil) dies ein geschützter (?:beitrag|artikel) ist",  # de
            r"no hay (?:extracto|resumen) porque (?:es|esta es) una entrada protegida",  # es
            r"non c'è (?:alcun|nessun) (?:riassunto|estratto) (?:perché|in quanto) questo è un articolo protetto",
            r"não há (?:excerto|resumo),? (?:porque|pois) este (?:é um )?(?:artigo|post|conteúdo) (?:é )?protegido",
            r"er is geen (?:samenvatting|uittreksel),? (?:omdat|want) dit (?:een beveiligd bericht is|bericht "
            r"beveiligd is)",  # nl
        ]
    )
)
"""The sentence WordPress puts in place of a protected post's excerpt, per language."""

_PASSWORD_FORM = re.compile(r"post-password-form|name=[\"']?post_password\b|wp-login\.php\?action=postpass")
"""The markup of WordPress's password form (``get_the_password_form``), which is the
content of a protected post in a feed, whatever the language."""

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "\u00a0": " ", "\u202f": " "})
_SCAN_CHARS = 4096
"""The no-excerpt sentence and the form open the field: there is no need to read further."""


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text[:_SCAN_CHARS].translate(_APOSTROPHES).casefold())


def has_protected_title(title: str) -> bool:
    """Whether ``title`` starts with WordPress's "Protected: " in one of its translations."""
    return _normalised(title.strip()).startswith(PROTECTED_TITLE_PREFIXES)


def says_protected(html_or_text: str) -> bool:
    """Whether a description or content is WordPress's stand-in for a protected post."""
    head = html_or_text[:_SCAN_CHARS]
    if _PASSWORD_FORM.search(head):
        return True
    text = _normalised(html.unescape(re.sub(r"<[^<>]*>", " ", head)))
    return bool(_NO_EXCERPT.search(text))


def is_protected(post: Post) -> bool:
    """Whether ``post`` is a password-protected WordPress post (never to be posted)."""
    fields = (post.excerpt_html, post.summary_html, post.content_html)
    if any(says_protected(field) for field in fields if field):
        return True
    return has_protected_title(post.title) and not any(field.strip() for field in fields)
