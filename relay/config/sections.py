"""The sections of relay's configuration, one validated model each.

Every field has a default a small blog can live with; a wrong value is refused with a
sentence that says what to write instead (see :mod:`relay.config.settings` for how the messages
are put together and where values come from).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from relay.core.compose import DEFAULT_TEMPLATE, validate_template
from relay.webhooks.signatures import SecretFormatError, signing_key

REPUBLISH_TEMPLATES = (
    "{title}\n\n{link}\n\n{hashtags}",
    "{summary}\n\n{title} {link}",
    "{title}: {summary}\n\n{link}",
)
"""Alternates for republishing: X refuses a text it has already seen."""


def _check_templates(values: tuple[str, ...]) -> tuple[str, ...]:
    for template in values:
        validate_template(template)
    return values
"""Top-level tables that environment variables may override (``[[feeds]]`` is file-only)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = ""
    """The address people reach relay at (for tracked links and the WordPress plugin)."""
    links: Literal["auto", "tracked", "direct"] = "auto"
    """``tracked``: tweets carry ``{public_url}/r/CODE`` (clicks counted); ``direct``: the tagged address;
    ``auto``: tracked when public_url is set."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Addresses of the reverse proxy in front of relay (comma-separated IPs or networks, or ``*``): only
    their ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed, for the reader's address (clicks,
    sign-in limits) and for https (the session cookie's ``Secure`` flag)."""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network; write the proxy's addresses, such as "
                    '"127.0.0.1" or "10.0.0.0/8,172.16.0.0/12", or "*" to believe any client'
                ) from None
        return ",".join(part.strip() for part in value.split(","))

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, for example https://relay.example.com")
        return value.rstrip("/")


class DatabaseSettings(_Section):
    url: str = "sqlite:///relay.db"

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(
                "must be sqlite:///path/to/relay.db or postgresql://user@host:5432/dbname"
            )
        return value


