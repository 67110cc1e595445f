"""What every ``relay`` command shares: errors as one readable line, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from relay.errors import ConfigError, RelayError

F = TypeVar("F", bound=Callable[..., Any])


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
