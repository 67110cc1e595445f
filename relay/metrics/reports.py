"""Per-post results: the posts sent for each article on each network, who clicked, what the networks counted,
which wording won, and the totals per network.

One builder (:func:`build_report`) feeds every output: ``relay report`` in text, JSON or
CSV, the JSON API and the dashboard, so the numbers cannot disagree between them; the
totals per network (:func:`network_totals`) are summed from its result. Only Prometheus counts
apart, in SQL at scrape time over every post (``figures_by_network``), and a test checks that both agree.

Definitions, stated once: *human clicks* are clicks on the tracked link that count (not
a bot, not HEAD, not a repeat within 30 s); each delivery has its own tracked link, so
clicks are counted per delivery, hence per network. *Likes*, *reposts* (X's retweets,
Mastodon's boosts, Bluesky's reposts), *replies* and *quotes* (X and Bluesky only) come from
the newest snapshot of each post on its network; *X link clicks* and *impressions* are X's
own counters, which the other networks do not give. The *engagement rate* is engagements
(likes, reposts, replies, quotes, bookmarks, link and profile clicks) divided by
impressions, as X computes it, so it exists for X only. The *best variant* of an article is
the delivery with the most clicks (human clicks where the link is tracked, X's link clicks
otherwise), or none on a tie.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine

from relay.core.networks import NETWORK_NAMES
from relay.store.costs import CostLine
from relay.store.metrics_store import click_totals, delivered_posts, latest_snapshots


@dataclass(frozen=True)
class TweetReport:
    delivery_id: int
    variant: int
    label: str
    """``utm_content`` of the link when set, else ``variant N``."""
    status: str
    tweet_id: str | None
    dry_run: bool
    sent_at: datetime | None
    link: str
    text: str
    """The tweet's text as relay posted it (or will)."""
    tracked_code: str | None
    human_clicks: int
    other_clicks: int
    x_link_clicks: int | None
    impressions: int | None
    engagements: int | None
    engagement_rate: float | None
    last_error: str | None
    account: str = "default"
    network: str = "x"
    """Where it went: ``x``, ``mastodon`` or ``bluesky``."""
    remote_url: str | None = None
    """The post's page on its network (None until it is really posted)."""
    likes: int | None = None
    reposts: int | None = None
    """Retweets on X, boosts on Mastodon, reposts on Bluesky."""
    replies: int | None = None
    quotes: int | None = None

    @property
    def network_name(self) -> str:
        """The network as people write it: X, Mastodon, Bluesky."""
        return NETWORK_NAMES.get(self.network, self.network)

    @property
    def clicks(self) -> int:
        """The clicks that decide the best variant (ours when tracked, X's otherwise)."""
        return self.human_clicks if self.tracked_code else (self.x_link_clicks or 0)


@dataclass(frozen=True)
class PostReport:
    post_id: int
    title: str
    url: str
    source: str
    published_at: datetime | None
    first_seen_at: datetime
    tweets: tuple[TweetReport, ...]
    feed_id: int | None = None
    """The feed it came from (None: the webhook, a republish by address)."""

    @property
    def human_clicks(self) -> int:
        return sum(t.human_clicks for t in self.tweets)

    @property
    def other_clicks(self) -> int:
        return sum(t.other_clicks for t in self.tweets)

    @property
    def x_link_clicks(self) -> int | None:
        return _sum_known(t.x_link_clicks for t in self.tweets)

    @property
    def impressions(self) -> int | None:
        return _sum_known(t.impressions for t in self.tweets)

    @property
    def engagement_rate(self) -> float | None:
        engagements = _sum_known(t.engagements for t in self.tweets)
        return _rate(engagements, self.impressions)

    @property
    def best_variant(self) -> str | None:
        sent = [t for t in self.tweets if t.tweet_id]
        if len(sent) < 2:
            return None
        ranked = sorted(sent, key=lambda t: t.clicks, reverse=True)
        return ranked[0].label if ranked[0].clicks > ranked[1].clicks else None


