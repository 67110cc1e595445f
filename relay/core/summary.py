"""Feed and post HTML turned into the plain text a tweet can show.

What blogging tools put in a description is written for a feed reader, not for X: tags,
entities (sometimes escaped twice, so ``&amp;eacute;`` arrives for ``é``), WordPress
shortcodes and image captions, "[…]" and "Continue reading" links, "The post … appeared
first on …" footers, invisible characters. Any of it left in a tweet reads as a broken
robot, and X refuses some invisible characters outright. All cleaning lives here, so
that every door into relay gets the same text.

French typography is kept: the no-break space before ``:`` ``;`` ``?`` ``!`` and inside
« », with the narrow no-break space turned into a plain one (U+202F weighs 2 on X and is
missing from some fonts; U+00A0 weighs 1).
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata

from bs4 import BeautifulSoup, Comment, Tag
from bs4.element import PageElement

from relay.core.boilerplate import BOILERPLATE_CLASSES, is_filing_link, link_blocks, without_boilerplate_lines
from relay.core.models import Post
from relay.core.mojibake import repair_mojibake

_DROPPED_ELEMENTS = frozenset(
    ["script", "style", "iframe", "noscript", "figcaption", "template", "svg", "object", "pre", "nav"]
)
"""Never prose: code, media, and code listings (`<pre>`), which summarise nothing."""
_DROPPED_CLASSES = frozenset(["more-link", "wp-caption-text", "screen-reader-text"]) | BOILERPLATE_CLASSES
_BLOCK_ELEMENTS = frozenset(
    [
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figure", "footer"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"),
        *("section", "table", "td", "th", "tr", "ul"),
    ]
)

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
"""What still looks like a tag once markup was parsed: the sign of escaped HTML."""
_MAX_UNESCAPE_ROUNDS = 5

_CONTENT_SHORTCODES = frozenset({"caption", "wp_caption", "embed", "video", "audio", "playlist", "gallery"})
"""Shortcodes whose content goes with them: a caption or an embed's address is not prose."""
_SHORTCODE_SELF_CLOSING = re.compile(
    r"\[(?:caption|wp_caption|embed|video|audio|playlist|gallery|contact-form-7)\b[^\[\]]*\]", re.IGNORECASE
)
_SHORTCODE_OPENING = re.compile(r"\[([a-z_][a-z0-9_-]*)(?:\s[^\[\]]*)?\]", re.IGNORECASE)
_SHORTCODE_CLOSING = re.compile(r"\[/([a-z_][a-z0-9_-]*)\]", re.IGNORECASE)
_SHORTCODE_WITH_ATTRIBUTES = re.compile(r"\[[a-z_][a-z0-9_-]*\s+[^\[\]]*=[^\[\]]*\]", re.IGNORECASE)
"""Only bracketed words shaped like shortcodes go: "[Vidéo]" or "[mise à jour]" is prose.

Attribute text stops at the next bracket, so each match looks no further than that:
the shortcode rules stay linear on a description made of thousands of ``[``."""
MAX_TAIL_ROUNDS = 5
"""Tails come stacked two or three deep; more rounds only serve a hostile text."""

_MORE_MARKER = re.compile(r"\s*[\[(]\s*(?:…|\.\.\.)\s*[\])]\s*$")
"""WordPress's excerpt "[…]" (SPIP's "(...)") at the end: the link says there is more."""
_BRACKETED_ELLIPSIS_LINE = re.compile(r"^[ \u00a0]*\[\s*(?:…|\.\.\.)\s*\][ \u00a0]*(?:\n|$)", re.MULTILINE)
_BRACKETED_ELLIPSIS = re.compile(r"\[\s*(?:…|\.\.\.)\s*\]")
"""Inside a sentence, "[…]" marks words left out of a quotation: it stays as a plain "…",
which says the same without the brackets that read as markup in a tweet."""
_READ_MORE_TAIL = re.compile(  # after a sentence or a mark only: "I read more books than ever" is prose
    r"(?:(?:^|(?<=[\n.!?…:;\])»|>→›-]))[\s\[(«»→›>|-]{0,12}\b(?:lire la suite|alors lisez la suite|lisez la suite"
    r"|continuer la lecture|lire l['’]article|continue reading|read more|read the rest|keep reading|weiterlesen"
    r"|mehr lesen|continuar leyendo|sigue leyendo|seguir leyendo"
    r"|leer más|continua a leggere|continua la lettura|leggi tutto|leggi di più|continuar lendo|continue lendo"
    r"|leia mais|ler mais|lees verder|verder lezen)|\s*\(more…\)).{0,200}$",
    re.IGNORECASE | re.DOTALL,
)
_APPEARED_FIRST_TAIL = re.compile(
    r"(?:^|(?<=[\n.!?…\]]))\s*(?:the post|l['’]article|cet article|le billet|der beitrag|der artikel|la entrada"
    r"|el artículo|la publicación|l['’]articolo|il post|o post|a entrada|o artigo|a publicação|het bericht)"
    r"\s.{1,300}?\s"
    r"(?:appeared first on|est apparu en premier sur|a d['’]abord été publié sur|erschien zuerst auf"
    r"|ist zuerst erschienen auf|se publicó primero en|apareció primero en|sembra essere il primo su"
    r"|è apparso per la prima volta su|apareceu primeiro em|foi publicado primeiro em|verscheen eerst op)\s.{1,200}$",
    re.IGNORECASE | re.DOTALL,
)

