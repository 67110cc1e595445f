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
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {\"posts\": [...]} with every tweet.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one line per tweet, for a spreadsheet.")
@click.pass_context
@friendly_errors
def report(ctx: click.Context, since: datetime | None, as_json: bool, as_csv: bool) -> None:
    """Per post: its tweets, human clicks, X link clicks, impressions, engagement rate,
    and which variant (utm_content) drew more clicks.

    Human clicks leave out link-preview bots, scripts, HEAD requests and repeats from
    the same reader within 30 seconds.
    """
    from relay.metrics.reports import build_report, render_costs, render_csv, render_json, render_text
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
        click.echo()
        click.echo(render_costs(costs), nl=False)
