"""An emulator of the Mastodon REST API endpoints relay uses, to test the real publisher without an instance.

It speaks real HTTP and follows docs.joinmastodon.org: ``GET /api/v2/instance`` (limits, configurable),
``GET /api/v1/accounts/verify_credentials``, ``POST /api/v1/statuses`` with ``Idempotency-Key``,
``GET /api/v1/statuses/:id`` (favourites, boosts, replies), ``GET /api/v1/accounts/:id/statuses``
(``max_id``/``since_id``/``min_id`` and ``Link`` headers), ``POST /api/v2/media`` (200, or 202 then
``GET /api/v1/media/:id`` 206 until processed) with a description; Bearer tokens and scopes, the
length rule of Mastodon's validator, rate windows with ``X-RateLimit-*`` headers, and scripted faults.
See :mod:`relay.testing.mastodon_emulator_app` for what each answer is modelled on.

What it does not model: OAuth app registration and the authorization flow, polls, replies, boosts,
edits, deletes, scheduled statuses, link cards, custom emoji, videos, per-IP limits of unauthenticated
calls, and the formatting of mentions in ``content``.

In tests::

    with MastodonEmulatorServer(max_characters=1000) as mastodon:
        publisher = MastodonPublisher(mastodon.base_url, mastodon.access_token)
        mastodon.inject(status=502, accept_then_fail=True)
        ...
        assert mastodon.posts_created == 1

Standalone (for a manual smoke test)::

    python -m relay.testing.mastodon_emulator --port 8398 --access-token secret
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from relay.testing.mastodon_emulator_app import create_app, render_content
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer
from relay.testing.mastodon_emulator_state import (
    IDEMPOTENCY_SECONDS,
    Fault,
    MastodonEmulatorConfig,
    MastodonEmulatorState,
    StoredMedia,
    StoredStatus,
)

__all__ = [
    "IDEMPOTENCY_SECONDS",
    "Fault",
    "MastodonEmulatorConfig",
    "MastodonEmulatorServer",
    "MastodonEmulatorState",
    "StoredMedia",
    "StoredStatus",
    "create_app",
    "main",
    "render_content",
]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = MastodonEmulatorConfig()
    parser = argparse.ArgumentParser(prog="python -m relay.testing.mastodon_emulator",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8398)
    parser.add_argument("--access-token", default=defaults.access_token, help="the one Bearer token accepted")
    parser.add_argument("--domain", default=defaults.domain)
    parser.add_argument("--username", default=defaults.username)
    parser.add_argument("--max-characters", type=int, default=defaults.max_characters)
    parser.add_argument("--media-processing-polls", type=int, default=0,
                        help="uploads answer 202 and stay processing for this many polls")
    parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit, help="requests per window")
    parser.add_argument("--rate-window", type=int, default=defaults.rate_window_seconds, help="seconds")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> MastodonEmulatorConfig:
    return MastodonEmulatorConfig(access_token=args.access_token, domain=args.domain, username=args.username,
                                  max_characters=args.max_characters,
                                  media_processing_polls=args.media_processing_polls,
                                  rate_limit=args.rate_limit, rate_window_seconds=args.rate_window)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the emulator in the foreground until interrupted."""
    args = parse_args(argv)
    uvicorn.run(create_app(MastodonEmulatorState(config_from_args(args))), host=args.host, port=args.port,
                log_level="info")


if __name__ == "__main__":
    main()
