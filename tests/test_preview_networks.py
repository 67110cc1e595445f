"""`relay preview` with X, Mastodon and Bluesky accounts: one text per account, each cut to its network's limit.

The entry is long on purpose (a title longer than Bluesky's 300 and a long summary), so every
composer must cut; accents and a flag emoji make UTF-8 bytes differ from characters, so a wrong
facet offset shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from relay.cli.main import cli
from relay.core.graphemes import grapheme_count
from relay.core.length import weighted_length
from relay.core.mastodon_text import mastodon_length
from tests.feed_server import FeedServer

URL = "https://plomberie-dupont.example/2024/05/economies-energie-douche-italienne-nantes/"
TITLE = ("Économies d’énergie à Nantes 🇫🇷 : notre chantier « douche à l’italienne » réussi, étape par étape, "
         "avec les délais, le budget, les conseils de l’équipe et les erreurs à éviter pour préparer votre "
         "propre rénovation sereinement, que vous habitiez une maison ancienne du centre-ville ou un "
         "appartement récent près de l’Erdre, sans mauvaise surprise à la fin du chantier ☕")
SUMMARY = ("Vous rêvez d’une douche à l’italienne ? Voici comment nous avons transformé une salle de bain des "
           "années 80 en un espace lumineux et facile à vivre. Carrelage grand format, niche murale, mitigeur "
           "thermostatique : chaque choix compte. ") * 4

THREE_ACCOUNTS = """
[[accounts]]
name = "toots"
network = "mastodon"
instance_url = "https://mastodon.social"

[[accounts]]
name = "sky"
network = "bluesky"
handle = "plomberie.bsky.social"
"""


SHORT_TITLE = "Économies d’énergie à Nantes 🇫🇷 : notre chantier « douche à l’italienne » réussi ☕"
"""Short enough that Bluesky keeps the hashtags (with the long title they give way before the title)."""


def rss(title: str = TITLE) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Plomberie Dupont</title>
<link>https://plomberie-dupont.example/</link><description>d</description>
<item><title>{title}</title><link>{URL}</link><guid>1</guid>
<category>Salle de bain</category><category>Économies d’énergie</category>
<description>&lt;p&gt;{SUMMARY}&lt;/p&gt;</description></item></channel></rss>"""


def feed_file(tmp_path: Path, title: str = TITLE) -> Path:
    path = tmp_path / "feed.xml"
    path.write_text(rss(title), encoding="utf-8")
    return path


