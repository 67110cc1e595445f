"""The ``relay`` command: the root group, its global options, and the command groups under it.

Every command loads the same settings (``--config`` before or after the command, or
``RELAY_CONFIG``, then ``RELAY_*`` variables) and turns any :class:`RelayError` into one
readable line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import click

from relay import __version__
from relay.cli.config import config
from relay.cli.db import db
from relay.cli.feeds import feeds
from relay.cli.outbox import outbox
from relay.cli.preview import preview
from relay.cli.reports import report
from relay.cli.republish import republish
from relay.cli.serve import migrate, poll, serve, worker
from relay.cli.support import CONFIG_HELP, accept_global_options_everywhere


class RelayGroup(click.Group):
    """The root group: an option of a command typed before the command gets the right spelling back."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            owners = [name for name, command in sorted(self.commands.items())
                      if any(exc.option_name in p.opts for p in command.params if isinstance(p, click.Option))]
            if owners:
                raise click.NoSuchOption(
                    exc.option_name, ctx=exc.ctx,
                    message=(f"{exc.option_name} is an option of `relay {owners[0]}`: write it after the command, "
                             f"as in `relay {owners[0]} {exc.option_name} ...`."),
                ) from None
            raise


@click.group(cls=RelayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="RELAY_CONFIG", default=None,
              help=CONFIG_HELP)
@click.version_option(__version__, prog_name="relay")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """relay: posts every new blog post to X (and Mastodon, Bluesky) and measures what comes back.

    Start with `relay config check`, then `relay preview FEED_URL` to see the tweets
    relay would write, then `relay serve`. --config PATH may come before or after
    the command.
    """
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path


for _command in (serve, worker, poll, preview, migrate, config, db, outbox, feeds, republish, report):
    cli.add_command(_command)
accept_global_options_everywhere(cli)


def main() -> None:
    cli(obj={})
