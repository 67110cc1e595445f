"""What every ``relay`` command shares: one way to find the settings, and errors as one line.

Command modules import this module and nothing above it, so the command package has no
import circle: :mod:`relay.cli.main` imports the command modules, they import this.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from relay.config.settings import Settings, load_settings
from relay.errors import ConfigError, RelayError

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "Path to the TOML config file (default: $RELAY_CONFIG, else built-in defaults)."


def friendly_errors(func: F) -> F:
    """A wrong setting exits 2, any other relay error 1, each with one line on stderr."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"relay: {exc}", err=True)
            raise SystemExit(2) from None
        except RelayError as exc:
            click.echo(f"relay: {exc}", err=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]


def _root_state(ctx: click.Context) -> dict[str, Any]:
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    state: dict[str, Any] = root.obj
    return state


def config_path(ctx: click.Context) -> str | None:
    """The config file given with ``--config`` (before or after the command) or ``RELAY_CONFIG``."""
    path = _root_state(ctx).get("config")
    return str(path) if path else None


def settings_of(ctx: click.Context) -> Settings:
    """The settings every command uses, loaded once per invocation."""
    state = _root_state(ctx)
    if "settings" not in state:
        state["settings"] = load_settings(config_path(ctx))
    settings: Settings = state["settings"]
    return settings


def start_logging(settings: Settings) -> None:
    from relay.logs import configure_logging

    configure_logging(level=settings.log.level, fmt=settings.log.format, secrets=settings.secret_values())


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # Given after the command, --config overrides the one before it (and RELAY_CONFIG).
    if value is not None:
        _root_state(ctx)["config"] = value


def _config_option() -> click.Option:
    return click.Option(
        ["--config", "config_after_command"], type=click.Path(dir_okay=False), default=None,
        expose_value=False, callback=_remember_config, help=CONFIG_HELP,
    )


def accept_global_options_everywhere(command: click.Command) -> None:
    """Let ``--config`` follow any command, as people type it: ``relay serve --config relay.toml``.

    Click only parses a group's options before the command name; this adds the same option
    to every command and sub-command below the root, where it sets the root's value.
    """
    commands = command.commands.values() if isinstance(command, click.Group) else []
    for sub in commands:
        if not any(isinstance(p, click.Option) and "--config" in p.opts for p in sub.params):
            sub.params.append(_config_option())
        accept_global_options_everywhere(sub)
