"""What a reader would find wrong in a composed tweet, by class, for ``relay preview --check``.

Each check looks at the tweet as X would show it (and at the post it came from), not at
how relay made it, so it keeps the composer honest: a defect found here is one a
reader sees. Accidental links (``README.md``, ``ASP.NET``, which X turns into links to
other sites) are warnings: the words are the author's, but the owner should know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from relay.core.boilerplate import boilerplate_lines
from relay.core.language import function_words, guess_language, normalise_word
from relay.core.length import find_urls
from relay.core.models import Post
from relay.core.mojibake import repair_mojibake
from relay.core.protected import is_protected
from relay.core.summary import clean_text, clean_title, summary_for

DEFECT_CLASSES = (
    "mojibake",
    "boilerplate",
    "protected",
    "broken_first_sentence",
    "function_word_cut",
    "elision_hashtag",
    "foreign_utm",
    "autolink",
)
WARNING_CLASSES = frozenset(["autolink"])

_HASHTAG = re.compile(r"#\w+")
_ELISION_IN_HASHTAG = re.compile(r"(?<=[a-zà-ÿ])(?:D|L|Qu|Jusqu)(?=[AEIOUYHÀ-ÖØ-Ý][a-zà-ÿ])|(?<=[a-z])S(?=[A-Z][a-z])")
"""#ÉconomiesDÉnergie, #AdoucisseurDEau, #WomenSSuffrage: an elided article or a
possessive left as a capital of its own."""
_WORD = re.compile(r"\w+")
_TITLE_BREAK = re.compile("[\n:;.!?–—|-]")


@dataclass(frozen=True)
class Defect:
    kind: str
    detail: str

    @property
    def warning(self) -> bool:
        return self.kind in WARNING_CLASSES


def _broken_first_sentence(post: Post, text: str) -> str | None:
    """What follows the title in the post's text, when the tweet shows it cut from the title that was its subject."""
    title_words = _WORD.findall(clean_title(post.title).casefold())
    source = next((s for s in (post.excerpt_html, post.summary_html, post.content_html) if s.strip()), "")
    body = clean_text(source)
    words = list(_WORD.finditer(body))
    if not title_words or len(words) <= len(title_words):
        return None
    if [w.group().casefold() for w in words[: len(title_words)]] != title_words:
        return None
    gap = body[words[len(title_words) - 1].end() : words[len(title_words)].start()]
    rest = body[words[len(title_words)].start() :]
    if _TITLE_BREAK.search(gap) or not rest[:1].islower():
        return None
    shown = rest[:30].split("\n")[0]
    return rest[:60] if any(line.startswith(shown) for line in text.split("\n")) else None


def tweet_defects(post: Post, text: str, link: str, *, keep_feed_utm: bool = False) -> list[Defect]:
    """Every defect of the tweet ``text`` (carrying ``link``) composed for ``post``."""
    defects: list[Defect] = []
    if repair_mojibake(text) != text:
        defects.append(Defect("mojibake", text[:80]))
    defects += [Defect("boilerplate", line[:80]) for line in boilerplate_lines(text)]
    if is_protected(post):
        defects.append(Defect("protected", clean_title(post.title)[:80]))
    broken = _broken_first_sentence(post, text)
    if broken is not None:
        defects.append(Defect("broken_first_sentence", broken))
    summary = summary_for(post)
    words = function_words(guess_language(text))
    authors_lines = frozenset(summary.split("\n"))
    for line in text.split("\n"):
        # a paragraph the author ended with "…" ("Did you know that…") is theirs, not a cut
        if line.endswith("…") and not line.endswith(" …") and line not in authors_lines:
            last = line[:-1].rstrip(" ,;:").rsplit(None, 1)[-1:]
            if last and normalise_word(last[0]) in words:
                defects.append(Defect("function_word_cut", line[-50:]))
    defects += [Defect("elision_hashtag", tag.group()) for tag in _HASHTAG.finditer(text)
                if _ELISION_IN_HASHTAG.search(tag.group())]
    if not keep_feed_utm:
        query = dict((name.lower(), value) for name, value in parse_qsl(urlsplit(link).query, keep_blank_values=True))
        source = query.get("utm_source")
        if source is not None and source != "twitter":
            defects.append(Defect("foreign_utm", f"utm_source={source}"))
    defects += [Defect("autolink", span.url) for span in find_urls(text) if span.url != link]
    return defects
