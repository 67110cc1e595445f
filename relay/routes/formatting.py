"""Numbers, amounts and times as the owner reads them, in the page's language and time zone.

Babel (the CLDR data) knows that French writes ``1,40 $`` and ``12 345`` and English
``$1.40`` and ``12,345``, and what a time zone is called in each language; relay only
decides what to show. X bills in US dollars, so every amount is dollars, written with
the plain ``$`` sign in both languages (CLDR's French ``$US`` reads oddly to a baker who
pays X in dollars anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, get_timezone_name
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_symbol

LOCALES = {"en": "en_US", "fr": "fr_FR"}


@dataclass(frozen=True)
class Formats:
    """How one page writes numbers, money and times: ``lang`` ("en" or "fr") and the configured zone."""

    lang: str
    zone_name: str = "UTC"

    @property
    def locale(self) -> str:
        return LOCALES.get(self.lang, "en_US")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    def number(self, value: int | float | None) -> str:
        """``12 345`` in French, ``12,345`` in English; a dash for a number not known yet."""
        return "–" if value is None else format_decimal(value, locale=self.locale)

    def money(self, amount: float, *, fine: bool = False) -> str:
        """Dollars: ``1,40 $`` / ``$1.40``; ``fine`` keeps a third decimal (reads cost $0.001 each)."""
        text = format_currency(amount, "USD", locale=self.locale, currency_digits=not fine,
                               format="¤#,##0.000" if fine and self.lang == "en" else
                               "#,##0.000\u00a0¤" if fine else None)
        return text.replace(get_currency_symbol("USD", locale=self.locale), "$")

    def names(self, items: Sequence[str]) -> str:
        """A list as the language writes it: ``X, Mastodon et Bluesky`` / ``X, Mastodon, and Bluesky``."""
        return format_list(list(items), locale=self.locale)

    def percent(self, rate: float | None) -> str:
        """``1,2 %`` / ``1.2%``; a dash when X has not counted views yet."""
        if rate is None:
            return "–"
        return format_percent(rate, "#,##0.0 %" if self.lang == "fr" else "#,##0.0%", locale=self.locale)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def when(self, moment: datetime) -> str:
        """``25 nov. 2026, 13:00`` / ``Nov 25, 2026, 1:00 PM`` in the configured zone."""
        pattern = "d MMM y, HH:mm" if self.lang == "fr" else "MMM d, y, h:mm a"
        return format_datetime(moment, pattern, tzinfo=self.zone, locale=self.locale)

    def day(self, value: date) -> str:
        """A chart's first and last day: ``26 oct.`` / ``Oct 26``."""
        return format_date(value, "d MMM" if self.lang == "fr" else "MMM d", locale=self.locale)

    @staticmethod
    def tweet_label(label: str, variant: int, words: Mapping[str, str]) -> str:
        """What the owner reads for one of a post's tweets, instead of relay's ``utm_content`` name.

        ``variant 0`` -> "Text 1"; ``republish-2`` (a re-share) -> "Re-share 2"; ``v0b`` (the text reworded
        after X refused a duplicate) -> "Text 1, reworded"; a name the owner chose in a template stays as it is.
        """
        if label == f"variant {variant}":
            return words["text_n"].format(n=variant + 1)
        if label.startswith("republish-") and label[10:].isdigit():
            return words["reshare_n"].format(n=label[10:])
        if len(label) > 2 and label[0] == "v" and label[-1] == "b" and label[1:-1].isdigit():
            return words["reworded_n"].format(n=int(label[1:-1]) + 1)
        return label

    def zone_label(self, at: datetime) -> str:
        """The zone's name as people say it, with its id: ``heure d’Europe centrale (Europe/Paris)``."""
        spoken = get_timezone_name(self.local(at), locale=self.locale)
        return f"{spoken} ({self.zone_name})" if spoken != self.zone_name else self.zone_name
