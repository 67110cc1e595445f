"""Row 10: ``relay config check`` never prints a password, whatever holds it.

This was fixed with the newcomer issue before this suite existed (``config check`` hides
URL passwords); the test keeps it fixed, for every place a password can sit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes import relay_env, run_relay

PASSWORD = "Pg-Passw0rd-visible-nowhere"


@pytest.mark.parametrize("variable", ["RELAY_DATABASE_URL", "RELAY_X_API_BASE_URL"])
def test_config_check_hides_passwords_in_urls(tmp_path: Path, variable: str) -> None:
    url = (f"postgresql://relay:{PASSWORD}@127.0.0.1:9/relay" if variable == "RELAY_DATABASE_URL"
           else f"https://user:{PASSWORD}@api.example")
    result = run_relay(["config", "check"], relay_env(**{variable: url}), tmp_path)
    assert PASSWORD not in result.stdout + result.stderr
    assert "relay" in result.stdout


def test_config_check_hides_a_short_token(tmp_path: Path) -> None:
    result = run_relay(["config", "check"], relay_env(RELAY_API_TOKEN="abc"), tmp_path)
    assert 'token = "********"' in result.stdout and '"abc"' not in result.stdout
