"""Settings: one TOML file, overridden by ``RELAY_<SECTION>_<KEY>`` environment variables.

Why this shape: a plumber edits a TOML file with comments; a container platform injects
environment variables and mounted secret files. Both land in the same validated model,
and a wrong value stops start-up with a sentence that names the key and says what to
write instead, never a Python traceback.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from relay.config.sections import (
    REPUBLISH_TEMPLATES,
    AccountSettings,
    ApiSettings,
    DatabaseSettings,
    EvergreenSettings,
    FeedSettings,
    FetchSettings,
    IndexNowSettings,
    LogSettings,
    PollingSettings,
    PublishingSettings,
    ServerSettings,
    WebSubSettings,
    WordPressSettings,
    XSettings,
    _Section,
    parse_quiet_hours,
)
from relay.core.redaction import passwords_in
from relay.errors import ConfigError

__all__ = [
    "REPUBLISH_TEMPLATES",
    "AccountSettings",
    "FeedSettings",
    "PublishingSettings",
    "Settings",
    "WordPressSettings",
    "XSettings",
    "load_settings",
    "parse_quiet_hours",
]

SECTIONS = (
    "server", "database", "x", "api", "polling", "publishing", "fetch", "websub", "indexnow", "evergreen", "log",
    "wordpress",
)

ENV_PREFIX = "RELAY_"
SECRET_KEYS = frozenset(
    {"consumer_key", "consumer_secret", "access_token", "access_token_secret", "token", "secret", "previous_secret",
     "key", "app_password"}
)
"""Keys whose values never appear in a message."""

X_DEADLINE_BEYOND_TIMEOUT = 10
"""A request to X is cut off this many seconds after ``x.timeout_seconds`` (connecting included)."""

IGNORED_ENV = {"RELAY_CONFIG"}
"""Environment variables that start with the prefix but are not settings."""


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    x: XSettings = XSettings()
    api: ApiSettings = ApiSettings()
    polling: PollingSettings = PollingSettings()
    publishing: PublishingSettings = PublishingSettings()
    fetch: FetchSettings = FetchSettings()
    websub: WebSubSettings = WebSubSettings()
    indexnow: IndexNowSettings = IndexNowSettings()
    evergreen: EvergreenSettings = EvergreenSettings()
    log: LogSettings = LogSettings()
    wordpress: WordPressSettings = WordPressSettings()
    accounts: tuple[AccountSettings, ...] = ()
    feeds: tuple[FeedSettings, ...] = ()

    @property
    def tracked_links_base(self) -> str | None:
        """Where tracked links point (``server.public_url``), or None for direct links."""
        mode = self.server.links
        tracked = mode == "tracked" or (mode == "auto" and bool(self.server.public_url))
        return self.server.public_url if tracked and self.server.public_url else None

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> Settings:
        deadline = self.x.timeout_seconds + X_DEADLINE_BEYOND_TIMEOUT
        if self.publishing.lease_seconds < deadline + 5:
            raise ValueError(
                f"publishing.lease_seconds ({self.publishing.lease_seconds:g}) must be at least "
                f"{deadline + 5:g}: a request to X may take x.timeout_seconds + {X_DEADLINE_BEYOND_TIMEOUT} "
                f"= {deadline:g} s, and another instance must not look for the post before it has ended"
            )
        return self

    @model_validator(mode="after")
    def _accounts_exist(self) -> Settings:
        if self.server.links == "tracked" and not self.server.public_url:
            raise ValueError('server.links = "tracked" needs server.public_url (the address people reach relay at)')
        names = [a.name for a in self.accounts]
        if "default" in names or len(set(names)) != len(names):
            raise ValueError('[[accounts]] names must be unique and not "default" (that one is [x])')
        known = {"default", *names}
        for where, named in [("wordpress", self.wordpress)] + [(f"feeds.{i}", f) for i, f in enumerate(self.feeds)]:
            for account in named.targets:
                if account not in known:
                    raise ValueError(
                        f'{where} posts as "{account}", but no [[accounts]] block has that name '
                        f"(known: {', '.join(sorted(known))}). Correct the name in that block's accounts = [...] "
                        f'(or account = ...), or add an [[accounts]] block with name = "{account}" (see '
                        "config.example.toml), then run relay config check again"
                    )
        return self

    def network_of(self, account: str) -> str:
        """The network an account is on ("x" for [x], the "default" account)."""
        return next((a.network for a in self.accounts if a.name == account), "x")

    @property
    def dry_run(self) -> bool:
        return not self.x.has_credentials

    def secret_values(self) -> list[str]:
        """Every secret that is set, so the log filter can blank them wherever they appear."""
        secrets = [self.x.consumer_key, self.x.consumer_secret, self.x.access_token, self.x.access_token_secret]
        secrets += [self.api.token, self.wordpress.secret, self.wordpress.previous_secret, self.indexnow.key]
        secrets += [secret for account in self.accounts for secret in account.secrets]
        in_urls = [password for feed in self.feeds for password in passwords_in(feed.url)]
        in_urls += passwords_in(self.database.url) + passwords_in(self.x.api_base_url)
        return [s.get_secret_value() for s in secrets if s.get_secret_value()] + in_urls

    def nothing_to_watch(self) -> str | None:
        """A warning when no door can bring a post in (no feed, no WordPress secret), saying what to add."""
        if self.feeds or self.wordpress.secret.get_secret_value():
            return None
        return (
            "relay has nothing to watch: no [[feeds]] and no [wordpress] secret are configured, so it will post "
            'nothing. Add a [[feeds]] block with url = "https://your-blog.example/feed/" to your config file, '
            "or set [wordpress] secret for the WordPress plugin, then restart (see config.example.toml)."
        )


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (``--config`` or ``RELAY_CONFIG``), apply the environment, validate.

    Raises :class:`ConfigError` with a message fit for a non-programmer.
    """
    env = os.environ if environ is None else environ
    config_path = path or env.get("RELAY_CONFIG") or None
    raw: dict[str, Any] = {}
    if config_path:
        raw = _read_toml(Path(config_path))
    raw = _resolve_secret_files(raw)
    _apply_environment(raw, env)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    if settings.x.partly_configured:
        raise ConfigError(
            "config error in [x]: some X credentials are set and some are empty. Set all four "
            "(consumer_key, consumer_secret, access_token, access_token_secret), or none to run in dry-run."
        )
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist. Copy config.example.toml there, or leave --config out."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}. Check quotes and brackets.") from None