def preview(tmp_path: Path, config: str, *args: str) -> tuple[int, str]:
    (tmp_path / "relay.toml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "relay.toml"), "preview", *args],
                                obj={}, env={}, catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def targets(tmp_path: Path, config: str, source: str | None = None) -> list[dict[str, Any]]:
    code, out = preview(tmp_path, config, source or str(feed_file(tmp_path)), "--json")
    assert code == 0, out
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["post"] is True
    shown: list[dict[str, Any]] = row["targets"]
    return shown


def test_three_accounts_give_three_texts_each_cut_to_its_networks_limit(tmp_path: Path) -> None:
    shown = targets(tmp_path, '[wordpress]\naccounts = ["default", "toots", "sky"]\n' + THREE_ACCOUNTS)
    assert [(t["account"], t["network"], t["limit"]) for t in shown] == [
        ("default", "x", 280), ("toots", "mastodon", 500), ("sky", "bluesky", 300)]
    x, mastodon, bluesky = shown

    # Each length is the network's own count, recounted here, and sits just under the limit: each text was cut.
    assert x["length"] == weighted_length(x["text"]) and 250 <= x["length"] <= 280
    assert mastodon["length"] == mastodon_length(mastodon["text"]) and 470 <= mastodon["length"] <= 500
    assert bluesky["length"] == grapheme_count(bluesky["text"]) and 270 <= bluesky["length"] <= 300
    assert len(bluesky["text"].encode("utf-8")) <= 3000
    for target in shown:
        assert "…" in target["text"], target["network"]  # long enough that every network had to cut
        assert target["text"].startswith("Économies d’énergie à Nantes 🇫🇷")

    # Each network's link is whole and carries its own utm_source.
    assert x["link"] in x["text"] and "utm_source=twitter" in x["link"]
    assert mastodon["link"] in mastodon["text"] and "utm_source=mastodon" in mastodon["link"]
    assert "utm_source=bluesky" in bluesky["link"] and bluesky["link"] not in bluesky["text"]  # shown short
    assert "facets" not in x and "card" not in mastodon


def test_bluesky_facets_point_at_the_right_bytes_of_the_utf8_text(tmp_path: Path) -> None:
    shown = targets(tmp_path, '[wordpress]\naccounts = ["sky"]\n' + THREE_ACCOUNTS,
                    str(feed_file(tmp_path, SHORT_TITLE)))
    [bluesky] = shown
    data = bluesky["text"].encode("utf-8")
    covered = [(f["kind"], data[f["byte_start"]:f["byte_end"]].decode("utf-8"), f["value"])
               for f in bluesky["facets"]]
    assert covered == [
        ("tag", "#SalleDeBain", "SalleDeBain"),
        ("tag", "#ÉconomiesÉnergie", "ÉconomiesÉnergie"),
        ("link", "plomberie-dupont.example/2024/05/econ...", bluesky["link"]),
    ]
    # The offsets are bytes, not characters: the accents and the flag before them make the two differ.
    first = bluesky["facets"][0]["byte_start"]
    assert first == len(bluesky["text"][:bluesky["text"].index("#SalleDeBain")].encode("utf-8"))
    assert first > bluesky["text"].index("#SalleDeBain")
    assert bluesky["card"]["uri"] == bluesky["link"]
    assert bluesky["card"]["title"].startswith("Économies d’énergie à Nantes 🇫🇷")
    assert bluesky["card"]["description"].startswith("Vous rêvez d’une douche")


def test_a_configured_feed_uses_its_own_accounts(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.set("/feed/", body=rss().encode(), headers={"Content-Type": "application/rss+xml"})
        feed = server.url("/feed/")
        config = (f'[[feeds]]\nurl = "{feed}"\naccounts = ["toots", "sky"]\n'
                  '[wordpress]\naccounts = ["default"]\n' + THREE_ACCOUNTS)
        assert [t["account"] for t in targets(tmp_path, config, feed)] == ["toots", "sky"]
        # Another source is not that feed: it posts as [wordpress] does, on X alone.
        assert [t["account"] for t in targets(tmp_path, config, str(feed_file(tmp_path)))] == ["default"]


def test_without_accounts_the_preview_is_x_alone_as_before(tmp_path: Path) -> None:
    shown = targets(tmp_path, "")
    assert [(t["account"], t["network"]) for t in shown] == [("default", "x")]


def test_the_text_output_shows_one_block_per_account_with_its_network(tmp_path: Path) -> None:
    code, out = preview(tmp_path, '[wordpress]\naccounts = ["default", "toots", "sky"]\n' + THREE_ACCOUNTS,
                        str(feed_file(tmp_path)))
    assert code == 0
    x_at, mastodon_at, bluesky_at = (out.index('X, account "default"'), out.index('Mastodon, account "toots"'),
                                     out.index('Bluesky, account "sky"'))
    assert x_at < mastodon_at < bluesky_at
    assert out.count("/280)") == 1 and out.count("/500)") == 1 and out.count("/300)") == 1
    assert "   link: plomberie-dupont.example/2024/05/econ... -> https://plomberie-dupont.example/" in out
    assert "   link card: Économies d’énergie" in out
    code, out = preview(tmp_path, '[wordpress]\naccounts = ["sky"]\n' + THREE_ACCOUNTS,
                        str(feed_file(tmp_path, SHORT_TITLE)))
    assert "   tag: #SalleDeBain\n   tag: #ÉconomiesÉnergie\n   link: " in out