_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff\ufffe\uffff\ud800-\udfff]")
"""Controls, soft hyphens (each weighs 1 while showing nothing), zero-width spaces,
byte-order marks, non-characters X refuses, lone surrogates."""
_PARAGRAPH_BREAK = "\u2029"
_COLLAPSIBLE_SPACE = re.compile(r"[^\S\u00a0\u2007]+")
_SPACE_AROUND_NBSP = re.compile(r" ?\u00a0[ \u00a0]*")

MAX_SUMMARY_CHARS = 1000
"""A tweet holds at most 280; more text would only slow the composer down."""


_UNCLOSED_TAG = re.compile(r"<(?=/?[A-Za-z])(?=[^<>]*+(?:<|$))")
"""A ``<`` that opens a tag whose ``>`` never comes before the next ``<``."""


def without_unclosed_tags(markup: str) -> str:
    """``markup`` with every ``<`` that opens a tag never closed before the next ``<`` written ``&lt;``.

    Python's html.parser looks for the end of such a tag all the way to the end of the
    text, once per ``<``: 20 KB of ``<a `` took 4 s, 1 MB hours. Written as ``&lt;``
    it is text, which is what a browser would show of it too. Call this before every
    ``BeautifulSoup(..., "html.parser")`` on markup from outside.
    """
    return _UNCLOSED_TAG.sub("&lt;", markup)


def _strip_markup(markup: str) -> str:
    """The text of ``markup``, without what is never prose, with block ends marked.

    One walk over the tree: bs4's ``find_all`` walks it again for every query.
    """
    soup = BeautifulSoup(without_unclosed_tags(markup), "html.parser")
    unwanted: list[PageElement] = []
    blocks: list[Tag] = []
    tags: list[Tag] = []
    for node in soup.descendants:
        if isinstance(node, Comment):
            unwanted.append(node)
        elif isinstance(node, Tag):
            tags.append(node)
            if (
                node.name in _DROPPED_ELEMENTS
                or not _DROPPED_CLASSES.isdisjoint(node.get_attribute_list("class"))
                or is_filing_link(node)
            ):
                unwanted.append(node)
            elif node.name in _BLOCK_ELEMENTS:
                blocks.append(node)
    unwanted += link_blocks(tags, _BLOCK_ELEMENTS)
    for block in blocks:
        block.insert_before(_PARAGRAPH_BREAK)
        block.insert_after(_PARAGRAPH_BREAK)
    for node in unwanted:
        node.extract()
    return soup.get_text()


def _decode(markup: str) -> str:
    """Markup to text, peeling as many layers of escaping as the source added."""
    text = markup
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        if "<" in text:  # without it there is no markup, only entities, which unescape decodes
            text = _strip_markup(text)
        unescaped = html.unescape(text)
        if unescaped == text and not _TAG.search(text):
            return text
        text = unescaped
    return html.unescape(_TAG.sub(" ", text))


def _normalize_spaces(text: str, *, paragraphs: bool) -> str:
    """Runs of spaces made one space; with ``paragraphs``, a run that ended a block
    element or held a blank line becomes one line break instead."""

    def collapse(run: re.Match[str]) -> str:
        breaks = paragraphs and (_PARAGRAPH_BREAK in run.group() or run.group().count("\n") > 1)
        return "\n" if breaks else " "

    text = _INVISIBLE.sub("", text.replace("\u202f", "\u00a0"))
    text = _SPACE_AROUND_NBSP.sub("\u00a0", _COLLAPSIBLE_SPACE.sub(collapse, text))
    return "\n".join(line for line in (line.strip(" \u00a0") for line in text.split("\n")) if line)


def clean_title(title: str) -> str:
    """A title as a tweet shows it: markup and entities decoded, spaces tidied.

    Titles keep their words: "Lire la suite" in a title is the title.
    """
    if "<" in title or "&" in title:
        title = _decode(title)
    return unicodedata.normalize("NFC", _normalize_spaces(repair_mojibake(title), paragraphs=False))


def clean_text(html_text: str) -> str:
    """Description or content HTML as plain text, one line per paragraph, tails removed.

    Paragraph ends are kept because a feed's first paragraph (a news "chapeau", a
    standfirst) often ends without a full stop; joined to the next one it would read
    as one garbled sentence, while the composer can end a summary cleanly there.
    """
    text = _without_shortcodes(repair_mojibake(_decode(html_text)))
    text = without_boilerplate_lines(_normalize_spaces(text, paragraphs=True))
    previous = None
    for _ in range(MAX_TAIL_ROUNDS):  # tails come stacked: "… […] The post X appeared first on Y."
        if previous == text:
            break
        previous = text
        text = _APPEARED_FIRST_TAIL.sub("", text)
        without_more = _READ_MORE_TAIL.sub("", text)
        if without_more != text:  # the arrow or bracket that led to the link goes with it
            without_more = without_more.rstrip(" \u00a0→›>|«([-")
        text = without_more
        text = _MORE_MARKER.sub("", text).rstrip()
    text = _BRACKETED_ELLIPSIS.sub("…", _BRACKETED_ELLIPSIS_LINE.sub("", text))
    return unicodedata.normalize("NFC", text)


