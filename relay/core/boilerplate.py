"""What blogging tools and feed services add around a post's text, recognised so that it
never becomes a tweet's summary.

Two kinds of rule. In the markup: elements that related-posts and sharing plugins
wrap their boxes in, links that file the post (SPIP's ``rel="directory"``,
WordPress's ``rel="tag"``), and the general rule that a block made mostly of links
to other pages (a list of headlines, a row of "Share on …") is navigation, not a
summary. In the text: footers and headings that arrive without telling markup
("The post … appeared first on …", "Articles en rapport", "Tweet it: …"), in the
languages WordPress and its plugins write them.

Every rule here is linear in its input: one bottom-up pass over the tree, and line
patterns that look at one bounded line at a time.
"""

from __future__ import annotations

import re

from bs4 import Tag
from bs4.element import NavigableString

BOILERPLATE_CLASSES = frozenset(
    [
        *("sharedaddy", "sd-sharing", "sharing", "share-buttons", "social-share", "addtoany_share_save_container"),
        *("a2a_kit", "jp-relatedposts", "yarpp-related", "crp_related", "related-posts", "mf-related", "mf-viral"),
        *("wp-block-latest-posts", "post-tags", "tags-links", "cat-links"),
    ]
)
"""Classes of the boxes sharing and related-posts plugins add (Jetpack, AddToAny, YARPP,
Contextual Related Posts, feedsportal's "mf-related")."""
FILING_RELS = frozenset(["directory", "tag", "category"])
"""``rel`` values of links that file the post somewhere (SPIP's section, WordPress's tags)."""

LINK_SHARE = 0.6
"""A block whose text is this much link text is navigation."""
SHORT_BLOCK_CHARS = 120
"""A block with a single link counts only when it is this short ("Lire la suite", "Source")."""
_STRUCTURAL = frozenset(["br", "hr"])
_ITEMS = frozenset(["li", "dt", "dd", "tr", "td", "th"])
"""Parts of a list or table are judged with their whole: one linked item in a list of prose stays."""


def link_blocks(tags: list[Tag], blocks: frozenset[str]) -> list[Tag]:
    """The blocks among ``tags`` (a tree's elements in document order) that are mostly links.

    Measured bottom-up in one pass: each element's text length, link text length and
    link count are the sums of its children's. Only innermost blocks and lists are
    judged, so a post whose one paragraph is a list of links loses the list, not the post.
    """
    stats: dict[int, tuple[int, int, int, bool]] = {}
    found: list[Tag] = []
    for tag in reversed(tags):
        text = linked = links = 0
        has_block = False
        for child in tag.children:
            if isinstance(child, Tag):
                child_text, child_linked, child_links, child_block = stats.get(id(child), (0, 0, 0, False))
                text, linked, links = text + child_text, linked + child_linked, links + child_links
                has_block = has_block or child_block or (child.name in blocks and child.name not in _STRUCTURAL)
            elif type(child) is NavigableString:
                text += len(child.strip())
        if tag.name == "a" and tag.get("href"):
            linked, links = text, links + 1
        stats[id(tag)] = (text, linked, links, has_block)
        judged = (
            tag.name in blocks
            and tag.name not in _STRUCTURAL
            and tag.name not in _ITEMS
            and (not has_block or tag.name in ("ul", "ol", "dl", "table"))
        )
        if judged and links and text and linked >= LINK_SHARE * text and (links > 1 or text <= SHORT_BLOCK_CHARS):
            found.append(tag)
    return found


def is_filing_link(tag: Tag) -> bool:
    return tag.name == "a" and not FILING_RELS.isdisjoint(tag.get_attribute_list("rel"))