class XSettings(_Section):
    api_base_url: str = "https://api.twitter.com"
    consumer_key: SecretStr = SecretStr("")
    consumer_secret: SecretStr = SecretStr("")
    access_token: SecretStr = SecretStr("")
    access_token_secret: SecretStr = SecretStr("")
    timeout_seconds: float = Field(default=30, ge=1, le=45)
    """How long relay waits for X's answer; the whole request is cut off 10 s later. At most 45, so a
    request always ends well inside the 90 s a post stays with the worker that sent it."""

    @field_validator("api_base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL such as https://api.twitter.com")
        return value.rstrip("/")

    @property
    def has_credentials(self) -> bool:
        """All four OAuth 1.0a values are set; otherwise relay runs in dry-run."""
        return all(
            secret.get_secret_value()
            for secret in (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        )

    @property
    def partly_configured(self) -> bool:
        """Some but not all credentials are set: almost always a typo worth stopping for."""
        values = [
            secret.get_secret_value()
            for secret in (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        ]
        return any(values) and not all(values)


MIN_TOKEN_LENGTH = 24
"""Shortest ``[api] token`` the server starts with: guessing it stays hopeless even unthrottled."""


class ApiSettings(_Section):
    token: SecretStr = SecretStr("")
    """Bearer token for the JSON API and the dashboard; empty disables them."""

    def too_short(self) -> str | None:
        """Why the token cannot guard a server that anyone can reach, or None when it can."""
        length = len(self.token.get_secret_value())
        if 0 < length < MIN_TOKEN_LENGTH:
            return (f"[api] token has {length} characters; it must have at least {MIN_TOKEN_LENGTH}. "
                    "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))' "
                    "and set it in the config file or RELAY_API_TOKEN (the WordPress plugin needs the same one)")
        return None


class PollingSettings(_Section):
    interval_minutes: float = Field(default=15, gt=0)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    concurrency: int = Field(default=50, ge=1, le=1000)
    """Feeds fetched at once. A check is mostly waiting on the network: at 50, a round over feeds answering
    in 150 ms (median) stays within 1.1x of that wait on 2 cores (bench/bench_latency_polling.py, BENCHMARKS.md);
    more cores can take more."""
    per_host: int = Field(default=4, ge=1, le=100)
    """At most this many fetches at once to one web server: many blogs on one host are not hammered."""
    parse_processes: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = "auto"
    """Processes that parse feeds, on every core. "auto": one per core from 50 feeds up, else 0 (a thread)."""
    publish_interval_seconds: float = Field(default=5, gt=0)
    """How often the worker looks at the outbox for posts that are due."""
    max_age_days: float = Field(default=7, gt=0)
    """Entries published longer ago than this are never posted (a feed that resurfaces old posts)."""
    max_posts_per_round: int = Field(default=3, ge=1)
    """At most this many new entries of one feed go out at once; the rest follow, spaced."""
    spacing_minutes: float = Field(default=10, ge=0)
    hold_threshold: int = Field(default=5, ge=1)
    """More new entries than this in one look (a CMS migration that rewrote every link) are held for you
    to release with `relay feeds release`, instead of being posted."""
    fetch_pages: bool = True
    """Read each new post's page for its og:image, canonical link and card tags."""
    lease_seconds: float = Field(default=300, ge=1)
    """How long an instance holds a feed it is checking; if it dies, others take the feed after this."""


class PublishingSettings(_Section):
    """Caps and budget: every post costs money, and a burst of posts looks like spam."""

    daily_cap: int = Field(default=2400, ge=1)
    min_spacing_seconds: float = Field(default=0, ge=0)
    quiet_hours: str = ""
    """``"22:00-07:00"``: no posts in that window (in ``timezone``); queued posts wait."""
    timezone: str = "UTC"
    monthly_budget_usd: float = Field(default=20.0, ge=0)
    cost_per_post_with_link_usd: float = Field(default=0.20, ge=0)
    cost_per_post_usd: float = Field(default=0.015, ge=0)
    cost_per_post_read_usd: float = Field(default=0.005, ge=0)
    """X bills reads per resource returned, once per UTC day: reading tweets' metrics."""
    cost_per_own_post_read_usd: float = Field(default=0.001, ge=0)
    """Reading the account's own timeline (an "owned read"), to find a post after a crash."""
    cost_per_user_read_usd: float = Field(default=0.010, ge=0)
    cost_per_media_metadata_usd: float = Field(default=0.005, ge=0)
    """The alt-text request of an attached image."""
    lease_seconds: float = Field(default=90, ge=1)
    """How long an instance holds a post it is sending before its request to X starts; the request itself
    is covered by a lease renewed when it starts, longer than the X client's 40 s deadline."""
    review: bool = False
    """Review mode: every new tweet waits on the dashboard until the owner approves it (text editable) or
    skips it; approved ones go through the outbox like any other, within the same limits."""

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_shape(cls, value: str) -> str:
        if value and parse_quiet_hours(value) is None:
            raise ValueError('must look like "22:00-07:00" (start-end, 24-hour clock), or be empty')
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError('must be a time zone name such as "Europe/Paris" or "UTC"') from None
        return value


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """``"22:00-07:00"`` -> (22:00, 07:00); None when the text is not of that shape."""
    start, sep, end = value.replace(" ", "").partition("-")
    try:
        return (time.fromisoformat(start), time.fromisoformat(end)) if sep else None
    except ValueError:
        return None


class FetchSettings(_Section):
    """Fetching pages and images whose address came from outside (feeds, webhooks, the API)."""

    allow_hosts: tuple[str, ...] = ()
    """Hosts that may resolve to private or loopback addresses (an intranet blog, a test server)."""
    images: bool = True
    """Attach the post's featured image to the tweet."""


class WebSubSettings(_Section):
    """Push: blogs that announce a WebSub hub tell relay about new posts at once."""

    enabled: bool = True
    """Subscribe when a feed names a hub (needs server.public_url reachable by the hub)."""
    lease_seconds: int = Field(default=864000, ge=3600)
    """How long a subscription is asked for (10 days); relay renews it before it ends."""
    safety_poll_factor: float = Field(default=4.0, ge=1.0)
    """While push is live, feeds are still polled, this many times less often."""


class IndexNowSettings(_Section):
    """Tell search engines about a new post at once (https://www.indexnow.org)."""

    key: SecretStr = SecretStr("")
    """Your IndexNow key (the same one served at https://your-blog/<key>.txt); empty turns it off."""
    endpoint: str = "https://api.indexnow.org/indexnow"


class EvergreenSettings(_Section):
    """Keeping a quiet account alive by re-sharing an older post (opt-in)."""

    enabled: bool = False
    after_days: float = Field(default=14, gt=0)
    """Re-share when the blog has published nothing for this many days."""
    min_gap_days: float = Field(default=90, gt=0)
    """Never re-share the same post twice within this many days."""


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


NETWORKS = ("x", "mastodon", "bluesky")
"""The networks an account can be on."""


class AccountSettings(_Section):
    """Another account relay posts as (an agency: one per client blog), with its own limits.

    ``network`` says where: another X account (the four X keys), a Mastodon account (its instance's
    address and an access token) or a Bluesky account (its handle and an app password). Without its
    credentials an account runs in dry-run, like [x]. Limits left out fall back to [publishing].
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    network: Literal["x", "mastodon", "bluesky"] = "x"
    consumer_key: SecretStr = SecretStr("")
    consumer_secret: SecretStr = SecretStr("")
    access_token: SecretStr = SecretStr("")
    """X: the account's access token. Mastodon: the token of the app made under Preferences > Development."""
    access_token_secret: SecretStr = SecretStr("")
    instance_url: str = ""
    """Mastodon: the instance's address, such as ``https://mastodon.social``."""
    visibility: Literal["public", "unlisted", "private"] = "public"
    """Mastodon: who sees the statuses (``unlisted`` keeps them off the public timelines)."""
    handle: str = ""
    """Bluesky: the account's handle, such as ``boulangerie.bsky.social``."""
    app_password: SecretStr = SecretStr("")
    """Bluesky: an app password (Settings > Privacy and security > App passwords), never the account's own."""
    service_url: str = "https://bsky.social"
    """Bluesky: the account's server (PDS); bsky.social unless the account is hosted elsewhere."""
    daily_cap: int | None = Field(default=None, ge=1)
    min_spacing_seconds: float | None = Field(default=None, ge=0)
    quiet_hours: str | None = None
    timezone: str | None = None
    monthly_budget_usd: float | None = Field(default=None, ge=0)

    @field_validator("instance_url", "service_url")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an address: write it whole, such as https://mastodon.social")
        return value

    @model_validator(mode="after")
    def _network_needs(self) -> AccountSettings:
        if self.network == "mastodon" and not self.instance_url:
            raise ValueError(f'account "{self.name}" is on Mastodon but has no instance_url. Add to its '
                             '[[accounts]] block the address of the Mastodon server the account is on, such as '
                             'instance_url = "https://mastodon.social", then run relay config check again')
        if self.network == "bluesky" and not self.handle:
            raise ValueError(f'account "{self.name}" is on Bluesky but has no handle. Add to its [[accounts]] '
                             'block the account\'s handle, as shown on its profile without the @, such as '
                             'handle = "boulangerie.bsky.social", then run relay config check again')
        return self

    @property
    def secrets(self) -> list[SecretStr]:
        return [self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret,
                self.app_password]

    @property
    def has_credentials(self) -> bool:
        """Whether relay can post for real as this account (else it runs in dry-run)."""
        if self.network == "mastodon":
            return bool(self.access_token.get_secret_value())
        if self.network == "bluesky":
            return bool(self.app_password.get_secret_value())
        return all(secret.get_secret_value() for secret in self.secrets[:4])


class WordPressSettings(_Section):
    """The signed publish webhook sent by the relay-connector plugin."""

    secret: SecretStr = SecretStr("")
    """Shared signing secret (``whsec_<base64>`` or any long string); empty turns the webhook off."""
    previous_secret: SecretStr = SecretStr("")
    """The old secret, still accepted while you rotate to a new one."""
    on_update: Literal["ignore", "repost_if_title_changed"] = "ignore"
    account: str = "default"
    """The X account posts from WordPress go out as ([[accounts]] name, or "default" for [x])."""
    accounts: tuple[str, ...] = ()
    """Every account posts from WordPress go out on (X, Mastodon, Bluesky); empty: ``account`` alone."""

    @property
    def targets(self) -> tuple[str, ...]:
        """The accounts each post goes out on, in order, each once."""
        return tuple(dict.fromkeys(self.accounts or (self.account,)))
    template: str = DEFAULT_TEMPLATE
    hashtags: bool = True
    max_hashtags: int = Field(default=3, ge=0, le=10)
    hashtag_deny: tuple[str, ...] = ()
    utm_campaign: str = "{slug}"
    keep_feed_utm: bool = False
    """Keep the utm_* parameters the blog put in its own links (default: relay's replace them)."""
    republish_templates: tuple[str, ...] = REPUBLISH_TEMPLATES

    @field_validator("secret", "previous_secret")
    @classmethod
    def _secret_is_usable(cls, value: SecretStr) -> SecretStr:
        # A whsec_ secret whose rest is not base64 would make every webhook answer 503: refuse it at start.
        if value.get_secret_value():
            try:
                signing_key(value.get_secret_value())
            except SecretFormatError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("template")
    @classmethod
    def _template_is_known(cls, value: str) -> str:
        validate_template(value)
        return value

    @field_validator("republish_templates")
    @classmethod
    def _alternates_are_known(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _check_templates(values)


class FeedSettings(_Section):
    url: str
    name: str = ""
    account: str = "default"
    """The X account this blog posts as ([[accounts]] name, or "default" for [x])."""
    accounts: tuple[str, ...] = ()
    """Every account this blog posts to (X, Mastodon, Bluesky); empty: ``account`` alone."""

    @property
    def targets(self) -> tuple[str, ...]:
        """The accounts each post goes out on, in order, each once."""
        return tuple(dict.fromkeys(self.accounts or (self.account,)))
    template: str = DEFAULT_TEMPLATE
    backfill: int = Field(default=0, ge=0, le=50)
    """On first sight of the feed, post the newest N entries instead of none."""
    hashtags: bool = True
    max_hashtags: int = Field(default=3, ge=0, le=10)
    hashtag_deny: tuple[str, ...] = ()
    utm_campaign: str = "{slug}"
    keep_feed_utm: bool = False
    """Keep the utm_* parameters the blog put in its own links (default: relay's replace them)."""
    republish_templates: tuple[str, ...] = REPUBLISH_TEMPLATES

    @field_validator("republish_templates")
    @classmethod
    def _alternates_are_known(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _check_templates(values)

    @field_validator("url")
    @classmethod
    def _feed_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the feed's full address, for example https://example.com/feed/")
        return value

    @field_validator("template")
    @classmethod
    def _template_is_known(cls, value: str) -> str:
        validate_template(value)
        return value
