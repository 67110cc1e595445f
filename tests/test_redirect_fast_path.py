"""``/r/CODE`` is answered before FastAPI's routing (the hot path), exactly as the FastAPI route answers it.

Two apps over one real database, one with the fast path and one without, asked the same
things over real HTTP: the answers must be the same, byte for byte, and each click counted.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from relay.store.links import create_tracked_link
from relay.store.schema import clicks
from tests.test_bots import HUMANS
from tests.tracking_app import NOW, AppServer, build_app, make_runtime, seed_post

COMPARED = ("location", "cache-control", "x-robots-tag", "content-type", "content-length",
            "content-security-policy", "x-content-type-options", "referrer-policy")


def _answers(base_url: str, method: str, path: str) -> tuple[int, dict[str, str | None], bytes]:
    answer = httpx.request(method, base_url + path, headers={"User-Agent": HUMANS[0]}, follow_redirects=False)
    return answer.status_code, {name: answer.headers.get(name) for name in COMPARED}, answer.content


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_fast_path_answers_like_the_route(tmp_path: Path, method: str) -> None:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'relay.db'}")
    _, [code] = seed_post(runtime, 1)
    with runtime.store.engine.begin() as conn:
        accented = create_tracked_link(conn, post_id=1, delivery_variant=9, now=NOW,
                                       target_url="https://boulangerie.example/2026/pâte-à-choux/?utm_source=x")
    paths = [f"/r/{code}", f"/r/{accented}", "/r/Unknown1", "/r/a/b", "/r/"]
    with AppServer(build_app(runtime)) as fast, AppServer(build_app(runtime, fast_redirects=False)) as routed:
        for path in paths:
            assert _answers(fast.base_url, method, path) == _answers(routed.base_url, method, path), path
        fast_answer = httpx.request(method, fast.base_url + f"/r/{code}")
        assert fast_answer.status_code == 302
        accented_answer = httpx.request(method, fast.base_url + f"/r/{accented}")
        assert accented_answer.headers["location"] == (
            "https://boulangerie.example/2026/p%C3%A2te-%C3%A0-choux/?utm_source=x")
        assert httpx.post(fast.base_url + f"/r/{code}").status_code == 405  # only GET and HEAD are redirects
    with runtime.store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(clicks)).scalar()
    assert stored == 6, "2 known codes asked of each server, and 2 more checks of the fast one: 6 clicks"


def test_the_app_takes_what_it_loaded_at_start_out_of_the_collectors_sight(tmp_path: Path) -> None:
    """A full collection walking every library object paused redirects for 50+ ms (p99: 65-74 ms before)."""
    import gc

    from fastapi.testclient import TestClient

    from relay.config.settings import load_settings
    from relay.routes.app import create_app
    from relay.store.engine import apply_migrations
    from relay.wiring import build_runtime

    gc.unfreeze()
    runtime = build_runtime(load_settings(None, environ={"RELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}))
    apply_migrations(runtime.store.engine)
    try:
        with TestClient(create_app(runtime, run_worker=False)) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
