"""Building small RSS documents for tests, with entries that look like a WordPress blog's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

BASE_DATE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
"""Entries are dated from three days before the run: new enough for relay's 7-day max age on any day."""


def rss_item(n: int, *, host: str = "boulangerie.example") -> str:
    published = format_datetime(BASE_DATE + timedelta(hours=n))
    title = f"Recette n°{n} : le pain au levain « maison »"
    description = (
        f"<p>Aujourd&rsquo;hui, la recette n°{n} : farine, eau, sel et patience.&nbsp;Tout y est [&hellip;]</p>"
    )
    return f"""
    <item>
      <title>{escape(title)}</title>
      <link>https://{host}/2026/11/recette-{n}/</link>
      <guid isPermaLink="false">https://{host}/?p={1000 + n}</guid>
      <pubDate>{published}</pubDate>
      <category><![CDATA[Boulangerie]]></category>
      <category><![CDATA[Pain au levain]]></category>
      <description><![CDATA[{description}]]></description>
    </item>"""


def rss_feed(entries: range | list[int], *, host: str = "boulangerie.example") -> bytes:
    items = "".join(rss_item(n, host=host) for n in sorted(entries, reverse=True))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>La Boulangerie</title>
    <link>https://{host}/</link>
    <description>Le blog de la boulangerie</description>
    {items}
  </channel>
</rss>""".encode()
