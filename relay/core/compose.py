"""A post and a template turned into a tweet X accepts, cut the way a person would cut it.

The link is the point of the tweet (and what the blog owner pays X for), so it is
never cut. When the text is too long, the parts give way in this order:

1. the summary shrinks, preferring to end on a whole sentence, and is dropped when
   what would remain is too short to say anything;
2. hashtags are dropped, last first (they help discovery, but a tweet of tags and
   a link says nothing);
3. ``{site}`` then ``{author}`` are dropped;
4. the title shrinks, at a word when it can, as a last resort.

Every cut is at a space, tidied so no dangling punctuation, half-open « », lone ``#``
or split URL remains, and marked with one ``…`` (which X weighs 2). Text is measured
with :func:`relay.core.length.weighted_length` after every change: X's count is not
additive (URLs weigh 23, emoji sequences 2), so nothing is estimated.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache

from relay.core.hashtags import PLACEHOLDER_CATEGORIES, hashtags_for
from relay.core.language import function_words, guess_language, normalise_word
from relay.core.length import MAX_WEIGHTED_LENGTH, emoji_spans, is_valid_tweet, uncuttable_spans, weighted_length
from relay.core.links import add_utm, post_slug, slugify
from relay.core.models import Post, Tweet
from relay.core.summary import clean_title, summary_for

DEFAULT_TEMPLATE = "{title}\n\n{summary}\n\n{hashtags} {link}"
"""Title first (what X shows in notifications), the summary as its own paragraph,
then tags and the link last, where X attaches the link card."""

PLACEHOLDERS = frozenset({"title", "summary", "link", "hashtags", "author", "site"})
UTM_PLACEHOLDERS = frozenset({"slug", "category", "date"})

MIN_SUMMARY_WEIGHT = 30
"""A summary cut shorter than this ("Découvrez notre…") says nothing: drop it instead."""

_SAMPLE_LINK = "https://example.com/"


@dataclass(frozen=True)
class _Layout:
    """A parsed template: ``literals[i]`` comes before ``fields[i]``; one more literal ends it."""

    literals: tuple[str, ...]
    fields: tuple[str, ...]


def _parse_fields(template: str, allowed: frozenset[str], what: str) -> _Layout:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{what} {template!r} is malformed ({exc}); write literal braces as {{{{ and }}}}") from exc
    literals: list[str] = []
    fields: list[str] = []
    pending = ""  # Formatter.parse splits literal text at every escaped brace
    valid = ", ".join("{" + name + "}" for name in sorted(allowed))
    for literal, name, spec, conversion in parsed:
        pending += literal
        if name is None:
            continue
        if name not in allowed:
            raise ValueError(f"{what} has an unknown placeholder {{{name}}}; valid placeholders are {valid}")
        if spec or conversion:
            raise ValueError(f"{what}: write {{{name}}} without a format spec or conversion")
        literals.append(pending)
        fields.append(name)
        pending = ""
    literals.append(pending)
    return _Layout(tuple(literals), tuple(fields))


@lru_cache(maxsize=64)
def _layout(template: str) -> _Layout:
    layout = _parse_fields(unicodedata.normalize("NFC", template), PLACEHOLDERS, "The tweet template")
    if "link" not in layout.fields:
        raise ValueError("The tweet template must contain {link}: the link is what the tweet is for")
    repeated = sorted({name for name in layout.fields if layout.fields.count(name) > 1})
    if repeated:
        names = ", ".join("{" + name + "}" for name in repeated)
        raise ValueError(f"The tweet template uses {names} more than once; each placeholder may appear once")
    return layout


def _render(layout: _Layout, values: dict[str, str]) -> str:
    """The template filled in; an empty placeholder takes one neighbouring separator with it.

    Of the two separators around an empty field, the one with fewer line breaks goes
    (the earlier one on a tie), so "{summary}\\n\\n{hashtags} {link}" without hashtags
    gives "summary\\n\\nlink", never a blank line or a double space.
    """
    literals = list(layout.literals)
    fields = list(layout.fields)
    index = 0
    while index < len(fields):
        if values.get(fields[index]):
            index += 1
            continue
        if index == 0 and len(fields) > 1:
            drop = 1  # the separator after a leading field; the template's prefix stays
        elif index == len(fields) - 1:
            drop = index  # the separator before a trailing field; the suffix stays
        else:
            before, after = literals[index], literals[index + 1]
            drop = index + 1 if after.count("\n") < before.count("\n") else index
        del fields[index]
        del literals[drop]
    parts = [literals[0]]
    for name, literal in zip(fields, literals[1:], strict=True):
        parts += [values[name], literal]
    text = re.sub(r"[ \t]+\n", "\n", "".join(parts))
    text = re.sub(r"\n{3,}", "\n\n", re.sub(r" {2,}", " ", text))
    return text.strip()


def validate_template(template: str) -> None:
    """Raise ``ValueError`` saying what is wrong with ``template``, if anything.

    Besides known placeholders and ``{link}``, the template's own words plus a link
    must fit in a tweet, or no post could ever be composed with it.
    """
    layout = _layout(template)
    bare = _render(layout, {"link": _SAMPLE_LINK})
    if not is_valid_tweet(bare):
        raise ValueError(
            f"The tweet template's own text with a link weighs {weighted_length(bare)}; X allows "
            f"{MAX_WEIGHTED_LENGTH}, and it may not contain U+FEFF, U+FFFE or U+FFFF"
        )


def validate_utm_template(template: str) -> None:
    """Raise ``ValueError`` if ``template`` (for utm_campaign or utm_content) has an unknown placeholder."""
    _parse_fields(template, UTM_PLACEHOLDERS, "The UTM template")


@dataclass(frozen=True)
class ComposeOptions:
    """How one feed's posts become tweets; checked when built, so a bad setting fails at start."""

    template: str = DEFAULT_TEMPLATE
    hashtags: bool = True
    max_hashtags: int = 3
    hashtag_deny: frozenset[str] = field(default_factory=frozenset)
    """Categories never made into hashtags: case-insensitive, with or without ``#``."""
    utm_campaign: str = "{slug}"
    """``utm_campaign`` value; placeholders ``{slug}``, ``{category}``, ``{date}``."""
    utm_content: str | None = None
    """``utm_content`` value (same placeholders), to tell a republished variant apart."""
    link_override: str | None = None
    """A tracked short link, used as it is (it carries no UTM parameters)."""
    keep_feed_utm: bool = False
    """Keep the ``utm_*`` parameters a feed put in its links instead of replacing them with relay's."""
    utm_source: str = "twitter"
    """``utm_source``: the network the visit came from (``mastodon``, ``bluesky`` for those posts)."""
    message: str = ""
    """The author's own message (WordPress editor): ``template`` holds it fitted for X; each other
    network fits it again to its own limit (:meth:`relay.core.networks.Target.options`)."""

    def __post_init__(self) -> None:
        if self.message:
            _layout(self.template)  # its size was fitted to its network by fit_message, not to X's alone
        else:
            validate_template(self.template)
        validate_utm_template(self.utm_campaign)
        if self.utm_content is not None:
            validate_utm_template(self.utm_content)
        if self.max_hashtags < 0:
            raise ValueError(f"max_hashtags must be 0 or more, not {self.max_hashtags}")