def _without_shortcodes(text: str) -> str:
    """WordPress shortcodes out of ``text``, in one pass per rule (linear, whatever the text).

    First the content shortcodes with what they enclose (``[caption]…[/caption]``, up to
    the first closing of the same name), then self-closing ones, then openings of any name
    that are closed later, closings, and bracketed words with attributes.
    """
    closings: dict[str, list[int]] = {}
    for closing in _SHORTCODE_CLOSING.finditer(text):
        closings.setdefault(closing.group(1).lower(), []).append(closing.start())
    kept: list[str] = []
    position = 0
    for opening in _SHORTCODE_OPENING.finditer(text):
        name = opening.group(1).lower()
        if opening.start() < position or name not in _CONTENT_SHORTCODES:
            continue
        starts = closings.get(name, [])
        index = bisect.bisect_left(starts, opening.end())
        if index == len(starts):
            continue
        kept += [text[position : opening.start()], " "]
        position = starts[index] + len(name) + 3
    text = "".join([*kept, text[position:]])
    text = _SHORTCODE_SELF_CLOSING.sub(" ", text)
    last_closing = {closing.group(1).lower(): closing.start() for closing in _SHORTCODE_CLOSING.finditer(text)}

    def closed_later(opening: re.Match[str]) -> str:
        return " " if last_closing.get(opening.group(1).lower(), -1) > opening.start() else opening.group()

    text = _SHORTCODE_OPENING.sub(closed_later, text)
    text = _SHORTCODE_CLOSING.sub(" ", text)
    return _SHORTCODE_WITH_ATTRIBUTES.sub(" ", text)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


_TITLE_SEPARATOR = re.compile("[ \n\u00a0:;,.!?–—\\-|»\"'’]*")
_BREAK_AFTER_TITLE = re.compile("[\n:;.!?–—|-]")
"""A title followed by one of these stood apart ("Titre : la suite", "Title — More"): what
follows reads on its own, whatever its case."""
_SENTENCE_END = re.compile(r"[.!?…][»”\"')\]]*[ \u00a0]+(?=\S)|\n")
_OPENING_MARKS = "«“\"'‘([¿¡ \u00a0"


def _reads_as_sentence(rest: str) -> bool:
    """Whether ``rest`` opens like a sentence: a capital or a digit (after any opening mark), not "est un jeu…"."""
    first = rest.lstrip(_OPENING_MARKS)[:1]
    return first.isupper() or first.isdigit()


def without_repeated_title(summary: str, title: str) -> str:
    """``summary`` minus a copy of ``title`` it opens with; empty if it says nothing more.

    Feeds often start the description with the title (or are nothing but the title);
    a tweet that says the same thing twice wastes the reader's attention and the
    characters the summary needed. But a title is often the subject of the summary's
    first sentence ("No More Room in Hell est un jeu de survie…"): cut off, the rest
    reads as a broken sentence, so then the summary starts at its next sentence that
    opens like one, or stays whole when there is none.
    """
    title_words = _words(title)
    summary_words = _words(summary)
    if not title_words or summary_words[: len(title_words)] != title_words:
        if summary_words and title_words[: len(summary_words)] == summary_words:
            return ""  # the summary is the title, or a truncated copy of it
        return summary
    matches = list(re.finditer(r"\w+", summary))
    if len(matches) < len(title_words):
        return ""
    after = summary[matches[len(title_words) - 1].end() :]
    separator = _TITLE_SEPARATOR.match(after)
    gap = separator.group() if separator else ""
    rest = after[len(gap) :].strip()
    if not rest or _BREAK_AFTER_TITLE.search(gap) or _reads_as_sentence(rest):
        return rest
    for sentence_end in _SENTENCE_END.finditer(rest):
        following = rest[sentence_end.end() :].strip()
        if _reads_as_sentence(following):
            return following
    return summary


def _limit(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1]
    ends = [match.end() for match in re.finditer(r"[.!?][»”\"')\]]*(?=\s)|(?=\n)", cut)]
    if ends and ends[-1] > max_chars // 2:
        return cut[: ends[-1]].rstrip()
    return re.split(r"\s(?=\S*$)", cut)[0].rstrip(" \u00a0,;:") + "…"


def summary_for(post: Post) -> str:
    """The text that tells what ``post`` is about: manual excerpt, else feed
    description, else content; whichever first says more than the title."""
    title = clean_title(post.title)
    for source in (post.excerpt_html, post.summary_html, post.content_html):
        if not source.strip():
            continue
        text = without_repeated_title(clean_text(source), title) if title else clean_text(source)
        if text:
            return _limit(text, MAX_SUMMARY_CHARS)
    return ""
