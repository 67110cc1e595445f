"""The documentation matches the code: every setting and every command is written down."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from relay.cli.main import cli
from relay.config.settings import AccountSettings, FeedSettings, Settings

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