@dataclass(frozen=True)
class NetworkTotals:
    """One network's figures over the reported articles."""

    network: str
    posts_sent: int
    """Posts really published there (not trial runs)."""
    human_clicks: int
    likes: int | None
    reposts: int | None
    replies: int | None
    quotes: int | None
    """None where the network does not count quotes (Mastodon) or nothing was read back yet."""
    impressions: int | None
    """X only."""

    @property
    def name(self) -> str:
        return NETWORK_NAMES.get(self.network, self.network)


NETWORK_ORDER = tuple(NETWORK_NAMES)


def network_totals(reports: Sequence[PostReport]) -> list[NetworkTotals]:
    """The figures of each network that has a delivery among ``reports``, X first."""
    by_network: dict[str, list[TweetReport]] = {}
    for report in reports:
        for tweet in report.tweets:
            by_network.setdefault(tweet.network, []).append(tweet)
    rank = {network: n for n, network in enumerate(NETWORK_ORDER)}
    ordered = sorted(by_network, key=lambda network: (rank.get(network, len(rank)), network))
    return [
        NetworkTotals(
            network=network,
            posts_sent=sum(1 for t in by_network[network] if t.status == "sent" and not t.dry_run),
            human_clicks=sum(t.human_clicks for t in by_network[network]),
            likes=_sum_known(t.likes for t in by_network[network]),
            reposts=_sum_known(t.reposts for t in by_network[network]),
            replies=_sum_known(t.replies for t in by_network[network]),
            quotes=_sum_known(t.quotes for t in by_network[network]),
            impressions=_sum_known(t.impressions for t in by_network[network]),
        )
        for network in ordered
    ]


def post_page(network: str, tweet_id: str | None, remote_url: str | None, dry_run: bool) -> str | None:
    """Where people see the post; X rows sent before ``remote_url`` existed get X's address from the id."""
    if dry_run or not tweet_id:
        return None
    if remote_url:
        return remote_url
    if network == "x" and tweet_id.isascii() and tweet_id.isdigit():
        return f"https://x.com/i/web/status/{tweet_id}"
    return None


def _sum_known(values: Any) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _rate(engagements: int | None, impressions: int | None) -> float | None:
    if engagements is None or not impressions:
        return None
    return round(engagements / impressions, 4)


def variant_label(variant: int, url: str) -> str:
    content = parse_qs(urlsplit(url).query).get("utm_content")
    return content[0] if content and content[0] else f"variant {variant}"