def _resolve_secret_files(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn ``key_file = "/run/secrets/x"`` in a section into ``key = <file content>``."""
    resolved: dict[str, Any] = {}
    for section, values in raw.items():
        if isinstance(values, list):  # [[accounts]], [[feeds]]: each table may name secret files too
            resolved[section] = [
                _resolve_secret_files({f"{section}.{i}": v})[f"{section}.{i}"] if isinstance(v, dict) else v
                for i, v in enumerate(values)
            ]
            continue
        if not isinstance(values, dict):
            resolved[section] = values
            continue
        table: dict[str, Any] = {}
        for key, value in values.items():
            if key.endswith("_file") and isinstance(value, str):
                table[key.removesuffix("_file")] = _read_secret_file(value, f"{section}.{key}")
            else:
                table[key] = value
        resolved[section] = table
    return resolved


def _read_secret_file(path: str, setting: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"config error in {setting}: cannot read {path} ({exc.strerror}).") from None


def _apply_environment(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Apply ``RELAY_<SECTION>_<KEY>`` and ``RELAY_<SECTION>_<KEY>_FILE`` over the file's values."""
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in IGNORED_ENV:
            continue
        section, _, key = name.removeprefix(ENV_PREFIX).lower().partition("_")
        if section not in SECTIONS or not key:
            continue  # RELAY_TEST_DATABASE_URL and friends belong to other tools
        value = env[name]
        if key.endswith("_file"):
            key = key.removesuffix("_file")
            value = _read_secret_file(value, name)
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"config error: [{section}] must be a table in the config file.")
        table[key] = value


def _explain(exc: ValidationError) -> str:
    """One line per problem: the dotted key, what is wrong, what to write instead."""
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(
                f"config error in {location}: unknown setting. Check its spelling against config.example.toml."
            )
        elif error["type"] == "missing":
            lines.append(f"config error in {location}: this setting is required.")
        else:
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # a rule across settings: the message names the keys itself
                lines.append(f"config error: {message}.")
                continue
            # A rule over a whole table ([[accounts]]) gets the table as input: never shown, it may hold secrets.
            hidden = str(error["loc"][-1]) in SECRET_KEYS or isinstance(error.get("input"), dict | list)
            shown = "" if hidden else f" (got {error.get('input')!r})"
            lines.append(f"config error in {location}: {message}{shown}.")
    return "\n".join(lines)