_HEADINGS = (
    "related posts|related articles|related stories|related|you may also like|you might also like|more from",
    "articles en rapport|articles similaires|articles liés|articles connexes|à lire aussi|a lire aussi",
    "sur le même sujet",
    "vous aimerez aussi|vous aimerez peut-être aussi|lire aussi|voir aussi|partager cet article|partager",
    "partagez cet article|share this|share this post|share this article|share",
    "ähnliche beiträge|ähnliche artikel|verwandte artikel|das könnte dich auch interessieren|teilen mit|teilen",
    "entradas relacionadas|artículos relacionados|publicaciones relacionadas|compartir esto|compartir",
    "articoli correlati|post correlati|condividi|condividi questo articolo",
    "posts relacionados|artigos relacionados|publicações relacionadas|compartilhe isso|compartilhe|partilhe",
)
_HEADING = re.compile(r"(?:" + "|".join(_HEADINGS) + r")\s*:?", re.IGNORECASE)
"""A line that is only one of these heads a box of links or buttons: it and what follows go."""

_BOILERPLATE_LINE = re.compile(
    "|".join(
        [
            # Guardian's and others' inline "Related: <headline>", "Lire aussi : …"
            r"(?:related|see also|read also|lire aussi|à lire aussi|voir aussi|lesen sie auch|lee también"
            r"|leggi anche|leia também)\s*:.*",
            # planet aggregators' attribution: "Article original de X", "Aller sur Planète jQuery"
            r"(?:article original|original article|artículo original|originalartikel)\s+(?:de|by|par|von|:).*",
            r"aller sur [^.!?]{1,60}",
            # Medium's footer
            r".{0,300}\bwas originally published in .{1,200} on medium\b.*",
            # sharing lines: "Partager sur X | Partager sur Facebook", "Tweet it: clicktotweet…", "Share on …"
            r"(?:share|partager|partagez|teilen|compartir|compartilhe|condividi)\s+(?:on|sur|auf|en|no|su|via)\b.*",
            r"(?:tweet it|tweet this|click to tweet|pin it)\b.*",
            r".*\b(?:clicktotweet\.com|ctt\.ec|ctt\.to)/.*",
        ]
    ),
    re.IGNORECASE,
)
"""A whole line that is boilerplate, wherever it stands."""
_ONLY_MARKS = re.compile(r"[\W_]+")
MAX_BOILERPLATE_LINE = 400
"""Longer lines are prose that happens to start like a footer."""


def without_boilerplate_lines(text: str) -> str:
    """``text`` (one paragraph a line) without boilerplate lines, and cut at a related-posts heading."""
    kept: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip(" \u00a0")
        if len(stripped) <= MAX_BOILERPLATE_LINE:
            if _HEADING.fullmatch(stripped):
                break
            if _BOILERPLATE_LINE.fullmatch(stripped) or (stripped and _ONLY_MARKS.fullmatch(stripped)):
                continue
        kept.append(line)
    return "\n".join(kept)


_BOILERPLATE_ANYWHERE = re.compile(
    r"\b(?:appeared first on|est apparu en premier sur|erschien zuerst auf|se publicó primero en"
    r"|sembra essere il primo su|apareceu primeiro em)\b"
    r"|(?:^|[.!?…:;\])»|>→›\[(-])\s*(?:continue reading|continuer la lecture|lire la suite|read more|weiterlesen"
    r"|continuar leyendo|continua a leggere|leia mais)\b",
    re.IGNORECASE,
)
"""Footers and "read more" links inside a line (a read-more phrase only after a sentence or a mark)."""


def boilerplate_lines(text: str) -> list[str]:
    """The lines of ``text`` (a tweet) that are boilerplate, for the quality check."""
    found = []
    for line in text.split("\n"):
        stripped = line.strip(" \u00a0").rstrip("…").rstrip()
        if len(stripped) > MAX_BOILERPLATE_LINE:
            continue
        if _HEADING.fullmatch(stripped) or _BOILERPLATE_LINE.fullmatch(stripped) or _BOILERPLATE_ANYWHERE.search(line):
            found.append(line)
    return found
