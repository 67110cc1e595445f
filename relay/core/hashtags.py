"""Hashtags made from a post's categories, in the form X will actually link.

X links ``#`` followed by letters, marks, digits, underscore and a handful of joiners
(twitter-text's hashtag rule), with at least one letter or mark. Anything else ends
the hashtag: ``#Salle de bain`` links ``#Salle`` and leaves "de bain" dangling, and
``#2024`` links nothing. So a category becomes one CamelCase word (``#SalleDeBain``),
keeps its accents (``#Économies``: X links them, and readers search with them), and
loses every character X would stop at.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from relay.core.mojibake import repair_mojibake

HASHTAG_JOINERS = frozenset(
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
"""Non-alphanumeric characters twitter-text keeps inside a hashtag (the middle dot
serves French inclusive writing: ``#Artisan·e·s``)."""

PLACEHOLDER_CATEGORIES = frozenset(
    {
        "uncategorized",
        "uncategorised",
        "non classé",
        "sans catégorie",
        "general",
        "général",
        "allgemein",
        "sin categoría",
        "senza categoria",
        "geen categorie",
        "sem categoria",
    }
)
"""Names blogging tools give posts nobody filed (WordPress's default category in
several languages): they describe nothing, so they never become hashtags."""

MAX_HASHTAG_LENGTH = 30
"""Longer category names ("Conseils pour bien choisir sa cuisine équipée") make a
hashtag nobody searches for; they are dropped, not cut, since a cut tag means
something else."""

_WORD_SEPARATOR = re.compile(r"[\s\-‐‑‒–—/&+,.:;\"«»()\[\]{}!?|\\]+")
_APOSTROPHE = re.compile("['’`´ʼ]")

ELIDED_WORDS = frozenset(
    [
        *("l", "d", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"),  # French
        *("dell", "all", "nell", "dall", "sull", "un", "po"),  # Italian
    ]
)
"""Articles, prepositions and pronouns written with an apostrophe before the next word
("l’", "d’", "qu’"): in a hashtag they read as a stray capital (#ÉconomiesDÉnergie), so
they go (#ÉconomiesÉnergie)."""
ENDINGS = frozenset(["s", "t", "re", "ve", "ll", "d", "m", "hui"])
"""English endings after an apostrophe (possessive 's, n't, 're...), and French
"aujourd’hui": kept in the word, without the apostrophe and in lower case
(#WomensSuffrage, not #WomenSSuffrage)."""
GLUED_PRONOUNS = frozenset(["c", "j", "m", "n", "s", "t"])
"""French pronouns and "ne" elided before a verb ("c’est", "n’importe"): they carry meaning,
so they stay, joined to the verb as one word (#Cest, #NimporteQuoi)."""


def _is_hashtag_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd" or char in HASHTAG_JOINERS


def _has_letter(word: str) -> bool:
    return any(unicodedata.category(char)[0] in "LM" for char in word)


def hashtag_body(term: str) -> str:
    """``term`` as the text of one hashtag, without ``#``; empty when nothing is left.

    Words of a multi-word term are joined in CamelCase; a single word keeps the case
    its author gave it (``iPhone``, ``WordPress``, ``économie``).
    """
    text = unicodedata.normalize("NFC", repair_mojibake(html.unescape(term))).strip().lstrip("#＃")
    text = text.replace("\\'", "'")  # PHP's addslashes left in some feeds: "angie\'s list"
    words = [word for chunk in _WORD_SEPARATOR.split(text) if chunk for word in _without_elisions(chunk) if word]
    if len(words) > 1:
        words = [word[:1].upper() + word[1:] for word in words]
    return "".join(char for char in "".join(words) if _is_hashtag_char(char))


def _without_elisions(chunk: str) -> list[str]:
    """The words of ``chunk`` split at its apostrophes, elided articles dropped, endings kept.

    "d’énergie" gives ["énergie"], "Women's" ["Womens"], "O’Brien" ["O", "Brien"].
    """
    parts = _APOSTROPHE.split(chunk)
    words: list[str] = []
    for index, part in enumerate(parts):
        if index + 1 < len(parts) and part.casefold() in ELIDED_WORDS and parts[index + 1][:1].isalpha():
            continue
        if index and words and (part.casefold() in ENDINGS or parts[index - 1].casefold() in GLUED_PRONOUNS):
            words[-1] += part.lower()
            continue
        words.append(part)
    return words


def _deny_key(term: str) -> str:
    return hashtag_body(term).casefold()


def hashtags_for(
    categories: Iterable[str],
    *,
    max_count: int,
    deny: Iterable[str] = (),
    max_length: int = MAX_HASHTAG_LENGTH,
) -> list[str]:
    """Up to ``max_count`` hashtags (``#`` included) for ``categories``, in their order.

    ``deny`` holds categories or hashtags the blog never wants tagged; they are matched
    case-insensitively, with or without ``#``, spaced or CamelCase
    (``"salle de bain"`` denies ``#SalleDeBain``). Placeholder categories such as
    "Uncategorized" or "Non classé" are always left out. Tags X would not link (no
    letter, like ``#2024``) and repeats differing only in case are dropped.
    """
    denied = {_deny_key(term) for term in deny} | {_deny_key(term) for term in PLACEHOLDER_CATEGORIES}
    tags: list[str] = []
    seen: set[str] = set()
    for category in categories:
        if len(tags) >= max_count:
            break
        body = hashtag_body(category)
        key = body.casefold()
        if not body or not _has_letter(body) or len(body) > max_length or key in denied or key in seen:
            continue
        seen.add(key)
        tags.append("#" + body)
    return tags
