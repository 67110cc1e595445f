"""User-agent classification: link-preview fetchers, tools and bots never count as readers."""

from __future__ import annotations

import pytest

from relay.metrics.bots import BOT, EMPTY, HEADLESS, HUMAN, PREVIEW, TOOL, classify_user_agent

MACHINES = [
    ("Twitterbot/1.0", PREVIEW, "Twitterbot"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", PREVIEW, "facebookexternalhit"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", PREVIEW, "Slackbot"),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", PREVIEW, "Discordbot"),
    ("WhatsApp/2.23.20.0 A", PREVIEW, "WhatsApp"),
    ("TelegramBot (like TwitterBot)", PREVIEW, "TelegramBot"),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", PREVIEW,
     "LinkedInBot"),
    ("curl/8.5.0", TOOL, "curl"),
    ("Wget/1.21.3", TOOL, "Wget"),
    ("python-requests/2.32.3", TOOL, "python-requests"),
    ("python-httpx/0.28.1", TOOL, "python-httpx"),
    ("Go-http-client/1.1", TOOL, "Go-http-client"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 "
     "Safari/537.36", HEADLESS, "HeadlessChrome"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", BOT, "Googlebot"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", BOT, "bot"),
    ("SomeCompany Crawler 3.1", BOT, "crawler"),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0)", BOT, "spider"),
]

HUMANS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Twitter for iPhone/10.48",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Safari/537.36 Edg/126.0.2592.87",
]


@pytest.mark.parametrize(("agent", "kind", "name"), MACHINES, ids=[m[2] + "-" + m[1] for m in MACHINES])
def test_machines_are_recognised_by_name(agent: str, kind: str, name: str) -> None:
    verdict = classify_user_agent(agent)
    assert (verdict.kind, verdict.name) == (kind, name)
    assert not verdict.is_human


@pytest.mark.parametrize("agent", HUMANS)
def test_browsers_are_human(agent: str) -> None:
    verdict = classify_user_agent(agent)
    assert verdict.kind == HUMAN and verdict.is_human and verdict.name is None


@pytest.mark.parametrize("agent", [None, "", "   "])
def test_no_user_agent_is_not_a_reader(agent: str | None) -> None:
    assert classify_user_agent(agent).kind == EMPTY


def test_matching_ignores_case() -> None:
    assert classify_user_agent("TWITTERBOT/1.0").name == "Twitterbot"
    assert classify_user_agent("CURL/7.0").kind == TOOL
