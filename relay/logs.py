"""Structured logs, one JSON object per line, with every known secret blanked.

Why a filter on the handler and not care at each call site: a secret can reach a log
line through a library's debug output or an exception message nobody thought about.
Blanking every configured secret value at the last step catches all of them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_TERMINAL_ONLY = frozenset({"color_message"})
"""Extras meant for a terminal (uvicorn's coloured copy of its message): never in a log line."""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(value: Any) -> Any:
    """A string without terminal colour codes; a log file or a log collector shows them as garbage."""
    return _ANSI.sub("", value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Replaces every occurrence of a secret value in the rendered message and extras."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is blanked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
            for key, value in list(vars(record).items()):
                if key not in _STANDARD_ATTRS and isinstance(value, str):
                    setattr(record, key, self.redact(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: _plain(v) for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and k not in _TERMINAL_ONLY and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., **extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _plain(record.getMessage()),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["error"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    """``2026-11-25T10:00:00Z info relay.worker msg="..." key=value``: for reading on a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = json.dumps(_plain(record.getMessage()), ensure_ascii=False)
        parts = [ts, record.levelname.lower(), record.name, f"msg={message}"]
        parts += [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in _extras(record).items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + record.exc_text
        return text


def configure_logging(*, level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()) -> None:
    """Send every log record (relay's, uvicorn's, libraries') through one redacting handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Library debug output echoes request headers (requests-oauthlib logs the Authorization
    # header, tweepy the request): never below WARNING, whatever relay's own level.
    for noisy in ("tweepy", "requests_oauthlib", "oauthlib", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
