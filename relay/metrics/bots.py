"""Who fetched a tracked link: a person's browser, or a machine.

A tweet with a link is fetched within seconds by X's own card fetcher, then by every
chat app that someone pastes it into (Slack, Discord, WhatsApp unfurl previews), by
scripts and crawlers. Counting those as readers would make every post look popular, so
each click is classified by its ``User-Agent`` and only a ``human`` one can count.

The classification is deliberately a plain ordered list of substrings rather than a
user-agent parsing library: the names below are the ones that matter for a tweeted link,
the list is easy to read and extend, and the first match wins so specific names (say,
``Twitterbot``) are reported before the generic ``bot`` rule catches them. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

HUMAN = "human"
PREVIEW = "preview"
"""A link-preview fetcher: a social network or chat app building a card for the link."""
TOOL = "tool"
"""An HTTP library or command-line tool: a script, not a reader."""
HEADLESS = "headless"
"""A browser driven by a program (scrapers, test runners, prerender services)."""
BOT = "bot"
"""Anything that says it is a bot, crawler or spider."""
EMPTY = "empty"
"""No User-Agent at all: real browsers always send one."""

UA_CLASSES = (HUMAN, PREVIEW, TOOL, HEADLESS, BOT, EMPTY)

_RULES: tuple[tuple[str, str, str], ...] = (
    # (substring to look for, lower-case; class; name reported)
    ("facebookexternalhit", PREVIEW, "facebookexternalhit"),
    ("facebookcatalog", PREVIEW, "facebookcatalog"),
    ("meta-externalagent", PREVIEW, "meta-externalagent"),
    ("slackbot", PREVIEW, "Slackbot"),
    ("slack-imgproxy", PREVIEW, "Slackbot"),
    ("discordbot", PREVIEW, "Discordbot"),
    ("whatsapp", PREVIEW, "WhatsApp"),
    ("telegrambot", PREVIEW, "TelegramBot"),  # says "like TwitterBot": test it first
    ("twitterbot", PREVIEW, "Twitterbot"),
    ("linkedinbot", PREVIEW, "LinkedInBot"),
    ("skypeuripreview", PREVIEW, "SkypeUriPreview"),
    ("mastodon", PREVIEW, "Mastodon"),
    ("bluesky", PREVIEW, "Bluesky"),
    ("embedly", PREVIEW, "Embedly"),
    ("pinterest", PREVIEW, "Pinterest"),
    ("redditbot", PREVIEW, "redditbot"),
    ("iframely", PREVIEW, "Iframely"),
    ("headlesschrome", HEADLESS, "HeadlessChrome"),
    ("phantomjs", HEADLESS, "PhantomJS"),
    ("electron/", HEADLESS, "Electron"),
    ("curl/", TOOL, "curl"),
    ("wget/", TOOL, "Wget"),
    ("python-requests", TOOL, "python-requests"),
    ("python-httpx", TOOL, "python-httpx"),
    ("python-urllib", TOOL, "Python-urllib"),
    ("aiohttp", TOOL, "aiohttp"),
    ("go-http-client", TOOL, "Go-http-client"),
    ("okhttp", TOOL, "okhttp"),
    ("java/", TOOL, "Java"),
    ("apache-httpclient", TOOL, "Apache-HttpClient"),
    ("libwww-perl", TOOL, "libwww-perl"),
    ("node-fetch", TOOL, "node-fetch"),
    ("axios/", TOOL, "axios"),
    ("httpie", TOOL, "HTTPie"),
    ("postmanruntime", TOOL, "PostmanRuntime"),
    ("googlebot", BOT, "Googlebot"),
    ("bingbot", BOT, "bingbot"),
    ("bot", BOT, "bot"),
    ("crawl", BOT, "crawler"),
    ("spider", BOT, "spider"),
    ("slurp", BOT, "Slurp"),
    ("preview", BOT, "preview"),
    ("fetcher", BOT, "fetcher"),
    ("scanner", BOT, "scanner"),
    ("monitor", BOT, "monitor"),
)


@dataclass(frozen=True)
class UserAgentClass:
    """The verdict on one User-Agent: its class, and the name that decided it."""

    kind: str
    name: str | None = None

    @property
    def is_human(self) -> bool:
        return self.kind == HUMAN


_HUMAN = UserAgentClass(HUMAN)
_EMPTY = UserAgentClass(EMPTY)


@lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str | None) -> UserAgentClass:
    """Classify a ``User-Agent`` header; anything not recognised as a machine is ``human``.

    Erring on the side of "human" for unknown agents is the honest choice: browsers vary
    endlessly and a real reader must never be dropped because their browser is rare,
    while every significant machine fetcher of tweeted links names itself. Cached: a burst
    of clicks comes from a handful of distinct agents, and the click writer runs this per click.
    """
    if user_agent is None or not user_agent.strip():
        return _EMPTY
    lowered = user_agent.lower()
    for needle, kind, name in _RULES:
        if needle in lowered:
            return UserAgentClass(kind, name)
    return _HUMAN