def build_report(
    engine: Engine, *, since: datetime | None = None, post_id: int | None = None, limit: int | None = None
) -> list[PostReport]:
    """Reports for posts first seen since ``since`` (or one post), newest first."""
    rows = delivered_posts(engine, since=since, post_id=post_id, limit=limit)
    totals = click_totals(engine, sorted({r["post_id"] for r in rows}))
    snapshots = latest_snapshots(engine, [r["delivery_id"] for r in rows])
    reports: list[PostReport] = []
    for row in rows:
        if not reports or reports[-1].post_id != row["post_id"]:
            reports.append(
                PostReport(
                    row["post_id"],
                    row["title"],
                    row["url"],
                    row["source"],
                    row["published_at"],
                    row["first_seen_at"],
                    (),
                    row["feed_id"],
                )
            )
        humans, others = totals.get((row["post_id"], row["variant"]), (0, 0))
        snap = snapshots.get(row["delivery_id"])
        engagements = None
        if snap is not None:
            engagements = sum(
                snap[k] or 0
                for k in (
                    "likes",
                    "retweets",
                    "replies",
                    "quotes",
                    "bookmarks",
                    "url_link_clicks",
                    "user_profile_clicks",
                )
            )
        tweet = TweetReport(
            delivery_id=row["delivery_id"],
            variant=row["variant"],
            label=variant_label(row["variant"], row["target_url"] or row["link"]),
            status=row["status"],
            tweet_id=row["tweet_id"],
            dry_run=bool(row["dry_run"]),
            sent_at=row["sent_at"],
            link=row["link"],
            text=row["text"],
            tracked_code=row["code"],
            human_clicks=humans,
            other_clicks=others,
            x_link_clicks=snap["url_link_clicks"] if snap else None,
            impressions=snap["impressions"] if snap else None,
            engagements=engagements,
            engagement_rate=_rate(engagements, snap["impressions"] if snap else None),
            last_error=row["last_error"],
            account=row["account"],
            network=row["network"],
            remote_url=post_page(row["network"], row["tweet_id"], row["remote_url"], bool(row["dry_run"])),
            likes=snap["likes"] if snap else None,
            reposts=snap["retweets"] if snap else None,
            replies=snap["replies"] if snap else None,
            quotes=snap["quotes"] if snap else None,
        )
        last = reports[-1]
        reports[-1] = PostReport(
            last.post_id,
            last.title,
            last.url,
            last.source,
            last.published_at,
            last.first_seen_at,
            (*last.tweets, tweet),
            last.feed_id,
        )
    return reports


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def report_dict(report: PostReport) -> dict[str, Any]:
    """One post as JSON-ready data (what the API and ``--json`` print)."""
    return {
        "id": report.post_id,
        "title": report.title,
        "url": report.url,
        "source": report.source,
        "published_at": _plain(report.published_at),
        "first_seen_at": _plain(report.first_seen_at),
        "human_clicks": report.human_clicks,
        "other_clicks": report.other_clicks,
        "x_link_clicks": report.x_link_clicks,
        "impressions": report.impressions,
        "engagement_rate": report.engagement_rate,
        "best_variant": report.best_variant,
        "tweets": [{k: _plain(v) for k, v in asdict(t).items()} for t in report.tweets],
    }


COST_NAMES = {
    "own_posts_read": "reading the account's own posts (finding a post after a crash)",
    "posts_read": "reading posts (engagement metrics)",
    "user_read": "reading the account (who the keys belong to)",
    "media_metadata": "describing images (alt text)",
}


def network_dicts(totals: Sequence[NetworkTotals]) -> list[dict[str, Any]]:
    """The totals per network as JSON-ready data (``relay report --json`` and the API)."""
    return [{"network": n.network, "name": n.name, **{k: v for k, v in asdict(n).items() if k != "network"}}
            for n in totals]


def render_json(reports: Sequence[PostReport], costs: Sequence[CostLine] = ()) -> str:
    body: dict[str, Any] = {"posts": [report_dict(r) for r in reports],
                            "networks": network_dicts(network_totals(reports))}
    if costs:
        body["costs"] = [{"kind": c.kind, "count": c.count, "usd": round(c.usd, 6)} for c in costs]
        body["costs_total_usd"] = round(sum(c.usd for c in costs), 6)
    return json.dumps(body, ensure_ascii=False, indent=2)


def render_costs(costs: Sequence[CostLine]) -> str:
    """What X billed, line by line: posts by price, then each kind of read, then the total."""
    if not costs:
        return "X billed nothing in this period.\n"
    lines = ["What X billed:"]
    for cost in costs:
        name = COST_NAMES.get(cost.kind, cost.kind)
        unit = "resources" if cost.kind.endswith("_read") else "requests" if cost.kind in COST_NAMES else "posts"
        lines.append(f"    {name:<62} {cost.count:>6} {unit:<9} ${cost.usd:>9.3f}")
    lines.append(f"    {'total':<62} {'':>6} {'':<9} ${sum(c.usd for c in costs):>9.3f}")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "post_id",
    "title",
    "url",
    "variant",
    "label",
    "network",
    "account",
    "status",
    "tweet_id",
    "remote_url",
    "dry_run",
    "sent_at",
    "human_clicks",
    "other_clicks",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "x_link_clicks",
    "impressions",
    "engagement_rate",
    "best_variant",
)


