"""The documentation matches the code: every setting and every command is written down."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from relay.cli.main import cli
from relay.config.settings import AccountSettings, FeedSettings, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def section_keys() -> list[tuple[str, str]]:
    keys = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            keys += [(section, key) for key in model.model_fields]
    return keys


@pytest.mark.parametrize(("section", "key"), section_keys(), ids=lambda v: str(v))
def test_every_setting_is_in_the_example_config(section: str, key: str) -> None:
    table = EXAMPLE.split(f"\n[{section}]\n", 1)
    assert len(table) == 2, f"config.example.toml has no [{section}] table"
    body = table[1].split("\n[", 1)[0]
    assert f"\n{key} = " in f"\n{body}", f"{section}.{key} is not documented in config.example.toml"


@pytest.mark.parametrize("model", [FeedSettings, AccountSettings])
def test_array_tables_are_documented(model: type[BaseModel]) -> None:
    marker = "[[feeds]]" if model is FeedSettings else "[[accounts]]"
    block = EXAMPLE.split(f"# {marker}", 1)[1]
    for key in model.model_fields:
        assert f"# {key} = " in block or f"# # {key}" in block or f"\n# {key}" in block, (
            f"{model.__name__}.{key} is not in the commented {marker} example of config.example.toml"
        )


def commands(group: click.Group, prefix: str = "relay") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names += commands(command, f"{prefix} {name}")
    return names


@pytest.mark.parametrize("command", [c for c in commands(cli) if c != "relay config"])  # a bare group
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"`{command}" in README, f"{command} is missing from the README's command table"


# -- the examples parse, and mean what they say ----------------------------------------------------

EXAMPLE_LINE = re.compile(r"^# (\[\[(?:feeds|accounts)\]\]|[a-z_]+ = .*)$")


def uncommented_example() -> str:
    """config.example.toml with its commented [[feeds]] and [[accounts]] examples on (secret files left out)."""
    before, marker, after = EXAMPLE.partition("\n# [[feeds]]\n")
    lines = before.splitlines()
    for line in (marker + after).splitlines():
        match = EXAMPLE_LINE.match(line)
        if match and not match.group(1).split(" ", 1)[0].endswith("_file"):
            line = match.group(1)
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_the_example_config_with_every_example_switched_on_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(uncommented_example(), encoding="utf-8")
    settings = load_settings(path, environ={})
    assert [(a.name, a.network) for a in settings.accounts] == [("bakery", "x"), ("toots", "mastodon"),
                                                                 ("sky", "bluesky")]
    toots, sky = settings.accounts[1], settings.accounts[2]
    assert toots.instance_url == "https://mastodon.social" and toots.visibility == "public"
    assert sky.handle == "my-bakery.bsky.social" and sky.service_url == "https://bsky.social"
    assert settings.feeds[0].targets == ("default", "toots", "sky")


def readme_toml_blocks(section: str) -> list[str]:
    part = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```toml\n(.*?)```", part, re.DOTALL)


def test_the_readmes_mastodon_and_bluesky_blocks_parse_and_post_on_three_networks(tmp_path: Path) -> None:
    blocks = readme_toml_blocks("Mastodon and Bluesky")
    assert len(blocks) == 3
    path = tmp_path / "relay.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    settings = load_settings(path, environ={})
    assert [(a.name, a.network, a.has_credentials) for a in settings.accounts] == [
        ("toots", "mastodon", True), ("sky", "bluesky", True)]
    assert settings.feeds[0].targets == settings.wordpress.targets == ("default", "toots", "sky")
    assert [settings.network_of(name) for name in settings.feeds[0].targets] == ["x", "mastodon", "bluesky"]


def test_account_secrets_can_come_from_files_as_the_readme_says(tmp_path: Path) -> None:
    assert 'access_token_file = "/run/secrets/mastodon_token"' in README
    assert 'app_password_file = "/run/secrets/bluesky_password"' in README
    (tmp_path / "token").write_text("tok\n", encoding="utf-8")
    (tmp_path / "password").write_text("abcd-efgh-ijkl-mnop\n", encoding="utf-8")
    path = tmp_path / "relay.toml"
    path.write_text(f'[[accounts]]\nname = "toots"\nnetwork = "mastodon"\ninstance_url = "https://m.example"\n'
                    f'access_token_file = "{tmp_path / "token"}"\n'
                    f'[[accounts]]\nname = "sky"\nnetwork = "bluesky"\nhandle = "a.bsky.social"\n'
                    f'app_password_file = "{tmp_path / "password"}"\n', encoding="utf-8")
    toots, sky = load_settings(path, environ={}).accounts
    assert toots.access_token.get_secret_value() == "tok"
    assert sky.app_password.get_secret_value() == "abcd-efgh-ijkl-mnop"


def test_the_readme_names_the_mastodon_scopes_relay_uses() -> None:
    """relay posts statuses, uploads media, checks the account, reads its statuses: nothing else."""
    source = (ROOT / "relay/adapters/mastodon.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(?:GET|POST|PUT|DELETE)", f?"(/api/v\d/[a-z_/]+)', source))
    scopes = {"/api/v1/statuses": "write:statuses", "/api/v2/media": "write:media", "/api/v1/media/": "write:media",
              "/api/v1/accounts/verify_credentials": "read:accounts", "/api/v2/instance": None,
              "/api/v1/accounts/": "read:statuses", "/api/v1/statuses/": "read:statuses"}
    assert len(used) >= 6, used
    assert used <= scopes.keys(), f"say in the README which scope these need: {used - scopes.keys()}"
    for scope in {scope for path, scope in scopes.items() if path in used and scope}:
        assert f"`{scope}`" in README
