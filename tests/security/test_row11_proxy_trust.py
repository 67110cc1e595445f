"""Row 11: relay believes X-Forwarded-* from its configured proxy only, and the shipped deploy files set it.

Before: proxy trust was uvicorn's default (127.0.0.1); behind the shipped Compose and
Kubernetes proxies the dashboard cookie never got ``Secure`` and every click carried the
proxy's address.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, relay_env, start_relay, wait_for

TOKEN = "t0k3n-for-the-proxy-tests-0123456789"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _login_cookie(tmp_path: Path, proxies: str) -> str:
    port = free_port()
    env = relay_env(RELAY_SERVER_PORT=str(port), RELAY_API_TOKEN=TOKEN, RELAY_SERVER_FORWARDED_ALLOW_IPS=proxies,
                    RELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}")
    log = tmp_path / "serve.log"
    process = start_relay(["serve"], env, log, tmp_path)
    try:
        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return process.poll() is not None  # exited: the assertion below says why
        wait_for(up, what="relay serve")
        assert process.poll() is None, log.read_text(encoding="utf-8")
        answer = httpx.post(f"http://127.0.0.1:{port}/login", data={"token": TOKEN}, timeout=10,
                            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
        assert answer.status_code == 303, answer.text
        return answer.headers["set-cookie"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.slow
def test_behind_a_trusted_proxy_the_cookie_is_secure(tmp_path: Path) -> None:
    assert "secure" in _login_cookie(tmp_path, "127.0.0.0/8").lower()


@pytest.mark.slow
def test_forwarded_headers_from_anyone_else_are_not_believed(tmp_path: Path) -> None:
    assert "secure" not in _login_cookie(tmp_path, "10.0.0.0/8").lower()


@pytest.mark.parametrize("path", ["compose.yaml", "kubernetes/deployment.yaml"])
def test_the_shipped_deploy_files_name_their_proxy(path: str) -> None:
    assert "RELAY_SERVER_FORWARDED_ALLOW_IPS" in (DEPLOY / path).read_text(encoding="utf-8")
