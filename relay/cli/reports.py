"""``relay report``: what each relayed post brought back, in the terminal or for a spreadsheet.

It reads the same settings as every command (``--config`` / ``RELAY_CONFIG`` /
``RELAY_*``) and prints the same numbers as the dashboard and the JSON API, built by one function.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from relay.cli.support import friendly_errors, settings_of


@click.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only posts relay first saw on or after this day (YYYY-MM-DD, UTC).",
)
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {\"posts\": [...], \"networks\": [...]} with every post on every network.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one line per post on a network, for a spreadsheet.")
@click.pass_context
@friendly_errors
def report(ctx: click.Context, since: datetime | None, as_json: bool, as_csv: bool) -> None:
    """Per post: what went out on each network (X, Mastodon, Bluesky) with its link, human clicks,
    likes, reposts (boosts on Mastodon), replies and quotes, X's link clicks, impressions and
    engagement rate, and which variant (utm_content) drew more clicks; then the totals per network.

    Human clicks leave out link-preview bots, scripts, HEAD requests and repeats from
    the same reader within 30 seconds.
    """
    from relay.metrics.reports import (
        build_report,
        network_totals,
        render_costs,
        render_csv,
        render_json,
        render_networks,
        render_text,
    )
    from relay.store.costs import cost_lines
    from relay.store.engine import apply_migrations, make_engine

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    settings = settings_of(ctx)
    engine = make_engine(settings.database.url)
    try:
        apply_migrations(engine)
        start = since.replace(tzinfo=UTC) if since else None
        reports = build_report(engine, since=start)
        costs = cost_lines(engine, since=start)
    finally:
        engine.dispose()
    if as_json:
        click.echo(render_json(reports, costs))
    elif as_csv:
        click.echo(render_csv(reports), nl=False)
    else:
        click.echo(render_text(reports), nl=False)
        if reports:
            click.echo()
            click.echo(render_networks(network_totals(reports)), nl=False)
        click.echo()
        click.echo(render_costs(costs), nl=False)
