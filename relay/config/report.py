"""Rendering the effective settings for ``relay config check``, secrets redacted."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, SecretStr

from relay.config.settings import SECTIONS, Settings
from relay.core.redaction import MASK, hide_password

REDACTED = MASK


def _value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return json.dumps(REDACTED if value.get_secret_value() else "")
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str) and "://" in value:
        value = hide_password(value)
    return json.dumps(value, ensure_ascii=False)


def _table(model: BaseModel) -> list[str]:
    return [f"{name} = {_value(getattr(model, name))}" for name in type(model).model_fields]


def render_settings(settings: Settings) -> str:
    """TOML-shaped text: what relay will really use, with every secret shown as ********."""
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        lines += _table(getattr(settings, section))
        lines.append("")
    for feed in settings.feeds:
        lines.append("[[feeds]]")
        lines += _table(feed)
        lines.append("")
    return "\n".join(lines).rstrip()
