"""The cost ledger: what X bills besides posts, written as it happens, read by the budget and the reports.

A read is billed per resource returned and X does not bill the same resource twice in one UTC
day, whichever endpoint returned it (a post read for its metrics, then listed in the timeline,
is billed once), so each charge is one row keyed by (account, resource, day) and a repeat
inserts nothing. Posts are billed on their delivery row; the monthly budget (``OutboxQueries.usage``) adds both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from relay.core.policy import USER_READ
from relay.store.outbox import SENT
from relay.store.schema import deliveries, x_costs


@dataclass(frozen=True)
class CostLine:
    """One kind of charge over a period: how many billed units and what they cost."""

    kind: str
    count: int
    usd: float


def record_charge(engine: Engine, *, account: str, kind: str, resources: Sequence[str], unit_usd: float,
                  now: datetime) -> float:
    """Record what one call to X cost; returns the amount charged (repeats of the day are free).

    ``resources`` are the ids X returned (reads); empty for a request billed as one (a write).
    """
    day = now.astimezone(UTC).date().isoformat()
    family = "user" if kind == USER_READ else "post"
    rows = [{"account": account, "at": now, "day": day, "kind": kind, "resource": f"{family}:{r}",
             "amount_usd": unit_usd} for r in dict.fromkeys(resources)] or [
        {"account": account, "at": now, "day": day, "kind": kind, "resource": None, "amount_usd": unit_usd}]
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    charged = 0.0
    with engine.begin() as conn:
        for row in rows:
            statement = insert(x_costs).values(**row).on_conflict_do_nothing(
                index_elements=["account", "resource", "day"]).returning(x_costs.c.id)
            if conn.execute(statement).scalar_one_or_none() is not None:
                charged += unit_usd
    return charged


def cost_lines(engine: Engine, since: datetime | None = None, account: str | None = None) -> list[CostLine]:
    """Every kind of charge since ``since``: posts (with and without a link) from deliveries, the rest
    from the ledger, for the report, the API and the dashboard."""
    conditions = []
    sent = and_(deliveries.c.status == SENT, deliveries.c.dry_run.is_(False))
    if since is not None:
        conditions.append(x_costs.c.at >= since)
        sent = and_(sent, deliveries.c.sent_at >= since)
    if account is not None:
        conditions.append(x_costs.c.account == account)
        sent = and_(sent, deliveries.c.account == account)
    lines: list[CostLine] = []
    with engine.connect() as conn:
        posts = conn.execute(select(deliveries.c.cost_usd, func.count(), func.sum(deliveries.c.cost_usd))
                             .where(sent).group_by(deliveries.c.cost_usd)).all()
        for unit, count, usd in sorted(posts, key=lambda row: -float(row[0] or 0)):
            lines.append(CostLine(f"post ${float(unit or 0):.3f}", int(count), float(usd or 0.0)))
        query = select(x_costs.c.kind, func.count(), func.sum(x_costs.c.amount_usd)).group_by(x_costs.c.kind)
        if conditions:
            query = query.where(and_(*conditions))
        for kind, count, usd in conn.execute(query).all():
            lines.append(CostLine(str(kind), int(count), float(usd or 0.0)))
    return lines