DEFAULT_OPTIONS = ComposeOptions()


def tagged_link(post: Post, options: ComposeOptions, *, today: date) -> str:
    """The link the tweet carries: ``options.link_override``, else the post URL with UTM tags.

    ``today`` stands in for ``{date}`` only when the post has no publication date;
    ``{category}`` is the first category that is not a placeholder like "Non classé".
    """
    if options.link_override:
        return options.link_override
    day = post.published_at.date() if post.published_at else today
    filed = [name for name in post.categories if name.strip().casefold() not in PLACEHOLDER_CATEGORIES]
    category = next((slug for slug in map(slugify, filed) if slug), "")
    values = {"slug": post_slug(post.url, post.title), "category": category, "date": day.isoformat()}
    content = options.utm_content.format_map(values) if options.utm_content else None
    return add_utm(post.url, source=options.utm_source, campaign=options.utm_campaign.format_map(values),
                   content=content, keep_existing=options.keep_feed_utm)


_DANGLING = " \u00a0,;:–—‐-(«“‘\"'’/&|\\[{<+=*_"
_PAIRS = (("«", "»"), ("“", "”"), ("(", ")"), ("[", "]"))
_CLOSERS = "\u00a0»”’\"')]"
_WORD_TAIL = re.compile(r"\w*$")
_SENTENCE_OR_PARAGRAPH_END = re.compile(r"[.!?][\u00a0»”’\"')\]]*(?=[ \n])|(?=\n)")
_JOINS_PREVIOUS = re.compile(
    "[\u200c\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
"""Joiners, variation selectors, skin tones, tag characters: they belong to the character before."""
_ABBREVIATIONS = frozenset(
    [
        *("m", "mme", "mlle", "mm", "dr", "pr", "me", "st", "ste", "bd", "av", "cf", "env", "no"),
        *("mr", "mrs", "ms", "sen", "rep", "gov", "gen", "prof", "jr", "sr", "vs"),
    ]
)
"""Words that end with a full stop inside a sentence (French and English titles, "cf.")."""
SENTENCE_SHARE = 0.7
"""A cut at a sentence end wins when it keeps at least this share of a word cut's text."""


def _is_stray_mark(word: str) -> bool:
    """A lone ``#``, ``–``, ``&`` or ``→``: meaningless once what followed is cut.

    Sentence ends and closing marks (French "Pourquoi ?", "»") are words of their own
    when typed with a plain space, and symbols like ``€`` or emoji carry meaning.
    """
    return (
        bool(word)
        and all(unicodedata.category(char)[0] == "P" or unicodedata.category(char) == "Sm" for char in word)
        and not any(char in ".!?…»”)]" for char in word)
    )


def _tidy(prefix: str) -> str:
    """``prefix`` without what a reader would see as broken at its end."""
    text = prefix
    while True:
        before = text
        text = text.rstrip(_DANGLING)
        head, _, last_word = text.rpartition(" ")
        if _is_stray_mark(last_word):
            text = head
        for opening, closing in _PAIRS:
            if text.count(opening) > text.count(closing):
                text = text[: text.rfind(opening)]
        if text.count('"') % 2:
            text = text[: text.rfind('"')]
        if text == before:
            return text


def _ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with ``.``, ``!`` or ``?`` (closing marks after it allowed) after a real word.

    Read from the end: only the last few characters matter, whatever the text's length.
    """
    marked = text.rstrip(_CLOSERS)
    if not marked or marked[-1] not in ".!?" or text.endswith(".."):
        return False
    tail = marked[-7:-1]  # longer than any abbreviation, so a word that fills it is a real word
    word = _WORD_TAIL.search(tail)
    word_text = word.group() if word else ""
    if len(word_text) == len(tail) and len(marked) - 1 > len(tail):
        return True
    return len(word_text) != 1 and word_text.casefold() not in _ABBREVIATIONS  # "M. Dupont", "J. Smith", "Sen."


def _marked(cut: str) -> str:
    """A cut text as shown: with ``…`` unless it ends a sentence or already trails off.

    A title cut from its name ("M." in "M. Dupont") goes too: "M.…" says nothing.
    """
    if cut.endswith(".") and not cut.endswith("...") and not _ends_sentence(cut):
        cut = _tidy(cut.rpartition(" ")[0])
    if not cut or _ends_sentence(cut) or cut.endswith(("…", "...")):
        return cut
    return cut + "…"


def _safe_positions(text: str) -> list[int]:
    """Where a cut inside a word keeps every character whole (no split emoji, URL or accent)."""
    blocked: set[int] = set()
    for start, end in emoji_spans(text):
        blocked.update(range(start + 1, end))
    for start, end in uncuttable_spans(text):
        blocked.update(range(start + 1, end))
    return [
        position
        for position in range(1, len(text))
        if position not in blocked
        and not unicodedata.combining(text[position])
        and not _JOINS_PREVIOUS.match(text[position])
        and text[position - 1] != "\u200d"
    ]


def _longest(positions: list[int], make: Callable[[int], str], fits: Callable[[str], bool]) -> str:
    """The candidate from the longest prefix that fits (binary search: longer never weighs less)."""
    best, low, high = "", 0, len(positions) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = make(positions[middle])
        if not candidate or fits(candidate):
            best, low = candidate or best, middle + 1
        else:
            high = middle - 1
    return best


def _whole_sentences(text: str, end: int) -> str:
    """``text[:end]`` when it ends a sentence or paragraph with nothing left open, else ``""``."""
    kept = text[:end].rstrip()
    if _tidy(kept) != kept or (text[end : end + 1] != "\n" and not _ends_sentence(kept)):
        return ""
    return kept


MAX_FUNCTION_WORDS_DROPPED = 4
""""de la", "and the", "in all of the": a few at most; a run longer than this is not prose."""


def _without_trailing_function_words(kept: str, words: frozenset[str]) -> str:
    """``kept`` without the articles, prepositions and conjunctions it ends on ("…, les" goes)."""
    for _ in range(MAX_FUNCTION_WORDS_DROPPED):
        split = max(kept.rfind(" "), kept.rfind("\n"))
        if split <= 0 or normalise_word(kept[split + 1 :]) not in words:
            break
        kept = _tidy(kept[:split].rstrip())
    return kept


def _source_cut_tidied(summary: str, words: frozenset[str]) -> str:
    """A summary the feed itself cut ("se nourrit de la farine et de […]", the marker gone
    in cleaning) ends on a content word too, and says it was cut."""
    body = summary.rstrip(".…").rstrip() if summary.endswith(("…", "...")) else summary
    kept = _without_trailing_function_words(body, words)
    return summary if kept == body or not kept else kept + "…"


def _cut_at_word(text: str, end: int, words: frozenset[str] = frozenset()) -> str:
    kept = _tidy(text[:end])
    if text[end : end + 1] == "\n" and kept == text[:end].rstrip():
        return kept
    return _marked(_without_trailing_function_words(kept, words))


def shorten(
    text: str,
    fits: Callable[[str], bool],
    *,
    min_weight: int = 0,
    hard_cut: bool = False,
    language: str | None = None,
) -> str:
    """The longest tidy cut of ``text`` that ``fits``; empty when none keeps ``min_weight``.

    Cuts are at spaces and line breaks (never at the no-break spaces of French
    typography). A cut after a whole sentence or paragraph is taken when it keeps at
    least :data:`SENTENCE_SHARE` of what the best word cut keeps. ``hard_cut`` allows
    cutting inside a single over-long word, between whole characters. A word cut never
    ends on an article, preposition, conjunction or determiner of ``language``
    (guessed from ``text`` when not given).
    """
    if fits(text):
        return text
    words = function_words(guess_language(text) if language is None else language)
    breaks = [match.start() for match in re.finditer("[ \n]", text)]
    best = _longest(breaks, lambda end: _cut_at_word(text, end, words), fits)
    sentence_ends = [match.end() for match in _SENTENCE_OR_PARAGRAPH_END.finditer(text)]
    sentences = _longest(sentence_ends, lambda end: _whole_sentences(text, end), fits)
    if sentences and weighted_length(sentences) >= SENTENCE_SHARE * weighted_length(best):
        best = sentences
    if not best and hard_cut:
        best = _longest(_safe_positions(text), lambda end: _marked(_tidy(text[:end])), fits)
    return best if weighted_length(best) >= min_weight else ""


@dataclass(frozen=True)
class _Draft:
    title: str
    summary: str
    hashtags: tuple[str, ...]
    author: str
    site: str
    link: str

    def values(self) -> dict[str, str]:
        return {
            "title": self.title,
            "summary": self.summary,
            "hashtags": " ".join(self.hashtags),
            "author": self.author,
            "site": self.site,
            "link": self.link,
        }


def _fit(layout: _Layout, draft: _Draft, language: str = "") -> _Draft:
    """``draft`` with parts shrunk or dropped, in the module's order, until X takes it."""
    return shrink_to_fit(draft, lambda candidate: is_valid_tweet(_render(layout, candidate.values())), language)


def shrink_to_fit(draft: _Draft, fits: Callable[[_Draft], bool], language: str = "") -> _Draft:
    """``draft`` with parts shrunk or dropped until ``fits`` says yes, whatever the network's measure.

    The order is what a reader loses least by: the summary is cut (never on a function word),
    then hashtags go from the last, then the site's name, then the author; the title is cut
    last, and the link is never touched.
    """
    if fits(draft):
        return draft
    if draft.summary:
        shorter = shorten(draft.summary, lambda text: fits(replace(draft, summary=text)), min_weight=MIN_SUMMARY_WEIGHT,
                          language=language)
        draft = replace(draft, summary=shorter)
        if shorter:
            return draft
    while draft.hashtags and not fits(draft):
        draft = replace(draft, hashtags=draft.hashtags[:-1])
    if not fits(draft):
        draft = replace(draft, site="")
    if not fits(draft):
        draft = replace(draft, author="")
    if fits(draft):
        return draft
    title = shorten(draft.title, lambda text: fits(replace(draft, title=text)), hard_cut=True, language=language)
    return replace(draft, title=title)


@lru_cache(maxsize=16)
def cleaned_summary(post: Post) -> str:
    """:func:`relay.core.summary.summary_for`, remembered for the last few posts: a post going out on X,
    Mastodon and Bluesky is composed three times (and recomposed while it is cut), and cleaning its HTML
    is about half the cost of composing it."""
    return summary_for(post)


def _prepared(post: Post, layout: _Layout, options: ComposeOptions, today: date) -> tuple[_Draft, str]:
    """Every part of the tweet at full length (before :func:`_fit`), and the text's language."""
    title = clean_title(post.title)
    summary = cleaned_summary(post) if "summary" in layout.fields or not title else ""
    if not title:  # a post without a title is announced by its summary
        title, summary = summary, ""
    hashtags: tuple[str, ...] = ()
    if options.hashtags and "hashtags" in layout.fields:
        hashtags = tuple(hashtags_for(post.categories, max_count=options.max_hashtags, deny=options.hashtag_deny))
    draft = _Draft(
        title=title,
        summary=summary,
        hashtags=hashtags,
        author=clean_title(post.author) if "author" in layout.fields else "",
        site=clean_title(post.site) if "site" in layout.fields else "",
        link=tagged_link(post, options, today=today),
    )
    language = guess_language(f"{title}\n{summary}")
    return replace(draft, summary=_source_cut_tidied(draft.summary, function_words(language))), language


def compose_tweet(post: Post, options: ComposeOptions = DEFAULT_OPTIONS, *, today: date) -> Tweet:
    """The tweet for ``post``: valid for X, holding the whole link, cut as little as possible."""
    layout = _layout(options.template)
    draft, language = _prepared(post, layout, options, today)
    text = _render(layout, _fit(layout, draft, language).values())
    if not is_valid_tweet(text):
        raise ValueError(f"No valid tweet can carry the link {draft.link!r}: X refuses it even alone")
    return Tweet(text=text, link=draft.link, weighted_length=weighted_length(text))


# -- the author's own message ------------------------------------------------------------------

MAX_MESSAGE_CHARS = 1_000
"""An author's message longer than this is cut here (a tweet shows at most 280 anyway)."""

_MESSAGE_PLACEHOLDER = re.compile(r"\{(" + "|".join(sorted(PLACEHOLDERS)) + r")\}")


def message_template(message: str) -> str:
    """An author's message (from the WordPress editor) as a template this module composes.

    The message is the tweet: its own words are kept as written, braces included. The
    placeholders of templates fill in (``{title}``, ``{summary}``, ``{hashtags}``,
    ``{link}``, ``{author}``, ``{site}``), each once: a second ``{title}`` stays as
    written. Without ``{link}``, the link goes at the end, after a space: a tweet
    without it would not be what relay is for.
    """
    text = unicodedata.normalize("NFC", message[:MAX_MESSAGE_CHARS].replace("\r\n", "\n")).strip()
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in _MESSAGE_PLACEHOLDER.finditer(text):
        parts.append(_literal(text[position : match.start()]))
        name = match.group(1)
        parts.append("{" + name + "}" if name not in seen else _literal(match.group()))
        seen.add(name)
        position = match.end()
    parts.append(_literal(text[position:]))
    template = "".join(parts)
    if "link" not in seen:
        template = f"{template} {{link}}" if template else "{link}"
    return template


def _literal(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _own_text_fits(message: str, link: str, fits: Callable[[str], bool] = is_valid_tweet) -> bool:
    template = message_template(message)
    try:
        layout = _layout(template)
    except ValueError:
        return False
    return fits(_render(layout, {"link": link}))


def fit_message(message: str, link: str = _SAMPLE_LINK,
                fits: Callable[[str], bool] = is_valid_tweet) -> tuple[str, bool]:
    """The template of ``message`` whose own words fit a tweet beside ``link``, and whether they were cut.

    Too long, the message is cut as a summary is (at a word, tidied, marked ``…``);
    what its placeholders bring is shortened later by :func:`compose_tweet`, in the
    usual order. ``link`` is the link the tweet will carry (X weighs a real address 23;
    an address it does not recognise weighs its length). ``fits`` says whether a text
    fits the network (X's by default; Mastodon and Bluesky give theirs).
    """
    if _own_text_fits(message, link, fits):
        return message_template(message), False
    text = unicodedata.normalize("NFC", message[:MAX_MESSAGE_CHARS].replace("\r\n", "\n")).strip()
    cut = shorten(text, lambda candidate: _own_text_fits(candidate, link, fits), hard_cut=True)
    return message_template(cut), True


@dataclass(frozen=True)
class ComposedMessage:
    """A tweet made from an author's message, and what had to give for it to fit."""

    tweet: Tweet
    cut: bool
    """Whether anything was shortened or dropped (the message's words or what its placeholders brought)."""
    uncut_length: int
    """X's count of the message with every placeholder filled, before any cut."""


def compose_message(
    post: Post, message: str, options: ComposeOptions = DEFAULT_OPTIONS, *, today: date
) -> ComposedMessage:
    """The tweet an author's ``message`` makes for ``post``: exactly the message, placeholders filled,
    with the (tagged) link, shortened only when X would refuse it."""
    template, own_cut = fit_message(message, tagged_link(post, options, today=today))
    tweet = compose_tweet(post, replace(options, template=template), today=today)
    full_layout = _layout(message_template(message))
    draft, _ = _prepared(post, full_layout, options, today)
    uncut = _render(full_layout, draft.values())
    return ComposedMessage(tweet=tweet, cut=own_cut or tweet.text != uncut, uncut_length=weighted_length(uncut))
