"""Serialising posts to the JSON column and back, and refreshing a known post's data."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update

from relay.core.models import Post
from relay.store.schema import posts


def post_to_json(post: Post) -> dict[str, Any]:
    data = asdict(post)
    data["categories"] = list(post.categories)
    data["seo_warnings"] = list(post.seo_warnings)
    data["published_at"] = post.published_at.isoformat() if post.published_at else None
    return data


def post_from_json(data: dict[str, Any]) -> Post:
    known = {f.name for f in fields(Post)}
    values = {k: v for k, v in data.items() if k in known}
    values["categories"] = tuple(values.get("categories") or ())
    values["seo_warnings"] = tuple(values.get("seo_warnings") or ())
    if values.get("published_at"):
        values["published_at"] = datetime.fromisoformat(values["published_at"])
    return Post(**values)


def refresh_post(engine: Engine, post_id: int, post: Post) -> None:
    """Replace a known post's data with its current version (same identity, newer words)."""
    with engine.begin() as conn:
        conn.execute(update(posts).where(posts.c.id == post_id).values(title=post.title, data=post_to_json(post)))
