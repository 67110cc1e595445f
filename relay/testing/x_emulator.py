"""An emulator of the X API v2 endpoints relay uses, to test the real publisher without X.

X is never reachable from tests, and a mock of tweepy would test nothing that matters (the
signature, the URL, the status codes, the error bodies, the headers). So the emulator speaks real
HTTP and behaves like X's documented API: ``POST /2/tweets``, ``GET /2/users/me``,
``GET /2/tweets``, ``GET /2/tweets/:id``, ``DELETE /2/tweets/:id``, ``GET /2/users/:id/tweets``,
``POST /2/media/upload`` (one-shot, and chunked: ``initialize``, ``append``, ``finalize``, STATUS) and
``POST /2/media/metadata``, with OAuth 1.0a verification, duplicate, length and cashtag refusals,
t.co links and entities as X shows them, opaque timeline pagination, per-user rate windows,
pay-per-use credits charged as X bills, and scripted faults through its control API under
``/_emulator/``. ``tests/test_x_recordings.py`` replays real recorded exchanges with X against it.

In tests::

    with EmulatorServer(keys=OAuth1Keys("ck", "cs", "at", "ats")) as x:
        publisher = XPublisher(credentials, api_base_url=x.base_url)
        x.inject(status=503)
        ...
        assert [t.text for t in x.tweets()] == [...]

Standalone (for a manual smoke test of a relay install)::

    python -m relay.testing.x_emulator --port 8399 --consumer-key ck --consumer-secret cs \\
        --access-token at --access-token-secret ats
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from relay.testing.x_emulator_app import create_app
from relay.testing.x_emulator_auth import OAuth1Keys
from relay.testing.x_emulator_server import EmulatorServer
from relay.testing.x_emulator_state import (
    Charge,
    EmulatorConfig,
    EmulatorState,
    Fault,
    Prices,
    StoredMedia,
    StoredTweet,
)

__all__ = [
    "Charge",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "OAuth1Keys",
    "Prices",
    "StoredMedia",
    "StoredTweet",
    "create_app",
    "main",
]

_KEY_OPTIONS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m relay.testing.x_emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8399)
    for option in _KEY_OPTIONS:
        parser.add_argument(
            f"--{option.replace('_', '-')}",
            dest=option,
            default=None,
            help="verify OAuth 1.0a signatures with this (give all four, or none)",
        )
    parser.add_argument("--bearer-token", default=None, help="accept only this app-only token")
    parser.add_argument(
        "--credits", type=int, default=None, help="pay-per-use balance in $0.001 credits (default: unlimited)"
    )
    parser.add_argument("--tweet-rate-limit", type=int, default=100, help="POST /2/tweets per user per window")
    parser.add_argument("--rate-window", type=int, default=900, help="rate window in seconds")
    parser.add_argument("--user-id", default=EmulatorConfig.user_id)
    parser.add_argument("--username", default=EmulatorConfig.username)
    parser.add_argument("--no-wrap-links", action="store_true", help="answer with links as sent, not t.co")
    parser.add_argument(
        "--timeline-delay", type=float, default=0.0, help="seconds before a new post shows in the timeline"
    )
    args = parser.parse_args(argv)
    given = [getattr(args, option) for option in _KEY_OPTIONS]
    if any(given) and not all(given):
        parser.error("give all four OAuth 1.0a credentials, or none")
    return args


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    keys = OAuth1Keys(*(getattr(args, o) for o in _KEY_OPTIONS)) if args.consumer_key else None
    return EmulatorConfig(
        keys=keys,
        bearer_token=args.bearer_token,
        user_id=args.user_id,
        username=args.username,
        tweet_rate_limit=args.tweet_rate_limit,
        rate_window_seconds=args.rate_window,
        credits=args.credits,
        wrap_links=not args.no_wrap_links,
        timeline_delay_seconds=args.timeline_delay,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the emulator in the foreground until interrupted."""
    args = parse_args(argv)
    app = create_app(EmulatorState(config_from_args(args)))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