def render_csv(reports: Sequence[PostReport]) -> str:
    """One line per delivery (post columns repeated), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for report in reports:
        for t in report.tweets:
            writer.writerow(
                [
                    report.post_id,
                    report.title,
                    report.url,
                    t.variant,
                    t.label,
                    t.network,
                    t.account,
                    t.status,
                    t.tweet_id or "",
                    t.remote_url or "",
                    "yes" if t.dry_run else "no",
                    _plain(t.sent_at) or "",
                    t.human_clicks,
                    t.other_clicks,
                    _blank(t.likes),
                    _blank(t.reposts),
                    _blank(t.replies),
                    _blank(t.quotes),
                    _blank(t.x_link_clicks),
                    _blank(t.impressions),
                    _blank(t.engagement_rate),
                    report.best_variant or "",
                ]
            )
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _num(value: int | float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if isinstance(value, float) else str(value)


def render_text(reports: Sequence[PostReport]) -> str:
    """A readable summary for the terminal: one block per article, two lines per post on a network."""
    if not reports:
        return "No relayed posts in this period."
    lines = []
    for r in reports:
        lines.append(f"#{r.post_id}  {r.title or r.url}")
        lines.append(f"    {r.url}")
        lines.append(
            f"    human clicks {r.human_clicks} (+{r.other_clicks} bots/repeats) · X link clicks "
            f"{_num(r.x_link_clicks)} · impressions {_num(r.impressions)} · engagement "
            f"{_num(r.engagement_rate)}" + (f" · best: {r.best_variant}" if r.best_variant else "")
        )
        for t in r.tweets:
            state = "dry-run" if t.dry_run else t.status
            network = NETWORK_NAMES.get(t.network, t.network)
            lines.append(
                f"    - {t.label:<20} {network:<8} {state:<8} clicks {t.human_clicks:<5} likes {_num(t.likes):<5} "
                f"reposts {_num(t.reposts):<5} replies {_num(t.replies):<5} quotes {_num(t.quotes):<5}"
                + (f" X clicks {_num(t.x_link_clicks):<5} impressions {_num(t.impressions)}"
                   if t.network == "x" else "")
            )
            lines.append(f"      {t.remote_url or t.tweet_id or 'not posted'}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_networks(totals: Sequence[NetworkTotals]) -> str:
    """The figures per network, one line each ("reposts" are X's retweets and Mastodon's boosts)."""
    if not totals:
        return ""
    lines = ["Per network (reposts: retweets on X, boosts on Mastodon):"]
    for n in totals:
        lines.append(
            f"    {n.name:<9} posts {n.posts_sent:<5} human clicks {n.human_clicks:<6} likes {_num(n.likes):<6} "
            f"reposts {_num(n.reposts):<6} replies {_num(n.replies):<6} quotes {_num(n.quotes):<6}"
            + (f" impressions {_num(n.impressions)}" if n.network == "x" else "")
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Chart:
    """Clicks per day drawn as an SVG path, computed here so the template only places it."""

    days: tuple[date, ...]
    counts: tuple[int, ...]
    width: int
    height: int
    line: str
    """``d`` of the line: ``M x,y L x,y ...`` in the viewBox coordinates."""
    area: str
    peak: int

    @property
    def total(self) -> int:
        return sum(self.counts)


def clicks_chart(daily: dict[date, int], end: date, days: int, *, width: int = 240, height: int = 48) -> Chart:
    """The last ``days`` days up to ``end`` (missing days are zero), scaled to the box."""
    span = tuple(end - timedelta(days=days - 1 - n) for n in range(days))
    counts = tuple(daily.get(day, 0) for day in span)
    peak = max(counts, default=0)
    pad = 2
    step = (width - 2 * pad) / max(1, days - 1)
    points = [
        (pad + n * step, height - pad - (count / peak * (height - 2 * pad) if peak else 0))
        for n, count in enumerate(counts)
    ]
    line = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{line} L{points[-1][0]:.1f},{height - pad} L{points[0][0]:.1f},{height - pad} Z"
    return Chart(span, counts, width, height, line, area, peak)
