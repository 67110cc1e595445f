"""Settings: file, environment, secret files, clear errors, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config.report import render_settings
from relay.config.settings import load_settings
from relay.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_are_sqlite_and_dry_run() -> None:
    settings = load_settings(None, environ={})
    assert settings.database.url == "sqlite:///relay.db"
    assert settings.server.port == 8080
    assert settings.x.api_base_url == "https://api.twitter.com"
    assert settings.dry_run


def test_example_config_loads_and_matches_the_defaults() -> None:
    from_example = load_settings(EXAMPLE, environ={})
    assert from_example == load_settings(None, environ={})


def test_file_then_environment_override(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\n[[feeds]]\nurl = "https://blog.example/feed/"\nbackfill = 2\n')
    env = {
        "RELAY_SERVER_PORT": "9100",
        "RELAY_DATABASE_URL": "postgresql://u@db:5432/relay",
        "RELAY_X_API_BASE_URL": "http://127.0.0.1:9999",
        "RELAY_SERVER_HOST": "0.0.0.0",
        "RELAY_API_TOKEN": "tok-123456",
        "RELAY_TEST_DATABASE_URL": "ignored: belongs to the test suite",
    }
    settings = load_settings(path, environ=env)
    assert settings.server.port == 9100
    assert settings.server.host == "0.0.0.0"
    assert settings.database.url == "postgresql://u@db:5432/relay"
    assert settings.x.api_base_url == "http://127.0.0.1:9999"
    assert settings.api.token.get_secret_value() == "tok-123456"
    assert settings.feeds[0].url == "https://blog.example/feed/"
    assert settings.feeds[0].backfill == 2


def test_relay_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9001\n")
    assert load_settings(None, environ={"RELAY_CONFIG": str(path)}).server.port == 9001


def test_all_four_credentials_from_env_and_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("file-secret\n")
    env = {
        "RELAY_X_CONSUMER_KEY": "ck",
        "RELAY_X_CONSUMER_SECRET_FILE": str(secret_file),
        "RELAY_X_ACCESS_TOKEN": "at",
        "RELAY_X_ACCESS_TOKEN_SECRET": "ats",
    }
    settings = load_settings(None, environ=env)
    assert settings.x.consumer_secret.get_secret_value() == "file-secret"
    assert not settings.dry_run


def test_secret_file_key_in_toml(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-a-file")
    path = write(tmp_path, f'[api]\ntoken_file = "{secret_file}"\n')
    assert load_settings(path, environ={}).api.token.get_secret_value() == "from-a-file"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("[server]\nport = 99999\n", {}, "server.port"),
        ('[server]\nprot = 80\n', {}, "server.prot: unknown setting"),
        ('[database]\nurl = "mysql://x"\n', {}, "database.url: must be sqlite:///"),
        ("", {"RELAY_SERVER_PORT": "eighty"}, "server.port"),
        ('[[feeds]]\nname = "no url"\n', {}, "feeds.0.url: this setting is required"),
        ('[[feeds]]\nurl = "example.com/feed"\n', {}, "must be the feed's full address"),
        ('[[feeds]]\nurl = "https://e.x/feed"\ntemplate = "{title} {lnk}"\n', {}, "lnk"),
        ('[log]\nlevel = "LOUD"\n', {}, "log.level"),
        ("[server\n", {}, "not valid TOML"),
    ],
)
def test_wrong_settings_name_the_key(tmp_path: Path, text: str, env: dict[str, str], expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=env)
    assert expected in str(info.value)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist\. Copy config\.example\.toml"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_half_set_credentials_stop_start_up() -> None:
    with pytest.raises(ConfigError, match="some X credentials are set and some are empty"):
        load_settings(None, environ={"RELAY_X_CONSUMER_KEY": "only-this"})


def test_report_redacts_every_secret() -> None:
    env = {
        "RELAY_X_CONSUMER_KEY": "ck-visible-nowhere",
        "RELAY_X_CONSUMER_SECRET": "cs-visible-nowhere",
        "RELAY_X_ACCESS_TOKEN": "at-visible-nowhere",
        "RELAY_X_ACCESS_TOKEN_SECRET": "ats-visible-nowhere",
        "RELAY_API_TOKEN": "api-visible-nowhere",
    }
    settings = load_settings(None, environ=env)
    report = render_settings(settings)
    assert "visible-nowhere" not in report
    assert report.count('"********"') == 5
    assert "visible-nowhere" not in repr(settings)


def test_the_post_lease_must_outlast_a_request_to_x() -> None:
    from relay.config.settings import load_settings
    from relay.errors import ConfigError

    assert load_settings(environ={"RELAY_X_TIMEOUT_SECONDS": "3", "RELAY_PUBLISHING_LEASE_SECONDS": "18"})
    with pytest.raises(ConfigError, match=r"publishing.lease_seconds \(40\) must be at least 45"):
        load_settings(environ={"RELAY_X_TIMEOUT_SECONDS": "30", "RELAY_PUBLISHING_LEASE_SECONDS": "40"})
    with pytest.raises(ConfigError, match=r"x\.timeout_seconds"):
        load_settings(environ={"RELAY_X_TIMEOUT_SECONDS": "60"})
